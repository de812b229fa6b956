import { readProperty } from '../../template/propertyPath.js';
import { sameResourceId } from '../../template/resourceIds.js';
import { byId, childrenOf, isLinked, ofType, subnets } from '../environmentQueries.js';
import type { PolicyEnvironment, PolicyRule, Violation } from '../types.js';

const servers = 'Microsoft.DBforPostgreSQL/flexibleServers';
const configurations = `${servers}/configurations`;
const rotationTag = 'vigil-rotation';

export const postgresRules: PolicyRule[] = [
  {
    id: 'PG-01',
    title: 'PostgreSQL uses private access',
    controls: ['NS-2'],
    severity: 'critical',
    message: 'PostgreSQL must use private access (VNet integration) with a linked private DNS zone',
    fix: "Set properties.network.publicNetworkAccess 'Disabled', delegatedSubnetResourceId to a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers and privateDnsZoneArmResourceId to a zone linked to that VNet.",
    targets: [
      {
        type: servers,
        checks: [
          { path: 'properties.network.publicNetworkAccess', expect: { equals: 'Disabled' } },
          { path: 'properties.network.delegatedSubnetResourceId', expect: { present: true }, literal: false },
          {
            path: 'properties.network.privateDnsZoneArmResourceId',
            expect: { present: true },
            literal: false,
          },
        ],
      },
    ],
    check: privateAccessWiring,
  },
  {
    id: 'PG-02',
    title: 'PostgreSQL requires TLS 1.2 or later',
    controls: ['DP-3'],
    severity: 'high',
    message: 'PostgreSQL must require encrypted connections with TLS 1.2 or later',
    fix: "Declare configurations require_secure_transport 'on' and ssl_min_protocol_version 'TLSv1.2' (or 'TLSv1.3').",
    targets: [
      {
        type: configurations,
        names: ['require_secure_transport'],
        checks: [{ path: 'properties.value', expect: { notEquals: 'off' } }],
      },
      {
        type: configurations,
        names: ['ssl_min_protocol_version'],
        checks: [{ path: 'properties.value', expect: { oneOf: ['TLSv1.2', 'TLSv1.3'] } }],
      },
    ],
    check: declaredTlsConfigurations,
  },
  {
    id: 'PG-03',
    title: 'PostgreSQL uses Entra ID authentication',
    controls: ['IM-1'],
    severity: 'high',
    message:
      'PostgreSQL must accept Entra ID authentication; password authentication only where Vigil rotates the password',
    fix: `Set properties.authConfig.activeDirectoryAuth 'Enabled'; keep passwordAuth 'Enabled' only with the tag ${rotationTag}: 'managed', otherwise set it 'Disabled'.`,
    targets: [
      {
        type: servers,
        checks: [{ path: 'properties.authConfig.activeDirectoryAuth', expect: { equals: 'Enabled' } }],
      },
    ],
    literals: [
      { type: servers, path: 'properties.authConfig.passwordAuth' },
      { type: servers, path: `tags.${rotationTag}` },
    ],
    check: rotatedPasswordOnly,
  },
  {
    id: 'PG-04',
    title: 'PostgreSQL point-in-time restore',
    controls: ['BR-1'],
    severity: 'medium',
    message: 'PostgreSQL backups must allow at least 7 days of point-in-time restore',
    fix: 'Set properties.backup.backupRetentionDays to 7 or more.',
    targets: [
      { type: servers, checks: [{ path: 'properties.backup.backupRetentionDays', expect: { atLeast: 7 } }] },
    ],
  },
  {
    id: 'PG-05',
    title: 'PostgreSQL is highly available in prod',
    controls: [],
    severity: 'medium',
    message: 'PostgreSQL must run with high availability in the prod profile',
    fix: "Set properties.highAvailability.mode to 'ZoneRedundant' (or 'SameZone') when profile is prod.",
    targets: [
      {
        type: servers,
        checks: [
          {
            path: 'properties.highAvailability.mode',
            expect: { oneOf: ['ZoneRedundant', 'SameZone'] },
            literal: false,
            profile: 'prod',
          },
        ],
      },
    ],
  },
];

function privateAccessWiring(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, servers).flatMap((server): Violation[] => {
    const subnetId = readProperty(server.value, 'properties.network.delegatedSubnetResourceId');
    const zoneId = readProperty(server.value, 'properties.network.privateDnsZoneArmResourceId');
    if (typeof subnetId !== 'string' || typeof zoneId !== 'string') return [];
    const subnet = subnets(environment).find((candidate) => sameResourceId(candidate.id, subnetId));
    const delegations = subnet ? readProperty(subnet.properties, 'delegations') : undefined;
    const delegated =
      Array.isArray(delegations) &&
      delegations.some((delegation) =>
        sameResourceId(readProperty(delegation, 'properties.serviceName'), servers),
      );
    const path = 'properties.network.delegatedSubnetResourceId';
    if (!subnet)
      return [{ resource: server, path, detail: `${path} names a subnet this environment does not declare` }];
    if (!delegated)
      return [{ resource: server, path, detail: `subnet '${subnet.name}' is not delegated to ${servers}` }];
    const zone = byId(environment, zoneId);
    const zonePath = 'properties.network.privateDnsZoneArmResourceId';
    if (!zone || !/\.postgres\.database\.azure\.com$/i.test(zone.name)) {
      return [
        {
          resource: server,
          path: zonePath,
          detail: `${zonePath} names no *.postgres.database.azure.com private DNS zone of this environment`,
        },
      ];
    }
    return isLinked(environment, zone, subnet.virtualNetworkId)
      ? []
      : [
          {
            resource: server,
            path: zonePath,
            detail: `private DNS zone '${zone.name}' is not linked to the server's VNet with registrationEnabled false`,
          },
        ];
  });
}

function declaredTlsConfigurations(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, servers).flatMap((server) => {
    const declared = new Set(
      childrenOf(environment, server, 'configurations').map((child) =>
        (child.name.split('/').at(-1) ?? '').toLowerCase(),
      ),
    );
    return ['require_secure_transport', 'ssl_min_protocol_version']
      .filter((name) => !declared.has(name))
      .map((name) => ({
        resource: server,
        path: 'resources',
        detail: `configuration '${name}' is not declared; the gate does not rely on service defaults`,
      }));
  });
}

function rotatedPasswordOnly(environment: PolicyEnvironment): Violation[] {
  return ofType(environment, servers).flatMap((server): Violation[] => {
    const passwordAuth = readProperty(server.value, 'properties.authConfig.passwordAuth') ?? 'Enabled';
    if (String(passwordAuth).toLowerCase() === 'disabled') return [];
    const tag = readProperty(server.value, `tags.${rotationTag}`);
    if (typeof tag === 'string' && tag.toLowerCase() === 'managed') return [];
    return [
      {
        resource: server,
        path: 'properties.authConfig.passwordAuth',
        detail: `password authentication is enabled but tags.${rotationTag} is not 'managed', so no rotation owns the password`,
      },
    ];
  });
}
