import { MAX_ERROR_MESSAGE_LENGTH } from '../events.js';
import type { VersionView } from './steps.js';

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

/** Strategies whose rotation changes the password a running application logs in with. */
const CHANGES_LIVE_PASSWORD = new Set(['postgres-role', 'postgres-flexible-admin']);

/** Whether rotating with this strategy changes the password a running application logs in with. */
export function changesLivePassword(strategy: string): boolean {
  return CHANGES_LIVE_PASSWORD.has(strategy);
}

/**
 * Leftovers of interrupted rotations worth checking before they are disabled, newest first. Only
 * for strategies that change the live password: an interrupted run may have left the server on the
 * leftover's password. An alternating pair's leftover holds the inactive role's password, which no
 * application uses, and a random value was never given to anyone: those are simply disabled.
 * @example
 * adoptionCandidates('postgres-role', stale); // stale, newest first
 * adoptionCandidates('random', stale); // []
 */
export function adoptionCandidates(strategy: string, stale: readonly VersionView[]): VersionView[] {
  if (!changesLivePassword(strategy)) return [];
  return [...stale].sort((a, b) => (b.createdOn?.getTime() ?? 0) - (a.createdOn?.getTime() ?? 0));
}

/** Room kept for what masking may add back to a cut text (`[redacted]` is longer than a cut fragment). */
const MASKING_MARGIN = 64;
const MAX_CLEANUP_LENGTH = 400;

/**
 * The failure text of a rotation, `error (cleanup)`, within the published limit: the error is cut
 * first, so the cleanup summary (what state the rotation left) always survives.
 * @example
 * failureText('x'.repeat(2000), 'disabled 1 pending version(s)').endsWith('(disabled 1 pending version(s))'); // true
 */
export function failureText(error: string, cleanup: string, limit = MAX_ERROR_MESSAGE_LENGTH): string {
  const tail = ` (${cut(cleanup, MAX_CLEANUP_LENGTH)})`;
  return `${cut(error, limit - tail.length - MASKING_MARGIN)}${tail}`;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}
