/** Where a deployment runs: the values behind `subscription()` and `resourceGroup()`. */
export interface DeploymentScope {
  subscriptionId: string;
  tenantId: string;
  resourceGroup: { name: string; location: string };
}

/**
 * The id ARM gives a resource in the deployment's resource group, from its full type and name
 * segments (names may be joined with `/`, as ARM allows).
 * @example
 * resourceGroupResourceId(scope, 'Microsoft.Network/virtualNetworks/subnets', ['vnet-a/snet-aks']);
 * // '/subscriptions/…/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-a/subnets/snet-aks'
 */
export function resourceGroupResourceId(scope: DeploymentScope, type: string, names: string[]): string {
  return `${resourceGroupId(scope)}${providerPath(type, names)}`;
}

/**
 * The id of a subscription-level resource such as a built-in role definition.
 * @example
 * subscriptionResourceId(scope, 'Microsoft.Authorization/roleDefinitions', ['7f951dda-4ed3-4680-a7ca-43fe172d538d']);
 */
export function subscriptionResourceId(scope: DeploymentScope, type: string, names: string[]): string {
  return `/subscriptions/${scope.subscriptionId}${providerPath(type, names)}`;
}

/**
 * The id of the deployment's resource group.
 * @example
 * resourceGroupId(scope); // '/subscriptions/…/resourceGroups/rg-vigil'
 */
export function resourceGroupId(scope: DeploymentScope): string {
  return `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup.name}`;
}

/**
 * The full resource type an id names (`Microsoft.Network/virtualNetworks/subnets`), or undefined
 * for ids without a provider segment (subscriptions, resource groups).
 * @example
 * resourceTypeOfId('/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv'); // 'Microsoft.KeyVault/vaults'
 */
export function resourceTypeOfId(id: string): string | undefined {
  const marker = id.toLowerCase().lastIndexOf('/providers/');
  if (marker < 0) return undefined;
  const segments = id.slice(marker + '/providers/'.length).split('/');
  const [namespace, ...rest] = segments;
  if (!namespace || rest.length < 2 || rest.length % 2 !== 0) return undefined;
  return [namespace, ...rest.filter((_, index) => index % 2 === 0)].join('/');
}

/**
 * ARM ids compare without regard to case.
 * @example
 * sameResourceId('/A/b', '/a/B'); // true
 */
export function sameResourceId(left: unknown, right: unknown): boolean {
  return typeof left === 'string' && typeof right === 'string' && left.toLowerCase() === right.toLowerCase();
}

function providerPath(type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  const nameSegments = names.flatMap((name) => name.split('/'));
  if (!namespace || types.length === 0 || types.length !== nameSegments.length) {
    throw new TypeError(
      `resource type '${type}' needs ${types.length} name segment(s), got ${nameSegments.length} ('${names.join("', '")}')`,
    );
  }
  const pairs = types.map((segment, index) => `${segment}/${nameSegments[index] ?? ''}`);
  return `/providers/${namespace}/${pairs.join('/')}`;
}
