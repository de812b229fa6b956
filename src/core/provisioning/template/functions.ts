import { createHash } from 'node:crypto';
import { DeployTimeValue } from './deployTimeValue.js';
import type { Expression } from './expression.js';
import {
  type DeploymentScope,
  resourceGroupId,
  resourceGroupResourceId,
  subscriptionResourceId,
} from './resourceIds.js';

/** What an expression can see besides its arguments. */
export interface ExpressionContext {
  scope: DeploymentScope;
  parameter(name: string): unknown;
  variable(name: string): unknown;
}

type TemplateFunction = (args: unknown[], context: ExpressionContext) => unknown;

/**
 * Evaluates a parsed expression. `if` is lazy like ARM's, so an untaken branch may name a resource
 * that is not deployed. Anything built from a deploy-time value is itself a deploy-time value.
 * @example
 * evaluateExpression(parseExpression("[toLower('AbC')]"), context); // 'abc'
 */
export function evaluateExpression(expression: Expression, context: ExpressionContext): unknown {
  switch (expression.kind) {
    case 'string':
    case 'number':
      return expression.value;
    case 'member':
      return member(evaluateExpression(expression.target, context), expression.property);
    case 'index':
      return member(
        evaluateExpression(expression.target, context),
        evaluateExpression(expression.index, context),
      );
    case 'call':
      return call(expression.name, expression.args, context);
  }
}

function call(name: string, argExpressions: Expression[], context: ExpressionContext): unknown {
  const key = name.toLowerCase();
  if (key === 'if') return conditional(argExpressions, context);
  const fn = templateFunctions[key];
  if (!fn) throw new TypeError(`function '${name}' is not supported by the policy gate`);
  const args = argExpressions.map((arg) => evaluateExpression(arg, context));
  const deferred = args.find((arg) => arg instanceof DeployTimeValue);
  if (deferred && !holdsDeployTimeValues.has(key)) {
    return new DeployTimeValue(`${name}(${args.map(String).join(', ')})`);
  }
  return fn(args, context);
}

function conditional(argExpressions: Expression[], context: ExpressionContext): unknown {
  const [test, whenTrue, whenFalse] = argExpressions;
  if (!test || !whenTrue || !whenFalse || argExpressions.length !== 3) {
    throw new TypeError('if() takes exactly 3 arguments');
  }
  const condition = evaluateExpression(test, context);
  if (condition instanceof DeployTimeValue) return new DeployTimeValue(`if(${condition.description}, …)`);
  return evaluateExpression(asBoolean('if', condition) ? whenTrue : whenFalse, context);
}

function member(target: unknown, key: unknown): unknown {
  if (target instanceof DeployTimeValue) return new DeployTimeValue(`${target.description}.${String(key)}`);
  if (Array.isArray(target) && typeof key === 'number') {
    if (key < 0 || key >= target.length) throw new RangeError(`index ${key} is outside the array`);
    return target[key];
  }
  if (isRecord(target) && typeof key === 'string') {
    const found = Object.keys(target).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
    if (found === undefined) throw new TypeError(`the object has no property '${key}'`);
    return target[found];
  }
  throw new TypeError(`cannot read '${String(key)}' of ${describe(target)}`);
}

/** Functions that may hold deploy-time values without becoming one (they only collect them). */
const holdsDeployTimeValues = new Set(['createarray', 'createobject']);

const templateFunctions: Record<string, TemplateFunction> = {
  parameters: ([name], context) => context.parameter(asString('parameters', name)),
  variables: ([name], context) => context.variable(asString('variables', name)),
  concat: (args) =>
    args.every(Array.isArray) ? args.flat() : args.map((arg) => asText('concat', arg)).join(''),
  format: ([pattern, ...values]) => format(asString('format', pattern), values),
  uniquestring: (args) => uniqueString(args.map((arg) => asString('uniqueString', arg))),
  guid: (args) => deterministicGuid(args.map((arg) => asString('guid', arg))),
  tolower: ([value]) => asString('toLower', value).toLowerCase(),
  toupper: ([value]) => asString('toUpper', value).toUpperCase(),
  resourceid: (args, context) => resourceId(args, context.scope),
  subscriptionresourceid: ([type, ...names], context) =>
    subscriptionResourceId(
      context.scope,
      asString('subscriptionResourceId', type),
      names.map((name) => asString('subscriptionResourceId', name)),
    ),
  extensionresourceid: ([scopeId, type, ...names]) =>
    `${asString('extensionResourceId', scopeId)}/providers/${asString('extensionResourceId', type)}/${names
      .map((name) => asString('extensionResourceId', name))
      .join('/')}`,
  resourcegroup: (_, { scope }) => ({
    id: resourceGroupId(scope),
    name: scope.resourceGroup.name,
    location: scope.resourceGroup.location,
    type: 'Microsoft.Resources/resourceGroups',
  }),
  subscription: (_, { scope }) => ({
    id: `/subscriptions/${scope.subscriptionId}`,
    subscriptionId: scope.subscriptionId,
    tenantId: scope.tenantId,
  }),
  tenant: (_, { scope }) => ({ id: `/tenants/${scope.tenantId}`, tenantId: scope.tenantId }),
  reference: ([target]) => new DeployTimeValue(`reference(${String(target)})`),
  equals: ([left, right]) => JSON.stringify(left) === JSON.stringify(right),
  not: ([value]) => !asBoolean('not', value),
  and: (args) => args.every((arg) => asBoolean('and', arg)),
  or: (args) => args.some((arg) => asBoolean('or', arg)),
  empty: ([value]) => isEmpty(value),
  length: ([value]) => lengthOf(value),
  createarray: (args) => args,
  createobject: (args) => createObject(args),
  union: (args) => union(args),
  true: () => true,
  false: () => false,
  null: () => null,
};

function resourceId(args: unknown[], scope: DeploymentScope): string {
  const strings = args.map((arg) => asString('resourceId', arg));
  const typeIndex = strings.findIndex((arg) => arg.includes('/'));
  if (typeIndex < 0 || typeIndex > 2)
    throw new TypeError('resourceId() needs a resource type such as Ns/type');
  const [subscriptionId = scope.subscriptionId, resourceGroupName = scope.resourceGroup.name] =
    typeIndex === 2 ? strings : typeIndex === 1 ? [scope.subscriptionId, strings[0]] : [];
  const target = {
    ...scope,
    subscriptionId,
    resourceGroup: { ...scope.resourceGroup, name: resourceGroupName },
  };
  return resourceGroupResourceId(target, strings[typeIndex] ?? '', strings.slice(typeIndex + 1));
}

function format(pattern: string, values: unknown[]): string {
  return pattern.replace(
    /\{\{|\}\}|\{(\d+)(:[^}]*)?\}/g,
    (token, index: string | undefined, spec?: string) => {
      if (token === '{{') return '{';
      if (token === '}}') return '}';
      if (spec) throw new TypeError(`format() specifier '${spec}' is not supported by the policy gate`);
      const position = Number(index);
      if (position >= values.length) throw new RangeError(`format() has no argument {${position}}`);
      return asText('format', values[position]);
    },
  );
}

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A 13-character token from the arguments, like ARM's `uniqueString`. ARM's own hash is not
 * published; this one (SHA-256, first 65 bits in base32) is just as stable, so every template the
 * gate evaluates names the same resource the same way — but the names differ from Azure's.
 * @example
 * uniqueString(['/subscriptions/0', 'demo', 'westeurope']).length; // 13
 */
export function uniqueString(values: string[]): string {
  const digest = createHash('sha256').update(values.join('|')).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 9)) bits = (bits << 8n) | BigInt(byte);
  let token = '';
  for (let index = 0; index < 13; index += 1) token += base32[Number((bits >> BigInt(67 - index * 5)) & 31n)];
  return token;
}

/**
 * A name-based GUID from the arguments (SHA-256, version 5 layout), stable across runs like ARM's
 * `guid()`; the value differs from the one Azure computes.
 * @example
 * deterministicGuid(['scope', 'principal', 'role']); // 'xxxxxxxx-xxxx-5xxx-8xxx-xxxxxxxxxxxx'
 */
export function deterministicGuid(values: string[]): string {
  const hex = createHash('sha256').update(values.join('|')).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}

function createObject(args: unknown[]): Record<string, unknown> {
  if (args.length % 2 !== 0) throw new TypeError('createObject() takes key/value pairs');
  const result: Record<string, unknown> = {};
  for (let index = 0; index < args.length; index += 2) {
    result[asString('createObject', args[index])] = args[index + 1];
  }
  return result;
}

function union(args: unknown[]): unknown {
  if (args.every(Array.isArray)) {
    const seen = new Map(args.flat().map((item) => [JSON.stringify(item), item]));
    return [...seen.values()];
  }
  if (args.every(isRecord)) return Object.assign({}, ...args);
  throw new TypeError('union() takes only arrays or only objects');
}

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
  if (isRecord(value)) return Object.keys(value).length === 0;
  throw new TypeError(`empty() cannot test ${describe(value)}`);
}

function lengthOf(value: unknown): number {
  if (typeof value === 'string' || Array.isArray(value)) return value.length;
  if (isRecord(value)) return Object.keys(value).length;
  throw new TypeError(`length() cannot measure ${describe(value)}`);
}

function asString(fn: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${fn}() expects a string, got ${describe(value)}`);
  return value;
}

function asText(fn: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TypeError(`${fn}() cannot turn ${describe(value)} into text`);
}

function asBoolean(fn: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${fn}() expects a bool, got ${describe(value)}`);
  return value;
}

/** True for a plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof DeployTimeValue)
  );
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
