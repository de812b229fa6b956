import type { Profile } from '../../../../src/core/provisioning/index.js';
import { getPath, type Stages, setPath } from './shippedEnvironment.js';

type Change = (stages: Stages) => void;
export interface Case {
  ruleId: string;
  change: string;
  apply: Change;
  profile?: Profile;
  detail?: RegExp;
}

const nsg = (stages: Stages, key: string) =>
  stages.resource('network', 'Microsoft.Network/networkSecurityGroups', key);
const vnet = (stages: Stages) => stages.resource('network', 'Microsoft.Network/virtualNetworks');
const ingressRule = 'properties.securityRules[0].properties';
const assignment = (stages: Stages, role: string) =>
  stages.resource('cluster', 'Microsoft.Authorization/roleAssignments', role);
const isType =
  (type: string, hint = '') =>
  (r: Record<string, unknown>) =>
    r.type === type && String(r.name).includes(hint);

/** Changes that break a rule no single property check can see. */
export const violations: Case[] = [
  {
    ruleId: 'NSG-01',
    change: 'ingress rule opened to SSH',
    apply: (s) => setPath(nsg(s, 'nsgAks'), `${ingressRule}.destinationPortRange`, '22'),
    detail: /port 22/,
  },
  {
    ruleId: 'NSG-01',
    change: 'ingress rule opened to any port',
    apply: (s) => setPath(nsg(s, 'nsgAks'), `${ingressRule}.destinationPortRange`, '*'),
  },
  {
    ruleId: 'NSG-01',
    change: 'a port range covering RDP',
    apply: (s) => setPath(nsg(s, 'nsgAks'), `${ingressRule}.destinationPortRange`, '3380-3390'),
  },
  {
    ruleId: 'NSG-01',
    change: 'PostgreSQL port from 0.0.0.0/0 via sourceAddressPrefixes',
    apply: (s) => {
      const rule = nsg(s, 'nsgPostgres');
      setPath(rule, `${ingressRule}.sourceAddressPrefix`, undefined);
      setPath(rule, `${ingressRule}.sourceAddressPrefixes`, ['10.0.0.0/8', '0.0.0.0/0']);
    },
    detail: /0\.0\.0\.0\/0 to port 5432/,
  },
  {
    ruleId: 'NSG-01',
    change: 'a child securityRules resource allowing * from the internet',
    apply: (s) =>
      s.resources('network').push({
        type: 'Microsoft.Network/networkSecurityGroups/securityRules',
        apiVersion: '2025-09-01',
        name: "[format('{0}/AllowAll', variables('nsgAksName'))]",
        properties: {
          priority: 200,
          direction: 'Inbound',
          access: 'Allow',
          protocol: '*',
          sourceAddressPrefix: 'Internet',
          sourcePortRange: '*',
          destinationAddressPrefix: '*',
          destinationPortRanges: ['443', '*'],
        },
      }),
  },
  {
    ruleId: 'NET-01',
    change: 'a subnet without NSG',
    apply: (s) => setPath(vnet(s), 'properties.subnets[1].properties.networkSecurityGroup', undefined),
    detail: /has no network security group/,
  },
  {
    ruleId: 'NET-01',
    change: 'a subnet whose NSG is not declared',
    apply: (s) =>
      setPath(
        vnet(s),
        'properties.subnets[0].properties.networkSecurityGroup.id',
        '/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/networkSecurityGroups/elsewhere',
      ),
    detail: /does not declare/,
  },
  {
    ruleId: 'NET-01',
    change: 'default outbound access on',
    apply: (s) => setPath(vnet(s), 'properties.subnets[2].properties.defaultOutboundAccess', true),
  },
  {
    ruleId: 'NET-01',
    change: 'a child subnet resource without NSG',
    apply: (s) =>
      s.resources('network').push({
        type: 'Microsoft.Network/virtualNetworks/subnets',
        apiVersion: '2025-09-01',
        name: "[format('{0}/snet-extra', variables('vnetName'))]",
        properties: { addressPrefix: '10.40.7.0/24', defaultOutboundAccess: false },
      }),
  },
  {
    ruleId: 'PE-01',
    change: 'Key Vault private endpoint removed',
    apply: (s) => s.remove('keyvault', isType('Microsoft.Network/privateEndpoints')),
    detail: /no private endpoint connects/,
  },
  {
    ruleId: 'PE-01',
    change: 'registry endpoint with the wrong group id',
    apply: (s) =>
      setPath(
        s.resource('registry', 'Microsoft.Network/privateEndpoints'),
        'properties.privateLinkServiceConnections[0].properties.groupIds',
        ['registry_data'],
      ),
  },
  {
    ruleId: 'PE-01',
    change: 'storage DNS zone group pointing at the vault zone',
    apply: (s) =>
      setPath(
        s.resource('storage', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups'),
        'properties.privateDnsZoneConfigs[0].properties.privateDnsZoneId',
        "[resourceId('Microsoft.Network/privateDnsZones', 'privatelink.vaultcore.azure.net')]",
      ),
    detail: /no DNS zone group using the zone privatelink\.blob/,
  },
  {
    ruleId: 'PE-01',
    change: 'zone link with auto-registration',
    apply: (s) =>
      setPath(
        s.resource('network', 'Microsoft.Network/privateDnsZones/virtualNetworkLinks', 'azurecr'),
        'properties.registrationEnabled',
        true,
      ),
    detail: /not linked/,
  },
  {
    ruleId: 'PE-01',
    change: 'zone link removed',
    apply: (s) =>
      s.remove('network', isType('Microsoft.Network/privateDnsZones/virtualNetworkLinks', 'vaultcore')),
  },
  {
    ruleId: 'PG-01',
    change: 'delegation removed from the PostgreSQL subnet',
    apply: (s) => setPath(vnet(s), 'properties.subnets[2].properties.delegations', []),
    detail: /not delegated/,
  },
  {
    ruleId: 'PG-01',
    change: 'server pointed at an undeclared subnet',
    apply: (s) =>
      setPath(
        s.resource('database', 'Microsoft.DBforPostgreSQL/flexibleServers'),
        'properties.network.delegatedSubnetResourceId',
        "[resourceId('Microsoft.Network/virtualNetworks/subnets', variables('vnetName'), 'snet-other')]",
      ),
    detail: /does not declare/,
  },
  {
    ruleId: 'PG-01',
    change: 'PostgreSQL DNS zone link removed',
    apply: (s) =>
      s.remove(
        'network',
        isType('Microsoft.Network/privateDnsZones/virtualNetworkLinks', 'postgresDnsZoneName'),
      ),
    detail: /is not linked/,
  },
  {
    ruleId: 'PG-01',
    change: 'server pointed at a privatelink zone that is not a postgres zone',
    apply: (s) =>
      setPath(
        s.resource('database', 'Microsoft.DBforPostgreSQL/flexibleServers'),
        'properties.network.privateDnsZoneArmResourceId',
        "[resourceId('Microsoft.Network/privateDnsZones', 'privatelink.azurecr.io')]",
      ),
  },
  {
    ruleId: 'PG-02',
    change: 'TLS configuration removed',
    apply: (s) =>
      s.remove('database', isType('Microsoft.DBforPostgreSQL/flexibleServers/configurations', 'ssl_min')),
    detail: /'ssl_min_protocol_version' is not declared/,
  },
  {
    ruleId: 'ST-03',
    change: 'storage open to public networks',
    apply: (s) => {
      const account = s.resource('storage', 'Microsoft.Storage/storageAccounts', 'document');
      setPath(account, 'properties.publicNetworkAccess', 'Enabled');
      setPath(account, 'properties.networkAcls.defaultAction', 'Allow');
    },
  },
  {
    ruleId: 'ST-04',
    change: 'blob service removed',
    apply: (s) => s.remove('storage', isType('Microsoft.Storage/storageAccounts/blobServices')),
    detail: /blobServices\/default is not declared/,
  },
  {
    ruleId: 'DIAG-01',
    change: 'Key Vault diagnostic setting removed',
    apply: (s) => s.remove('keyvault', isType('Microsoft.Insights/diagnosticSettings')),
    detail: /no diagnostic setting/,
  },
  {
    ruleId: 'DIAG-01',
    change: 'registry logs sent to another workspace',
    apply: (s) =>
      setPath(
        s.resource('registry', 'Microsoft.Insights/diagnosticSettings'),
        'properties.workspaceId',
        "[resourceId('Microsoft.OperationalInsights/workspaces', 'log-elsewhere')]",
      ),
    detail: /do not send/,
  },
  {
    ruleId: 'DIAG-01',
    change: 'PostgreSQL log category missing',
    apply: (s) =>
      setPath(s.resource('database', 'Microsoft.Insights/diagnosticSettings'), 'properties.logs', [
        { category: 'PostgreSQLFlexSessions', enabled: true },
      ]),
    detail: /PostgreSQLLogs/,
  },
  {
    ruleId: 'DIAG-01',
    change: 'cluster audit logs disabled',
    apply: (s) =>
      setPath(
        s.resource('cluster', 'Microsoft.Insights/diagnosticSettings'),
        'properties.logs[1].enabled',
        false,
      ),
    detail: /kube-audit-admin/,
  },
  {
    ruleId: 'DIAG-01',
    change: 'no workspace in the environment',
    apply: (s) => s.remove('monitoring', isType('Microsoft.OperationalInsights/workspaces')),
  },
  {
    ruleId: 'RBAC-01',
    change: 'Owner instead of AcrPull',
    apply: (s) =>
      setPath(
        assignment(s, 'registries'),
        'properties.roleDefinitionId',
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8e3af657-a8ff-443c-a75c-2fe8c4bcb635')]",
      ),
    detail: /not in the least-privilege catalogue/,
  },
  {
    ruleId: 'RBAC-01',
    change: 'AcrPull on the whole resource group',
    apply: (s) => setPath(assignment(s, 'registries'), 'scope', undefined),
    detail: /whole resource group/,
  },
  {
    ruleId: 'RBAC-01',
    change: 'Key Vault Secrets User granted on a storage account',
    apply: (s) =>
      setPath(
        assignment(s, 'vaults'),
        'scope',
        "[format('Microsoft.Storage/storageAccounts/{0}', variables('mediaAccountName'))]",
      ),
    detail: /may not be granted on microsoft\.storage\/storageaccounts/,
  },
  {
    ruleId: 'RBAC-01',
    change: 'role only known at deployment',
    apply: (s) => setPath(assignment(s, 'vaults'), 'properties.roleDefinitionId', "[reference('x').roleId]"),
  },
  {
    ruleId: 'GEN-02',
    change: 'secure parameter with a default',
    apply: (s) =>
      setPath(s.template('database'), 'parameters.administratorLoginPassword.defaultValue', 'hunter2'),
    detail: /administratorLoginPassword/,
  },
  {
    ruleId: 'GEN-03',
    change: 'preview API version',
    apply: (s) =>
      setPath(s.resource('keyvault', 'Microsoft.KeyVault/vaults'), 'apiVersion', '2026-02-01-preview'),
  },
  {
    ruleId: 'GEN-04',
    change: 'output returning storage keys',
    apply: (s) =>
      setPath(s.template('storage'), 'outputs.keys', {
        type: 'object',
        value:
          "[listKeys(resourceId('Microsoft.Storage/storageAccounts', variables('mediaAccountName')), '2026-04-01')]",
      }),
    detail: /output 'keys'/,
  },
  {
    ruleId: 'GEN-04',
    change: 'output returning a primary key',
    apply: (s) =>
      setPath(s.template('monitoring'), 'outputs.sharedKey', {
        type: 'string',
        value: "[reference(variables('workspaceId')).primarySharedKey]",
      }),
  },
  {
    ruleId: 'GEN-05',
    change: 'a function the gate does not evaluate',
    apply: (s) =>
      setPath(
        s.resource('registry', 'Microsoft.ContainerRegistry/registries'),
        'properties.zoneRedundancy',
        '[utcNow()]',
      ),
    detail: /utcNow/,
  },
  {
    ruleId: 'GEN-05',
    change: 'a required parameter without value',
    apply: (s) => setPath(s.template('identity'), 'parameters.owner', { type: 'string' }),
    detail: /parameter 'owner' has no value/,
  },
  {
    ruleId: 'GEN-05',
    change: 'a resource copy loop',
    apply: (s) =>
      setPath(s.resource('identity', 'Microsoft.ManagedIdentity/userAssignedIdentities'), 'copy', {
        name: 'ids',
        count: 2,
      }),
    detail: /copy loops/,
  },
  {
    ruleId: 'GEN-06',
    change: 'an older API version',
    apply: (s) => setPath(s.resource('keyvault', 'Microsoft.KeyVault/vaults'), 'apiVersion', '2023-07-01'),
    detail: /vetted version is 2026-02-01/,
  },
  {
    ruleId: 'GEN-06',
    change: 'a resource type the gate was not taught',
    apply: (s) =>
      s.resources('identity').push({
        type: 'Microsoft.Web/sites',
        apiVersion: '2024-11-01',
        name: 'app',
        location: 'westeurope',
        tags: { environment: 'x' },
      }),
    detail: /not in the vetted catalogue/,
  },
  {
    ruleId: 'TAG-01',
    change: 'vault without tags',
    apply: (s) => setPath(s.resource('keyvault', 'Microsoft.KeyVault/vaults'), 'tags', undefined),
    detail: /no environment tag/,
  },
  {
    ruleId: 'GEN-01',
    change: 'an NSG rule access written as an expression',
    apply: (s) =>
      setPath(
        nsg(s, 'nsgFunctions'),
        'properties.securityRules[0].properties.access',
        "[if(true(), 'Deny', 'Allow')]",
      ),
    detail: /NSG-01 needs a literal/,
  },
];

/** Other secure shapes a rule must accept, beyond the shipped templates. */
export const satisfied: Case[] = [
  {
    ruleId: 'ST-03',
    change: 'public access enabled but the firewall denies by default',
    apply: (s) =>
      setPath(
        s.resource('storage', 'Microsoft.Storage/storageAccounts'),
        'properties.publicNetworkAccess',
        'Enabled',
      ),
  },
  {
    ruleId: 'KV-02',
    change: 'soft-delete settings left to the secure service defaults',
    apply: (s) => {
      const vault = s.resource('keyvault', 'Microsoft.KeyVault/vaults');
      setPath(vault, 'properties.enableSoftDelete', undefined);
      setPath(vault, 'properties.softDeleteRetentionInDays', undefined);
    },
  },
  {
    ruleId: 'NSG-01',
    change: 'HTTPS from the internet to the ingress',
    apply: (s) => setPath(nsg(s, 'nsgAks'), `${ingressRule}.destinationPortRanges`, ['443', '8443']),
  },
  {
    ruleId: 'NSG-01',
    change: 'SSH allowed from inside the VNet only',
    apply: (s) => setPath(nsg(s, 'nsgPe'), `${ingressRule}.destinationPortRange`, '22'),
  },
  {
    ruleId: 'NET-01',
    change: 'a GatewaySubnet without NSG',
    apply: (s) =>
      (vnet(s).properties as { subnets: unknown[] }).subnets.push({
        name: 'GatewaySubnet',
        properties: { addressPrefix: '10.40.8.0/27' },
      }),
  },
  {
    ruleId: 'PG-03',
    change: 'password authentication disabled and no rotation tag',
    apply: (s) => {
      const server = s.resource('database', 'Microsoft.DBforPostgreSQL/flexibleServers');
      setPath(server, 'properties.authConfig.passwordAuth', 'Disabled');
      setPath(server, 'tags.vigil-rotation', undefined);
    },
  },
  {
    ruleId: 'PG-05',
    change: 'HA disabled in dev',
    apply: (s) =>
      setPath(
        s.resource('database', 'Microsoft.DBforPostgreSQL/flexibleServers'),
        'properties.highAvailability.mode',
        'Disabled',
      ),
    profile: 'dev',
  },
  {
    ruleId: 'PG-02',
    change: 'TLS 1.3 minimum',
    apply: (s) =>
      setPath(
        s.resource('database', 'Microsoft.DBforPostgreSQL/flexibleServers/configurations', 'ssl_min'),
        'properties.value',
        'TLSv1.3',
      ),
  },
  {
    ruleId: 'DIAG-01',
    change: 'the allLogs category group instead of categories',
    apply: (s) =>
      setPath(s.resource('keyvault', 'Microsoft.Insights/diagnosticSettings'), 'properties.logs', [
        { categoryGroup: 'allLogs', enabled: true },
      ]),
  },
  {
    ruleId: 'RBAC-01',
    change: 'Storage Blob Data Reader on a container',
    apply: (s) =>
      setPath(
        assignment(s, 'documents'),
        'properties.roleDefinitionId',
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')]",
      ),
  },
];

const kv = ['keyvault', 'Microsoft.KeyVault/vaults'] as const;
const cr = ['registry', 'Microsoft.ContainerRegistry/registries'] as const;
const pg = ['database', 'Microsoft.DBforPostgreSQL/flexibleServers'] as const;
const st = ['storage', 'Microsoft.Storage/storageAccounts'] as const;
const blob = ['storage', 'Microsoft.Storage/storageAccounts/blobServices'] as const;
const log = ['monitoring', 'Microsoft.OperationalInsights/workspaces'] as const;
const aks = ['cluster', 'Microsoft.ContainerService/managedClusters'] as const;

export interface PropertyMutation {
  ruleId: string;
  stage: string;
  type: string;
  path: string;
  insecure: unknown;
  nameHint?: string;
  profile?: Profile;
  /** False where the rule reads an evaluated value (ids, parameter-driven values), so no GEN-01. */
  literal?: boolean;
}

const m = (
  ruleId: string,
  [stage, type]: readonly [string, string],
  path: string,
  insecure: unknown,
  extra: Partial<PropertyMutation> = {},
): PropertyMutation => ({ ruleId, stage, type, path, insecure, ...extra });

/** One insecure value for every property a rule checks, applied to a copy of a shipped template. */
export const propertyMutations: PropertyMutation[] = [
  m('KV-01', kv, 'properties.enableRbacAuthorization', false),
  m('KV-02', kv, 'properties.enablePurgeProtection', false),
  m('KV-02', kv, 'properties.enableSoftDelete', false),
  m('KV-02', kv, 'properties.softDeleteRetentionInDays', 3),
  m('KV-03', kv, 'properties.publicNetworkAccess', 'Enabled'),
  m('KV-03', kv, 'properties.networkAcls.defaultAction', 'Allow'),
  m('ACR-01', cr, 'sku.name', 'Standard'),
  m('ACR-01', cr, 'properties.publicNetworkAccess', 'Enabled'),
  m('ACR-01', cr, 'properties.networkRuleSet.defaultAction', 'Allow'),
  m('ACR-02', cr, 'properties.adminUserEnabled', true),
  m('ACR-02', cr, 'properties.anonymousPullEnabled', true),
  m('ACR-03', cr, 'properties.policies.exportPolicy.status', 'enabled'),
  m('PG-01', pg, 'properties.network.publicNetworkAccess', 'Enabled'),
  m('PG-01', pg, 'properties.network.delegatedSubnetResourceId', '', { literal: false }),
  m('PG-01', pg, 'properties.network.privateDnsZoneArmResourceId', '', { literal: false }),
  m('PG-02', [pg[0], `${pg[1]}/configurations`], 'properties.value', 'off', {
    nameHint: 'require_secure_transport',
  }),
  m('PG-02', [pg[0], `${pg[1]}/configurations`], 'properties.value', 'TLSv1.1', {
    nameHint: 'ssl_min_protocol_version',
  }),
  m('PG-03', pg, 'properties.authConfig.activeDirectoryAuth', 'Disabled'),
  m('PG-03', pg, 'tags.vigil-rotation', 'manual'),
  m('PG-04', pg, 'properties.backup.backupRetentionDays', 3),
  m('PG-05', pg, 'properties.highAvailability.mode', 'Disabled', { profile: 'prod', literal: false }),
  m('ST-01', st, 'properties.allowBlobPublicAccess', true),
  m('ST-01', st, 'properties.allowSharedKeyAccess', true),
  m('ST-01', [st[0], `${blob[1]}/containers`], 'properties.publicAccess', 'Blob'),
  m('ST-02', st, 'properties.minimumTlsVersion', 'TLS1_0'),
  m('ST-02', st, 'properties.supportsHttpsTrafficOnly', false),
  m('ST-04', blob, 'properties.deleteRetentionPolicy.enabled', false),
  m('ST-04', blob, 'properties.deleteRetentionPolicy.days', 1),
  m('ST-04', blob, 'properties.containerDeleteRetentionPolicy.enabled', false),
  m('ST-04', blob, 'properties.containerDeleteRetentionPolicy.days', 2),
  m('ST-04', blob, 'properties.isVersioningEnabled', false),
  m('LOG-01', log, 'properties.features.disableLocalAuth', false),
  m('LOG-01', log, 'properties.retentionInDays', 7, { literal: false }),
  m('AKS-01', aks, 'properties.apiServerAccessProfile.enablePrivateCluster', false),
  m('AKS-01', aks, 'properties.disableLocalAccounts', false),
  m('AKS-01', aks, 'properties.aadProfile.managed', false),
  m('AKS-01', aks, 'properties.aadProfile.enableAzureRBAC', false),
  m('AKS-01', aks, 'properties.enableRBAC', false),
  m('AKS-01', aks, 'properties.networkProfile.networkPolicy', 'none'),
  m('AKS-01', aks, 'properties.securityProfile.workloadIdentity.enabled', false),
  m('AKS-01', aks, 'properties.oidcIssuerProfile.enabled', false),
  m('AKS-02', aks, 'properties.securityProfile.defender.securityMonitoring.enabled', false),
  m('AKS-02', aks, 'properties.securityProfile.defender.logAnalyticsWorkspaceResourceId', '', {
    literal: false,
  }),
  m('AKS-03', aks, 'properties.addonProfiles.azureKeyvaultSecretsProvider.enabled', false),
  m(
    'AKS-03',
    aks,
    'properties.addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation',
    'false',
  ),
];

export function mutate(mutation: PropertyMutation, value: unknown) {
  return (stages: Stages) => {
    setPath(stages.resource(mutation.stage, mutation.type, mutation.nameHint), mutation.path, value);
  };
}

export function asExpression(mutation: PropertyMutation) {
  return (stages: Stages) => {
    // An expression that evaluates to the secure value: only its being an expression is wrong.
    const resource = stages.resource(mutation.stage, mutation.type, mutation.nameHint);
    const template = stages.template(mutation.stage);
    (template.variables as Record<string, unknown>).secureValue = getPath(resource, mutation.path);
    setPath(resource, mutation.path, "[variables('secureValue')]");
  };
}
