import type { Clock } from '../../clock.js';
import { type DeadLetterFacts, writeDeadLetter } from './deadLetter.js';
import type { DeliveryEvent } from './model.js';
import type { SubscriptionConfig } from './subscriptionConfig.js';
import { callWebhook, type WebhookOutcome, type WebhookTransport } from './webhook.js';

/** Azure's best-effort retry schedule; the last step repeats. */
export const AZURE_RETRY_SCHEDULE_MS: readonly number[] = [
  10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
];

/** Requests one subscription keeps open at once, so a burst of thousands of events does not open thousands of sockets. */
const MAX_CONCURRENT_BATCHES = 8;

/** Statuses Event Grid does not retry for a webhook: the event is dead-lettered (or dropped) at once. */
const NOT_RETRIED = new Set([400, 401, 403, 413]);

export interface DispatcherContext {
  clock: Clock;
  transport: WebhookTransport;
  retryScheduleMs: readonly number[];
  log: (line: string) => void;
}

export interface DeliveryStats {
  delivered: number;
  deadLettered: number;
  dropped: number;
  pending: number;
  /** Pending events that failed at least once and wait for their next attempt. */
  retrying: number;
}

interface PendingEvent {
  event: DeliveryEvent;
  publishTime: Date;
  expiresAt: Date;
  attempts: number;
  dueAt: Date;
  inFlight: boolean;
  bytes: number;
  last?: { outcome: WebhookOutcome; at: Date };
}

/**
 * Delivers one subscription's events to its webhook: batches, retries on the schedule, and
 * dead-letters (or drops) what cannot be delivered. Time comes from the injected clock.
 * @example
 * const dispatcher = new SubscriptionDispatcher('vigil', config, context);
 * dispatcher.enqueue([event], clock.now());
 * await dispatcher.idle();
 */
export class SubscriptionDispatcher {
  readonly #pending = new Set<PendingEvent>();
  readonly #stats = { delivered: 0, deadLettered: 0, dropped: 0 };
  #waiter: AbortController | undefined;
  #batchesInFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #stopped = false;

  constructor(
    readonly name: string,
    readonly config: SubscriptionConfig,
    private readonly context: DispatcherContext,
  ) {}

  enqueue(events: DeliveryEvent[], publishTime: Date): void {
    const ttlMs = this.config.retryPolicy.eventTimeToLiveInMinutes * 60_000;
    for (const event of events) {
      this.#pending.add({
        event,
        publishTime,
        expiresAt: new Date(publishTime.getTime() + ttlMs),
        attempts: 0,
        dueAt: publishTime,
        inFlight: false,
        bytes: Buffer.byteLength(JSON.stringify(event)),
      });
    }
    this.#wake();
  }

  get stats(): DeliveryStats {
    const retrying = [...this.#pending].filter((item) => !item.inFlight && item.attempts > 0).length;
    return { ...this.#stats, pending: this.#pending.size, retrying };
  }

  /** Resolves once nothing is pending: every event delivered, dead-lettered or dropped. */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#waiter?.abort();
  }

  #wake(): void {
    this.#waiter?.abort();
    this.#waiter = undefined;
    if (this.#stopped) return;
    const now = this.context.clock.now();
    const waiting = [...this.#pending].filter((p) => !p.inFlight);
    const batches = this.#batches(waiting.filter((p) => p.dueAt <= now));
    // Ready events beyond the concurrency limit stay ready; each finished batch wakes the dispatcher again.
    for (const batch of batches.slice(0, Math.max(0, MAX_CONCURRENT_BATCHES - this.#batchesInFlight))) {
      void this.#attempt(batch);
    }
    const next = waiting.reduce(
      (soonest, p) => (p.dueAt > now ? Math.min(soonest, p.dueAt.getTime()) : soonest),
      Infinity,
    );
    if (Number.isFinite(next)) {
      const waiter = new AbortController();
      this.#waiter = waiter;
      this.context.clock.waitUntil(new Date(next), waiter.signal).then(
        () => this.#waiter === waiter && this.#wake(),
        () => undefined,
      );
    }
    if (this.#pending.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Groups ready events up to maxEventsPerBatch and the preferred size; one oversized event still goes alone. */
  #batches(ready: PendingEvent[]): PendingEvent[][] {
    const limitBytes = this.config.preferredBatchSizeInKilobytes * 1024;
    const batches: PendingEvent[][] = [];
    let current: PendingEvent[] = [];
    let bytes = 0;
    for (const item of ready) {
      const full = current.length >= this.config.maxEventsPerBatch || bytes + item.bytes > limitBytes;
      if (current.length > 0 && full) {
        batches.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += item.bytes;
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  async #attempt(batch: PendingEvent[]): Promise<void> {
    this.#batchesInFlight += 1;
    try {
      await this.#deliver(batch);
    } finally {
      this.#batchesInFlight -= 1;
    }
    this.#wake();
  }

  async #deliver(batch: PendingEvent[]): Promise<void> {
    for (const item of batch) item.inFlight = true;
    const now = this.context.clock.now();
    const expired = batch.filter((item) => now >= item.expiresAt);
    const live = batch.filter((item) => now < item.expiresAt);
    await Promise.all(expired.map((item) => this.#giveUp(item, 'TimeToLiveExceeded')));
    if (live.length > 0) {
      const outcome = await callWebhook(
        this.config.endpointUrl,
        this.#notification(live),
        this.context.transport,
      );
      // Closing the emulator aborts requests in flight; those are not failures of the webhook.
      if (this.#stopped) return;
      const at = this.context.clock.now();
      await Promise.all(live.map((item) => this.#settle(item, outcome, at)));
      this.context.log(
        `eventgrid: ${this.name}: ${live.length} event(s) → ${describeOutcome(outcome)} (attempt ${live[0]?.attempts ?? 0})`,
      );
    }
  }

  #notification(batch: PendingEvent[]) {
    const events = batch.map((item) => item.event);
    const first = events[0];
    const cloudEvents = this.config.eventDeliverySchema === 'CloudEventSchemaV1_0';
    // Azure sends CloudEvents one per request in structured mode unless batching is switched on.
    const single = cloudEvents && this.config.maxEventsPerBatch === 1;
    const headers: Record<string, string> = {
      'content-type': cloudEvents
        ? `application/cloudevents${single ? '' : '-batch'}+json; charset=utf-8`
        : 'application/json; charset=utf-8',
      'aeg-event-type': 'Notification',
      'aeg-subscription-name': this.name.toUpperCase(),
      'aeg-delivery-count': String(Math.max(...batch.map((item) => item.attempts))),
      'aeg-metadata-version': '1',
    };
    if (first && 'dataVersion' in first && typeof first.dataVersion === 'string') {
      headers['aeg-data-version'] = first.dataVersion;
    }
    return { method: 'POST' as const, headers, body: JSON.stringify(single ? first : events) };
  }

  async #settle(item: PendingEvent, outcome: WebhookOutcome, at: Date): Promise<void> {
    item.attempts += 1;
    item.last = { outcome, at };
    const status = outcome.kind === 'response' ? outcome.status : undefined;
    if (status !== undefined && status >= 200 && status <= 204) {
      this.#pending.delete(item);
      this.#stats.delivered += 1;
      return;
    }
    if (status !== undefined && NOT_RETRIED.has(status)) {
      return this.#giveUp(
        item,
        status === 400 ? 'UndeliverableDueToHttpBadRequest' : 'UndeliverableDueToClientError',
      );
    }
    if (item.attempts >= this.config.retryPolicy.maxDeliveryAttempts) {
      return this.#giveUp(item, 'MaxDeliveryAttemptsExceeded');
    }
    const schedule = this.context.retryScheduleMs;
    const delay = schedule[Math.min(item.attempts - 1, schedule.length - 1)] ?? 0;
    // Never wait past the event's time to live: at expiry the next attempt dead-letters it instead.
    item.dueAt = new Date(Math.min(at.getTime() + delay, item.expiresAt.getTime()));
    item.inFlight = false;
  }

  async #giveUp(item: PendingEvent, reason: string): Promise<void> {
    const directory = this.config.deadLetterDirectory;
    try {
      if (!directory) {
        this.#stats.dropped += 1;
        this.context.log(
          `eventgrid: ${this.name}: dropped event ${item.event.id} (${reason}; no dead-letter destination)`,
        );
        return;
      }
      const path = await writeDeadLetter(
        directory,
        this.config.eventDeliverySchema,
        item.event,
        this.#facts(item, reason),
      );
      this.#stats.deadLettered += 1;
      this.context.log(
        `eventgrid: ${this.name}: dead-lettered event ${item.event.id} (${reason}) to ${path}`,
      );
    } catch (error) {
      this.#stats.dropped += 1;
      this.context.log(
        `eventgrid: ${this.name}: dropped event ${item.event.id}: dead-letter write failed: ${String(error)}`,
      );
    } finally {
      this.#pending.delete(item);
    }
  }

  #facts(item: PendingEvent, reason: string): DeadLetterFacts {
    const outcome = item.last?.outcome;
    const facts: DeadLetterFacts = {
      reason,
      deliveryAttempts: item.attempts,
      lastDeliveryOutcome: outcome ? describeOutcome(outcome) : 'NotAttempted',
      publishTime: item.publishTime,
    };
    const status =
      outcome?.kind === 'response' ? outcome.status : outcome?.kind === 'timeout' ? 408 : undefined;
    if (status !== undefined) facts.lastHttpStatusCode = status;
    if (item.last) facts.lastDeliveryAttemptTime = item.last.at;
    return facts;
  }
}

/** Event Grid's `lastDeliveryOutcome` words for how an attempt ended. */
export function describeOutcome(outcome: WebhookOutcome): string {
  if (outcome.kind === 'timeout') return 'TimedOut';
  if (outcome.kind === 'unreachable') return 'PeerConnectionFailed';
  const byStatus: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    408: 'TimedOut',
    413: 'RequestEntityTooLarge',
    503: 'Busy',
  };
  if (outcome.status >= 200 && outcome.status <= 204) return 'Succeeded';
  return byStatus[outcome.status] ?? 'GenericError';
}
