import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { type StartedDurableBackend, startDurableBackend } from '../../../../local/host/durable/backend.js';
import { invoke, type RpcHttpResponse } from '../../../../local/host/invoke.js';
import type { LoadedApp } from '../../../../local/host/registry.js';
import type { Azurite } from '../../../../local/services/azurite.js';
import { startAzurite } from '../../../support/azurite.js';
import { fixtureApp, until } from './fixture.js';

let azurite: Azurite;
let backend: StartedDurableBackend;
let server: Server;
let app: LoadedApp;
let baseUrl: string;
const systemKey = 'durable-system-key-for-tests';

beforeAll(async () => {
  azurite = await startAzurite();
  app = await fixtureApp();
  server = createServer((req, res) => {
    backend.handle(req, res).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Without WEBSITE_HOSTNAME, df.getClient rewrites webhook URLs to localhost:7071.
  process.env.WEBSITE_HOSTNAME = new URL(baseUrl).host;
  backend = await startDurableBackend({
    app,
    clock: new Clock(),
    connectionString: azurite.connectionString,
    hubName: 'ClientHub',
    baseUrl,
    systemKey,
  });
});

afterAll(async () => {
  await backend?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await azurite?.stop();
});

/** Calls one of the fixture's HTTP functions the way the host does, with the durable client binding injected. */
async function callFunction(
  name: string,
  method: string,
  path: string,
  params: Record<string, string>,
  body = '',
) {
  const fn = app.functions.get(name);
  if (!fn) throw new Error(`fixture has no function ${name}`);
  const clientBinding =
    Object.entries(fn.metadata.bindings).find(([, b]) => b.type === 'durableClient')?.[0] ?? '';
  const result = await invoke(app, fn, {
    trigger: {
      http: {
        method,
        url: `${baseUrl}/api/${path}`,
        headers: { 'content-type': 'application/json' },
        query: {},
        params,
        body: { bytes: new TextEncoder().encode(body) },
      },
    },
    extraInputs: { [clientBinding]: { string: JSON.stringify(backend.clientBindingData()) } },
  });
  const response = (result.returnValue as { http: RpcHttpResponse } | undefined)?.http;
  const payload = response?.body as { bytes?: Uint8Array; string?: string } | undefined;
  const text = payload?.bytes ? Buffer.from(payload.bytes).toString() : (payload?.string ?? '');
  return {
    status: Number(response?.statusCode ?? 200),
    headers: response?.headers ?? {},
    json: text ? JSON.parse(text) : undefined,
  };
}

const admin = (action: string, instanceId: string, body = '') =>
  callFunction('durableAdmin', 'POST', `durable/${action}/${instanceId}`, { action, instanceId }, body);

describe('durable client binding (df.getClient) against the extension HTTP API', () => {
  it('starts an instance and answers createCheckStatusResponse with working status URLs', async () => {
    const started = await callFunction(
      'durableStart',
      'POST',
      'orchestrators/fanOut',
      { name: 'fanOut' },
      '["cy"]',
    );
    expect(started.status).toBe(202);
    const id = started.json.id as string;
    expect(started.headers.Location ?? started.headers.location).toBe(started.json.statusQueryGetUri);
    expect(started.json.statusQueryGetUri).toContain(
      `/runtime/webhooks/durabletask/instances/${id}?taskHub=ClientHub`,
    );
    await backend.engine.waitFor(id);
    const status = await fetch(started.json.statusQueryGetUri);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({
      name: 'fanOut',
      instanceId: id,
      runtimeStatus: 'Completed',
      output: ['Hello cy'],
      input: ['cy'],
    });
  });

  it('gives an activity that declares one a durable client, as Azure does', async () => {
    const started = await callFunction(
      'durableStart',
      'POST',
      'orchestrators/spawner',
      { name: 'spawner' },
      '{"instanceId":"spawned-1","names":["ada"]}',
    );
    const spawner = await backend.engine.waitFor(started.json.id as string);
    expect(spawner).toMatchObject({ runtimeStatus: 'Completed' });
    expect(await backend.engine.waitFor('spawned-1')).toMatchObject({ runtimeStatus: 'Completed' });
  });

  it('answers 202 with Location while running, and refuses the webhook without the system key', async () => {
    const started = await callFunction('durableStart', 'POST', 'orchestrators/waiter/w-1', {
      name: 'waiter',
      instanceId: 'w-1',
    });
    expect(started.json.id).toBe('w-1');
    await until(async () => (await backend.engine.getInstance('w-1'))?.runtimeStatus === 'Running');
    const running = await fetch(started.json.statusQueryGetUri);
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toBe(started.json.statusQueryGetUri);
    expect(((await running.json()) as { customStatus: unknown }).customStatus).toEqual({ phase: 'waiting' });
    const noKey = await fetch(started.json.statusQueryGetUri.replace(/&code=[^&]+/, ''));
    expect(noKey.status).toBe(401);
    // The extension answers 409 to a start of a running id; the SDK's startNew rejects with it.
    await expect(
      callFunction('durableStart', 'POST', 'orchestrators/waiter/w-1', { name: 'waiter', instanceId: 'w-1' }),
    ).rejects.toThrow(/unexpected status code: 409.*already exists and is Running/);
    const terminated = await fetch(started.json.terminatePostUri.replace('{text}', 'enough'), {
      method: 'POST',
    });
    expect(terminated.status).toBe(202);
    await backend.engine.waitFor('w-1');
    const gone = await fetch(started.json.terminatePostUri.replace('{text}', 'again'), { method: 'POST' });
    expect(gone.status).toBe(410);
  });

  it('raises events, reads status with history, lists, waits and purges through the SDK client', async () => {
    const started = await callFunction('durableStart', 'POST', 'orchestrators/approval/ap-1', {
      name: 'approval',
      instanceId: 'ap-1',
    });
    expect(started.status).toBe(202);
    await until(async () => (await backend.engine.getInstance('ap-1'))?.runtimeStatus === 'Running');
    expect((await admin('running', 'x')).json.map((s: { instanceId: string }) => s.instanceId)).toContain(
      'ap-1',
    );
    expect((await admin('raise', 'ap-1', JSON.stringify({ name: 'decision', data: 'yes' }))).status).toBe(
      202,
    );
    const waited = await admin('wait', 'ap-1');
    expect(waited.status).toBe(200);
    expect(waited.json).toEqual({ decision: 'yes' });
    const status = (await admin('status', 'ap-1')).json;
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.customStatus).toBe('decided');
    const all = (await admin('all', 'x')).json as { instanceId: string }[];
    expect(all.map((s) => s.instanceId)).toEqual(expect.arrayContaining(['ap-1', 'w-1']));
    expect((await admin('purge', 'ap-1')).json).toEqual({ instancesDeleted: 1 });
    expect((await admin('purge', 'ap-1')).json).toEqual({ instancesDeleted: 0 });
    expect(await backend.engine.getInstance('ap-1')).toBeUndefined();
  });

  it('shows the history the extension way when asked', async () => {
    const started = await fetch(
      `${baseUrl}/runtime/webhooks/durabletask/orchestrators/fanOut?code=${systemKey}`,
      {
        method: 'POST',
        body: '["dee"]',
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(started.status).toBe(202);
    const { id, statusQueryGetUri } = (await started.json()) as { id: string; statusQueryGetUri: string };
    await backend.engine.waitFor(id);
    const status = (await (
      await fetch(`${statusQueryGetUri}&showHistory=true&showHistoryOutput=true`)
    ).json()) as {
      historyEvents: { EventType: string }[];
    };
    expect(status.historyEvents.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    expect(status.historyEvents[1]).toMatchObject({ FunctionName: 'hello', Result: 'Hello dee' });
  });

  it('rejects bad requests with the reason', async () => {
    const hook = `${baseUrl}/runtime/webhooks/durabletask`;
    const unknown = await fetch(`${hook}/orchestrators/nope?code=${systemKey}`, { method: 'POST' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { Message: string }).Message).toContain(
      "The function 'nope' doesn't exist",
    );
    const badJson = await fetch(`${hook}/orchestrators/fanOut?code=${systemKey}`, {
      method: 'POST',
      body: '{',
    });
    expect(badJson.status).toBe(400);
    expect((await fetch(`${hook}/instances/missing?code=${systemKey}`)).status).toBe(404);
    const purgeNoFrom = await fetch(`${hook}/instances/?code=${systemKey}`, { method: 'DELETE' });
    expect(purgeNoFrom.status).toBe(400);
  });
});
