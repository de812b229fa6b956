import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localVault } from '../../local/stack.js';
import { auditLog } from '../../src/adapters/auditLog.js';
import { stateStore } from '../../src/adapters/stateStore.js';
import { vigilEvents } from '../../src/adapters/vigilEvents.js';
import { createAuditRecord } from '../../src/core/audit.js';
import {
  type EventTap,
  expectNoSecretLeaks,
  SecretCanaries,
  SecretLeakError,
  tapEvents,
} from '../support/secretHygiene.js';
import { startTestStack } from '../support/stack.js';

const lines: string[] = [];
let stack: Awaited<ReturnType<typeof startTestStack>>;
let tap: EventTap;
const leaked = 'Leak-9xQ_r7~canary.Alpha';
const clean = 'Clean-4kP_v2~canary.Beta';
const staticToken = { getToken: async () => ({ token: 'local', expiresOnTimestamp: Date.now() + 3600_000 }) };

beforeAll(async () => {
  stack = await startTestStack(lines);
  // The adapters under test run in this process, with its managed identity as the host's.
  Object.assign(process.env, stack.identity.env);
  tap = await tapEvents(stack);
  const vault = new SecretClient(stack.keyVault.url(localVault), staticToken, {
    disableChallengeResourceVerification: true,
  });
  await vault.setSecret('db-leaked', leaked);
  await vault.setSecret('db-clean', clean);
});
afterAll(async () => {
  await tap?.close();
  await stack?.cleanUp();
});

describe('the secret-hygiene scanner the suites rely on', () => {
  it('finds a planted secret in log lines, events and tables without printing it, and passes clean values', async () => {
    const canaries = new SecretCanaries();
    expect(await canaries.addFromVault(stack)).toBe(2);
    const record = createAuditRecord(
      {
        actor: 'vigil',
        action: 'update',
        resource_type: 'secret',
        resource_id: 'x',
        request_id: 'r-1',
        status: 'success',
      },
      { id: 'a-1', now: new Date() },
    );
    await auditLog({ env: stack.settings }).write([record]);
    await vigilEvents({ env: stack.settings }).publish([
      {
        id: 'e-1',
        type: 'Vigil.Test',
        subject: '/t',
        data: { oops: leaked },
        time: new Date().toISOString(),
      },
    ]);
    await stateStore(stack.settings.VIGIL_STATE_STORAGE).upsert('hygienecheck', 'p', 'r', {
      blob: Buffer.from(`x${leaked}yz`).toString('base64'),
    });
    lines.push(`GET /?p=${encodeURIComponent(leaked)} done`);
    await expect.poll(() => tap.received().length, { timeout: 10_000 }).toBeGreaterThan(0);

    const error = await expectNoSecretLeaks(stack, canaries, { lines, tap }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SecretLeakError);
    const { findings } = error as SecretLeakError;
    expect(findings.every((finding) => finding.canary.startsWith(`${localVault}/db-leaked@`))).toBe(true);
    expect(findings.map((finding) => finding.source.split(' ')[0])).toEqual(
      expect.arrayContaining(['log', 'Event', 'table']),
    );
    expect((error as Error).message).not.toContain(leaked);

    const onlyClean = new SecretCanaries();
    onlyClean.add(clean, 'clean');
    const scanned = await expectNoSecretLeaks(stack, onlyClean, { lines, tap });
    expect(scanned.auditRecords).toBeGreaterThan(0);
    expect(scanned.tableRows).toBeGreaterThan(0);
    expect(scanned.events).toBeGreaterThan(0);
  });
});
