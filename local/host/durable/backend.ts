import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../../http.js';
import { DurableEngine, type DurableEngineOptions } from './engine.js';
import { type ClientSettings, clientBindingData, DurableHttpApi, rpcPrefix } from './httpApi.js';

export interface DurableBackendOptions extends DurableEngineOptions {
  /** The host's origin, e.g. `http://127.0.0.1:7071`. */
  baseUrl: string;
  /** The host's `durabletask_extension` system key. */
  systemKey: string;
  /** Further keys the webhooks accept (the master key). */
  otherKeys?: string[];
  connectionName?: string;
}

export interface StartedDurableBackend {
  engine: DurableEngine;
  /** The OrchestrationClientInputData the host injects into `durableClient` inputs. */
  clientBindingData(): ReturnType<typeof clientBindingData>;
  /** Serves the keyed webhook routes on the host's port; resolves false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Stops the engine and closes the RPC listener. */
  stop(): Promise<void>;
}

/**
 * Starts the engine on the task hub (resuming whatever it holds) with its HTTP API, in the
 * shape the local host mounts. The keyless RPC routes the SDK's client calls get a listener of
 * their own on 127.0.0.1 and a free port, as the extension does, so the host's port serves only
 * the keyed webhooks.
 * @example
 * durable: (baseUrl) => startDurableBackend({ app, clock, connectionString, hubName: 'VigilHub', baseUrl, systemKey }),
 */
export async function startDurableBackend(options: DurableBackendOptions): Promise<StartedDurableBackend> {
  // Activities resumed while the engine starts may call the client before the API exists: wait for it.
  let apiIsReady: (api: DurableHttpApi) => void = () => {};
  const apiReady = new Promise<DurableHttpApi>((resolve) => {
    apiIsReady = resolve;
  });
  const log = options.log ?? ((line: string) => console.error(line));
  const rpc = createServer((req, res) => {
    apiReady
      .then((api) => api.handleRpc(req, res))
      .catch((error: unknown) => {
        log(`[durable] RPC ${req.method} ${req.url?.split('?')[0]} failed: ${String(error)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  const rpcOrigin = await listenOnLoopback(rpc);
  const client: ClientSettings = {
    baseUrl: options.baseUrl,
    systemKey: options.systemKey,
    hubName: options.hubName,
    rpcBaseUrl: `${rpcOrigin}${rpcPrefix}`,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  };
  const binding = clientBindingData(client);
  let engine: DurableEngine;
  try {
    engine = await DurableEngine.start({ ...options, clientBindingData: () => binding });
  } catch (error) {
    await closeServer(rpc);
    throw error;
  }
  const api = new DurableHttpApi({
    ...client,
    engine,
    ...(options.otherKeys ? { otherKeys: options.otherKeys } : {}),
  });
  apiIsReady(api);
  return {
    engine,
    clientBindingData: () => binding,
    handle: (req, res) => api.handle(req, res),
    stop: async () => {
      await closeServer(rpc);
      await engine.stop();
    },
  };
}

async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
