import type { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRotatedOnce } from '../../../bench/rotationStorm/checks.js';
import type { StormSecret } from '../../../bench/rotationStorm/population.js';
import { type VaultFixture, vaultFixture } from '../emulators/keyvault/fixture.js';
import { parseReport, runBench } from './benchOutput.js';

describe('bench rotation-storm (smoke, 5 secrets, one run)', () => {
  it('rotates every secret once with and without the throttle and prints the ratios', async () => {
    const run = await runBench(['rotation-storm', '--events', '5', '--runs', '1'], 180_000);

    expect(run.stderr).not.toMatch(/bench:/);
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.title).toBe(
      '# rotation-storm: 5 secrets (4 random, 1 postgres-role) near expiry at once, Key Vault throttled to 25 requests/s, 1 runs',
    );
    expect(report.rows.map((row) => `${row.run} ${row.throttle}`)).toEqual(['1 none', '1 25/s']);
    for (const row of report.rows) {
      expect(Number(row['wall s'])).toBeGreaterThan(0);
      expect(Number(row['rotations/s'])).toBeGreaterThan(0);
      // inspect, create, set, test and promote each read or write Key Vault: at least 10 per secret.
      expect(Number(row['KV served'])).toBeGreaterThanOrEqual(50);
      expect(Number(row['host peak RSS MiB'])).toBeGreaterThan(10);
    }
    const throttled = report.rows[1] ?? {};
    expect(Number(throttled['ideal s'])).toBeCloseTo(Number(throttled['KV served']) / 25, 1);
    expect(Number(throttled['wall/ideal'])).toBeCloseTo(
      Number(throttled['wall s']) / Number(throttled['ideal s']),
      1,
    );
    expect(report.notes).toContain(
      "check: every secret's current version changed exactly once (2 versions, the new one current with a rotation id), no enabled -pending version, postgres-role values log in and initial ones are refused, no rotation failed — ok in 2 storms",
    );
    expect(report.notes).toContainEqual(
      expect.stringMatching(
        /^seconds the vault served under 90% of the throttle, throttled storms: \d+ of \d+ \(\d+ in the first 5 s, \d+ in the last 5 s\)$/,
      ),
    );
    expect([...report.ratios.keys()]).toEqual(['rotation-storm.wall', 'rotation-storm.headroom']);
    expect(report.ratios.get('rotation-storm.wall')).toBe(Number(throttled['wall/ideal']));
    for (const value of report.ratios.values()) expect(value).toBeGreaterThan(0);
  });
});

describe('rotation-storm correctness check', () => {
  let fixture: VaultFixture;
  let client: SecretClient;

  beforeAll(async () => {
    fixture = await vaultFixture();
    client = fixture.client(await fixture.start({ vaults: ['kv-storm-check'] }), 'kv-storm-check');
  });
  afterAll(() => fixture.cleanup());

  /** Writes the secret's versions: the first is the one the bench wrote, the rest rotations. */
  async function secretWith(name: string, rotations: number): Promise<StormSecret> {
    const initial = await client.setSecret(name, 'initial-value-0001', {
      tags: { 'vigil-rotation': 'random' },
    });
    for (let i = 1; i <= rotations; i += 1)
      await client.setSecret(name, `rotated-value-000${i}`, {
        tags: { 'vigil-rotation': 'random', 'vigil-rotation-id': `rot-${i}` },
      });
    return { name, strategy: 'random', initialVersion: initial.properties.version ?? '' };
  }

  it('passes a secret rotated exactly once with its pending version disabled', async () => {
    const secret = await secretWith('good-once', 1);
    const pending = await client.setSecret('good-once-pending', 'pending-value-0001');
    await client.updateSecretProperties('good-once-pending', pending.properties.version ?? '', {
      enabled: false,
    });
    await expect(checkRotatedOnce(client, [secret])).resolves.toBeUndefined();
  });

  it('names a secret never rotated, one rotated twice, and one with an enabled pending version', async () => {
    await expect(checkRotatedOnce(client, [await secretWith('never-rotated', 0)])).rejects.toThrow(
      /1 of 1 secrets are not rotated exactly once \(first: never-rotated: 1 versions/,
    );
    await expect(checkRotatedOnce(client, [await secretWith('rotated-twice', 2)])).rejects.toThrow(
      /rotated-twice: 3 versions/,
    );
    const leftover = await secretWith('pending-left', 1);
    await client.setSecret('pending-left-pending', 'pending-value-0002');
    await expect(checkRotatedOnce(client, [leftover])).rejects.toThrow(
      /pending-left: 1 pending version\(s\) left enabled/,
    );
  });

  it('refuses a postgres-role secret when there is no server to log in to', async () => {
    const secret = { ...(await secretWith('pg-nowhere', 1)), strategy: 'postgres-role' as const, role: 'r' };
    await expect(checkRotatedOnce(client, [secret])).rejects.toThrow(/pg-nowhere: a postgres-role secret/);
  });
});
