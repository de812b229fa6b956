import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createStructureValidator,
  evaluateTemplate,
  type Finding,
  type PolicyRule,
  parameterValuesFromFile,
  policyRules,
} from '../../../src/core/provisioning/index.js';
import { type ResolvedResource, resolveTemplate } from '../../../src/core/provisioning/template/evaluate.js';
import { deterministicGuid } from '../../../src/core/provisioning/template/functions.js';
import { readProperty } from '../../../src/core/provisioning/template/propertyPath.js';
import { resourceTypeOfId } from '../../../src/core/provisioning/template/resourceIds.js';

const repo = join(import.meta.dirname, '../../..');
type Json = Record<string, unknown>;
const readJson = (path: string) => JSON.parse(readFileSync(join(repo, path), 'utf8')) as Json;

/** A fresh copy of the app template and the example parameters, so each test may change its own. */
const appTemplate = () => readJson('infra/app/vigil.json');
const exampleParameters = () => parameterValuesFromFile(readJson('infra/app/parameters/example.json'));
const scope = {
  subscriptionId: '11111111-1111-1111-1111-111111111111',
  tenantId: '22222222-2222-2222-2222-222222222222',
  resourceGroup: { name: 'rg-vigil', location: 'westeurope' },
};

/**
 * Types only the app template deploys. The gate's catalogue vets the environment's types (GEN-06
 * refuses the rest), so the app pins its own stable versions here, checked against
 * Azure/bicep-types-az like the catalogue's.
 */
const appApiVersions: Record<string, string> = {
  'Microsoft.Web/serverfarms': '2025-03-01',
  'Microsoft.Web/sites': '2025-03-01',
  'Microsoft.Web/sites/config': '2025-03-01',
  'Microsoft.Web/sites/basicPublishingCredentialsPolicies': '2025-03-01',
  'Microsoft.Insights/components': '2020-02-02',
  'Microsoft.Insights/dataCollectionEndpoints': '2024-03-11',
  'Microsoft.EventGrid/topics': '2025-02-15',
  'Microsoft.OperationalInsights/workspaces/tables': '2026-03-01',
  'Microsoft.Network/natGateways': '2025-09-01',
  'Microsoft.Network/publicIPAddresses': '2025-09-01',
};

/**
 * Roles the app's identity needs that RBAC-01's catalogue (built for the environment's workloads)
 * does not list, each with the only resource type it may be granted on.
 */
const appRoles = [
  {
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    name: 'Storage Blob Data Owner',
    scope: 'Microsoft.Storage/storageAccounts',
  },
  {
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    name: 'Storage Queue Data Contributor',
    scope: 'Microsoft.Storage/storageAccounts',
  },
  {
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    name: 'Storage Table Data Contributor',
    scope: 'Microsoft.Storage/storageAccounts',
  },
  {
    id: 'd5a91429-5739-47e2-a06b-3470a27159e7',
    name: 'EventGrid Data Sender',
    scope: 'Microsoft.EventGrid/topics',
  },
  {
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    name: 'Monitoring Metrics Publisher',
    scope: 'Microsoft.Insights/dataCollectionRules',
  },
  {
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    name: 'Monitoring Metrics Publisher',
    scope: 'Microsoft.Insights/components',
  },
  {
    id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    name: 'Key Vault Secrets Officer',
    scope: 'Microsoft.KeyVault/vaults',
  },
];

const roleIdOf = (resource: ResolvedResource) =>
  String(readProperty(resource.value, 'properties.roleDefinitionId')).split('/').at(-1)?.toLowerCase();

/** The app's own rules, run by the same gate: properties the environment catalogue has no rule for. */
const appRules: PolicyRule[] = [
  {
    id: 'APP-01',
    title: 'Function app is HTTPS only with its own identity and no publishing credentials',
    controls: ['DP-3', 'IM-1'],
    severity: 'critical',
    message:
      'The function app must accept only HTTPS with TLS 1.2+, use its managed identity and refuse basic publishing credentials',
    fix: 'Set httpsOnly, minTlsVersion 1.2, ftpsState Disabled, identity SystemAssigned and basicPublishingCredentialsPolicies allow false.',
    targets: [
      {
        type: 'Microsoft.Web/sites',
        checks: [
          { path: 'kind', expect: { equals: 'functionapp,linux' } },
          { path: 'identity.type', expect: { equals: 'SystemAssigned' } },
          { path: 'properties.httpsOnly', expect: { equals: true } },
          { path: 'properties.clientCertEnabled', expect: { equals: false } },
          { path: 'properties.siteConfig.minTlsVersion', expect: { oneOf: ['1.2', '1.3'] } },
          { path: 'properties.siteConfig.scmMinTlsVersion', expect: { oneOf: ['1.2', '1.3'] } },
          { path: 'properties.siteConfig.ftpsState', expect: { equals: 'Disabled' } },
          { path: 'properties.siteConfig.remoteDebuggingEnabled', expect: { equals: false } },
          { path: 'properties.functionAppConfig.runtime.name', expect: { equals: 'node' } },
          { path: 'properties.functionAppConfig.runtime.version', expect: { equals: '22' } },
          {
            path: 'properties.functionAppConfig.deployment.storage.authentication.type',
            expect: { equals: 'SystemAssignedIdentity' },
          },
        ],
      },
      {
        type: 'Microsoft.Web/sites/basicPublishingCredentialsPolicies',
        checks: [{ path: 'properties.allow', expect: { equals: false } }],
      },
      {
        type: 'Microsoft.Web/serverfarms',
        checks: [{ path: 'sku.tier', expect: { equals: 'FlexConsumption' } }],
      },
    ],
  },
  {
    id: 'APP-02',
    title: 'App Service Authentication validates Entra ID tokens',
    controls: ['IM-1'],
    severity: 'high',
    message: 'Easy Auth must be on with the Entra ID provider, over HTTPS, without a token store',
    fix: 'Declare config/authsettingsV2 with platform.enabled, azureActiveDirectory.enabled, httpSettings.requireHttps and tokenStore off.',
    targets: [
      {
        type: 'Microsoft.Web/sites/config',
        names: ['authsettingsV2'],
        checks: [
          { path: 'properties.platform.enabled', expect: { equals: true } },
          { path: 'properties.identityProviders.azureActiveDirectory.enabled', expect: { equals: true } },
          {
            path: 'properties.identityProviders.azureActiveDirectory.registration.clientId',
            expect: { present: true },
          },
          { path: 'properties.httpSettings.requireHttps', expect: { equals: true } },
          { path: 'properties.login.tokenStore.enabled', expect: { equals: false } },
          {
            path: 'properties.globalValidation.unauthenticatedClientAction',
            expect: { equals: 'AllowAnonymous' },
          },
        ],
      },
    ],
  },
  {
    id: 'APP-03',
    title: 'Monitoring and eventing accept Entra ID only',
    controls: ['IM-1', 'DP-3'],
    severity: 'high',
    message: 'Application Insights and the Event Grid topic must refuse keys; the topic requires TLS 1.2',
    fix: 'Set DisableLocalAuth / disableLocalAuth true and minimumTlsVersionAllowed 1.2.',
    targets: [
      {
        type: 'Microsoft.Insights/components',
        checks: [{ path: 'properties.DisableLocalAuth', expect: { equals: true } }],
      },
      {
        type: 'Microsoft.EventGrid/topics',
        checks: [
          { path: 'properties.disableLocalAuth', expect: { equals: true } },
          { path: 'properties.minimumTlsVersionAllowed', expect: { equals: '1.2' } },
        ],
      },
    ],
  },
  {
    id: 'APP-04',
    title: "App-only types use the app's pinned API versions",
    controls: ['PV-1'],
    severity: 'medium',
    message:
      'Resource types outside the vetted catalogue must use the API version pinned for the app template',
    fix: 'Use the version in appApiVersions, or re-check the properties and pin the new one.',
    check: (environment) =>
      environment.resources
        .filter(
          (resource) =>
            resource.type in appApiVersions && appApiVersions[resource.type] !== resource.apiVersion,
        )
        .map((resource) => ({ resource, path: 'apiVersion', detail: `apiVersion ${resource.apiVersion}` })),
  },
  {
    id: 'APP-05',
    title: "The app's roles are granted on the single resource they serve",
    controls: ['PA-7'],
    severity: 'critical',
    message:
      'Every role the app gets outside the catalogue must be one of its known roles, on its one resource type',
    fix: 'Grant only the roles in appRoles, scoped to the resource (never the resource group).',
    check: (environment) =>
      environment.resources
        .filter((resource) => resource.type === 'Microsoft.Authorization/roleAssignments')
        .filter((assignment) => {
          const roleId = roleIdOf(assignment);
          const scopeType = assignment.scope ? resourceTypeOfId(assignment.scope) : undefined;
          return !appRoles.some((role) => role.id === roleId && role.scope === scopeType);
        })
        .map((assignment) => ({
          resource: assignment,
          path: 'scope',
          detail: `role ${roleIdOf(assignment)} on ${assignment.scope}`,
        })),
  },
];

const gate = (template: Json, parameters: Json = {}) =>
  evaluateTemplate(
    template,
    { ...exampleParameters(), ...parameters },
    {
      profile: 'prod',
      stage: 'app',
      scope,
      rules: [...policyRules, ...appRules],
    },
  );

/**
 * Findings the app template is allowed to have, each naming the rule it is an exception to:
 * GEN-06 for the app-only types (APP-04 vets them instead), RBAC-01 for the app's own roles
 * (APP-05 confines them).
 */
function isDocumentedException(finding: Finding): boolean {
  const unvetted = /^type (\S+) is not in the vetted catalogue$/.exec(finding.detail);
  if (finding.ruleId === 'GEN-06') return unvetted?.[1] !== undefined && unvetted[1] in appApiVersions;
  const role = /^role (\S+) is not in the least-privilege catalogue$/.exec(finding.detail);
  if (finding.ruleId === 'RBAC-01') return appRoles.some((entry) => entry.id === role?.[1]);
  return false;
}

const unexpected = (findings: Finding[]) =>
  findings
    .filter((finding) => !isDocumentedException(finding))
    .map((f) => `${f.ruleId} ${f.resource} ${f.path}: ${f.detail}`);

function resources(template: Json, parameters: Json = {}): ResolvedResource[] {
  const resolved = resolveTemplate(template, { ...exampleParameters(), ...parameters }, scope, 'app');
  expect(resolved.problems).toEqual([]);
  return resolved.resources;
}

const ofType = (all: ResolvedResource[], type: string) => all.filter((resource) => resource.type === type);

function only(all: ResolvedResource[], type: string, name?: string): ResolvedResource {
  const found = ofType(all, type).filter((resource) => !name || resource.name.endsWith(`/${name}`));
  expect(found, `${type} ${name ?? ''}`).toHaveLength(1);
  return found[0] as ResolvedResource;
}

function appSettings(all: ResolvedResource[]): Json {
  return readProperty(only(all, 'Microsoft.Web/sites/config', 'appsettings').value, 'properties') as Json;
}

function topLevelResources(template: Json): Json[] {
  return template.resources as Json[];
}

describe('infra/app/vigil.json structure', () => {
  const schema = (name: string) => readJson(`infra/schema/${name}`);

  it('matches the deployment template schema, nested templates included', () => {
    const validate = createStructureValidator(schema('deployment-template.schema.json'), {
      nestedTemplates: true,
    });
    expect(validate(appTemplate())).toEqual([]);
  });

  it('ships an example parameter file that matches the parameter schema and the declared parameters', () => {
    const validate = createStructureValidator(schema('deployment-parameters.schema.json'));
    const file = readJson('infra/app/parameters/example.json');
    expect(validate(file)).toEqual([]);
    const declared = Object.keys(appTemplate().parameters as Json);
    expect(declared).toEqual(expect.arrayContaining(Object.keys(file.parameters as Json)));
  });

  it('names a broken template by JSON path', () => {
    const template = appTemplate();
    delete (topLevelResources(template)[0] as Json).apiVersion;
    const validate = createStructureValidator(schema('deployment-template.schema.json'), {
      nestedTemplates: true,
    });
    expect(validate(template)).toEqual(['resources[0].apiVersion is required']);
  });
});

describe('policy gate over the app template', () => {
  it('passes with private networking (the default) apart from the documented app exceptions', () => {
    const findings = gate(appTemplate());
    expect(unexpected(findings)).toEqual([]);
    expect(findings.filter((finding) => finding.ruleId === 'RBAC-01')).toHaveLength(7);
    expect(
      new Set(findings.filter((f) => f.ruleId === 'GEN-06').map((f) => f.resource.split(' ')[0])),
    ).toEqual(new Set(Object.keys(appApiVersions)));
  });

  it('gives public networking exactly two more findings, ST-03 and PE-01 on the storage account', () => {
    // privateNetworking false is the explicit loosening for throwaway deployments: storage is then
    // reachable from public networks (still Entra ID only) and has no private endpoint.
    const findings = unexpected(gate(appTemplate(), { privateNetworking: false }));
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatch(
      /^PE-01 Microsoft\.Storage\/storageAccounts 'stvigil\w+' .*no private endpoint/,
    );
    expect(findings[1]).toMatch(/^ST-03 Microsoft\.Storage\/storageAccounts 'stvigil\w+' .*"Enabled"/);
  });

  it('evaluates every expression (no GEN-05) without a rotation vault and in public mode', () => {
    const findings = gate(appTemplate(), { privateNetworking: false, rotationVaultName: '' });
    expect(findings.filter((finding) => finding.ruleId === 'GEN-05')).toEqual([]);
    expect(findings.filter((finding) => finding.ruleId === 'RBAC-01')).toHaveLength(6);
  });

  type Mutation = { rule: string; change: (template: Json) => void };
  const site = (template: Json) =>
    topLevelResources(template).find((r) => r.type === 'Microsoft.Web/sites') as Json;
  const storageIn = (template: Json, variant: string) => {
    const deployment = topLevelResources(template).find((r) =>
      String(r.name).includes(`storage-${variant}`),
    ) as Json;
    return ((deployment.properties as Json).template as { resources: Json[] }).resources[0] as Json;
  };
  const typed = (template: Json, type: string) =>
    topLevelResources(template).find((r) => r.type === type) as Json;
  const mutations: [string, Mutation][] = [
    [
      'storage allows shared keys',
      {
        rule: 'ST-01',
        change: (t) => setIn(storageIn(t, 'private'), 'properties.allowSharedKeyAccess', true),
      },
    ],
    [
      'storage allows anonymous blobs',
      {
        rule: 'ST-01',
        change: (t) => setIn(storageIn(t, 'private'), 'properties.allowBlobPublicAccess', true),
      },
    ],
    [
      'storage takes TLS 1.0',
      {
        rule: 'ST-02',
        change: (t) => setIn(storageIn(t, 'private'), 'properties.minimumTlsVersion', 'TLS1_0'),
      },
    ],
    [
      'private storage opens to public networks',
      {
        rule: 'ST-03',
        change: (t) =>
          setIn(storageIn(t, 'private'), 'properties.publicNetworkAccess', 'Enabled') &&
          setIn(storageIn(t, 'private'), 'properties.networkAcls.defaultAction', 'Allow'),
      },
    ],
    [
      'blob soft delete off',
      {
        rule: 'ST-04',
        change: (t) =>
          setIn(
            typed(t, 'Microsoft.Storage/storageAccounts/blobServices'),
            'properties.deleteRetentionPolicy.enabled',
            false,
          ),
      },
    ],
    [
      'workspace accepts shared keys',
      {
        rule: 'LOG-01',
        change: (t) =>
          setIn(
            typed(t, 'Microsoft.OperationalInsights/workspaces'),
            'properties.features.disableLocalAuth',
            false,
          ),
      },
    ],
    [
      'storage logs not sent',
      { rule: 'DIAG-01', change: (t) => removeAll(t, (r) => String(r.scope).includes('Microsoft.Storage/')) },
    ],
    [
      'security property as an expression',
      {
        rule: 'GEN-01',
        change: (t) => setIn(storageIn(t, 'private'), 'properties.allowSharedKeyAccess', '[equals(1, 2)]'),
      },
    ],
    [
      'secure parameter with a default',
      {
        rule: 'GEN-02',
        change: (t) =>
          setIn(t, 'parameters.adminPassword', { type: 'securestring', defaultValue: 'not-a-secret' }),
      },
    ],
    [
      'preview API version',
      {
        rule: 'GEN-03',
        change: (t) => setIn(typed(t, 'Microsoft.EventGrid/topics'), 'apiVersion', '2025-04-01-preview'),
      },
    ],
    [
      'key in an output',
      {
        rule: 'GEN-04',
        change: (t) =>
          setIn(t, 'outputs.topicKey', {
            type: 'string',
            value: "[listKeys(variables('topicId'), '2025-02-15').key1]",
          }),
      },
    ],
    [
      'untagged resource',
      { rule: 'TAG-01', change: (t) => setIn(typed(t, 'Microsoft.EventGrid/topics'), 'tags', {}) },
    ],
    ['HTTP allowed', { rule: 'APP-01', change: (t) => setIn(site(t), 'properties.httpsOnly', false) }],
    [
      'FTP publishing allowed',
      {
        rule: 'APP-01',
        change: (t) =>
          setIn(typed(t, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies'), 'properties.allow', true),
      },
    ],
    [
      'TLS 1.0 on the app',
      { rule: 'APP-01', change: (t) => setIn(site(t), 'properties.siteConfig.minTlsVersion', '1.0') },
    ],
    [
      'Easy Auth off',
      {
        rule: 'APP-02',
        change: (t) => setIn(typed(t, 'Microsoft.Web/sites/config'), 'properties.platform.enabled', false),
      },
    ],
    [
      'topic accepts keys',
      {
        rule: 'APP-03',
        change: (t) => setIn(typed(t, 'Microsoft.EventGrid/topics'), 'properties.disableLocalAuth', false),
      },
    ],
    [
      'Application Insights accepts keys',
      {
        rule: 'APP-03',
        change: (t) => setIn(typed(t, 'Microsoft.Insights/components'), 'properties.DisableLocalAuth', false),
      },
    ],
    [
      'app-only type on another version',
      { rule: 'APP-04', change: (t) => setIn(site(t), 'apiVersion', '2024-11-01') },
    ],
    [
      'role on the resource group',
      {
        rule: 'APP-05',
        change: (t) =>
          removeWhere(
            t,
            (r) => r.type === 'Microsoft.Authorization/roleAssignments',
            (r) => delete r.scope,
          ),
      },
    ],
  ];

  it.each(mutations)('catches %s (%s)', (_name, { rule, change }) => {
    const template = appTemplate();
    change(template);
    const findings = gate(template);
    expect(findings.map((finding) => finding.ruleId)).toContain(rule);
  });
});

describe('what the app template deploys', () => {
  it('derives every name from the resource token, the same on every run and different per environment', () => {
    const names = (parameters: Json) => resources(appTemplate(), parameters).map((r) => r.name);
    expect(names({})).toEqual(names({}));
    const site = only(resources(appTemplate()), 'Microsoft.Web/sites');
    expect(site.name).toMatch(/^func-vigil-[a-z0-9]{13}$/);
    expect(names({ environmentName: 'vigil-other' })).not.toContain(site.name);
  });

  it('names every role assignment guid(scope, app, role) and grants it to the app identity', () => {
    const all = resources(appTemplate());
    const site = only(all, 'Microsoft.Web/sites');
    const assignments = ofType(all, 'Microsoft.Authorization/roleAssignments');
    expect(assignments).toHaveLength(7);
    for (const assignment of assignments) {
      const role = String(readProperty(assignment.value, 'properties.roleDefinitionId'));
      const scopeId = String(assignment.scope);
      expect(assignment.name).toBe(deterministicGuid([scopeId, site.id, role]));
      expect(String(readProperty(assignment.value, 'properties.principalId'))).toContain(
        'identity.principalId',
      );
      expect(readProperty(assignment.value, 'properties.principalType')).toBe('ServicePrincipal');
    }
    const vaultGrant = assignments.find((a) => roleIdOf(a) === 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7');
    expect(vaultGrant?.scope).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\/kv-shop-secrets$/);
  });

  it('grants no Key Vault access when no rotation vault is given', () => {
    const assignments = ofType(
      resources(appTemplate(), { rotationVaultName: '' }),
      'Microsoft.Authorization/roleAssignments',
    );
    expect(assignments.map(roleIdOf)).not.toContain('b86a8fe4-44ce-4948-aee5-eccb2c155cd7');
  });

  it('sets every setting of the configuration reference and config.ts, identity-based', () => {
    const settings = appSettings(resources(appTemplate()));
    for (const name of documentedSettings()) {
      if (name === 'FUNCTIONS_WORKER_RUNTIME' || name === 'AzureWebJobsStorage') continue;
      expect(Object.keys(settings), name).toContain(name);
    }
    expect(settings.AzureWebJobsStorage__accountName).toMatch(/^stvigil[a-z0-9]{13}$/);
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings).not.toHaveProperty('AzureWebJobsStorage');
    expect(settings).not.toHaveProperty('FUNCTIONS_WORKER_RUNTIME');
    expect(settings.VIGIL_EVENTGRID_TOPIC_KEY).toBe('');
    expect(settings.VIGIL_AUDIT_STREAM).toBe('Custom-VigilAudit_CL');
    expect(settings.VIGIL_KEYVAULT_URL_TEMPLATE).toBe('https://{vault}.vault.azure.net');
    expect(settings.VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION).toBe('false');
    expect(settings.VIGIL_ROTATION_VAULTS).toBe('kv-shop-secrets');
    expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe('Authorization=AAD');
    const values = JSON.stringify(settings);
    expect(values).not.toMatch(/AccountKey=|SharedAccessKey|listKeys/i);
  });

  it('collects audit records through a rule whose stream matches the record contract and the table', () => {
    const all = resources(appTemplate());
    const rule = only(all, 'Microsoft.Insights/dataCollectionRules');
    const stream = readProperty(
      rule.value,
      'properties.streamDeclarations.Custom-VigilAudit_CL.columns',
    ) as Json[];
    const streamColumns = stream.map((column) => column.name);
    expect(streamColumns).toEqual(
      expect.arrayContaining([
        'TimeGenerated',
        'id',
        'timestamp',
        'actor',
        'action',
        'resource_type',
        'resource_id',
        'ip_address',
        'user_agent',
        'request_id',
        'status',
        'metadata',
      ]),
    );
    const table = only(all, 'Microsoft.OperationalInsights/workspaces/tables');
    expect(table.name).toMatch(/\/VigilAudit_CL$/);
    const tableColumns = (readProperty(table.value, 'properties.schema.columns') as Json[]).map(
      (column) => column.name,
    );
    const renamed = streamColumns.map((name) => (name === 'id' ? 'RecordId' : name));
    expect(tableColumns).toEqual(renamed);
    const [flow] = readProperty(rule.value, 'properties.dataFlows') as Json[];
    expect(flow?.transformKql).toBe('source | project-rename RecordId = id');
    expect(flow?.outputStream).toBe('Custom-VigilAudit_CL');
    expect(flow?.streams).toEqual(['Custom-VigilAudit_CL']);
  });

  it('outputs names, endpoints and ids, never a key', () => {
    const outputs = appTemplate().outputs as Record<string, { type: string; value: string }>;
    expect(Object.keys(outputs).sort()).toEqual([
      'auditEndpoint',
      'dataCollectionRuleId',
      'dataCollectionRuleImmutableId',
      'eventGridTopicEndpoint',
      'functionAppHostName',
      'functionAppName',
      'functionAppPrincipalId',
      'storageAccountName',
    ]);
    for (const output of Object.values(outputs)) {
      expect(output.type).toBe('string');
      expect(output.value).not.toMatch(/list\w*\(|key|connectionstring/i);
    }
  });
});

/** Setting names from the README's configuration reference and from what src/ reads. */
function documentedSettings(): string[] {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.split('## Configuration reference')[1]?.split('\n## ')[0] ?? '';
  const fromReadme = [...section.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map((match) => match[1] ?? '');
  const config = readFileSync(join(repo, 'src/config.ts'), 'utf8');
  const fromConfig = [...config.matchAll(/^\s+(VIGIL_[A-Z_]+): /gm)].map((match) => match[1] ?? '');
  const functions = ['src/functions/keyVaultEvents.ts', 'host.json'].map((file) =>
    readFileSync(join(repo, file), 'utf8'),
  );
  const bound = functions.flatMap((text) =>
    [...text.matchAll(/%([A-Z_]+)%/g)].map((match) => match[1] ?? ''),
  );
  expect(fromReadme.length).toBeGreaterThan(5);
  expect(fromConfig.length).toBeGreaterThan(5);
  return [...new Set([...fromReadme, ...fromConfig, ...bound])];
}

function setIn(target: Json, path: string, value: unknown): true {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let node = target;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  node[last] = value;
  return true;
}

/** Removes every top-level resource matching `predicate` (at least one). */
function removeAll(template: Json, predicate: (resource: Json) => boolean): void {
  const list = topLevelResources(template);
  const kept = list.filter((resource) => !predicate(resource));
  expect(kept.length).toBeLessThan(list.length);
  template.resources = kept;
}

/** Removes (or, with `edit`, changes) the first top-level resource matching `predicate`. */
function removeWhere(
  template: Json,
  predicate: (resource: Json) => boolean,
  edit?: (resource: Json) => void,
): void {
  const list = topLevelResources(template);
  const index = list.findIndex(predicate);
  expect(index).toBeGreaterThanOrEqual(0);
  const found = list[index] as Json;
  if (edit) edit(found);
  else list.splice(index, 1);
}
