import { DeployTimeValue } from '../template/deployTimeValue.js';
import type { ResolvedResource } from '../template/evaluate.js';
import { selectProperty } from '../template/propertyPath.js';
import type {
  Expectation,
  PolicyEnvironment,
  PolicyRule,
  PropertyCheck,
  PropertyTarget,
  Violation,
} from './types.js';

/**
 * Runs a rule's property checks over every resource they target.
 * @example
 * const violations = runPropertyChecks(keyVaultRbac, environment);
 */
export function runPropertyChecks(rule: PolicyRule, environment: PolicyEnvironment): Violation[] {
  return (rule.targets ?? []).flatMap((target) =>
    targetedResources(environment.resources, target).flatMap((resource) =>
      target.checks
        .filter((check) => !check.profile || check.profile === environment.profile)
        .flatMap((check) => checkResource(resource, check)),
    ),
  );
}

/**
 * The resources a target names: same type (any case) and, when given, one of the names.
 * @example
 * targetedResources(resources, { type: 'Microsoft.KeyVault/vaults', checks: [] });
 */
export function targetedResources(resources: ResolvedResource[], target: PropertyTarget): ResolvedResource[] {
  const names = target.names?.map((name) => name.toLowerCase());
  return resources.filter(
    (resource) =>
      resource.type.toLowerCase() === target.type.toLowerCase() &&
      (!names || names.includes((resource.name.split('/').at(-1) ?? '').toLowerCase())),
  );
}

function checkResource(resource: ResolvedResource, check: PropertyCheck): Violation[] {
  return selectProperty(resource.raw, resource.value, check.path).flatMap((match): Violation[] => {
    if (!match.present) {
      return check.optional
        ? []
        : [{ resource, path: match.path, detail: `${match.path} is missing; ${wanted(check.expect)}` }];
    }
    if (match.value instanceof DeployTimeValue) {
      return [
        {
          resource,
          path: match.path,
          detail: `${match.path} is only known at deployment, so it cannot be verified; ${wanted(check.expect)}`,
        },
      ];
    }
    if (meets(match.value, check.expect)) return [];
    return [
      {
        resource,
        path: match.path,
        detail: `${match.path} is ${JSON.stringify(match.value)}; ${wanted(check.expect)}`,
      },
    ];
  });
}

/**
 * Whether a value meets an expectation; strings compare without regard to case.
 * @example
 * meets('disabled', { equals: 'Disabled' }); // true
 */
export function meets(value: unknown, expect: Expectation): boolean {
  if ('equals' in expect) return same(value, expect.equals);
  if ('oneOf' in expect) return expect.oneOf.some((allowed) => same(value, allowed));
  if ('notEquals' in expect) return !same(value, expect.notEquals);
  if ('between' in expect)
    return typeof value === 'number' && value >= expect.between[0] && value <= expect.between[1];
  if ('atLeast' in expect) return typeof value === 'number' && value >= expect.atLeast;
  return value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
}

/**
 * Says in words what an expectation wants, for finding details.
 * @example
 * wanted({ oneOf: ['TLS1_2', 'TLS1_3'] }); // 'expected one of "TLS1_2", "TLS1_3"'
 */
export function wanted(expect: Expectation): string {
  if ('equals' in expect) return `expected ${JSON.stringify(expect.equals)}`;
  if ('oneOf' in expect)
    return `expected one of ${expect.oneOf.map((value) => JSON.stringify(value)).join(', ')}`;
  if ('notEquals' in expect) return `must not be ${JSON.stringify(expect.notEquals)}`;
  if ('between' in expect) return `expected a number from ${expect.between[0]} to ${expect.between[1]}`;
  if ('atLeast' in expect) return `expected a number of at least ${expect.atLeast}`;
  return 'expected a value';
}

function same(value: unknown, expected: string | number | boolean): boolean {
  if (typeof value === 'string' && typeof expected === 'string')
    return value.toLowerCase() === expected.toLowerCase();
  return value === expected;
}
