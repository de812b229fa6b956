import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../../local/host/easyAuth.js';
import type { HostKeys } from '../../../local/host/keys.js';
import type { RunningHost } from '../../../local/host/server.js';
import { type InProcessHost, startInProcessHost } from '../../support/inProcessHost.js';

let host: RunningHost;
let keys: HostKeys;
let running: InProcessHost;

beforeAll(async () => {
  running = await startInProcessHost();
  ({ host, keys } = running);
});
afterAll(() => running.stop());

const principalOf = (roles: string[]) =>
  Buffer.from(
    JSON.stringify({
      claims: [{ typ: 'sub', val: 'mallory' }, ...roles.map((val) => ({ typ: 'roles', val }))],
    }),
  ).toString('base64');

describe('HTTP triggers', () => {
  it('serves an anonymous route without a key', async () => {
    const response = await fetch(`${host.url}/api/health`);
    expect([200, 503]).toContain(response.status);
    expect(await response.json()).toHaveProperty('version');
  });

  it.each([
    ['no key', ''],
    ['a wrong key', '?code=wrong'],
  ])('answers 401 to a function-level route called with %s', async (_, query) => {
    const response = await fetch(`${host.url}/api/probes/p1${query}`);
    expect(response.status).toBe(401);
  });

  it('answers 4xx, never 5xx, to malformed percent-encoding and to a probe id that is not one', async () => {
    expect((await fetch(`${host.url}/api/probes/%E0?code=${keys.functionKey}`)).status).toBe(404);
    const response = await fetch(
      `${host.url}/api/probes/${encodeURIComponent('a#b')}?code=${keys.functionKey}`,
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.stringContaining('probeId must be 1-64 letters') });
  });

  it('answers 404 for a route no function serves and for a method the route does not take', async () => {
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/health`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('Easy Auth', () => {
  const acknowledge = (headers: Record<string, string>) =>
    fetch(`${host.url}/api/probes/p1/acknowledge`, { method: 'POST', headers });

  it('answers 401 to an anonymous caller of a role-checked route', async () => {
    const response = await acknowledge({});
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: expect.stringContaining('authenticated caller') });
  });

  it('answers 403 to a signed-in caller without the role', async () => {
    const token = await issueToken(keys.tokenSigningKey, { subject: 'bob', roles: ['reader'] });
    const response = await acknowledge({ authorization: `Bearer ${token}` });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: expect.stringContaining('"responder" role') });
  });

  it('never trusts an x-ms-client-principal header sent by the client', async () => {
    const response = await acknowledge({ 'x-ms-client-principal': principalOf(['responder']) });
    expect(response.status).toBe(401);
  });

  it('rejects a token signed with another key, and an expired one', async () => {
    const forged = await issueToken('another-key', { subject: 'eve', roles: ['responder'] });
    const expired = await issueToken(keys.tokenSigningKey, {
      subject: 'eve',
      roles: ['responder'],
      expiresIn: -60,
    });
    for (const token of [forged, expired]) {
      const response = await acknowledge({ authorization: `Bearer ${token}` });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });
});

describe('Event Grid webhook', () => {
  const webhook = (
    init: RequestInit,
    query = `functionName=probeEvents&code=${keys.systemKeys.eventgrid_extension}`,
  ) => fetch(`${host.url}/runtime/webhooks/eventgrid?${query}`, init);

  it('answers 401 without the system key, and with the function key instead', async () => {
    expect((await webhook({ method: 'POST', body: '[]' }, 'functionName=probeEvents')).status).toBe(401);
    expect(
      (await webhook({ method: 'POST', body: '[]' }, `functionName=probeEvents&code=${keys.functionKey}`))
        .status,
    ).toBe(401);
  });

  it('echoes the validation code of the Event Grid schema handshake', async () => {
    const response = await webhook({
      method: 'POST',
      headers: { 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        {
          id: '1',
          topic: '/subscriptions/s/resourceGroups/g/providers/Microsoft.EventGrid/topics/t',
          subject: '',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: new Date().toISOString(),
          data: { validationCode: 'code-123', validationUrl: 'https://example.invalid' },
          dataVersion: '1',
          metadataVersion: '1',
        },
      ]),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: 'code-123' });
  });

  it('answers the CloudEvents OPTIONS handshake', async () => {
    const response = await webhook({
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it.each([
    ['not JSON', '{', 'not valid JSON'],
    ['an empty batch', '[]', 'batch is empty'],
    [
      'an event without eventType',
      JSON.stringify([{ id: '1', subject: 's', eventTime: '2026-01-01T00:00:00Z', dataVersion: '1' }]),
      'event[0].eventType',
    ],
    [
      'a CloudEvent without source',
      JSON.stringify([{ id: '1', type: 't', specversion: '1.0' }]),
      'event[0].source',
    ],
    [
      'a bad event after a good one',
      JSON.stringify([
        { id: '1', eventType: 'x', subject: 's', eventTime: '2026-01-01T00:00:00Z', dataVersion: '1' },
        7,
      ]),
      'event[1] is not an object',
    ],
  ])('answers 400 to %s, naming the problem', async (_, body, problem) => {
    const response = await webhook({ method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain(problem);
  });

  it('acknowledges an event type the function ignores', async () => {
    const response = await webhook({
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: JSON.stringify([
        {
          id: '1',
          eventType: 'Other.Event',
          subject: 's',
          eventTime: '2026-01-01T00:00:00Z',
          dataVersion: '1',
          data: {},
        },
      ]),
    });
    expect(response.status).toBe(202);
  });

  it('treats a validation event inside a notification as an ordinary event, not a handshake', async () => {
    const response = await webhook({
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: JSON.stringify([
        {
          id: 'v1',
          subject: '',
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: '2026-01-01T00:00:00+01:00',
          data: { validationCode: 'not-a-handshake' },
          dataVersion: '1',
        },
      ]),
    });
    expect(response.status).toBe(202);
    expect(await response.text()).not.toContain('not-a-handshake');
  });

  it.each(['2026-01-01T10:00+01:00', '2026-01-01t10:00:00z', '2026-01-01T10:00:00.1234567Z'])(
    'accepts the event time %s, as Azure does',
    async (eventTime) => {
      const response = await webhook({
        method: 'POST',
        headers: { 'aeg-event-type': 'Notification' },
        body: JSON.stringify([
          { id: '1', eventType: 'Other.Event', subject: 's', eventTime, dataVersion: '1', data: {} },
        ]),
      });
      expect(response.status).toBe(202);
    },
  );

  it('answers 404 for a function that is not an Event Grid trigger', async () => {
    expect(
      (await webhook({ method: 'POST', body: '[]' }, `functionName=health&code=${keys.masterKey}`)).status,
    ).toBe(404);
  });
});

describe('admin API', () => {
  it('needs the master key', async () => {
    expect((await fetch(`${host.url}/admin/host/status?code=${keys.functionKey}`)).status).toBe(401);
    const response = await fetch(`${host.url}/admin/host/status`, {
      headers: { 'x-functions-key': keys.masterKey },
    });
    expect(await response.json()).toMatchObject({
      state: 'Running',
      functions: expect.arrayContaining(['health', 'probeEvents']),
    });
  });
});
