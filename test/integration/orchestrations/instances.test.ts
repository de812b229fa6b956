import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type StartedDurableBackend, startDurableBackend } from '../../../local/host/durable/backend.js';
import { EventType } from '../../../local/host/durable/history.js';
import type { Azurite } from '../../../local/services/azurite.js';
import { findInstance, startSingleton } from '../../../src/orchestrations/shared/instances.js';
import { startAzurite } from '../../support/azurite.js';
import { fixtureApp, until } from '../host/durable/fixture.js';

let azurite: Azurite;
let backend: StartedDurableBackend;

beforeAll(async () => {
  azurite = await startAzurite();
  backend = await startDurableBackend({
    app: await fixtureApp(),
    clock: new Clock(),
    connectionString: azurite.connectionString,
    hubName: 'SingletonHub',
    // Only the RPC listener is used: the client's calls never reach the host's port.
    baseUrl: 'http://127.0.0.1:9',
    systemKey: 'singleton-test-key',
    log: () => {},
  });
});

afterAll(async () => {
  await backend?.stop();
  await azurite?.stop();
});

/** A real durable-functions client, built by df.getClient from the binding data the host injects. */
function client(): df.DurableClient {
  const input = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [input] } });
  context.extraInputs.set(input, backend.clientBindingData());
  return df.getClient(context);
}

describe('startSingleton through the real client and the local extension', () => {
  it('lets two concurrent starts of one id both succeed, with one instance started once', async () => {
    const ids = ['race-a', 'race-b', 'race-c', 'race-d'];
    const outcomes = await Promise.all(
      ids.map((id) =>
        Promise.all([
          startSingleton(client(), 'waiter', id, { from: 'first' }),
          startSingleton(client(), 'waiter', id, { from: 'second' }),
        ]),
      ),
    );
    for (const [index, id] of ids.entries()) {
      expect([id, ...(outcomes[index] ?? []).sort()]).toEqual([id, 'exists', 'started']);
      await until(async () => (await backend.engine.getInstance(id))?.runtimeStatus === 'Running');
      const record = await backend.engine.getInstance(id);
      if (!record) throw new Error(`${id} has no instance`);
      const starts = (await backend.engine.history(record)).filter(
        (event) => event.EventType === EventType.ExecutionStarted,
      );
      expect([id, starts.length]).toEqual([id, 1]);
    }
  });

  it('answers exists for an instance already there, and started for a new id', async () => {
    expect(await startSingleton(client(), 'waiter', 'once', null)).toBe('started');
    expect(await startSingleton(client(), 'waiter', 'once', null)).toBe('exists');
    expect((await findInstance(client(), 'once'))?.instanceId).toBe('once');
    expect(await findInstance(client(), 'never-started')).toBeUndefined();
  });

  it('still throws what is not a lost race', async () => {
    await expect(startSingleton(client(), 'noSuchOrchestration', 'bad', null)).rejects.toThrow(
      /unexpected status code: 400.*noSuchOrchestration/,
    );
  });
});
