import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type EventGridEmulator, startEventGridEmulator } from '../../../local/emulators/eventgrid/index.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../local/emulators/identity/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../local/tls.js';
import {
  VIGIL_EVENT_DATA_VERSION,
  type VigilEvent,
  VigilEventsError,
  vigilEvents,
} from '../../../src/adapters/vigilEvents.js';
import {
  parseRotationFailedData,
  type RotationFailedData,
  rotationFailedEvent,
} from '../../../src/core/events.js';
import { SecretCanaries } from '../../support/secretHygiene.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/webhookReceiver.js';

const topicKey = 'dmlnaWwtZXZlbnRzLXRlc3QtdG9waWMta2V5LTAwMQ==';
const baseEnv = { VIGIL_TASK_HUB: 'vigil', VIGIL_STATE_STORAGE: 'UseDevelopmentStorage=true' };

function failure(secret: string): RotationFailedData {
  return {
    vault: 'kv-1',
    secret,
    strategy: 'postgres-role',
    step: 'set',
    error: 'connect ECONNREFUSED 127.0.0.1:5432',
    rotationId: `rotate-secret:kv-1:${secret}`,
    occurredAt: '2026-03-01T12:00:00.000Z',
  };
}

describe('vigilEvents through the Event Grid emulator', () => {
  let dir: string;
  let certificates: Awaited<ReturnType<typeof ensureLocalCertificates>>;
  let eventGrid: EventGridEmulator;
  let identity: IdentityEndpoint;
  let hook: WebhookReceiver;
  let env: NodeJS.ProcessEnv;
  const extraReceivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-events-'));
    certificates = await ensureLocalCertificates(path.join(dir, 'tls'));
    trustLocalCa(certificates.caPem);
    eventGrid = await startEventGridEmulator({
      tlsDir: path.join(dir, 'tls'),
      topics: [{ name: 'vigil', key: topicKey }],
    });
    hook = await startWebhookReceiver();
    await eventGrid.createSubscription('vigil', 'incidents', {
      endpointUrl: hook.url,
      filter: { includedEventTypes: ['Vigil.RotationFailed'] },
    });
    identity = await startIdentityEndpoint({ clock: new Clock() });
    Object.assign(process.env, identity.env);
    env = {
      ...baseEnv,
      VIGIL_EVENTGRID_TOPIC_ENDPOINT: eventGrid.topicEndpoint('vigil'),
      VIGIL_EVENTGRID_TOPIC_KEY: topicKey,
    };
  });
  afterEach(async () => {
    for (const receiver of extraReceivers.splice(0)) await receiver.close();
  });
  afterAll(async () => {
    await hook.close();
    await eventGrid.close();
    await identity.close();
    await rm(dir, { recursive: true, force: true });
  });

  const deliveredTo = (secret: string) =>
    hook
      .notifications()
      .flatMap((request) => request.body as Array<{ subject: string } & Record<string, unknown>>)
      .filter((event) => event.subject === `/vaults/kv-1/secrets/${secret}`);

  it('delivers Vigil.RotationFailed to a subscribed webhook in the Event Grid schema', async () => {
    const event = rotationFailedEvent(failure('db-app'));

    await vigilEvents({ env }).publish([event]);

    await expect.poll(() => deliveredTo('db-app'), { timeout: 10_000 }).toHaveLength(1);
    const [delivered] = deliveredTo('db-app');
    expect(delivered).toMatchObject({
      id: event.id,
      eventType: 'Vigil.RotationFailed',
      subject: '/vaults/kv-1/secrets/db-app',
      eventTime: '2026-03-01T12:00:00.000Z',
      dataVersion: VIGIL_EVENT_DATA_VERSION,
    });
    expect(parseRotationFailedData(delivered?.data)).toEqual(failure('db-app'));
  });

  it('publishes a repeat with the same id, so consumers can drop the duplicate', async () => {
    const events = vigilEvents({ env });

    await events.publish([rotationFailedEvent(failure('db-repeat'))]);
    await events.publish([rotationFailedEvent(failure('db-repeat'))]);

    await expect.poll(() => deliveredTo('db-repeat'), { timeout: 10_000 }).toHaveLength(2);
    expect(new Set(deliveredTo('db-repeat').map((event) => event.id)).size).toBe(1);
  });

  it('refuses a malformed event before sending any of the batch', async () => {
    const before = eventGrid.subscription('vigil', 'incidents').stats.delivered;
    const bad = { ...rotationFailedEvent(failure('db-bad')), type: 'RotationFailed' };

    const error = await vigilEvents({ env })
      .publish([rotationFailedEvent(failure('db-good')), bad])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VigilEventsError);
    expect((error as Error).message).toMatch(/^events\[1\] was not published: .*type must be Vigil\.<Name>/);
    await eventGrid.idle();
    expect(eventGrid.subscription('vigil', 'incidents').stats.delivered).toBe(before);
    expect(deliveredTo('db-good')).toEqual([]);
  });

  it('surfaces a refused key with its cause, and never shows the key', async () => {
    const wrongKey = 'd3Jvbmcta2V5LXRoYXQtbXVzdC1ub3QtbGVhaw==';
    const event = rotationFailedEvent(failure('db-wrong-key'));

    const error = await vigilEvents({ env: { ...env, VIGIL_EVENTGRID_TOPIC_KEY: wrongKey } })
      .publish([event])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(VigilEventsError);
    expect((error as Error).message).toMatch(
      /^Publishing 1 event\(s\) to the Vigil topic failed: 401 RestError/,
    );
    expect((error as VigilEventsError).eventIds).toEqual([event.id]);
    expect((error as Error).cause).toMatchObject({ statusCode: 401 });
    expect(inspect(error, { depth: 10 })).not.toContain(wrongKey);
    expect(deliveredTo('db-wrong-key')).toEqual([]);
  });

  it('surfaces an unknown topic as a 404', async () => {
    const error = await vigilEvents({
      env: { ...env, VIGIL_EVENTGRID_TOPIC_ENDPOINT: eventGrid.topicEndpoint('nope') },
    })
      .publish([rotationFailedEvent(failure('db-no-topic'))])
      .catch((e: unknown) => e);

    expect((error as Error).message).toMatch(/failed: 404 /);
  });

  it('publishes with the managed identity when no key is set', async () => {
    // The emulator's topics only take keys, so an HTTPS receiver stands in for a topic using Entra ID.
    const topic = await startWebhookReceiver({ tls: { key: certificates.key, cert: certificates.cert } });
    extraReceivers.push(topic);
    const event = rotationFailedEvent(failure('db-identity'));

    await vigilEvents({ env: { ...baseEnv, VIGIL_EVENTGRID_TOPIC_ENDPOINT: topic.url } }).publish([event]);

    const [request] = topic.requests;
    const token = String(request?.headers.authorization).replace(/^Bearer /, '');
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      aud: string;
    };
    expect(claims.aud).toBe('https://eventgrid.azure.net');
    expect(request?.headers['aeg-sas-key']).toBeUndefined();
    expect(request?.body).toEqual([
      expect.objectContaining({ id: event.id, eventType: 'Vigil.RotationFailed' }),
    ]);
  });

  it('writes each event to the function log as one JSON line when no topic is configured', async () => {
    const lines: string[] = [];
    const event: VigilEvent = rotationFailedEvent(failure('db-unconfigured'));

    await vigilEvents({ env: baseEnv, log: (line) => lines.push(line) }).publish([event]);

    expect(lines.map((line) => JSON.parse(line))).toEqual([{ vigilEvent: event }]);
    expect(deliveredTo('db-unconfigured')).toEqual([]);
  });

  it('does nothing for an empty list', async () => {
    const lines: string[] = [];

    await vigilEvents({ env: baseEnv, log: (line) => lines.push(line) }).publish([]);

    expect(lines).toEqual([]);
  });
  it('leaves no trace of the topic key in deliveries or errors, and the scanner would see one', async () => {
    const canaries = new SecretCanaries();
    canaries.add(topicKey, 'topic key');
    const carried = 'Carried-9q~x_canary.value';
    canaries.add(carried, 'carried value');
    const event = {
      ...rotationFailedEvent(failure('db-hygiene')),
      data: { note: Buffer.from(`>${carried}`).toString('base64') },
    };
    const refused = await vigilEvents({ env: { ...env, VIGIL_EVENTGRID_TOPIC_KEY: `${topicKey}x` } })
      .publish([rotationFailedEvent(failure('db-hygiene-refused'))])
      .catch((e: unknown) => inspect(e, { depth: 10 }));

    await vigilEvents({ env }).publish([event]);

    await expect.poll(() => deliveredTo('db-hygiene'), { timeout: 10_000 }).toHaveLength(1);
    const recorded = [
      { source: 'refused publish error', text: String(refused) },
      ...hook
        .notifications()
        .map((request, index) => ({ source: `delivery ${index}`, text: JSON.stringify(request) })),
    ];
    const findings = canaries.findLeaks(recorded);
    expect(findings.map((finding) => finding.canary)).toEqual(['carried value']);
    expect(findings[0]?.excerpt).toContain('[canary:carried value]');
    expect(JSON.stringify(findings)).not.toContain(carried);
  });
});
