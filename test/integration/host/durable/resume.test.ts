import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import type { DurableEngine } from '../../../../local/host/durable/engine.js';
import { parseJsonText } from '../../../../local/host/durable/history.js';
import { outstanding } from '../../../../local/host/durable/replay.js';
import type { Azurite } from '../../../../local/services/azurite.js';
import { startAzurite } from '../../../support/azurite.js';
import { hold, runs, startEngine, until } from './fixture.js';

let azurite: Azurite;
const engines: DurableEngine[] = [];
const clock = new Clock();
const hub = 'ResumeHub';

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  for (const engine of engines) await engine.stop();
  await azurite?.stop();
});

async function engineOnStore(): Promise<DurableEngine> {
  const { engine } = await startEngine(azurite.connectionString, hub, clock);
  engines.push(engine);
  return engine;
}

const timerPending = async (engine: DurableEngine, id: string) =>
  until(async () => {
    const record = await engine.getInstance(id);
    return !!record && outstanding(await engine.history(record)).timers.length > 0;
  });

describe('resuming after the engine dies mid-orchestration', () => {
  it('completes in-flight orchestrations on a new engine without re-running completed activities', async () => {
    const first = await engineOnStore();
    const gate = hold('crash', 2);
    const sequence = await first.startNew('sequence', { input: { tag: 'crash' } });
    const sleeper = await first.startNew('longTimer');
    const approval = await first.startNew('approval');
    await until(gate.reached);
    await timerPending(first, sleeper);
    await timerPending(first, approval);
    await first.raiseEvent(approval, 'decision', 'raised just before the crash');

    await first.stop(); // as abrupt as a kill: nothing more reaches the store
    gate.release(); // the abandoned run of step 2 finishes, but its result is never recorded
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await first.getInstance(sequence))?.runtimeStatus).toBe('Running');

    const second = await engineOnStore();
    const done = await second.waitFor(sequence);
    expect(parseJsonText(done.output)).toEqual([10, 20, 30]);
    expect(runs('step:crash:1')).toBe(1); // its completion was recorded: not run again
    expect(runs('step:crash:2')).toBe(2); // running when killed: run again (at-least-once)
    expect(runs('step:crash:3')).toBe(1);

    expect(parseJsonText((await second.waitFor(approval)).output)).toEqual({
      decision: 'raised just before the crash',
    });

    expect((await second.getInstance(sleeper))?.runtimeStatus).toBe('Running');
    clock.advance(30 * 24 * 3600_000 + 1000);
    expect((await second.waitFor(sleeper)).runtimeStatus).toBe('Completed');
  });

  it('starts an instance whose start message was written just before the crash', async () => {
    const first = await engineOnStore();
    await first.stop();
    const second = await engineOnStore();
    const id = await second.startNew('fanOut', { input: ['eve'] });
    await second.stop();
    const third = await engineOnStore();
    expect(parseJsonText((await third.waitFor(id)).output)).toEqual(['Hello eve']);
  });
});
