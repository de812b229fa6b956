import { isRecord } from '../../template/functions.js';
import { isSecureType } from '../../template/parameters.js';
import { label } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

/**
 * The API version each resource type's rule paths were checked against (Azure/bicep-types-az).
 * A type missing here is one the gate has not been taught, so it is refused rather than waved through.
 */
export const vettedApiVersions: Record<string, string> = {
  'Microsoft.Network/virtualNetworks': '2025-09-01',
  'Microsoft.Network/virtualNetworks/subnets': '2025-09-01',
  'Microsoft.Network/networkSecurityGroups': '2025-09-01',
  'Microsoft.Network/networkSecurityGroups/securityRules': '2025-09-01',
  'Microsoft.Network/privateEndpoints': '2025-09-01',
  'Microsoft.Network/privateEndpoints/privateDnsZoneGroups': '2025-09-01',
  'Microsoft.Network/privateDnsZones': '2024-06-01',
  'Microsoft.Network/privateDnsZones/virtualNetworkLinks': '2024-06-01',
  'Microsoft.Network/dnsZones': '2018-05-01',
  'Microsoft.KeyVault/vaults': '2026-02-01',
  'Microsoft.ContainerRegistry/registries': '2025-11-01',
  'Microsoft.DBforPostgreSQL/flexibleServers': '2025-08-01',
  'Microsoft.DBforPostgreSQL/flexibleServers/configurations': '2025-08-01',
  'Microsoft.DBforPostgreSQL/flexibleServers/administrators': '2025-08-01',
  'Microsoft.Storage/storageAccounts': '2026-04-01',
  'Microsoft.Storage/storageAccounts/blobServices': '2026-04-01',
  'Microsoft.Storage/storageAccounts/blobServices/containers': '2026-04-01',
  'Microsoft.OperationalInsights/workspaces': '2026-03-01',
  'Microsoft.ContainerService/managedClusters': '2026-05-01',
  'Microsoft.Insights/dataCollectionRules': '2024-03-11',
  'Microsoft.Insights/diagnosticSettings': '2016-09-01',
  'Microsoft.Authorization/roleAssignments': '2022-04-01',
  'Microsoft.ManagedIdentity/userAssignedIdentities': '2023-01-31',
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials': '2023-01-31',
  'Microsoft.Resources/deployments': '2025-04-01',
};

/** Functions that return keys, secrets or credentials, and properties that hold them. */
const keyLeak = /\blist[a-z]*\s*\(|\.(primary|secondary)[a-z]*(key|connectionstring)\b/i;

export const templateRules: PolicyRule[] = [
  {
    id: 'GEN-02',
    title: 'Secure parameters have no default',
    controls: ['IM-8'],
    severity: 'critical',
    message: 'A securestring or secureObject parameter must not have a defaultValue (a secret in code)',
    fix: 'Remove the defaultValue; supply the value at deployment from Key Vault.',
    check: secureDefaults,
  },
  {
    id: 'GEN-03',
    title: 'No preview API versions',
    controls: ['PV-7'],
    severity: 'medium',
    message: 'Resources must use a stable (non-preview) API version',
    fix: 'Use the stable API version listed in the vetted catalogue.',
    check: (environment) =>
      environment.resources
        .filter((resource) => /preview/i.test(resource.apiVersion))
        .map((resource) => ({
          resource,
          path: 'apiVersion',
          detail: `apiVersion ${resource.apiVersion} is a preview`,
        })),
  },
  {
    id: 'GEN-04',
    title: 'Outputs do not leak keys',
    controls: ['IM-8'],
    severity: 'critical',
    message: 'Outputs must not return keys, secrets or connection strings (deployment history keeps them)',
    fix: 'Remove the output; consumers use managed identity and RBAC instead of keys.',
    check: leakingOutputs,
  },
  {
    id: 'GEN-05',
    title: 'Template evaluates before deployment',
    controls: ['PV-1'],
    severity: 'high',
    message: 'The gate could not evaluate this part of the template, so it cannot vouch for it',
    fix: 'Supply the parameter, fix the expression, or use only the functions and constructs the gate evaluates.',
  },
  {
    id: 'GEN-06',
    title: 'API version is the vetted one',
    controls: ['PV-1'],
    severity: 'medium',
    message:
      'Resource types and API versions must be the ones whose properties the gate has been checked against',
    fix: 'Use the API version from the vetted catalogue, or extend the catalogue and its rules for the new type.',
    check: unvettedApiVersions,
  },
  {
    id: 'TAG-01',
    title: 'Resources are tagged',
    controls: ['AM-2'],
    severity: 'low',
    message:
      'Every top-level resource must carry the environment tag so inventory and incidents can find its owner',
    fix: 'Add tags with at least an environment key.',
    check: (environment) =>
      environment.resources
        .filter((resource) => !resource.scope && resource.type.split('/').length === 2)
        .filter((resource) => {
          const tags = resource.value.tags;
          return !isRecord(tags) || !Object.keys(tags).some((key) => key.toLowerCase() === 'environment');
        })
        .map((resource) => ({ resource, path: 'tags', detail: `${label(resource)} has no environment tag` })),
  },
];

function secureDefaults(environment: PolicyEnvironment): Violation[] {
  return environment.templates.flatMap(({ stage, path, template }) =>
    Object.entries(isRecord(template.parameters) ? template.parameters : {})
      .filter(
        ([, declaration]) =>
          isRecord(declaration) && isSecureType(declaration.type) && 'defaultValue' in declaration,
      )
      .map(([name]) => ({
        stage,
        path: `${prefix(path)}parameters.${name}.defaultValue`,
        detail: `parameter '${name}' has a defaultValue`,
      })),
  );
}

function leakingOutputs(environment: PolicyEnvironment): Violation[] {
  return environment.templates.flatMap(({ stage, path, template }) =>
    Object.entries(isRecord(template.outputs) ? template.outputs : {})
      .filter(([, output]) => keyLeak.test(JSON.stringify(isRecord(output) ? (output.value ?? '') : output)))
      .map(([name]) => ({
        stage,
        path: `${prefix(path)}outputs.${name}`,
        detail: `output '${name}' returns a key or secret`,
      })),
  );
}

function unvettedApiVersions(environment: PolicyEnvironment): Violation[] {
  const vetted = new Map(
    Object.entries(vettedApiVersions).map(([type, version]) => [type.toLowerCase(), version]),
  );
  return environment.resources.flatMap((resource): Violation[] => {
    const version = vetted.get(resource.type.toLowerCase());
    if (version === undefined) {
      return [{ resource, path: 'type', detail: `type ${resource.type} is not in the vetted catalogue` }];
    }
    return version === resource.apiVersion
      ? []
      : [
          {
            resource,
            path: 'apiVersion',
            detail: `apiVersion ${resource.apiVersion}; the vetted version is ${version}`,
          },
        ];
  });
}

function prefix(templatePath: string): string {
  return templatePath === '$' ? '' : `${templatePath}.`;
}
