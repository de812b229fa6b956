import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBodyWithin } from '../../http.js';
import { deletedSecretBundle, secretBundle, secretListItem, versionListItem } from './bundles.js';
import { badParameter, KeyVaultRestError } from './errors.js';
import type { VaultIdentity } from './events.js';
import type { FaultInjector } from './faults.js';
import { parseSetSecretBody, parseUpdateSecretBody } from './model.js';
import type { SecretVault } from './vault.js';

/** Everything one vault's server needs to answer a request. */
export interface VaultContext {
  identity: VaultIdentity;
  vault: SecretVault;
  faults: FaultInjector;
  tenantId: string;
  /** Called after a request changed the vault; resolves once the change is on disk. */
  changed: () => Promise<void>;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface ParsedRequest {
  method: string;
  segments: string[];
  query: URLSearchParams;
  body: unknown;
}

// Key Vault pages lists by 25 at most.
const maxPageSize = 25;
const maxBodyBytes = 256 * 1024;

/**
 * Serves one request of Key Vault's secrets REST API for the vault in `context`.
 * @example
 * https.createServer(tls, (req, res) => void serveVaultRequest(context, req, res));
 */
export async function serveVaultRequest(
  context: VaultContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let reply: Reply;
  try {
    reply = await answer(context, req);
  } catch (error) {
    reply = errorReply(error);
  }
  if (!req.readableEnded) req.resume();
  send(res, reply);
}

async function answer(context: VaultContext, req: IncomingMessage): Promise<Reply> {
  if (!hasBearerToken(req)) return challenge(context.tenantId);
  const url = new URL(req.url ?? '/', context.identity.url);
  const refusal = context.faults.check(context.identity.name, Date.now(), {
    method: req.method ?? 'GET',
    path: url.pathname,
  });
  if (refusal) return { ...errorReply(refusal.error), headers: refusal.headers };
  if (!url.searchParams.get('api-version'))
    throw badParameter('api-version', 'the query parameter is required');
  const request: ParsedRequest = {
    method: req.method ?? 'GET',
    segments: pathSegments(url.pathname),
    query: url.searchParams,
    body: await readJson(req),
  };
  const reply = route(context, request);
  if (request.method !== 'GET') await context.changed();
  return reply;
}

function route(context: VaultContext, request: ParsedRequest): Reply {
  const [collection, name, part, extra] = request.segments;
  if (extra !== undefined || collection === undefined) return notFound(request);
  const op = `${request.method} ${collection.toLowerCase()}${name === undefined ? '' : ' name'}${part ? ' part' : ''}`;
  switch (op) {
    case 'GET secrets':
      return list(context, request, context.vault.list(), (secret) =>
        secretListItem(context.identity.url, secret),
      );
    case 'GET deletedsecrets':
      return list(context, request, context.vault.listDeleted(), (secret) =>
        deletedSecretBundle(context.identity.url, secret),
      );
  }
  if (name === undefined) return notFound(request);
  return routeSecret(context, request, op, name, part);
}

function routeSecret(
  context: VaultContext,
  request: ParsedRequest,
  op: string,
  name: string,
  part: string | undefined,
): Reply {
  const { vault } = context;
  const vaultUrl = context.identity.url;
  const ok = (body: unknown): Reply => ({ status: 200, body });
  switch (op) {
    case 'PUT secrets name': {
      const { secret, version } = vault.set(name, parseSetSecretBody(request.body));
      return ok(secretBundle(vaultUrl, secret, version, { withValue: true }));
    }
    case 'GET secrets name':
    case 'GET secrets name part': {
      if (part?.toLowerCase() === 'versions') {
        const secret = vault.versions(name);
        return list(context, request, secret.versions, (version) =>
          versionListItem(vaultUrl, secret, version),
        );
      }
      const { secret, version } = vault.get(name, part);
      return ok(secretBundle(vaultUrl, secret, version, { withValue: true }));
    }
    case 'PATCH secrets name':
    case 'PATCH secrets name part': {
      const { secret, version } = vault.update(name, part, parseUpdateSecretBody(request.body));
      return ok(secretBundle(vaultUrl, secret, version, { withValue: false }));
    }
    case 'DELETE secrets name':
      return ok(deletedSecretBundle(vaultUrl, vault.delete(name)));
    case 'GET deletedsecrets name':
      return ok(deletedSecretBundle(vaultUrl, vault.getDeleted(name)));
    case 'DELETE deletedsecrets name':
      vault.purge(name);
      return { status: 204 };
    case 'POST deletedsecrets name part':
      if (part?.toLowerCase() !== 'recover') return notFound(request);
      return recovered(vaultUrl, vault.recover(name));
    default:
      return notFound(request);
  }
}

function recovered(vaultUrl: string, secret: ReturnType<SecretVault['recover']>): Reply {
  const current = secret.versions.at(-1);
  if (!current) throw new KeyVaultRestError(500, 'InternalError', `secret ${secret.name} has no versions`);
  return { status: 200, body: secretBundle(vaultUrl, secret, current, { withValue: false }) };
}

/** One page of a list, with a `nextLink` carrying the offset while more remain. */
function list<T>(
  context: VaultContext,
  request: ParsedRequest,
  all: T[],
  toItem: (entry: T) => unknown,
): Reply {
  const size = pageSize(request.query.get('maxresults'));
  const offset = skipOffset(request.query.get('$skiptoken'));
  const page = all.slice(offset, offset + size);
  let nextLink: string | null = null;
  if (offset + size < all.length) {
    const next = new URL(`${context.identity.url}/${request.segments.map(encodeURIComponent).join('/')}`);
    next.searchParams.set('api-version', request.query.get('api-version') ?? '');
    next.searchParams.set('$skiptoken', Buffer.from(String(offset + size)).toString('base64url'));
    next.searchParams.set('maxresults', String(size));
    nextLink = next.toString();
  }
  return { status: 200, body: { value: page.map(toItem), nextLink } };
}

function pageSize(raw: string | null): number {
  if (raw === null || raw === '') return maxPageSize;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > maxPageSize) {
    throw badParameter('maxresults', `must be an integer from 1 to ${maxPageSize}, got "${raw}"`);
  }
  return size;
}

function skipOffset(token: string | null): number {
  if (token === null) return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString());
  if (!Number.isInteger(offset) || offset < 0)
    throw badParameter('$skiptoken', 'is not a token this vault issued');
  return offset;
}

function pathSegments(pathname: string): string[] {
  try {
    const segments = pathname.split('/').slice(1).map(decodeURIComponent);
    // `/secrets/db/` is how the SDK asks for the current version: same as `/secrets/db`.
    if (segments.length > 1 && segments.at(-1) === '') segments.pop();
    return segments;
  } catch (error) {
    throw badParameter('path', 'is not valid percent-encoding', error);
  }
}

function hasBearerToken(req: IncomingMessage): boolean {
  return /^Bearer\s+\S+/i.test(req.headers.authorization ?? '');
}

/** The unauthenticated first request: Key Vault names the authority and resource to get a token for. */
function challenge(tenantId: string): Reply {
  return {
    status: 401,
    headers: {
      'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
    },
    body: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
  };
}

function notFound(request: ParsedRequest): Reply {
  const path = `/${request.segments.join('/')}`;
  throw new KeyVaultRestError(
    404,
    'NotFound',
    `${request.method} ${path} is not an operation of the secrets API`,
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBodyWithin(req, maxBodyBytes);
  if (body === undefined)
    throw new KeyVaultRestError(413, 'RequestEntityTooLarge', `body: must be at most ${maxBodyBytes} bytes`);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badParameter('body', 'is not valid JSON', error);
  }
}

function errorReply(error: unknown): Reply {
  if (error instanceof KeyVaultRestError) return { status: error.status, body: error.toBody() };
  // An emulator bug must still answer in the service's shape, without echoing request data.
  return {
    status: 500,
    body: {
      error: { code: 'InternalError', message: error instanceof Error ? error.name : 'unexpected error' },
    },
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = {
    'x-ms-request-id': randomUUID(),
    'x-ms-keyvault-service-version': '1.9.0.0',
    'cache-control': 'no-cache',
    ...reply.headers,
  };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  const body = JSON.stringify(reply.body);
  res
    .writeHead(reply.status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    })
    .end(body);
}
