import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Azurite's well-known development account; it is public and documented, not a secret. */
export const devAccountName = 'devstoreaccount1';
const devAccountKey =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for Azurite's data; omit for in-memory storage that vanishes with the process. */
  location?: string;
  /** Ports to listen on; 0 (the default) lets the system choose free ones. */
  blobPort?: number;
  queuePort?: number;
  tablePort?: number;
  /** How long to wait for all three services to listen. */
  startTimeoutMs?: number;
}

export interface AzuriteEndpoints {
  blob: string;
  queue: string;
  table: string;
}

/** Azurite did not start, or stopped unexpectedly. */
export class AzuriteError extends Error {
  override name = 'AzuriteError';
}

/**
 * Azurite (blob, queue and table emulators) as a child process on loopback.
 * @example
 * const azurite = await Azurite.start({ location: '.vigil/azurite' });
 * const tables = TableServiceClient.fromConnectionString(azurite.connectionString, { allowInsecureConnection: true });
 * await azurite.stop();
 */
export class Azurite {
  readonly endpoints: AzuriteEndpoints;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess, endpoints: AzuriteEndpoints, exited: Promise<void>) {
    this.#child = child;
    this.endpoints = endpoints;
    this.#exited = exited;
  }

  /** Starts Azurite and resolves once blob, queue and table all listen. */
  static async start(options: AzuriteOptions = {}): Promise<Azurite> {
    const args = azuriteArgs(options);
    if (options.location) await mkdir(options.location, { recursive: true });
    const child = spawn(process.execPath, [azuriteScript(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: options.location ?? process.cwd(),
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const endpoints = await waitForListening(child, options.startTimeoutMs ?? 30_000);
      return new Azurite(child, endpoints, exited);
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      throw error;
    }
  }

  /** The standard development-storage connection string, pointing at this instance's ports. */
  get connectionString(): string {
    return [
      'DefaultEndpointsProtocol=http',
      `AccountName=${devAccountName}`,
      `AccountKey=${devAccountKey}`,
      `BlobEndpoint=${this.endpoints.blob}`,
      `QueueEndpoint=${this.endpoints.queue}`,
      `TableEndpoint=${this.endpoints.table}`,
    ].join(';');
  }

  /** Stops Azurite gracefully (SIGTERM), killing it if it does not exit within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

function azuriteScript(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('azurite/package.json')), 'dist/src/azurite.js');
}

function azuriteArgs(options: AzuriteOptions): string[] {
  const host = '127.0.0.1';
  const args = [
    '--blobHost',
    host,
    '--queueHost',
    host,
    '--tableHost',
    host,
    '--blobPort',
    String(options.blobPort ?? 0),
    '--queuePort',
    String(options.queuePort ?? 0),
    '--tablePort',
    String(options.tablePort ?? 0),
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
    // No access log: writing a line per request cost Azurite about a tenth of its CPU under load.
    '--silent',
  ];
  // Azurite refuses --location together with in-memory persistence.
  args.push(...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']));
  return args;
}

const listening = /Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/\S+)/g;

/** Azurite prints one "successfully listening at URL" line per service; with port 0 that is how we learn the port. */
function waitForListening(child: ChildProcess, timeoutMs: number): Promise<AzuriteEndpoints> {
  return new Promise((resolve, reject) => {
    const found: Partial<Record<'Blob' | 'Queue' | 'Table', string>> = {};
    let output = '';
    const fail = (message: string) => {
      cleanup();
      reject(new AzuriteError(`${message}; Azurite said: ${output.slice(-2000)}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const [, service, url] of output.matchAll(listening)) {
        found[service as 'Blob' | 'Queue' | 'Table'] = `${url}/${devAccountName}`;
      }
      if (found.Blob && found.Queue && found.Table) {
        cleanup();
        resolve({ blob: found.Blob, queue: found.Queue, table: found.Table });
      }
    };
    const onExit = (code: number | null) => fail(`Azurite exited with code ${code} before it listened`);
    const timer = setTimeout(() => fail(`Azurite did not listen within ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
