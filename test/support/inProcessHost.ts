import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Clock } from '../../local/clock.js';
import { startDurableBackend } from '../../local/host/durable/backend.js';
import { type HostKeys, loadOrCreateKeys } from '../../local/host/keys.js';
import { type LoadedApp, loadApp, packageMain } from '../../local/host/registry.js';
import { type RunningHost, startHost } from '../../local/host/server.js';
import { Azurite } from '../../local/services/azurite.js';
import { appRoot } from './stack.js';

export interface InProcessHost {
  host: RunningHost;
  app: LoadedApp;
  keys: HostKeys;
  azurite: Azurite;
  /** The host's clock: advancing it fires durable timers and retry delays. */
  clock: Clock;
  stop(): Promise<void>;
}

/**
 * The app in this test process (its TypeScript sources), served by the local host with its Durable backend on an
 * in-memory Azurite. One per test file: `@azure/functions` registers into one host per process.
 */
export async function startInProcessHost(): Promise<InProcessHost> {
  const azurite = await Azurite.start();
  process.env.VIGIL_TASK_HUB = 'vigil';
  process.env.VIGIL_STATE_STORAGE = azurite.connectionString;
  process.env.VIGIL_ROTATION_SWEEP_SCHEDULE ??= '0 0 * * * *';
  const keys = await loadOrCreateKeys(await mkdtemp(path.join(tmpdir(), 'vigil-host-')));
  // The sources behind package.json main, so coverage counts the app's code run by these tests.
  const main = (await packageMain(appRoot))?.replace(/^dist\//, '').replaceAll('.js', '.ts');
  const app = await loadApp(appRoot, main ? { main } : {});
  const clock = new Clock();
  const host = await startHost({
    app,
    keys,
    clock,
    port: 0,
    log: () => {},
    durable: (baseUrl) =>
      startDurableBackend({
        app,
        clock,
        connectionString: azurite.connectionString,
        hubName: 'hosttest',
        baseUrl,
        systemKey: keys.systemKeys.durabletask_extension,
      }),
  });
  return {
    host,
    app,
    keys,
    azurite,
    clock,
    async stop() {
      await host.close();
      await azurite.stop();
    },
  };
}
