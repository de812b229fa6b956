import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBodyWithin } from '../../http.js';
import { keyMatches } from '../keys.js';
import type { DurableEngine } from './engine.js';
import { DurableClientError } from './errors.js';
import { statusPayload } from './status.js';
import { type InstanceRecord, terminalStatuses } from './store.js';

export interface DurableHttpOptions {
  engine: DurableEngine;
  /** The host's own origin, e.g. `http://127.0.0.1:7071`: status URLs point here. */
  baseUrl: string;
  /** The `durabletask_extension` system key, put into the management URLs as `code`. */
  systemKey: string;
  /** Further keys the webhooks accept (the host's master key). */
  otherKeys?: string[];
  /** The storage connection setting's name, echoed in the URLs as `connection`. */
  connectionName?: string;
  /**
   * The keyless RPC listener's base URL, e.g. `http://127.0.0.1:53211/durabletask/`: a separate
   * loopback-only server, as the extension runs it, never the host's public port.
   */
  rpcBaseUrl: string;
}

const webhookPrefix = '/runtime/webhooks/durabletask/';
/** Served without a key, only on the loopback RPC listener the SDK's client calls. */
export const rpcPrefix = '/durabletask/';

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/**
 * The Durable extension's HTTP API: the public webhooks under `/runtime/webhooks/durabletask`
 * (guarded by the system key, served on the host's port by `handle`) and the same routes without
 * a key under the RPC base URL that durable-functions' `DurableClient` calls (served by
 * `handleRpc` on a loopback-only listener of their own).
 * @example
 * const api = new DurableHttpApi({ engine, baseUrl: 'http://127.0.0.1:7071', systemKey, rpcBaseUrl });
 * if (await api.handle(req, res)) return;
 */
export class DurableHttpApi {
  constructor(readonly options: DurableHttpOptions) {}

  /** The durable client binding's data, as the extension hands it to a function. */
  clientBindingData() {
    return clientBindingData({ ...this.options, hubName: this.options.engine.hubName });
  }

  /**
   * Serves the request if it is one of the keyed webhook routes; resolves false otherwise. The
   * keyless RPC routes are not served here: this runs on the host's public port.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', this.options.baseUrl);
    if (!url.pathname.toLowerCase().startsWith(webhookPrefix)) return false;
    if (
      !keyMatches(url.searchParams.get('code'), this.options.systemKey, ...(this.options.otherKeys ?? []))
    ) {
      send(res, {
        status: 401,
        body: { Message: 'A valid durabletask_extension system key (code=…) is required' },
      });
      return true;
    }
    await this.#serve(req, res, url, url.pathname.slice(webhookPrefix.length));
    return true;
  }

  /**
   * Serves a request to the loopback RPC listener: the routes under `/durabletask/`, no key.
   * Anything else there is 404.
   */
  async handleRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.options.rpcBaseUrl);
    if (!url.pathname.toLowerCase().startsWith(rpcPrefix)) return send(res, { status: 404 });
    await this.#serve(req, res, url, url.pathname.slice(rpcPrefix.length));
  }

  async #serve(req: IncomingMessage, res: ServerResponse, url: URL, rawPath: string): Promise<void> {
    try {
      send(res, await this.#route(req, url, pathSegments(rawPath)));
    } catch (error) {
      if (error instanceof DurableClientError)
        send(res, { status: error.status, body: { Message: error.message } });
      else throw error;
    }
  }

  async #route(req: IncomingMessage, url: URL, segments: string[]): Promise<Reply> {
    const [controller, id, operation, eventName] = segments;
    const method = req.method ?? 'GET';
    if (controller === 'orchestrators' && id && method === 'POST')
      return this.#start(req, url, id, operation);
    if (controller === 'instances' && !id && method === 'GET') return this.#list(url);
    if (controller === 'instances' && !id && method === 'DELETE') return this.#purgeBy(url);
    if (controller === 'instances' && id && !operation && method === 'GET') return this.#status(url, id);
    if (controller === 'instances' && id && !operation && method === 'DELETE')
      return { status: 200, body: { instancesDeleted: await this.#purgeOne(id) } };
    if (controller === 'instances' && id && method === 'POST' && operation === 'terminate') {
      await this.options.engine.terminate(id, url.searchParams.get('reason') ?? undefined);
      return { status: 202 };
    }
    if (controller === 'instances' && id && method === 'POST' && operation === 'raiseEvent' && eventName)
      return this.#raise(req, id, eventName);
    if (controller === 'instances' && id && method === 'POST' && operation)
      return { status: 501, body: { Message: `The local Durable host does not implement '${operation}'` } };
    if (controller === 'entities')
      return {
        status: 501,
        body: { Message: 'Durable entities are not implemented by the local Durable host' },
      };
    return { status: 404 };
  }

  async #start(req: IncomingMessage, url: URL, name: string, instanceId: string | undefined): Promise<Reply> {
    const text = await readBody(req);
    let input: unknown;
    try {
      input = text === '' ? undefined : JSON.parse(text);
    } catch (error) {
      throw new DurableClientError('Invalid JSON content: the request body must be JSON', 400, {
        cause: error,
      });
    }
    const id = await this.options.engine.startNew(name, { ...(instanceId ? { instanceId } : {}), input });
    const timeout = Number(url.searchParams.get('timeout'));
    if (timeout > 0) {
      const done = await this.options.engine
        .waitFor(id, { timeoutMs: timeout * 1000 })
        .catch(() => undefined);
      if (done?.runtimeStatus === 'Completed')
        return { status: 200, body: JSON.parse(done.output ?? 'null') };
      if (done) return { status: 200, body: await statusPayload(this.options.engine, done, {}) };
    }
    return this.#checkStatus(id);
  }

  #checkStatus(id: string): Reply {
    const urls = managementUrls(
      id,
      `${this.clientBindingData().baseUrl}/instances/${encodeURIComponent(id)}`,
      this.#query(),
    );
    return {
      status: 202,
      body: urls,
      headers: { Location: urls.statusQueryGetUri, 'Retry-After': '10' },
    };
  }

  async #status(url: URL, id: string): Promise<Reply> {
    const record = await this.options.engine.getInstance(id);
    if (!record) return { status: 404 };
    const flags = url.searchParams;
    const body = await statusPayload(this.options.engine, record, {
      showHistory: flags.get('showHistory') === 'true',
      showHistoryOutput: flags.get('showHistoryOutput') === 'true',
      showInput: flags.get('showInput') !== 'false',
    });
    if (!terminalStatuses.has(record.runtimeStatus))
      return { status: 202, body, headers: { Location: url.href, 'Retry-After': '5' } };
    const failedAs500 =
      record.runtimeStatus === 'Failed' && flags.get('returnInternalServerErrorOnFailure') === 'true';
    return { status: failedAs500 ? 500 : 200, body };
  }

  async #list(url: URL): Promise<Reply> {
    const matches = filterInstances(await this.options.engine.listInstances(), url);
    const top = Number(url.searchParams.get('top'));
    const page = top > 0 ? matches.slice(0, top) : matches;
    const showInput = url.searchParams.get('showInput') === 'true';
    const body = await Promise.all(
      page.map((record) => statusPayload(this.options.engine, record, { showInput })),
    );
    return { status: 200, body };
  }

  async #purgeOne(id: string): Promise<number> {
    const deleted = await this.options.engine.purge(id);
    if (deleted === 0) throw new DurableClientError(`No instance with ID '${id}' found.`, 404);
    return deleted;
  }

  async #purgeBy(url: URL): Promise<Reply> {
    if (!url.searchParams.get('createdTimeFrom'))
      return { status: 400, body: { Message: "Please provide value for 'createdTimeFrom' parameter." } };
    const doomed = filterInstances(await this.options.engine.listInstances(), url).filter((r) =>
      terminalStatuses.has(r.runtimeStatus),
    );
    let deleted = 0;
    for (const record of doomed) deleted += await this.options.engine.purge(record.instanceId);
    return deleted === 0 ? { status: 404 } : { status: 200, body: { instancesDeleted: deleted } };
  }

  async #raise(req: IncomingMessage, id: string, eventName: string): Promise<Reply> {
    const record = await this.options.engine.getInstance(id);
    if (!record) return { status: 404 };
    if (terminalStatuses.has(record.runtimeStatus)) return { status: 410 };
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json')
      return { status: 400, body: { Message: 'Only application/json request content is supported' } };
    const text = await readBody(req);
    let data: unknown;
    try {
      data = text === '' ? null : JSON.parse(text);
    } catch (error) {
      throw new DurableClientError('Invalid JSON content: the event data must be JSON', 400, {
        cause: error,
      });
    }
    await this.options.engine.raiseEvent(id, eventName, data);
    return { status: 202 };
  }

  #query(): string {
    return managementQuery({ ...this.options, hubName: this.options.engine.hubName });
  }
}

/** What the client binding's URLs are made of: known before the engine starts. */
export interface ClientSettings {
  baseUrl: string;
  systemKey: string;
  hubName: string;
  connectionName?: string;
  rpcBaseUrl: string;
}

/**
 * The durable client binding's data, as the extension hands it to a function.
 * @example
 * const data = clientBindingData({ baseUrl, systemKey, hubName: 'vigil', rpcBaseUrl });
 */
export function clientBindingData(settings: ClientSettings) {
  const base = `${settings.baseUrl}${webhookPrefix.slice(0, -1)}`;
  const code = encodeURIComponent(settings.systemKey);
  return {
    taskHubName: settings.hubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?code=${code}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&code=${code}`,
    },
    managementUrls: managementUrls('INSTANCEID', `${base}/instances/INSTANCEID`, managementQuery(settings)),
    baseUrl: base,
    requiredQueryStringParameters: `code=${code}`,
    rpcBaseUrl: settings.rpcBaseUrl,
  };
}

function managementQuery(settings: ClientSettings): string {
  const code = encodeURIComponent(settings.systemKey);
  return `taskHub=${settings.hubName}&connection=${settings.connectionName ?? 'Storage'}&code=${code}`;
}

function managementUrls(id: string, instance: string, query: string) {
  return {
    id,
    statusQueryGetUri: `${instance}?${query}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${query}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${query}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${query}`,
    purgeHistoryDeleteUri: `${instance}?${query}`,
    restartPostUri: `${instance}/restart?${query}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${query}`,
    resumePostUri: `${instance}/resume?reason={text}&${query}`,
  };
}

/**
 * Splits the still-encoded path, then decodes each segment, so an encoded `/` (`a%2Fb`) stays
 * inside its segment and malformed percent-encoding is a 400 naming the segment.
 */
function pathSegments(rawPath: string): string[] {
  return rawPath
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch (error) {
        throw new DurableClientError(
          `The request path segment "${segment.slice(0, 120)}" has malformed percent-encoding`,
          400,
          { cause: error },
        );
      }
    });
}

function filterInstances(records: InstanceRecord[], url: URL): InstanceRecord[] {
  const params = url.searchParams;
  const statuses = params.get('runtimeStatus')?.split(',').filter(Boolean);
  const from = params.get('createdTimeFrom');
  const to = params.get('createdTimeTo');
  const prefix = params.get('instanceIdPrefix');
  return records
    .filter((r) => !statuses || statuses.includes(r.runtimeStatus))
    .filter((r) => !from || r.createdTime >= new Date(from))
    .filter((r) => !to || r.createdTime <= new Date(to))
    .filter((r) => !prefix || r.instanceId.startsWith(prefix))
    .sort((a, b) => a.createdTime.getTime() - b.createdTime.getTime());
}

const maxBodyBytes = 10 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const body = await readBodyWithin(req, maxBodyBytes);
  if (body === undefined) throw new DurableClientError('The request body exceeds 10 MiB', 400);
  return body.toString('utf8');
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
  if (body) headers['Content-Type'] = 'application/json; charset=utf-8';
  res.writeHead(reply.status, headers);
  res.end(body);
}
