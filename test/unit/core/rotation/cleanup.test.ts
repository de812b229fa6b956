import { describe, expect, it } from 'vitest';
import { adoptionCandidates, mayDisablePending } from '../../../../src/core/rotation/cleanup.js';
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
