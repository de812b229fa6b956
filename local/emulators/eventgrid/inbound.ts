import { z } from 'zod';
import { badRequest, EventGridRequestError } from './errors.js';
import type { CloudEvent, EventGridEvent, EventSchemaName, TopicEvent } from './model.js';

/** Event Grid's limit for one publish request (and so for one event). */
export const MAX_PUBLISH_BYTES = 1024 * 1024;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const EXTENSION_NAME = /^[a-z0-9]+$/;

const requiredText = () =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') })
    .min(1, 'must not be empty');

const dateTime = () =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') })
    .refine((value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)), {
      message: 'must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z',
    });

const eventGridEventSchema = z.object({
  id: requiredText(),
  subject: z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') }),
  eventType: requiredText(),
  eventTime: dateTime(),
  data: z.unknown().optional(),
  dataVersion: z.string({ error: 'must be a string' }).optional(),
  metadataVersion: z.literal('1', { error: 'must be "1" when present' }).optional(),
  topic: z.string({ error: 'must be a string' }).optional(),
});

const cloudEventSchema = z
  .object({
    id: requiredText(),
    source: requiredText(),
    type: requiredText(),
    specversion: z.literal('1.0', { error: 'required, and must be "1.0"' }),
    subject: z.string({ error: 'must be a string' }).optional(),
    time: dateTime().optional(),
    datacontenttype: z.string({ error: 'must be a string' }).optional(),
    dataschema: z.string({ error: 'must be a string' }).optional(),
    data: z.unknown().optional(),
    data_base64: z.base64({ error: 'must be a base64 string' }).optional(),
  })
  .catchall(z.unknown())
  .superRefine((event, ctx) => {
    if (event.data !== undefined && event.data_base64 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['data_base64'], message: 'must not be set together with data' });
    }
    for (const name of Object.keys(event)) {
      if (name !== 'data_base64' && !EXTENSION_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'is not a valid CloudEvents attribute name (lower-case letters and digits only)',
        });
      }
    }
  });

/** What the parser needs to know about the topic a request was sent to. */
export interface PublishTarget {
  name: string;
  resourceId: string;
  inputSchema: EventSchemaName;
}

/**
 * Validates a publish request body against the topic's input schema and returns the accepted events,
 * stamped as Event Grid stamps them. Throws EventGridRequestError (400 or 413) naming the first problems.
 * @example
 * const events = parsePublishBody(topic, 'application/json', Buffer.from('[{"id":"1", ...}]'));
 */
export function parsePublishBody(
  target: PublishTarget,
  contentType: string | undefined,
  body: Buffer,
): TopicEvent[] {
  if (body.length > MAX_PUBLISH_BYTES) {
    throw new EventGridRequestError(
      413,
      'RequestEntityTooLarge',
      `the request body is ${body.length} bytes; Event Grid accepts at most ${MAX_PUBLISH_BYTES} bytes per request`,
    );
  }
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const parsed = parseJson(body);
  if (target.inputSchema === 'EventGridSchema') return parseEventGridBatch(target, mediaType, parsed);
  return parseCloudEvents(mediaType, parsed);
}

/** The body as JSON, or a 400 naming why it is not. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw badRequest('the request body is empty; send a JSON array of events');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new EventGridRequestError(
      400,
      'BadRequest',
      `the request body is not valid JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

function parseEventGridBatch(target: PublishTarget, mediaType: string, parsed: unknown): TopicEvent[] {
  if (mediaType !== 'application/json') {
    throw badRequest(
      `Content-Type "${mediaType || '(none)'}" is not accepted: topic "${target.name}" takes the Event Grid schema as application/json`,
    );
  }
  const items = requireBatch(parsed, 'Event Grid schema');
  return items.map((item, index) => {
    const event = validate(eventGridEventSchema, item, `events[${index}]`);
    if (event.topic !== undefined && event.topic.toLowerCase() !== target.resourceId.toLowerCase()) {
      throw badRequest(
        `events[${index}].topic: must be omitted or equal the topic's resource id ${target.resourceId}, got "${event.topic}"`,
      );
    }
    const stamped: EventGridEvent = {
      id: event.id,
      topic: target.resourceId,
      subject: event.subject,
      eventType: event.eventType,
      eventTime: event.eventTime,
      dataVersion: event.dataVersion ?? '',
      metadataVersion: '1',
    };
    if (event.data !== undefined) stamped.data = event.data;
    return { schema: 'EventGridSchema', event: stamped } as const;
  });
}

function parseCloudEvents(mediaType: string, parsed: unknown): TopicEvent[] {
  let items: unknown[];
  if (mediaType === 'application/cloudevents-batch+json') items = requireBatch(parsed, 'CloudEvents');
  else if (mediaType === 'application/cloudevents+json') {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw badRequest('application/cloudevents+json carries one event: the body must be a JSON object');
    }
    items = [parsed];
  } else {
    throw badRequest(
      `Content-Type "${mediaType || '(none)'}" is not accepted: this topic takes CloudEvents 1.0 as application/cloudevents-batch+json or application/cloudevents+json`,
    );
  }
  return items.map((item, index) => {
    const event = validate(cloudEventSchema, item, `events[${index}]`) as CloudEvent;
    return { schema: 'CloudEventSchemaV1_0', event } as const;
  });
}

function requireBatch(parsed: unknown, schemaName: string): unknown[] {
  if (!Array.isArray(parsed))
    throw badRequest(`the request body must be a JSON array of events (${schemaName})`);
  if (parsed.length === 0) throw badRequest('the batch is empty: send at least one event');
  return parsed;
}

function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${where}: must be a JSON object`);
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw badRequest(describeIssues(result.error.issues, where));
}

/** "events[0].eventTime: must be ...; events[0].id: required" — the first few problems, each naming its field. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], where: string): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path
        .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
        .join('');
      return `${where}${path}: ${issue.message}`;
    })
    .join('; ');
}
