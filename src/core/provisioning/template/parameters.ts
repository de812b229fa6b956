import { DeployTimeValue } from './deployTimeValue.js';
import { isRecord } from './functions.js';

/** A parameter as a template declares it. */
export interface ParameterDeclaration {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
}

const secureTypes = new Set(['securestring', 'secureobject']);

/**
 * Whether a declared parameter type is secure (`securestring`, `secureObject`).
 * @example
 * isSecureType('secureString'); // true
 */
export function isSecureType(type: unknown): boolean {
  return typeof type === 'string' && secureTypes.has(type.toLowerCase());
}

/**
 * Reads an ARM parameter file (`{ parameters: { name: { value } } }`) into plain values. A Key Vault
 * `reference` becomes a deploy-time value: the gate never fetches or sees the secret.
 * @example
 * parameterValuesFromFile({ parameters: { profile: { value: 'dev' } } }); // { profile: 'dev' }
 */
export function parameterValuesFromFile(file: unknown): Record<string, unknown> {
  const entries = isRecord(file) && isRecord(file.parameters) ? Object.entries(file.parameters) : [];
  const values: Record<string, unknown> = {};
  for (const [name, entry] of entries) {
    if (isRecord(entry) && 'reference' in entry)
      values[name] = new DeployTimeValue(`Key Vault reference '${name}'`);
    else if (isRecord(entry) && 'value' in entry) values[name] = entry.value;
  }
  return values;
}

/**
 * Checks a supplied value against its declaration and names the parameter and the broken constraint.
 * Returns the problems found (empty when the value fits).
 * @example
 * checkParameterValue('profile', { type: 'string', allowedValues: ['dev', 'prod'] }, 'test');
 * // ["parameter 'profile' must be one of dev, prod"]
 */
export function checkParameterValue(
  name: string,
  declaration: ParameterDeclaration,
  value: unknown,
): string[] {
  if (value instanceof DeployTimeValue) return [];
  const label = `parameter '${name}'`;
  const expected = declaration.type.toLowerCase().replace(/^secure/, '');
  if (!hasType(expected, value)) return [`${label} must be of type ${declaration.type}`];
  const problems: string[] = [];
  const { allowedValues, minValue, maxValue, minLength, maxLength } = declaration;
  if (allowedValues && !allowedValues.some((allowed) => JSON.stringify(allowed) === JSON.stringify(value))) {
    problems.push(`${label} must be one of ${allowedValues.map(String).join(', ')}`);
  }
  if (typeof value === 'number') {
    if (minValue !== undefined && value < minValue) problems.push(`${label} must be at least ${minValue}`);
    if (maxValue !== undefined && value > maxValue) problems.push(`${label} must be at most ${maxValue}`);
  }
  if (typeof value === 'string' || Array.isArray(value)) {
    if (minLength !== undefined && value.length < minLength)
      problems.push(`${label} must have at least ${minLength} characters/items`);
    if (maxLength !== undefined && value.length > maxLength)
      problems.push(`${label} must have at most ${maxLength} characters/items`);
  }
  return problems;
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return Number.isInteger(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isRecord(value);
    default:
      return false;
  }
}
