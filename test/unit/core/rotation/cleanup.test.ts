import { describe, expect, it } from 'vitest';
import { MAX_ERROR_MESSAGE_LENGTH } from '../../../../src/core/events.js';
import { adoptionCandidates, failureText, mayDisablePending } from '../../../../src/core/rotation/cleanup.js';
import type { VersionView } from '../../../../src/core/rotation/steps.js';

describe('mayDisablePending', () => {
  it('keeps the pending versions when the rollback failed: the server may hold their password', () => {
    expect(mayDisablePending({ kind: 'failed', text: 'failed: PostgresError: connection refused' })).toBe(
      false,
    );
  });

  it.each(['restored', 'unchanged', 'not-needed'] as const)(
    'disables them after a rollback that was %s',
    (kind) => {
      expect(mayDisablePending({ kind, text: kind })).toBe(true);
    },
  );
});

describe('adoptionCandidates', () => {
  const older: VersionView = { version: 'a', enabled: true, createdOn: new Date('2025-01-01T00:00:00Z') };
  const newer: VersionView = { version: 'b', enabled: true, createdOn: new Date('2025-02-01T00:00:00Z') };

  it.each(['postgres-role', 'postgres-flexible-admin'])('checks %s leftovers, newest first', (strategy) => {
    expect(adoptionCandidates(strategy, [older, newer]).map((v) => v.version)).toEqual(['b', 'a']);
  });

  it.each(['postgres-alternating', 'random'])(
    'never adopts a %s leftover: no live password changed',
    (strategy) => {
      expect(adoptionCandidates(strategy, [older, newer])).toEqual([]);
    },
  );
});

describe('failureText', () => {
  it('joins the error and the cleanup summary', () => {
    expect(failureText('set failed', 'disabled 1 pending version(s)')).toBe(
      'set failed (disabled 1 pending version(s))',
    );
  });

  it('cuts a long error before the cleanup summary, staying within the limit', () => {
    const text = failureText('e'.repeat(5000), 'kept 1 pending version(s) enabled');
    expect(text.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
    expect(text.endsWith('… (kept 1 pending version(s) enabled)')).toBe(true);
  });

  it('cuts a long cleanup summary too', () => {
    const text = failureText('e'.repeat(5000), 'c'.repeat(5000));
    expect(text.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_LENGTH);
    expect(text).toMatch(/^e+… \(c+…\)$/);
  });
});
