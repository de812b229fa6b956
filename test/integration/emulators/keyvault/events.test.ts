import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import type { SecretEvent } from '../../../../local/emulators/keyvault/index.js';
import { type VaultFixture, vaultFixture } from './fixture.js';

const day = 24 * 3600_000;

function inDays(clock: Clock, days: number): Date {
  return new Date(Math.floor((clock.now().getTime() + days * day) / 1000) * 1000);
}

describe('Key Vault emulator secret events', () => {
  let fixture: VaultFixture;
  let clock: Clock;
  let published: { topic: string; events: SecretEvent[] }[];
  const types = () => published.flatMap((batch) => batch.events.map((event) => event.eventType));
  const publish = (topic: string, events: SecretEvent[]) => {
    published.push({ topic, events });
  };

  beforeEach(async () => {
    fixture = await vaultFixture();
    clock = new Clock();
    published = [];
  });
  afterEach(() => fixture.cleanup());

  it('publishes SecretNewVersionCreated on set, in the Event Grid payload shape', async () => {
    const kv = await fixture.start({
      vaults: ['kv-events'],
      clock,
      publish,
      subscriptionId: 'sub-1',
      resourceGroup: 'rg-1',
    });
    const client = fixture.client(kv, 'kv-events');
    const expiresOn = inDays(clock, 90);

    const secret = await client.setSecret('db-password', 'value', { expiresOn });
    await kv.admin.settleEvents();

    const resourceId =
      '/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.KeyVault/vaults/kv-events';
    expect(kv.resourceId('kv-events')).toBe(resourceId);
    expect(published).toHaveLength(1);
    expect(published[0]?.topic).toBe(resourceId);
    expect(published[0]?.events).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        topic: resourceId,
        subject: 'db-password',
        eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
        eventTime: expect.any(String),
        data: {
          Id: secret.properties.id,
          VaultName: 'kv-events',
          ObjectType: 'Secret',
          ObjectName: 'db-password',
          Version: secret.properties.version,
          NBF: null,
          EXP: expiresOn.getTime() / 1000,
        },
        dataVersion: '1',
        metadataVersion: '1',
      },
    ]);
  });

  it('raises SecretNearExpiry when the clock reaches 29 days before expiry, then SecretExpired, each once', async () => {
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish });
    const client = fixture.client(kv, 'kv-events');
    const secret = await client.setSecret('db-password', 'value', { expiresOn: inDays(clock, 60) });
    await kv.admin.settleEvents();
    expect(types()).toEqual(['Microsoft.KeyVault.SecretNewVersionCreated']);

    clock.advance(29 * day);
    await kv.admin.settleEvents();
    expect(types()).toHaveLength(1);

    clock.advance(2 * day); // 29 days left
    await kv.admin.settleEvents();
    clock.advance(day);
    await kv.admin.settleEvents();
    const nearExpiry = published.at(-1)?.events[0];
    expect(types()).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
    ]);
    expect(nearExpiry?.data.Version).toBe(secret.properties.version);
    expect(nearExpiry?.subject).toBe('db-password');

    clock.advance(29 * day);
    await kv.admin.settleEvents();
    clock.advance(day);
    await kv.admin.settleEvents();
    expect(types()).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
    ]);
  });

  it('raises SecretNearExpiry at once for a secret created 29 days before its expiry', async () => {
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish });
    const client = fixture.client(kv, 'kv-events');

    await client.setSecret('api-key', 'value', { expiresOn: inDays(clock, 29) });
    await kv.admin.settleEvents();

    expect(types()).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
    ]);
  });

  it('announces expiry for the current version only', async () => {
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish });
    const client = fixture.client(kv, 'kv-events');
    await client.setSecret('db-password', 'old', { expiresOn: inDays(clock, 40) });
    await client.setSecret('db-password', 'rotated', { expiresOn: inDays(clock, 90) });

    clock.advance(20 * day);
    await kv.admin.settleEvents();

    expect(types().filter((type) => type !== 'Microsoft.KeyVault.SecretNewVersionCreated')).toEqual([]);
  });

  it('does not announce an event again after a restart', async () => {
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish });
    const client = fixture.client(kv, 'kv-events');
    await client.setSecret('db-password', 'value', { expiresOn: inDays(clock, 10) });
    await kv.admin.settleEvents();
    await kv.close();
    const before = types().length;

    const restarted = await fixture.start({ vaults: ['kv-events'], clock, publish });
    clock.advance(day);
    await restarted.admin.settleEvents();

    expect(before).toBe(2);
    expect(types()).toHaveLength(2);
  });

  it('retries events the publisher refused on the next sweep', async () => {
    let refuse = true;
    const flaky = (topic: string, events: SecretEvent[]) => {
      if (refuse) throw new Error('event grid down');
      publish(topic, events);
    };
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish: flaky });
    const client = fixture.client(kv, 'kv-events');

    await client.setSecret('db-password', 'value');
    await kv.admin.settleEvents();
    expect(published).toHaveLength(0);
    expect(kv.admin.lastPublishError()).toBeInstanceOf(Error);

    refuse = false;
    clock.advance(0);
    await kv.admin.settleEvents();
    expect(types()).toEqual(['Microsoft.KeyVault.SecretNewVersionCreated']);
  });

  it('announces a new expiry date again after the properties change', async () => {
    const kv = await fixture.start({ vaults: ['kv-events'], clock, publish });
    const client = fixture.client(kv, 'kv-events');
    const secret = await client.setSecret('db-password', 'value', { expiresOn: inDays(clock, 5) });
    await kv.admin.settleEvents();

    await client.updateSecretProperties('db-password', secret.properties.version ?? '', {
      expiresOn: inDays(clock, 20),
    });
    await kv.admin.settleEvents();

    expect(types()).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretNearExpiry',
    ]);
  });
});
