import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../local/host/easyAuth.js';
import { localVault } from '../../local/stack.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { RotationTestbed, rotationOutcome } from '../support/rotation.js';
import { type EventTap, expectNoSecretLeaks, SecretCanaries, tapEvents } from '../support/secretHygiene.js';
import { executions, startTestStack } from '../support/stack.js';

const day = 24 * 3600_000;
const lines: string[] = [];
let stack: Awaited<ReturnType<typeof startTestStack>>;
let testbed: RotationTestbed;
let tap: EventTap;
const canaries = new SecretCanaries();

beforeAll(async () => {
  stack = await startTestStack(lines);
  testbed = RotationTestbed.onStack(stack);
  tap = await tapEvents(stack);
});
afterAll(async () => {
  await tap?.close();
  await stack?.cleanUp();
});

describe('a PostgreSQL role secret 29 days from expiry', () => {
  it('is rotated from the SecretNearExpiry event: the new current version logs in, the old one fails', async () => {
    const initial = 'Initial-Single-Pw-0001';
    await testbed.createRole('app_single', initial);
    await testbed.markForRotation('db-single', initial, {
      ...testbed.roleTags('app_single'),
      owner: 'team-orders',
    });

    const status = await rotationOutcome(stack, 'db-single');

    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('db-single');
    expect(current.value).not.toBe(initial);
    expect(current.properties.tags).toMatchObject({
      owner: 'team-orders',
      'vigil-rotation': 'postgres-role',
    });
    expect(current.properties.expiresOn?.getTime()).toBeGreaterThan(stack.clock.now().getTime() + 59 * day);
    await testbed.expectLogsIn('app_single', current.value);
    await testbed.expectLoginRefused('app_single', initial);
    expect(await testbed.versionsOf('db-single')).toHaveLength(2);
    await testbed.expectNoEnabledPending('db-single');
  });
});

describe('an alternating pair of roles', () => {
  it('rotates the inactive role while applications keep logging in with the current version', async () => {
    await testbed.createRole('vigil_admin', 'Admin-Alt-Pw-000001');
    await testbed.sql('ALTER ROLE vigil_admin CREATEROLE');
    await testbed.createRole('app_blue', 'Blue-Alt-Pw-00000001');
    await testbed.createRole('app_green', 'Green-Alt-Pw-0000001');
    // Since PostgreSQL 16 a CREATEROLE role may only change roles it administers.
    await testbed.sql('GRANT app_blue, app_green TO vigil_admin WITH ADMIN OPTION');
    await testbed.secrets.setSecret('pg-admin', 'Admin-Alt-Pw-000001');
    const applications = keepLoggingIn('db-alt');
    await testbed.markForRotation('db-alt', 'Blue-Alt-Pw-00000001', {
      ...testbed.roleTags('app_blue'),
      'vigil-rotation': 'postgres-alternating',
      'vigil-role-alternate': 'app_green',
      'vigil-admin-secret': 'pg-admin',
      'vigil-admin-role': 'vigil_admin',
    });

    const status = await rotationOutcome(stack, 'db-alt');
    const attempts = await applications.stop();

    expect(status.output).toMatchObject({ outcome: 'rotated' });
    expect(attempts.failures).toEqual([]);
    expect(attempts.count).toBeGreaterThan(3);
    const current = await testbed.currentVersion('db-alt');
    expect(current.properties.tags).toMatchObject({ 'vigil-active-role': 'app_green' });
    await testbed.expectLogsIn('app_green', current.value);
    await testbed.expectLogsIn('app_blue', 'Blue-Alt-Pw-00000001');
    expect(await testbed.versionsOf('db-alt')).toHaveLength(2);
  });
});

describe('the Flexible Server administrator', () => {
  it('is rotated through ARM: the PATCH changes the real administrator password', async () => {
    await testbed.createRole('flex_admin', 'Flex-Admin-Pw-0000001');
    const { resourceId } = stack.arm.registerFlexibleServer({
      subscriptionId: '00000000-0000-0000-0000-00000000e2e0',
      resourceGroup: 'rg-e2e',
      name: 'pg-e2e',
      administratorLogin: 'flex_admin',
      controlPlane: { ...stack.postgres.adminConnection(), sslMode: 'verify-full' },
    });
    await testbed.markForRotation(
      'pg-e2e-admin',
      'Flex-Admin-Pw-0000001',
      testbed.flexibleAdminTags(resourceId),
    );

    const status = await rotationOutcome(stack, 'pg-e2e-admin');

    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('pg-e2e-admin');
    await testbed.expectLogsIn('flex_admin', current.value);
    await testbed.expectLoginRefused('flex_admin', 'Flex-Admin-Pw-0000001');
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
    const before = await testbed.currentVersion('db-single');
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
    const after = await testbed.currentVersion('db-single');
    expect(after.properties.version).not.toBe(before.properties.version);
    await testbed.expectLogsIn('app_single', after.value);
    expect(await testbed.versionsOf('db-single')).toHaveLength(3);
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
    await testbed.secrets.setSecret('api-key-sweep', 'initial-api-key-value-01', {
      tags: { 'vigil-rotation': 'random', 'vigil-validity-days': '90' },
    });
    await testbed.secrets.setSecret('untagged-sweep', 'not-vigils-to-rotate-01');
    const sweeps = executions(lines, 'rotationSweep');

    await stack.advanceClock(3600_000);

    await expect.poll(() => executions(lines, 'rotationSweep'), { timeout: 20_000 }).toBeGreaterThan(sweeps);
    const status = await rotationOutcome(stack, 'api-key-sweep');
    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await testbed.currentVersion('api-key-sweep');
    expect(current.value).toMatch(/^[A-Za-z0-9._~-]{32}$/);
    expect(current.properties.expiresOn?.getTime()).toBeGreaterThan(stack.clock.now().getTime() + 89 * day);
    expect(await testbed.versionsOf('untagged-sweep')).toHaveLength(1);
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
      const current = await testbed.currentVersion(secretName).catch(() => undefined);
      const role =
        current?.properties.tags?.['vigil-active-role'] ?? current?.properties.tags?.['vigil-role'];
      if (current?.value && role) {
        count += 1;
        if (!(await testbed.canLogin(role, current.value)))
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
