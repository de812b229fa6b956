import { KeyVaultEmulatorError, KeyVaultRestError } from './errors.js';

export interface ThrottleOptions {
  /** How many of the next requests get 429. */
  requests: number;
  /** The `Retry-After` the 429s carry, in whole seconds (Key Vault's unit). Default 1. */
  retryAfterSeconds?: number;
}

export interface RateLimitOptions {
  /** Requests each vault serves per second; more get 429 with the wait until a slot frees. */
  perSecond: number;
  /** Also send `retry-after-ms`, which the Azure SDK prefers, so clients wait exactly as long as needed. */
  preciseRetryAfter?: boolean;
}

export interface FailOptions {
  /** How many of the next requests fail. */
  requests: number;
  /** Default 503. */
  status?: number;
  /** Omitted by default: a bare 503 is retried by the SDK's exponential backoff. */
  retryAfterSeconds?: number;
  /** Fail only these requests (e.g. the PATCH of one secret); the others are served meanwhile. */
  only?: RequestMatch;
}

export interface RequestMatch {
  method?: string;
  /** Tested against the URL path, e.g. `/secrets/app-db-pending/`. */
  path?: RegExp;
}

/** What the injector needs to know of a request. */
export interface RequestLine {
  method: string;
  path: string;
}

export interface FaultCounts {
  served: number;
  throttled: number;
  failed: number;
}

/** A refusal the server answers instead of serving the request. */
export interface Refusal {
  error: KeyVaultRestError;
  headers: Record<string, string>;
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new KeyVaultEmulatorError(`${field} must be an integer ≥ 1, got ${value}`);
  }
  return value;
}

/**
 * The faults tests ask the emulator to inject: a number of throttled or failing requests,
 * or a per-vault rate limit. Checked once per authenticated request.
 * @example
 * const faults = new FaultInjector();
 * faults.throttle({ requests: 2, retryAfterSeconds: 1 });
 */
export class FaultInjector {
  #throttle: { remaining: number; retryAfterSeconds: number } | undefined;
  #fail: { remaining: number; status: number; retryAfterSeconds?: number; only?: RequestMatch } | undefined;
  #rate: { perSecond: number; precise: boolean } | undefined;
  /** Per vault: the times (ms) at which the requests of the last second were served. */
  #served = new Map<string, number[]>();
  readonly counts: FaultCounts = { served: 0, throttled: 0, failed: 0 };

  throttle({ requests, retryAfterSeconds = 1 }: ThrottleOptions): void {
    this.#throttle = {
      remaining: positiveInteger('throttle.requests', requests),
      retryAfterSeconds: positiveInteger('throttle.retryAfterSeconds', retryAfterSeconds),
    };
  }

  rateLimit({ perSecond, preciseRetryAfter = false }: RateLimitOptions): void {
    this.#rate = { perSecond: positiveInteger('rateLimit.perSecond', perSecond), precise: preciseRetryAfter };
    this.#served.clear();
  }

  fail({ requests, status = 503, retryAfterSeconds, only }: FailOptions): void {
    if (!Number.isInteger(status) || status < 500 || status > 599) {
      throw new KeyVaultEmulatorError(`fail.status must be a 5xx status, got ${status}`);
    }
    this.#fail = { remaining: positiveInteger('fail.requests', requests), status, ...(only && { only }) };
    if (retryAfterSeconds !== undefined) {
      this.#fail.retryAfterSeconds = positiveInteger('fail.retryAfterSeconds', retryAfterSeconds);
    }
  }

  clear(): void {
    this.#throttle = undefined;
    this.#fail = undefined;
    this.#rate = undefined;
    this.#served.clear();
  }

  /** The refusal for this request, or undefined to serve it (and count it against the rate limit). */
  check(vaultName: string, nowMs: number, request: RequestLine): Refusal | undefined {
    const refusal = this.#injected(request) ?? this.#rateLimited(vaultName, nowMs);
    if (refusal?.error.status === 429) this.counts.throttled++;
    else if (refusal) this.counts.failed++;
    else this.counts.served++;
    return refusal;
  }

  #injected(request: RequestLine): Refusal | undefined {
    if (this.#fail && this.#fail.remaining > 0 && matches(request, this.#fail.only)) {
      this.#fail.remaining--;
      const { status, retryAfterSeconds } = this.#fail;
      const headers: Record<string, string> =
        retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
      const error =
        status === 503
          ? new KeyVaultRestError(status, 'ServiceUnavailable', 'The service is temporarily unavailable.')
          : new KeyVaultRestError(
              status,
              'InternalServerError',
              'The service failed to process the request.',
            );
      return { error, headers };
    }
    if (this.#throttle && this.#throttle.remaining > 0) {
      this.#throttle.remaining--;
      return throttled(this.#throttle.retryAfterSeconds * 1000, false);
    }
    return undefined;
  }

  #rateLimited(vaultName: string, nowMs: number): Refusal | undefined {
    if (!this.#rate) return undefined;
    const recent = (this.#served.get(vaultName) ?? []).filter((at) => at > nowMs - 1000);
    this.#served.set(vaultName, recent);
    const oldest = recent[0];
    if (recent.length < this.#rate.perSecond || oldest === undefined) {
      recent.push(nowMs);
      return undefined;
    }
    return throttled(oldest + 1000 - nowMs, this.#rate.precise);
  }
}

function matches(request: RequestLine, only: RequestMatch | undefined): boolean {
  if (only?.method !== undefined && only.method.toUpperCase() !== request.method.toUpperCase()) return false;
  return only?.path === undefined || only.path.test(request.path);
}

function throttled(waitMs: number, precise: boolean): Refusal {
  const headers: Record<string, string> = { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) };
  if (precise) headers['retry-after-ms'] = String(Math.max(1, Math.ceil(waitMs)));
  const error = new KeyVaultRestError(
    429,
    'Throttled',
    'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
  );
  return { error, headers };
}
