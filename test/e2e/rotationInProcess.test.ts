import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../local/emulators/identity/index.js';
import { type KeyVaultEmulator, startKeyVaultEmulator } from '../../local/emulators/keyvault/index.js';
import { issueToken } from '../../local/host/easyAuth.js';
import { LocalPostgres } from '../../local/services/postgres.js';
import { ensureLocalCertificates, trustLocalCa } from '../../local/tls.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { type InProcessHost, startInProcessHost } from '../support/inProcessHost.js';

/**
 * The rotation triggers and orchestration with the host in this process, against the real Key
 * Vault emulator and PostgreSQL: failure paths and triggers the stack-level suites (rotation,
 * rotationCrash, rotationFaults) do not reach — a role that cannot change its own password, bad
 * sslmode, events for missing or unmarked secrets, the random strategy's webhook, the sweep.
 */
const vault = 'kv-inproc';
const day = 24 * 3600_000;
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3600_000 }),
};
let workDir: string;
let pgDir: string;
let keyVault: KeyVaultEmulator;
let identity: IdentityEndpoint;
let postgres: LocalPostgres;
let host: InProcessHost;
let secrets: SecretClient;
let receiver: Server;
const notifications: unknown[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'vigil-rot-inproc-'));
  pgDir = await mkdtemp(path.join(tmpdir(), 'vigil-rot-inproc-pg-'));
  const certificates = await ensureLocalCertificates(path.join(workDir, 'tls'));
  trustLocalCa(certificates.caPem);
  const clock = new Clock();
  keyVault = await startKeyVaultEmulator({ dataDir: workDir, tls: certificates, vaults: [vault], clock });
  identity = await startIdentityEndpoint({ clock });
  postgres = await LocalPostgres.start({ dataDir: pgDir, tls: certificates });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      notifications.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, identity.env, {
    VIGIL_KEYVAULT_URL_TEMPLATE: keyVault.url(vault),
    VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    VIGIL_ROTATION_VAULTS: vault,
  });
  host = await startInProcessHost();
  secrets = new SecretClient(keyVault.url(vault), credential, { disableChallengeResourceVerification: true });
});

afterAll(async () => {
  await host?.stop();
  await keyVault?.close();
  await identity?.close();
  await postgres?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await Promise.all([workDir, pgDir].map((dir) => rm(dir, { recursive: true, force: true })));
});

async function sql(statement: string): Promise<void> {
  const client = new pg.Client({ ...postgres.adminConnection(), ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const login = (user: string, password: string) =>
  canLogin({ ...postgres.adminConnection(), user, password, sslMode: 'verify-full' });

const roleTags = (role: string) => ({
  'vigil-rotation': 'postgres-role',
  'vigil-host': '127.0.0.1',
  'vigil-port': String(postgres.port),
  'vigil-role': role,
});

function nearExpiry(name: string, version: string, type = 'SecretNearExpiry') {
  return [
    {
      id: `${name}-${version}-${type}`,
      topic: keyVault.resourceId(vault),
      subject: name,
      eventType: `Microsoft.KeyVault.${type}`,
      eventTime: new Date().toISOString(),
      dataVersion: '1',
      data: {
        Id: 'x',
        VaultName: vault,
        ObjectType: 'Secret',
        ObjectName: name,
        Version: version,
        NBF: null,
        EXP: 1,
      },
    },
  ];
}

async function deliver(events: unknown[]): Promise<number> {
  const code = encodeURIComponent(host.keys.systemKeys.eventgrid_extension);
  const response = await fetch(
    `${host.host.url}/runtime/webhooks/eventgrid?functionName=keyVaultEvents&code=${code}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
      body: JSON.stringify(events),
    },
  );
  return response.status;
}

async function outcome(name: string): Promise<Record<string, unknown>> {
  const code = encodeURIComponent(host.keys.systemKeys.durabletask_extension);
  const url = `${host.host.url}/runtime/webhooks/durabletask/instances/${rotationInstanceId(vault, name)}?code=${code}`;
  let body: { runtimeStatus?: string; output?: Record<string, unknown> } = {};
  await expect
    .poll(
      async () => {
        const response = await fetch(url);
        body = response.status === 200 ? ((await response.json()) as typeof body) : {};
        return ['Completed', 'Failed'].includes(body.runtimeStatus ?? '');
      },
      { timeout: 60_000, interval: 100 },
    )
    .toBe(true);
  return body.output ?? {};
}

async function setSecret(name: string, value: string, tags: Record<string, string>) {
  const written = await secrets.setSecret(name, value, { expiresOn: new Date(Date.now() + 29 * day), tags });
  return written.properties.version ?? '';
}

describe('rotation with the host in process', () => {
  it('rotates a single role from an expiry event, and skips the same event once rotated', async () => {
    await sql(`CREATE ROLE ip_single LOGIN PASSWORD 'Ip-Single-Pw-0000001'`);
    const version = await setSecret('ip-single', 'Ip-Single-Pw-0000001', roleTags('ip_single'));
    expect(await deliver(nearExpiry('ip-single', version))).toBe(202);
    expect(await outcome('ip-single')).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('ip-single');
    expect(await login('ip_single', current.value ?? '')).toBe(true);
    expect(await login('ip_single', 'Ip-Single-Pw-0000001')).toBe(false);

    expect(await deliver(nearExpiry('ip-single', version, 'SecretExpired'))).toBe(202);
    expect(await outcome('ip-single')).toMatchObject({ outcome: 'skipped' });
  });

  it('rotates an alternating pair with the admin secret', async () => {
    await sql(`CREATE ROLE ip_admin LOGIN CREATEROLE PASSWORD 'Ip-Admin-Pw-00000001'`);
    await sql(`CREATE ROLE ip_a LOGIN PASSWORD 'Ip-A-Pw-000000000001'`);
    await sql(`CREATE ROLE ip_b LOGIN PASSWORD 'Ip-B-Pw-000000000001'`);
    await sql('GRANT ip_a, ip_b TO ip_admin WITH ADMIN OPTION');
    await secrets.setSecret('ip-admin', 'Ip-Admin-Pw-00000001');
    const version = await setSecret('ip-pair', 'Ip-A-Pw-000000000001', {
      ...roleTags('ip_a'),
      'vigil-rotation': 'postgres-alternating',
      'vigil-role-alternate': 'ip_b',
      'vigil-admin-secret': 'ip-admin',
      'vigil-admin-role': 'ip_admin',
    });
    await deliver(nearExpiry('ip-pair', version));
    expect(await outcome('ip-pair')).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('ip-pair');
    expect(current.properties.tags?.['vigil-active-role']).toBe('ip_b');
    expect(await login('ip_b', current.value ?? '')).toBe(true);
    expect(await login('ip_a', 'Ip-A-Pw-000000000001')).toBe(true);
  });

  it('fails cleanly when the role cannot change its own password, and disables the pending value', async () => {
    const version = await setSecret('ip-norole', 'No-Such-Role-Pw-0001', roleTags('ip_missing'));
    await deliver(nearExpiry('ip-norole', version));
    const result = await outcome('ip-norole');
    expect(result).toMatchObject({ outcome: 'failed', step: 'set' });
    expect(String(result.error)).toContain('auth-failed');
    expect((await secrets.getSecret('ip-norole')).value).toBe('No-Such-Role-Pw-0001');
    for await (const pending of secrets.listPropertiesOfSecretVersions('ip-norole-pending'))
      expect(pending.enabled).toBe(false);
  });

  it('records bad tags, ignores unmarked secrets and unparseable or irrelevant events', async () => {
    const bad = await setSecret('ip-bad', 'Ip-Bad-Pw-0000000001', {
      ...roleTags('x'),
      'vigil-sslmode': 'prefer',
    });
    await deliver(nearExpiry('ip-bad', bad));
    const result = await outcome('ip-bad');
    expect(result).toMatchObject({ outcome: 'failed', step: 'plan' });
    expect(String(result.error)).toContain('tag vigil-sslmode must be one of');

    const plain = await setSecret('ip-plain', 'Ip-Plain-Value-00001', {});
    expect(await deliver(nearExpiry('ip-plain', plain))).toBe(202);
    expect(await deliver(nearExpiry('ip-gone', 'v1'))).toBe(202);
    expect(await deliver(nearExpiry('ip-plain', plain, 'SecretNewVersionCreated'))).toBe(202);
    const [event] = nearExpiry('ip-plain', plain);
    expect(await deliver([{ ...event, data: {} }])).toBe(202);
  });

  it('rotates a random value on demand and tells the webhook the new version', async () => {
    const { port } = receiver.address() as AddressInfo;
    await setSecret('ip-api-key', 'initial-api-key-000001', {
      'vigil-rotation': 'random',
      'vigil-webhook': `http://127.0.0.1:${port}/rotated`,
    });
    const token = await issueToken(host.keys.tokenSigningKey, {
      subject: 'u1',
      name: 'Ada',
      roles: ['responder'],
    });
    const response = await fetch(`${host.host.url}/api/secrets/${vault}/ip-api-key/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(202);
    expect(await outcome('ip-api-key')).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('ip-api-key');
    expect(notifications).toContainEqual(
      expect.objectContaining({
        type: 'Vigil.SecretRotated',
        secret: 'ip-api-key',
        version: current.properties.version,
      }),
    );
    expect(JSON.stringify(notifications)).not.toContain(current.value ?? '');
  });

  it('sweeps the configured vault: a marked secret without expiry is rotated', async () => {
    await secrets.setSecret('ip-sweep', 'initial-sweep-value-01', { tags: { 'vigil-rotation': 'random' } });
    const response = await fetch(`${host.host.url}/admin/functions/rotationSweep`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(202);
    expect(await outcome('ip-sweep')).toMatchObject({ outcome: 'rotated' });
  });
});
