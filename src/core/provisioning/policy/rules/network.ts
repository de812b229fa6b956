import { DeployTimeValue } from '../../template/deployTimeValue.js';
import type { ResolvedResource } from '../../template/evaluate.js';
import { isRecord } from '../../template/functions.js';
import { readProperty } from '../../template/propertyPath.js';
import { sameResourceId } from '../../template/resourceIds.js';
import { byId, childrenOf, isLinked, ofType, subnets, virtualNetworkOf } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

const securityGroups = 'Microsoft.Network/networkSecurityGroups';
const privateEndpoints = 'Microsoft.Network/privateEndpoints';
const ruleFields = [
  'direction',
  'access',
  'sourceAddressPrefix',
  'sourceAddressPrefixes',
  'destinationPortRange',
  'destinationPortRanges',
];

/** Ports that must never be open to the internet; `*` stands for any port. */
const forbiddenPorts = [22, 3389, 5432];
const internetSources = new Set(['*', 'internet', 'any', '0.0.0.0/0', '::/0']);
/** Azure-managed subnets that refuse an NSG. */
const platformSubnets = new Set([
  'gatewaysubnet',
  'azurebastionsubnet',
  'azurefirewallsubnet',
  'azurefirewallmanagementsubnet',
  'routeserversubnet',
]);

/** Where each private-link service needs its endpoint, group id and DNS zone. */
export const privateLinkTargets = [
  { type: 'Microsoft.KeyVault/vaults', groupId: 'vault', zone: 'privatelink.vaultcore.azure.net' },
  { type: 'Microsoft.ContainerRegistry/registries', groupId: 'registry', zone: 'privatelink.azurecr.io' },
  { type: 'Microsoft.Storage/storageAccounts', groupId: 'blob', zone: 'privatelink.blob.core.windows.net' },
] as const;

export const networkRules: PolicyRule[] = [
  {
    id: 'NSG-01',
    title: 'No management or database ports open to the internet',
    controls: ['NS-1'],
    severity: 'critical',
    message: 'No NSG rule may allow inbound traffic from the internet to any port, 22, 3389 or 5432',
    fix: 'Narrow the source to a VNet prefix or service tag, or the port to 443 for the ingress; reach hosts through private networking.',
    literals: [
      ...ruleFields.map((field) => ({
        type: securityGroups,
        path: `properties.securityRules[*].properties.${field}`,
      })),
      ...ruleFields.map((field) => ({
        type: `${securityGroups}/securityRules`,
        path: `properties.${field}`,
      })),
    ],
    check: internetInbound,
  },
  {
    id: 'NET-01',
    title: 'Every subnet has an NSG and no default outbound access',
    controls: ['NS-1'],
    severity: 'high',
    message: 'Every subnet must have a network security group and default outbound access turned off',
    fix: 'Set properties.networkSecurityGroup.id to an NSG declared in the environment and properties.defaultOutboundAccess to false.',
    literals: [
      {
        type: 'Microsoft.Network/virtualNetworks',
        path: 'properties.subnets[*].properties.defaultOutboundAccess',
      },
      { type: 'Microsoft.Network/virtualNetworks/subnets', path: 'properties.defaultOutboundAccess' },
    ],
    check: guardedSubnets,
  },
  {
    id: 'PE-01',
    title: 'Private endpoint with linked private DNS',
    controls: ['NS-2'],
    severity: 'high',
    message:
      'Every Key Vault, registry and storage account needs a private endpoint whose DNS zone group uses the matching privatelink zone, linked to the VNet',
    fix: 'Add a private endpoint (group vault, registry or blob) with a privateDnsZoneGroups child pointing to the privatelink.* zone, and a virtualNetworkLinks child on that zone with registrationEnabled false.',
    literals: [
      { type: privateEndpoints, path: 'properties.privateLinkServiceConnections[*].properties.groupIds' },
      {
        type: 'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
        path: 'properties.registrationEnabled',
      },
    ],
    check: privateEndpointsWired,
  },
];

interface SecurityRule {
  owner: ResolvedResource;
  path: string;
  name: string;
  properties: Record<string, unknown>;
}

function securityRulesOf(environment: PolicyEnvironment): SecurityRule[] {
  const inline = ofType(environment, securityGroups).flatMap((group) => {
    const rules = readProperty(group.value, 'properties.securityRules');
    return (Array.isArray(rules) ? rules : []).filter(isRecord).map((rule, index) => ({
      owner: group,
      path: `properties.securityRules[${index}]`,
      name: String(rule.name),
      properties: isRecord(rule.properties) ? rule.properties : {},
    }));
  });
  const children = ofType(environment, `${securityGroups}/securityRules`).map((rule) => ({
    owner: rule,
    path: 'properties',
    name: rule.name,
    properties: isRecord(rule.value.properties) ? rule.value.properties : {},
  }));
  return [...inline, ...children];
}

function internetInbound(environment: PolicyEnvironment): Violation[] {
  return securityRulesOf(environment).flatMap((rule): Violation[] => {
    const field = (name: string) => readProperty(rule.properties, name);
    const values = ruleFields.flatMap(field);
    if (values.some((value) => value instanceof DeployTimeValue)) {
      return [
        {
          resource: rule.owner,
          path: rule.path,
          detail: `rule '${rule.name}' is only known at deployment, so it cannot be verified`,
        },
      ];
    }
    if (
      String(field('direction')).toLowerCase() !== 'inbound' ||
      String(field('access')).toLowerCase() !== 'allow'
    )
      return [];
    const sources = [field('sourceAddressPrefix'), ...asList(field('sourceAddressPrefixes'))];
    const fromInternet = sources.some((source) => internetSources.has(String(source).toLowerCase()));
    const ports = [field('destinationPortRange'), ...asList(field('destinationPortRanges'))].filter(
      (port) => port !== undefined,
    );
    const exposed = ports.filter((port) => coversForbiddenPort(String(port)));
    if (!fromInternet || exposed.length === 0) return [];
    return [
      {
        resource: rule.owner,
        path: rule.path,
        detail: `rule '${rule.name}' allows inbound from ${sources.filter(Boolean).join(', ')} to port ${exposed.join(', ')}`,
      },
    ];
  });
}

function coversForbiddenPort(range: string): boolean {
  if (range.trim() === '*') return true;
  const [low, high] = range.split('-').map((part) => Number(part.trim()));
  if (low === undefined || Number.isNaN(low)) return true; // unreadable: treat as open, fail closed
  return forbiddenPorts.some((port) => port >= low && port <= (high ?? low));
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function guardedSubnets(environment: PolicyEnvironment): Violation[] {
  return subnets(environment)
    .filter((subnet) => !platformSubnets.has(subnet.name.toLowerCase()))
    .flatMap((subnet): Violation[] => {
      const violations: Violation[] = [];
      const nsgId = readProperty(subnet.properties, 'networkSecurityGroup.id');
      const nsg = byId(environment, nsgId);
      if (!nsg || nsg.type.toLowerCase() !== securityGroups.toLowerCase()) {
        violations.push({
          resource: subnet.declaredBy,
          path: `${subnet.path}.properties.networkSecurityGroup.id`,
          detail:
            nsgId === undefined
              ? `subnet '${subnet.name}' has no network security group`
              : `subnet '${subnet.name}' names an NSG this environment does not declare, so its rules cannot be checked`,
        });
      }
      if (readProperty(subnet.properties, 'defaultOutboundAccess') !== false) {
        violations.push({
          resource: subnet.declaredBy,
          path: `${subnet.path}.properties.defaultOutboundAccess`,
          detail: `subnet '${subnet.name}' does not set defaultOutboundAccess to false`,
        });
      }
      return violations;
    });
}

function privateEndpointsWired(environment: PolicyEnvironment): Violation[] {
  return privateLinkTargets.flatMap((target) =>
    ofType(environment, target.type).flatMap((service): Violation[] => {
      const endpoints = ofType(environment, privateEndpoints).filter((endpoint) =>
        connects(endpoint, service, target.groupId),
      );
      if (endpoints.length === 0) {
        return [
          {
            resource: service,
            path: 'id',
            detail: `no private endpoint connects to it with group id '${target.groupId}'`,
          },
        ];
      }
      const problems = endpoints.map((endpoint) => endpointProblems(environment, endpoint, target.zone));
      if (problems.some((list) => list.length === 0)) return [];
      return [{ resource: service, path: 'id', detail: problems[0]?.join('; ') ?? '' }];
    }),
  );
}

function connects(endpoint: ResolvedResource, service: ResolvedResource, groupId: string): boolean {
  const connections = readProperty(endpoint.value, 'properties.privateLinkServiceConnections');
  return asList(connections).some(
    (connection) =>
      sameResourceId(readProperty(connection, 'properties.privateLinkServiceId'), service.id) &&
      asList(readProperty(connection, 'properties.groupIds')).some(
        (id) => String(id).toLowerCase() === groupId,
      ),
  );
}

function endpointProblems(
  environment: PolicyEnvironment,
  endpoint: ResolvedResource,
  zoneName: string,
): string[] {
  const zoneIds = childrenOf(environment, endpoint, 'privateDnsZoneGroups').flatMap((group) =>
    asList(readProperty(group.value, 'properties.privateDnsZoneConfigs')).map((config) =>
      readProperty(config, 'properties.privateDnsZoneId'),
    ),
  );
  const zone = zoneIds
    .map((id) => byId(environment, id))
    .find((candidate) => candidate?.name.toLowerCase() === zoneName);
  if (!zone) return [`private endpoint '${endpoint.name}' has no DNS zone group using the zone ${zoneName}`];
  const network = virtualNetworkOf(readProperty(endpoint.value, 'properties.subnet.id'));
  if (!network || !isLinked(environment, zone, network)) {
    return [
      `zone ${zoneName} is not linked (registrationEnabled false) to the VNet of private endpoint '${endpoint.name}'`,
    ];
  }
  return [];
}
