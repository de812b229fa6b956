import { describe, expect, it } from 'vitest';
import { mayDisablePending } from '../../../../src/core/rotation/cleanup.js';

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
