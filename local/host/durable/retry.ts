import type { RetryPolicy } from './actions.js';

/**
 * The delay before the next attempt after failed attempt number `failedAttempt` (0-based), as
 * DurableTask's RetryInterceptor computes it: first interval × coefficient^attempt, capped at the
 * max interval; 0 once the retry timeout (measured from the first attempt) has passed.
 * Defaults: coefficient 1, no max interval, no timeout.
 * @example
 * retryDelayMs({ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3, backoffCoefficient: 2 }, 1, t0, t0); // 2000
 */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  firstAttemptAt: Date,
  now: Date,
): number {
  const timeout = policy.retryTimeoutInMilliseconds;
  if (timeout !== undefined && now.getTime() >= firstAttemptAt.getTime() + timeout) return 0;
  const delay = policy.firstRetryIntervalInMilliseconds * (policy.backoffCoefficient ?? 1) ** failedAttempt;
  const max = policy.maxRetryIntervalInMilliseconds;
  return max !== undefined && max > 0 && delay > max ? max : delay;
}
