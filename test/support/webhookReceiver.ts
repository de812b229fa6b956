import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface WebhookReceiverOptions {
  /** Serve HTTPS with this key and certificate; plain HTTP otherwise. */
  tls?: { key: string; cert: string };
  /** How to answer the Event Grid schema handshake: echo the code (default), or misbehave. */
  validation?: 'echo' | 'wrong-code' | 'status-500';
  /** Whether to answer the CloudEvents OPTIONS handshake with WebHook-Allowed-Origin (default true). */
  allowOrigin?: boolean;
}

/**
 * A webhook endpoint for tests that behaves as a well-behaved Event Grid subscriber: it answers both
 * validation handshakes, records every notification, and answers with statuses a test lines up.
 * @example
 * const receiver = await startWebhookReceiver();
 * receiver.respondWith(500, 200); // first delivery fails, the retry succeeds
 * await receiver.waitForNotifications(2);
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions = {}) {
  const requests: ReceivedRequest[] = [];
  const statuses: number[] = [];
  let delayMs = 0;
  let open = 0;
  let maxOpen = 0;
  const waiters: Array<() => void> = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    for (const wake of waiters.splice(0)) wake();
    if (req.method === 'OPTIONS') {
      const origin = req.headers['webhook-request-origin'];
      if (options.allowOrigin !== false && typeof origin === 'string')
        res.setHeader('WebHook-Allowed-Origin', origin);
      return void res.writeHead(200).end();
    }
    if (req.headers['aeg-event-type'] === 'SubscriptionValidation') return answerValidation(res, body);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    open -= 1;
    res.writeHead(statuses.shift() ?? 200).end();
  };

  const answerValidation = (res: ServerResponse, body: unknown) => {
    if (options.validation === 'status-500') return void res.writeHead(500).end();
    const code = (body as Array<{ data: { validationCode: string } }>)[0]?.data.validationCode;
    const validationResponse = options.validation === 'wrong-code' ? 'not-the-code' : code;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse }));
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server = options.tls ? https.createServer(options.tls, listener) : http.createServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const notifications = () =>
    requests.filter((r) => r.method === 'POST' && r.headers['aeg-event-type'] === 'Notification');

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/hook`,
    requests,
    notifications,
    /** Statuses for the next notifications, in order; 200 once they run out. */
    respondWith: (...next: number[]) => void statuses.push(...next),
    /** The most notifications that were being answered at the same time. */
    maxConcurrentNotifications: () => maxOpen,
    /** Holds every notification answer this long (to provoke delivery timeouts). */
    delayAnswers: (ms: number) => {
      delayMs = ms;
    },
    async waitForNotifications(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
      const deadline = Date.now() + timeoutMs;
      while (notifications().length < count) {
        if (Date.now() > deadline)
          throw new Error(`expected ${count} notifications, got ${notifications().length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return notifications();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
