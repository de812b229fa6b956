import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../local/host/easyAuth.js';
import { auditStream, localVault } from '../../local/stack.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { RotationTestbed, rotationFinished, rotationOutcome } from '../support/rotation.js';
import { type EventTap, expectNoSecretLeaks, SecretCanaries, tapEvents } from '../support/secretHygiene.js';
import { executions, type InstanceStatus, startTestStack, waitForInstance } from '../support/stack.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/keyvault');
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

/** A Key Vault event for the local vault, as the emulator's system topic publishes it. */
function secretEvent(type: 'SecretNearExpiry' | 'SecretExpired', name: string, version: string, id: string) {
  return {
    id,
    eventType: `Microsoft.KeyVault.${type}`,
    subject: name,
    dataVersion: '1',
    data: {
      Id: `${stack.keyVault.url(localVault)}/secrets/${name}/${version}`,
      VaultName: localVault,
      ObjectType: 'Secret',
      ObjectName: name,
      Version: version,
      NBF: null,
      EXP: Math.floor(Date.now() / 1000),
    },
  };
}

/** Reads a disabled pending value (enabling it for a moment) so the hygiene scan looks for it too. */
async function registerPendingCanaries(name: string): Promise<void> {
  const { secrets } = testbed;
  for (const version of await testbed.versionsOf(`${name}-pending`)) {
    await secrets.updateSecretProperties(`${name}-pending`, version.version ?? '', { enabled: true });
    const { value } = await secrets.getSecret(`${name}-pending`, { version: version.version ?? '' });
    await secrets.updateSecretProperties(`${name}-pending`, version.version ?? '', { enabled: false });
    if (value) canaries.add(value, `${name}-pending@${version.version}`);
  }
}

function rotationFailedEvents(): { data: Record<string, unknown> }[] {
  return tap
    .received()
    .flatMap(
      (recorded) => JSON.parse(recorded.text) as { eventType: string; data: Record<string, unknown> }[],
    )
    .filter((event) => event.eventType === 'Vigil.RotationFailed');
}

describe('at-least-once, unordered delivery', () => {
  it('rotates once however often and in whatever order the events arrive', async () => {
    await testbed.createRole('app_dup', 'Dup-Initial-Pw-000001');
    const before = executions(lines, 'promotePendingCredential');
    const version = await testbed.markForRotation(
      'db-dup',
      'Dup-Initial-Pw-000001',
      testbed.roleTags('app_dup'),
    );
    const replay = () =>
      stack.eventGrid.publishSystemEvents(localVault, [
        secretEvent('SecretExpired', 'db-dup', version, 'dup-expired'),
        secretEvent('SecretNearExpiry', 'db-dup', version, 'dup-near'),
        secretEvent('SecretNearExpiry', 'db-dup', version, 'dup-near'),
      ]);
    replay();
    replay();
    expect((await rotationOutcome(stack, 'db-dup')).output).toMatchObject({ outcome: 'rotated' });

    replay();
    await stack.eventGrid.idle();
    const last = await rotationOutcome(stack, 'db-dup');

    expect(await testbed.versionsOf('db-dup')).toHaveLength(2);
    expect(executions(lines, 'promotePendingCredential') - before).toBe(1);
    expect(last.output).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringContaining('already rotated'),
    });
    const current = await testbed.currentVersion('db-dup');
    await testbed.expectLogsIn('app_dup', current.value);
  });
});

describe('faults', () => {
  it('retries while PostgreSQL is down, then fails cleanly: the old credential stays current, RotationFailed is published', async () => {
    await testbed.createRole('app_down', 'Down-Initial-Pw-00001');
    const tags = testbed.roleTags('app_down');
    await stack.stopPostgres();
    try {
      await testbed.markForRotation('db-down', 'Down-Initial-Pw-00001', tags);
      const instanceId = rotationInstanceId(localVault, 'db-down');
      // Durable retry timers follow the stack clock: move it on until the retries run out.
      let status: InstanceStatus | undefined;
      await expect
        .poll(
          async () => {
            await stack.advanceClock(30_000);
            status = await waitForInstance(stack, instanceId, () => true);
            return rotationFinished(status);
          },
          { timeout: 60_000, interval: 300 },
        )
        .toBe(true);
      expect(status?.output).toMatchObject({ outcome: 'failed', step: 'set' });
      expect(JSON.stringify(status?.output)).toContain('connection-refused');
      // With the server unreachable nothing could tell whether it took the pending password, so the
      // pending version stays readable (a credential is never lost) and the failure says so.
      expect(JSON.stringify(status?.output)).toContain('kept 1 pending version(s) enabled');
    } finally {
      await stack.startPostgres();
    }
    expect(executions(lines, 'setPendingOnTarget', 'Failed')).toBe(4);
    const current = await testbed.currentVersion('db-down');
    expect(current.value).toBe('Down-Initial-Pw-00001');
    await testbed.expectLogsIn('app_down', 'Down-Initial-Pw-00001');
    expect(await testbed.versionsOf('db-down')).toHaveLength(1);
    await registerPendingCanaries('db-down');
    await stack.eventGrid.idle();
    expect(rotationFailedEvents().map((event) => event.data)).toContainEqual(
      expect.objectContaining({ secret: 'db-down', step: 'set', strategy: 'postgres-role' }),
    );
    const audit = stack.logs.records(auditStream).filter((r) => r.resource_id === `${localVault}/db-down`);
    expect(audit).toContainEqual(expect.objectContaining({ status: 'failure' }));
  });

  it('the next rotation after that failure settles the leftover and rotates: never a dead end', async () => {
    const token = await issueToken(stack.hostKeys.tokenSigningKey, {
      subject: 'oncall',
      roles: ['responder'],
    });
    const again = await fetch(`${stack.hostUrl}/api/secrets/${localVault}/db-down/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(202);
    const instanceId = rotationInstanceId(localVault, 'db-down');
    const done = await waitForInstance(
      stack,
      instanceId,
      (status) => (status.output as { outcome?: string } | null)?.outcome === 'rotated',
      60_000,
    );
    expect(done.runtimeStatus).toBe('Completed');
    const rotated = await testbed.currentVersion('db-down');
    expect(rotated.value).not.toBe('Down-Initial-Pw-00001');
    await testbed.expectLogsIn('app_down', rotated.value);
    await testbed.expectLoginRefused('app_down', 'Down-Initial-Pw-00001');
    await testbed.expectNoEnabledPending('db-down');
    await registerPendingCanaries('db-down');
  });

  it('backs off when Key Vault throttles (429 with Retry-After) and completes', async () => {
    await testbed.createRole('app_slow', 'Slow-Initial-Pw-00001');
    const throttledBefore = stack.keyVault.admin.counts().throttled;
    stack.keyVault.admin.rateLimit({ perSecond: 2 });
    try {
      await testbed.markForRotation('db-throttled', 'Slow-Initial-Pw-00001', testbed.roleTags('app_slow'));
      expect((await rotationOutcome(stack, 'db-throttled', 90_000)).output).toMatchObject({
        outcome: 'rotated',
      });
    } finally {
      stack.keyVault.admin.clearFaults();
    }
    expect(stack.keyVault.admin.counts().throttled).toBeGreaterThan(throttledBefore);
    const current = await testbed.currentVersion('db-throttled');
    await testbed.expectLogsIn('app_slow', current.value);
    expect(await testbed.versionsOf('db-throttled')).toHaveLength(2);
  }, 120_000);

  it('records bad tags as a failed rotation with the tag and rule, without touching the secret', async () => {
    await testbed.markForRotation('db-bad-tags', 'Bad-Tags-Pw-000000001', {
      ...testbed.roleTags('app_none'),
      'vigil-host': '',
    });
    const status = await rotationOutcome(stack, 'db-bad-tags');
    expect(status.output).toMatchObject({ outcome: 'failed', step: 'plan' });
    expect(String((status.output as { error: string }).error)).toContain('tag vigil-host is required');
    expect(await testbed.versionsOf('db-bad-tags')).toHaveLength(1);
    await stack.eventGrid.idle();
    expect(rotationFailedEvents().map((event) => event.data)).toContainEqual(
      expect.objectContaining({ secret: 'db-bad-tags', step: 'plan', strategy: 'unknown' }),
    );
    const audit = stack.logs
      .records(auditStream)
      .filter((r) => r.resource_id === `${localVault}/db-bad-tags`);
    expect(audit).toEqual([expect.objectContaining({ status: 'failure' })]);
  });

  it('acknowledges and ignores an expiry event for a secret that is not marked for rotation', async () => {
    await testbed.writeUnmarked('plain-setting', 'not-rotated-value-001');
    await stack.eventGrid.idle();
    await expect
      .poll(() =>
        lines.some(
          (l) => l.includes('plain-setting') && l.includes('not marked for rotation (no vigil-rotation tag)'),
        ),
      )
      .toBe(true);
    expect(await testbed.versionsOf('plain-setting')).toHaveLength(1);
  });
});

describe('the Key Vault event webhook', () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(stack.webhookUrl('keyVaultEvents'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', ...headers },
      body: JSON.stringify(body),
    });

  it.each([
    ['docs-eventgrid-secret-new-version-created.json', {}],
    ['docs-2020-eventgrid-secret-new-version-created.json', {}],
    [
      'docs-cloudevents-secret-new-version-created.json',
      { 'content-type': 'application/cloudevents-batch+json' },
    ],
  ])('parses the official example payload %s, odd spaces and all', async (file, headers) => {
    const payload = JSON.parse(await readFile(path.join(fixtures, file), 'utf8')) as unknown;
    const response = await post(payload, headers);
    expect(response.status).toBeLessThan(300);
    await expect
      .poll(() =>
        lines.some((l) =>
          l.includes(
            'Ignoring SecretNewVersionCreated for sample-kv/newsecret version ee059b2bb5bc48398a53b168c6cdcb10',
          ),
        ),
      )
      .toBe(true);
  });

  it('answers 400 with the reason for a malformed envelope', async () => {
    const response = await post([{ id: 'broken', subject: 'x', data: {} }]);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain('eventType');
  });

  it('logs and acknowledges a well-formed envelope whose Key Vault data is unusable', async () => {
    const event = secretEvent('SecretNearExpiry', 'x', 'v1', 'bad-data');
    const response = await post([
      {
        ...event,
        topic: stack.keyVault.resourceId(localVault),
        eventTime: new Date().toISOString(),
        data: { VaultName: localVault },
      },
    ]);
    expect(response.status).toBeLessThan(300);
    await expect
      .poll(() =>
        lines.some(
          (l) => l.includes('Rejected Key Vault event bad-data') && l.includes('data.ObjectName is required'),
        ),
      )
      .toBe(true);
  });
});

describe('secret hygiene over this whole file', () => {
  it('finds no secret value in any log line, audit record, delivered event or table row', async () => {
    await stack.eventGrid.idle();
    expect(await canaries.addFromVault(stack)).toBeGreaterThan(5);
    const scanned = await expectNoSecretLeaks(stack, canaries, { lines, tap });
    expect(scanned.auditRecords).toBeGreaterThan(5);
  });
});
