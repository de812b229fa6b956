import type { TokenCredential } from '@azure/identity';
import type { SecretClient, SecretClientOptions, SecretProperties } from '@azure/keyvault-secrets';
import { loadRotationConfig, type RotationConfig } from '../config.js';
import { detached } from './redaction.js';
import { VaultPacer } from './vaultPacer.js';

/** One version of a secret as Vigil sees it: everything but the value. */
export interface SecretVersionInfo {
  name: string;
  version: string;
  enabled: boolean;
  createdOn?: Date;
  expiresOn?: Date;
  contentType?: string;
  tags: Record<string, string>;
}

export interface NewSecretVersion {
  tags: Record<string, string>;
  expiresOn?: Date;
  contentType?: string;
}

/** The secrets of one vault. Values are returned to the caller only, never logged or wrapped in errors. */
export interface SecretStore {
  /** The current (latest) version's properties, or undefined when the secret does not exist. */
  current(name: string): Promise<SecretVersionInfo | undefined>;
  /** The value of one version; a disabled version fails with `forbidden`. */
  value(name: string, version: string): Promise<string>;
  /** Every version's properties, oldest first; empty when the secret does not exist. */
  versions(name: string): Promise<SecretVersionInfo[]>;
  /** Writes a new version, which becomes the current one. */
  set(name: string, value: string, version: NewSecretVersion): Promise<SecretVersionInfo>;
  /** Disables one version: it can no longer be read. Disabling a disabled version is a no-op. */
  disable(name: string, version: string): Promise<void>;
  /** Every secret's current-version properties. */
  secrets(): Promise<SecretVersionInfo[]>;
}

/** Why a Key Vault call failed, so callers can tell "retry later" from "this will never work". */
export type KeyVaultFailure =
  | 'throttled'
  | 'unavailable'
  | 'not-found'
  | 'forbidden'
  | 'conflict'
  | 'rejected';

/** A Key Vault call failed. Carries the status and Key Vault's error code, never a secret value. */
export class KeyVaultError extends Error {
  override name = 'KeyVaultError';

  constructor(
    readonly failure: KeyVaultFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** Worth retrying later: throttling, a 5xx or a network failure. */
  get transient(): boolean {
    return this.failure === 'throttled' || this.failure === 'unavailable';
  }
}

const clients = new Map<string, Promise<SecretClient>>();
let credential: Promise<TokenCredential> | undefined;

/**
 * The secrets of `vaultName`, through `SecretClient` with the app's managed identity. The client is
 * built on first use and reused; the vault URL comes from `VIGIL_KEYVAULT_URL_TEMPLATE`.
 * @example
 * const store = keyVault('kv-prod');
 * const current = await store.current('db-password');
 */
export function keyVault(vaultName: string, config: RotationConfig = loadRotationConfig()): SecretStore {
  const url = vaultUrl(config.keyVaultUrlTemplate, vaultName);
  const client = () => clientFor(url, config.keyVaultChallengeVerification);
  const call = <T>(what: string, work: (c: SecretClient) => Promise<T>) =>
    guarded(what, async () => work(await client()));
  return {
    current: (name) =>
      call(`read ${name}`, async (c) => info((await c.getSecret(name)).properties)).catch(
        notFoundAs(undefined),
      ),
    value: (name, version) =>
      call(`read ${name}/${version}`, async (c) => (await c.getSecret(name, { version })).value ?? ''),
    versions: (name) =>
      call(`list the versions of ${name}`, async (c) => {
        const found: SecretVersionInfo[] = [];
        for await (const properties of c.listPropertiesOfSecretVersions(name)) found.push(info(properties));
        return found.sort(byCreation);
      }).catch(notFoundAs([])),
    set: (name, value, version) =>
      call(`write a version of ${name}`, async (c) =>
        info(
          (
            await c.setSecret(name, value, {
              enabled: true,
              tags: version.tags,
              ...(version.expiresOn && { expiresOn: version.expiresOn }),
              ...(version.contentType && { contentType: version.contentType }),
            })
          ).properties,
        ),
      ),
    disable: (name, version) =>
      call(`disable ${name}/${version}`, async (c) => {
        await c.updateSecretProperties(name, version, { enabled: false });
      }),
    secrets: () =>
      call('list the secrets', async (c) => {
        const found: SecretVersionInfo[] = [];
        for await (const properties of c.listPropertiesOfSecrets()) found.push(info(properties));
        return found;
      }),
  };
}

/**
 * The vault's URL from the template: `{vault}` is replaced by the name.
 * @example
 * vaultUrl('https://{vault}.vault.azure.net', 'kv-prod'); // 'https://kv-prod.vault.azure.net'
 */
export function vaultUrl(template: string, vaultName: string): string {
  return template.replaceAll('{vault}', vaultName.toLowerCase()).replace(/\/+$/, '');
}

function clientFor(url: string, verifyChallengeResource: boolean): Promise<SecretClient> {
  const key = `${url}|${verifyChallengeResource}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = createClient(url, verifyChallengeResource);
    clients.set(key, client);
    client.catch(() => clients.delete(key));
  }
  return client;
}

async function createClient(url: string, verifyChallengeResource: boolean): Promise<SecretClient> {
  // Both SDKs are imported on first use, not at load time, to keep them off every function's cold start.
  const { SecretClient } = await import('@azure/keyvault-secrets');
  // One credential per process: it caches tokens.
  credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
  return new SecretClient(url, await credential, {
    disableChallengeResourceVerification: !verifyChallengeResource,
    // A rotation storm meets Key Vault's throttle: waiting out more Retry-After answers (the SDK
    // honours them) keeps a throttled rotation from failing where the default three retries gave up.
    retryOptions: { maxRetries: 8, maxRetryDelayInMs: 30_000 },
    // Per attempt (retries included), so a throttled vault's requests wait their turn here.
    additionalPolicies: [{ policy: pacedBy(new VaultPacer()), position: 'perRetry' }],
  });
}

type PipelinePolicy = NonNullable<SecretClientOptions['additionalPolicies']>[number]['policy'];

/** Each request waits for the pacer's slot, and tells it whether the vault throttled. */
function pacedBy(pacer: VaultPacer): PipelinePolicy {
  return {
    name: 'vigilVaultPacer',
    async sendRequest(request, next) {
      await pacer.slot();
      const response = await next(request);
      if (response.status === 429) pacer.throttled(retryAfterMs(response.headers.get('retry-after')));
      // A 401 is the authentication challenge, which the vault answers before any throttle.
      else if (response.status !== 401) pacer.served();
      return response;
    },
  };
}

/** `Retry-After` in seconds or as an HTTP date; a second when absent or unreadable. */
function retryAfterMs(header: string | undefined): number {
  const seconds = Number(header);
  if (header !== undefined && Number.isFinite(seconds)) return seconds * 1000;
  const date = header === undefined ? Number.NaN : Date.parse(header);
  return Number.isNaN(date) ? 1000 : Math.max(0, date - Date.now());
}

function info(properties: SecretProperties): SecretVersionInfo {
  return {
    name: properties.name,
    version: properties.version ?? '',
    enabled: properties.enabled !== false,
    ...(properties.createdOn && { createdOn: properties.createdOn }),
    ...(properties.expiresOn && { expiresOn: properties.expiresOn }),
    ...(properties.contentType && { contentType: properties.contentType }),
    tags: { ...properties.tags },
  };
}

function byCreation(a: SecretVersionInfo, b: SecretVersionInfo): number {
  return (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0);
}

function notFoundAs<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof KeyVaultError && error.failure === 'not-found') return fallback;
    throw error;
  };
}

async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw describeFailure(what, error);
  }
}

/** Turns an SDK error into a KeyVaultError naming the operation, the status and Key Vault's code. */
function describeFailure(what: string, error: unknown): KeyVaultError {
  const status = numberField(error, 'statusCode');
  const code = stringField(error, 'code');
  const message = error instanceof Error ? error.message : String(error);
  const failure = classify(status, code);
  const detail = [status && `HTTP ${status}`, code].filter(Boolean).join(' ');
  return new KeyVaultError(failure, `Key Vault could not ${what} (${detail || 'no response'}): ${message}`, {
    cause: detached(error, message),
  });
}

function classify(status: number | undefined, code: string | undefined): KeyVaultFailure {
  if (status === undefined) return 'unavailable';
  if (status === 429) return 'throttled';
  if (status >= 500 || status === 408) return 'unavailable';
  if (status === 404 || code === 'SecretNotFound') return 'not-found';
  if (status === 401 || status === 403) return 'forbidden';
  if (status === 409) return 'conflict';
  return 'rejected';
}

function numberField(error: unknown, field: string): number | undefined {
  const value =
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[field] : undefined;
  return typeof value === 'number' ? value : undefined;
}

function stringField(error: unknown, field: string): string | undefined {
  const value =
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}
