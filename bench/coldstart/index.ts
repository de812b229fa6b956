import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from '../options.js';
import { type BenchmarkReport, mib, ms } from '../report.js';
import { median } from '../stats.js';
import { type DeploySize, deploySize } from './deploySize.js';
import type { ColdStartSample } from './loadOnce.js';

/** The repository root, from dist/bench/coldstart. */
const appRoot = path.resolve(import.meta.dirname, '../../..');
const helloRoot = path.join(appRoot, 'bench/fixtures/hello');
const loadOnce = path.join(import.meta.dirname, 'loadOnce.js');

/** A cold start failed or registered the wrong functions. */
export class ColdStartError extends Error {
  override name = 'ColdStartError';
}

interface Timed extends ColdStartSample {
  wallMs: number;
}

interface Case {
  label: string;
  root: string;
  samples: Timed[];
  loaded: LoadedBytes;
}

interface LoadedBytes {
  modules: number;
  bytes: number;
  /** Bytes loaded per package folder (`…/node_modules/<name>`), or `app` for the app's own files. */
  byPackage: Map<string, { bytes: number; modules: number }>;
}

/**
 * Cold start: spawn node to import the built app and register every function with the
 * registration-capturing stub, against a one-function hello app; plus the deployment's size and
 * which production dependencies weigh most, on disk and in what a cold start loads.
 * @example
 * console.log(formatReport(await coldstart({ runs: 10 })));
 */
export async function coldstart(options: BenchOptions): Promise<BenchmarkReport> {
  const runs = options.runs ?? 10;
  const cases: Case[] = [];
  for (const [label, root] of [
    ['hello (1 function)', helloRoot],
    ['vigil', appRoot],
  ] as const) {
    // The module-listing run also warms the file cache, so timed runs compare code, not disk.
    const listing = await startOnce(root, { listModules: true });
    cases.push({ label, root, samples: [], loaded: await loadedBytes(listing.modules ?? [], root) });
  }
  for (let run = 0; run < runs; run += 1) {
    // Interleaved, so a noisy neighbour slows both alike.
    for (const each of cases) each.samples.push(await startOnce(each.root));
  }
  const [hello, vigil] = cases;
  if (!hello || !vigil) throw new ColdStartError('both cases must have run');
  checkRegistrations(hello, vigil);
  const size = await deploySize(appRoot);
  const importAlone = await timeImports(
    size.direct.map((dep) => dep.name),
    Math.min(runs, 3),
  );
  return {
    title: `coldstart: node imports the app and registers every function (${runs} runs each, medians)`,
    table: {
      columns: [
        'app',
        'functions',
        'modules loaded',
        'loaded MiB',
        'wall ms (spawn→exit)',
        'wall min–max',
        'import+register ms',
        'peak RSS MiB',
      ],
      rows: cases.map((each) => row(each)),
    },
    notes: [...sizeNotes(size, vigil.loaded, importAlone)],
    ratios: [
      {
        name: 'coldstart.wall',
        value: medianOf(vigil, 'wallMs') / medianOf(hello, 'wallMs'),
        meaning: 'vigil ÷ hello, median wall time from spawning node to its exit after registration',
      },
      {
        name: 'coldstart.import',
        value: medianOf(vigil, 'importMs') / medianOf(hello, 'importMs'),
        meaning:
          'vigil ÷ hello, median time to import the app and register its functions (node boot excluded)',
      },
    ],
  };
}

function row(each: Case): string[] {
  const walls = each.samples.map((sample) => sample.wallMs);
  return [
    each.label,
    String(each.samples[0]?.functions ?? 0),
    String(each.loaded.modules),
    mib(each.loaded.bytes),
    ms(median(walls)),
    `${ms(Math.min(...walls))}–${ms(Math.max(...walls))}`,
    ms(medianOf(each, 'importMs')),
    mib(medianOf(each, 'maxRssBytes')),
  ];
}

function medianOf(each: Case, field: 'wallMs' | 'importMs' | 'maxRssBytes'): number {
  return median(each.samples.map((sample) => sample[field]));
}

function checkRegistrations(hello: Case, vigil: Case): void {
  const counts = (each: Case) => new Set(each.samples.map((sample) => sample.functions));
  if (counts(hello).size !== 1 || !counts(hello).has(1))
    throw new ColdStartError(`the hello app must register exactly 1 function, got ${[...counts(hello)]}`);
  if (counts(vigil).size !== 1 || Math.min(...counts(vigil)) < 2)
    throw new ColdStartError(`vigil must register the same functions every run, got ${[...counts(vigil)]}`);
}

/** Spawns one cold start and times it from spawn to exit. */
function startOnce(
  root: string,
  extra: { listModules?: boolean; importPackage?: string } = {},
): Promise<Timed> {
  const args = [
    loadOnce,
    root,
    ...(extra.listModules ? ['--modules'] : []),
    ...(extra.importPackage ? ['--import', extra.importPackage] : []),
  ];
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        reject(new ColdStartError(`loading ${root} exited with ${code}: ${stderr.trim()}`));
        return;
      }
      try {
        resolve({ ...(JSON.parse(stdout) as ColdStartSample), wallMs });
      } catch (error) {
        reject(new ColdStartError(`loading ${root} printed no sample: ${stdout}`, { cause: error }));
      }
    });
  });
}

/**
 * How long each direct dependency takes to import on its own, after the hello app has loaded
 * (so `@azure/functions` and its worker stub are in place): what lazily importing it would save.
 */
async function timeImports(packages: string[], runs: number): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (const name of packages) {
    const samples: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const sample = await startOnce(helloRoot, { importPackage: name });
      if (sample.packageImportMs !== undefined) samples.push(sample.packageImportMs);
    }
    if (samples.length > 0) times.set(name, median(samples));
  }
  return times;
}

async function loadedBytes(urls: string[], root: string): Promise<LoadedBytes> {
  const byPackage = new Map<string, { bytes: number; modules: number }>();
  let bytes = 0;
  for (const url of urls) {
    const file = fileURLToPath(url);
    const size = (await stat(file).catch(() => undefined))?.size ?? 0;
    const owner = packageDir(file) ?? (file.startsWith(root) ? 'app' : 'other');
    const entry = byPackage.get(owner) ?? { bytes: 0, modules: 0 };
    entry.bytes += size;
    entry.modules += 1;
    byPackage.set(owner, entry);
    bytes += size;
  }
  return { modules: urls.length, bytes, byPackage };
}

/** `/x/node_modules/@scope/name/lib/a.js` → `/x/node_modules/@scope/name`. */
function packageDir(file: string): string | undefined {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const scoped = parts[at + 1]?.startsWith('@') ? 2 : 1;
  return parts.slice(0, at + 1 + scoped).join(path.sep);
}

function sizeNotes(size: DeploySize, loaded: LoadedBytes, importAlone: Map<string, number>): string[] {
  const loadedIn = (dirs: Iterable<string>) => {
    let bytes = 0;
    let modules = 0;
    for (const dir of dirs) {
      bytes += loaded.byPackage.get(dir)?.bytes ?? 0;
      modules += loaded.byPackage.get(dir)?.modules ?? 0;
    }
    return `${mib(bytes)} MiB loaded by vigil's cold start (${modules} modules)`;
  };
  const heaviestLoaded = [...loaded.byPackage.entries()]
    .filter(([dir]) => dir !== 'app' && dir !== 'other')
    .sort(([, a], [, b]) => b.bytes - a.bytes)
    .slice(0, 8);
  const byImportTime = [...size.direct].sort(
    (a, b) => (importAlone.get(b.name) ?? 0) - (importAlone.get(a.name) ?? 0),
  );
  return [
    `deploy size: ${mib(size.total.bytes)} MiB in ${size.total.files} files — app (dist/src, host.json, package.json) ${mib(size.app.bytes)} MiB, ${size.packages.length} production packages ${mib(size.total.bytes - size.app.bytes)} MiB`,
    'heaviest production dependencies, by median time to import alone (a direct dependency with all it pulls in; shared packages count in each):',
    ...byImportTime.map(
      (dep) =>
        `  ${dep.name}: ${ms(importAlone.get(dep.name) ?? Number.NaN)} ms to import, ${mib(dep.bytes)} MiB on disk in ${dep.dirs.size} packages, ${loadedIn(dep.dirs)}`,
    ),
    'heaviest packages loaded at cold start:',
    ...heaviestLoaded.map(
      ([dir, entry]) =>
        `  ${dir.split(`node_modules${path.sep}`).pop()}: ${mib(entry.bytes)} MiB (${entry.modules} modules)`,
    ),
    `the app's own code loaded at cold start: ${mib(loaded.byPackage.get('app')?.bytes ?? 0)} MiB (${loaded.byPackage.get('app')?.modules ?? 0} modules)`,
  ];
}
