import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { type StartedDurableBackend, startDurableBackend } from '../../../../local/host/durable/backend.js';
import { type HostKeys, loadOrCreateKeys } from '../../../../local/host/keys.js';
import { type RunningHost, startHost } from '../../../../local/host/server.js';
import type { Azurite } from '../../../../local/services/azurite.js';
import { startAzurite } from '../../../support/azurite.js';
import { fixtureApp, until } from './fixture.js';

let azurite: Azurite;
let host: RunningHost;
let keys: HostKeys;
let backend: StartedDurableBackend | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  keys = await loadOrCreateKeys(await mkdtemp(path.join(tmpdir(), 'vigil-durable-host-')));
  const app = await fixtureApp();
  const clock = new Clock();
  host = await startHost({
    app,
    keys,
    clock,
    port: 0,
    log: () => {},
    durable: async (baseUrl) => {
      backend = await startDurableBackend({
        app,
        clock,
        connectionString: azurite.connectionString,
        hubName: 'HostApiHub',
        baseUrl,
        systemKey: keys.systemKeys.durabletask_extension,
        log: () => {},
      });
      return backend;
    },
  });
});

afterAll(async () => {
  await host?.close();
  await azurite?.stop();
});

const hook = () => `${host.url}/runtime/webhooks/durabletask`;
const code = () => encodeURIComponent(keys.systemKeys.durabletask_extension);
const engine = () => {
  if (!backend) throw new Error('the Durable backend did not start');
  return backend.engine;
};
const rpcBaseUrl = () => {
  if (!backend) throw new Error('the Durable backend did not start');
  return backend.clientBindingData().rpcBaseUrl;
};

async function startWaiter(id: string): Promise<void> {
  const started = await fetch(`${hook()}/orchestrators/waiter/${id}?code=${code()}`, { method: 'POST' });
  expect(started.status).toBe(202);
  await until(async () => (await engine().getInstance(id))?.runtimeStatus === 'Running');
}

describe('the keyless RPC API lives on its own loopback listener', () => {
  it('answers 404 for /durabletask/* on the host port, so nothing runs there without a key', async () => {
    await startWaiter('rpc-guarded');
    for (const [method, route] of [
      ['GET', 'instances/rpc-guarded'],
      ['GET', 'instances'],
      ['POST', 'instances/rpc-guarded/terminate?reason=x'],
      ['POST', 'orchestrators/waiter/rpc-new'],
    ] as const) {
      const response = await fetch(`${host.url}/durabletask/${route}`, { method });
      expect([method, route, response.status]).toEqual([method, route, 404]);
      expect(await response.text()).not.toContain(keys.systemKeys.durabletask_extension);
    }
    const raised = await fetch(`${host.url}/durabletask/instances/rpc-guarded/raiseEvent/never`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '"let me in"',
    });
    expect(raised.status).toBe(404);
    expect(await engine().getInstance('rpc-new')).toBeUndefined();
    expect((await engine().getInstance('rpc-guarded'))?.runtimeStatus).toBe('Running');
  });

  it('points rpcBaseUrl at 127.0.0.1 on another port, where df.getClient works', async () => {
    const rpc = new URL(rpcBaseUrl());
    expect(rpc.hostname).toBe('127.0.0.1');
    expect(rpc.port).not.toBe(new URL(host.url).port);
    expect(rpc.pathname).toBe('/durabletask/');
    // A function calling the SDK's client goes through the RPC listener.
    const started = await fetch(`${host.url}/api/orchestrators/fanOut?code=${keys.functionKey}`, {
      method: 'POST',
      body: '["rpc"]',
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const done = await engine().waitFor(id);
    expect(done.runtimeStatus).toBe('Completed');
    // Only the listener's own prefix is served there.
    expect((await fetch(`${rpc.origin}/runtime/webhooks/durabletask/instances/${id}`)).status).toBe(404);
  });

  it('closes the RPC listener on stop', async () => {
    const rpc = rpcBaseUrl();
    const probe = await startDurableBackend({
      app: await fixtureApp(),
      clock: new Clock(),
      connectionString: azurite.connectionString,
      hubName: 'HostApiProbeHub',
      baseUrl: host.url,
      systemKey: 'probe-key',
      log: () => {},
    });
    const probeRpc = probe.clientBindingData().rpcBaseUrl;
    expect(probeRpc).not.toBe(rpc);
    expect((await fetch(`${probeRpc}instances/none`)).status).toBe(404);
    await probe.stop();
    await expect(fetch(`${probeRpc}instances/none`)).rejects.toThrow();
  });
});

describe('instance ids in the webhook path', () => {
  it('answers 400 naming the segment for malformed percent-encoding', async () => {
    const response = await fetch(`${hook()}/instances/%E0?code=${code()}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { Message: string }).Message).toMatch(
      /path segment "%E0" has malformed percent-encoding/,
    );
  });

  it('keeps an encoded / inside the instance id instead of splitting on it', async () => {
    await startWaiter('split');
    const terminated = await fetch(`${hook()}/instances/split%2Fother/terminate?reason=no&code=${code()}`, {
      method: 'POST',
    });
    expect(terminated.status).toBe(404);
    expect((await engine().getInstance('split'))?.runtimeStatus).toBe('Running');
    const status = await fetch(`${hook()}/instances/split%2Fother?code=${code()}`);
    expect(status.status).toBe(404);
  });

  it('decodes other escapes in a segment', async () => {
    await startWaiter('with space');
    const status = await fetch(`${hook()}/instances/with%20space?code=${code()}`);
    expect(status.status).toBe(202);
    expect(((await status.json()) as { instanceId: string }).instanceId).toBe('with space');
  });
});
