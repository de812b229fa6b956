import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../../../local/clock.js';
import type { DurableEngine } from '../../../../local/host/durable/engine.js';
import { EventType, parseJsonText } from '../../../../local/host/durable/history.js';
import { outstanding } from '../../../../local/host/durable/replay.js';
import type { InstanceRecord } from '../../../../local/host/durable/store.js';
import type { Azurite } from '../../../../local/services/azurite.js';
import { startAzurite } from '../../../support/azurite.js';
import { runs, startEngine, until } from './fixture.js';

let azurite: Azurite;
let engine: DurableEngine;
let clock: Clock;

beforeAll(async () => {
  azurite = await startAzurite();
  ({ engine, clock } = await startEngine(azurite.connectionString, 'OrchestrationsHub'));
});

afterAll(async () => {
  await engine?.stop();
  await azurite?.stop();
});

const day = 24 * 3600_000;
const output = (record: InstanceRecord) => parseJsonText(record.output);
const custom = (record: InstanceRecord | undefined) => parseJsonText(record?.customStatus);
/** Waits until the instance has a durable timer pending, so advancing the clock fires it. */
const timerPending = (id: string) =>
  until(async () => {
    const record = await engine.getInstance(id);
    return !!record && outstanding(await engine.history(record)).timers.length > 0;
  });
const eventTypes = async (id: string) => {
  const record = await engine.getInstance(id);
  return record ? (await engine.history(record)).map((e) => e.EventType) : [];
};

describe('orchestrations through durable-functions replay', () => {
  it('fans out two activities and fans in their results', async () => {
    const id = await engine.startNew('fanOut', { input: ['ann', 'bob'] });
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(output(done)).toEqual(['Hello ann', 'Hello bob']);
    expect(runs('hello:ann')).toBe(1);
    expect(await eventTypes(id)).toEqual(
      expect.arrayContaining([EventType.ExecutionStarted, EventType.TaskScheduled, EventType.TaskCompleted]),
    );
  });

  it('sleeps on a 30-day durable timer until the clock is advanced', async () => {
    const id = await engine.startNew('longTimer');
    await timerPending(id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await engine.getInstance(id))?.runtimeStatus).toBe('Running');
    const before = clock.now().getTime();
    clock.advance(30 * day + 1000);
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Completed');
    const wokeAt = new Date((output(done) as { wokeAt: string }).wokeAt).getTime();
    expect(wokeAt).toBeGreaterThanOrEqual(before + 30 * day);
    // A timer beyond the provider's 6-day limit is a chain of shorter timers, as in Azure Storage.
    expect((await eventTypes(id)).filter((t) => t === EventType.TimerCreated).length).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('lets an external event win the race against a timer, and buffers one raised early', async () => {
    const id = await engine.startNew('approval');
    await engine.raiseEvent(id, 'decision', { approved: true });
    const done = await engine.waitFor(id);
    expect(output(done)).toEqual({ decision: { approved: true } });
    expect(custom(done)).toBe('decided');
  });

  it('lets the timer win when no event comes', async () => {
    const id = await engine.startNew('approval');
    await timerPending(id);
    clock.advance(day + 1000);
    const done = await engine.waitFor(id);
    expect(output(done)).toEqual({ decision: 'timeout' });
    await expect(engine.raiseEvent(id, 'decision', 'late')).rejects.toMatchObject({ status: 410 });
  });

  it('retries a failing activity with backoff timers, then succeeds', async () => {
    const id = await engine.startNew('retrying', { input: { key: 'twice', failures: 2, attempts: 3 } });
    await timerPending(id);
    clock.advance(1000); // first retry after firstRetryInterval
    await until(() => runs('flaky:twice') === 2);
    await timerPending(id);
    clock.advance(1000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(runs('flaky:twice')).toBe(2); // backoff 2: the second retry waits 2000 ms, not 1000
    clock.advance(1000);
    const done = await engine.waitFor(id);
    expect(output(done)).toBe('recovered');
    expect(runs('flaky:twice')).toBe(3);
  });

  it('gives up after maxNumberOfAttempts and surfaces the activity failure to the orchestrator', async () => {
    const id = await engine.startNew('retrying', { input: { key: 'always', failures: 99, attempts: 2 } });
    await timerPending(id);
    clock.advance(1000);
    await until(() => runs('flaky:always') === 2);
    await timerPending(id);
    clock.advance(2000); // DurableTask waits once more after the last failed attempt
    const done = await engine.waitFor(id);
    expect(runs('flaky:always')).toBe(2);
    expect((output(done) as { gaveUp: string }).gaveUp).toContain(
      "Activity function 'flaky' failed: flaky failure 2",
    );
  });

  it('fails the instance loudly when the retry timeout expires', async () => {
    const id = await engine.startNew('retrying', {
      input: { key: 'timeout', failures: 99, attempts: 5, timeoutMs: 500 },
    });
    await timerPending(id);
    clock.advance(1000);
    await until(() => runs('flaky:timeout') === 2);
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(output(done)).toMatch(/retry timeout of 500 ms expired after 2 attempt/);
  });

  it('runs sub-orchestrations with explicit and generated ids, with retry, and reports their failure', async () => {
    const id = await engine.startNew('parent', { input: 1 });
    for (let i = 0; i < 20; i += 1) {
      clock.advance(1000); // retry timers of the failing child
      const record = await engine.getInstance(id);
      if (record?.runtimeStatus === 'Completed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const done = await engine.waitFor(id);
    const result = output(done) as Record<string, unknown>;
    expect(result).toMatchObject({ named: 2, unnamed: 4, retried: 6 });
    expect(result.failure).toContain('child needs a number');
    const child = await engine.getInstance(`${id}-child`);
    expect(child?.runtimeStatus).toBe('Completed');
    expect(child?.parent?.OrchestrationInstance.InstanceId).toBe(id);
  });

  it('continues as new with a fresh history and the new input', async () => {
    const id = await engine.startNew('loop', { input: { n: 0, seen: [] } });
    for (const tick of ['a', 'b', 'c']) {
      await until(async () => {
        const record = await engine.getInstance(id);
        return !!record && record.historyCount > 0 && record.runtimeStatus === 'Running';
      });
      const before = await engine.getInstance(id);
      await engine.raiseEvent(id, 'tick', tick);
      if (tick !== 'c')
        await until(async () => (await engine.getInstance(id))?.executionId !== before?.executionId);
    }
    const done = await engine.waitFor(id);
    expect(output(done)).toEqual(['a', 'b', 'c']);
    const types = await eventTypes(id);
    expect(types.filter((t) => t === EventType.ExecutionStarted)).toHaveLength(1);
    expect(types.filter((t) => t === EventType.EventRaised)).toHaveLength(1);
  });

  it('terminates a running instance with the reason as output', async () => {
    const id = await engine.startNew('waiter');
    await until(async () => custom(await engine.getInstance(id)) !== undefined);
    expect(custom(await engine.getInstance(id))).toEqual({ phase: 'waiting' });
    await engine.terminate(id, 'no longer needed');
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Terminated');
    expect(output(done)).toBe('no longer needed');
    await expect(engine.terminate(id, 'again')).rejects.toMatchObject({ status: 410 });
  });

  it('fails the instance with the orchestrator error in the output', async () => {
    const id = await engine.startNew('broken');
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(output(done)).toContain("Orchestrator function 'broken' failed: orchestrator exploded");
  });

  it('refuses to start an id that is already running, and replaces a finished one', async () => {
    const id = 'singleton-1';
    await engine.startNew('waiter', { instanceId: id });
    await expect(engine.startNew('waiter', { instanceId: id })).rejects.toMatchObject({ status: 409 });
    await engine.terminate(id, 'done');
    await engine.waitFor(id);
    await engine.startNew('fanOut', { instanceId: id, input: ['z'] });
    const done = await engine.waitFor(id);
    expect(output(done)).toEqual(['Hello z']);
  });

  it('lets exactly one of many concurrent starts of one id win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => engine.startNew('waiter', { instanceId: 'race-1' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.status),
    ).toEqual([409, 409, 409, 409, 409]);
  });

  it('rejects unknown orchestrators and malformed instance ids, naming the problem', async () => {
    await expect(engine.startNew('nope')).rejects.toThrow("The function 'nope' doesn't exist");
    await expect(engine.startNew('fanOut', { instanceId: 'a/b' })).rejects.toThrow(
      /instanceId "a\/b" must be/,
    );
  });
});

describe('payloads beyond Table storage limits', () => {
  it('keeps inputs, results and outputs larger than 64 KiB and 1 MiB intact', async () => {
    const big = 'x'.repeat(700_000); // as JSON in UTF-16: well over one 1 MiB entity
    const id = await engine.startNew('fanOut', { input: [big, 'small'] });
    const done = await engine.waitFor(id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(output(done)).toEqual([`Hello ${big}`, 'Hello small']);
    const reread = await engine.getInstance(id);
    expect(parseJsonText(reread?.input)).toEqual([big, 'small']);
  });
});
