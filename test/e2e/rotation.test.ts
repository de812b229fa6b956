import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localVault } from '../../local/stack.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { startTestStack, waitForInstance } from '../support/stack.js';

const day = 24 * 3600_000;
const lines: string[] = [];
let stack: Awaited<ReturnType<typeof startTestStack>>;
let secrets: SecretClient;

const credential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3600_000 }),
};

async function sql(statement: string): Promise<void> {
  const client = new pg.Client({ ...stack.postgres.adminConnection(), ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function createRole(role: string, password: string): Promise<void> {
  await sql(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
}

const login = (user: string, password: string) =>
  canLogin({ ...stack.postgres.adminConnection(), user, password, sslMode: 'verify-full' });

const finished = (status: { runtimeStatus: string }) =>
  ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus);

beforeAll(async () => {
  stack = await startTestStack(lines);
  secrets = new SecretClient(stack.keyVault.url(localVault), credential, {
    disableChallengeResourceVerification: true,
  });
});
afterAll(() => stack?.cleanUp());

describe('a PostgreSQL role secret 29 days from expiry', () => {
  it('is rotated from the SecretNearExpiry event: the new current version logs in, the old one fails', async () => {
    const initial = 'Initial-Single-Pw-0001';
    await createRole('app_single', initial);
    await secrets.setSecret('db-single', initial, {
      expiresOn: new Date(stack.clock.now().getTime() + 29 * day),
      tags: {
        'vigil-rotation': 'postgres-role',
        'vigil-host': '127.0.0.1',
        'vigil-port': String(stack.postgres.port),
        'vigil-role': 'app_single',
        owner: 'team-orders',
      },
    });

    const status = await waitForInstance(
      stack,
      rotationInstanceId(localVault, 'db-single'),
      finished,
      60_000,
    );

    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toMatchObject({ outcome: 'rotated' });
    const current = await secrets.getSecret('db-single');
    expect(current.value).not.toBe(initial);
    expect(current.properties.tags).toMatchObject({
      owner: 'team-orders',
      'vigil-rotation': 'postgres-role',
    });
    expect(current.properties.expiresOn?.getTime()).toBeGreaterThan(stack.clock.now().getTime() + 59 * day);
    expect(await login('app_single', current.value ?? '')).toBe(true);
    expect(await login('app_single', initial)).toBe(false);
    const versions = [];
    for await (const version of secrets.listPropertiesOfSecretVersions('db-single')) versions.push(version);
    expect(versions).toHaveLength(2);
    for await (const pending of secrets.listPropertiesOfSecretVersions('db-single-pending'))
      expect(pending.enabled).toBe(false);
  });
});
