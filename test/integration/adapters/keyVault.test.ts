import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../local/emulators/identity/index.js';
import { type KeyVaultEmulator, startKeyVaultEmulator } from '../../../local/emulators/keyvault/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../local/tls.js';
import { KeyVaultError, keyVault, type SecretStore, vaultUrl } from '../../../src/adapters/keyVault.js';
import { ConfigError, loadRotationConfig } from '../../../src/config.js';

const vault = 'kv-adapter';
let workDir: string;
let emulator: KeyVaultEmulator;
let identity: IdentityEndpoint;
let store: SecretStore;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'vigil-kv-adapter-'));
  const certificates = await ensureLocalCertificates(path.join(workDir, 'tls'));
  trustLocalCa(certificates.caPem);
  const clock = new Clock();
  emulator = await startKeyVaultEmulator({ dataDir: workDir, tls: certificates, vaults: [vault], clock });
  // The app's DefaultAzureCredential finds the managed identity endpoint, as on App Service.
  identity = await startIdentityEndpoint({ clock });
  Object.assign(process.env, identity.env);
  store = keyVault(
    vault,
    loadRotationConfig({
      VIGIL_KEYVAULT_URL_TEMPLATE: emulator.url(vault),
      VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    }),
  );
});

afterAll(async () => {
  await emulator?.close();
  await identity?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('keyVault adapter against the Key Vault emulator', () => {
  it('writes versions, reads the current one and a value, lists versions oldest first', async () => {
    const expiresOn = new Date(Date.now() + 40 * 24 * 3600_000);
    const first = await store.set('app-db', 'first-value', {
      tags: { owner: 'team-a' },
      contentType: 'text/plain',
    });
    const second = await store.set('app-db', 'second-value', { tags: { owner: 'team-b' }, expiresOn });

    const current = await store.current('app-db');
    expect(current).toMatchObject({
      name: 'app-db',
      version: second.version,
      enabled: true,
      tags: { owner: 'team-b' },
    });
    expect(current?.expiresOn?.getTime()).toBe(Math.floor(expiresOn.getTime() / 1000) * 1000);
    expect(await store.value('app-db', first.version)).toBe('first-value');
    expect((await store.versions('app-db')).map((v) => v.version)).toEqual([first.version, second.version]);
    expect(first.contentType).toBe('text/plain');
  });

  it('disables a version so it can no longer be read, and disabling again is harmless', async () => {
    const written = await store.set('to-disable', 'soon-unreadable', { tags: {} });
    await store.disable('to-disable', written.version);
    await store.disable('to-disable', written.version);

    const [version] = await store.versions('to-disable');
    expect(version?.enabled).toBe(false);
    const error = await store.value('to-disable', written.version).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KeyVaultError);
    expect(error).toMatchObject({ failure: 'forbidden', transient: false });
    expect(String((error as Error).message)).not.toContain('soon-unreadable');
  });

  it('answers undefined and an empty list for a secret that does not exist', async () => {
    expect(await store.current('never-written')).toBeUndefined();
    expect(await store.versions('never-written')).toEqual([]);
    await expect(store.value('never-written', 'abc')).rejects.toMatchObject({ failure: 'not-found' });
  });

  it('lists every secret with its current tags', async () => {
    const names = (await store.secrets()).map((secret) => secret.name);
    expect(names).toEqual(expect.arrayContaining(['app-db', 'to-disable']));
    expect((await store.secrets()).find((s) => s.name === 'app-db')?.tags).toEqual({ owner: 'team-b' });
  });

  it('classifies a server failure as transient and names the operation and status', async () => {
    emulator.admin.fail({ requests: 1, status: 501 });
    const error = await store.current('app-db').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KeyVaultError);
    expect(error).toMatchObject({ failure: 'unavailable', transient: true });
    expect((error as Error).message).toContain('Key Vault could not read app-db (HTTP 501');
  });

  it('rides out a short throttle: the SDK honours Retry-After', async () => {
    emulator.admin.throttle({ requests: 2, retryAfterSeconds: 1 });
    const before = emulator.admin.counts().throttled;
    expect(await store.current('app-db')).toMatchObject({ name: 'app-db' });
    expect(emulator.admin.counts().throttled - before).toBe(2);
  });

  it('under a vault rate limit, paces concurrent callers instead of collecting 429s', async () => {
    emulator.admin.rateLimit({ perSecond: 50 });
    const before = emulator.admin.counts();
    // 20 callers reading in a loop: unpaced, about a third of their requests drew 429 here.
    const reads = Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 15; i++) await store.current('app-db');
    });
    await Promise.all(reads);
    emulator.admin.clearFaults();
    const served = emulator.admin.counts().served - before.served;
    const throttled = emulator.admin.counts().throttled - before.throttled;
    expect(served).toBe(300);
    // The first burst draws one 429 per caller; after that the pace keeps below the limit.
    expect(throttled).toBeLessThan(45);
  }, 60_000);

  it('reports throttling that outlasts the SDK retries as transient', async () => {
    emulator.admin.throttle({ requests: 10, retryAfterSeconds: 1 });
    const error = await store.current('app-db').catch((caught: unknown) => caught);
    emulator.admin.clearFaults();
    expect(error).toMatchObject({ name: 'KeyVaultError', failure: 'throttled', transient: true });
  });
});

describe('vaultUrl and the rotation settings', () => {
  it('puts the vault name into the template', () => {
    expect(vaultUrl('https://{vault}.vault.azure.net/', 'KV-Prod')).toBe('https://kv-prod.vault.azure.net');
    expect(vaultUrl('https://127.0.0.1:7310', 'any')).toBe('https://127.0.0.1:7310');
  });

  it('defaults every setting to what Azure needs', () => {
    expect(loadRotationConfig({})).toEqual({
      keyVaultUrlTemplate: 'https://{vault}.vault.azure.net',
      keyVaultChallengeVerification: true,
      armEndpoint: 'https://management.azure.com',
      rotationVaults: [],
    });
    expect(loadRotationConfig({ VIGIL_ROTATION_VAULTS: ' kv-one, kv-two ' }).rotationVaults).toEqual([
      'kv-one',
      'kv-two',
    ]);
  });

  it.each([
    [
      { VIGIL_KEYVAULT_URL_TEMPLATE: 'http://{vault}.vault.azure.net' },
      'VIGIL_KEYVAULT_URL_TEMPLATE must be an https:// URL',
    ],
    [
      { VIGIL_KEYVAULT_URL_TEMPLATE: 'https://{name}.vault.azure.net' },
      'optionally with the placeholder {vault}',
    ],
    [{ VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'yes' }, 'must be true or false'],
    [{ VIGIL_ARM_ENDPOINT: 'http://127.0.0.1:1' }, 'VIGIL_ARM_ENDPOINT must be an https:// URL'],
    [{ VIGIL_ROTATION_VAULTS: 'kv one' }, 'VIGIL_ROTATION_VAULTS must be a comma-separated list'],
  ])('rejects %o naming the setting and the rule', (env, message) => {
    expect(() => loadRotationConfig(env)).toThrow(ConfigError);
    expect(() => loadRotationConfig(env)).toThrow(message);
  });
});
