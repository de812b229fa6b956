import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { persistedClock } from '../clock.js';
import { startDurableBackend } from './durable/backend.js';
import { loadOrCreateKeys } from './keys.js';
import { loadApp, NoFunctionsError } from './registry.js';
import { startHost } from './server.js';
import { fileTimerStatus } from './timers.js';

/**
 * `node dist/local/host/main.js [--app DIR] [--port 7071] [--data DIR]`: the local Functions host.
 * Like `func start`, it reads `local.settings.json` Values into the environment (real environment
 * variables win), then loads the built app through its package.json main.
 */
const { values } = parseArgs({
  options: {
    app: { type: 'string', default: process.cwd() },
    port: { type: 'string', default: '7071' },
    data: { type: 'string', default: '.vigil/host' },
  },
});
const appRoot = path.resolve(values.app);
const dataDir = path.resolve(values.data);

await loadLocalSettings(appRoot);
const hostJson = JSON.parse(await readFile(path.join(appRoot, 'host.json'), 'utf8')) as {
  extensions?: {
    http?: { routePrefix?: string };
    durableTask?: {
      hubName?: string;
      overridableExistingInstanceStates?: string;
      maxConcurrentActivityFunctions?: number;
    };
  };
};
const durableTask = hostJson.extensions?.durableTask;
// The stack shares its clock file with the host (VIGIL_CLOCK_FILE), so both keep the same time.
const clock = await persistedClock(process.env.VIGIL_CLOCK_FILE ?? path.join(dataDir, 'clock.json'));
let app: Awaited<ReturnType<typeof loadApp>>;
try {
  app = await loadApp(appRoot);
} catch (error) {
  if (!(error instanceof NoFunctionsError)) throw error;
  console.error(`[host] ${error.message}`);
  process.exit(1);
}
const keys = await loadOrCreateKeys(dataDir);
const host = await startHost({
  app,
  keys,
  clock,
  port: Number(values.port),
  routePrefix: hostJson.extensions?.http?.routePrefix ?? 'api',
  timerStatus: fileTimerStatus(path.join(dataDir, 'timers.json')),
  durable: (baseUrl) =>
    startDurableBackend({
      app,
      clock,
      connectionString: requiredSetting('AzureWebJobsStorage'),
      hubName: resolveSetting(durableTask?.hubName ?? 'TestHubName'),
      baseUrl,
      systemKey: keys.systemKeys.durabletask_extension,
      otherKeys: [keys.masterKey],
      overridableExistingInstanceStates: durableTask?.overridableExistingInstanceStates,
      ...(durableTask?.maxConcurrentActivityFunctions && {
        maxConcurrentActivities: durableTask.maxConcurrentActivityFunctions,
      }),
      log: (line) => console.log(line),
    }),
});
console.log(`[host] ${app.functions.size} functions on ${host.url}: ${[...app.functions.keys()].join(', ')}`);

let closing = false;
function shutDown(): void {
  if (closing) return;
  closing = true;
  void host.close().then(() => process.exit(0));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, shutDown);
// Started by the stack with an IPC channel: when the stack dies, even by SIGKILL, the channel
// closes and the host goes too instead of lingering as an orphan.
process.once('disconnect', shutDown);

function requiredSetting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`The host needs the app setting ${name}`);
  return value;
}

/** host.json values may name an app setting as `%NAME%`. */
function resolveSetting(value: string): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => requiredSetting(name));
}

async function loadLocalSettings(root: string): Promise<void> {
  let settings: { Values?: Record<string, string> };
  try {
    settings = JSON.parse(await readFile(path.join(root, 'local.settings.json'), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`local.settings.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  for (const [name, value] of Object.entries(settings.Values ?? {})) process.env[name] ??= value;
}
