import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { StorageConnectionError, tableEndpointOf } from '../../../src/adapters/reachability.js';
import { health } from '../../../src/functions/health.js';

let server: Server;
let tableUrl: string;
/**
 * A privileged port nothing here listens on (fetch refuses port 1 outright): a port freed by
 * listen(0) could be taken by a test running alongside.
 */
const closedPort = 1023;

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tableUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/devstoreaccount1`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
let logged: string[];
const context = () =>
  new InvocationContext({ logHandler: (level, ...args) => logged.push(`${level}: ${args.join(' ')}`) });

beforeEach(() => {
  logged = [];
  vi.unstubAllEnvs();
  vi.stubEnv('VIGIL_TASK_HUB', 'vigil');
});

describe('GET /api/health', () => {
  it('answers 200 with the version when every configured dependency answers', async () => {
    vi.stubEnv(
      'VIGIL_STATE_STORAGE',
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=${tableUrl};`,
    );
    const response = await health(undefined, context());
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      dependencies: { stateStorage: { reachable: true }, eventGrid: { configured: false } },
    });
  });

  it('answers 503 naming the dependency that does not answer, without its key', async () => {
    vi.stubEnv(
      'VIGIL_STATE_STORAGE',
      `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:${closedPort}/a;`,
    );
    vi.stubEnv('VIGIL_EVENTGRID_TOPIC_ENDPOINT', `https://127.0.0.1:${closedPort}/api/events`);
    const response = await health(undefined, context());
    expect(response.status).toBe(503);
    expect(response.jsonBody).toMatchObject({
      status: 'degraded',
      dependencies: { stateStorage: { reachable: false }, eventGrid: { reachable: false } },
    });
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/c2VjcmV0|ECONNREFUSED|127\.0\.0\.1/);
    expect(logged.join('\n')).toMatch(
      /stateStorage at http:\/\/127\.0\.0\.1:\d+\/a is unreachable: .*ECONNREFUSED/,
    );
    expect(logged.join('\n')).not.toContain('c2VjcmV0');
  });

  it('answers 503 naming a missing setting', async () => {
    const response = await health(undefined, context());
    expect(response.status).toBe(503);
    expect(response.jsonBody).toMatchObject({
      status: 'misconfigured',
      problems: ['VIGIL_STATE_STORAGE is required'],
    });
  });
});

describe('tableEndpointOf', () => {
  it('strips a SAS token from an https endpoint', () => {
    expect(tableEndpointOf('https://acct.table.core.windows.net/?sv=1&sig=abc')).toBe(
      'https://acct.table.core.windows.net/',
    );
  });
  it('finds the Azurite table endpoint for development storage', () => {
    expect(tableEndpointOf('UseDevelopmentStorage=true')).toBe('http://127.0.0.1:10002/devstoreaccount1');
  });
  it('builds the endpoint from protocol, account and suffix, dropping the key', () => {
    const connection =
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net';
    expect(tableEndpointOf(connection)).toBe('https://acct.table.core.windows.net/');
  });
  it('prefers an explicit TableEndpoint, without its trailing slash', () => {
    const connection =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1/';
    expect(tableEndpointOf(connection)).toBe('http://127.0.0.1:10002/devstoreaccount1');
  });
  it('rejects a connection string naming no endpoint, without repeating its key', () => {
    const attempt = () => tableEndpointOf('AccountName=acct;AccountKey=c2VjcmV0');
    expect(attempt).toThrow(StorageConnectionError);
    expect(attempt).toThrow(/needs TableEndpoint, or DefaultEndpointsProtocol/);
    expect(attempt).not.toThrow(/c2VjcmV0/);
  });
  it('rejects a TableEndpoint that is not a URL', () => {
    expect(() => tableEndpointOf('TableEndpoint=table;SharedAccessSignature=sig')).toThrow(
      /TableEndpoint must be an absolute URL/,
    );
  });
});
