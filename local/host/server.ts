import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.js';
import { readBodyWithin } from '../http.js';
import { InvalidTokenError, principalHeaders } from './easyAuth.js';
import { handleWebhook } from './eventGridWebhook.js';
import {
  durableClientInputs,
  fromTypedData,
  type Invocation,
  invoke,
  type RpcHttpResponse,
  type TypedData,
  toTypedData,
} from './invoke.js';
import { type HostKeys, keyMatches } from './keys.js';
import type { Binding, LoadedApp, RegisteredFunction } from './registry.js';
import { compileRoute, type Route } from './routes.js';
import { parseSchedule, startTimers, type TimerStatusStore } from './timers.js';

/** The Durable Functions backend the host mounts: its HTTP API and the client binding it injects. */
export interface DurableBackend {
  clientBindingData(): unknown;
  /** Serves the request if it is one of the backend's routes. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  stop(): Promise<void>;
}

export interface HostOptions {
  app: LoadedApp;
  keys: HostKeys;
  clock: Clock;
  port: number;
  /** host.json `extensions.http.routePrefix`. */
  routePrefix?: string;
  /** Where timer runs are recorded, so a restarted host runs a missed occurrence (default: memory). */
  timerStatus?: TimerStatusStore;
  /** Built once the host knows its own URL, which the backend's status URLs point at. */
  durable?: (baseUrl: string) => Promise<DurableBackend>;
  log?: (line: string) => void;
}

export interface RunningHost {
  url: string;
  close(): Promise<void>;
}

interface HttpFunction {
  fn: RegisteredFunction;
  route: Route;
  methods: string[];
  authLevel: 'anonymous' | 'function' | 'admin';
}

const maxBodyBytes = 10 * 1024 * 1024;

/**
 * Serves a loaded function app as the Functions host does: HTTP triggers under the route prefix,
 * the Event Grid and Durable webhooks under `/runtime/webhooks`, timers on their schedule and the
 * admin API, with function keys and a local Easy Auth layer in front.
 * @example
 * const host = await startHost({ app: await loadApp(root), keys, clock: new Clock(), port: 7071 });
 */
export async function startHost(options: HostOptions): Promise<RunningHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  options.app.log ??= log;
  const httpFunctions = collectHttpFunctions(options.app, options.routePrefix ?? 'api');
  const timers = collectTimers(options.app);
  let durable: DurableBackend | undefined;
  // Requests that arrive while extensions start wait for them, as the real host does.
  let started: () => void = () => {};
  const startup = new Promise<void>((resolve) => {
    started = resolve;
  });
  const server = createServer((req, res) => {
    dispatch(req, res).catch((error: unknown) => {
      log(
        `[host] ${req.method} ${req.url?.split('?')[0]} failed: ${(error as Error).stack ?? String(error)}`,
      );
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://host');
    await startup;
    if (durable && (await durable.handle(req, res))) return;
    if (url.pathname.toLowerCase() === '/runtime/webhooks/eventgrid') return eventGrid(req, res, url);
    if (url.pathname.toLowerCase().startsWith('/admin/')) return admin(req, res, url);
    return http(req, res, url);
  }

  async function http(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const match = findHttpFunction(httpFunctions, url.pathname, method);
    if (!match) return send(res, 404, { error: `No function serves ${method} ${url.pathname}` });
    const { target, params } = match;
    const presentedKey = url.searchParams.get('code') ?? header(req, 'x-functions-key');
    if (!isAuthorized(target.authLevel, presentedKey, options.keys)) {
      return send(res, 401, {
        error: `This route needs a ${target.authLevel} key (code= or x-functions-key)`,
      });
    }
    const headers = await easyAuthHeaders(req, options.keys);
    if (!headers) return send(res, 401, { error: 'The bearer token is invalid or expired' }, bearerChallenge);
    const body = await readBody(req);
    if (!body) return send(res, 413, { error: `The request body exceeds ${maxBodyBytes} bytes` });
    const result = await run(target.fn, {
      trigger: {
        http: {
          method,
          url: `${address()}${url.pathname}${url.search}`,
          headers,
          query: Object.fromEntries(url.searchParams),
          params,
          ...(body.length > 0 && { body: { bytes: body } }),
        },
      },
    });
    const response =
      result.returnValue && 'http' in result.returnValue ? (result.returnValue.http as RpcHttpResponse) : {};
    res.writeHead(Number(response.statusCode ?? 200), response.headers ?? {});
    res.end(responseBody(response.body));
  }

  async function eventGrid(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (
      !keyMatches(
        url.searchParams.get('code'),
        options.keys.systemKeys.eventgrid_extension,
        options.keys.masterKey,
      )
    ) {
      return send(res, 401, {
        error: 'The Event Grid webhook needs the eventgrid_extension system key (code=)',
      });
    }
    const name = url.searchParams.get('functionName') ?? '';
    const fn = options.app.functions.get(name);
    if (!fn || triggerOf(fn).type !== 'eventGridTrigger') {
      return send(res, 404, { error: `No Event Grid function named "${name}"` });
    }
    const body = await readBody(req);
    if (!body) return send(res, 413, { error: `The request body exceeds ${maxBodyBytes} bytes` });
    const outcome = handleWebhook({
      method: req.method ?? 'POST',
      headers: flatHeaders(req),
      body: body.toString('utf8'),
    });
    if (outcome.kind === 'respond') return send(res, outcome.status, outcome.body, outcome.headers);
    // Like the extension, run a batch's events concurrently; any failure makes Event Grid retry the batch.
    const results = await Promise.allSettled(
      outcome.events.map((event) => run(fn, { trigger: toTypedData(event) })),
    );
    const failed = results.filter((result) => result.status === 'rejected').length;
    if (failed > 0)
      return send(res, 500, { error: `${failed} of ${results.length} events failed; Event Grid will retry` });
    send(res, 202);
  }

  async function admin(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // As in the real host, ping is open: load balancers use it to see that the host is up.
    if (url.pathname.toLowerCase() === '/admin/host/ping') return send(res, 200, { pid: process.pid });
    if (!keyMatches(url.searchParams.get('code') ?? header(req, 'x-functions-key'), options.keys.masterKey)) {
      return send(res, 401, { error: 'The admin API needs the master key' });
    }
    const json = parseJsonObject(await readBody(req));
    if (!json) return send(res, 400, { error: 'The body must be a JSON object' });
    const path = url.pathname.toLowerCase();
    if (req.method === 'GET' && path === '/admin/host/status') {
      return send(res, 200, { state: 'Running', functions: [...options.app.functions.keys()] });
    }
    if (req.method === 'POST' && path === '/admin/clock') {
      const advanceMs = Number(json.advanceMs);
      if (!Number.isFinite(advanceMs) || advanceMs < 0) {
        return send(res, 400, { error: 'advanceMs must be a number of milliseconds ≥ 0' });
      }
      options.clock.advance(advanceMs);
      return send(res, 200, { now: options.clock.now().toISOString(), offsetMs: options.clock.offsetMs });
    }
    const fire = /^\/admin\/functions\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && fire?.[1]) {
      const fn = options.app.functions.get(decodeURIComponent(fire[1]));
      if (!fn) return send(res, 404, { error: `No function named "${fire[1]}"` });
      const input = triggerOf(fn).type === 'timerTrigger' ? timerNow(options.clock) : (json.input ?? null);
      void run(fn, { trigger: toTypedData(input) }).catch((error: unknown) =>
        log(`[${fn.metadata.name}] ${error}`),
      );
      return send(res, 202);
    }
    send(res, 404, { error: `No admin route ${req.method} ${url.pathname}` });
  }

  function run(fn: RegisteredFunction, invocation: Invocation) {
    const extraInputs = durableClientInputs(fn, () => {
      if (!durable)
        throw new Error(`${fn.metadata.name} needs a durable client, but no Durable backend runs`);
      return durable.clientBindingData();
    });
    return invoke(options.app, fn, { ...invocation, extraInputs });
  }

  function address(): string {
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  // This host is the platform, which sets WEBSITE_HOSTNAME; without it df.getClient points status URLs at localhost:7071.
  process.env.WEBSITE_HOSTNAME = address().replace('http://', '');
  let scheduled: ReturnType<typeof startTimers> | undefined;
  const close = async () => {
    scheduled?.stop();
    await durable?.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    durable = await options.durable?.(address());
    scheduled = startTimers(
      timers.map(({ fn, schedule, runOnStartup }) => ({
        functionName: fn.metadata.name,
        schedule,
        runOnStartup,
        fire: async (info) => {
          await run(fn, { trigger: toTypedData(info) });
        },
      })),
      options.clock,
      (name, error) => log(`[${name}] timer failed: ${(error as Error).stack ?? String(error)}`),
      options.timerStatus,
    );
    await scheduled.armed;
  } catch (error) {
    await close();
    throw error;
  }
  started();
  return { url: address(), close };
}

function triggerOf(fn: RegisteredFunction): Binding {
  const trigger = Object.values(fn.metadata.bindings).find((binding) => /trigger$/i.test(binding.type));
  if (!trigger) throw new Error(`Function ${fn.metadata.name} has no trigger`);
  return trigger;
}

function collectHttpFunctions(app: LoadedApp, routePrefix: string): HttpFunction[] {
  const prefix = routePrefix ? `${routePrefix}/` : '';
  return [...app.functions.values()]
    .map((fn) => ({ fn, trigger: triggerOf(fn) }))
    .filter(({ trigger }) => trigger.type === 'httpTrigger')
    .map(({ fn, trigger }) => ({
      fn,
      route: compileRoute(`${prefix}${resolveSettings(String(trigger.route ?? fn.metadata.name))}`),
      methods: ((trigger.methods as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: String(trigger.authLevel ?? 'function').toLowerCase() as HttpFunction['authLevel'],
    }))
    .sort(byLiteralsFirst);
}

function collectTimers(app: LoadedApp) {
  return [...app.functions.values()]
    .map((fn) => ({ fn, trigger: triggerOf(fn) }))
    .filter(({ trigger }) => trigger.type === 'timerTrigger')
    .map(({ fn, trigger }) => {
      const schedule = resolveSettings(String(trigger.schedule));
      parseSchedule(fn.metadata.name, schedule);
      return { fn, schedule, runOnStartup: trigger.runOnStartup === true };
    });
}

/** Binding expressions `%NAME%` read app settings, as in the real host. */
function resolveSettings(text: string): string {
  return text.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`App setting ${name} is referenced as %${name}% but not set`);
    return value;
  });
}

function findHttpFunction(functions: HttpFunction[], pathname: string, method: string) {
  for (const target of functions) {
    const params = target.route.match(pathname);
    if (params && target.methods.includes(method)) return { target, params };
  }
  return undefined;
}

/** Like ASP.NET routing, a literal segment beats a parameter: `probes/latest` before `probes/{id}`. */
function byLiteralsFirst(a: HttpFunction, b: HttpFunction): number {
  return b.route.literals - a.route.literals;
}

function isAuthorized(
  level: HttpFunction['authLevel'],
  key: string | null | undefined,
  keys: HostKeys,
): boolean {
  if (level === 'anonymous') return true;
  if (level === 'admin') return keyMatches(key, keys.masterKey);
  return keyMatches(key, keys.functionKey, keys.masterKey);
}

const bearerChallenge = { 'WWW-Authenticate': 'Bearer realm="vigil-local"' };

/**
 * Request headers as Easy Auth forwards them: a caller's own `x-ms-client-principal*` headers are
 * dropped, a valid bearer token becomes the principal headers; undefined if the token is invalid.
 */
async function easyAuthHeaders(
  req: IncomingMessage,
  keys: HostKeys,
): Promise<Record<string, string> | undefined> {
  const headers = Object.fromEntries(
    Object.entries(flatHeaders(req)).filter(([name]) => !name.startsWith('x-ms-client-principal')),
  ) as Record<string, string>;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  if (!bearer?.[1]) return headers;
  try {
    return { ...headers, ...(await principalHeaders(keys.tokenSigningKey, bearer[1])) };
  } catch (error) {
    if (error instanceof InvalidTokenError) return undefined;
    throw error;
  }
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body, or undefined when it is larger than the host accepts. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return readBodyWithin(req, maxBodyBytes);
}

function responseBody(body: TypedData | undefined): Buffer | string {
  if (!body) return '';
  if ('bytes' in body) return Buffer.from(body.bytes);
  const value = fromTypedData(body);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function parseJsonObject(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body) return undefined;
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function timerNow(clock: Clock) {
  const now = clock.now().toISOString();
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: now, Next: now, LastUpdated: now },
    IsPastDue: false,
  };
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
