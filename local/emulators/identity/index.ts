import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../clock.js';

/**
 * The App Service managed identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), so the
 * app's `DefaultAzureCredential` gets tokens locally exactly as it does in Azure, with no code
 * path of its own for local runs. The emulators accept these tokens; nothing else does.
 */
export interface IdentityEndpoint {
  /** The environment the Functions host needs for its managed identity. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Tokens issued so far, by resource, for tests that check who asked for what. */
  issued(): { resource: string; at: Date }[];
  close(): Promise<void>;
}

export interface IdentityEndpointOptions {
  port?: number;
  clock: Clock;
  /** The object id the tokens name as the caller: the function app's identity. */
  principalId?: string;
}

const apiVersion = '2019-08-01';

/**
 * Starts the managed identity endpoint on loopback (plain HTTP, as App Service's is).
 * @example
 * const identity = await startIdentityEndpoint({ clock });
 * spawn(node, [host], { env: { ...process.env, ...identity.env } });
 */
export async function startIdentityEndpoint(options: IdentityEndpointOptions): Promise<IdentityEndpoint> {
  const secretHeader = randomBytes(24).toString('base64url');
  const principalId = options.principalId ?? '00000000-0000-4000-8000-00000000a11e';
  const issued: { resource: string; at: Date }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://identity');
    const fail = (status: number, error: string) =>
      res
        .writeHead(status, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error, error_description: error }));
    if (url.pathname !== '/msi/token') return fail(404, `unknown path ${url.pathname}`);
    if (req.headers['x-identity-header'] !== secretHeader)
      return fail(401, 'X-IDENTITY-HEADER is missing or wrong');
    if (url.searchParams.get('api-version') !== apiVersion)
      return fail(400, `api-version must be ${apiVersion}`);
    const resource = url.searchParams.get('resource');
    if (!resource) return fail(400, 'resource is required');
    const now = options.clock.now();
    const expiresOn = Math.floor(now.getTime() / 1000) + 3600;
    issued.push({ resource, at: now });
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        access_token: unsignedJwt({ aud: resource, oid: principalId, sub: principalId, exp: expiresOn }),
        expires_on: String(expiresOn),
        resource,
        token_type: 'Bearer',
        client_id: principalId,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: secretHeader },
    issued: () => [...issued],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A JWT-shaped token: SDKs read its claims, and the local emulators do not check signatures. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
