/** What putting the current password back on the target came to, when a rotation is abandoned. */
export type RollbackOutcome =
  | { kind: 'restored' | 'unchanged' | 'not-needed'; text: string }
  | { kind: 'failed'; text: string };

/**
 * Whether the abandoned rotation's pending versions may be disabled. Only when the target is known
 * to use the current password again (or never took the pending one): after a failed rollback the
 * server may hold the pending password, and its pending version is then the only working copy.
 * @example
 * mayDisablePending({ kind: 'failed', text: 'failed: connection refused' }); // false
 */
export function mayDisablePending(rollback: RollbackOutcome): boolean {
  return rollback.kind !== 'failed';
}
