import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { Clock } from '../../clock.js';
import { closeServer, listen } from '../../http.js';
import { KeyVaultEmulatorError } from './errors.js';
import { EventSweep, type ServedVault } from './eventSweep.js';
import type { SecretEventPublisher, VaultIdentity } from './events.js';
import {
  type FailOptions,
  type FaultCounts,
  FaultInjector,
  type RateLimitOptions,
  type ThrottleOptions,
} from './faults.js';
import type { EmulatorData } from './model.js';
import { StateFile } from './persistence.js';
import { serveVaultRequest } from './rest.js';
import { SecretVault } from './vault.js';

export { KeyVaultEmulatorError, KeyVaultRestError } from './errors.js';
export type { SecretEvent, SecretEventData, SecretEventPublisher, SecretEventType } from './events.js';
export type { FailOptions, FaultCounts, RateLimitOptions, ThrottleOptions } from './faults.js';

export interface VaultSpec {
  name: string;
  /** 0 or absent: any free port. Fix it when URLs must survive a restart. */
  port?: number;
}

export interface KeyVaultEmulatorOptions {
  /** Where `keyvault.json` lives; a restart with the same directory keeps every secret. */
  dataDir: string;
  /** Server certificate and key (PEM) for 127.0.0.1, e.g. from `local/tls.ts`. */
  tls: { key: string | Buffer; cert: string | Buffer };
  /** The vaults to serve, each on its own port: the SDK wants the vault at the root of its URL. */
  vaults: Array<string | VaultSpec>;
  /** Default 127.0.0.1. */
  host?: string;
  /** The stack's clock; expiry events follow it. Default: real time. */
  clock?: Clock;
  /** Where secret events go; without it no events are raised (as with no Event Grid subscription). */
  publish?: SecretEventPublisher;
  subscriptionId?: string;
  resourceGroup?: string;
  /** The tenant named in the 401 challenge. */
  tenantId?: string;
  /** How often expiry is re-checked without a clock change. Default 60 s. */
  sweepIntervalMs?: number;
}

export interface KeyVaultAdmin {
  /** The next `requests` requests get 429 with `Retry-After`. */
  throttle(options: ThrottleOptions): void;
  /** Each vault serves at most `perSecond` requests a second; the rest get 429. */
  rateLimit(options: RateLimitOptions): void;
  /** The next `requests` requests fail (503 unless told otherwise). */
  fail(options: FailOptions): void;
  clearFaults(): void;
  /** Authenticated requests served, throttled and failed so far. */
  counts(): FaultCounts;
  /** Resolves once every due event has been handed to the publisher (or failed to be). */
  settleEvents(): Promise<void>;
  /** The publisher's last failure, if any. */
  lastPublishError(): unknown;
}

export interface KeyVaultEmulator {
  /** `https://127.0.0.1:PORT`, the vault URL to give `SecretClient`. */
  url(vaultName: string): string;
  /** `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}`, the events' topic. */
  resourceId(vaultName: string): string;
  admin: KeyVaultAdmin;
  /** Stops serving, finishes pending events and writes the data file. */
  close(): Promise<void>;
}

const vaultNamePattern = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;

function vaultSpecs(vaults: Array<string | VaultSpec>): VaultSpec[] {
  if (vaults.length === 0) throw new KeyVaultEmulatorError('vaults: name at least one vault to serve');
  const specs = vaults.map((vault) => (typeof vault === 'string' ? { name: vault } : vault));
  const seen = new Set<string>();
  for (const { name, port } of specs) {
    if (!vaultNamePattern.test(name)) {
      throw new KeyVaultEmulatorError(
        `vaults: "${name}" is not a vault name (3-24 letters, digits and single hyphens, starting with a letter)`,
      );
    }
    if (seen.has(name.toLowerCase())) throw new KeyVaultEmulatorError(`vaults: "${name}" is listed twice`);
    seen.add(name.toLowerCase());
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new KeyVaultEmulatorError(
        `vaults: port of "${name}" must be an integer from 0 to 65535, got ${port}`,
      );
    }
  }
  return specs;
}

interface VaultServing {
  data: EmulatorData;
  host: string;
  tls: KeyVaultEmulatorOptions['tls'];
  resourceIdPrefix: string;
  nowSeconds: () => number;
  faults: FaultInjector;
  tenantId: string;
  changed: () => Promise<void>;
}

/** Opens one vault's HTTPS server; `servers` receives it even when listening fails, so it can be closed. */
async function openVault(spec: VaultSpec, serving: VaultServing, servers: Server[]): Promise<ServedVault> {
  const key = spec.name.toLowerCase();
  const vaultData = serving.data.vaults[key] ?? { secrets: {} };
  serving.data.vaults[key] = vaultData;
  const identity: VaultIdentity = {
    name: spec.name,
    resourceId: `${serving.resourceIdPrefix}/${spec.name}`,
    url: '',
  };
  const context = {
    identity,
    vault: new SecretVault(vaultData, serving.nowSeconds),
    faults: serving.faults,
    tenantId: serving.tenantId,
    changed: serving.changed,
  };
  const server = createServer(serving.tls, (req, res) => {
    void serveVaultRequest(context, req, res);
  });
  servers.push(server);
  const port = await listen(server, spec.port ?? 0, serving.host);
  identity.url = `https://${serving.host.includes(':') ? `[${serving.host}]` : serving.host}:${port}`;
  return context;
}

/**
 * Starts a Key Vault emulator: each vault on its own HTTPS port speaking the secrets REST API,
 * state in `{dataDir}/keyvault.json`, secret events to `publish`.
 * @example
 * const kv = await startKeyVaultEmulator({ dataDir, tls: { key, cert }, vaults: ['kv-vigil'], clock, publish });
 * const client = new SecretClient(kv.url('kv-vigil'), credential, { disableChallengeResourceVerification: true });
 * await kv.close();
 */
export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions): Promise<KeyVaultEmulator> {
  const specs = vaultSpecs(options.vaults);
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? new Clock();
  const subscriptionId = options.subscriptionId ?? '00000000-0000-0000-0000-000000000000';
  const resourceGroup = options.resourceGroup ?? 'rg-vigil-local';
  const file = new StateFile(path.join(options.dataDir, 'keyvault.json'));
  const data = await file.load();
  const faults = new FaultInjector();
  const served = new Map<string, ServedVault>();
  const servers: Server[] = [];
  const sweep = new EventSweep({
    vaults: () => served.values(),
    clock,
    publish: options.publish,
    persist: () => file.save(data),
    intervalMs: options.sweepIntervalMs ?? 60_000,
  });
  const serving: VaultServing = {
    data,
    host,
    tls: { key: options.tls.key, cert: options.tls.cert },
    resourceIdPrefix: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults`,
    nowSeconds: () => Math.floor(clock.now().getTime() / 1000),
    faults,
    tenantId: options.tenantId ?? '00000000-0000-0000-0000-000000000000',
    changed: async () => {
      await file.save(data);
      sweep.request();
    },
  };
  try {
    for (const spec of specs) served.set(spec.name.toLowerCase(), await openVault(spec, serving, servers));
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw new KeyVaultEmulatorError(`cannot serve the vaults on ${host}`, { cause: error });
  }
  sweep.start();

  const vault = (name: string): ServedVault => {
    const found = served.get(name.toLowerCase());
    if (!found)
      throw new KeyVaultEmulatorError(
        `vault "${name}" is not served; vaults: ${[...served.keys()].join(', ')}`,
      );
    return found;
  };

  return {
    url: (name) => vault(name).identity.url,
    resourceId: (name) => vault(name).identity.resourceId,
    admin: {
      throttle: (opts) => faults.throttle(opts),
      rateLimit: (opts) => faults.rateLimit(opts),
      fail: (opts) => faults.fail(opts),
      clearFaults: () => faults.clear(),
      counts: () => ({ ...faults.counts }),
      settleEvents: () => sweep.settle(),
      lastPublishError: () => sweep.lastError,
    },
    close: async () => {
      await Promise.all(servers.map(closeServer));
      await sweep.stop();
      await file.save(data);
    },
  };
}
