import { z } from 'zod';

/**
 * What the Functions host's Event Grid extension does with a webhook call, minus the function
 * invocation: answer either schema's subscription handshake, or validate a notification batch
 * whole so that a bad batch gets a 400 (Event Grid does not retry it) and nothing is half-applied.
 */
export type WebhookRequest = { method: string; headers: Record<string, string | undefined>; body: string };

export type WebhookOutcome =
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'deliver'; events: unknown[] };

const validationEventType = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** Azure does not check timestamps strictly; anything `Date` reads (offsets, no seconds…) passes. */
const timestamp = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be a date and time');

const eventGridEvent = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  subject: z.string(),
  eventTime: timestamp,
  dataVersion: z.string(),
  topic: z.string().optional(),
  metadataVersion: z.string().optional(),
  data: z.unknown(),
});

const cloudEvent = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  specversion: z.literal('1.0'),
  time: timestamp.optional(),
  subject: z.string().optional(),
});

/**
 * Decides how to answer an Event Grid webhook request.
 * @example
 * const outcome = handleWebhook({ method: 'POST', headers, body });
 * if (outcome.kind === 'deliver') for (const event of outcome.events) await run(event);
 */
export function handleWebhook(request: WebhookRequest): WebhookOutcome {
  if (request.method === 'OPTIONS') return cloudEventsHandshake(request.headers);
  if (request.method !== 'POST') return badRequest(`method ${request.method} is not allowed; use POST`, 405);
  let payload: unknown;
  try {
    payload = JSON.parse(request.body);
  } catch {
    return badRequest('the body is not valid JSON');
  }
  const events = Array.isArray(payload) ? payload : [payload];
  if (events.length === 0) return badRequest('the batch is empty');
  // Event Grid marks the handshake by header; a validation event inside a notification is just an event.
  if (request.headers['aeg-event-type']?.toLowerCase() === 'subscriptionvalidation') {
    return eventGridHandshake(events.find(isValidationEvent));
  }
  const problems = events.flatMap((event, index) => problemsOf(event, index));
  return problems.length > 0 ? badRequest(problems.join('; ')) : { kind: 'deliver', events };
}

function cloudEventsHandshake(headers: WebhookRequest['headers']): WebhookOutcome {
  const origin = headers['webhook-request-origin'];
  if (!origin) return badRequest('OPTIONS needs a WebHook-Request-Origin header');
  return {
    kind: 'respond',
    status: 200,
    headers: { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*' },
  };
}

function eventGridHandshake(event: unknown): WebhookOutcome {
  const code = z.object({ data: z.object({ validationCode: z.string().min(1) }) }).safeParse(event);
  if (!code.success) return badRequest(`a ${validationEventType} must carry data.validationCode`);
  return { kind: 'respond', status: 200, body: { validationResponse: code.data.data.validationCode } };
}

function isValidationEvent(event: unknown): boolean {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as { eventType?: unknown }).eventType === validationEventType
  );
}

function problemsOf(event: unknown, index: number): string[] {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    return [`event[${index}] is not an object`];
  const schema = 'specversion' in event ? cloudEvent : eventGridEvent;
  const result = schema.safeParse(event);
  if (result.success) return [];
  return result.error.issues.map((issue) => `event[${index}].${issue.path.join('.')}: ${issue.message}`);
}

function badRequest(message: string, status = 400): WebhookOutcome {
  return { kind: 'respond', status, body: { error: message } };
}
