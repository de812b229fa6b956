/**
 * One cold start, run as its own process: `node loadOnce.js APP_ROOT [--modules] [--import PKG]`.
 * Loads the app as the Functions worker does (local/host/registry.ts) and prints one JSON line
 * with how many functions registered, how long import + registration took, and the process's
 * peak RSS. `--modules` also lists every file loaded (which costs time, so timed runs leave it
 * off); `--import PKG` then imports one more package and times that alone.
 */
import { registerHooks } from 'node:module';
import { parseArgs } from 'node:util';
import { loadApp } from '../../local/host/registry.js';

export interface ColdStartSample {
  functions: number;
  importMs: number;
  maxRssBytes: number;
  /** file: URLs of every module loaded, with `--modules`. */
  modules?: string[];
  /** How long `--import PKG` took after the app had loaded. */
  packageImportMs?: number;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { modules: { type: 'boolean' }, import: { type: 'string' } },
});
const [appRoot] = positionals;
if (!appRoot) {
  process.stderr.write('usage: node loadOnce.js APP_ROOT [--modules] [--import PKG]\n');
  process.exit(2);
}
const modules = new Set<string>();
if (values.modules) {
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:')) modules.add(url);
      return nextLoad(url, context);
    },
  });
}
const started = performance.now();
const app = await loadApp(appRoot);
const importMs = performance.now() - started;
let packageImportMs: number | undefined;
if (values.import) {
  const before = performance.now();
  await import(values.import);
  packageImportMs = performance.now() - before;
}
const sample: ColdStartSample = {
  functions: app.functions.size,
  importMs,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  ...(values.modules && { modules: [...modules] }),
  ...(packageImportMs !== undefined && { packageImportMs }),
};
// An app may leave handles open (clients, timers); a cold start ends once registration is done.
process.stdout.write(`${JSON.stringify(sample)}\n`, () => process.exit(0));
