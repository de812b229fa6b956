import { readProperty } from '../../template/propertyPath.js';
import { childrenOf, ofType } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

const accounts = 'Microsoft.Storage/storageAccounts';
const blobServices = `${accounts}/blobServices`;

export const storageRules: PolicyRule[] = [
  {
    id: 'ST-01',
    title: 'Storage has no anonymous or shared-key access',
    controls: ['IM-1', 'DP-2'],
    severity: 'critical',
    message: 'Storage must not allow anonymous blob access or shared-key authorization',
    fix: "Set properties.allowBlobPublicAccess and properties.allowSharedKeyAccess to false; containers use publicAccess 'None'.",
    targets: [
      {
        type: accounts,
        checks: [
          { path: 'properties.allowBlobPublicAccess', expect: { equals: false } },
          { path: 'properties.allowSharedKeyAccess', expect: { equals: false } },
        ],
      },
      {
        type: `${blobServices}/containers`,
        checks: [{ path: 'properties.publicAccess', expect: { equals: 'None' }, optional: true }],
      },
    ],
  },
  {
    id: 'ST-02',
    title: 'Storage requires TLS 1.2 and HTTPS',
    controls: ['DP-3'],
    severity: 'high',
    message: 'Storage must accept only HTTPS with TLS 1.2 or later',
    fix: "Set properties.minimumTlsVersion 'TLS1_2' (or 'TLS1_3') and leave properties.supportsHttpsTrafficOnly true.",
    targets: [
      {
        type: accounts,
        checks: [
          { path: 'properties.minimumTlsVersion', expect: { oneOf: ['TLS1_2', 'TLS1_3'] } },
          { path: 'properties.supportsHttpsTrafficOnly', expect: { notEquals: false }, optional: true },
        ],
      },
    ],
  },
  {
    id: 'ST-03',
    title: 'Storage firewall denies public networks',
    controls: ['NS-2'],
    severity: 'critical',
    message: 'Storage must not be reachable from public networks',
    fix: "Set properties.publicNetworkAccess 'Disabled' (preferred) or properties.networkAcls.defaultAction 'Deny'.",
    literals: [
      { type: accounts, path: 'properties.publicNetworkAccess' },
      { type: accounts, path: 'properties.networkAcls.defaultAction' },
    ],
    check: storageFirewall,
  },
  {
    id: 'ST-04',
    title: 'Blob soft delete and versioning',
    controls: ['BR-1'],
    severity: 'medium',
    message: 'Blob storage must keep deleted and overwritten data recoverable for at least 7 days',
    fix: 'Declare blobServices/default with deleteRetentionPolicy and containerDeleteRetentionPolicy enabled for 7+ days and isVersioningEnabled true.',
    targets: [
      {
        type: blobServices,
        checks: [
          { path: 'properties.deleteRetentionPolicy.enabled', expect: { equals: true } },
          { path: 'properties.deleteRetentionPolicy.days', expect: { atLeast: 7 } },
          { path: 'properties.containerDeleteRetentionPolicy.enabled', expect: { equals: true } },
          { path: 'properties.containerDeleteRetentionPolicy.days', expect: { atLeast: 7 } },
          { path: 'properties.isVersioningEnabled', expect: { equals: true } },
        ],
      },
    ],
    check: declaredBlobService,
  },
];

function storageFirewall(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, accounts).flatMap((account) => {
    const access = readProperty(account.value, 'properties.publicNetworkAccess');
    const defaultAction = readProperty(account.value, 'properties.networkAcls.defaultAction');
    const closed =
      String(access).toLowerCase() === 'disabled' || String(defaultAction).toLowerCase() === 'deny';
    return closed
      ? []
      : [
          {
            resource: account,
            path: 'properties.publicNetworkAccess',
            detail: `publicNetworkAccess is ${JSON.stringify(access)} and networkAcls.defaultAction is ${JSON.stringify(defaultAction)}; expected "Disabled" or "Deny"`,
          },
        ];
  });
}

function declaredBlobService(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, accounts)
    .filter((account) => childrenOf(environment, account, 'blobServices').length === 0)
    .map((account) => ({
      resource: account,
      path: 'resources',
      detail: 'blobServices/default is not declared, so soft delete and versioning are off',
    }));
}
