/**
 * One cold start, run as its own process: `node loadOnce.js APP_ROOT [--modules]`. Loads the app
 * as the Functions worker does (local/host/registry.ts) and prints one JSON line with how many
 * functions registered, how long import + registration took, and the process's peak RSS. With
 * `--modules` it also lists every file loaded, which costs time, so timed runs leave it off.
 */
import { registerHooks } from 'node:module';
import { loadApp } from '../../local/host/registry.js';

export interface ColdStartSample {
  functions: number;
  importMs: number;
  maxRssBytes: number;
  /** file: URLs of every module loaded, with `--modules`. */
  modules?: string[];
}

const [appRoot, flag] = process.argv.slice(2);
if (!appRoot) {
  process.stderr.write('usage: node loadOnce.js APP_ROOT [--modules]\n');
  process.exit(2);
}
const modules = new Set<string>();
if (flag === '--modules') {
  registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:')) modules.add(url);
      return nextLoad(url, context);
    },
  });
}
const started = performance.now();
const app = await loadApp(appRoot);
const sample: ColdStartSample = {
  functions: app.functions.size,
  importMs: performance.now() - started,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
  ...(flag === '--modules' && { modules: [...modules] }),
};
// An app may leave handles open (clients, timers); a cold start ends once registration is done.
process.stdout.write(`${JSON.stringify(sample)}\n`, () => process.exit(0));
