import type { AccessToken, TokenCredential } from '@azure/identity';
import { type KeyVaultSecret, SecretClient, type SecretProperties } from '@azure/keyvault-secrets';
import pg from 'pg';
import { expect } from 'vitest';
import { localVault, type Stack } from '../../local/stack.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { type InstanceStatus, waitForInstance } from './stack.js';

/**
 * What the rotation e2e suites share: a Key Vault client, the PostgreSQL server whose roles the
 * rotations change, and the checks every suite makes on both (the current version logs in, no
 * pending version stays enabled).
 */

const DAY_MS = 24 * 3600_000;
/** Inside Key Vault's 30-day near-expiry window, so writing the secret raises SecretNearExpiry. */
const NEAR_EXPIRY_MS = 29 * DAY_MS;

/** The PostgreSQL server a rotation targets: the stack's or one a suite starts itself. */
export interface RotationDatabase {
  readonly port: number;
  adminConnection(): { host: string; port: number; database: string; user: string; password: string };
}

/** Tags that mark a secret for rotation: the strategy tag and whatever that strategy needs. */
export type RotationTags = Record<string, string> & { 'vigil-rotation': string };

export interface RotationTestbedParts {
  secrets: SecretClient;
  /** Read on every use: a suite may stop and restart PostgreSQL, and the stack then holds a new one. */
  database: () => RotationDatabase;
  /** The time the rotating app sees, which expiry dates are counted from. */
  now: () => Date;
}

/** The Key Vault emulator asks only that a bearer token be present; this one outlives any test run. */
const e2eCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3600_000 }),
};

/**
 * A Key Vault client for an emulated vault. Its challenge names vault.azure.net, which a loopback
 * URL never matches, so the SDK's resource check is off.
 * @example
 * const secrets = vaultClient(keyVault.url('kv-inproc'));
 */
export function vaultClient(vaultUrl: string): SecretClient {
  return new SecretClient(vaultUrl, e2eCredential, { disableChallengeResourceVerification: true });
}

/** Whether a rotation orchestration has stopped running, however it ended. */
export function rotationFinished(status: InstanceStatus): boolean {
  return ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus);
}

/**
 * Waits for the rotation of a secret in the stack's vault to finish and returns its final status.
 * @example
 * expect((await rotationOutcome(stack, 'db-single')).output).toMatchObject({ outcome: 'rotated' });
 */
export function rotationOutcome(
  stack: Stack,
  secretName: string,
  timeoutMs = 60_000,
): Promise<InstanceStatus> {
  return waitForInstance(stack, rotationInstanceId(localVault, secretName), rotationFinished, timeoutMs);
}

/**
 * The vault and the PostgreSQL server a rotation suite works against, with the steps its tests
 * take on them: create roles, mark secrets for rotation, read versions, check logins.
 * @example
 * const testbed = RotationTestbed.onStack(stack);
 * await testbed.createRole('app_single', 'Initial-Pw-0001');
 * await testbed.markForRotation('db-single', 'Initial-Pw-0001', testbed.roleTags('app_single'));
 */
export class RotationTestbed {
  readonly secrets: SecretClient;
  readonly #database: () => RotationDatabase;
  readonly #now: () => Date;

  constructor(parts: RotationTestbedParts) {
    this.secrets = parts.secrets;
    this.#database = parts.database;
    this.#now = parts.now;
  }

  /**
   * The testbed on a whole local stack: its vault, its PostgreSQL and its clock.
   * @example
   * testbed = RotationTestbed.onStack(await startTestStack(lines));
   */
  static onStack(stack: Stack): RotationTestbed {
    return new RotationTestbed({
      secrets: vaultClient(stack.keyVault.url(localVault)),
      database: () => stack.postgres,
      now: () => stack.clock.now(),
    });
  }

  /**
   * Runs one statement as the PostgreSQL administrator, over TLS with the certificate verified.
   * @example
   * await testbed.sql('GRANT app_blue TO vigil_admin WITH ADMIN OPTION');
   */
  async sql(statement: string): Promise<void> {
    const client = new pg.Client({
      ...this.#database().adminConnection(),
      ssl: { rejectUnauthorized: true },
    });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }

  /**
   * Creates a role that can log in with `password`.
   * @example
   * await testbed.createRole('app_single', 'Initial-Single-Pw-0001');
   */
  async createRole(role: string, password: string): Promise<void> {
    await this.sql(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
  }

  /**
   * Whether `user` can log in with `password` right now (verify-full TLS, as the app connects).
   * @example
   * await expect.poll(() => testbed.canLogin('crash_flex', pending)).toBe(true);
   */
  canLogin(user: string, password: string): Promise<boolean> {
    return canLogin({ ...this.#database().adminConnection(), user, password, sslMode: 'verify-full' });
  }

  /**
   * Asserts that `user` logs in with `password`.
   * @example
   * await testbed.expectLogsIn('app_single', (await testbed.currentVersion('db-single')).value);
   */
  async expectLogsIn(user: string, password: string | undefined): Promise<void> {
    expect(await this.canLogin(user, password ?? '')).toBe(true);
  }

  /**
   * Asserts that `user` can no longer log in with `password`.
   * @example
   * await testbed.expectLoginRefused('app_single', 'Initial-Single-Pw-0001');
   */
  async expectLoginRefused(user: string, password: string): Promise<void> {
    expect(await this.canLogin(user, password)).toBe(false);
  }

  /**
   * The tags of a single PostgreSQL role secret on this server (strategy postgres-role).
   * @example
   * await testbed.markForRotation('db-dup', password, testbed.roleTags('app_dup'));
   */
  roleTags(role: string): RotationTags {
    return {
      'vigil-rotation': 'postgres-role',
      'vigil-host': '127.0.0.1',
      'vigil-port': String(this.#database().port),
      'vigil-role': role,
    };
  }

  /**
   * The tags of a Flexible Server administrator secret, rotated through ARM.
   * @example
   * await testbed.markForRotation('pg-e2e-admin', password, testbed.flexibleAdminTags(resourceId));
   */
  flexibleAdminTags(resourceId: string): RotationTags {
    return {
      'vigil-rotation': 'postgres-flexible-admin',
      'vigil-resource-id': resourceId,
      'vigil-port': String(this.#database().port),
    };
  }

  /**
   * Writes a secret version with rotation tags, expiring in 29 days so that Key Vault's
   * SecretNearExpiry event starts its rotation; returns the new version.
   * @example
   * const version = await testbed.markForRotation('db-single', password, testbed.roleTags('app_single'));
   */
  markForRotation(name: string, value: string, tags: RotationTags): Promise<string> {
    return this.#writeNearExpiry(name, value, tags);
  }

  /**
   * Writes a secret version without rotation tags that still expires in 29 days: its
   * SecretNearExpiry event reaches Vigil, which must leave the secret alone. Returns the version.
   * @example
   * const version = await testbed.writeUnmarked('plain-setting', 'not-rotated-value-001');
   */
  writeUnmarked(name: string, value: string): Promise<string> {
    return this.#writeNearExpiry(name, value, {});
  }

  async #writeNearExpiry(name: string, value: string, tags: Record<string, string>): Promise<string> {
    const expiresOn = new Date(this.#now().getTime() + NEAR_EXPIRY_MS);
    const written = await this.secrets.setSecret(name, value, { expiresOn, tags });
    return written.properties.version ?? '';
  }

  /**
   * A fresh login role and a secret holding its password, marked for rotation as a single role.
   * @example
   * await testbed.markRoleForRotation('crash-0', 'crash_role_0', 'Crash-Initial-Pw-0000');
   */
  async markRoleForRotation(name: string, role: string, password: string): Promise<string> {
    await this.createRole(role, password);
    return this.markForRotation(name, password, this.roleTags(role));
  }

  /**
   * The secret's current version, value included.
   * @example
   * const current = await testbed.currentVersion('db-single');
   */
  currentVersion(name: string): Promise<KeyVaultSecret> {
    return this.secrets.getSecret(name);
  }

  /**
   * Every version of a secret, enabled or not.
   * @example
   * expect(await testbed.versionsOf('db-single')).toHaveLength(2);
   */
  async versionsOf(name: string): Promise<SecretProperties[]> {
    const versions: SecretProperties[] = [];
    for await (const version of this.secrets.listPropertiesOfSecretVersions(name)) versions.push(version);
    return versions;
  }

  /**
   * Asserts that no pending version of the secret (`<name>-pending`) is left enabled.
   * @example
   * await testbed.expectNoEnabledPending('db-down');
   */
  async expectNoEnabledPending(name: string): Promise<void> {
    const pending = await this.versionsOf(`${name}-pending`);
    expect(pending.filter((version) => version.enabled)).toEqual([]);
  }
}
