import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { SubscriptionValidationError } from './errors.js';
import type { EventSchemaName } from './model.js';
import { endpointBaseUrl } from './subscriptionConfig.js';

/** How one HTTP call to a webhook ended. */
export type WebhookOutcome =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: string }
  | { kind: 'timeout' }
  | { kind: 'unreachable'; message: string };

export interface WebhookCall {
  method: 'POST' | 'OPTIONS';
  headers: Record<string, string>;
  body?: string;
}

export interface WebhookTransport {
  /** CAs trusted for https webhooks (the process defaults plus the local CA). */
  ca: string[];
  timeoutMs: number;
  signal: AbortSignal;
}

/** Responses are read only for the handshake answer; a cap keeps a misbehaving endpoint from filling memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Makes one HTTP(S) call to a webhook and reports how it ended; never throws for network failures.
 * @example
 * const outcome = await callWebhook(url, { method: 'POST', headers, body }, transport);
 * if (outcome.kind === 'response' && outcome.status === 200) ...
 */
export function callWebhook(
  url: string,
  call: WebhookCall,
  transport: WebhookTransport,
): Promise<WebhookOutcome> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const options = { method: call.method, headers: call.headers, signal: transport.signal };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
      });
      res.on('end', () =>
        resolve({
          kind: 'response',
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', (error) => resolve({ kind: 'unreachable', message: error.message }));
    };
    const req =
      target.protocol === 'https:'
        ? https.request(target, { ...options, ca: transport.ca }, onResponse)
        : http.request(target, options, onResponse);
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ kind: 'timeout' });
    }, transport.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (error) => resolve({ kind: 'unreachable', message: error.message }));
    req.end(call.body);
  });
}

/** What the handshake needs to know about the subscription being created. */
export interface HandshakeTarget {
  topicResourceId: string;
  subscriptionName: string;
  endpointUrl: string;
  eventDeliverySchema: EventSchemaName;
}

/** The origin Event Grid names in the CloudEvents abuse-protection handshake. */
export const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';

/**
 * Runs the webhook validation handshake Azure runs before a subscription exists: a
 * SubscriptionValidationEvent for the Event Grid schema, an HTTP OPTIONS for CloudEvents.
 * Throws SubscriptionValidationError saying what the endpoint got wrong.
 * @example
 * await validateWebhook({ topicResourceId, subscriptionName: 'vigil', endpointUrl, eventDeliverySchema: 'EventGridSchema' }, transport, new Date());
 */
export async function validateWebhook(
  target: HandshakeTarget,
  transport: WebhookTransport,
  now: Date,
): Promise<void> {
  if (target.eventDeliverySchema === 'CloudEventSchemaV1_0')
    return validateCloudEventsWebhook(target, transport);
  return validateEventGridWebhook(target, transport, now);
}

async function validateEventGridWebhook(target: HandshakeTarget, transport: WebhookTransport, now: Date) {
  const validationCode = randomUUID();
  const event = {
    id: randomUUID(),
    topic: target.topicResourceId,
    subject: '',
    data: { validationCode },
    eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
    eventTime: now.toISOString(),
    metadataVersion: '1',
    dataVersion: '2',
  };
  const outcome = await callWebhook(
    target.endpointUrl,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'aeg-event-type': 'SubscriptionValidation',
        'aeg-subscription-name': target.subscriptionName.toUpperCase(),
        'aeg-delivery-count': '0',
        'aeg-data-version': '2',
        'aeg-metadata-version': '1',
      },
      body: JSON.stringify([event]),
    },
    transport,
  );
  const where = `webhook ${endpointBaseUrl(target.endpointUrl)} failed the SubscriptionValidationEvent handshake`;
  const response = requireOk(outcome, where);
  let answer: unknown;
  try {
    answer = JSON.parse(response.body);
  } catch (cause) {
    throw new SubscriptionValidationError(
      `${where}: the response body is not JSON; expected {"validationResponse": "<data.validationCode>"}`,
      {
        cause,
      },
    );
  }
  const echoed =
    typeof answer === 'object' && answer !== null
      ? (answer as Record<string, unknown>).validationResponse
      : undefined;
  if (echoed !== validationCode) {
    throw new SubscriptionValidationError(
      `${where}: the response must be {"validationResponse": "<data.validationCode>"} echoing the code it was sent`,
    );
  }
}

async function validateCloudEventsWebhook(target: HandshakeTarget, transport: WebhookTransport) {
  const outcome = await callWebhook(
    target.endpointUrl,
    {
      method: 'OPTIONS',
      headers: { 'webhook-request-origin': EVENT_GRID_ORIGIN, 'webhook-request-rate': '120' },
    },
    transport,
  );
  const where = `webhook ${endpointBaseUrl(target.endpointUrl)} failed the CloudEvents OPTIONS handshake`;
  const response = requireOk(outcome, where);
  const allowed = response.headers['webhook-allowed-origin'];
  const origins = (Array.isArray(allowed) ? allowed.join(',') : (allowed ?? ''))
    .split(',')
    .map((o) => o.trim());
  if (!origins.includes(EVENT_GRID_ORIGIN) && !origins.includes('*')) {
    throw new SubscriptionValidationError(
      `${where}: the response must carry WebHook-Allowed-Origin: ${EVENT_GRID_ORIGIN} (or *), got ${allowed === undefined ? 'none' : `"${origins.join(',')}"`}`,
    );
  }
}

function requireOk(outcome: WebhookOutcome, where: string) {
  if (outcome.kind === 'timeout') throw new SubscriptionValidationError(`${where}: no answer in time`);
  if (outcome.kind === 'unreachable') throw new SubscriptionValidationError(`${where}: ${outcome.message}`);
  if (outcome.status !== 200)
    throw new SubscriptionValidationError(`${where}: answered HTTP ${outcome.status}, expected 200`);
  return outcome;
}
