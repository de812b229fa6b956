import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import {
  type EventGridEmulator,
  startEventGridEmulator,
} from '../../../../local/emulators/eventgrid/index.js';
import { type VaultFixture, vaultFixture } from './fixture.js';

const root = path.resolve(import.meta.dirname, '../../../..');
const day = 24 * 3600_000;

/** A webhook that answers Event Grid's handshake and keeps every event delivered to it. */
async function startWebhook(): Promise<{ url: string; received: Record<string, unknown>[]; server: Server }> {
  const received: Record<string, unknown>[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>[];
    const first = events[0] as { data?: { validationCode?: string } } | undefined;
    if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ validationResponse: first?.data?.validationCode }));
      return;
    }
    received.push(...events);
    res.writeHead(200).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, received, server };
}

describe('Key Vault emulator events through the Event Grid emulator', () => {
  let fixture: VaultFixture;
  let eventGrid: EventGridEmulator;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  const clock = new Clock();

  beforeEach(async () => {
    fixture = await vaultFixture();
    eventGrid = await startEventGridEmulator({ tlsDir: path.join(root, '.vigil/tls'), clock });
    webhook = await startWebhook();
  });
  afterEach(async () => {
    await fixture.cleanup();
    await eventGrid.close();
    webhook.server.close();
  });

  it('delivers SecretNearExpiry from the vault system topic to a webhook subscription', async () => {
    const kv = await fixture.start({
      vaults: ['kv-chain'],
      clock,
      publish: (_topic, events) => eventGrid.publishSystemEvents('kv-chain-events', events),
    });
    eventGrid.createSystemTopic({
      name: 'kv-chain-events',
      source: kv.resourceId('kv-chain'),
      topicType: 'Microsoft.KeyVault.vaults',
    });
    await eventGrid.createSubscription('kv-chain-events', 'rotation', {
      endpointUrl: webhook.url,
      filter: { includedEventTypes: ['Microsoft.KeyVault.SecretNearExpiry'] },
    });
    const client = fixture.client(kv, 'kv-chain');
    const expiresOn = new Date(Math.floor((clock.now().getTime() + 60 * day) / 1000) * 1000);
    const secret = await client.setSecret('db-password', 'value', {
      expiresOn,
      tags: { 'vigil-rotation': 'on' },
    });

    clock.advance(31 * day);
    await kv.admin.settleEvents();
    await eventGrid.idle();

    expect(webhook.received).toEqual([
      expect.objectContaining({
        topic: kv.resourceId('kv-chain'),
        subject: 'db-password',
        eventType: 'Microsoft.KeyVault.SecretNearExpiry',
        data: {
          Id: secret.properties.id,
          VaultName: 'kv-chain',
          ObjectType: 'Secret',
          ObjectName: 'db-password',
          Version: secret.properties.version,
          NBF: null,
          EXP: expiresOn.getTime() / 1000,
        },
      }),
    ]);
  });
});
