import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localVault } from '../../local/stack.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { startTestStack, waitForInstance } from '../support/stack.js';

/**
 * Crash safety: the host is killed (SIGKILL) at each step boundary of a rotation and in the middle
 * of steps, then restarted. Every run must end with a current version that logs in, exactly one new
 * version, and no enabled pending version.
 */
const day = 24 * 3600_000;
const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3600_000 }),
};

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
let secrets: SecretClient;
const covered: string[] = [];

beforeAll(async () => {
  stack = await startTestStack(lines);
  secrets = new SecretClient(stack.keyVault.url(localVault), credential, {
    disableChallengeResourceVerification: true,
  });
});
afterAll(async () => {
  console.info(`Crash safety: the host was killed at ${covered.length} points: ${covered.join('; ')}`);
  await stack?.cleanUp();
});

async function sql(statement: string): Promise<void> {
  const client = new pg.Client({ ...stack.postgres.adminConnection(), ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const login = (user: string, password: string) =>
  canLogin({ ...stack.postgres.adminConnection(), user, password, sslMode: 'verify-full' });

async function versionsOf(name: string) {
  const versions = [];
  for await (const version of secrets.listPropertiesOfSecretVersions(name)) versions.push(version);
  return versions;
}

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

/** A fresh role and a secret holding its password, expiring in 29 days: the near-expiry event starts the rotation. */
async function secretForRole(
  name: string,
  role: string,
  password: string,
  tags: Record<string, string> = {},
) {
  await sql(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
  await secrets.setSecret(name, password, {
    expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
    tags: {
      'vigil-rotation': 'postgres-role',
      'vigil-host': '127.0.0.1',
      'vigil-port': String(stack.postgres.port),
      'vigil-role': role,
      ...tags,
    },
  });
}

async function expectCleanOutcome(name: string, role: string, initial: string): Promise<void> {
  const status = await waitForInstance(
    stack,
    rotationInstanceId(localVault, name),
    (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
    60_000,
  );
  expect(status.output).toMatchObject({ outcome: 'rotated' });
  const current = await secrets.getSecret(name);
  expect(current.value).not.toBe(initial);
  expect(await login(role, current.value ?? '')).toBe(true);
  expect(await versionsOf(name)).toHaveLength(2);
  const pending = await versionsOf(`${name}-pending`);
  expect(pending.length).toBeGreaterThanOrEqual(1);
  expect(pending.filter((version) => version.enabled)).toEqual([]);
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
      await secretForRole(name, role, initial);
      await killed;
      covered.push(label);
      await expectCleanOutcome(name, role, initial);
    },
  );

  it('finishes cleanly when killed mid-step, while ARM is still changing the administrator password', async () => {
    await sql(`CREATE ROLE crash_flex LOGIN CREATEROLE PASSWORD 'Crash-Flex-Pw-000001'`);
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
    await secrets.setSecret('crash-flex', 'Crash-Flex-Pw-000001', {
      expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
      tags: {
        'vigil-rotation': 'postgres-flexible-admin',
        'vigil-resource-id': resourceId,
        'vigil-port': String(stack.postgres.port),
      },
    });
    // The SDK polls the long-running PATCH every 2 s: once the new password works, the step is still waiting.
    await expect.poll(() => setStarted, { timeout: 30_000 }).toBe(true);
    const [pending] = await versionsOf('crash-flex-pending');
    const pendingValue = (await secrets.getSecret('crash-flex-pending', { version: pending?.version ?? '' }))
      .value;
    await expect
      .poll(() => login('crash_flex', pendingValue ?? ''), { timeout: 30_000, interval: 50 })
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
