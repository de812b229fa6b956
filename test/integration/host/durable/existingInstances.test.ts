import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { DurableEngine, overridableStates } from '../../../../local/host/durable/engine.js';
import { DurableConfigError } from '../../../../local/host/durable/errors.js';
import { EventType, parseJsonText } from '../../../../local/host/durable/history.js';
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

async function engineWith(hubName: string, overridableExistingInstanceStates?: string) {
  const engine = await DurableEngine.start({
    app: await fixtureApp(),
    clock: new Clock(),
    connectionString: azurite.connectionString,
    hubName,
    ...(overridableExistingInstanceStates ? { overridableExistingInstanceStates } : {}),
  });
  engines.push(engine);
  return engine;
}

const running = (engine: DurableEngine, id: string) =>
  until(async () => (await engine.getInstance(id))?.runtimeStatus === 'Running');

describe('overridableExistingInstanceStates', () => {
  it('NonRunningStates (the default): 409 while Pending or Running, a finished instance is replaced', async () => {
    for (const [hub, setting] of [
      ['DefaultStatesHub', undefined],
      ['NonRunningHub', 'NonRunningStates'],
    ] as const) {
      const engine = await engineWith(hub, setting);
      await engine.startNew('waiter', { instanceId: 'dup' });
      await expect(engine.startNew('waiter', { instanceId: 'dup' })).rejects.toMatchObject({
        status: 409,
        message: expect.stringMatching(/'dup' already exists and is (Pending|Running)/),
      });
      await running(engine, 'dup');
      await expect(engine.startNew('waiter', { instanceId: 'dup' })).rejects.toMatchObject({ status: 409 });
      await engine.terminate('dup', 'done');
      await engine.waitFor('dup');
      const first = await engine.getInstance('dup');
      await engine.startNew('fanOut', { instanceId: 'dup', input: ['again'] });
      const done = await engine.waitFor('dup');
      expect(done.executionId).not.toBe(first?.executionId);
      expect(parseJsonText(done.output)).toEqual(['Hello again']);
    }
  });

  it('AnyState: a start replaces a Running instance, whose execution is abandoned', async () => {
    const engine = await engineWith('AnyStateHub', 'anystate');
    await engine.startNew('waiter', { instanceId: 'over' });
    await running(engine, 'over');
    const replaced = await engine.getInstance('over');
    await engine.startNew('fanOut', { instanceId: 'over', input: ['over'] });
    const done = await engine.waitFor('over');
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.executionId).not.toBe(replaced?.executionId);
    expect(parseJsonText(done.output)).toEqual(['Hello over']);
    const history = await engine.history(done);
    const starts = history.filter((e) => e.EventType === EventType.ExecutionStarted);
    expect(starts.map((e) => e.Name)).toEqual(['fanOut']);
  });

  it('refuses an unknown value, naming the setting', async () => {
    await expect(engineWith('BadStatesHub', 'Sometimes')).rejects.toThrow(DurableConfigError);
    expect(() => overridableStates('Sometimes')).toThrow(
      /extensions\.durableTask\.overridableExistingInstanceStates must be "NonRunningStates" or "AnyState", got "Sometimes"/,
    );
  });

  it("is set explicitly in the repo's host.json, to the behaviour the local host implements", async () => {
    const hostJson = JSON.parse(
      await readFile(path.resolve(import.meta.dirname, '../../../../host.json'), 'utf8'),
    ) as { extensions: { durableTask: { overridableExistingInstanceStates?: string } } };
    const setting = hostJson.extensions.durableTask.overridableExistingInstanceStates;
    expect(setting).toBe('NonRunningStates');
    expect(overridableStates(setting)).toBe(overridableStates(undefined));
  });
});
