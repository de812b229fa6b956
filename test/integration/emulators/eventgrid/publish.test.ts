import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AzureKeyCredential,
  AzureSASCredential,
  EventGridPublisherClient,
  generateSharedAccessSignature,
} from '@azure/eventgrid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type EventGridEmulator,
  SubscriptionValidationError,
  startEventGridEmulator,
} from '../../../../local/emulators/eventgrid/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../../local/tls.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../support/webhookReceiver.js';

const KEY = 'bG9jYWwtdG9waWMta2V5LWZvci10ZXN0cw==';
const CE_KEY = 'Y2xvdWQtZXZlbnRzLXRvcGljLWtleQ==';

describe('Event Grid emulator: publishing', () => {
  let dir: string;
  let eventGrid: EventGridEmulator;
  const receivers: WebhookReceiver[] = [];

  const receiver = async (options?: Parameters<typeof startWebhookReceiver>[0]) => {
    const started = await startWebhookReceiver(options);
    receivers.push(started);
    return started;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-eg-publish-'));
    trustLocalCa((await ensureLocalCertificates(join(dir, 'tls'))).caPem);
    eventGrid = await startEventGridEmulator({
      tlsDir: join(dir, 'tls'),
      topics: [
        { name: 'vigil-events', key: KEY },
        { name: 'vigil-cloudevents', key: CE_KEY, inputSchema: 'CloudEventSchemaV1_0' },
      ],
    });
  });
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close();
  });
  afterAll(async () => {
    await eventGrid.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers an Event Grid schema event published by the real SDK, after the validation handshake', async () => {
    const hook = await receiver();
    await eventGrid.createSubscription('vigil-events', 'eg-hook', { endpointUrl: hook.url });
    const client = new EventGridPublisherClient(
      eventGrid.topicEndpoint('vigil-events'),
      'EventGrid',
      new AzureKeyCredential(KEY),
    );

    await client.send([
      { eventType: 'Vigil.Test.Happened', subject: '/vigil/test/1', dataVersion: '1.0', data: { n: 1 } },
    ]);

    const [delivery] = await hook.waitForNotifications(1);
    expect(hook.requests[0]?.headers['aeg-event-type']).toBe('SubscriptionValidation');
    expect(delivery?.headers['aeg-event-type']).toBe('Notification');
    expect(delivery?.headers['aeg-subscription-name']).toBe('EG-HOOK');
    expect(delivery?.headers['aeg-delivery-count']).toBe('0');
    expect(delivery?.body).toEqual([
      expect.objectContaining({
        eventType: 'Vigil.Test.Happened',
        subject: '/vigil/test/1',
        data: { n: 1 },
        dataVersion: '1.0',
        metadataVersion: '1',
        topic:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vigil-local/providers/Microsoft.EventGrid/topics/vigil-events',
      }),
    ]);
  });

  it('delivers CloudEvents published by the real SDK, after the OPTIONS handshake', async () => {
    const hook = await receiver();
    await eventGrid.createSubscription('vigil-cloudevents', 'ce-hook', { endpointUrl: hook.url });
    const client = new EventGridPublisherClient(
      eventGrid.topicEndpoint('vigil-cloudevents'),
      'CloudEvent',
      new AzureKeyCredential(CE_KEY),
    );

    await client.send([
      { type: 'vigil.test.happened', source: '/vigil/tests', subject: 'one', data: { n: 2 } },
    ]);

    const [delivery] = await hook.waitForNotifications(1);
    expect(hook.requests[0]?.method).toBe('OPTIONS');
    expect(hook.requests[0]?.headers['webhook-request-origin']).toBe('eventgrid.azure.net');
    expect(delivery?.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(delivery?.body).toEqual(
      expect.objectContaining({
        specversion: '1.0',
        type: 'vigil.test.happened',
        source: '/vigil/tests',
        subject: 'one',
        data: { n: 2 },
      }),
    );
  });

  it('converts Event Grid schema events for a subscription that asks for CloudEvents', async () => {
    const hook = await receiver();
    await eventGrid.createSubscription('vigil-events', 'eg-to-ce', {
      endpointUrl: hook.url,
      eventDeliverySchema: 'CloudEventSchemaV1_0',
      filter: { includedEventTypes: ['Vigil.Test.Converted'] },
    });
    const client = new EventGridPublisherClient(
      eventGrid.topicEndpoint('vigil-events'),
      'EventGrid',
      new AzureKeyCredential(KEY),
    );

    await client.send([
      { eventType: 'Vigil.Test.Converted', subject: 's', dataVersion: '1', data: {}, id: 'conv-1' },
    ]);

    const [delivery] = await hook.waitForNotifications(1);
    expect(delivery?.body).toEqual(
      expect.objectContaining({
        id: 'conv-1',
        type: 'Vigil.Test.Converted',
        source: expect.stringMatching(/\/topics\/vigil-events$/),
        specversion: '1.0',
      }),
    );
    await eventGrid.deleteSubscription('vigil-events', 'eg-to-ce');
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { 'aeg-sas-key': 'd3Jvbmc=' }],
  ])('answers 401 to a publish with %s', async (_label, headers) => {
    const response = await fetch(`${eventGrid.topicEndpoint('vigil-events')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: '[]',
    });

    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('Unauthorized');
  });

  it('makes the SDK fail with 401 for a wrong key', async () => {
    const client = new EventGridPublisherClient(
      eventGrid.topicEndpoint('vigil-events'),
      'EventGrid',
      new AzureKeyCredential('d3Jvbmc='),
    );

    await expect(
      client.send([{ eventType: 't', subject: 's', dataVersion: '1', data: {} }]),
    ).rejects.toMatchObject({
      statusCode: 401,
    });
  });

  const now = new Date().toISOString();
  it.each([
    ['body not JSON', 'application/json', '[{', /not valid JSON/],
    ['body not an array', 'application/json', '{"id":"1"}', /must be a JSON array/],
    ['empty batch', 'application/json', '[]', /batch is empty/],
    [
      'missing eventTime',
      'application/json',
      JSON.stringify([{ id: '1', subject: 's', eventType: 't' }]),
      /events\[0\]\.eventTime: required/,
    ],
    [
      'bad eventTime',
      'application/json',
      JSON.stringify([{ id: '1', subject: 's', eventType: 't', eventTime: 'yesterday' }]),
      /events\[0\]\.eventTime: must be an ISO 8601 date-time/,
    ],
    [
      'second event without id',
      'application/json',
      JSON.stringify([
        { id: '1', subject: 's', eventType: 't', eventTime: now },
        { subject: 's', eventType: 't', eventTime: now },
      ]),
      /events\[1\]\.id: required/,
    ],
    [
      'foreign topic',
      'application/json',
      JSON.stringify([
        { id: '1', subject: 's', eventType: 't', eventTime: now, topic: '/subscriptions/x/other' },
      ]),
      /events\[0\]\.topic: must be omitted or equal/,
    ],
    [
      'CloudEvents content type on an Event Grid topic',
      'application/cloudevents-batch+json',
      '[]',
      /Content-Type/,
    ],
  ])('answers 400 naming the problem: %s', async (_label, contentType, body, message) => {
    const response = await fetch(`${eventGrid.topicEndpoint('vigil-events')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'aeg-sas-key': KEY },
      body,
    });

    expect(response.status).toBe(400);
    const answer = (await response.json()) as { error: { code: string; message: string } };
    expect(answer.error.code).toBe('BadRequest');
    expect(answer.error.message).toMatch(message);
  });

  it.each([
    [
      'missing specversion',
      [{ id: '1', source: 's', type: 't' }],
      /events\[0\]\.specversion: required, and must be "1.0"/,
    ],
    [
      'bad extension name',
      [{ id: '1', source: 's', type: 't', specversion: '1.0', Bad_Name: 1 }],
      /Bad_Name: is not a valid CloudEvents attribute name/,
    ],
    [
      'data and data_base64',
      [{ id: '1', source: 's', type: 't', specversion: '1.0', data: 1, data_base64: 'AA==' }],
      /data_base64: must not be set together with data/,
    ],
  ])('answers 400 to malformed CloudEvents: %s', async (_label, events, message) => {
    const response = await fetch(`${eventGrid.topicEndpoint('vigil-cloudevents')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json; charset=utf-8', 'aeg-sas-key': CE_KEY },
      body: JSON.stringify(events),
    });

    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(message);
  });

  it('answers 400 without api-version and 404 for an unknown topic', async () => {
    const noVersion = await fetch(eventGrid.topicEndpoint('vigil-events'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-sas-key': KEY },
      body: '[]',
    });
    const unknown = await fetch(`${eventGrid.topicEndpoint('nope-topic')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'aeg-sas-key': KEY },
      body: '[]',
    });

    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as { error: { message: string } }).error.message).toMatch(/api-version/);
    expect(unknown.status).toBe(404);
  });

  it.each([
    [
      'a wrong validation code',
      { validation: 'wrong-code' as const },
      'EventGridSchema' as const,
      /validationResponse/,
    ],
    [
      'HTTP 500 to the validation event',
      { validation: 'status-500' as const },
      'EventGridSchema' as const,
      /HTTP 500/,
    ],
    [
      'no WebHook-Allowed-Origin',
      { allowOrigin: false },
      'CloudEventSchemaV1_0' as const,
      /WebHook-Allowed-Origin/,
    ],
  ])(
    'refuses a subscription whose webhook answers the handshake with %s',
    async (_label, options, schema, message) => {
      const hook = await receiver(options);

      const creating = eventGrid.createSubscription('vigil-events', 'bad-hook', {
        endpointUrl: `${hook.url}?code=secret-function-key`,
        eventDeliverySchema: schema,
      });

      await expect(creating).rejects.toThrow(SubscriptionValidationError);
      await expect(creating).rejects.toThrow(message);
      await expect(creating).rejects.not.toThrow(/secret-function-key/);
      expect(() => eventGrid.subscription('vigil-events', 'bad-hook')).toThrow(/no subscription/);
    },
  );

  it('refuses a subscription to an unreachable webhook', async () => {
    await expect(
      eventGrid.createSubscription('vigil-events', 'gone-hook', { endpointUrl: 'http://127.0.0.1:9/hook' }),
    ).rejects.toThrow(/failed the SubscriptionValidationEvent handshake: .*ECONNREFUSED/);
  });

  it('creates subscriptions through the admin REST API and rejects bad definitions naming the field', async () => {
    const hook = await receiver();
    const put = (body: unknown) =>
      fetch(`${eventGrid.url}/admin/topics/vigil-events/subscriptions/admin-hook`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const created = await put({
      endpointUrl: `${hook.url}?code=abc`,
      filter: { subjectBeginsWith: '/vigil' },
    });
    const invalid = await put({ endpointUrl: hook.url, retryPolicy: { maxDeliveryAttempts: 31 } });
    const notUrl = await put({ endpointUrl: 'ftp://x' });
    const ceOnEg = await fetch(`${eventGrid.url}/admin/topics/vigil-cloudevents/subscriptions/x-hook`, {
      method: 'PUT',
      body: JSON.stringify({ endpointUrl: hook.url, eventDeliverySchema: 'EventGridSchema' }),
    });

    expect(created.status).toBe(201);
    const info = (await created.json()) as { endpointBaseUrl: string; maxEventsPerBatch: number };
    expect(info.endpointBaseUrl).toBe(hook.url);
    expect(info.maxEventsPerBatch).toBe(1);
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toMatch(
      /subscription\.retryPolicy\.maxDeliveryAttempts: must be an integer from 1 to 30/,
    );
    expect(await notUrl.text()).toMatch(/subscription\.endpointUrl: must be an absolute http\(s\) URL/);
    expect(await ceOnEg.text()).toMatch(
      /EventGridSchema is not supported on a topic whose input schema is CloudEventSchemaV1_0/,
    );
    const listed = (await (await fetch(`${eventGrid.url}/admin/topics`)).json()) as Array<{
      name: string;
      subscriptions: string[];
    }>;
    expect(listed.find((t) => t.name === 'vigil-events')?.subscriptions).toContain('admin-hook');
    expect(JSON.stringify(listed)).not.toContain(KEY);
  });
  it('accepts an aeg-sas-token signed with the topic key and refuses expired or wrongly signed ones', async () => {
    const endpoint = eventGrid.topicEndpoint('vigil-events');
    const sasClient = async (key: string, expiresOn: Date) =>
      new EventGridPublisherClient(
        endpoint,
        'EventGrid',
        new AzureSASCredential(
          await generateSharedAccessSignature(endpoint, new AzureKeyCredential(key), expiresOn),
        ),
      );
    const inAnHour = new Date(Date.now() + 3600_000);
    const send = async (client: EventGridPublisherClient<'EventGrid'>) =>
      client.send([{ eventType: 'Vigil.Test.Sas', subject: 's', dataVersion: '1', data: {} }]);

    await send(await sasClient(KEY, inAnHour)); // throws unless the emulator answered 200
    await expect(send(await sasClient(KEY, new Date(Date.now() - 60_000)))).rejects.toMatchObject({
      statusCode: 401,
    });
    await expect(send(await sasClient(CE_KEY, inAnHour))).rejects.toMatchObject({ statusCode: 401 });
  });

  it('accepts a single CloudEvent as application/cloudevents+json', async () => {
    const hook = await receiver();
    await eventGrid.createSubscription('vigil-cloudevents', 'single-hook', { endpointUrl: hook.url });

    const response = await fetch(`${eventGrid.topicEndpoint('vigil-cloudevents')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8', 'aeg-sas-key': CE_KEY },
      body: JSON.stringify({
        id: 'single-1',
        source: '/vigil',
        type: 'vigil.single',
        specversion: '1.0',
        data_base64: 'aGk=',
      }),
    });
    const [delivery] = await hook.waitForNotifications(1);

    expect(response.status).toBe(200);
    expect(delivery?.body).toEqual(expect.objectContaining({ id: 'single-1', data_base64: 'aGk=' }));
    eventGrid.deleteSubscription('vigil-cloudevents', 'single-hook');
  });

  it('answers 413 to a request over 1 MB', async () => {
    const big = JSON.stringify([
      { id: '1', subject: 's', eventType: 't', eventTime: now, data: 'x'.repeat(1024 * 1024) },
    ]);

    const response = await fetch(`${eventGrid.topicEndpoint('vigil-events')}?api-version=2018-01-01`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-sas-key': KEY },
      body: big,
    });

    expect(response.status).toBe(413);
    expect(await response.text()).toMatch(/RequestEntityTooLarge/);
  });

  it('delivers CloudEvents in batches to an HTTPS webhook signed by the local CA', async () => {
    const hook = await receiver({ tls: await ensureLocalCertificates(join(dir, 'tls')) });
    await eventGrid.createSubscription('vigil-cloudevents', 'tls-hook', {
      endpointUrl: hook.url,
      maxEventsPerBatch: 10,
    });
    const client = new EventGridPublisherClient(
      eventGrid.topicEndpoint('vigil-cloudevents'),
      'CloudEvent',
      new AzureKeyCredential(CE_KEY),
    );

    await client.send([1, 2].map((n) => ({ type: 'vigil.batch', source: '/vigil', data: { n } })));
    const [delivery] = await hook.waitForNotifications(1);

    expect(hook.url).toMatch(/^https:/);
    expect(delivery?.headers['content-type']).toMatch(/^application\/cloudevents-batch\+json/);
    expect((delivery?.body as Array<{ data: { n: number } }> | undefined)?.map((e) => e.data.n)).toEqual([
      1, 2,
    ]);
    eventGrid.deleteSubscription('vigil-cloudevents', 'tls-hook');
  });

  it('creates configured subscriptions at start, and refuses to start when a handshake fails', async () => {
    const good = await receiver();
    const bad = await receiver({ validation: 'wrong-code' });
    const base = { tlsDir: join(dir, 'tls'), topics: [{ name: 'start-topic', key: KEY }] };

    const started = await startEventGridEmulator({
      ...base,
      subscriptions: [{ topic: 'start-topic', name: 'at-start', endpointUrl: good.url }],
    });
    const failing = startEventGridEmulator({
      ...base,
      subscriptions: [{ topic: 'start-topic', name: 'at-start', endpointUrl: bad.url }],
    });

    try {
      expect(started.subscription('start-topic', 'at-start').endpointBaseUrl).toBe(good.url);
      await expect(failing).rejects.toThrow(SubscriptionValidationError);
    } finally {
      await started.close();
    }
  });
});
