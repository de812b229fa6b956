import { DeployTimeValue } from '../../template/deployTimeValue.js';
import { readProperty } from '../../template/propertyPath.js';
import { resourceTypeOfId } from '../../template/resourceIds.js';
import { ofType } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

/**
 * The built-in roles the environment may grant, each only on the resource types it is meant for.
 * Anything else (Owner, Contributor, User Access Administrator, custom roles) is refused.
 */
export const leastPrivilegeRoles = [
  {
    id: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
    name: 'AcrPull',
    scopes: ['Microsoft.ContainerRegistry/registries'],
  },
  {
    id: '4633458b-17de-408a-b874-0445c86b69e6',
    name: 'Key Vault Secrets User',
    scopes: ['Microsoft.KeyVault/vaults', 'Microsoft.KeyVault/vaults/secrets'],
  },
  {
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    name: 'Storage Blob Data Contributor',
    scopes: [
      'Microsoft.Storage/storageAccounts',
      'Microsoft.Storage/storageAccounts/blobServices/containers',
    ],
  },
  {
    id: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
    name: 'Storage Blob Data Reader',
    scopes: [
      'Microsoft.Storage/storageAccounts',
      'Microsoft.Storage/storageAccounts/blobServices/containers',
    ],
  },
  {
    id: '4d97b98b-1d4f-4787-a291-c67834d212e7',
    name: 'Network Contributor',
    scopes: ['Microsoft.Network/virtualNetworks/subnets'],
  },
  {
    id: 'f1a07417-d97a-45cb-824c-7a7467783830',
    name: 'Managed Identity Operator',
    scopes: ['Microsoft.ManagedIdentity/userAssignedIdentities'],
  },
  {
    id: 'befefa01-2a29-4197-83a8-272ff33ce314',
    name: 'DNS Zone Contributor',
    scopes: ['Microsoft.Network/dnsZones'],
  },
] as const;

export const accessRules: PolicyRule[] = [
  {
    id: 'RBAC-01',
    title: 'Role assignments are least privilege',
    controls: ['PA-7'],
    severity: 'critical',
    message: 'Role assignments must grant a catalogued narrow role on the single resource that needs it',
    fix: 'Use a role from the least-privilege catalogue (AcrPull, Key Vault Secrets User, Storage Blob Data Contributor, …) and set scope to the resource, not the resource group.',
    check: leastPrivilege,
  },
];

function leastPrivilege(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, 'Microsoft.Authorization/roleAssignments').flatMap((assignment): Violation[] => {
    const path = 'properties.roleDefinitionId';
    const definition = readProperty(assignment.value, path);
    if (definition instanceof DeployTimeValue || typeof definition !== 'string') {
      return [{ resource: assignment, path, detail: `${path} must be known before deployment` }];
    }
    const roleId = definition.split('/').at(-1)?.toLowerCase();
    const role = leastPrivilegeRoles.find((candidate) => candidate.id === roleId);
    if (!role)
      return [
        { resource: assignment, path, detail: `role ${roleId} is not in the least-privilege catalogue` },
      ];
    if (!assignment.scope) {
      return [
        {
          resource: assignment,
          path: 'scope',
          detail: `${role.name} is assigned on the whole resource group`,
        },
      ];
    }
    const scopeType = resourceTypeOfId(assignment.scope)?.toLowerCase();
    const allowed: readonly string[] = role.scopes;
    return allowed.some((type) => type.toLowerCase() === scopeType)
      ? []
      : [
          {
            resource: assignment,
            path: 'scope',
            detail: `${role.name} may not be granted on ${scopeType ?? assignment.scope}`,
          },
        ];
  });
}
