import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import type { Client } from 'pg';
import { scrub } from './redaction.js';

/**
 * libpq sslmode semantics. `require` encrypts without verifying the server (unless a CA is given,
 * then it verifies the chain like libpq does); `verify-full` also checks the host name. There is
 * no `prefer`/`allow`: when TLS is asked for and the server does not offer it, the connection fails.
 */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

/** Where and as whom to connect. The password is used for the login only and never reported. */
export interface PostgresConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslMode: SslMode;
  /** CA certificate(s) in PEM to verify the server with; the system store when absent. */
  ca?: string;
  connectTimeoutMs?: number;
}

/** Why a PostgreSQL call failed, so callers can tell "retry later" from "wrong password". */
export type PostgresFailure =
  | 'connection-refused'
  | 'host-not-found'
  | 'timeout'
  | 'connection-lost'
  | 'tls-unavailable'
  | 'tls-failed'
  | 'auth-failed'
  | 'not-authorized'
  | 'database-not-found'
  | 'role-not-found'
  | 'permission-denied'
  | 'invalid-password'
  | 'unexpected';

/** A PostgreSQL call failed; `failure` classifies the real cause. Never carries a password. */
export class PostgresError extends Error {
  override name = 'PostgresError';

  constructor(
    readonly failure: PostgresFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 15_000;
const SCRAM_ITERATIONS = 4096;

/**
 * Sets a role's password with `ALTER ROLE`. The role name is escaped as an identifier; the
 * password is sent as a SCRAM-SHA-256 verifier computed here (as psql's `\password` does), escaped
 * as a literal, so the plaintext never reaches the server, its logs or `pg_stat_activity`.
 * `ALTER ROLE` takes no bind parameters, hence escaping.
 * @throws PostgresError (`role-not-found`, `permission-denied`, `auth-failed`, `connection-refused`, …)
 * @example
 * await setRolePassword({ host: 'db', port: 5432, database: 'postgres', user: 'admin', password: adminPw, sslMode: 'verify-full' }, 'app', newPw);
 */
export async function setRolePassword(
  admin: PostgresConnection,
  role: string,
  password: string,
): Promise<void> {
  const verifier = scramVerifier(password);
  await withClient(admin, [admin.password, password], async (client) => {
    await client.query(
      `ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(verifier)}`,
    );
  });
}

/**
 * Tries a real login and `SELECT 1`.
 * @returns true when the credential works, false when the server rejects the password.
 * @throws PostgresError for anything that says nothing about the password: refused, TLS, timeout…
 * @example
 * if (await canLogin({ ...target, user: 'app', password: pending })) console.log('already set');
 */
export async function canLogin(connection: PostgresConnection): Promise<boolean> {
  try {
    await withClient(connection, [connection.password], async (client) => {
      await client.query('SELECT 1');
    });
    return true;
  } catch (error) {
    if (error instanceof PostgresError && error.failure === 'auth-failed') return false;
    throw error;
  }
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 / RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. SASLprep is the identity on
 * printable ASCII, which is why only such passwords are accepted: others could hash differently
 * here and on the server.
 * @example
 * scramVerifier('s3cret-Pass_word'); // 'SCRAM-SHA-256$4096:…$…:…'
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  if (!/^[\x20-\x7e]{1,1024}$/.test(password))
    throw new PostgresError('invalid-password', 'password must be 1-1024 printable ASCII characters');
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

async function withClient<T>(
  connection: PostgresConnection,
  secrets: readonly string[],
  work: (client: Client) => Promise<T>,
): Promise<T> {
  // Imported on first use, not at load time, to keep the driver off every function's cold start.
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password,
    ssl: tlsOptions(connection),
    connectionTimeoutMillis: connection.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'vigil',
  });
  // A socket error after a failed query is reported through the promise; without a listener it would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    throw describeFailure(error, connection, secrets);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function tlsOptions(connection: PostgresConnection): false | ConnectionOptions {
  const ca = connection.ca === undefined ? {} : { ca: connection.ca };
  switch (connection.sslMode) {
    case 'disable':
      return false;
    case 'require':
      return { ...ca, rejectUnauthorized: connection.ca !== undefined, checkServerIdentity: () => undefined };
    case 'verify-ca':
      return { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      // pg checks the certificate against the host it connected to, IP addresses included.
      return { ...ca, rejectUnauthorized: true };
  }
}

const SQLSTATE_FAILURES: Record<string, PostgresFailure> = {
  '28P01': 'auth-failed',
  '28000': 'not-authorized',
  '3D000': 'database-not-found',
  '42704': 'role-not-found',
  '42501': 'permission-denied',
  '57P01': 'connection-lost',
  '57P03': 'connection-refused',
};

const NODE_FAILURES: Record<string, PostgresFailure> = {
  ECONNREFUSED: 'connection-refused',
  ENOTFOUND: 'host-not-found',
  EAI_AGAIN: 'host-not-found',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'connection-lost',
  EPIPE: 'connection-lost',
};

/** Turns a driver error into a PostgresError naming the real cause, with every secret scrubbed. */
function describeFailure(
  error: unknown,
  connection: PostgresConnection,
  secrets: readonly string[],
): PostgresError {
  if (error instanceof PostgresError) return error;
  const where = `${connection.user}@${connection.host}:${connection.port}/${connection.database}`;
  const message = scrub(error instanceof Error ? error.message : String(error), secrets);
  const failure = classify(error, message);
  return new PostgresError(failure, `PostgreSQL ${failure} (${where}): ${message}`, {
    cause: scrubbedCause(error, secrets),
  });
}

function classify(error: unknown, message: string): PostgresFailure {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const known = SQLSTATE_FAILURES[code] ?? NODE_FAILURES[code];
  if (known !== undefined) return known;
  if (message.includes('does not support SSL')) return 'tls-unavailable';
  if (/CERT|SSL|TLS|certificate|self.signed|altname/i.test(`${code} ${message}`)) return 'tls-failed';
  if (/timeout/i.test(message)) return 'timeout';
  if (/Connection terminated/i.test(message)) return 'connection-lost';
  return 'unexpected';
}

/** Keeps the driver error as the cause unless any of its fields mentions a secret. */
function scrubbedCause(error: unknown, secrets: readonly string[]): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const fields = Object.values(error).concat(error instanceof Error ? [error.message, error.stack] : []);
  const leaks = fields.some(
    (value) => typeof value === 'string' && secrets.some((s) => s !== '' && value.includes(s)),
  );
  if (!leaks) return error;
  const copy = new Error(scrub(error instanceof Error ? error.message : 'PostgreSQL error', secrets));
  copy.name = error instanceof Error ? error.name : 'Error';
  return copy;
}
