import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type PersistedClock, persistedClock } from './clock.js';
import { type ArmEmulator, startArmEmulator } from './emulators/arm/index.js';
import { type EventGridEmulator, startEventGridEmulator } from './emulators/eventgrid/index.js';
import { type IdentityEndpoint, startIdentityEndpoint } from './emulators/identity/index.js';
import { type KeyVaultEmulator, startKeyVaultEmulator } from './emulators/keyvault/index.js';
import { type LogsIngestionEmulator, startLogsIngestionEmulator } from './emulators/logs/index.js';
import { type HostKeys, loadOrCreateKeys } from './host/keys.js';
import { HostProcess } from './host/process.js';
import { stablePort } from './ports.js';
import { Azurite } from './services/azurite.js';
import { LocalPostgres } from './services/postgres.js';
import { childTrustEnv, ensureLocalCertificates, trustLocalCa } from './tls.js';

/** Ports of the stack's services; 0 picks a free one (tests), the defaults suit `npm start`. */
export interface StackPorts {
  host: number;
  azurite: { blob: number; queue: number; table: number };
  eventGrid: number;
  keyVault: number;
  logs: number;
  identity: number;
  /** The real PostgreSQL whose credentials rotate. */
  postgres: number;
  /** The ARM emulator (Flexible Server administrator password). */
  arm: number;
}

export const defaultPorts: StackPorts = {
  host: 7071,
  azurite: { blob: 10000, queue: 10001, table: 10002 },
  eventGrid: 7300,
  keyVault: 7310,
  logs: 7303,
  identity: 7304,
  postgres: 7320,
  arm: 7305,
};

/** Every port chosen free by the system: throwaway stacks for tests and benchmarks. */
export const freePorts: StackPorts = {
  host: 0,
  azurite: { blob: 0, queue: 0, table: 0 },
  eventGrid: 0,
  keyVault: 0,
  logs: 0,
  identity: 0,
  postgres: 0,
  arm: 0,
};

export interface StackOptions {
  /** The built app (package.json, host.json, dist/). */
  appRoot: string;
  /** Everything the stack keeps (git-ignored `.vigil` for `npm start`, a temporary folder in tests). */
  dataDir: string;
  ports?: Partial<StackPorts>;
  /** Event Grid's retry delays; tests shorten Azure's schedule. */
  eventGridRetryScheduleMs?: readonly number[];
  log?: (line: string) => void;
}

/** The custom topic Vigil publishes its own events to, and reads requests (probes) from. */
export const vigilTopic = 'vigil';
/** The local Key Vault that holds the secrets Vigil rotates. */
export const localVault = 'vigil-local';
/** Logs Ingestion rule that receives Vigil's audit records. */
export const auditRule = 'dcr-vigil-audit';
/** The rule's stream (the Log Analytics custom table `VigilAudit_CL`). */
export const auditStream = 'Custom-VigilAudit_CL';

/**
 * The whole one-machine stack: Azurite, the emulators and the Functions host, all on loopback.
 * @example
 * const stack = await Stack.start({ appRoot: process.cwd(), dataDir: '.vigil' });
 * await stack.advanceClock(30 * 24 * 3600_000);
 * await stack.stop();
 */
export class Stack {
  readonly clock: PersistedClock;
  readonly azurite: Azurite;
  readonly eventGrid: EventGridEmulator;
  readonly keyVault: KeyVaultEmulator;
  readonly logs: LogsIngestionEmulator;
  readonly identity: IdentityEndpoint;
  readonly arm: ArmEmulator;
  readonly hostKeys: HostKeys;
  readonly topicKey: string;
  /** The app settings the host runs with (the stack's `local.settings.json`). */
  readonly settings: Record<string, string>;
  #host: HostProcess | undefined;
  #postgres: LocalPostgres | undefined;
  readonly #options: StackOptions & { ports: StackPorts };
  readonly #clockFile: string;

  private constructor(parts: {
    options: StackOptions & { ports: StackPorts };
    clock: PersistedClock;
    azurite: Azurite;
    eventGrid: EventGridEmulator;
    keyVault: KeyVaultEmulator;
    logs: LogsIngestionEmulator;
    identity: IdentityEndpoint;
    arm: ArmEmulator;
    postgres: LocalPostgres;
    hostKeys: HostKeys;
    topicKey: string;
    settings: Record<string, string>;
  }) {
    this.#options = parts.options;
    this.clock = parts.clock;
    this.azurite = parts.azurite;
    this.eventGrid = parts.eventGrid;
    this.keyVault = parts.keyVault;
    this.logs = parts.logs;
    this.identity = parts.identity;
    this.arm = parts.arm;
    this.#postgres = parts.postgres;
    this.hostKeys = parts.hostKeys;
    this.topicKey = parts.topicKey;
    this.settings = parts.settings;
    this.#clockFile = clockFile(parts.options.dataDir);
  }

  static async start(options: StackOptions): Promise<Stack> {
    const dir = (name: string) => path.join(options.dataDir, name);
    const ports = await resolvePorts({ ...defaultPorts, ...options.ports });
    const log = options.log ?? (() => {});
    const certificates = await ensureLocalCertificates(dir('tls'));
    trustLocalCa(certificates.caPem);
    const clock = await persistedClock(clockFile(options.dataDir));
    const started: { stop(): Promise<void> }[] = [];
    try {
      const azurite = await Azurite.start({ location: dir('azurite'), ...ports.azurite });
      started.push(azurite);
      const topicKey = randomBytes(32).toString('base64');
      const eventGrid = await startEventGridEmulator({
        tlsDir: dir('tls'),
        port: ports.eventGrid,
        clock,
        topics: [{ name: vigilTopic, key: topicKey }],
        ...(options.eventGridRetryScheduleMs && { retryScheduleMs: options.eventGridRetryScheduleMs }),
        log,
      });
      started.push({ stop: () => eventGrid.close() });
      const keyVault = await startKeyVaultEmulator({
        dataDir: dir('keyvault'),
        tls: certificates,
        vaults: [{ name: localVault, port: ports.keyVault }],
        clock,
        publish: (_topic, events) => eventGrid.publishSystemEvents(localVault, events),
      });
      started.push({ stop: () => keyVault.close() });
      eventGrid.createSystemTopic({
        name: localVault,
        source: keyVault.resourceId(localVault),
        topicType: 'Microsoft.KeyVault.vaults',
      });
      const logs = await startLogsIngestionEmulator({
        dataDir: dir('logs'),
        tls: certificates,
        port: ports.logs,
      });
      started.push({ stop: () => logs.close() });
      const identity = await startIdentityEndpoint({ port: ports.identity, clock });
      started.push({ stop: () => identity.close() });
      const postgres = await startPostgres(options.dataDir, ports.postgres, certificates);
      started.push(postgres);
      const arm = await startArmEmulator({ tls: certificates, port: ports.arm });
      started.push({ stop: () => arm.close() });
      const hostKeys = await loadOrCreateKeys(dir('host'));
      const settings: Record<string, string> = {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: azurite.connectionString,
        VIGIL_TASK_HUB: 'vigil',
        VIGIL_STATE_STORAGE: azurite.connectionString,
        VIGIL_EVENTGRID_TOPIC_ENDPOINT: eventGrid.topicEndpoint(vigilTopic),
        VIGIL_EVENTGRID_TOPIC_KEY: topicKey,
        VIGIL_AUDIT_ENDPOINT: logs.url,
        VIGIL_AUDIT_RULE_ID: auditRule,
        VIGIL_AUDIT_STREAM: auditStream,
        VIGIL_KEYVAULT_URL_TEMPLATE: keyVault.url(localVault),
        // The emulator's challenge names vault.azure.net, which a loopback address can never match.
        VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        VIGIL_ARM_ENDPOINT: arm.url,
        VIGIL_ROTATION_VAULTS: localVault,
        VIGIL_ROTATION_SWEEP_SCHEDULE: '0 0 * * * *',
        ...identity.env,
        ...childTrustEnv(certificates.caPath),
      };
      const stack = new Stack({
        options: { ...options, ports },
        clock,
        azurite,
        eventGrid,
        keyVault,
        logs,
        identity,
        arm,
        postgres,
        hostKeys,
        topicKey,
        settings,
      });
      await stack.startHost();
      await stack.#subscribe();
      return stack;
    } catch (error) {
      for (const service of started.reverse()) await service.stop().catch(() => {});
      throw error;
    }
  }

  get hostUrl(): string {
    return `http://127.0.0.1:${this.#options.ports.host}`;
  }

  get host(): HostProcess | undefined {
    return this.#host;
  }

  /** The Event Grid webhook of a function, with the host's system key. */
  webhookUrl(functionName: string): string {
    const code = encodeURIComponent(this.hostKeys.systemKeys.eventgrid_extension);
    return `${this.hostUrl}/runtime/webhooks/eventgrid?functionName=${functionName}&code=${code}`;
  }

  async startHost(): Promise<HostProcess> {
    if (this.#host) throw new Error('The host is already running');
    this.#host = await HostProcess.start({
      appRoot: this.#options.appRoot,
      port: this.#options.ports.host,
      dataDir: path.join(this.#options.dataDir, 'host'),
      env: { ...this.settings, VIGIL_CLOCK_FILE: this.#clockFile },
      onLine: (line) => this.#options.log?.(`[host] ${line}`),
    });
    return this.#host;
  }

  /** Kills the host (SIGKILL simulates a crash) and waits for it to be gone. */
  async stopHost(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.#host?.kill(signal);
    this.#host = undefined;
  }

  /** Moves every component's time forward: emulators in this process, and the host. */
  async advanceClock(ms: number): Promise<void> {
    this.clock.advance(ms);
    await this.clock.saved();
    if (!this.#host) return;
    const response = await fetch(`${this.hostUrl}/admin/clock`, {
      method: 'POST',
      headers: { 'x-functions-key': this.hostKeys.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ advanceMs: ms }),
    });
    if (!response.ok) throw new Error(`The host refused to advance its clock: ${response.status}`);
  }

  /** The real PostgreSQL; throws while it is stopped. */
  get postgres(): LocalPostgres {
    if (!this.#postgres) throw new Error('PostgreSQL is stopped');
    return this.#postgres;
  }

  /** Stops PostgreSQL (fault tests: the database is down); its data stays. */
  async stopPostgres(): Promise<void> {
    await this.#postgres?.stop();
    this.#postgres = undefined;
  }

  /** Starts PostgreSQL again on the same port with the same data. */
  async startPostgres(): Promise<LocalPostgres> {
    if (this.#postgres) throw new Error('PostgreSQL is already running');
    const certificates = await ensureLocalCertificates(path.join(this.#options.dataDir, 'tls'));
    this.#postgres = await startPostgres(this.#options.dataDir, this.#options.ports.postgres, certificates);
    return this.#postgres;
  }

  async stop(): Promise<void> {
    await this.stopHost('SIGTERM');
    await this.arm.close();
    await this.stopPostgres();
    await this.logs.close();
    await this.identity.close();
    await this.keyVault.close();
    await this.eventGrid.close();
    await this.azurite.stop();
  }

  /** Wires events to the app's Event Grid functions, as the deployment's subscriptions do in Azure. */
  async #subscribe(): Promise<void> {
    await this.eventGrid.createSubscription(vigilTopic, 'probe-events', {
      endpointUrl: this.webhookUrl('probeEvents'),
      filter: { includedEventTypes: ['Vigil.PipelineProbe.Requested'] },
    });
    await this.eventGrid.createSubscription(localVault, 'secret-expiry', {
      endpointUrl: this.webhookUrl('keyVaultEvents'),
      filter: {
        includedEventTypes: ['Microsoft.KeyVault.SecretNearExpiry', 'Microsoft.KeyVault.SecretExpired'],
      },
    });
  }
}

/**
 * The stack's PostgreSQL over TLS, on a fixed port when `npm start` runs it. Its superuser password
 * is kept next to the data, so a restart reaches the same cluster.
 */
async function startPostgres(
  dataDir: string,
  port: number,
  tls: { key: string; cert: string },
): Promise<LocalPostgres> {
  // Run as root, PostgreSQL drops to a system user that must reach its data directory.
  if (process.getuid?.() === 0) await chmod(dataDir, 0o711);
  const file = path.join(dataDir, 'postgres-admin.json');
  const saved = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as { password: string; port: number },
    () => undefined,
  );
  const adminPassword = saved?.password ?? randomBytes(18).toString('base64url');
  const postgres = await LocalPostgres.start({
    dataDir: path.join(dataDir, 'postgres'),
    port: port === 0 ? (saved?.port ?? 0) : port,
    adminPassword,
    tls,
  });
  await writeFile(file, JSON.stringify({ password: adminPassword, port: postgres.port }), { mode: 0o600 });
  return postgres;
}

function clockFile(dataDir: string): string {
  return path.join(dataDir, 'clock.json');
}

/** The host must keep its port across restarts, so a 0 becomes a concrete free port here. */
async function resolvePorts(ports: StackPorts): Promise<StackPorts> {
  return { ...ports, host: ports.host === 0 ? await stablePort() : ports.host };
}
