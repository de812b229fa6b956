import type { IncomingMessage, ServerResponse } from 'node:http';
import { DurableEngine, type DurableEngineOptions } from './engine.js';
import { DurableHttpApi } from './httpApi.js';

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
  clientBindingData(): ReturnType<DurableHttpApi['clientBindingData']>;
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts the engine on the task hub (resuming whatever it holds) with its HTTP API, in the
 * shape the local host mounts.
 * @example
 * durable: (baseUrl) => startDurableBackend({ app, clock, connectionString, hubName: 'VigilHub', baseUrl, systemKey }),
 */
export async function startDurableBackend(options: DurableBackendOptions): Promise<StartedDurableBackend> {
  const engine = await DurableEngine.start(options);
  const api = new DurableHttpApi({
    engine,
    baseUrl: options.baseUrl,
    systemKey: options.systemKey,
    ...(options.otherKeys ? { otherKeys: options.otherKeys } : {}),
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
  });
  return {
    engine,
    clientBindingData: () => api.clientBindingData(),
    handle: (req, res) => api.handle(req, res),
    stop: () => engine.stop(),
  };
}
