import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { readBodyWithin } from '../../http.js';
import { LogsIngestionRestError } from './errors.js';

/** The service takes at most 1 MB per call, compressed or not; the SDK cuts its chunks to fit. */
export const maxBodyBytes = 1024 * 1024;

const gunzipAsync = promisify(gunzip);

function tooLarge(what: string): LogsIngestionRestError {
  return new LogsIngestionRestError(
    413,
    'ContentLengthLimitExceeded',
    `${what}: must be at most ${maxBodyBytes} bytes; split the logs into smaller uploads`,
  );
}

async function readLimited(req: IncomingMessage): Promise<Buffer> {
  const body = await readBodyWithin(req, maxBodyBytes);
  if (body === undefined) throw tooLarge('body');
  return body;
}

async function decode(raw: Buffer, encoding: string | undefined): Promise<Buffer> {
  const normalized = (encoding ?? '').trim().toLowerCase();
  if (normalized === '' || normalized === 'identity') return raw;
  if (normalized !== 'gzip') {
    throw new LogsIngestionRestError(
      415,
      'UnsupportedContentEncoding',
      `Content-Encoding: "${encoding}" is not supported; send gzip or no encoding`,
    );
  }
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBodyBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('uncompressed body');
    throw new LogsIngestionRestError(400, 'InvalidContent', 'body: is not valid gzip', { cause: error });
  }
}

/**
 * The uploaded records: a JSON array of objects, gzip-compressed or plain, 1 MB at most either way.
 * @example
 * const records = await readRecords(req); // [{ TimeGenerated: '...', action: 'update' }]
 */
export async function readRecords(req: IncomingMessage): Promise<Record<string, unknown>[]> {
  const text = (await decode(await readLimited(req), req.headers['content-encoding'])).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LogsIngestionRestError(400, 'InvalidContent', 'body: is not valid JSON', { cause: error });
  }
  if (!Array.isArray(json)) {
    throw new LogsIngestionRestError(400, 'InvalidContent', 'body: must be a JSON array of records');
  }
  const notObject = json.findIndex(
    (record) => typeof record !== 'object' || record === null || Array.isArray(record),
  );
  if (notObject >= 0) {
    throw new LogsIngestionRestError(
      400,
      'InvalidContent',
      `body[${notObject}]: each record must be a JSON object`,
    );
  }
  return json as Record<string, unknown>[];
}
