import { selectProperty } from '../template/propertyPath.js';
import { targetedResources } from './propertyChecks.js';
import { accessRules } from './rules/access.js';
import { clusterRules } from './rules/cluster.js';
import { keyVaultRules } from './rules/keyVault.js';
import { monitoringRules } from './rules/monitoring.js';
import { networkRules } from './rules/network.js';
import { postgresRules } from './rules/postgres.js';
import { registryRules } from './rules/registry.js';
import { storageRules } from './rules/storage.js';
import { templateRules } from './rules/template.js';
import type { PolicyEnvironment, PolicyRule, Violation } from './types.js';

const resourceRules: PolicyRule[] = [
  ...keyVaultRules,
  ...registryRules,
  ...postgresRules,
  ...storageRules,
  ...networkRules,
  ...monitoringRules,
  ...clusterRules,
  ...accessRules,
];

const literalRule: PolicyRule = {
  id: 'GEN-01',
  title: 'Security properties are literals',
  controls: ['PV-1'],
  severity: 'high',
  message: 'A security-relevant property must be a literal, not an expression',
  fix: 'Write the secure value literally; profile differences belong in conditions, not in security properties.',
  check: (environment) => literalViolations(environment),
};

/**
 * Every rule the gate enforces, in the order findings are reported. GEN-01 watches the
 * properties the other rules read and refuses expressions there.
 */
export const policyRules: readonly PolicyRule[] = [...resourceRules, ...templateRules, literalRule].sort(
  (a, b) => a.id.localeCompare(b.id),
);

function literalViolations(environment: PolicyEnvironment): Violation[] {
  const seen = new Set<string>();
  const violations: Violation[] = [];
  for (const rule of resourceRules) {
    for (const { type, path } of watchedProperties(rule)) {
      for (const resource of targetedResources(environment.resources, { type, checks: [] })) {
        for (const match of selectProperty(resource.raw, resource.value, path)) {
          const key = `${resource.id}|${match.path}`;
          if (!match.expression || seen.has(key)) continue;
          seen.add(key);
          violations.push({
            resource,
            path: match.path,
            detail: `${match.path} is the expression ${match.expression}; ${rule.id} needs a literal here`,
          });
        }
      }
    }
  }
  return violations;
}

/** The properties a rule reads that must be written literally. */
function watchedProperties(rule: PolicyRule): { type: string; path: string }[] {
  return [
    ...(rule.targets ?? []).flatMap((target) =>
      target.checks
        .filter((check) => check.literal !== false)
        .map((check) => ({ type: target.type, path: check.path })),
    ),
    ...(rule.literals ?? []),
  ];
}
