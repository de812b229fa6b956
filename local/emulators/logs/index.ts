import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../../http.js';
import { readRecords } from './body.js';
import { LogsIngestionEmulatorError, LogsIngestionRestError } from './errors.js';
import { RecordStore } from './recordStore.js';

export { maxBodyBytes } from './body.js';
export { LogsIngestionEmulatorError, LogsIngestionRestError } from './errors.js';

export interface LogsIngestionEmulatorOptions {
  /** Records are appended under `{dataDir}/{ruleId}/{stream}.jsonl`; a restart keeps them. */
  dataDir: string;
  /** Server certificate and key (PEM) for 127.0.0.1, e.g. from `local/tls.ts`. */
  tls: { key: string | Buffer; cert: string | Buffer };
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
}

export interface LogsIngestionEmulator {
  /** The data collection endpoint to give `LogsIngestionClient`. */
  url: string;
  /** Records uploaded to `stream` (from every rule unless `ruleId` is given), oldest first. */
  records(stream: string, ruleId?: string): Record<string, unknown>[];
  /** Uploads accepted (204) and refused so far. */
  counts(): { accepted: number; refused: number };
  close(): Promise<void>;
}

// Data collection rule immutable ids (`dcr-…`) and stream names (`Custom-Table_CL`); also safe as file names.
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const apiVersion = '2023-01-01';

function nameIn(field: string, value: string): string {
  if (!namePattern.test(value) || value.includes('..')) {
    throw new LogsIngestionRestError(
      400,
      'InvalidRequest',
      `${field}: "${value}" must be 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
  return value;
}

function target(req: IncomingMessage): { ruleId: string; stream: string } {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const match = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/.exec(url.pathname);
  if (!match?.[1] || !match[2]) {
    throw new LogsIngestionRestError(
      404,
      'NotFound',
      `${url.pathname} is not /dataCollectionRules/{ruleId}/streams/{stream}`,
    );
  }
  if (req.method !== 'POST') {
    throw new LogsIngestionRestError(405, 'MethodNotAllowed', `${req.method}: only POST uploads logs`);
  }
  const version = url.searchParams.get('api-version');
  if (version !== apiVersion) {
    throw new LogsIngestionRestError(
      400,
      'InvalidApiVersion',
      `api-version: must be ${apiVersion}, got "${version}"`,
    );
  }
  return {
    ruleId: nameIn('ruleId', decodeURIComponent(match[1])),
    stream: nameIn('stream', decodeURIComponent(match[2])),
  };
}

async function upload(store: RecordStore, req: IncomingMessage): Promise<void> {
  if (!/^Bearer\s+\S+/i.test(req.headers.authorization ?? '')) {
    throw new LogsIngestionRestError(401, 'InvalidToken', 'Authorization: a Bearer token is required');
  }
  const { ruleId, stream } = target(req);
  await store.append(ruleId, stream, await readRecords(req));
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  const headers: Record<string, string> = { 'x-ms-request-id': randomUUID() };
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(text);
}

async function serve(
  store: RecordStore,
  counts: { accepted: number; refused: number },
  req: IncomingMessage,
  res: ServerResponse,
) {
  try {
    await upload(store, req);
    counts.accepted++;
    reply(res, 204);
  } catch (error) {
    counts.refused++;
    if (!req.readableEnded) req.resume();
    if (error instanceof LogsIngestionRestError) {
      reply(res, error.status, { error: { code: error.code, message: error.message } });
    } else {
      reply(res, 500, {
        error: { code: 'InternalError', message: error instanceof Error ? error.name : 'unexpected error' },
      });
    }
  }
}

/**
 * Starts a Logs Ingestion API emulator on HTTPS: `POST /dataCollectionRules/{ruleId}/streams/{stream}`
 * with a bearer token, answered 204 as the real `LogsIngestionClient` expects.
 * @example
 * const logs = await startLogsIngestionEmulator({ dataDir, tls: { key, cert } });
 * await new LogsIngestionClient(logs.url, credential).upload('dcr-1', 'Custom-VigilAudit_CL', records);
 * logs.records('Custom-VigilAudit_CL');
 */
export async function startLogsIngestionEmulator(
  options: LogsIngestionEmulatorOptions,
): Promise<LogsIngestionEmulator> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new LogsIngestionEmulatorError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  const store = await RecordStore.open(options.dataDir);
  const counts = { accepted: 0, refused: 0 };
  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    void serve(store, counts, req, res);
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new LogsIngestionEmulatorError(`cannot listen on ${host}:${port}`, { cause: error })),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    records: (stream, ruleId) => store.records(stream, ruleId),
    counts: () => ({ ...counts }),
    close: async () => {
      await closeServer(server);
      await store.flushed();
    },
  };
}
