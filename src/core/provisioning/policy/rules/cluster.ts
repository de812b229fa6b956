import type { PolicyRule } from '../types.js';

const clusters = 'Microsoft.ContainerService/managedClusters';

export const clusterRules: PolicyRule[] = [
  {
    id: 'AKS-01',
    title: 'AKS is private with Entra ID, Azure RBAC and workload identity',
    controls: ['PA-7', 'NS-2', 'IM-1'],
    severity: 'critical',
    message:
      'AKS must be a private cluster using Entra ID with Azure RBAC, no local accounts, a network policy, workload identity and the OIDC issuer',
    fix: "Set apiServerAccessProfile.enablePrivateCluster, disableLocalAccounts, aadProfile.managed, aadProfile.enableAzureRBAC, enableRBAC, securityProfile.workloadIdentity.enabled and oidcIssuerProfile.enabled to true, and networkProfile.networkPolicy to 'cilium', 'azure' or 'calico'.",
    targets: [
      {
        type: clusters,
        checks: [
          { path: 'properties.apiServerAccessProfile.enablePrivateCluster', expect: { equals: true } },
          { path: 'properties.disableLocalAccounts', expect: { equals: true } },
          { path: 'properties.aadProfile.managed', expect: { equals: true } },
          { path: 'properties.aadProfile.enableAzureRBAC', expect: { equals: true } },
          { path: 'properties.enableRBAC', expect: { equals: true } },
          {
            path: 'properties.networkProfile.networkPolicy',
            expect: { oneOf: ['cilium', 'azure', 'calico'] },
          },
          { path: 'properties.securityProfile.workloadIdentity.enabled', expect: { equals: true } },
          { path: 'properties.oidcIssuerProfile.enabled', expect: { equals: true } },
        ],
      },
    ],
  },
  {
    id: 'AKS-02',
    title: 'AKS runs the Defender profile',
    controls: ['LT-1', 'PV-5'],
    severity: 'high',
    message:
      'AKS must run the Defender sensor reporting to the workspace (runtime threat detection and image findings)',
    fix: 'Set securityProfile.defender.securityMonitoring.enabled to true and securityProfile.defender.logAnalyticsWorkspaceResourceId to the workspace.',
    targets: [
      {
        type: clusters,
        checks: [
          {
            path: 'properties.securityProfile.defender.securityMonitoring.enabled',
            expect: { equals: true },
          },
          {
            path: 'properties.securityProfile.defender.logAnalyticsWorkspaceResourceId',
            expect: { present: true },
            literal: false,
          },
        ],
      },
    ],
  },
  {
    id: 'AKS-03',
    title: 'AKS mounts Key Vault secrets with rotation',
    controls: ['IM-8'],
    severity: 'medium',
    message:
      'AKS must run the Key Vault secrets provider with secret rotation, so pods never hold secrets from code',
    fix: "Enable addonProfiles.azureKeyvaultSecretsProvider with config.enableSecretRotation 'true'.",
    targets: [
      {
        type: clusters,
        checks: [
          { path: 'properties.addonProfiles.azureKeyvaultSecretsProvider.enabled', expect: { equals: true } },
          {
            path: 'properties.addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation',
            expect: { equals: 'true' },
          },
        ],
      },
    ],
  },
];
