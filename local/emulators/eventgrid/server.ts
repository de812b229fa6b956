import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBodyWithin, sendJson } from '../../http.js';
import { EventGridEmulatorError, EventGridRequestError, SubscriptionValidationError } from './errors.js';
import { MAX_PUBLISH_BYTES, parseJson } from './inbound.js';
import type { TopicRegistry } from './topics.js';

/** The only data-plane version Event Grid's publish API has; the SDK sends it. */
const PUBLISH_API_VERSION = '2018-01-01';
const MAX_ADMIN_BYTES = 64 * 1024;

const PUBLISH = /^\/topics\/([^/]+)\/api\/events$/;
const ADMIN_TOPIC = /^\/admin\/topics\/([^/]+)$/;
const ADMIN_SYSTEM_TOPIC = /^\/admin\/systemTopics\/([^/]+)$/;
const ADMIN_SUBSCRIPTION = /^\/admin\/topics\/([^/]+)\/subscriptions\/([^/]+)$/;

/**
 * Routes the emulator's HTTP API: publishing to custom topics, and the admin API that creates topics
 * and subscriptions. Every failure answers Event Grid's `{"error": {"code", "message"}}` shape.
 * @example
 * https.createServer(tls, (req, res) => void routeRequest(registry, req, res));
 */
export async function routeRequest(
  registry: TopicRegistry,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'https://emulator.local');
    const path = decodePath(url.pathname);
    const publish = PUBLISH.exec(path);
    if (publish?.[1] !== undefined) return await handlePublish(registry, publish[1], url, req, res);
    if (path.startsWith('/admin/')) return await handleAdmin(registry, path, req, res);
    throw new EventGridRequestError(404, 'NotFound', `no route for ${req.method} ${path}`);
  } catch (error) {
    sendError(res, error);
  }
}

async function handlePublish(
  registry: TopicRegistry,
  topicName: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
) {
  if (req.method !== 'POST') throw new EventGridRequestError(405, 'MethodNotAllowed', 'publish with POST');
  const topic = registry.authorize(topicName, {
    key: header(req, 'aeg-sas-key'),
    sasToken: header(req, 'aeg-sas-token'),
  });
  const apiVersion = url.searchParams.get('api-version');
  if (apiVersion !== PUBLISH_API_VERSION) {
    throw new EventGridRequestError(
      400,
      'BadRequest',
      apiVersion === null
        ? `the api-version query parameter is required (?api-version=${PUBLISH_API_VERSION})`
        : `api-version ${apiVersion} is not supported; use ${PUBLISH_API_VERSION}`,
    );
  }
  const body = await readBody(req, MAX_PUBLISH_BYTES);
  registry.publishRequest(topic, header(req, 'content-type'), body);
  res.writeHead(200, { 'content-length': '0' }).end();
}

async function handleAdmin(registry: TopicRegistry, path: string, req: IncomingMessage, res: ServerResponse) {
  const subscription = ADMIN_SUBSCRIPTION.exec(path);
  if (subscription?.[1] !== undefined && subscription[2] !== undefined) {
    const [topic, name] = [subscription[1], subscription[2]];
    if (req.method === 'PUT')
      return sendJson(res, 201, await registry.createSubscription(topic, name, await readJson(req)));
    if (req.method === 'GET') return sendJson(res, 200, registry.getSubscription(topic, name));
    if (req.method === 'DELETE') {
      const deleted = registry.deleteSubscription(topic, name);
      return void res.writeHead(deleted ? 200 : 204, { 'content-length': '0' }).end();
    }
  }
  const topic = ADMIN_TOPIC.exec(path);
  if (topic?.[1] !== undefined && req.method === 'PUT') {
    const body = asObject(await readJson(req), 'topic');
    return sendJson(
      res,
      201,
      registry.createTopic({ ...body, name: topic[1] } as Parameters<TopicRegistry['createTopic']>[0]),
    );
  }
  const systemTopic = ADMIN_SYSTEM_TOPIC.exec(path);
  if (systemTopic?.[1] !== undefined && req.method === 'PUT') {
    const body = asObject(await readJson(req), 'system topic');
    const input = { ...body, name: systemTopic[1] } as Parameters<TopicRegistry['createSystemTopic']>[0];
    return sendJson(res, 201, registry.createSystemTopic(input));
  }
  if (path === '/admin/topics' && req.method === 'GET') return sendJson(res, 200, registry.listTopics());
  throw new EventGridRequestError(404, 'NotFound', `no admin route for ${req.method} ${path}`);
}

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch (cause) {
    throw new EventGridRequestError(400, 'BadRequest', 'the request path is not valid percent-encoding', {
      cause,
    });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EventGridRequestError(400, 'BadRequest', `${what}: the body must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(req, MAX_ADMIN_BYTES));
}

/** Reads at most `limit` bytes; beyond that answers 413. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readBodyWithin(req, limit);
  if (body !== undefined) return body;
  throw new EventGridRequestError(
    413,
    'RequestEntityTooLarge',
    `the request body exceeds ${limit} bytes, the most Event Grid accepts per request`,
  );
}

function sendError(res: ServerResponse, error: unknown): void {
  const [status, code, message] =
    error instanceof EventGridRequestError
      ? [error.status, error.code, error.message]
      : error instanceof SubscriptionValidationError
        ? [400, 'SubscriptionValidationFailed', error.message]
        : error instanceof EventGridEmulatorError
          ? [400, 'BadRequest', error.message]
          : [500, 'InternalServerError', 'the emulator failed; see its log'];
  if (status === 500) console.error('eventgrid emulator:', error);
  if (res.headersSent) return void res.end();
  // A rejected upload may still be streaming in; closing the connection stops it.
  sendJson(res.setHeader('connection', 'close'), status, { error: { code, message } });
}
