import { randomBytes } from 'node:crypto';
import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import type { Stack } from '../../local/stack.js';
import type { Sent } from './direct.js';
import { inBatches, type ProbeRequestedEvent, probeRequestedType } from './workload.js';

/** A topic of its own per receiver, so the stack's own subscriptions see none of the bench's events. */
export interface IntakeTopic {
  topic: string;
  publisher: EventGridPublisherClient<'EventGrid'>;
  subscription: string;
  /** Delivery requests the webhook did not answer 2xx (each is retried), from the emulator's log. */
  failedDeliveries: number;
}

/** Events per publish request: 500 probe requests stay well under the topic's 1 MB limit. */
const publishChunk = 500;

/**
 * Creates a custom topic with one webhook subscription delivering up to `maxEventsPerBatch`
 * events per request (and at most 1 MB, Event Grid's own limit).
 * @example
 * const intake = await intakeTopic(stack, 'intake-vigil', stack.webhookUrl('probeEvents'), 500);
 */
export async function intakeTopic(
  stack: Stack,
  topic: string,
  endpointUrl: string,
  maxEventsPerBatch: number,
): Promise<IntakeTopic> {
  const key = randomBytes(32).toString('base64');
  stack.eventGrid.createTopic({ name: topic, key });
  const subscription = `${topic}-hook`;
  await stack.eventGrid.createSubscription(topic, subscription, {
    endpointUrl,
    filter: { includedEventTypes: [probeRequestedType] },
    maxEventsPerBatch,
    preferredBatchSizeInKilobytes: 1024,
  });
  const publisher = new EventGridPublisherClient(
    stack.eventGrid.topicEndpoint(topic),
    'EventGrid',
    new AzureKeyCredential(key),
  );
  return { topic, publisher, subscription, failedDeliveries: 0 };
}

/**
 * Counts the topic's failed delivery requests from the emulator's log line
 * `eventgrid: NAME: N event(s) → OUTCOME (attempt K)`.
 * @example
 * vigil.onLine((line) => countFailedDelivery(intake, line));
 */
export function countFailedDelivery(intake: IntakeTopic, line: string): void {
  const outcome = new RegExp(`eventgrid: ${intake.subscription}: \\d+ event\\(s\\) → (\\S+)`).exec(line)?.[1];
  if (outcome !== undefined && outcome !== 'Succeeded') intake.failedDeliveries += 1;
}

/**
 * Publishes the events to the topic with the Event Grid SDK, in order, 500 per request.
 * @example
 * const { sentAt } = await publishAll(intake, workload.events);
 */
export async function publishAll(intake: IntakeTopic, events: ProbeRequestedEvent[]): Promise<Sent> {
  const sent: Sent = { sentAt: new Map(), retries: 0 };
  for (const chunk of inBatches(events, publishChunk)) {
    const now = performance.now();
    for (const event of chunk)
      if (!sent.sentAt.has(event.data.probeId)) sent.sentAt.set(event.data.probeId, now);
    await intake.publisher.send(
      chunk.map(({ id, subject, eventType, eventTime, dataVersion, data }) => ({
        id,
        subject,
        eventType,
        eventTime: new Date(eventTime),
        dataVersion,
        data,
      })),
    );
  }
  return sent;
}
