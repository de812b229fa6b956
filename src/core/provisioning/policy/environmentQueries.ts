import type { ResolvedResource } from '../template/evaluate.js';
import { isRecord } from '../template/functions.js';
import { readProperty } from '../template/propertyPath.js';
import { sameResourceId } from '../template/resourceIds.js';
import type { PolicyEnvironment } from './types.js';

/**
 * The resources of one type, in any case.
 * @example
 * ofType(environment, 'Microsoft.KeyVault/vaults');
 */
export function ofType(environment: PolicyEnvironment, type: string): ResolvedResource[] {
  return environment.resources.filter((resource) => resource.type.toLowerCase() === type.toLowerCase());
}

/**
 * The resource with this id, if the environment declares it.
 * @example
 * byId(environment, subnetId)?.type; // 'Microsoft.Network/virtualNetworks/subnets'
 */
export function byId(environment: PolicyEnvironment, id: unknown): ResolvedResource | undefined {
  return environment.resources.find((resource) => sameResourceId(resource.id, id));
}

/**
 * Child resources declared anywhere for a parent (`parent/child` names of `parentType/childType`).
 * @example
 * childrenOf(environment, zone, 'virtualNetworkLinks');
 */
export function childrenOf(
  environment: PolicyEnvironment,
  parent: ResolvedResource,
  childType: string,
): ResolvedResource[] {
  const prefix = `${parent.name.toLowerCase()}/`;
  return ofType(environment, `${parent.type}/${childType}`).filter(
    (child) =>
      child.name.toLowerCase().startsWith(prefix) &&
      child.name.split('/').length === parent.name.split('/').length + 1,
  );
}

/** A subnet, whether declared inline in its virtual network or as a child resource. */
export interface Subnet {
  id: string;
  name: string;
  virtualNetworkId: string;
  properties: Record<string, unknown>;
  /** The resource that declares it (the virtual network, for inline subnets). */
  declaredBy: ResolvedResource;
  /** JSON path of the subnet inside `declaredBy`. */
  path: string;
}

/**
 * Every subnet the environment declares.
 * @example
 * subnets(environment).map((subnet) => subnet.name); // ['snet-aks', 'snet-pe', …]
 */
export function subnets(environment: PolicyEnvironment): Subnet[] {
  const inline = ofType(environment, 'Microsoft.Network/virtualNetworks').flatMap((network) => {
    const declared = readProperty(network.value, 'properties.subnets');
    return (Array.isArray(declared) ? declared : []).filter(isRecord).map((subnet, index) => ({
      id: `${network.id}/subnets/${String(subnet.name)}`,
      name: String(subnet.name),
      virtualNetworkId: network.id,
      properties: isRecord(subnet.properties) ? subnet.properties : {},
      declaredBy: network,
      path: `properties.subnets[${index}]`,
    }));
  });
  const children = ofType(environment, 'Microsoft.Network/virtualNetworks/subnets').map((subnet) => ({
    id: subnet.id,
    name: subnet.name.split('/').at(-1) ?? subnet.name,
    virtualNetworkId: subnet.id.replace(/\/subnets\/[^/]+$/i, ''),
    properties: isRecord(subnet.value.properties) ? subnet.value.properties : {},
    declaredBy: subnet,
    path: 'properties',
  }));
  return [...inline, ...children];
}

/**
 * `type 'name'`, how findings name a resource.
 * @example
 * label(vault); // "Microsoft.KeyVault/vaults 'kv-abc'"
 */
export function label(resource: ResolvedResource): string {
  return `${resource.type} '${resource.name}'`;
}

/**
 * The virtual network id a subnet id belongs to.
 * @example
 * virtualNetworkOf('/…/virtualNetworks/vnet/subnets/a'); // '/…/virtualNetworks/vnet'
 */
export function virtualNetworkOf(subnetId: unknown): string | undefined {
  return typeof subnetId === 'string' && /\/subnets\/[^/]+$/i.test(subnetId)
    ? subnetId.replace(/\/subnets\/[^/]+$/i, '')
    : undefined;
}

/**
 * Whether a private DNS zone has a virtual network link to this network with auto-registration off.
 * @example
 * isLinked(environment, zone, vnetId); // true
 */
export function isLinked(
  environment: PolicyEnvironment,
  zone: ResolvedResource,
  virtualNetworkId: string,
): boolean {
  return childrenOf(environment, zone, 'virtualNetworkLinks').some(
    (link) =>
      sameResourceId(readProperty(link.value, 'properties.virtualNetwork.id'), virtualNetworkId) &&
      readProperty(link.value, 'properties.registrationEnabled') === false,
  );
}
