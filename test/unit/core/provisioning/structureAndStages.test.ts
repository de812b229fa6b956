import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assertStructure,
  checkStageGraph,
  createStructureValidator,
  StageManifestError,
  stageWaves,
  TemplateStructureError,
} from '../../../../src/core/provisioning/index.js';
import { environmentDir, shippedStages } from './shippedEnvironment.js';

const schemaDir = join(import.meta.dirname, '../../../../infra/schema');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const validateTemplate = createStructureValidator(
  readJson(join(schemaDir, 'deployment-template.schema.json')),
  {
    nestedTemplates: true,
  },
);

describe('template structure', () => {
  it.each(shippedStages().map((stage) => [stage.name, stage.template] as const))(
    'accepts the shipped %s template',
    (_, template) => {
      expect(validateTemplate(template)).toEqual([]);
    },
  );

  it('rejects a malformed template, naming each JSON path', () => {
    const problems = validateTemplate(
      readJson(join(import.meta.dirname, '../../../fixtures/infra/malformed-template.json')),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^contentVersion: .*must match pattern/),
        expect.stringMatching(/^parameters\.environmentName\.type: Invalid option/),
        expect.stringMatching(/^parameters\.adminPassword has unknown key\(s\) 'default'/),
        'resources[1].apiVersion is required',
        "$ has unknown key(s) 'parameter'",
        expect.stringMatching(
          /^resources\[2\]\.properties\.template\.resources\[0\]\.apiVersion: .*expected string/,
        ),
      ]),
    );
  });

  it('throws a TemplateStructureError naming the source and the paths', () => {
    expect(() => assertStructure(validateTemplate, { contentVersion: '1.0.0.0' }, 'broken.json')).toThrow(
      TemplateStructureError,
    );
    expect(() => assertStructure(validateTemplate, { contentVersion: '1.0.0.0' }, 'broken.json')).toThrow(
      /broken\.json is not a valid deployment template: .*\$schema is required.*resources is required/,
    );
    expect(() => assertStructure(validateTemplate, shippedStages()[0]?.template, 'ok.json')).not.toThrow();
  });

  it('refuses a schema zod cannot read', () => {
    expect(() => createStructureValidator({ type: 'no-such-type' })).toThrow(TemplateStructureError);
  });

  it('accepts the shipped parameter files and manifest', () => {
    const parameters = createStructureValidator(
      readJson(join(schemaDir, 'deployment-parameters.schema.json')),
    );
    const manifest = createStructureValidator(readJson(join(schemaDir, 'stage-manifest.schema.json')));
    for (const profile of ['dev', 'prod']) {
      expect(parameters(readJson(join(environmentDir, 'parameters', `${profile}.json`)))).toEqual([]);
    }
    expect(manifest(readJson(join(environmentDir, 'stages.json')))).toEqual([]);
    expect(manifest({ stages: [{ name: 'A', template: 'a.yaml' }] })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stages\[0\]\.name: /),
        expect.stringMatching(/^stages\[0\]\.template: /),
        'stages[0].dependsOn is required',
      ]),
    );
  });
});

describe('stage graph', () => {
  const stage = (name: string, dependsOn: string[] = []) => ({ name, template: `${name}.json`, dependsOn });

  it('orders the shipped stages into parallel waves', () => {
    const manifest = readJson(join(environmentDir, 'stages.json')) as unknown as Parameters<
      typeof stageWaves
    >[0];
    expect(stageWaves(manifest)).toEqual([
      ['monitoring', 'identity'],
      ['network'],
      ['keyvault', 'registry', 'storage', 'database'],
      ['cluster'],
    ]);
  });

  it.each([
    [[stage('a'), stage('a')], "stage 'a' is declared twice"],
    [[stage('a', ['b'])], "stage 'a' depends on unknown stage 'b'"],
    [[stage('a', ['b']), stage('b', ['a']), stage('c')], "stages 'a', 'b' form a dependency cycle"],
  ])('refuses %j', (stages, message) => {
    expect(() => checkStageGraph({ stages })).toThrow(StageManifestError);
    expect(() => stageWaves({ stages })).toThrow(message);
  });
});
