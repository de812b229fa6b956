import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPostgres } from '../../../local/services/postgres.js';
import { ensureLocalCertificates, type LocalCertificates } from '../../../local/tls.js';
import {
  canLogin,
  type PostgresConnection,
  PostgresError,
  scramVerifier,
  setRolePassword,
} from '../../../src/adapters/postgres.js';

let workDir: string;
let dataDirs: string[] = [];
let certificates: LocalCertificates;
let tlsServer: LocalPostgres;
let plainServer: LocalPostgres;

/** Connection to the TLS server, verified against the local CA. */
function tlsConnection(user: string, password: string): PostgresConnection {
  return {
    host: '127.0.0.1',
    port: tlsServer.port,
    database: 'postgres',
    user,
    password,
    sslMode: 'verify-full',
    ca: certificates.caPem,
  };
}
const admin = () => tlsConnection(tlsServer.adminUser, tlsServer.adminPassword);

/** Creates a login role through a plain driver connection, so the adapter is not testing itself. */
async function createRole(name: string, password: string, options = ''): Promise<void> {
  const client = new pg.Client({ ...tlsServer.adminConnection(), ssl: { ca: certificates.caPem } });
  await client.connect();
  try {
    await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
    await client.query(
      `CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN ${options} PASSWORD ${pg.escapeLiteral(password)}`,
    );
  } finally {
    await client.end();
  }
}

async function caught(work: () => Promise<unknown>): Promise<PostgresError> {
  try {
    await work();
  } catch (error) {
    if (error instanceof PostgresError) return error;
    throw error;
  }
  throw new Error('expected a PostgresError');
}

/** Everything a log line or record could show about an error: message, stack and the cause chain. */
const everything = (error: unknown) =>
  `${String(error)} ${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'vigil-pg-adapter-'));
  certificates = await ensureLocalCertificates(join(workDir, 'tls'));
  // Data directories sit directly in the system temp dir: the postgres user must be able to reach them.
  dataDirs = await Promise.all([
    mkdtemp(join(tmpdir(), 'vigil-pg-tls-')),
    mkdtemp(join(tmpdir(), 'vigil-pg-plain-')),
  ]);
  [tlsServer, plainServer] = await Promise.all([
    LocalPostgres.start({ dataDir: dataDirs[0] ?? '', tls: certificates }),
    LocalPostgres.start({ dataDir: dataDirs[1] ?? '' }),
  ]);
});

afterAll(async () => {
  await Promise.all([tlsServer?.stop(), plainServer?.stop()]);
  await Promise.all([workDir, ...dataDirs].map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('setRolePassword', () => {
  it('really changes the password: the new one logs in, the old one fails', async () => {
    await createRole('app_single', 'Old-password-0001');

    await setRolePassword(admin(), 'app_single', 'New-password-0002');

    expect(await canLogin(tlsConnection('app_single', 'New-password-0002'))).toBe(true);
    expect(await canLogin(tlsConnection('app_single', 'Old-password-0001'))).toBe(false);
  });

  it('handles a role name with quotes and spaces and a password with quotes and backslashes', async () => {
    const role = `we"ird 'role; DROP ROLE postgres; --`;
    const password = `pa'ss"wo\\rd$$ ;-- '); SELECT 1; --`;
    await createRole(role, 'Old-password-0003');

    await setRolePassword(admin(), role, password);

    expect(await canLogin(tlsConnection(role, password))).toBe(true);
    expect(await canLogin(tlsConnection(role, 'Old-password-0003'))).toBe(false);
    expect(await canLogin(admin())).toBe(true);
  });

  it('stores a SCRAM verifier, so the plaintext never reaches the server', async () => {
    await createRole('app_scram', 'Old-password-0004');
    await setRolePassword(admin(), 'app_scram', 'Scram-checked-0005');

    const client = new pg.Client({ ...tlsServer.adminConnection(), ssl: { ca: certificates.caPem } });
    await client.connect();
    const { rows } = await client.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      ['app_scram'],
    );
    await client.end();
    expect(rows[0]?.rolpassword).toMatch(
      /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/,
    );
    expect(rows[0]?.rolpassword).not.toContain('Scram-checked-0005');
  });

  it('lets a role change its own password with its current credential (single user without admin)', async () => {
    await createRole('app_self', 'Self-password-0006');

    await setRolePassword(tlsConnection('app_self', 'Self-password-0006'), 'app_self', 'Self-password-0007');

    expect(await canLogin(tlsConnection('app_self', 'Self-password-0007'))).toBe(true);
    expect(await canLogin(tlsConnection('app_self', 'Self-password-0006'))).toBe(false);
  });

  it.each([
    [
      'a role that does not exist',
      () => setRolePassword(admin(), 'no_such_role', 'Secret-never-shown-1'),
      'role-not-found',
    ],
    [
      'a wrong admin password',
      () =>
        setRolePassword(
          { ...admin(), password: 'Wrong-admin-secret-2' },
          'app_single',
          'Secret-never-shown-1',
        ),
      'auth-failed',
    ],
    [
      'an admin without the right to alter others',
      async () => {
        await createRole('app_weak', 'Weak-secret-0008');
        await setRolePassword(
          tlsConnection('app_weak', 'Weak-secret-0008'),
          'app_single',
          'Secret-never-shown-1',
        );
      },
      'permission-denied',
    ],
    [
      'a password that is not printable ASCII',
      () => setRolePassword(admin(), 'app_single', 'Secret-never-shown-1\n'),
      'invalid-password',
    ],
  ])('fails with %s, naming the cause and never a password', async (_, act, failure) => {
    const error = await caught(act);

    expect(error.failure).toBe(failure);
    for (const secret of [
      'Secret-never-shown-1',
      'Wrong-admin-secret-2',
      'Weak-secret-0008',
      tlsServer.adminPassword,
    ])
      expect(everything(error)).not.toContain(secret);
  });
});

describe('canLogin', () => {
  it('tells a refused connection from a failed login', async () => {
    const closedPort = { ...tlsConnection('app_single', 'Secret-never-shown-3'), port: 1 };

    const refused = await caught(() => canLogin(closedPort));
    const wrongPassword = await canLogin(tlsConnection('app_single', 'Secret-never-shown-3'));

    expect(refused.failure).toBe('connection-refused');
    expect(refused.message).toContain('connection-refused');
    expect(everything(refused)).not.toContain('Secret-never-shown-3');
    expect(wrongPassword).toBe(false);
  });

  it('reports a refused connection from setRolePassword as such', async () => {
    const error = await caught(() =>
      setRolePassword({ ...admin(), port: 1 }, 'app_single', 'Secret-never-shown-4'),
    );
    expect(error.failure).toBe('connection-refused');
    expect(everything(error)).not.toContain('Secret-never-shown-4');
    expect(everything(error)).not.toContain(tlsServer.adminPassword);
  });

  it('reports a missing database, not a wrong password', async () => {
    const error = await caught(() => canLogin({ ...admin(), database: 'no_such_db' }));
    expect(error.failure).toBe('database-not-found');
  });
});

describe('TLS', () => {
  const plain = (sslMode: PostgresConnection['sslMode']): PostgresConnection => ({
    ...plainServer.adminConnection(),
    sslMode,
  });

  it('logs in over verified TLS when the server offers it', async () => {
    expect(await canLogin(admin())).toBe(true);
    expect(await canLogin({ ...admin(), sslMode: 'verify-ca' })).toBe(true);
    expect(await canLogin({ ...admin(), sslMode: 'require', ca: undefined })).toBe(true);
  });

  it.each(['require', 'verify-ca', 'verify-full'] as const)(
    'never falls back to plaintext when %s is asked of a server without TLS',
    async (sslMode) => {
      const error = await caught(() => canLogin(plain(sslMode)));
      expect(error.failure).toBe('tls-unavailable');
      expect(everything(error)).not.toContain(plainServer.adminPassword);
    },
  );

  it('connects in plaintext only when told to (sslmode disable)', async () => {
    expect(await canLogin(plain('disable'))).toBe(true);
  });

  it('refuses a server certificate it cannot verify', async () => {
    const error = await caught(() => canLogin({ ...admin(), ca: undefined }));
    expect(error.failure).toBe('tls-failed');
    expect(everything(error)).not.toContain(tlsServer.adminPassword);
  });
});

describe('scramVerifier', () => {
  it('derives the RFC 7677 keys for a known salt', () => {
    // RFC 7677 example: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    const verifier = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    expect(verifier).toBe(
      'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=',
    );
  });
});
