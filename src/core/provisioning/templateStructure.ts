import { z } from 'zod';
import { TemplateStructureError } from './errors.js';
import { isRecord } from './template/functions.js';

/** Checks a parsed JSON document; returns problems as `json.path: what is wrong` (empty when valid). */
export type StructureValidator = (document: unknown) => string[];

/**
 * Builds a validator from a JSON Schema kept in the project (infra/schema/*.schema.json), using
 * zod's JSON Schema support. Inline nested deployment templates are checked against the same
 * schema, their problems prefixed with their path.
 * @example
 * const validate = createStructureValidator(templateSchemaJson, { nestedTemplates: true });
 * validate({ contentVersion: '1' }); // ['$schema is required', 'contentVersion must match …', …]
 */
export function createStructureValidator(
  jsonSchema: Record<string, unknown>,
  options: { nestedTemplates?: boolean } = {},
): StructureValidator {
  let schema: z.ZodType;
  try {
    schema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new TemplateStructureError('the structure schema', [(error as Error).message], { cause: error });
  }
  const validate = (document: unknown, prefix: string): string[] => {
    const result = schema.safeParse(document);
    const problems = result.success ? [] : result.error.issues.map((issue) => describeIssue(issue, prefix));
    const nested = options.nestedTemplates ? nestedTemplates(document, prefix) : [];
    return [...problems, ...nested.flatMap(([path, template]) => validate(template, path))];
  };
  return (document) => validate(document, '');
}

/**
 * Validates and throws when the document breaks the schema, naming the source and every path.
 * @example
 * assertStructure(validate, template, 'infra/environment/network.json');
 */
export function assertStructure(validate: StructureValidator, document: unknown, source: string): void {
  const problems = validate(document);
  if (problems.length > 0) throw new TemplateStructureError(source, problems);
}

/**
 * A JSON path in the dotted form the findings use: `resources[2].apiVersion`.
 * @example
 * jsonPath(['resources', 2, 'apiVersion']); // 'resources[2].apiVersion'
 */
export function jsonPath(segments: readonly PropertyKey[], prefix = ''): string {
  return segments.reduce<string>((path, segment) => {
    if (typeof segment === 'number') return `${path}[${segment}]`;
    return path ? `${path}.${String(segment)}` : String(segment);
  }, prefix);
}

function describeIssue(issue: z.core.$ZodIssue, prefix: string): string {
  const path = jsonPath(issue.path, prefix) || '$';
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `${path} is required`;
  if (issue.code === 'unrecognized_keys') {
    return `${path} has unknown key(s) ${issue.keys.map((key) => `'${key}'`).join(', ')}`;
  }
  return `${path}: ${issue.message}`;
}

function nestedTemplates(document: unknown, prefix: string): [string, unknown][] {
  const found: [string, unknown][] = [];
  const visit = (resources: unknown, path: string) => {
    if (!Array.isArray(resources)) return;
    resources.forEach((resource, index) => {
      const here = `${path}[${index}]`;
      if (!isRecord(resource)) return;
      const properties = resource.properties;
      const isDeployment = String(resource.type).toLowerCase() === 'microsoft.resources/deployments';
      if (isDeployment && isRecord(properties) && 'template' in properties) {
        found.push([`${here}.properties.template`, properties.template]);
      }
      visit(resource.resources, `${here}.resources`);
    });
  };
  if (isRecord(document)) visit(document.resources, prefix ? `${prefix}.resources` : 'resources');
  return found;
}
