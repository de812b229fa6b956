import { describe, expect, it } from 'vitest';
import { type Finding, type Profile, policyRules } from '../../../../src/core/provisioning/index.js';
import { gateAfter, getPath, type Stages, setPath } from './shippedEnvironment.js';

const kv = ['keyvault', 'Microsoft.KeyVault/vaults'] as const;
const cr = ['registry', 'Microsoft.ContainerRegistry/registries'] as const;
const pg = ['database', 'Microsoft.DBforPostgreSQL/flexibleServers'] as const;
const st = ['storage', 'Microsoft.Storage/storageAccounts'] as const;
const blob = ['storage', 'Microsoft.Storage/storageAccounts/blobServices'] as const;
const log = ['monitoring', 'Microsoft.OperationalInsights/workspaces'] as const;
const aks = ['cluster', 'Microsoft.ContainerService/managedClusters'] as const;

interface PropertyMutation {
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
const propertyMutations: PropertyMutation[] = [
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

function mutate(mutation: PropertyMutation, value: unknown) {
  return (stages: Stages) => {
    setPath(stages.resource(mutation.stage, mutation.type, mutation.nameHint), mutation.path, value);
  };
}

function asExpression(mutation: PropertyMutation) {
  return (stages: Stages) => {
    // An expression that evaluates to the secure value: only its being an expression is wrong.
    const resource = stages.resource(mutation.stage, mutation.type, mutation.nameHint);
    const template = stages.template(mutation.stage);
    (template.variables as Record<string, unknown>).secureValue = getPath(resource, mutation.path);
    setPath(resource, mutation.path, "[variables('secureValue')]");
  };
}

const rule = (id: string) => policyRules.find((candidate) => candidate.id === id);
const withId = (findings: Finding[], id: string) => findings.filter((finding) => finding.ruleId === id);

describe('policy gate over the shipped environment', () => {
  it.each(['dev', 'prod'] as const)('passes the shipped templates with zero findings in %s', (profile) => {
    expect(gateAfter(() => undefined, profile)).toEqual([]);
  });

  it('catalogues at least the nineteen baseline rules, each with control, severity, message and fix', () => {
    expect(policyRules.length).toBeGreaterThanOrEqual(19);
    for (const entry of policyRules) {
      expect(entry.id).toMatch(/^[A-Z]+-\d{2}$/);
      expect(entry.message.length).toBeGreaterThan(10);
      expect(entry.fix.length).toBeGreaterThan(10);
    }
    expect(new Set(policyRules.map((entry) => entry.id)).size).toBe(policyRules.length);
  });
});

describe('changing one security property of a shipped template', () => {
  it.each(propertyMutations)('$ruleId catches $path = $insecure ($type $nameHint)', (mutation) => {
    const findings = gateAfter(mutate(mutation, mutation.insecure), mutation.profile);
    const hits = withId(findings, mutation.ruleId);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]?.message).toBe(rule(mutation.ruleId)?.message);
    expect(hits.some((hit) => hit.path.includes(mutation.path) || hit.detail.includes(mutation.path))).toBe(
      true,
    );
  });

  it.each(propertyMutations.filter((mutation) => mutation.literal !== false))(
    'GEN-01 catches $path written as an expression ($ruleId)',
    (mutation) => {
      const findings = gateAfter(asExpression(mutation), mutation.profile);
      const literal = withId(findings, 'GEN-01');
      expect(literal).toHaveLength(1);
      expect(literal[0]?.path).toMatch(new RegExp(`${mutation.path.replace(/[.[\]]/g, '\\$&')}$`));
      expect(literal[0]?.detail).toContain(`${mutation.ruleId} needs a literal here`);
      expect(withId(findings, mutation.ruleId)).toEqual([]);
    },
  );
});
