import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KeyVaultEventError, parseKeyVaultEvent } from '../../../../src/core/rotation/keyVaultEvent.js';

const fixture = (name: string): unknown => {
  const parsed: unknown = JSON.parse(
    readFileSync(new URL(`../../../fixtures/keyvault/${name}`, import.meta.url), 'utf8'),
  );
  return Array.isArray(parsed) ? parsed[0] : parsed;
};

const vaultId =
  '/subscriptions/{subscription-id}/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv';

const expected = {
  eventId: '00eccf70-95a7-4e7c-8299-2eb17ee9ad64',
  type: 'SecretNewVersionCreated',
  vaultName: 'sample-kv',
  vaultResourceId: vaultId,
  secretName: 'newsecret',
  version: 'ee059b2bb5bc48398a53b168c6cdcb10',
  secretId: 'https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10',
  notBefore: new Date(1559081980_000),
  expiresOn: new Date(1559082102_000),
  eventTime: new Date('2019-07-25T01:08:33.103Z'),
};

/** A valid Event Grid schema event to vary in the error table. */
const eventGrid = (data: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}) => ({
  id: 'e1',
  topic: vaultId,
  subject: 'db-password',
  eventType: 'Microsoft.KeyVault.SecretNearExpiry',
  eventTime: '2025-01-01T00:00:00Z',
  data: {
    VaultName: 'sample-kv',
    ObjectType: 'Secret',
    ObjectName: 'db-password',
    Version: 'abc123',
    ...data,
  },
  dataVersion: '1',
  metadataVersion: '1',
  ...envelope,
});

describe('parseKeyVaultEvent', () => {
  it.each([
    ['docs-eventgrid-secret-new-version-created.json', 'EventGrid'],
    ['docs-cloudevents-secret-new-version-created.json', 'CloudEvents'],
    ['docs-2020-eventgrid-secret-new-version-created.json', 'EventGrid'],
    ['specs-eventgrid-secret-new-version-created.json', 'EventGrid'],
    ['specs-cloudevents-secret-new-version-created.json', 'CloudEvents'],
  ])('parses the official example %s', (name, envelope) => {
    expect(parseKeyVaultEvent(fixture(name))).toEqual({ ...expected, envelope });
  });

  it.each([
    ['epoch-second numbers', { NBF: 1548114759, EXP: 1548115059 }, 1548115059_000],
    ['digit strings with spaces', { NBF: ' 1548114759 ', EXP: '1548115059 ' }, 1548115059_000],
    ['ISO-8601 strings', { EXP: '2026-04-01T00:00:00Z' }, Date.parse('2026-04-01T00:00:00Z')],
    ['SDK camelCase keys', { exp: 1548115059 }, 1548115059_000],
  ])('reads EXP given as %s', (_, data, ms) => {
    expect(parseKeyVaultEvent(eventGrid(data)).expiresOn).toEqual(new Date(ms));
  });

  it('treats a null or absent NBF as unset', () => {
    const parsed = parseKeyVaultEvent(eventGrid({ NBF: null }));
    expect(parsed.notBefore).toBeUndefined();
    expect('notBefore' in parsed).toBe(false);
  });

  it('accepts keys in any case with surrounding spaces, and the same key twice with one value', () => {
    const parsed = parseKeyVaultEvent(
      eventGrid({
        ' OBJECTNAME ': ' db-password',
        objectname: 'db-password',
        Version: undefined,
        ' version': 'V1 ',
      }),
    );
    expect(parsed).toMatchObject({ secretName: 'db-password', version: 'V1', type: 'SecretNearExpiry' });
  });

  it('takes the vault name from the resource id when data has none', () => {
    const { VaultName: _v, ...data } = eventGrid().data;
    expect(parseKeyVaultEvent({ ...eventGrid(), data }).vaultName).toBe('sample-kv');
  });

  it.each([
    ['not an object', 'nope', 'event must be a JSON object'],
    ['an array', [], 'event must be a JSON object'],
    ['no data', eventGrid({}, { data: undefined }), 'data must be a JSON object'],
    ['no id', eventGrid({}, { id: ' ' }), 'id is required (a non-empty string)'],
    ['no topic', eventGrid({}, { topic: undefined }), 'topic is required (a non-empty string)'],
    [
      'a topic that is no vault',
      eventGrid({}, { topic: '/subscriptions/s/resourceGroups/r' }),
      'topic must be a vault resource id',
    ],
    [
      'a key event',
      eventGrid({}, { eventType: 'Microsoft.KeyVault.KeyNearExpiry' }),
      'eventType must be one of',
    ],
    [
      'another service',
      eventGrid({}, { eventType: 'Microsoft.Storage.BlobCreated' }),
      'eventType must be one of',
    ],
    ['a key object', eventGrid({ ObjectType: 'Key' }), 'data.ObjectType must be "Secret", got "Key"'],
    ['conflicting key spellings', eventGrid({ objectname: 'other' }), 'data.objectname appears twice'],
    ['no object name', eventGrid({ ObjectName: '' }), 'data.ObjectName is required'],
    ['a secret name with a slash', eventGrid({ ObjectName: 'a/b' }), 'data.ObjectName must be 1-127 letters'],
    ['no version', eventGrid({ Version: undefined }), 'data.Version is required'],
    ['a version with spaces inside', eventGrid({ Version: 'a b' }), 'data.Version must be 1-64'],
    [
      'a vault name contradicting the topic',
      eventGrid({ VaultName: 'other-kv' }),
      'data.VaultName must match',
    ],
    [
      'an invalid vault name',
      eventGrid({ VaultName: 'x' }, { topic: vaultId.replace('sample-kv', 'x') }),
      'data.VaultName must be 3-24',
    ],
    ['EXP as text', eventGrid({ EXP: 'next week' }), 'data.EXP must be epoch seconds'],
    ['EXP as a boolean', eventGrid({ EXP: true }), 'data.EXP must be epoch seconds'],
    ['NBF as infinity', eventGrid({ NBF: Number.POSITIVE_INFINITY }), 'data.NBF must be epoch seconds'],
    [
      'an unreadable eventTime',
      eventGrid({}, { eventTime: 'yesterday' }),
      'eventTime must be an ISO-8601 time',
    ],
    [
      'a CloudEvent of another spec version',
      { ...eventGrid(), specversion: '0.3' },
      'specversion must be "1.0"',
    ],
  ])('rejects %s', (_, raw, message) => {
    const act = () => parseKeyVaultEvent(raw);
    expect(act).toThrow(KeyVaultEventError);
    expect(act).toThrow(message);
  });

  it('names the field on the error', () => {
    try {
      parseKeyVaultEvent(eventGrid({ Version: '' }));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'KeyVaultEventError', field: 'data.Version' });
    }
  });
});
