import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DeployTimeValue,
  evaluateTemplate,
  parameterValuesFromFile,
} from '../../../../src/core/provisioning/index.js';
import { resolveTemplate } from '../../../../src/core/provisioning/template/evaluate.js';
import { readProperty, selectProperty } from '../../../../src/core/provisioning/template/propertyPath.js';
import { setPath } from './shippedEnvironment.js';

const scope = {
  subscriptionId: 'sub-1',
  tenantId: 't',
  resourceGroup: { name: 'rg', location: 'westeurope' },
};
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../../fixtures/infra', name), 'utf8')) as Record<
    string,
    unknown
  >;

function template(extra: Record<string, unknown>) {
  return { $schema: 'x', contentVersion: '1.0.0.0', resources: [], ...extra };
}

const declared = {
  name: { type: 'string', minLength: 2, maxLength: 5 },
  size: { type: 'int', minValue: 1, maxValue: 3, defaultValue: 2 },
  tier: { type: 'string', allowedValues: ['a', 'b'], defaultValue: 'a' },
  flags: { type: 'array', defaultValue: [], maxLength: 1 },
  options: { type: 'object', defaultValue: {} },
  on: { type: 'bool', defaultValue: true },
  region: { type: 'string', defaultValue: '[resourceGroup().location]' },
  secret: { type: 'securestring' },
};

describe('resolveTemplate parameters', () => {
  it('uses supplied values, evaluates defaults and never reads a secure parameter', () => {
    const result = resolveTemplate(
      template({
        parameters: declared,
        resources: [
          {
            type: 'Microsoft.Test/things',
            apiVersion: '2025-01-01',
            name: "[parameters('name')]",
            properties: {
              region: "[parameters('region')]",
              secret: "[parameters('secret')]",
              size: "[parameters('size')]",
            },
          },
        ],
      }),
      { name: 'abc', secret: 'S3cret-value' },
      scope,
      'unit',
    );
    expect(result.problems).toEqual([]);
    const properties = result.resources[0]?.value.properties as Record<string, unknown>;
    expect(properties.region).toBe('westeurope');
    expect(properties.size).toBe(2);
    expect(properties.secret).toBeInstanceOf(DeployTimeValue);
    expect(JSON.stringify(result.resources)).not.toContain('S3cret-value');
  });

  it.each([
    [{}, "parameter 'name' has no value and no defaultValue"],
    [{ name: 'a' }, "parameter 'name' must have at least 2 characters/items"],
    [{ name: 'abcdef' }, "parameter 'name' must have at most 5 characters/items"],
    [{ name: 7 }, "parameter 'name' must be of type string"],
    [{ name: 'ab', size: 0 }, "parameter 'size' must be at least 1"],
    [{ name: 'ab', size: 9 }, "parameter 'size' must be at most 3"],
    [{ name: 'ab', size: 1.5 }, "parameter 'size' must be of type int"],
    [{ name: 'ab', tier: 'c' }, "parameter 'tier' must be one of a, b"],
    [{ name: 'ab', flags: ['x', 'y'] }, "parameter 'flags' must have at most 1 characters/items"],
    [{ name: 'ab', options: [] }, "parameter 'options' must be of type object"],
    [{ name: 'ab', on: 'yes' }, "parameter 'on' must be of type bool"],
    [{ name: 'ab', extra: 1 }, "parameter 'extra' is not declared"],
  ])('reports %j: %s', (supplied, message) => {
    const { problems } = resolveTemplate(template({ parameters: declared }), supplied, scope, 'unit');
    expect(problems.map((problem) => problem.message)).toContain(message);
  });

  it('reads parameter files, turning Key Vault references into deploy-time values', () => {
    const values = parameterValuesFromFile({
      parameters: {
        profile: { value: 'dev' },
        password: { reference: { keyVault: { id: '/kv' }, secretName: 'pw' } },
        broken: 'not an entry',
      },
    });
    expect(values.profile).toBe('dev');
    expect(values.password).toBeInstanceOf(DeployTimeValue);
    expect('broken' in values).toBe(false);
    expect(parameterValuesFromFile(null)).toEqual({});
  });
});

describe('resolveTemplate resources', () => {
  const thing = (extra: Record<string, unknown>) => ({
    type: 'Microsoft.Test/things',
    apiVersion: '2025-01-01',
    name: 'one',
    ...extra,
  });

  it('skips resources whose condition is false, children included', () => {
    const { resources } = resolveTemplate(
      template({
        resources: [
          thing({
            condition: '[equals(1, 2)]',
            resources: [{ type: 'parts', apiVersion: '2025-01-01', name: 'p' }],
          }),
          thing({ name: 'two', condition: true }),
        ],
      }),
      {},
      scope,
      'unit',
    );
    expect(resources.map((resource) => resource.name)).toEqual(['two']);
  });

  it('names child resources after their parent and extension resources after their scope', () => {
    const { resources, problems } = resolveTemplate(
      template({
        resources: [
          thing({ resources: [{ type: 'parts', apiVersion: '2025-01-01', name: 'p1' }] }),
          {
            type: 'Microsoft.Insights/diagnosticSettings',
            apiVersion: '2016-09-01',
            name: 'd',
            scope: 'Microsoft.Test/things/one',
          },
        ],
      }),
      {},
      scope,
      'unit',
    );
    expect(problems).toEqual([]);
    expect(resources.map((resource) => [resource.type, resource.name, resource.templatePath])).toEqual([
      ['Microsoft.Test/things', 'one', 'resources[0]'],
      ['Microsoft.Test/things/parts', 'one/p1', 'resources[0].resources[0]'],
      ['Microsoft.Insights/diagnosticSettings', 'd', 'resources[1]'],
    ]);
    expect(resources[2]?.id).toBe(
      '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Test/things/one/providers/Microsoft.Insights/diagnosticSettings/d',
    );
  });

  it('evaluates expression keys and keeps [[ literals', () => {
    const { resources } = resolveTemplate(
      template({
        variables: { key: 'identity-1' },
        resources: [
          thing({ identity: { "[variables('key')]": {} }, properties: { text: '[[not evaluated]' } }),
        ],
      }),
      {},
      scope,
      'unit',
    );
    expect(resources[0]?.value.identity).toEqual({ 'identity-1': {} });
    expect(readProperty(resources[0]?.value, 'properties.text')).toBe('[not evaluated]');
  });

  it.each([
    [[thing({ condition: "[parameters('missing')]" })], "parameter 'missing' is not declared"],
    [[thing({ condition: "['yes']" })], 'the condition must evaluate to a bool'],
    [[thing({ name: '' })], 'must evaluate to a non-empty string'],
    [[thing({ type: 'Microsoft.Test/things/parts', name: 'only-one-segment' })], 'needs 2 name segment(s)'],
    [
      [thing({ properties: { copy: [{ name: 'x', count: 2, input: {} }] } })],
      'property copy loops are not evaluated',
    ],
    [[thing({ properties: { value: "[variables('a')]" } })], 'variables.a refers to itself'],
    [[thing({ properties: { value: "[variables('nope')]" } })], "variable 'nope' is not declared"],
    [['not an object'], 'a resource must be a JSON object'],
    [[thing({ resources: 'x' })], 'resources must be an array'],
    [[thing({ properties: { "[parameters('n')]": 1 } })], "parameter 'n' is not declared"],
    [[thing({ properties: { '[length(createArray())]': 1 } })], 'a property name must evaluate to a string'],
  ])('reports a problem for %j', (resources, message) => {
    const { problems } = resolveTemplate(
      template({ variables: { a: "[variables('a')]" }, resources }),
      {},
      scope,
      'unit',
    );
    expect(problems.map((problem) => `${problem.path}: ${problem.message}`).join('\n')).toContain(message);
  });

  it('reports a template that is not an object or whose resources are not an array', () => {
    expect(resolveTemplate([], {}, scope, 'unit').problems[0]?.message).toBe(
      'the template must be a JSON object',
    );
    expect(resolveTemplate(template({ resources: {} }), {}, scope, 'unit').problems[0]?.message).toBe(
      'resources must be an array',
    );
  });
});

describe('nested deployments', () => {
  it('evaluates inner-scope templates with their own parameters and outer-scope ones with the parent’s', () => {
    const { resources, templates, problems } = resolveTemplate(
      fixture('nested-deployment.json'),
      { environmentName: 'shop' },
      scope,
      'nested',
    );
    expect(problems).toEqual([]);
    expect(templates.map((entry) => entry.path)).toEqual([
      '$',
      'resources[0].properties.template',
      'resources[1].properties.template',
    ]);
    const vault = resources.find((resource) => resource.type === 'Microsoft.KeyVault/vaults');
    expect(vault?.name).toBe('kv-shop');
    expect(vault?.templatePath).toBe('resources[0].properties.template.resources[0]');
    expect(
      resources.find((resource) => resource.type === 'Microsoft.ContainerRegistry/registries')?.name,
    ).toBe('crshop');
  });

  it('finds violations inside nested templates and names their path', () => {
    const findings = evaluateTemplate(
      fixture('nested-deployment.json'),
      { environmentName: 'shop' },
      { profile: 'dev' },
    );
    const byRule = (id: string) => findings.filter((finding) => finding.ruleId === id);
    expect(byRule('ACR-02')[0]?.path).toBe(
      'resources[1].properties.template.resources[0].properties.adminUserEnabled',
    );
    expect(byRule('GEN-04')[0]?.path).toBe('resources[1].properties.template.outputs.adminPassword');
    expect(byRule('KV-03')).toEqual([]);
  });

  it('follows parameter values into inner-scope templates', () => {
    const template = fixture('nested-deployment.json');
    setPath(
      template,
      'resources[0].properties.template.resources[0].properties.publicNetworkAccess',
      "[parameters('publicNetworkAccess')]",
    );
    const findings = evaluateTemplate(template, { environmentName: 'shop' }, { profile: 'dev' });
    expect(findings.find((finding) => finding.ruleId === 'KV-03')?.detail).toContain('"Enabled"');
    expect(findings.find((finding) => finding.ruleId === 'GEN-01')?.path).toContain('publicNetworkAccess');
  });

  it.each([
    [{ templateLink: { uri: 'https://example.invalid/t.json' } }, 'linked templates are not evaluated'],
    [{ mode: 'Incremental' }, 'a nested deployment needs an inline template'],
  ])('refuses a deployment it cannot see into: %j', (properties, message) => {
    const { problems } = resolveTemplate(
      template({
        resources: [
          { type: 'Microsoft.Resources/deployments', apiVersion: '2025-04-01', name: 'n', properties },
        ],
      }),
      {},
      scope,
      'unit',
    );
    expect(problems[0]?.message).toContain(message);
  });
});

describe('evaluateTemplate', () => {
  it('never puts a secure parameter value in a finding, even where a rule reads it', () => {
    const findings = evaluateTemplate(
      template({
        parameters: { access: { type: 'securestring' } },
        resources: [
          {
            type: 'Microsoft.KeyVault/vaults',
            apiVersion: '2026-02-01',
            name: 'kv',
            properties: { publicNetworkAccess: "[parameters('access')]" },
          },
        ],
      }),
      { access: 'Enabled-S3cret' },
      { profile: 'prod', stage: 'single' },
    );
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((finding) => finding.stage === 'single')).toBe(true);
    const details = findings.filter((finding) => finding.ruleId === 'KV-03').map((finding) => finding.detail);
    expect(details).toContainEqual(
      expect.stringContaining('publicNetworkAccess is only known at deployment'),
    );
    expect(JSON.stringify(findings)).not.toContain('S3cret');
  });

  it('narrows to the rules given', () => {
    const findings = evaluateTemplate(
      template({ resources: [{ type: 'Microsoft.KeyVault/vaults', apiVersion: '2026-02-01', name: 'kv' }] }),
      {},
      {
        profile: 'dev',
        rules: [],
      },
    );
    expect(findings).toEqual([]);
  });
});

describe('selectProperty', () => {
  const raw = { properties: { rules: [{ access: 'Deny' }, "[variables('r')]"], fixed: "[parameters('x')]" } };
  const value = { properties: { rules: [{ access: 'Deny' }, { access: 'Allow' }], fixed: { deep: 1 } } };

  it('visits array items and marks expressions written at a parent', () => {
    expect(selectProperty(raw, value, 'properties.rules[*].access')).toEqual([
      { path: 'properties.rules[0].access', present: true, value: 'Deny' },
      { path: 'properties.rules[1].access', present: true, value: 'Allow', expression: "[variables('r')]" },
    ]);
    expect(selectProperty(raw, value, 'properties.fixed.deep')[0]?.expression).toBe("[parameters('x')]");
    expect(selectProperty(raw, value, 'properties.none[*].x')).toEqual([]);
    expect(selectProperty(raw, value, 'properties.missing')[0]?.present).toBe(false);
  });

  it('stops at a deploy-time value', () => {
    const deferred = new DeployTimeValue('reference(x)');
    expect(selectProperty({}, { properties: deferred }, 'properties.a.b')[0]).toEqual({
      path: 'properties.a.b',
      present: true,
      value: deferred,
    });
  });
});
