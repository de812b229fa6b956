import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { PostgreSQLManagementFlexibleServerClient } from '@azure/arm-postgresql-flexible';
import type { TokenCredential } from '@azure/core-auth';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArmEmulator, startArmEmulator } from '../../../../local/emulators/arm/index.js';
import { LocalPostgres } from '../../../../local/services/postgres.js';
import { ensureLocalCertificates, type LocalCertificates, trustLocalCa } from '../../../../local/tls.js';
import { canLogin, type PostgresConnection } from '../../../../src/adapters/postgres.js';

const subscriptionId = '00000000-0000-0000-0000-0000000000a1';
const resourceGroup = 'rg-data';
const credential: TokenCredential = {
  getToken: async () => ({ token: 'local-test-token', expiresOnTimestamp: Date.now() + 3600_000 }),
};

let workDir: string;
let dataDir: string;
let certificates: LocalCertificates;
let postgres: LocalPostgres;
let arm: ArmEmulator;
let slowArm: ArmEmulator;

function asRole(user: string, password: string): PostgresConnection {
  return { ...postgres.adminConnection(), user, password, sslMode: 'verify-full', ca: certificates.caPem };
}
const superuser = () => asRole(postgres.adminUser, postgres.adminPassword);

/** A fresh administrator role, as Azure creates one per server (not a superuser). */
async function createAdministrator(name: string, password: string): Promise<void> {
  const client = new pg.Client({ ...postgres.adminConnection(), ssl: { ca: certificates.caPem } });
  await client.connect();
  try {
    await client.query(
      `CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN CREATEROLE CREATEDB PASSWORD ${pg.escapeLiteral(password)}`,
    );
  } finally {
    await client.end();
  }
}

function clientFor(emulator: ArmEmulator): PostgreSQLManagementFlexibleServerClient {
  return new PostgreSQLManagementFlexibleServerClient(credential, subscriptionId, {
    endpoint: emulator.url,
    $host: emulator.url,
  });
}

async function register(
  emulator: ArmEmulator,
  name: string,
  administratorLogin: string,
  controlPlane = superuser(),
) {
  return emulator.registerFlexibleServer({
    subscriptionId,
    resourceGroup,
    name,
    administratorLogin,
    controlPlane,
  });
}

const bearer = { authorization: 'Bearer local-test-token' };

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'vigil-arm-'));
  // The data directory sits directly in the system temp dir: the postgres user must reach it.
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-arm-pg-'));
  certificates = await ensureLocalCertificates(join(workDir, 'tls'));
  trustLocalCa(certificates.caPem);
  postgres = await LocalPostgres.start({ dataDir, tls: certificates });
  arm = await startArmEmulator({ tls: certificates });
  slowArm = await startArmEmulator({ tls: certificates, operationDelayMs: 400 });
});

afterAll(async () => {
  await Promise.all([arm?.close(), slowArm?.close()]);
  await postgres?.stop();
  await Promise.all([workDir, dataDir].map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('ARM emulator: Flexible Server administrator password', () => {
  it('changes the real admin password through the SDK’s long-running PATCH', async () => {
    await createAdministrator('azureadmin', 'Initial-Admin-Pw-1');
    await register(arm, 'pg-main', 'azureadmin');
    const client = clientFor(arm);

    const updated = await client.servers.beginUpdateAndWait(
      resourceGroup,
      'pg-main',
      { administratorLoginPassword: 'Rotated-Pass-Xy-2' },
      { updateIntervalInMs: 20 },
    );

    expect(updated).toMatchObject({ name: 'pg-main', administratorLogin: 'azureadmin', state: 'Ready' });
    expect(await canLogin(asRole('azureadmin', 'Rotated-Pass-Xy-2'))).toBe(true);
    expect(await canLogin(asRole('azureadmin', 'Initial-Admin-Pw-1'))).toBe(false);
    expect(JSON.stringify(await client.servers.get(resourceGroup, 'pg-main'))).not.toContain(
      'Rotated-Pass-Xy-2',
    );
  });

  it('reports the server through servers.get, with the real host as its FQDN', async () => {
    const server = await clientFor(arm).servers.get(resourceGroup, 'PG-MAIN');
    expect(server).toMatchObject({
      id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-main`,
      type: 'Microsoft.DBforPostgreSQL/flexibleServers',
      fullyQualifiedDomainName: '127.0.0.1',
      administratorLogin: 'azureadmin',
    });
  });

  it('matches paths case-insensitively (resourcegroups, lower-case provider)', async () => {
    const path = `/subscriptions/${subscriptionId}/resourcegroups/RG-DATA/providers/microsoft.dbforpostgresql/flexibleservers/pg-main`;
    const response = await fetch(`${arm.url}${path}?api-version=2025-08-01`, { headers: bearer });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: 'pg-main' });
  });

  it('runs a real long-running operation: InProgress first, the password changes only when it succeeds', async () => {
    await createAdministrator('slowadmin', 'Initial-Slow-Pw-1');
    await register(slowArm, 'pg-slow', 'slowadmin');
    const url = `${slowArm.url}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-slow?api-version=2025-08-01`;
    const patch = (password: string) =>
      fetch(url, {
        method: 'PATCH',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { administratorLoginPassword: password } }),
      });

    const accepted = await patch('Rotated-Pass-Qz-2');
    const statusUrl = accepted.headers.get('azure-asyncoperation') ?? '';
    const resultUrl = accepted.headers.get('location') ?? '';
    const resultWhileRunning = (await fetch(resultUrl, { headers: bearer })).status;
    const readStatus = async () =>
      ((await (await fetch(statusUrl, { headers: bearer })).json()) as { status: string }).status;
    const running = await readStatus();
    const concurrent = await patch('Concurrent-Pw-Q3');
    const oldStillWorks = await canLogin(asRole('slowadmin', 'Initial-Slow-Pw-1'));
    let status = running;
    while (status === 'InProgress') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await readStatus();
    }

    expect(accepted.status).toBe(202);
    expect(statusUrl).toMatch(
      /\/providers\/Microsoft\.DBforPostgreSQL\/locations\/westeurope\/azureAsyncOperation\//,
    );
    expect(running).toBe('InProgress');
    expect(concurrent.status).toBe(409);
    expect(oldStillWorks).toBe(true);
    expect(status).toBe('Succeeded');
    expect(resultWhileRunning).toBe(202);
    expect((await fetch(resultUrl, { headers: bearer })).status).toBe(204);
    expect(await canLogin(asRole('slowadmin', 'Rotated-Pass-Qz-2'))).toBe(true);
    expect(await canLogin(asRole('slowadmin', 'Initial-Slow-Pw-1'))).toBe(false);
  });

  it('fails the operation with the real cause when PostgreSQL is unreachable, without the password', async () => {
    await register(arm, 'pg-down', 'azureadmin', { ...superuser(), port: 1 });

    const error = await clientFor(arm)
      .servers.beginUpdateAndWait(
        resourceGroup,
        'pg-down',
        { administratorLoginPassword: 'Never-Shown-Pw-9' },
        { updateIntervalInMs: 20 },
      )
      .catch((caught: unknown) => caught);

    expect(inspect(error)).toContain('connection-refused');
    expect(`${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`).not.toContain('Never-Shown-Pw-9');
    expect(JSON.stringify(error)).not.toContain(postgres.adminPassword);
  });

  it.each([
    ['too simple', 'alllowercase', 400, 'PasswordNotComplex'],
    ['too short', 'Ab1!', 400, 'PasswordNotComplex'],
    ['login-echoing', 'Xy-ADMin-42-long', 400, 'PasswordNotComplex'],
  ])('refuses a %s password before touching the server', async (_, password, status, code) => {
    const error = await clientFor(arm)
      .servers.beginUpdateAndWait(resourceGroup, 'pg-main', { administratorLoginPassword: password })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: status, code });
    expect(inspect(error)).not.toContain(password);
    expect(await canLogin(asRole('azureadmin', 'Rotated-Pass-Xy-2'))).toBe(true);
  });

  it('answers 404 ResourceNotFound for an unknown server', async () => {
    const error = await clientFor(arm)
      .servers.get(resourceGroup, 'pg-missing')
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  });

  it.each([
    ['no Authorization header', {}, 401, 'AuthenticationFailed'],
    ['a Basic credential', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'AuthenticationFailed'],
  ])('requires a bearer token: %s gets %i', async (_, headers, status, code) => {
    const response = await fetch(
      `${arm.url}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-main?api-version=2025-08-01`,
      { headers },
    );
    expect(response.status).toBe(status);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await response.json()).toMatchObject({ error: { code } });
  });

  it('rejects a token the configured validator refuses', async () => {
    const strict = await startArmEmulator({
      tls: certificates,
      acceptToken: (token) => token === 'expected',
    });
    try {
      const error = await clientFor(strict)
        .servers.get(resourceGroup, 'pg-main')
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
    } finally {
      await strict.close();
    }
  });

  it.each([
    ['no api-version', '', 400, 'MissingApiVersionParameter'],
    ['a malformed api-version', '?api-version=latest', 400, 'InvalidApiVersionParameter'],
  ])('answers %s with %i', async (_, query, status, code) => {
    const response = await fetch(
      `${arm.url}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-main${query}`,
      { headers: bearer },
    );
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error: { code } });
  });

  it.each([
    ['a property the emulator does not implement', { properties: { version: '17' } }, 'properties.version'],
    ['a body that is not an object', [1, 2], 'must be a JSON object'],
    ['an unsupported top-level field', { sku: { name: 'x' } }, 'updating sku'],
  ])('refuses a PATCH with %s rather than ignoring it', async (_, body, message) => {
    const response = await fetch(
      `${arm.url}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-main?api-version=2025-08-01`,
      {
        method: 'PATCH',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
    );
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(message);
  });

  it('refuses to register the same server twice', async () => {
    await expect(register(arm, 'PG-Main', 'azureadmin')).rejects.toThrow('already registered');
  });
});
