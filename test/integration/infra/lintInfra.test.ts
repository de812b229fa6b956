import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findingsTable, lintInfrastructure } from '../../../local/tools/lintInfra.js';

const repo = join(import.meta.dirname, '../../..');
const schemaDir = join(repo, 'infra/schema');
let environmentDir: string;

async function editJson(file: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const path = join(environmentDir, file);
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(path, JSON.stringify(json));
}

const lint = () => lintInfrastructure({ environmentDir, schemaDir, profiles: ['dev', 'prod'] });

describe('lint:infra over a copy of infra/environment', () => {
  beforeEach(async () => {
    environmentDir = await mkdtemp(join(tmpdir(), 'vigil-lint-infra-'));
    await cp(join(repo, 'infra/environment'), environmentDir, { recursive: true });
  });

  afterEach(async () => {
    await rm(environmentDir, { recursive: true, force: true });
  });

  it('passes the shipped environment in both profiles with exit code 0', async () => {
    const result = await lint();
    expect(result.structureProblems).toEqual([]);
    expect(result.findings).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.report).toMatch(/8 templates, profiles dev, prod: 0 findings/);
  });

  it('prints a findings table and exits 1 when a template turns insecure', async () => {
    await editJson('keyvault.json', (template) => {
      const vault = (template.resources as { properties: Record<string, unknown> }[])[0];
      if (vault) vault.properties.publicNetworkAccess = 'Enabled';
    });
    const result = await lint();
    expect(result.exitCode).toBe(1);
    expect(result.findings.map((finding) => [finding.profile, finding.ruleId])).toEqual([
      ['dev', 'KV-03'],
      ['prod', 'KV-03'],
    ]);
    const [header, rule, firstRow] = result.report.split('\n');
    expect(header).toMatch(/^profile\s+stage\s+rule\s+severity\s+resource\s+path\s+problem$/);
    expect(rule).toMatch(/^-+\s+-+/);
    expect(firstRow).toMatch(
      /^dev\s+keyvault\s+KV-03\s+critical\s+Microsoft\.KeyVault\/vaults 'kv-\w+'\s+resources\[0\]\.properties\.publicNetworkAccess\s+.*"Enabled"/,
    );
    expect(result.report).toContain(
      'KV-03 [NS-2] Key Vault must not be reachable from public networks. Fix:',
    );
    expect(result.report).toMatch(/2 finding\(s\), 0 structure problem\(s\) — refused$/);
  });

  it('rejects a malformed template, naming the file and the JSON path', async () => {
    await editJson('registry.json', (template) => {
      const registry = (template.resources as Record<string, unknown>[])[0];
      if (registry) delete registry.apiVersion;
    });
    const result = await lint();
    expect(result.exitCode).toBe(1);
    expect(result.structureProblems).toEqual([
      `${join(environmentDir, 'registry.json')}: resources[0].apiVersion is required`,
    ]);
    expect(result.report).toContain('Structure problems (1):');
  });

  it('rejects a manifest with a dependency cycle', async () => {
    await editJson('stages.json', (manifest) => {
      const stages = manifest.stages as { name: string; dependsOn: string[] }[];
      stages.find((stage) => stage.name === 'monitoring')?.dependsOn.push('cluster');
    });
    const result = await lint();
    expect(result.exitCode).toBe(1);
    expect(result.structureProblems.join('\n')).toMatch(
      /stages\.json: stages .*'monitoring'.* form a dependency cycle/,
    );
  });

  it('rejects a manifest that breaks its schema and unreadable JSON', async () => {
    await editJson('stages.json', (manifest) => {
      manifest.extra = true;
    });
    expect((await lint()).structureProblems).toEqual([
      `${join(environmentDir, 'stages.json')}: $ has unknown key(s) 'extra'`,
    ]);
    await writeFile(join(environmentDir, 'stages.json'), '{ not json');
    const result = await lint();
    expect(result.exitCode).toBe(1);
    expect(result.structureProblems[0]).toContain(`${join(environmentDir, 'stages.json')}: `);
  });

  it('reports a broken parameter file and a missing template', async () => {
    await editJson('parameters/prod.json', (file) => {
      (file.parameters as Record<string, unknown>).profile = { value: 'prod', reference: {} };
    });
    await rm(join(environmentDir, 'identity.json'));
    const result = await lint();
    expect(result.exitCode).toBe(1);
    expect(result.structureProblems.join('\n')).toContain(join(environmentDir, 'identity.json'));
    expect(result.structureProblems.join('\n')).toMatch(/parameters\/prod\.json: parameters\.profile/);
  });

  it('lays out the findings table in aligned columns', () => {
    const table = findingsTable([
      {
        profile: 'dev',
        ruleId: 'X-01',
        severity: 'low',
        controls: [],
        stage: 's',
        resource: 'r',
        path: 'p',
        message: 'm',
        detail: 'd',
        fix: 'f',
      },
    ]);
    expect(table.split('\n')).toEqual([
      'profile  stage  rule  severity  resource  path  problem',
      '-------  -----  ----  --------  --------  ----  -------',
      'dev      s      X-01  low       r         p     d',
    ]);
  });
});
