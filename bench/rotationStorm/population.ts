import { randomBytes } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { localVault, type Stack } from '../../local/stack.js';
import { inParallel } from './inParallel.js';

/** One secret of the storm as the bench wrote it. */
export interface StormSecret {
  name: string;
  strategy: 'random' | 'postgres-role';
  /** The version the bench wrote; the rotation must replace it exactly once. */
  initialVersion: string;
  /** postgres-role: the role whose password the secret holds. */
  role?: string;
  /** postgres-role: the password the bench set, which must stop working after the rotation. */
  initialValue?: string;
}

export interface Population {
  secrets: StormSecret[];
  /** Every secret's expiry: one instant, so all of them enter the near-expiry window together. */
  expiresOn: Date;
}

const DAY_MS = 24 * 3600_000;
/** Key Vault raises SecretNearExpiry this long before `exp`. */
const NEAR_EXPIRY_MS = 30 * DAY_MS;
/** Expiry beyond the window by a day, so writing the secrets raises nothing however long it takes. */
const MARGIN_MS = DAY_MS;
/** Writes in flight while populating the vault (no throttle is set yet). */
const writers = 16;

/** The emulator asks only that a bearer token be present. */
const benchCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'bench', expiresOnTimestamp: Date.now() + 3600_000 }),
};

/**
 * A Key Vault client for the stack's vault. The emulator's challenge names vault.azure.net, which a
 * loopback URL never matches, so the SDK's resource check is off.
 * @example
 * const secrets = stormVaultClient(stack);
 */
export function stormVaultClient(stack: Stack): SecretClient {
  return new SecretClient(stack.keyVault.url(localVault), benchCredential, {
    disableChallengeResourceVerification: true,
  });
}

/**
 * Writes `random` secrets and `postgres-role` secrets (each with its own login role on the stack's
 * PostgreSQL), all marked for rotation and all expiring at the same instant, a day beyond Key
 * Vault's 30-day near-expiry window.
 * @example
 * const population = await populate(stack, secrets, { tag: 'r1', random: 900, postgres: 100 });
 */
export async function populate(
  stack: Stack,
  secrets: SecretClient,
  counts: { tag: string; random: number; postgres: number },
): Promise<Population> {
  const expiresOn = new Date(stack.clock.now().getTime() + NEAR_EXPIRY_MS + MARGIN_MS);
  const planned: Array<{ name: string; role?: string }> = [];
  for (let i = 0; i < counts.random; i += 1) planned.push({ name: `storm-${counts.tag}-k${i}` });
  for (let i = 0; i < counts.postgres; i += 1)
    planned.push({ name: `storm-${counts.tag}-pg${i}`, role: `storm_${counts.tag}_pg${i}` });
  const values = planned.map(() => randomBytes(24).toString('base64url'));
  await createRoles(stack, planned, values);
  const written: StormSecret[] = [];
  await inParallel(planned, writers, async ({ name, role }, index) => {
    const value = values[index] ?? '';
    const tags = role === undefined ? { 'vigil-rotation': 'random' } : roleTags(stack, role);
    const secret = await secrets.setSecret(name, value, { expiresOn, tags });
    written[index] = {
      name,
      strategy: role === undefined ? 'random' : 'postgres-role',
      initialVersion: secret.properties.version ?? '',
      ...(role !== undefined && { role, initialValue: value }),
    };
  });
  return { secrets: written, expiresOn };
}

/**
 * How far the clock must move for `expiresOn` to be inside the near-expiry window (plus a second).
 * @example
 * await stack.advanceClock(advanceIntoWindow(stack, population.expiresOn));
 */
export function advanceIntoWindow(stack: Stack, expiresOn: Date): number {
  return Math.max(0, expiresOn.getTime() - NEAR_EXPIRY_MS - stack.clock.now().getTime() + 1000);
}

function roleTags(stack: Stack, role: string): Record<string, string> {
  return {
    'vigil-rotation': 'postgres-role',
    'vigil-host': '127.0.0.1',
    'vigil-port': String(stack.postgres.port),
    'vigil-role': role,
  };
}

async function createRoles(stack: Stack, planned: Array<{ role?: string }>, values: string[]): Promise<void> {
  if (!planned.some((each) => each.role !== undefined)) return;
  const client = new pg.Client({ ...stack.postgres.adminConnection(), ssl: { rejectUnauthorized: true } });
  await client.connect();
  try {
    for (const [index, { role }] of planned.entries()) {
      if (role === undefined) continue;
      await client.query(
        `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(values[index] ?? '')}`,
      );
    }
  } finally {
    await client.end();
  }
}
