/** The events one event-intake run sends: probe requests, some delivered more than once. */

export const probeRequestedType = 'Vigil.PipelineProbe.Requested';

/** An event as Event Grid delivers it to a webhook (Event Grid schema). */
export interface ProbeRequestedEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: typeof probeRequestedType;
  eventTime: string;
  dataVersion: string;
  metadataVersion: '1';
  data: { probeId: string; ackTimeoutMinutes: number };
}

export interface Workload {
  /** In sending order; duplicates are exact copies (same event id), as an at-least-once redelivery is. */
  events: ProbeRequestedEvent[];
  /** Every distinct probe id, once. */
  probeIds: string[];
}

export interface WorkloadOptions {
  /** Makes this run's probe ids unique in the task hub: letters, digits, dashes. */
  tag: string;
  events: number;
  /** Share of `events` that repeat an earlier event. */
  duplicates: number;
  seed: number;
}

/**
 * Builds `events` probe requests of which `duplicates × events` repeat another one, shuffled so a
 * copy may arrive before its original and in another batch.
 * @example
 * const { events, probeIds } = probeWorkload({ tag: 'r1', events: 100, duplicates: 0.2, seed: 1 });
 * // events.length === 100, probeIds.length === 80
 */
export function probeWorkload(options: WorkloadOptions): Workload {
  const random = seededRandom(options.seed);
  const distinct = Math.max(1, options.events - Math.floor(options.events * options.duplicates));
  const now = new Date().toISOString();
  const originals = Array.from({ length: distinct }, (_, index) =>
    probeEvent(`${options.tag}-${index}`, now),
  );
  const copies = Array.from(
    { length: options.events - distinct },
    () => originals[Math.floor(random() * distinct)] ?? originals[0],
  ).filter((event): event is ProbeRequestedEvent => event !== undefined);
  const events = [...originals, ...copies];
  for (let index = events.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [events[index], events[other]] = [
      events[other] as ProbeRequestedEvent,
      events[index] as ProbeRequestedEvent,
    ];
  }
  return { events, probeIds: originals.map((event) => event.data.probeId) };
}

function probeEvent(probeId: string, eventTime: string): ProbeRequestedEvent {
  return {
    id: `evt-${probeId}`,
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.EventGrid/topics/intake',
    subject: `probes/${probeId}`,
    eventType: probeRequestedType,
    eventTime,
    dataVersion: '1.0',
    metadataVersion: '1',
    data: { probeId, ackTimeoutMinutes: 60 },
  };
}

/** mulberry32: a small seeded generator, so a run's duplicates are the same every time. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Splits the events into batches of at most `size`.
 * @example
 * inBatches([1, 2, 3], 2); // [[1, 2], [3]]
 */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let at = 0; at < items.length; at += size) batches.push(items.slice(at, at + size));
  return batches;
}
