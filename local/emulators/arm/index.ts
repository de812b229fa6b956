import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { closeServer, listen, readBodyWithin, sendJson } from '../../http.js';
import { ArmRequestError } from './errors.js';
import { type FlexibleServerSpec, FlexibleServers } from './flexibleServers.js';
import { AsyncOperations } from './operations.js';

export { ArmEmulatorError, ArmRequestError } from './errors.js';
export type { FlexibleServerSpec } from './flexibleServers.js';

export interface ArmEmulatorOptions {
  /** Server key and certificate (PEM), e.g. from `ensureLocalCertificates` in local/tls.ts: ARM clients insist on HTTPS. */
  tls: { key: string; cert: string };
  /** Port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Decides whether a bearer token is accepted; any non-empty token by default. */
  acceptToken?: (token: string) => boolean;
  /** How long a long-running operation stays InProgress before its work runs (for crash and timing tests). */
  operationDelayMs?: number;
  /** `Retry-After` sent with accepted operations; 0 sends none, leaving the client's own interval. */
  retryAfterSeconds?: number;
}

export interface ArmEmulator {
  /** Base URL: pass it as both `endpoint` and `$host` to ARM SDK clients. */
  url: string;
  registerFlexibleServer(spec: FlexibleServerSpec): { resourceId: string };
  /** Stops listening and waits for running operations to end. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;
const SEGMENT = '([^/]+)';
const FLEXIBLE_SERVER = new RegExp(
  `^/subscriptions/${SEGMENT}/resourcegroups/${SEGMENT}/providers/microsoft\\.dbforpostgresql/flexibleservers/${SEGMENT}$`,
  'i',
);
const ASYNC_OPERATION = new RegExp(
  `^/subscriptions/${SEGMENT}/providers/microsoft\\.dbforpostgresql/locations/${SEGMENT}/(azureasyncoperation|operationresults)/${SEGMENT}$`,
  'i',
);

/**
 * Starts an ARM emulator on 127.0.0.1 over HTTPS. For now it serves Flexible Server GET and
 * PATCH (the administrator password, through a real long-running operation: 202 +
 * `Azure-AsyncOperation` polled to Succeeded), each server backed by a real PostgreSQL.
 * Paths match case-insensitively (clients send `resourcegroups` too); a bearer token is required.
 * @example
 * const arm = await startArmEmulator({ tls: await ensureLocalCertificates('.vigil/tls') });
 * const { resourceId } = arm.registerFlexibleServer({ subscriptionId, resourceGroup: 'rg', name: 'pg', administratorLogin: 'azureadmin', controlPlane });
 * const client = new PostgreSQLManagementFlexibleServerClient(credential, subscriptionId, { endpoint: arm.url, $host: arm.url });
 * await client.servers.beginUpdateAndWait('rg', 'pg', { administratorLoginPassword: next });
 * await arm.close();
 */
export async function startArmEmulator(options: ArmEmulatorOptions): Promise<ArmEmulator> {
  const operations = new AsyncOperations();
  const servers = new FlexibleServers(operations, options.operationDelayMs ?? 0);
  const context: RouteContext = { operations, servers, options, baseUrl: '' };
  const server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    void handle(context, req, res);
  });
  context.baseUrl = `https://127.0.0.1:${await listen(server, options.port ?? 0)}`;
  return {
    url: context.baseUrl,
    registerFlexibleServer: (spec) => servers.register(spec),
    close: async () => {
      await closeServer(server);
      await operations.settle();
    },
  };
}

interface RouteContext {
  operations: AsyncOperations;
  servers: FlexibleServers;
  options: ArmEmulatorOptions;
  baseUrl: string;
}

async function handle(context: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('x-ms-request-id', randomUUID());
  try {
    authorize(req, context.options);
    const url = new URL(req.url ?? '/', context.baseUrl);
    const apiVersion = requireApiVersion(url);
    const path = decodeURIComponent(url.pathname).replace(/\/+$/, '');
    const server = FLEXIBLE_SERVER.exec(path);
    if (server) return await serveFlexibleServer(context, req, res, matched(server), apiVersion);
    const operation = ASYNC_OPERATION.exec(path);
    if (operation) return serveOperation(context, req, res, matched(operation));
    throw new ArmRequestError(
      404,
      'NoRegisteredProviderFound',
      `the emulator has no route for ${req.method} ${path}`,
    );
  } catch (error) {
    sendError(res, error);
  }
}

function authorize(req: IncomingMessage, options: ArmEmulatorOptions): void {
  const header = req.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (token === undefined || !(options.acceptToken ?? (() => true))(token))
    throw new ArmRequestError(
      401,
      token === undefined ? 'AuthenticationFailed' : 'InvalidAuthenticationToken',
      token === undefined
        ? "Authentication failed. The 'Authorization' header is missing or not a Bearer token."
        : 'The access token is invalid.',
    );
}

function requireApiVersion(url: URL): string {
  const version = url.searchParams.get('api-version');
  if (version === null)
    throw new ArmRequestError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  if (!API_VERSION.test(version))
    throw new ArmRequestError(400, 'InvalidApiVersionParameter', `The api-version '${version}' is invalid.`);
  return version;
}

async function serveFlexibleServer(
  context: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  [subscriptionId, resourceGroup, name]: string[],
  apiVersion: string,
): Promise<void> {
  const ids = [subscriptionId ?? '', resourceGroup ?? '', name ?? ''] as const;
  if (req.method === 'GET') return sendJson(res, 200, context.servers.get(...ids));
  if (req.method !== 'PATCH')
    throw new ArmRequestError(405, 'MethodNotAllowed', `${req.method} is not supported on a flexible server`);
  const body = await readJson(req);
  const { operationId, location } = context.servers.patch(...ids, body);
  const operations = `${context.baseUrl}/subscriptions/${ids[0]}/providers/Microsoft.DBforPostgreSQL/locations/${location}`;
  const query = `?api-version=${encodeURIComponent(apiVersion)}`;
  const retryAfter = context.options.retryAfterSeconds ?? 0;
  res.writeHead(202, {
    'azure-asyncoperation': `${operations}/azureAsyncOperation/${operationId}${query}`,
    location: `${operations}/operationResults/${operationId}${query}`,
    ...(retryAfter > 0 ? { 'retry-after': String(retryAfter) } : {}),
    'content-length': '0',
  });
  res.end();
}

/** `azureAsyncOperation` answers the status document; `operationResults` answers 202 until done, like ARM. */
function serveOperation(
  context: RouteContext,
  req: IncomingMessage,
  res: ServerResponse,
  [, , kind, id]: string[],
): void {
  if (req.method !== 'GET')
    throw new ArmRequestError(405, 'MethodNotAllowed', 'operations are read with GET');
  const operation = context.operations.get(id ?? '');
  if (operation === undefined)
    throw new ArmRequestError(404, 'OperationNotFound', `operation '${id}' was not found`);
  if (kind?.toLowerCase() === 'azureasyncoperation') sendJson(res, 200, operation);
  else if (operation.status === 'InProgress') res.writeHead(202, { 'content-length': '0' }).end();
  else if (operation.status === 'Failed') sendJson(res, 500, { error: operation.error });
  else res.writeHead(204).end();
}

function matched(match: RegExpExecArray): string[] {
  return match.slice(1).map((part) => part ?? '');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBodyWithin(req, MAX_BODY_BYTES);
  if (body === undefined)
    throw new ArmRequestError(413, 'RequestEntityTooLarge', 'the request body exceeds 1 MB');
  const text = body.toString('utf8');
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new ArmRequestError(400, 'InvalidRequestContent', 'the request body is not valid JSON');
  }
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end();
  } else if (error instanceof ArmRequestError) {
    if (error.status === 401) res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
    sendJson(res, error.status, { error: { code: error.code, message: error.message } });
  } else {
    // Only the error's class: an unexpected failure's message is not vetted for secrets.
    const kind = error instanceof Error ? error.name : typeof error;
    sendJson(res, 500, {
      error: { code: 'InternalServerError', message: `the ARM emulator failed (${kind})` },
    });
  }
}
