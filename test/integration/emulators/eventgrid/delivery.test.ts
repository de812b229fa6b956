import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AzureKeyCredential, EventGridPublisherClient, type SendEventGridEventInput } from '@azure/eventgrid';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import {
  type EventGridEmulator,
  type SubscriptionConfigInput,
  startEventGridEmulator,
} from '../../../../local/emulators/eventgrid/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../../local/tls.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../support/webhookReceiver.js';

const KEY = 'ZGVsaXZlcnktdGVzdHMta2V5';
const TOPIC = 'delivery-tests';
const VAULT_ID =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vigil-local/providers/Microsoft.KeyVault/vaults/kv-local';

/** Polls a condition driven by the emulator's own timers and I/O. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function readDeadLetters(dir: string): Promise<Array<Record<string, unknown>>> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = names.filter((name) => name.endsWith('.json'));
  return Promise.all(files.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8'))));
}

describe('Event Grid emulator: delivery', () => {
  let dir: string;
  let clock: Clock;
  let eventGrid: EventGridEmulator;
  let hook: WebhookReceiver;
  let client: EventGridPublisherClient<'EventGrid'>;
  let subscriptionCount = 0;

  const event = (
    overrides: Partial<SendEventGridEventInput<unknown>> = {},
  ): SendEventGridEventInput<unknown> => ({
    eventType: 'Vigil.Test.Happened',
    subject: '/vigil/test',
    dataVersion: '1.0',
    data: { ok: true },
    ...overrides,
  });

  /** A fresh subscription per test, so earlier tests' deliveries never count. */
  const subscribe = async (config: Omit<SubscriptionConfigInput, 'endpointUrl'> = {}) => {
    subscriptionCount += 1;
    const name = `sub-${subscriptionCount}`;
    await eventGrid.createSubscription(TOPIC, name, { endpointUrl: hook.url, ...config });
    return name;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-eg-delivery-'));
    trustLocalCa((await ensureLocalCertificates(join(dir, 'tls'))).caPem);
    clock = new Clock();
    eventGrid = await startEventGridEmulator({
      tlsDir: join(dir, 'tls'),
      clock,
      deliveryTimeoutMs: 300,
      topics: [{ name: TOPIC, key: KEY }],
      systemTopics: [{ name: 'kv-local', source: VAULT_ID, topicType: 'Microsoft.KeyVault.vaults' }],
    });
    client = new EventGridPublisherClient(
      eventGrid.topicEndpoint(TOPIC),
      'EventGrid',
      new AzureKeyCredential(KEY),
    );
  });
  beforeEach(async () => {
    hook = await startWebhookReceiver();
  });
  afterEach(async () => {
    eventGrid.deleteSubscription(TOPIC, `sub-${subscriptionCount}`);
    await hook.close();
  });
  afterAll(async () => {
    await eventGrid.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers only events that pass the type and subject filters, subjects compared case-insensitively', async () => {
    const name = await subscribe({
      filter: {
        includedEventTypes: ['vigil.test.happened'],
        subjectBeginsWith: '/VIGIL/secrets/',
        subjectEndsWith: '.PEM',
      },
    });

    await client.send([
      event({ id: 'match', subject: '/vigil/Secrets/db/cert.pem' }),
      event({ id: 'wrong-type', eventType: 'Vigil.Other', subject: '/vigil/secrets/x.pem' }),
      event({ id: 'wrong-prefix', subject: '/vigil/images/x.pem' }),
      event({ id: 'wrong-suffix', subject: '/vigil/secrets/x.key' }),
    ]);
    await eventGrid.idle();

    const ids = hook.notifications().flatMap((n) => (n.body as Array<{ id: string }>).map((e) => e.id));
    expect(ids).toEqual(['match']);
    expect(eventGrid.subscription(TOPIC, name).stats.delivered).toBe(1);
  });

  it('honours a case-sensitive subject filter when asked', async () => {
    await subscribe({ filter: { subjectBeginsWith: '/Vigil', isSubjectCaseSensitive: true } });

    await client.send([
      event({ id: 'upper', subject: '/Vigil/a' }),
      event({ id: 'lower', subject: '/vigil/a' }),
    ]);
    await eventGrid.idle();

    expect(hook.notifications().map((n) => (n.body as Array<{ id: string }>)[0]?.id)).toEqual(['upper']);
  });

  it('retries a failed delivery on the clock’s schedule and then succeeds', async () => {
    const name = await subscribe();
    hook.respondWith(500, 503);

    await client.send([event({ id: 'retry-me' })]);
    await hook.waitForNotifications(1);
    await eventually(
      () => eventGrid.subscription(TOPIC, name).stats.retrying === 1,
      'the first failure is settled',
    );
    expect(hook.notifications()).toHaveLength(1);
    clock.advance(10_000); // Azure's first retry comes after 10 s
    await hook.waitForNotifications(2);
    await eventually(
      () => eventGrid.subscription(TOPIC, name).stats.retrying === 1,
      'the second failure is settled',
    );
    clock.advance(29_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hook.notifications()).toHaveLength(2); // the second retry waits 30 s
    clock.advance(1_000);
    await eventGrid.idle();

    const deliveries = hook.notifications();
    expect(deliveries.map((d) => d.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
    expect(deliveries.map((d) => (d.body as Array<{ id: string }>)[0]?.id)).toEqual([
      'retry-me',
      'retry-me',
      'retry-me',
    ]);
    expect(eventGrid.subscription(TOPIC, name).stats).toMatchObject({
      delivered: 1,
      pending: 0,
      deadLettered: 0,
    });
  });

  it.each([400, 413, 401, 403])('does not retry a %i and dead-letters the event at once', async (status) => {
    const deadLetterDirectory = join(dir, `dead-${status}`);
    const name = await subscribe({ deadLetterDirectory });
    hook.respondWith(status);

    await client.send([event({ id: `rejected-${status}` })]);
    await eventGrid.idle();
    clock.advance(3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(hook.notifications()).toHaveLength(1);
    const [record] = await readDeadLetters(deadLetterDirectory);
    expect(record).toMatchObject({
      id: `rejected-${status}`,
      deadLetterReason: status === 400 ? 'UndeliverableDueToHttpBadRequest' : 'UndeliverableDueToClientError',
      deliveryAttempts: 1,
      lastHttpStatusCode: status,
    });
    expect(eventGrid.subscription(TOPIC, name).stats.deadLettered).toBe(1);
  });

  it('dead-letters after the last attempt with Event Grid’s dead-letter fields', async () => {
    const deadLetterDirectory = join(dir, 'dead-max');
    const name = await subscribe({ deadLetterDirectory, retryPolicy: { maxDeliveryAttempts: 3 } });
    hook.respondWith(500, 500, 500, 500);
    const publishedAt = clock.now();

    await client.send([event({ id: 'doomed', data: { keep: 'me' } })]);
    for (const attempt of [1, 2]) {
      await hook.waitForNotifications(attempt);
      await eventually(
        () => eventGrid.subscription(TOPIC, name).stats.retrying === 1,
        `attempt ${attempt} settled`,
      );
      clock.advance(60_000);
    }
    await eventGrid.idle();

    expect(hook.notifications()).toHaveLength(3);
    const records = await readDeadLetters(deadLetterDirectory);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      id: 'doomed',
      eventType: 'Vigil.Test.Happened',
      data: { keep: 'me' },
      deadLetterReason: 'MaxDeliveryAttemptsExceeded',
      deliveryAttempts: 3,
      lastDeliveryOutcome: 'GenericError',
      lastHttpStatusCode: 500,
    });
    const publishTime = Date.parse(String(record?.publishTime));
    const lastAttempt = Date.parse(String(record?.lastDeliveryAttemptTime));
    expect(publishTime).toBeGreaterThanOrEqual(publishedAt.getTime());
    expect(lastAttempt - publishTime).toBeGreaterThanOrEqual(120_000); // two clock advances of a minute
  });

  it('dead-letters an event whose time to live runs out between retries', async () => {
    const deadLetterDirectory = join(dir, 'dead-ttl');
    const name = await subscribe({ deadLetterDirectory, retryPolicy: { eventTimeToLiveInMinutes: 1 } });
    hook.respondWith(503, 503, 503);

    await client.send([event({ id: 'expiring' })]);
    await eventually(() => eventGrid.subscription(TOPIC, name).stats.retrying === 1, 'first failure settled');
    clock.advance(10_000);
    await eventually(() => hook.notifications().length === 2, 'second attempt');
    await eventually(
      () => eventGrid.subscription(TOPIC, name).stats.retrying === 1,
      'second failure settled',
    );
    clock.advance(60_000);
    await eventGrid.idle();

    expect(hook.notifications()).toHaveLength(2);
    const [record] = await readDeadLetters(deadLetterDirectory);
    expect(record).toMatchObject({
      id: 'expiring',
      deadLetterReason: 'TimeToLiveExceeded',
      deliveryAttempts: 2,
      lastDeliveryOutcome: 'Busy',
    });
  });

  it('drops an undeliverable event when no dead-letter destination is set', async () => {
    const name = await subscribe();
    hook.respondWith(400);

    await client.send([event()]);
    await eventGrid.idle();

    expect(eventGrid.subscription(TOPIC, name).stats).toMatchObject({
      dropped: 1,
      deadLettered: 0,
      pending: 0,
    });
  });

  it('records a webhook that does not answer in time as TimedOut (408)', async () => {
    const deadLetterDirectory = join(dir, 'dead-timeout');
    const name = await subscribe({ deadLetterDirectory, retryPolicy: { maxDeliveryAttempts: 1 } });
    hook.delayAnswers(1_000);

    await client.send([event({ id: 'slow' })]);
    await eventGrid.idle();

    const [record] = await readDeadLetters(deadLetterDirectory);
    expect(record).toMatchObject({ id: 'slow', lastDeliveryOutcome: 'TimedOut', lastHttpStatusCode: 408 });
    expect(eventGrid.subscription(TOPIC, name).stats.deadLettered).toBe(1);
  });

  it('batches up to maxEventsPerBatch events per delivery', async () => {
    await subscribe({ maxEventsPerBatch: 3 });

    await client.send([1, 2, 3, 4, 5].map((n) => event({ id: `batch-${n}` })));
    await eventGrid.idle();

    const sizes = hook.notifications().map((n) => (n.body as unknown[]).length);
    expect(sizes).toEqual([3, 2]);
  });

  it('keeps at most 8 deliveries of one subscription in flight at once', async () => {
    const name = await subscribe();
    hook.delayAnswers(50);

    await client.send(Array.from({ length: 30 }, (_, n) => event({ id: `burst-${n}` })));
    await eventGrid.idle();

    expect(hook.notifications()).toHaveLength(30);
    expect(hook.maxConcurrentNotifications()).toBeGreaterThan(1);
    expect(hook.maxConcurrentNotifications()).toBeLessThanOrEqual(8);
    expect(eventGrid.subscription(TOPIC, name).stats.delivered).toBe(30);
  });

  it('delivers system events with topic set to the source resource id', async () => {
    subscriptionCount += 1;
    const name = `sub-${subscriptionCount}`;
    await eventGrid.createSubscription('kv-local', name, {
      endpointUrl: hook.url,
      filter: { includedEventTypes: ['Microsoft.KeyVault.SecretNearExpiry'] },
    });

    eventGrid.publishSystemEvents('kv-local', [
      {
        eventType: 'Microsoft.KeyVault.SecretNearExpiry',
        subject: 'db-password',
        data: { ObjectName: 'db-password' },
      },
      { eventType: 'Microsoft.KeyVault.SecretNewVersionCreated', subject: 'db-password', data: {} },
    ]);
    await eventGrid.idle();

    const bodies = hook.notifications().map((n) => (n.body as Array<Record<string, unknown>>)[0]);
    expect(bodies).toEqual([
      expect.objectContaining({
        topic: VAULT_ID,
        eventType: 'Microsoft.KeyVault.SecretNearExpiry',
        subject: 'db-password',
        data: { ObjectName: 'db-password' },
        metadataVersion: '1',
      }),
    ]);
    eventGrid.deleteSubscription('kv-local', name);
  });

  it('refuses system events for an unknown system topic or with missing fields', () => {
    expect(() => eventGrid.publishSystemEvents('nope-topic', [])).toThrow(/no system topic named nope-topic/);
    expect(() =>
      eventGrid.publishSystemEvents('kv-local', [
        { eventType: '', subject: 'x' } as { eventType: string; subject: string },
      ]),
    ).toThrow(/events\[0\]\.eventType: must not be empty/);
  });
});
