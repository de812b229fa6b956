import { isRecord } from '../../template/functions.js';
import { readProperty } from '../../template/propertyPath.js';
import { sameResourceId } from '../../template/resourceIds.js';
import { ofType } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

const workspaces = 'Microsoft.OperationalInsights/workspaces';
const diagnosticSettings = 'Microsoft.Insights/diagnosticSettings';

/**
 * The resources whose logs must reach the workspace, and the log categories that carry what
 * incident detection reads. A `categoryGroup` of allLogs or audit covers them too.
 */
export const loggedResources: { type: string; categories: string[] }[] = [
  { type: 'Microsoft.KeyVault/vaults', categories: ['AuditEvent'] },
  {
    type: 'Microsoft.ContainerRegistry/registries',
    categories: ['ContainerRegistryLoginEvents', 'ContainerRegistryRepositoryEvents'],
  },
  { type: 'Microsoft.DBforPostgreSQL/flexibleServers', categories: ['PostgreSQLLogs'] },
  { type: 'Microsoft.Storage/storageAccounts', categories: ['StorageRead', 'StorageWrite', 'StorageDelete'] },
  { type: 'Microsoft.ContainerService/managedClusters', categories: ['kube-audit-admin', 'guard'] },
  { type: 'Microsoft.Network/networkSecurityGroups', categories: ['NetworkSecurityGroupEvent'] },
  { type: workspaces, categories: ['Audit'] },
];

export const monitoringRules: PolicyRule[] = [
  {
    id: 'LOG-01',
    title: 'Log Analytics accepts Entra ID only and keeps 30 days',
    controls: ['LT-6'],
    severity: 'high',
    message: 'Log Analytics must refuse shared-key ingestion and keep logs for at least 30 days',
    fix: 'Set properties.features.disableLocalAuth to true and properties.retentionInDays to 30 or more.',
    targets: [
      {
        type: workspaces,
        checks: [
          { path: 'properties.features.disableLocalAuth', expect: { equals: true } },
          { path: 'properties.retentionInDays', expect: { atLeast: 30 }, literal: false },
        ],
      },
    ],
  },
  {
    id: 'DIAG-01',
    title: 'Diagnostic settings send logs to the workspace',
    controls: ['LT-3', 'LT-4'],
    severity: 'high',
    message:
      "Every Key Vault, registry, PostgreSQL server, storage account, AKS cluster, NSG and workspace must send its logs to the environment's Log Analytics workspace",
    fix: 'Add a Microsoft.Insights/diagnosticSettings resource scoped to it (storage: to blobServices/default) with workspaceId set to the workspace and the listed log categories enabled.',
    literals: [
      { type: diagnosticSettings, path: 'properties.logs[*].enabled' },
      { type: diagnosticSettings, path: 'properties.logs[*].category' },
    ],
    check: logsReachWorkspace,
  },
];

function logsReachWorkspace(environment: PolicyEnvironment): Violation[] {
  const workspaceIds = ofType(environment, workspaces).map((workspace) => workspace.id);
  const settings = ofType(environment, diagnosticSettings);
  return loggedResources.flatMap(({ type, categories }) =>
    ofType(environment, type).flatMap((resource): Violation[] => {
      const scoped = settings.filter(
        (setting) =>
          sameResourceId(setting.scope, resource.id) ||
          (setting.scope ?? '').toLowerCase().startsWith(`${resource.id.toLowerCase()}/`),
      );
      const toWorkspace = scoped.filter((setting) =>
        workspaceIds.some((id) => sameResourceId(readProperty(setting.value, 'properties.workspaceId'), id)),
      );
      const enabled = new Set(toWorkspace.flatMap((setting) => enabledCategories(setting.value)));
      const missing =
        enabled.has('alllogs') || enabled.has('audit')
          ? []
          : categories.filter((c) => !enabled.has(c.toLowerCase()));
      if (scoped.length === 0)
        return [{ resource, path: 'id', detail: 'no diagnostic setting is scoped to it' }];
      if (toWorkspace.length === 0) {
        return [
          {
            resource,
            path: 'id',
            detail: "its diagnostic settings do not send to the environment's Log Analytics workspace",
          },
        ];
      }
      if (missing.length > 0)
        return [{ resource, path: 'id', detail: `log categories not enabled: ${missing.join(', ')}` }];
      return [];
    }),
  );
}

function enabledCategories(setting: Record<string, unknown>): string[] {
  const logs = readProperty(setting, 'properties.logs');
  return (Array.isArray(logs) ? logs : [])
    .filter((log) => isRecord(log) && log.enabled === true)
    .map((log) => {
      const group = readProperty(log, 'categoryGroup');
      return String(typeof group === 'string' ? group : readProperty(log, 'category')).toLowerCase();
    });
}
