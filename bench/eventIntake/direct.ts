import type { ProbeRequestedEvent } from './workload.js';

/** How a run's batches went out. */
export interface Sent {
  /** performance.now() when the first request carrying each probe id was sent. */
  sentAt: Map<string, number>;
  /** Requests answered with something other than 2xx (or not answered), each retried. */
  retries: number;
}

/** A batch was refused on every attempt. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
}

const maxAttempts = 10;

/**
 * Posts the batches to an Event Grid webhook as Event Grid would (`aeg-event-type: Notification`),
 * `concurrency` requests in flight, retrying a batch that is not answered 2xx.
 * @example
 * const { sentAt, retries } = await postBatches(url, [[event]], 4);
 */
export async function postBatches(
  url: string,
  batches: ProbeRequestedEvent[][],
  concurrency: number,
): Promise<Sent> {
  const sent: Sent = { sentAt: new Map(), retries: 0 };
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < batches.length; index = next++) {
      await postOne(url, batches[index] ?? [], sent);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  return sent;
}

async function postOne(url: string, batch: ProbeRequestedEvent[], sent: Sent): Promise<void> {
  const body = JSON.stringify(batch);
  let last = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    const now = performance.now();
    for (const event of batch)
      if (!sent.sentAt.has(event.data.probeId)) sent.sentAt.set(event.data.probeId, now);
    const outcome = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
      body,
    }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.ok ? undefined : `HTTP ${response.status}`;
      },
      (error: unknown) => String(error),
    );
    if (outcome === undefined) return;
    last = outcome;
    sent.retries += 1;
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
  throw new DeliveryError(`a batch of ${batch.length} events failed ${maxAttempts} times, last: ${last}`);
}
