import { describe, expect, it } from 'vitest';
import { DeployTimeValue } from '../../../../src/core/provisioning/index.js';
import { isExpression, parseExpression } from '../../../../src/core/provisioning/template/expression.js';
import {
  deterministicGuid,
  type ExpressionContext,
  evaluateExpression,
  uniqueString,
} from '../../../../src/core/provisioning/template/functions.js';
import { resourceTypeOfId, sameResourceId } from '../../../../src/core/provisioning/template/resourceIds.js';

const context: ExpressionContext = {
  scope: {
    subscriptionId: 'sub-1',
    tenantId: 'tenant-1',
    resourceGroup: { name: 'rg-a', location: 'westeurope' },
  },
  parameter: (name) => ({ env: 'shop', count: 3, flag: true })[name],
  variable: (name) => ({ tags: { environment: 'shop' }, list: ['x', 'y'] })[name],
};
const run = (text: string) => evaluateExpression(parseExpression(text), context);
const rg = '/subscriptions/sub-1/resourceGroups/rg-a';

describe('ARM expressions', () => {
  it.each([
    ["[concat('a', 'b', 1, true)]", 'ab1true'],
    ["[concat(createArray('a'), variables('list'))]", ['a', 'x', 'y']],
    ["[format('{0}-{1}-{{x}}', parameters('env'), parameters('count'))]", 'shop-3-{x}'],
    ["[toLower('AbC')]", 'abc'],
    ["[toUpper('AbC')]", 'ABC'],
    ['[resourceGroup().location]', 'westeurope'],
    ['[resourceGroup().id]', rg],
    ['[subscription().subscriptionId]', 'sub-1'],
    ['[subscription().tenantId]', 'tenant-1'],
    ['[tenant().tenantId]', 'tenant-1'],
    ["[resourceId('Microsoft.KeyVault/vaults', 'kv')]", `${rg}/providers/Microsoft.KeyVault/vaults/kv`],
    [
      "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'snet')]",
      `${rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet`,
    ],
    [
      "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet/snet')]",
      `${rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet`,
    ],
    [
      "[resourceId('rg-b', 'Microsoft.KeyVault/vaults', 'kv')]",
      '/subscriptions/sub-1/resourceGroups/rg-b/providers/Microsoft.KeyVault/vaults/kv',
    ],
    [
      "[resourceId('sub-2', 'rg-b', 'Microsoft.KeyVault/vaults', 'kv')]",
      '/subscriptions/sub-2/resourceGroups/rg-b/providers/Microsoft.KeyVault/vaults/kv',
    ],
    [
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]",
      '/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/r1',
    ],
    [
      "[extensionResourceId('/x', 'Microsoft.Authorization/roleAssignments', 'a')]",
      '/x/providers/Microsoft.Authorization/roleAssignments/a',
    ],
    ["[if(equals(parameters('env'), 'shop'), 'yes', nosuchfunction())]", 'yes'],
    ["[if(parameters('flag'), 1, 2)]", 1],
    ['[not(and(true(), or(false, true)))]', false],
    ["[empty('')]", true],
    ['[empty(createObject())]', true],
    ['[empty(null())]', true],
    ["[length(variables('list'))]", 2],
    ["[length(variables('tags'))]", 1],
    ["[length('abc')]", 3],
    ["[variables('list')[1]]", 'y'],
    ["[variables('tags').ENVIRONMENT]", 'shop'],
    ["[createObject('a', 1).a]", 1],
    ["[union(variables('tags'), createObject('b', 'c'))]", { environment: 'shop', b: 'c' }],
    ["[union(createArray('a', 'b'), createArray('b', 'c'))]", ['a', 'b', 'c']],
    ["['it''s']", "it's"],
    ['[-5]', -5],
    ["[ concat( 'a' , 'b' ) ]", 'ab'],
  ])('%s evaluates to %j', (text, expected) => {
    expect(run(text)).toEqual(expected);
  });

  it.each([
    ['[nosuchfunction()]', "function 'nosuchfunction' is not supported"],
    ["[concat('a' 'b')]", "expected ',' or ')'"],
    ["['open]", 'unterminated string'],
    ['[concat]', "expected '(' after concat"],
    ['[toLower(1)]', 'toLower() expects a string, got number 1'],
    ["[format('{0:N2}', 1)]", "specifier ':N2' is not supported"],
    ["[format('{1}', 'a')]", 'has no argument {1}'],
    ["[variables('list')[5]]", 'index 5 is outside the array'],
    ["[variables('tags').missing]", "has no property 'missing'"],
    ["[if(true(), 'a')]", 'if() takes exactly 3 arguments'],
    ["[if('x', 'a', 'b')]", 'if() expects a bool'],
    ["[resourceId('kv')]", 'needs a resource type'],
    ["[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')]", 'needs 2 name segment(s), got 1'],
    ["[createObject('a')]", 'createObject() takes key/value pairs'],
    ['[union(createArray(), createObject())]', 'union() takes only arrays or only objects'],
    ['[empty(1)]', 'empty() cannot test'],
    ['[length(true())]', 'length() cannot measure'],
    ['[concat(createObject())]', 'concat() cannot turn an object into text'],
    ["[toLower('a') extra]", 'unexpected text'],
    ["[createArray('a')[x]]", "expected '(' after x"],
    ["[variables('list')[0}]", "expected ']'"],
    ['[(]', 'expected a name'],
  ])('%s fails with %s', (text, message) => {
    expect(() => run(text)).toThrow(message);
  });

  it('keeps deploy-time values opaque through functions and property access', () => {
    const value = run("[concat(reference('id-app').principalId, '-x')]");
    expect(value).toBeInstanceOf(DeployTimeValue);
    expect(String(value)).toContain('reference(id-app).principalId');
    expect(run("[createArray(reference('a'))]")).toEqual([expect.any(DeployTimeValue)]);
    expect(run("[if(reference('a').ok, 'x', 'y')]")).toBeInstanceOf(DeployTimeValue);
    expect(JSON.stringify({ value })).toContain('deploy-time value');
  });

  it('tells expressions from escaped literals', () => {
    expect(isExpression("[parameters('a')]")).toBe(true);
    expect(isExpression('[[literal]')).toBe(false);
    expect(isExpression('plain')).toBe(false);
    expect(() => parseExpression('plain')).toThrow('not an expression');
  });

  it('derives stable, distinct tokens and GUIDs', () => {
    const token = uniqueString(['/subscriptions/0', 'shop', 'westeurope']);
    expect(token).toMatch(/^[a-z2-7]{13}$/);
    expect(uniqueString(['/subscriptions/0', 'shop', 'westeurope'])).toBe(token);
    expect(uniqueString(['/subscriptions/0', 'shop', 'northeurope'])).not.toBe(token);
    const guid = deterministicGuid(['scope', 'principal', 'role']);
    expect(guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicGuid(['scope', 'principal', 'role'])).toBe(guid);
    expect(run("[guid('scope', 'principal', 'role')]")).toBe(guid);
  });

  it('reads resource types from ids and compares ids without case', () => {
    expect(
      resourceTypeOfId(
        `${rg}/providers/Microsoft.Storage/storageAccounts/st/blobServices/default/containers/docs`,
      ),
    ).toBe('Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(resourceTypeOfId(rg)).toBeUndefined();
    expect(resourceTypeOfId(`${rg}/providers/Microsoft.Storage/storageAccounts`)).toBeUndefined();
    expect(sameResourceId('/A/b', '/a/B')).toBe(true);
    expect(sameResourceId('/a', undefined)).toBe(false);
  });
});
