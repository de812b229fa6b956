import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvocationContext } from '@azure/functions';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../local/emulators/identity/index.js';
import { type KeyVaultEmulator, startKeyVaultEmulator } from '../../../local/emulators/keyvault/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../local/tls.js';
import { keyVaultEvents } from '../../../src/functions/keyVaultEvents.js';

const vault = 'kv-events';
let workDir: string;
let emulator: KeyVaultEmulator;
let identity: IdentityEndpoint;
let vaultClient: SecretClient;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'vigil-kv-events-'));
  const certificates = await ensureLocalCertificates(path.join(workDir, 'tls'));
  trustLocalCa(certificates.caPem);
  const clock = new Clock();
  emulator = await startKeyVaultEmulator({ dataDir: workDir, tls: certificates, vaults: [vault], clock });
  identity = await startIdentityEndpoint({ clock });
  Object.assign(process.env, identity.env, {
    VIGIL_KEYVAULT_URL_TEMPLATE: emulator.url(vault),
    VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
  });
  const token = { getToken: async () => ({ token: 'local', expiresOnTimestamp: Date.now() + 3600_000 }) };
  vaultClient = new SecretClient(emulator.url(vault), token, { disableChallengeResourceVerification: true });
});

afterAll(async () => {
  await emulator?.close();
  await identity?.close();
  await rm(workDir, { recursive: true, force: true });
});

const nearExpiry = (secret: string, version: string) => ({
  id: `event-${secret}`,
  topic: emulator.resourceId(vault),
  subject: secret,
  eventType: 'Microsoft.KeyVault.SecretNearExpiry',
  eventTime: new Date().toISOString(),
  dataVersion: '1',
  metadataVersion: '1',
  data: {
    Id: `${emulator.url(vault)}/secrets/${secret}/${version}`,
    VaultName: vault,
    ObjectType: 'Secret',
    ObjectName: secret,
    Version: version,
    NBF: null,
    EXP: Math.floor(Date.now() / 1000) + 29 * 86_400,
  },
});

describe('keyVaultEvents', () => {
  it('acknowledges, saying why, an event about a secret Key Vault refuses to read (no redelivery for a day)', async () => {
    const written = await vaultClient.setSecret('db-disabled', 'value-1', {
      tags: { 'vigil-rotation': 'random' },
    });
    await vaultClient.updateSecretProperties('db-disabled', written.properties.version ?? '', {
      enabled: false,
    });
    const errors: string[] = [];
    const context = new InvocationContext({
      logHandler: (level, ...args) => {
        if (level === 'error') errors.push(args.join(' '));
      },
    });

    await expect(
      keyVaultEvents(nearExpiry('db-disabled', written.properties.version ?? ''), context),
    ).resolves.toBeUndefined();
    expect(errors.join('\n')).toMatch(/Cannot rotate after SecretNearExpiry for kv-events\/db-disabled/);
    expect(errors.join('\n')).not.toContain('value-1');
  });
});
