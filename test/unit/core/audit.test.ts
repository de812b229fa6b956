import { describe, expect, it } from 'vitest';
import {
  type AuditInput,
  AuditRecordError,
  createAuditRecord,
  looksLikeCredential,
  metadataKeyProblem,
  parseAuditRecord,
} from '../../../src/core/audit.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const context = { id: 'rotate-secret:kv-1:db-app:promote', now };
const input: AuditInput = {
  actor: 'vigil',
  action: 'update',
  resource_type: 'Microsoft.KeyVault/vaults/secrets',
  resource_id: '/vaults/kv-1/secrets/db-app',
  request_id: 'rotate-secret:kv-1:db-app',
  status: 'success',
  metadata: { step: 'promote', version: 'a1b2c3', attempt: 2, resumed: false, secret: 'db-app' },
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof AuditRecordError) return error.problems;
    throw error;
  }
  throw new Error('expected an AuditRecordError');
}

describe('createAuditRecord', () => {
  it('builds the contract shape with the id and timestamp from the context', () => {
    const record = createAuditRecord(input, context);

    expect(record).toEqual({
      id: 'rotate-secret:kv-1:db-app:promote',
      timestamp: '2026-03-01T12:00:00.000Z',
      actor: 'vigil',
      action: 'update',
      resource_type: 'Microsoft.KeyVault/vaults/secrets',
      resource_id: '/vaults/kv-1/secrets/db-app',
      request_id: 'rotate-secret:kv-1:db-app',
      status: 'success',
      metadata: { step: 'promote', version: 'a1b2c3', attempt: 2, resumed: false, secret: 'db-app' },
    });
  });

  it('keeps the optional caller fields and defaults metadata to empty', () => {
    const { metadata: _omitted, ...withoutMetadata } = input;
    const record = createAuditRecord(
      { ...withoutMetadata, ip_address: '2001:db8::1', user_agent: 'vigil-tests/1.0' },
      context,
    );

    expect(record.ip_address).toBe('2001:db8::1');
    expect(record.user_agent).toBe('vigil-tests/1.0');
    expect(record.metadata).toEqual({});
  });

  it.each([
    ['id', { ...input }, { id: '' }, 'id must be 1-256 letters, digits'],
    ['id', { ...input }, { id: 'has space' }, 'id must be 1-256 letters, digits'],
    ['actor', { ...input, actor: '' }, {}, 'actor must not be empty'],
    ['actor', { ...input, actor: 'vigil\nforged line' }, {}, 'actor must not contain control characters'],
    ['action', { ...input, action: 'rotate' }, {}, 'action must be one of create, read, update, delete'],
    ['resource_type', { ...input, resource_type: '9secret' }, {}, 'resource_type must be 1-128 letters'],
    ['resource_id', { ...input, resource_id: 'x'.repeat(1025) }, {}, 'resource_id must be at most 1024'],
    ['ip_address', { ...input, ip_address: '300.1.1.1' }, {}, 'ip_address must be an IPv4 or IPv6 address'],
    ['user_agent', { ...input, user_agent: 'a'.repeat(513) }, {}, 'user_agent must be at most 512'],
    ['request_id', { ...input, request_id: undefined }, {}, 'request_id must be a string'],
    ['status', { ...input, status: 'ok' }, {}, 'status must be one of success, failure'],
    ['metadata', { ...input, metadata: [] }, {}, 'metadata must be an object'],
    ['metadata value', { ...input, metadata: { step: { nested: 1 } } }, {}, 'metadata.step must be a string'],
    [
      'metadata value',
      { ...input, metadata: { attempt: Number.NaN } },
      {},
      'metadata.attempt must be a finite',
    ],
    [
      'metadata value',
      { ...input, metadata: { note: 'x'.repeat(2049) } },
      {},
      'metadata.note must be at most 2048',
    ],
    ['metadata key', { ...input, metadata: { '1st': 'x' } }, {}, 'metadata.1st key must be 1-64 letters'],
    [
      'metadata size',
      { ...input, metadata: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}x`, i])) },
      {},
      'metadata must have at most 32 keys',
    ],
    ['unknown field', { ...input, password: 'x' }, {}, 'record has unknown field(s) password'],
  ])('refuses a bad %s, naming the field and the rule', (_field, bad, contextChange, message) => {
    const problems = problemsOf(() => createAuditRecord(bad as AuditInput, { ...context, ...contextChange }));

    expect(problems.join('; ')).toContain(message);
  });

  it('refuses an invalid clock reading', () => {
    expect(() => createAuditRecord(input, { ...context, now: new Date(Number.NaN) })).toThrow(
      'now must be a valid Date',
    );
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(() =>
      createAuditRecord({ ...input, actor: '', status: 'maybe' as 'success' }, { ...context, id: '' }),
    );

    expect(problems).toHaveLength(3);
  });

  it.each([
    'password',
    'newPassword',
    'admin_password',
    'adminpassword',
    'PWD',
    'secret_value',
    'secretValue',
    'client_secret',
    'secrets',
    'key',
    'api_key',
    'apiKey',
    'accountKey',
    'routing_key',
    'private_key',
    'token',
    'accessToken',
    'sas_token',
    'connection_string',
    'connectionString',
    'credential',
    'credentials',
    'value',
    'authorization',
    'cookie',
    'plaintext',
  ])('refuses the metadata key %s, which names secret material', (key) => {
    const problems = problemsOf(() => createAuditRecord({ ...input, metadata: { [key]: 'x' } }, context));

    expect(problems.join('; ')).toMatch(new RegExp(`^metadata\\.${key} names secret material`));
  });

  it.each([
    'secret',
    'secret_name',
    'secretVersion',
    'key_vault',
    'keyVault',
    'key_id',
    'credential_kind',
    'step',
    'role',
    'strategy',
  ])('accepts the metadata key %s, which names a reference', (key) => {
    expect(createAuditRecord({ ...input, metadata: { [key]: 'x' } }, context).metadata[key]).toBe('x');
  });

  it.each([
    ['a connection string password', 'Host=db;Username=app;Password=Hunter2-xyz;'],
    ['a storage account key', 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123=='],
    ['a SAS signature', 'https://a.blob.core.windows.net/c?sv=2024&sig=abcDEF%3D'],
    ['a URL with a password', 'postgres://app:Hunter2-xyz@db:5432/postgres'],
    ['a bearer token', 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123'],
    ['a JWT', 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.sig'],
    ['a private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIB'],
  ])('refuses a metadata value holding %s without echoing it', (_case, value) => {
    const problems = problemsOf(() => createAuditRecord({ ...input, metadata: { detail: value } }, context));
    const message = problems.join('; ');

    expect(message).toContain('metadata.detail looks like a credential');
    expect(message).not.toContain(value);
  });

  it('never echoes a refused value in the error', () => {
    const secret = 'Zq9-unique-canary-value';
    const error = (() => {
      try {
        createAuditRecord({ ...input, metadata: { password: secret, nested: secret.repeat(200) } }, context);
      } catch (caught) {
        return caught as Error;
      }
    })();

    expect(error).toBeInstanceOf(AuditRecordError);
    expect(error?.message).not.toContain(secret);
  });
});

describe('parseAuditRecord', () => {
  it('accepts a record that crossed a JSON boundary', () => {
    const record = createAuditRecord(input, context);

    expect(parseAuditRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });

  it.each([
    [null, 'record must be an object'],
    [{ ...createAuditRecord(input, context), timestamp: '2026-03-01' }, 'timestamp must be an ISO 8601'],
  ])('refuses %o', (value, message) => {
    expect(() => parseAuditRecord(value)).toThrow(message);
  });
});

describe('metadataKeyProblem and looksLikeCredential', () => {
  it('leaves references and ordinary text alone', () => {
    expect(metadataKeyProblem('secret_version')).toBeUndefined();
    expect(looksLikeCredential('login for role app failed: password authentication failed')).toBe(false);
    expect(looksLikeCredential('Password=[redacted];Host=db')).toBe(false);
    expect(looksLikeCredential('postgres://app:[redacted]@db/postgres')).toBe(false);
  });
});
