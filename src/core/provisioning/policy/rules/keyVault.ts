import type { PolicyRule } from '../types.js';

const vaults = 'Microsoft.KeyVault/vaults';

export const keyVaultRules: PolicyRule[] = [
  {
    id: 'KV-01',
    title: 'Key Vault uses Azure RBAC',
    controls: ['IM-1', 'PA-7'],
    severity: 'high',
    message: 'Key Vault data-plane access must be granted through Azure RBAC, not access policies',
    fix: 'Set properties.enableRbacAuthorization to true and grant roles such as Key Vault Secrets User.',
    targets: [
      { type: vaults, checks: [{ path: 'properties.enableRbacAuthorization', expect: { equals: true } }] },
    ],
  },
  {
    id: 'KV-02',
    title: 'Key Vault soft delete and purge protection',
    controls: ['DP-8'],
    severity: 'high',
    message: 'Key Vault must keep deleted secrets recoverable (soft delete) and refuse purges',
    fix: 'Set properties.enablePurgeProtection to true, leave enableSoftDelete true and keep softDeleteRetentionInDays between 7 and 90.',
    targets: [
      {
        type: vaults,
        checks: [
          { path: 'properties.enablePurgeProtection', expect: { equals: true } },
          { path: 'properties.enableSoftDelete', expect: { notEquals: false }, optional: true },
          { path: 'properties.softDeleteRetentionInDays', expect: { between: [7, 90] }, optional: true },
        ],
      },
    ],
  },
  {
    id: 'KV-03',
    title: 'Key Vault is private',
    controls: ['NS-2'],
    severity: 'critical',
    message: 'Key Vault must not be reachable from public networks',
    fix: "Set properties.publicNetworkAccess to 'Disabled' and properties.networkAcls.defaultAction to 'Deny'; reach it through its private endpoint.",
    targets: [
      {
        type: vaults,
        checks: [
          { path: 'properties.publicNetworkAccess', expect: { equals: 'Disabled' } },
          { path: 'properties.networkAcls.defaultAction', expect: { equals: 'Deny' } },
        ],
      },
    ],
  },
];
