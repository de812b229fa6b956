import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import {
  type KeyVaultEmulator,
  type KeyVaultEmulatorOptions,
  startKeyVaultEmulator,
} from '../../../../local/emulators/keyvault/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../../local/tls.js';

const root = path.resolve(import.meta.dirname, '../../../..');

/** Any bearer token will do: the emulator checks that one is sent, as Key Vault checks one is valid. */
export const staticCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({
    token: 'local-test-token',
    expiresOnTimestamp: Date.now() + 3600_000,
  }),
};

export type StartOptions = Omit<KeyVaultEmulatorOptions, 'tls' | 'dataDir'> & { dataDir?: string };

export interface VaultFixture {
  dataDir: string;
  start(options: StartOptions): Promise<KeyVaultEmulator>;
  client(emulator: KeyVaultEmulator, vaultName: string, options?: SecretClientOptions): SecretClient;
  cleanup(): Promise<void>;
}

/**
 * A temporary data directory, the local CA trusted in-process, and emulators that are all closed on cleanup.
 * @example
 * const fixture = await vaultFixture();
 * const kv = await fixture.start({ vaults: ['kv-one'] });
 */
export async function vaultFixture(): Promise<VaultFixture> {
  const { key, cert, caPem } = await ensureLocalCertificates(path.join(root, '.vigil/tls'));
  trustLocalCa(caPem);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-kv-'));
  const running = new Set<KeyVaultEmulator>();
  return {
    dataDir,
    async start(options) {
      const emulator = await startKeyVaultEmulator({ dataDir, ...options, tls: { key, cert } });
      const close = emulator.close;
      emulator.close = async () => {
        running.delete(emulator);
        await close();
      };
      running.add(emulator);
      return emulator;
    },
    client(emulator, vaultName, options = {}) {
      return new SecretClient(emulator.url(vaultName), staticCredential, {
        disableChallengeResourceVerification: true,
        ...options,
      });
    },
    async cleanup() {
      await Promise.all([...running].map((emulator) => emulator.close()));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
