import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { isAggregateLogsUploadError, LogsIngestionClient } from '@azure/monitor-ingestion';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type LogsIngestionEmulator,
  startLogsIngestionEmulator,
} from '../../../../local/emulators/logs/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../../local/tls.js';

const root = path.resolve(import.meta.dirname, '../../../..');
const ruleId = 'dcr-00112233445566778899aabbccddeeff';
const stream = 'Custom-VigilAudit_CL';
const gzipAsync = promisify(gzip);

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({
    token: 'local-test-token',
    expiresOnTimestamp: Date.now() + 3600_000,
  }),
};

function auditRecord(i: number, padding = 0): Record<string, unknown> {
  return {
    TimeGenerated: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    id: `rec-${i}`,
    action: 'update',
    resource_type: 'secret',
    status: 'success',
    metadata: { step: 'promote', note: 'x'.repeat(padding) },
  };
}

describe('Logs Ingestion emulator with the real LogsIngestionClient', () => {
  let dataDir: string;
  let tls: { key: string; cert: string };
  let logs: LogsIngestionEmulator;

  const post = (
    body: string | Uint8Array,
    headers: Record<string, string>,
    query = 'api-version=2023-01-01',
    name = stream,
  ) =>
    fetch(`${logs.url}/dataCollectionRules/${ruleId}/streams/${name}?${query}`, {
      method: 'POST',
      body,
      headers: { authorization: 'Bearer local-test-token', 'content-type': 'application/json', ...headers },
    });

  beforeEach(async () => {
    const certs = await ensureLocalCertificates(path.join(root, '.vigil/tls'));
    trustLocalCa(certs.caPem);
    tls = { key: certs.key, cert: certs.cert };
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-logs-'));
    logs = await startLogsIngestionEmulator({ dataDir, tls });
  });
  afterEach(async () => {
    await logs.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('stores what upload() sends, gzip-compressed, as records of the rule and stream', async () => {
    const client = new LogsIngestionClient(logs.url, credential);
    const records = [auditRecord(1), auditRecord(2), auditRecord(3)];

    await client.upload(ruleId, stream, records);

    expect(logs.records(stream)).toEqual(records);
    expect(logs.records(stream, ruleId)).toHaveLength(3);
    expect(logs.records(stream, 'dcr-other')).toEqual([]);
    expect(logs.records('Custom-Other_CL')).toEqual([]);
  });

  it('receives a large upload in the chunks the SDK cuts, and loses no record', async () => {
    const client = new LogsIngestionClient(logs.url, credential);
    const records = Array.from({ length: 2500 }, (_, i) => auditRecord(i, 1000));

    await client.upload(ruleId, stream, records, { maxConcurrency: 3 });

    const ids = logs.records(stream).map((record) => record.id);
    expect(new Set(ids).size).toBe(2500);
    expect(logs.counts().accepted).toBeGreaterThanOrEqual(3);
  });

  it('accepts a plain JSON body and answers 204', async () => {
    const response = await post(JSON.stringify([auditRecord(7)]), {});

    expect(response.status).toBe(204);
    expect(logs.records(stream)).toEqual([auditRecord(7)]);
  });

  it('refuses an upload without a bearer token with 401', async () => {
    const response = await fetch(
      `${logs.url}/dataCollectionRules/${ruleId}/streams/${stream}?api-version=2023-01-01`,
      {
        method: 'POST',
        body: JSON.stringify([auditRecord(1)]),
      },
    );

    expect(response.status).toBe(401);
    expect(logs.records(stream)).toEqual([]);
  });

  it('answers 413 above 1 MB, compressed or once decompressed', async () => {
    const big = JSON.stringify([{ note: 'x'.repeat(1024 * 1024) }]);
    const bomb = await gzipAsync(Buffer.from(big));

    const plain = await post(big, {});
    const zipped = await post(bomb, { 'content-encoding': 'gzip' });
    const client = new LogsIngestionClient(logs.url, credential);
    const sdkError = await client
      .upload(ruleId, stream, [auditRecord(1, 1100 * 1024)])
      .catch((e: unknown) => e);

    expect(plain.status).toBe(413);
    expect(await plain.json()).toMatchObject({ error: { code: 'ContentLengthLimitExceeded' } });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    expect(zipped.status).toBe(413);
    expect(isAggregateLogsUploadError(sdkError)).toBe(true);
    expect(sdkError).toMatchObject({ errors: [{ cause: { statusCode: 413 } }] });
    expect(logs.records(stream)).toEqual([]);
  });

  it.each([
    ['a body that is not JSON', '{not json', {}, undefined, undefined, /^body: is not valid JSON/],
    ['a body that is not an array', '{"a":1}', {}, undefined, undefined, /^body: must be a JSON array/],
    ['a record that is not an object', '[{"a":1}, 5]', {}, undefined, undefined, /^body\[1\]: each record/],
    [
      'a wrong api-version',
      '[]',
      {},
      'api-version=2021-01-01',
      undefined,
      /^api-version: must be 2023-01-01/,
    ],
    [
      'a stream name that is not a name',
      '[]',
      {},
      undefined,
      'Custom-a%2F..%2Fb',
      /^stream: "Custom-a\/..\/b" must be/,
    ],
    [
      'an unknown encoding',
      '[]',
      { 'content-encoding': 'br' },
      undefined,
      undefined,
      /^Content-Encoding: "br"/,
    ],
  ])('answers 4xx naming the problem for %s', async (_case, body, headers, query, name, message) => {
    const response = await post(body, headers, query, name);
    const answer = (await response.json()) as { error: { message: string } };

    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(answer.error.message).toMatch(message);
    expect(logs.records(stream)).toEqual([]);
  });

  it('keeps records across a restart', async () => {
    const client = new LogsIngestionClient(logs.url, credential);
    await client.upload(ruleId, stream, [auditRecord(1), auditRecord(2)]);
    await logs.close();

    logs = await startLogsIngestionEmulator({ dataDir, tls });

    expect(logs.records(stream, ruleId)).toEqual([auditRecord(1), auditRecord(2)]);
  });
});
