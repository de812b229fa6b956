import type { EventGridPublisherClient } from '@azure/eventgrid';
import { type Config, loadConfig } from '../config.js';
import { type VigilEvent, VigilEventError, validateVigilEvent } from '../core/events.js';

export type { VigilEvent } from '../core/events.js';

/** Vigil's own events on its Event Grid custom topic (Event Grid schema). */
export interface VigilEvents {
  /** Publishes the events in one request; an empty list does nothing. */
  publish(events: VigilEvent[]): Promise<void>;
}

export interface VigilEventsOptions {
  /** Where the settings are read from, on first publish; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** The function log (e.g. `context.log`), used when no topic is configured. */
  log?: (line: string) => void;
}

/** Events were refused before sending, or Event Grid did not accept them. */
export class VigilEventsError extends Error {
  override name = 'VigilEventsError';
  /** Ids of the events that were not published; publishing them again is safe (consumers dedupe by id). */
  readonly eventIds: string[];
  constructor(message: string, eventIds: string[], options?: ErrorOptions) {
    super(message, options);
    this.eventIds = eventIds;
  }
}

/** Version of the `data` shapes in src/core/events.ts; bump when one changes incompatibly. */
export const VIGIL_EVENT_DATA_VERSION = '1.0';

const clients = new Map<string, Promise<EventGridPublisherClient<'EventGrid'>>>();

/**
 * The publisher for the configured `VIGIL_EVENTGRID_TOPIC_ENDPOINT`: with `VIGIL_EVENTGRID_TOPIC_KEY`
 * when set, else `DefaultAzureCredential` (the app's managed identity needs EventGrid Data Sender).
 * The client is built on first publish. Without a topic, each event goes to the function log as one
 * JSON line, so a local run without Event Grid still shows what would have been raised.
 * @example
 * await vigilEvents({ log: context.log }).publish([rotationFailedEvent(failure)]);
 */
export function vigilEvents(options: VigilEventsOptions = {}): VigilEvents {
  let topic: Config['eventGrid'] | null | undefined;
  const log = options.log ?? ((line: string) => console.info(line));
  return {
    async publish(events) {
      const valid = validEvents(events);
      if (valid.length === 0) return;
      topic ??= loadConfig(options.env).eventGrid ?? null;
      if (topic === null) {
        for (const event of valid) log(JSON.stringify({ vigilEvent: event }));
        return;
      }
      await send(topic, valid);
    },
  };
}

function validEvents(events: readonly VigilEvent[]): VigilEvent[] {
  return events.map((event, index) => {
    try {
      return validateVigilEvent(event);
    } catch (error) {
      if (!(error instanceof VigilEventError)) throw error;
      throw new VigilEventsError(`events[${index}] was not published: ${error.message}`, idsOf(events), {
        cause: error,
      });
    }
  });
}

async function send(topic: NonNullable<Config['eventGrid']>, events: VigilEvent[]): Promise<void> {
  try {
    const client = await clientFor(topic);
    await client.send(
      events.map((event) => ({
        id: event.id,
        eventType: event.type,
        subject: event.subject,
        eventTime: new Date(event.time),
        dataVersion: VIGIL_EVENT_DATA_VERSION,
        data: event.data,
      })),
    );
  } catch (error) {
    // RestError keeps the request, but its inspection redacts headers such as aeg-sas-key.
    const status = (error as { statusCode?: number }).statusCode;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new VigilEventsError(
      `Publishing ${events.length} event(s) to the Vigil topic failed: ${status === undefined ? '' : `${status} `}${reason}`,
      idsOf(events),
      { cause: error },
    );
  }
}

function idsOf(events: readonly VigilEvent[]): string[] {
  return events.map((event) => String((event as { id?: unknown } | undefined)?.id));
}

function clientFor(topic: NonNullable<Config['eventGrid']>): Promise<EventGridPublisherClient<'EventGrid'>> {
  const cacheKey = `${topic.endpoint}\n${topic.key ?? ''}`;
  let client = clients.get(cacheKey);
  if (!client) {
    client = createClient(topic);
    clients.set(cacheKey, client);
    client.catch(() => clients.delete(cacheKey));
  }
  return client;
}

async function createClient(
  topic: NonNullable<Config['eventGrid']>,
): Promise<EventGridPublisherClient<'EventGrid'>> {
  const { AzureKeyCredential, EventGridPublisherClient } = await import('@azure/eventgrid');
  if (topic.key)
    return new EventGridPublisherClient(topic.endpoint, 'EventGrid', new AzureKeyCredential(topic.key));
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new EventGridPublisherClient(topic.endpoint, 'EventGrid', new DefaultAzureCredential());
}
