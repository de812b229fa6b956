import type { PolicyRule } from '../types.js';

const registries = 'Microsoft.ContainerRegistry/registries';

export const registryRules: PolicyRule[] = [
  {
    id: 'ACR-01',
    title: 'Container registry is private',
    controls: ['NS-2'],
    severity: 'critical',
    message: 'The container registry must be Premium and reachable only through private endpoints',
    fix: "Use sku.name 'Premium', properties.publicNetworkAccess 'Disabled' and properties.networkRuleSet.defaultAction 'Deny'.",
    targets: [
      {
        type: registries,
        checks: [
          { path: 'sku.name', expect: { equals: 'Premium' } },
          { path: 'properties.publicNetworkAccess', expect: { equals: 'Disabled' } },
          { path: 'properties.networkRuleSet.defaultAction', expect: { equals: 'Deny' } },
        ],
      },
    ],
  },
  {
    id: 'ACR-02',
    title: 'Container registry has no shared or anonymous access',
    controls: ['IM-1'],
    severity: 'high',
    message: 'The container registry must not have an admin user or allow anonymous pulls',
    fix: 'Set properties.adminUserEnabled to false and properties.anonymousPullEnabled to false; pull with AcrPull on a managed identity.',
    targets: [
      {
        type: registries,
        checks: [
          { path: 'properties.adminUserEnabled', expect: { equals: false } },
          { path: 'properties.anonymousPullEnabled', expect: { notEquals: true }, optional: true },
        ],
      },
    ],
  },
  {
    id: 'ACR-03',
    title: 'Container registry export is disabled',
    controls: ['DP-2'],
    severity: 'medium',
    message: 'The container registry must not allow exporting artifacts (data exfiltration)',
    fix: "Set properties.policies.exportPolicy.status to 'disabled' (needs publicNetworkAccess 'Disabled').",
    targets: [
      {
        type: registries,
        checks: [{ path: 'properties.policies.exportPolicy.status', expect: { equals: 'disabled' } }],
      },
    ],
  },
];
