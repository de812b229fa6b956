import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../local/host/easyAuth.js';
import { localVault } from '../../local/stack.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { type EventTap, expectNoSecretLeaks, SecretCanaries, tapEvents } from '../support/secretHygiene.js';
import { executions, startTestStack, waitForInstance } from '../support/stack.js';

const day = 24 * 3600_000;
const lines: string[] = [];
let stack: Awaited<ReturnType<typeof startTestStack>>;
let secrets: SecretClient;
let tap: EventTap;
const canaries = new SecretCanaries();

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3600_000 }),
};

async function sql(statement: string): Promise<void> {
  const client = new pg.Client({ ...stack.postgres.adminConnection(), ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function createRole(role: string, password: string): Promise<void> {
  await sql(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
}

const login = (user: string, password: string) =>
  canLogin({ ...stack.postgres.adminConnection(), user, password, sslMode: 'verify-full' });

const finished = (status: { runtimeStatus: string }) =>
  ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus);

beforeAll(async () => {
  stack = await startTestStack(lines);
  secrets = new SecretClient(stack.keyVault.url(localVault), credential, {
    disableChallengeResourceVerification: true,
  });
  tap = await tapEvents(stack);
});
afterAll(async () => {
  await tap?.close();
  await stack?.cleanUp();
});

async function versionsOf(name: string) {
  const versions = [];
  for await (const version of secrets.listPropertiesOfSecretVersions(name)) versions.push(version);
  return versions;
}

const rotateFor = (name: string) =>
  waitForInstance(stack, rotationInstanceId(localVault, name), finished, 60_000);

const postgresTags = (role: string) => ({
  'vigil-host': '127.0.0.1',
  'vigil-port': String(stack.postgres.port),
  'vigil-role': role,
});

describe('a PostgreSQL role secret 29 days from expiry', () => {
  it('is rotated from the SecretNearExpiry event: the new current version logs in, the old one fails', async () => {
    const initial = 'Initial-Single-Pw-0001';
    await createRole('app_single', initial);
    await secrets.setSecret('db-single', initial, {
      expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
      tags: {
        'vigil-rotation': 'postgres-role',
        'vigil-host': '127.0.0.1',
        'vigil-port': String(stack.postgres.port),
        'vigil-role': 'app_single',
        owner: 'team-orders',
      },
    });

    const status = await waitForInstance(
      stack,
      rotationInstanceId(localVault, 'db-single'),
      finished,
      60_000,
    );

    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('db-single');
    expect(current.value).not.toBe(initial);
    expect(current.properties.tags).toMatchObject({
      owner: 'team-orders',
      'vigil-rotation': 'postgres-role',
    });
    expect(current.properties.expiresOn?.getTime()).toBeGreaterThan(stack.clock.now().getTime() + 59 * day);
    expect(await login('app_single', current.value ?? '')).toBe(true);
    expect(await login('app_single', initial)).toBe(false);
    const versions = [];
    for await (const version of secrets.listPropertiesOfSecretVersions('db-single')) versions.push(version);
    expect(versions).toHaveLength(2);
    for await (const pending of secrets.listPropertiesOfSecretVersions('db-single-pending'))
      expect(pending.enabled).toBe(false);
  });
});

describe('an alternating pair of roles', () => {
  it('rotates the inactive role while applications keep logging in with the current version', async () => {
    await createRole('vigil_admin', 'Admin-Alt-Pw-000001');
    await sql('ALTER ROLE vigil_admin CREATEROLE');
    await createRole('app_blue', 'Blue-Alt-Pw-00000001');
    await createRole('app_green', 'Green-Alt-Pw-0000001');
    // Since PostgreSQL 16 a CREATEROLE role may only change roles it administers.
    await sql('GRANT app_blue, app_green TO vigil_admin WITH ADMIN OPTION');
    await secrets.setSecret('pg-admin', 'Admin-Alt-Pw-000001');
    const applications = keepLoggingIn('db-alt');
    await secrets.setSecret('db-alt', 'Blue-Alt-Pw-00000001', {
      expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
      tags: {
        'vigil-rotation': 'postgres-alternating',
        ...postgresTags('app_blue'),
        'vigil-role-alternate': 'app_green',
        'vigil-admin-secret': 'pg-admin',
        'vigil-admin-role': 'vigil_admin',
      },
    });

    const status = await rotateFor('db-alt');
    const attempts = await applications.stop();

    expect(status.output).toMatchObject({ outcome: 'rotated' });
    expect(attempts.failures).toEqual([]);
    expect(attempts.count).toBeGreaterThan(3);
    const current = await secrets.getSecret('db-alt');
    expect(current.properties.tags).toMatchObject({ 'vigil-active-role': 'app_green' });
    expect(await login('app_green', current.value ?? '')).toBe(true);
    expect(await login('app_blue', 'Blue-Alt-Pw-00000001')).toBe(true);
    expect(await versionsOf('db-alt')).toHaveLength(2);
  });
});

describe('the Flexible Server administrator', () => {
  it('is rotated through ARM: the PATCH changes the real administrator password', async () => {
    await createRole('flex_admin', 'Flex-Admin-Pw-0000001');
    const { resourceId } = stack.arm.registerFlexibleServer({
      subscriptionId: '00000000-0000-0000-0000-00000000e2e0',
      resourceGroup: 'rg-e2e',
      name: 'pg-e2e',
      administratorLogin: 'flex_admin',
      controlPlane: { ...stack.postgres.adminConnection(), sslMode: 'verify-full' },
    });
    await secrets.setSecret('pg-e2e-admin', 'Flex-Admin-Pw-0000001', {
      expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
      tags: {
        'vigil-rotation': 'postgres-flexible-admin',
        'vigil-resource-id': resourceId,
        'vigil-port': String(stack.postgres.port),
      },
    });

    const status = await rotateFor('pg-e2e-admin');

    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('pg-e2e-admin');
    expect(await login('flex_admin', current.value ?? '')).toBe(true);
    expect(await login('flex_admin', 'Flex-Admin-Pw-0000001')).toBe(false);
    expect(current.value?.toLowerCase()).not.toMatch(/fle|lex|adm|dmi|min/);
  });
});

describe('rotation on demand: POST /api/secrets/{vault}/{name}/rotate', () => {
  const rotate = async (name: string, roles?: string[]) => {
    const headers: Record<string, string> = {};
    if (roles)
      headers.authorization = `Bearer ${await issueToken(stack.hostKeys.tokenSigningKey, { subject: 'oncall-9', name: 'Ada', roles })}`;
    return fetch(`${stack.hostUrl}/api/secrets/${localVault}/${name}/rotate`, { method: 'POST', headers });
  };

  it('rotates for a responder and answers with the status URLs', async () => {
    const before = await secrets.getSecret('db-single');
    const response = await rotate('db-single', ['responder']);
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; statusQueryGetUri: string };
    expect(body.id).toBe(rotationInstanceId(localVault, 'db-single'));
    expect(body.statusQueryGetUri).toContain(stack.hostUrl);

    await expect
      .poll(
        async () =>
          ((await (await fetch(body.statusQueryGetUri)).json()) as { runtimeStatus: string }).runtimeStatus,
        {
          timeout: 30_000,
        },
      )
      .toBe('Completed');
    const after = await secrets.getSecret('db-single');
    expect(after.properties.version).not.toBe(before.properties.version);
    expect(await login('app_single', after.value ?? '')).toBe(true);
    expect(await versionsOf('db-single')).toHaveLength(3);
  });

  it.each([
    ['an anonymous caller', 'db-single', undefined, 401],
    ['a caller without the responder role', 'db-single', ['reader'], 403],
    ['a secret that does not exist', 'no-such-secret', ['responder'], 404],
    ['a secret not marked for rotation', 'pg-admin', ['responder'], 409],
    ['a malformed secret name', 'bad_name', ['responder'], 400],
  ])('refuses %s', async (_case, name, roles, status) => {
    const response = await rotate(name, roles);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toEqual(expect.any(String));
  });
});

describe('the rotation sweep', () => {
  it('rotates a marked secret without expiry when the hourly timer fires, and gives it an expiry', async () => {
    await secrets.setSecret('api-key-sweep', 'initial-api-key-value-01', {
      tags: { 'vigil-rotation': 'random', 'vigil-validity-days': '90' },
    });
    await secrets.setSecret('untagged-sweep', 'not-vigils-to-rotate-01');
    const sweeps = executions(lines, 'rotationSweep');

    await stack.advanceClock(3600_000);

    await expect.poll(() => executions(lines, 'rotationSweep'), { timeout: 20_000 }).toBeGreaterThan(sweeps);
    const status = await rotateFor('api-key-sweep');
    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('api-key-sweep');
    expect(current.value).toMatch(/^[A-Za-z0-9._~-]{32}$/);
    expect(current.properties.expiresOn?.getTime()).toBeGreaterThan(stack.clock.now().getTime() + 89 * day);
    expect(await versionsOf('untagged-sweep')).toHaveLength(1);
  });
});

describe('secret hygiene over this whole file', () => {
  it('finds no secret value in any log line, audit record, delivered event or table row', async () => {
    await stack.eventGrid.idle();
    expect(await canaries.addFromVault(stack)).toBeGreaterThan(5);
    const scanned = await expectNoSecretLeaks(stack, canaries, { lines, tap });
    expect(scanned.auditRecords).toBeGreaterThan(10);
  });
});

/** An application that reads the current version and logs in, over and over, until stopped. */
function keepLoggingIn(secretName: string) {
  let running = true;
  const failures: string[] = [];
  let count = 0;
  const loop = (async () => {
    while (running) {
      const current = await secrets.getSecret(secretName).catch(() => undefined);
      const role =
        current?.properties.tags?.['vigil-active-role'] ?? current?.properties.tags?.['vigil-role'];
      if (current?.value && role) {
        count += 1;
        if (!(await login(role, current.value)))
          failures.push(`login as ${role} with version ${current.properties.version}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { failures, count };
    },
  };
}
