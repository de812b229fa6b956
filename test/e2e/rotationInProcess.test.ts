import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../local/emulators/identity/index.js';
import { type KeyVaultEmulator, startKeyVaultEmulator } from '../../local/emulators/keyvault/index.js';
import { issueToken } from '../../local/host/easyAuth.js';
import { LocalPostgres } from '../../local/services/postgres.js';
import { ensureLocalCertificates, trustLocalCa } from '../../local/tls.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { type InProcessHost, startInProcessHost } from '../support/inProcessHost.js';
import { RotationTestbed, vaultClient } from '../support/rotation.js';

/**
 * The rotation triggers and orchestration with the host in this process, against the real Key
 * Vault emulator and PostgreSQL: failure paths and triggers the stack-level suites (rotation,
 * rotationCrash, rotationFaults) do not reach — a role that cannot change its own password, bad
 * sslmode, events for missing or unmarked secrets, the random strategy's webhook, the sweep.
 */
const vault = 'kv-inproc';
let workDir: string;
let pgDir: string;
let keyVault: KeyVaultEmulator;
let identity: IdentityEndpoint;
let postgres: LocalPostgres;
let host: InProcessHost;
let testbed: RotationTestbed;
let receiver: Server;
const notifications: unknown[] = [];
let redirectsAsked = 0;

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
      redirectsAsked += req.url === '/moved' ? 1 : 0;
      if (req.url === '/moved') return void res.writeHead(307, { location: '/rotated' }).end();
      notifications.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, identity.env, {
    VIGIL_KEYVAULT_URL_TEMPLATE: keyVault.url(vault),
    VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    VIGIL_ROTATION_VAULTS: vault,
    // Daily, so the hours that tests tick through for Durable's retry delays start no sweep of their own.
    VIGIL_ROTATION_SWEEP_SCHEDULE: '0 0 0 * * *',
  });
  host = await startInProcessHost();
  testbed = new RotationTestbed({
    secrets: vaultClient(keyVault.url(vault)),
    database: () => postgres,
    now: () => new Date(),
  });
});

afterAll(async () => {
  await host?.stop();
  await keyVault?.close();
  await identity?.close();
  await postgres?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  await Promise.all([workDir, pgDir].map((dir) => rm(dir, { recursive: true, force: true })));
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

/** Starts a rotation directly, as a trigger would, bypassing the triggers' own checks. */
function startRun(name: string, trigger: Record<string, string>): Promise<void> {
  return startInstance('rotateSecret', rotationInstanceId(vault, name), { vault, secret: name, trigger });
}

async function startInstance(orchestration: string, instanceId: string, input: unknown): Promise<void> {
  const code = encodeURIComponent(host.keys.systemKeys.durabletask_extension);
  const response = await fetch(
    `${host.host.url}/runtime/webhooks/durabletask/orchestrators/${orchestration}/${encodeURIComponent(instanceId)}?code=${code}`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) },
  );
  expect(response.status).toBe(202);
}

/** Waits while moving the host's clock, so Durable's retry delays pass at once. */
async function withClockTicking<T>(wait: () => Promise<T>): Promise<T> {
  const ticker = setInterval(() => host.clock.advance(60_000), 100);
  try {
    return await wait();
  } finally {
    clearInterval(ticker);
  }
}

const outcomeWithRetries = (name: string) => withClockTicking(() => outcome(name));

async function outcome(name: string): Promise<Record<string, unknown>> {
  return ((await finished(rotationInstanceId(vault, name))) as Record<string, unknown> | undefined) ?? {};
}

async function instanceStatusCode(instanceId: string): Promise<number> {
  const code = encodeURIComponent(host.keys.systemKeys.durabletask_extension);
  const url = `${host.host.url}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?code=${code}`;
  const response = await fetch(url);
  await response.body?.cancel();
  return response.status;
}

/** Waits for the instance to complete or fail, and returns its output. */
async function finished(instanceId: string): Promise<unknown> {
  const code = encodeURIComponent(host.keys.systemKeys.durabletask_extension);
  const url = `${host.host.url}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?code=${code}`;
  let body: { runtimeStatus?: string; output?: unknown } = {};
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
  return body.output;
}

describe('rotation with the host in process', () => {
  it('rotates a single role from an expiry event, and skips the same event once rotated', async () => {
    const version = await testbed.markRoleForRotation('ip-single', 'ip_single', 'Ip-Single-Pw-0000001');
    expect(await deliver(nearExpiry('ip-single', version))).toBe(202);
    expect(await outcome('ip-single')).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('ip-single');
    await testbed.expectLogsIn('ip_single', current.value);
    await testbed.expectLoginRefused('ip_single', 'Ip-Single-Pw-0000001');

    expect(await deliver(nearExpiry('ip-single', version, 'SecretExpired'))).toBe(202);
    expect(await outcome('ip-single')).toMatchObject({ outcome: 'skipped' });
  });

  it('rotates an alternating pair with the admin secret', async () => {
    await testbed.sql(`CREATE ROLE ip_admin LOGIN CREATEROLE PASSWORD 'Ip-Admin-Pw-00000001'`);
    await testbed.createRole('ip_a', 'Ip-A-Pw-000000000001');
    await testbed.createRole('ip_b', 'Ip-B-Pw-000000000001');
    await testbed.sql('GRANT ip_a, ip_b TO ip_admin WITH ADMIN OPTION');
    await testbed.secrets.setSecret('ip-admin', 'Ip-Admin-Pw-00000001');
    const version = await testbed.markForRotation('ip-pair', 'Ip-A-Pw-000000000001', {
      ...testbed.roleTags('ip_a'),
      'vigil-rotation': 'postgres-alternating',
      'vigil-role-alternate': 'ip_b',
      'vigil-admin-secret': 'ip-admin',
      'vigil-admin-role': 'ip_admin',
    });
    await deliver(nearExpiry('ip-pair', version));
    expect(await outcome('ip-pair')).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('ip-pair');
    expect(current.properties.tags?.['vigil-active-role']).toBe('ip_b');
    await testbed.expectLogsIn('ip_b', current.value);
    await testbed.expectLogsIn('ip_a', 'Ip-A-Pw-000000000001');
  });

  it('fails cleanly when the role cannot change its own password, and disables the pending value', async () => {
    const version = await testbed.markForRotation(
      'ip-norole',
      'No-Such-Role-Pw-0001',
      testbed.roleTags('ip_missing'),
    );
    await deliver(nearExpiry('ip-norole', version));
    const result = await outcome('ip-norole');
    expect(result).toMatchObject({ outcome: 'failed', step: 'set' });
    expect(String(result.error)).toContain('auth-failed');
    expect((await testbed.currentVersion('ip-norole')).value).toBe('No-Such-Role-Pw-0001');
    await testbed.expectNoEnabledPending('ip-norole');
  });

  it('adopts a leftover the server already uses instead of disabling the only working password', async () => {
    const version = await testbed.markRoleForRotation('ip-leftover', 'ip_leftover', 'Ip-Leftover-Pw-000001');
    // An interrupted run: the server took its pending password, the run never promoted it.
    await testbed.secrets.setSecret('ip-leftover-pending', 'Ip-Leftover-Pw-000002', {
      tags: {
        'vigil-pending-for': 'ip-leftover',
        'vigil-rotation-id': 'an-interrupted-run',
        'vigil-active-role': 'ip_leftover',
      },
    });
    await testbed.sql(`ALTER ROLE ip_leftover PASSWORD 'Ip-Leftover-Pw-000002'`);
    await deliver(nearExpiry('ip-leftover', version));
    expect(await outcome('ip-leftover')).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('ip-leftover');
    expect(current.value).toBe('Ip-Leftover-Pw-000002');
    await testbed.expectLogsIn('ip_leftover', current.value);
    await testbed.expectNoEnabledPending('ip-leftover');
  });

  it('records a permanent Key Vault error while inspecting as a failed plan', async () => {
    const version = await testbed.markForRotation('ip-disabled', 'Ip-Disabled-Pw-000001', {
      'vigil-rotation': 'random',
    });
    await testbed.secrets.updateSecretProperties('ip-disabled', version, { enabled: false });
    // The triggers read the secret first; a run they started sees the version disabled only later.
    await startRun('ip-disabled', { reason: 'near-expiry', version });
    const result = await outcome('ip-disabled');
    expect(result).toMatchObject({ outcome: 'failed', step: 'plan' });
    expect(String(result.error)).toContain('KeyVaultError');
  });

  it('records bad tags, ignores unmarked secrets and unparseable or irrelevant events', async () => {
    const bad = await testbed.markForRotation('ip-bad', 'Ip-Bad-Pw-0000000001', {
      ...testbed.roleTags('x'),
      'vigil-sslmode': 'prefer',
    });
    await deliver(nearExpiry('ip-bad', bad));
    const result = await outcome('ip-bad');
    expect(result).toMatchObject({ outcome: 'failed', step: 'plan' });
    expect(String(result.error)).toContain('tag vigil-sslmode must be one of');

    const plain = await testbed.writeUnmarked('ip-plain', 'Ip-Plain-Value-00001');
    expect(await deliver(nearExpiry('ip-plain', plain))).toBe(202);
    expect(await deliver(nearExpiry('ip-gone', 'v1'))).toBe(202);
    expect(await deliver(nearExpiry('ip-plain', plain, 'SecretNewVersionCreated'))).toBe(202);
    const [event] = nearExpiry('ip-plain', plain);
    expect(await deliver([{ ...event, data: {} }])).toBe(202);
    // Acknowledged, and nothing started: no rotation instance, no new version.
    for (const name of ['ip-plain', 'ip-gone'])
      expect(await instanceStatusCode(rotationInstanceId(vault, name))).toBe(404);
    expect(await testbed.versionsOf('ip-plain')).toHaveLength(1);
  });

  it('rotates a random value on demand and tells the webhook the new version', async () => {
    const { port } = receiver.address() as AddressInfo;
    await testbed.markForRotation('ip-api-key', 'initial-api-key-000001', {
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
    const current = await testbed.currentVersion('ip-api-key');
    expect(notifications).toContainEqual(
      expect.objectContaining({
        type: 'Vigil.SecretRotated',
        secret: 'ip-api-key',
        version: current.properties.version,
      }),
    );
    expect(JSON.stringify(notifications)).not.toContain(current.value ?? '');
  });

  it('never follows a webhook redirect: the notice does not reach where the tag did not point', async () => {
    const { port } = receiver.address() as AddressInfo;
    await testbed.markForRotation('ip-moved', 'initial-moved-key-0001', {
      'vigil-rotation': 'random',
      'vigil-webhook': `http://127.0.0.1:${port}/moved`,
    });
    await startRun('ip-moved', { reason: 'on-demand', requestedBy: 'Ada' });
    // The value is rotated; only the notice failed (after Durable's retries).
    expect(await outcomeWithRetries('ip-moved')).toMatchObject({ outcome: 'rotated' });
    expect(redirectsAsked).toBeGreaterThan(1);
    expect(notifications).not.toContainEqual(expect.objectContaining({ secret: 'ip-moved' }));
  });

  it('keeps a promoted rotation when disabling its pending version fails; the next rotation tidies it', async () => {
    const version = await testbed.markForRotation('ip-untidy', 'initial-untidy-key-001', {
      'vigil-rotation': 'random',
    });
    // 501 is not retried by the SDK: the disable fails at once, after the new version is current.
    keyVault.admin.fail({
      requests: 1,
      status: 501,
      only: { method: 'PATCH', path: /^\/secrets\/ip-untidy-pending\// },
    });
    await startRun('ip-untidy', { reason: 'near-expiry', version });
    expect(await outcome('ip-untidy')).toMatchObject({ outcome: 'rotated' });
    const rotated = await testbed.currentVersion('ip-untidy');
    expect(rotated.value).not.toBe('initial-untidy-key-001');
    expect((await testbed.versionsOf('ip-untidy-pending')).filter((v) => v.enabled)).toHaveLength(1);

    await startRun('ip-untidy', { reason: 'on-demand', requestedBy: 'Ada' });
    expect(await outcome('ip-untidy')).toMatchObject({ outcome: 'rotated' });
    await testbed.expectNoEnabledPending('ip-untidy');
  });

  it('rotates a random value without a webhook in 8 Key Vault requests: no set, test or notify step', async () => {
    const version = await testbed.markForRotation('ip-lean', 'initial-lean-key-00001', {
      'vigil-rotation': 'random',
    });
    const before = keyVault.admin.counts().served;
    await startRun('ip-lean', { reason: 'near-expiry', version });
    expect(await outcome('ip-lean')).toMatchObject({ outcome: 'rotated' });
    // inspect 1; create: list pending, read current, write pending; promote: read current, read pending, write, disable.
    expect(keyVault.admin.counts().served - before).toBe(8);
    await testbed.expectNoEnabledPending('ip-lean');
  });

  it('refuses to go on when the tags switch strategy in the middle of a run, keeping the current value', async () => {
    const version = await testbed.markForRotation('ip-switch', 'initial-switch-key-001', {
      'vigil-rotation': 'random',
    });
    const failedBefore = keyVault.admin.counts().failed;
    // The first write of the pending value fails (501 is not retried by the SDK; Durable retries it).
    keyVault.admin.fail({
      requests: 1,
      status: 501,
      only: { method: 'PUT', path: /^\/secrets\/ip-switch-pending\/?$/ },
    });
    await startRun('ip-switch', { reason: 'near-expiry', version });
    await expect
      .poll(() => keyVault.admin.counts().failed, { timeout: 20_000 })
      .toBeGreaterThan(failedBefore);
    await testbed.secrets.updateSecretProperties('ip-switch', version, {
      tags: testbed.roleTags('ip_switch'),
    });
    const result = await outcomeWithRetries('ip-switch');
    expect(result).toMatchObject({ outcome: 'failed', step: 'create' });
    expect(String(result.error)).toContain('strategy changed from random to postgres-role');
    expect((await testbed.currentVersion('ip-switch')).value).toBe('initial-switch-key-001');
  });

  it('skips a sweep-started run when a rotation finished since the sweep listed the secret', async () => {
    await testbed.secrets.setSecret('ip-swept', 'initial-swept-value-01', {
      tags: { 'vigil-rotation': 'random' },
    });
    await startRun('ip-swept', { reason: 'on-demand', requestedBy: 'Ada' });
    expect(await outcome('ip-swept')).toMatchObject({ outcome: 'rotated' });
    const rotated = await testbed.currentVersion('ip-swept');
    await startRun('ip-swept', { reason: 'sweep', verdict: 'no-expiry' });
    expect(await outcome('ip-swept')).toMatchObject({ outcome: 'skipped' });
    expect((await testbed.currentVersion('ip-swept')).properties.version).toBe(rotated.properties.version);
  });

  it('sweeps the configured vault: a marked secret without expiry is rotated', async () => {
    await testbed.secrets.setSecret('ip-sweep', 'initial-sweep-value-01', {
      tags: { 'vigil-rotation': 'random' },
    });
    const response = await fetch(`${host.host.url}/admin/functions/rotationSweep`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(202);
    expect(await outcome('ip-sweep')).toMatchObject({ outcome: 'rotated' });
  });

  it('reports a vault whose listing fails through every retry, and still sweeps the next', async () => {
    // Four attempts of the first vault's listing fail (501: the SDK does not retry it); Durable's
    // retries run on the ticking clock, then the sweep moves on to the next vault.
    keyVault.admin.fail({ requests: 4, status: 501, only: { method: 'GET', path: /^\/secrets\/?$/ } });
    await startInstance('sweepSecrets', 'sweep-under-test', { vaults: [vault, vault] });
    const output = await withClockTicking(() => finished('sweep-under-test'));
    expect(output).toEqual([
      { vault, error: expect.stringContaining('Key Vault could not list the secrets (HTTP 501') },
      expect.objectContaining({ vault, notStarted: [] }),
    ]);
  });

  // Last in the file: it moves the host's clock 15 days on.
  it('sweeps by the Durable clock: a secret 40 days from expiry is due once that clock is 15 days on', async () => {
    const day = 24 * 3600_000;
    await testbed.secrets.setSecret('ip-later', 'initial-later-value-01', {
      tags: { 'vigil-rotation': 'random' },
      expiresOn: new Date(Date.now() + 40 * day),
    });
    // The hourly sweep fires once, past due, as the clock passes its occurrences.
    host.clock.advance(15 * day);
    expect(await outcome('ip-later')).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('ip-later');
    expect(current.value).not.toBe('initial-later-value-01');
  });
});
