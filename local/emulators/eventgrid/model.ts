/** Schemas Event Grid accepts on a topic and delivers to a subscription. */
export type EventSchemaName = 'EventGridSchema' | 'CloudEventSchemaV1_0';
export const EVENT_SCHEMAS: readonly EventSchemaName[] = ['EventGridSchema', 'CloudEventSchemaV1_0'];

/** An event in the Event Grid schema as stored after publish (topic and metadataVersion stamped). */
export interface EventGridEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data?: unknown;
  dataVersion: string;
  metadataVersion: string;
}

/** A CloudEvents 1.0 event in structured JSON form; extension attributes sit beside the core ones. */
export interface CloudEvent {
  id: string;
  source: string;
  type: string;
  specversion: '1.0';
  subject?: string;
  time?: string;
  data?: unknown;
  data_base64?: string;
  datacontenttype?: string;
  dataschema?: string;
  [extension: string]: unknown;
}

/** An accepted event with the schema it arrived in. */
export type TopicEvent =
  | { schema: 'EventGridSchema'; event: EventGridEvent }
  | { schema: 'CloudEventSchemaV1_0'; event: CloudEvent };

/** The event as a subscription receives it: already in the subscription's delivery schema. */
export type DeliveryEvent = EventGridEvent | CloudEvent;

export function eventTypeOf(event: TopicEvent): string {
  return event.schema === 'EventGridSchema' ? event.event.eventType : event.event.type;
}

export function subjectOf(event: TopicEvent): string {
  return event.schema === 'EventGridSchema' ? event.event.subject : (event.event.subject ?? '');
}

/**
 * Puts an accepted event into a subscription's delivery schema. Azure converts Event Grid schema to
 * CloudEvents on delivery (source = topic); the reverse is refused when the subscription is created.
 * @example
 * toDeliverySchema({ schema: 'EventGridSchema', event }, 'CloudEventSchemaV1_0').source === event.topic;
 */
export function toDeliverySchema(event: TopicEvent, schema: EventSchemaName): DeliveryEvent {
  if (event.schema === schema) return event.event;
  if (event.schema === 'CloudEventSchemaV1_0') {
    throw new TypeError('CloudEvents cannot be delivered in the Event Grid schema');
  }
  const { id, topic, subject, eventType, eventTime, data } = event.event;
  const converted: CloudEvent = {
    id,
    source: topic,
    specversion: '1.0',
    type: eventType,
    subject,
    time: eventTime,
  };
  if (data !== undefined) converted.data = data;
  return converted;
}
