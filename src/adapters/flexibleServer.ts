import type { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import type { TokenCredential } from '@azure/identity';
import { loadRotationConfig, type RotationConfig } from '../config.js';
import { detached, scrub } from './redaction.js';

/** A Flexible Server by its ARM coordinates. */
export interface FlexibleServerLocation {
  subscriptionId: string;
  resourceGroup: string;
  serverName: string;
}

/** What ARM reports about a server that a rotation needs; never a password. */
export interface FlexibleServerFacts {
  administratorLogin: string;
  fullyQualifiedDomainName: string;
}

export interface FlexibleServerAdministrator {
  describe(server: FlexibleServerLocation): Promise<FlexibleServerFacts>;
  /** PATCHes `administratorLoginPassword` and waits for the long-running operation to finish. */
  setPassword(server: FlexibleServerLocation, password: string): Promise<void>;
}

export type FlexibleServerFailure = 'not-found' | 'busy' | 'forbidden' | 'rejected' | 'unavailable';

/** An ARM call on a Flexible Server failed; the message names the server and ARM's error, never a password. */
export class FlexibleServerError extends Error {
  override name = 'FlexibleServerError';

  constructor(
    readonly failure: FlexibleServerFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Worth retrying later: the server is busy with another operation, ARM throttles or is down. */
  get transient(): boolean {
    return this.failure === 'busy' || this.failure === 'unavailable';
  }
}

const clients = new Map<string, Promise<PostgreSQLManagementFlexibleServerClient>>();
let credential: Promise<TokenCredential> | undefined;

/**
 * The Flexible Server administrator through ARM (`@azure/arm-postgresql-flexible`) with the app's
 * managed identity; clients are built on first use, against `VIGIL_ARM_ENDPOINT`.
 * @example
 * const server = { subscriptionId, resourceGroup: 'rg-data', serverName: 'pg-prod' };
 * await flexibleServerAdministrator().setPassword(server, next);
 */
export function flexibleServerAdministrator(
  config: RotationConfig = loadRotationConfig(),
): FlexibleServerAdministrator {
  const client = (subscriptionId: string) => clientFor(config.armEndpoint, subscriptionId);
  return {
    describe: (server) =>
      guarded(server, 'read', [], async () => {
        const found = await (await client(server.subscriptionId)).servers.get(
          server.resourceGroup,
          server.serverName,
        );
        if (!found.administratorLogin || !found.fullyQualifiedDomainName)
          throw new FlexibleServerError(
            'rejected',
            `ARM reports no administratorLogin or fullyQualifiedDomainName for ${describeServer(server)}: password authentication may be off`,
          );
        return {
          administratorLogin: found.administratorLogin,
          fullyQualifiedDomainName: found.fullyQualifiedDomainName,
        };
      }),
    setPassword: (server, password) =>
      guarded(server, 'set the administrator password of', [password], async () => {
        await (await client(server.subscriptionId)).servers.beginUpdateAndWait(
          server.resourceGroup,
          server.serverName,
          {
            administratorLoginPassword: password,
          },
        );
      }),
  };
}

function clientFor(
  endpoint: string,
  subscriptionId: string,
): Promise<PostgreSQLManagementFlexibleServerClient> {
  const key = `${endpoint}|${subscriptionId}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = createClient(endpoint, subscriptionId);
    clients.set(key, client);
    client.catch(() => clients.delete(key));
  }
  return client;
}

async function createClient(
  endpoint: string,
  subscriptionId: string,
): Promise<PostgreSQLManagementFlexibleServerClient> {
  // Both SDKs are imported on first use, not at load time, to keep them off every function's cold start.
  const { PostgreSQLManagementFlexibleServerClient } = await import('@azure/arm-postgresql-flexible');
  // One credential per process: it caches tokens.
  credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
  return new PostgreSQLManagementFlexibleServerClient(await credential, subscriptionId, {
    endpoint,
    $host: endpoint,
  });
}

function describeServer(server: FlexibleServerLocation): string {
  return `flexible server ${server.serverName} (resource group ${server.resourceGroup}, subscription ${server.subscriptionId})`;
}

async function guarded<T>(
  server: FlexibleServerLocation,
  what: string,
  secrets: readonly string[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FlexibleServerError) throw error;
    const status = field(error, 'statusCode');
    const code = field(error, 'code');
    const message = scrub(error instanceof Error ? error.message : String(error), secrets);
    const detail = [typeof status === 'number' && `HTTP ${status}`, typeof code === 'string' && code]
      .filter(Boolean)
      .join(' ');
    // Only the name and message survive as the cause: the SDK error holds the request, password included.
    const cause = detached(error, message);
    throw new FlexibleServerError(
      classify(typeof status === 'number' ? status : undefined, typeof code === 'string' ? code : ''),
      `ARM could not ${what} ${describeServer(server)} (${detail || 'no response'}): ${message}`,
      { cause },
    );
  }
}

function classify(status: number | undefined, code: string): FlexibleServerFailure {
  if (status === undefined || status >= 500 || status === 429 || status === 408) return 'unavailable';
  if (status === 409 || /busy|conflict|inprogress/i.test(code)) return 'busy';
  if (status === 404) return 'not-found';
  if (status === 401 || status === 403) return 'forbidden';
  return 'rejected';
}

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}
