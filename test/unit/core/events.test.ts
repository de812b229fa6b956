import { describe, expect, it } from 'vitest';
import { looksLikeCredential } from '../../../src/core/audit.js';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  parseRotationFailedData,
  ROTATION_FAILED_EVENT_TYPE,
  type RotationFailedData,
  rotationFailedEvent,
  VigilEventError,
  validateVigilEvent,
  withoutSecrets,
} from '../../../src/core/events.js';

const failure: RotationFailedData = {
  vault: 'kv-1',
  secret: 'db-app',
  strategy: 'postgres-role',
  step: 'set',
  error: 'connect ECONNREFUSED 127.0.0.1:5432',
  rotationId: 'rotate-secret:kv-1:db-app',
  occurredAt: '2026-03-01T12:00:00.000Z',
};

const event = {
  id: 'Vigil.RotationFailed:rotate-secret:kv-1:db-app',
  type: 'Vigil.RotationFailed',
  subject: '/vaults/kv-1/secrets/db-app',
  data: { any: 'thing' },
  time: '2026-03-01T12:00:00.000Z',
};

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof VigilEventError) return error.problems.join('; ');
    throw error;
  }
  throw new Error('expected a VigilEventError');
}

describe('rotationFailedEvent', () => {
  it('builds the incident-ready event with a deterministic id from the rotation', () => {
    const first = rotationFailedEvent(failure);
    const again = rotationFailedEvent({ ...failure });

    expect(first).toEqual({
      id: 'Vigil.RotationFailed:rotate-secret:kv-1:db-app',
      type: ROTATION_FAILED_EVENT_TYPE,
      subject: '/vaults/kv-1/secrets/db-app',
      data: failure,
      time: '2026-03-01T12:00:00.000Z',
    });
    expect(again.id).toBe(first.id);
  });

  it('takes the id the caller gives', () => {
    expect(rotationFailedEvent(failure, 'failure-42').id).toBe('failure-42');
  });

  it('refuses an id Event Grid consumers could not dedupe on', () => {
    expect(() => rotationFailedEvent(failure, '')).toThrow('id must be 1-256 letters');
  });
});

describe('parseRotationFailedData', () => {
  it('accepts the data as a consumer receives it', () => {
    expect(parseRotationFailedData(JSON.parse(JSON.stringify(failure)))).toEqual(failure);
  });

  it.each([
    ['vault', { vault: '' }, 'vault must be 1-24 letters'],
    ['vault', { vault: 'a'.repeat(25) }, 'vault must be 1-24 letters'],
    ['secret', { secret: 'db app' }, 'secret must be 1-127 letters'],
    ['secret', { secret: 7 }, 'secret must be a string'],
    ['strategy', { strategy: 'Postgres Role' }, 'strategy must be 1-64 lowercase letters'],
    ['step', { step: '' }, 'step must be 1-64 lowercase letters'],
    ['error', { error: '' }, 'error must not be empty'],
    [
      'error',
      { error: 'x'.repeat(MAX_ERROR_MESSAGE_LENGTH + 1) },
      `error must be at most ${MAX_ERROR_MESSAGE_LENGTH}`,
    ],
    ['error', { error: 'line one\nline two' }, 'error must not contain control characters'],
    [
      'error',
      { error: 'cannot connect with Host=db;Password=Hunter2-xyz' },
      'error looks like it contains a credential',
    ],
    ['rotationId', { rotationId: 'has space' }, 'rotationId must be 1-200 letters'],
    ['occurredAt', { occurredAt: 'yesterday' }, 'occurredAt must be an ISO 8601 UTC date-time'],
    ['occurredAt', { occurredAt: undefined }, 'occurredAt must be an ISO 8601 UTC date-time'],
    ['unknown field', { password: 'x' }, 'data has unknown field(s) password'],
  ])('refuses a bad %s naming the field and the rule', (_field, change, message) => {
    expect(problemsOf(() => parseRotationFailedData({ ...failure, ...change }))).toContain(message);
  });

  it('refuses something that is not an object', () => {
    expect(problemsOf(() => parseRotationFailedData('failed'))).toBe('data must be an object');
  });
});

describe('validateVigilEvent', () => {
  it('accepts a well-formed event', () => {
    expect(validateVigilEvent(event)).toEqual(event);
  });

  it.each([
    ['id', { id: '-starts-with-dash' }, 'id must be 1-256 letters'],
    ['type', { type: 'RotationFailed' }, 'type must be Vigil.<Name>'],
    ['type', { type: 'Vigil.rotation.failed' }, 'type must be Vigil.<Name>'],
    ['subject', { subject: 'vaults/kv-1' }, 'subject must be a path'],
    ['subject', { subject: '/vaults/kv 1' }, 'subject must be a path'],
    ['data', { data: 'text' }, 'data must be an object'],
    ['data', { data: { blob: 'x'.repeat(70_000) } }, 'data must be at most 65536 bytes as JSON'],
    ['time', { time: new Date() }, 'time must be an ISO 8601 UTC date-time'],
    ['unknown field', { dataVersion: '2' }, 'event has unknown field(s) dataVersion'],
  ])('refuses a bad %s naming the field and the rule', (_field, change, message) => {
    expect(problemsOf(() => validateVigilEvent({ ...event, ...change }))).toContain(message);
  });
});

describe('withoutSecrets', () => {
  const secret = 'Qm7-x_Z~secret.Value9';

  it.each([
    ['the raw value', `login failed with ${secret}`],
    ['its URL-encoded form', `GET /?p=${encodeURIComponent(`${secret} &`)}`],
    ['its JSON-escaped form', `body {"p":${JSON.stringify(secret)}}`],
  ])('removes %s of a known secret', (_case, message) => {
    const safe = withoutSecrets(message, [secret]);

    expect(safe).not.toContain(secret);
    expect(safe).toContain('[redacted]');
  });

  it.each([
    [
      'a connection string',
      'Host=db;Password=Hunter2-xyz;Port=5432',
      'Host=db;Password=[redacted];Port=5432',
    ],
    ['a URL password', 'postgres://app:Hunter2-xyz@db/postgres', 'postgres://app:[redacted]@db/postgres'],
    ['a bearer token', 'Bearer abcdefghijklmnopqrstuvwxyz012', 'Bearer [redacted]'],
    ['a JWT', 'token eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.c2ln here', 'token [redacted] here'],
    ['a private key', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- tail', '[redacted] tail'],
    ['control characters', 'first\nsecond\u0000third', 'first second third'],
  ])('masks %s it was not told about', (_case, message, expected) => {
    expect(withoutSecrets(message)).toBe(expected);
  });

  it('cuts a long message at a space, so a masked credential is never split into one that looks real', () => {
    const message = `${'word '.repeat(203)}Password=hunter2; more text after the limit`;
    const safe = withoutSecrets(message);
    expect(safe.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
    expect(safe).not.toContain('hunter2');
    expect(looksLikeCredential(safe)).toBe(false);
  });

  it('keeps the result within the event limit and never empty', () => {
    expect(withoutSecrets('x'.repeat(5000))).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(withoutSecrets(' \n ')).toBe('unknown error');
  });

  it('yields a message that a RotationFailed event accepts', () => {
    const error = withoutSecrets(`ALTER ROLE failed; Password=${secret}; postgres://app:${secret}@db`, [
      secret,
    ]);

    expect(parseRotationFailedData({ ...failure, error }).error).not.toContain(secret);
  });
});
