import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { DurableEngine, type EpisodeRetry } from '../../../../local/host/durable/engine.js';
import { DurableConfigError } from '../../../../local/host/durable/errors.js';
import { parseJsonText } from '../../../../local/host/durable/history.js';
import type { Azurite } from '../../../../local/services/azurite.js';
import { startAzurite } from '../../../support/azurite.js';
import { fixtureApp, until } from './fixture.js';

let azurite: Azurite;
const engines: DurableEngine[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  for (const engine of engines) await engine.stop();
  await azurite?.stop();
});

async function engineWith(hubName: string, episodeRetry: EpisodeRetry, lines: string[] = []) {
  const engine = await DurableEngine.start({
    app: await fixtureApp(),
    clock: new Clock(),
    connectionString: azurite.connectionString,
    hubName,
    episodeRetry,
    log: (line) => lines.push(line),
  });
  engines.push(engine);
  return engine;
}

/** Starts a waiter, then overwrites its first history row with text that is not JSON. */
async function corruptedWaiter(engine: DurableEngine, id: string): Promise<void> {
  await engine.startNew('waiter', { instanceId: id });
  await until(async () => ((await engine.getInstance(id))?.historyCount ?? 0) > 0);
  const record = await engine.getInstance(id);
  if (!record) throw new Error(`${id} has no instance`);
  const history = TableClient.fromConnectionString(azurite.connectionString, `${engine.hubName}History`, {
    allowInsecureConnection: true,
  });
  const rowKey = `${record.executionId}.00000000`;
  await history.updateEntity({ partitionKey: id, rowKey, EventType: 0, Event0: '{"broken' }, 'Replace');
}

describe('an episode that fails the same way every time', () => {
  it('backs off, logs one line per step without a stack, then marks the instance Failed', async () => {
    const lines: string[] = [];
    const engine = await engineWith(
      'FailingHub',
      { firstDelayMs: 10, maxDelayMs: 40, maxAttempts: 5 },
      lines,
    );
    await corruptedWaiter(engine, 'corrupt');
    await engine.raiseEvent('corrupt', 'never', 'wake up');
    const failed = await engine.waitFor('corrupt', { timeoutMs: 10_000 });
    expect(failed.runtimeStatus).toBe('Failed');
    expect(parseJsonText(failed.output)).toMatch(
      /^Orchestration 'waiter' failed: the local Durable host could not run it \(5 attempts failed; the last with SyntaxError: .*JSON/,
    );
    const own = lines.filter((line) => line.includes('corrupt:'));
    expect(own.map((line) => line.match(/attempt \d of \d\), retrying in \d+ ms/)?.[0])).toEqual([
      'attempt 1 of 5), retrying in 10 ms',
      'attempt 2 of 5), retrying in 20 ms',
      'attempt 3 of 5), retrying in 40 ms',
      'attempt 4 of 5), retrying in 40 ms',
      undefined,
    ]);
    expect(own.at(-1)).toMatch(/corrupt: marked Failed: 5 attempts failed/);
    expect(own.join('\n')).not.toMatch(/\n\s+at /);
    // Finished now: no more retries, and it takes no more events.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lines.filter((line) => line.includes('corrupt:'))).toHaveLength(5);
    await expect(engine.raiseEvent('corrupt', 'never', 'again')).rejects.toMatchObject({ status: 410 });
  });

  it('stops at once while waiting out a long backoff step', async () => {
    const lines: string[] = [];
    const engine = await engineWith('SlowBackoffHub', { firstDelayMs: 60_000 }, lines);
    await corruptedWaiter(engine, 'sleepy');
    await engine.raiseEvent('sleepy', 'never', 'wake up');
    await until(() => lines.some((line) => line.includes('sleepy: episode failed (attempt 1 of 10)')));
    const began = Date.now();
    await engine.stop();
    expect(Date.now() - began).toBeLessThan(2000);
    expect((await engine.store.getInstance('sleepy'))?.runtimeStatus).toBe('Running');
  });

  it('refuses retry settings it cannot use, naming the field', async () => {
    await expect(engineWith('BadRetryHub', { maxAttempts: 0 })).rejects.toThrow(
      new DurableConfigError('episodeRetry.maxAttempts must be an integer ≥ 1, got 0'),
    );
    await expect(engineWith('BadRetryHub', { firstDelayMs: -1 })).rejects.toThrow(
      /episodeRetry\.firstDelayMs must be a finite number ≥ 0, got -1/,
    );
  });
});
