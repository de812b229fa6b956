import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RotationTestbed, rotationOutcome } from '../support/rotation.js';
import { startTestStack } from '../support/stack.js';

/**
 * Crash safety: the host is killed (SIGKILL) at each step boundary of a rotation and in the middle
 * of steps, then restarted. Every run must end with a current version that logs in, exactly one new
 * version, and no enabled pending version.
 */

/** Host log lines, with a hook that sees each one as it arrives (to kill at an exact moment). */
class WatchedLines extends Array<string> {
  watcher: ((line: string) => void) | undefined;
  override push(...items: string[]): number {
    const length = super.push(...items);
    for (const item of items) this.watcher?.(item);
    return length;
  }
}

const lines = new WatchedLines();
let stack: Awaited<ReturnType<typeof startTestStack>>;
let testbed: RotationTestbed;
const covered: string[] = [];

beforeAll(async () => {
  stack = await startTestStack(lines);
  testbed = RotationTestbed.onStack(stack);
});
afterAll(async () => {
  console.info(`Crash safety: the host was killed at ${covered.length} points: ${covered.join('; ')}`);
  await stack?.cleanUp();
});

/** Resolves once the host has been killed at the first moment `killWhen` says so, and restarted. */
function killHostWhen(killWhen: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    lines.watcher = (line) => {
      if (!killWhen(line)) return;
      lines.watcher = undefined;
      stack
        .stopHost('SIGKILL')
        .then(() => stack.startHost())
        .then(() => resolve(), reject);
    };
  });
}

async function expectCleanOutcome(name: string, role: string, initial: string): Promise<void> {
  const status = await rotationOutcome(stack, name);
  expect(status.output).toMatchObject({ outcome: 'rotated' });
  const current = await testbed.currentVersion(name);
  expect(current.value).not.toBe(initial);
  await testbed.expectLogsIn(role, current.value);
  expect(await testbed.versionsOf(name)).toHaveLength(2);
  expect((await testbed.versionsOf(`${name}-pending`)).length).toBeGreaterThanOrEqual(1);
  await testbed.expectNoEnabledPending(name);
}

const activity = (name: string) => `'Functions.${name}'`;
const boundaries: [string, (line: string) => boolean][] = [
  ['after inspect', (l) => l.includes(`Executed ${activity('inspectRotation')} (Succeeded`)],
  ...[
    'createPendingCredential',
    'setPendingOnTarget',
    'testPendingCredential',
    'promotePendingCredential',
  ].flatMap((step): [string, (line: string) => boolean][] => [
    [`as ${step} starts`, (l) => l.includes(`Executing ${activity(step)}`)],
    [`after ${step}`, (l) => l.includes(`Executed ${activity(step)} (Succeeded`)],
  ]),
  ['after the last audit record', (l) => l.includes(`Executed ${activity('writeRotationAudit')} (Succeeded`)],
];

describe('a host killed during a rotation', () => {
  it.each(boundaries.map(([label, when], index) => ({ label, when, index })))(
    'finishes cleanly when killed $label',
    async ({ label, when, index }) => {
      const name = `crash-${index}`;
      const role = `crash_role_${index}`;
      const initial = `Crash-Initial-Pw-${String(index).padStart(4, '0')}`;
      // The fourth audit record is written after the promotion; the earlier ones fall between steps.
      let audits = 0;
      const killed = killHostWhen((line) =>
        label.includes('audit') ? when(line) && ++audits === 4 : when(line),
      );
      await testbed.markRoleForRotation(name, role, initial);
      await killed;
      covered.push(label);
      await expectCleanOutcome(name, role, initial);
    },
  );

  it('finishes cleanly when killed mid-step, while ARM is still changing the administrator password', async () => {
    await testbed.sql(`CREATE ROLE crash_flex LOGIN CREATEROLE PASSWORD 'Crash-Flex-Pw-000001'`);
    const { resourceId } = stack.arm.registerFlexibleServer({
      subscriptionId: '00000000-0000-0000-0000-00000000c4a5',
      resourceGroup: 'rg-crash',
      name: 'pg-crash',
      administratorLogin: 'crash_flex',
      controlPlane: { ...stack.postgres.adminConnection(), sslMode: 'verify-full' },
    });
    let setStarted = false;
    const from = lines.length;
    lines.watcher = (line) => {
      if (line.includes(`Executing ${activity('setPendingOnTarget')}`)) setStarted = true;
    };
    await testbed.markForRotation(
      'crash-flex',
      'Crash-Flex-Pw-000001',
      testbed.flexibleAdminTags(resourceId),
    );
    // The SDK polls the long-running PATCH every 2 s: once the new password works, the step is still waiting.
    await expect.poll(() => setStarted, { timeout: 30_000 }).toBe(true);
    const [pending] = await testbed.versionsOf('crash-flex-pending');
    const pendingValue = (
      await testbed.secrets.getSecret('crash-flex-pending', { version: pending?.version ?? '' })
    ).value;
    await expect
      .poll(() => testbed.canLogin('crash_flex', pendingValue ?? ''), { timeout: 30_000, interval: 50 })
      .toBe(true);
    const stillRunning = !lines
      .slice(from)
      .some((l) => l.includes(`Executed ${activity('setPendingOnTarget')}`));
    await stack.stopHost('SIGKILL');
    await stack.startHost();
    expect(stillRunning).toBe(true);
    covered.push('mid-step (ARM operation in flight)');
    await expectCleanOutcome('crash-flex', 'crash_flex', 'Crash-Flex-Pw-000001');
  });

  it('covered every kill point', () => {
    expect(covered).toHaveLength(boundaries.length + 1);
  });
});
