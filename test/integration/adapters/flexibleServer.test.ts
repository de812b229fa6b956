import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type ArmEmulator, startArmEmulator } from '../../../local/emulators/arm/index.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../local/emulators/identity/index.js';
import { LocalPostgres } from '../../../local/services/postgres.js';
import { ensureLocalCertificates, type LocalCertificates, trustLocalCa } from '../../../local/tls.js';
import {
  type FlexibleServerAdministrator,
  FlexibleServerError,
  flexibleServerAdministrator,
} from '../../../src/adapters/flexibleServer.js';
import { canLogin } from '../../../src/adapters/postgres.js';
import { loadRotationConfig } from '../../../src/config.js';

const subscriptionId = '00000000-0000-0000-0000-0000000000b2';
const resourceGroup = 'rg-adapter';
const server = { subscriptionId, resourceGroup, serverName: 'pg-adapter' };
let workDir: string;
let dataDir: string;
let certificates: LocalCertificates;
let postgres: LocalPostgres;
let arm: ArmEmulator;
let identity: IdentityEndpoint;
let admin: FlexibleServerAdministrator;

const login = (password: string) =>
  canLogin({ ...postgres.adminConnection(), user: 'flexadmin', password, sslMode: 'verify-full' });

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'vigil-flex-adapter-'));
  dataDir = await mkdtemp(path.join(tmpdir(), 'vigil-flex-adapter-pg-'));
  certificates = await ensureLocalCertificates(path.join(workDir, 'tls'));
  trustLocalCa(certificates.caPem);
  postgres = await LocalPostgres.start({ dataDir, tls: certificates });
  const client = new pg.Client({ ...postgres.adminConnection(), ssl: { ca: certificates.caPem } });
  await client.connect();
  await client.query(`CREATE ROLE flexadmin LOGIN CREATEROLE PASSWORD 'Initial-Pw-Qx-1'`);
  await client.end();
  arm = await startArmEmulator({ tls: certificates });
  arm.registerFlexibleServer({
    subscriptionId,
    resourceGroup,
    name: server.serverName,
    administratorLogin: 'flexadmin',
    controlPlane: { ...postgres.adminConnection(), sslMode: 'verify-full' },
  });
  identity = await startIdentityEndpoint({ clock: new Clock() });
  Object.assign(process.env, identity.env);
  admin = flexibleServerAdministrator(loadRotationConfig({ VIGIL_ARM_ENDPOINT: arm.url }));
});

afterAll(async () => {
  await arm?.close();
  await identity?.close();
  await postgres?.stop();
  await Promise.all([workDir, dataDir].map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('flexibleServer adapter against the ARM emulator and a real PostgreSQL', () => {
  it('reads the administrator login and the host name from ARM', async () => {
    expect(await admin.describe(server)).toEqual({
      administratorLogin: 'flexadmin',
      fullyQualifiedDomainName: '127.0.0.1',
    });
  });

  it('changes the real administrator password through the long-running PATCH', async () => {
    await admin.setPassword(server, 'Rotated-Pw-Zy-2');
    expect(await login('Rotated-Pw-Zy-2')).toBe(true);
    expect(await login('Initial-Pw-Qx-1')).toBe(false);
  });

  it('reports an unknown server as not-found, not worth retrying', async () => {
    const error = await admin
      .describe({ ...server, serverName: 'pg-missing' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FlexibleServerError);
    expect(error).toMatchObject({ failure: 'not-found', transient: false });
    expect((error as Error).message).toContain('ARM could not read flexible server pg-missing');
  });

  it('reports a password ARM refuses as rejected, without the password in the error', async () => {
    const weak = 'weakpassword';
    const error = await admin.setPassword(server, weak).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'FlexibleServerError', failure: 'rejected', transient: false });
    expect((error as Error).message).toContain('PasswordNotComplex');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(weak);
    expect(String((error as Error).cause)).not.toContain(weak);
    expect(await login('Rotated-Pw-Zy-2')).toBe(true);
  });
});
