import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  checkStageGraph,
  createStructureValidator,
  evaluateEnvironment,
  type Finding,
  type Profile,
  parameterValuesFromFile,
  policyRules,
  type StageManifest,
  StageManifestError,
  type StageTemplate,
  stageWaves,
} from '../../src/core/provisioning/index.js';

export interface LintOptions {
  /** Folder with stages.json, the stage templates and parameters/<profile>.json. */
  environmentDir: string;
  /** Folder with the JSON Schemas the structure check uses. */
  schemaDir: string;
  profiles: Profile[];
}

export interface LintResult {
  exitCode: number;
  report: string;
  findings: (Finding & { profile: Profile })[];
  structureProblems: string[];
}

/**
 * Lints an environment: validates the manifest, every template and parameter file against the
 * schemas in the project, then runs the policy gate over all stages together for each profile.
 * @example
 * const { exitCode, report } = await lintInfrastructure({ environmentDir: 'infra/environment', schemaDir: 'infra/schema', profiles: ['dev', 'prod'] });
 */
export async function lintInfrastructure(options: LintOptions): Promise<LintResult> {
  const structureProblems: string[] = [];
  const schemas = await loadSchemas(options.schemaDir);
  const manifestFile = join(options.environmentDir, 'stages.json');
  const manifest = await readJson(manifestFile, structureProblems);
  if (manifest === undefined) return result([], structureProblems);
  const manifestProblems = schemas.manifest(manifest);
  structureProblems.push(...manifestProblems.map((problem) => `${manifestFile}: ${problem}`));
  if (manifestProblems.length > 0) return result([], structureProblems);
  const stages = await loadStages(
    manifest as StageManifest,
    options.environmentDir,
    schemas.template,
    structureProblems,
  );
  const findings: LintResult['findings'] = [];
  for (const profile of options.profiles) {
    const parameterFile = join(options.environmentDir, 'parameters', `${profile}.json`);
    const parameters = await readJson(parameterFile, structureProblems);
    const problems = parameters === undefined ? ['unreadable'] : schemas.parameters(parameters);
    structureProblems.push(
      ...(parameters === undefined ? [] : problems.map((problem) => `${parameterFile}: ${problem}`)),
    );
    if (problems.length > 0 || structureProblems.length > 0) continue;
    const values = parameterValuesFromFile(parameters);
    findings.push(
      ...evaluateEnvironment(stages, values, { profile }).map((finding) => ({ ...finding, profile })),
    );
  }
  return result(findings, structureProblems, stages.length, options.profiles);
}

async function loadSchemas(schemaDir: string) {
  const load = async (name: string) =>
    JSON.parse(await readFile(join(schemaDir, name), 'utf8')) as Record<string, unknown>;
  return {
    template: createStructureValidator(await load('deployment-template.schema.json'), {
      nestedTemplates: true,
    }),
    manifest: createStructureValidator(await load('stage-manifest.schema.json')),
    parameters: createStructureValidator(await load('deployment-parameters.schema.json')),
  };
}

async function loadStages(
  manifest: StageManifest,
  environmentDir: string,
  validate: (document: unknown) => string[],
  problems: string[],
): Promise<StageTemplate[]> {
  let order: string[];
  try {
    checkStageGraph(manifest);
    order = stageWaves(manifest).flat();
  } catch (error) {
    if (!(error instanceof StageManifestError)) throw error;
    problems.push(...error.problems.map((problem) => `${join(environmentDir, 'stages.json')}: ${problem}`));
    return [];
  }
  const stages: StageTemplate[] = [];
  for (const name of order) {
    const stage = manifest.stages.find((candidate) => candidate.name === name);
    if (!stage) continue;
    const file = join(environmentDir, stage.template);
    const template = await readJson(file, problems);
    if (template === undefined) continue;
    problems.push(...validate(template).map((problem) => `${file}: ${problem}`));
    stages.push({ name, template });
  }
  return stages;
}

async function readJson(file: string, problems: string[]): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    problems.push(`${file}: ${(error as Error).message}`);
    return undefined;
  }
}

function result(
  findings: LintResult['findings'],
  structureProblems: string[],
  templateCount = 0,
  profiles: Profile[] = [],
): LintResult {
  const lines: string[] = [];
  if (structureProblems.length > 0) {
    lines.push(
      `Structure problems (${structureProblems.length}):`,
      ...structureProblems.map((p) => `  ${p}`),
      '',
    );
  }
  if (findings.length > 0) lines.push(findingsTable(findings), '', ...ruleNotes(findings), '');
  const failed = findings.length > 0 || structureProblems.length > 0;
  lines.push(
    failed
      ? `lint:infra: ${findings.length} finding(s), ${structureProblems.length} structure problem(s) — refused`
      : `lint:infra: ${templateCount} templates, profiles ${profiles.join(', ')}: 0 findings, ${policyRules.length} rules`,
  );
  return { exitCode: failed ? 1 : 0, report: lines.join('\n'), findings, structureProblems };
}

/**
 * Renders findings as an aligned text table, one row per finding.
 * @example
 * findingsTable(findings); // 'profile  stage     rule   severity  resource …'
 */
export function findingsTable(findings: (Finding & { profile: Profile })[]): string {
  const header = ['profile', 'stage', 'rule', 'severity', 'resource', 'path', 'problem'];
  const rows = findings.map((f) => [f.profile, f.stage, f.ruleId, f.severity, f.resource, f.path, f.detail]);
  const widths = header.map((title, column) =>
    Math.max(
      title.length,
      ...rows.map((row) => (column === header.length - 1 ? 0 : (row[column] ?? '').length)),
    ),
  );
  const render = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [render(header), render(widths.map((width) => '-'.repeat(width))), ...rows.map(render)].join('\n');
}

function ruleNotes(findings: Finding[]): string[] {
  const seen = new Map(findings.map((finding) => [finding.ruleId, finding]));
  return [...seen.values()].map(
    (f) => `${f.ruleId} [${f.controls.join(', ') || 'availability'}] ${f.message}. Fix: ${f.fix}`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: 'infra/environment' },
      schemas: { type: 'string', default: 'infra/schema' },
      profile: { type: 'string', multiple: true, default: ['dev', 'prod'] },
    },
  });
  const profiles = values.profile.filter(
    (profile): profile is Profile => profile === 'dev' || profile === 'prod',
  );
  if (profiles.length !== values.profile.length) {
    process.stderr.write('lint:infra: --profile must be dev or prod\n');
    process.exitCode = 2;
    return;
  }
  const outcome = await lintInfrastructure({
    environmentDir: resolve(values.dir),
    schemaDir: resolve(values.schemas),
    profiles,
  });
  process.stdout.write(`${outcome.report}\n`);
  process.exitCode = outcome.exitCode;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
