import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RestError } from '@azure/core-rest-pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import type { KeyVaultEmulator } from '../../../../local/emulators/keyvault/index.js';
import { type VaultFixture, vaultFixture } from './fixture.js';

const day = 24 * 3600_000;
const poll = { intervalInMs: 20 };

async function failure(promise: Promise<unknown>): Promise<RestError & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as RestError;
  }
  throw new Error('expected the request to fail');
}

describe('Key Vault emulator with the real SecretClient', () => {
  let fixture: VaultFixture;
  let kv: KeyVaultEmulator;

  beforeEach(async () => {
    fixture = await vaultFixture();
    kv = await fixture.start({ vaults: ['kv-one', 'kv-two'] });
  });
  afterEach(() => fixture.cleanup());

  it('answers an unauthenticated request with the Key Vault challenge', async () => {
    const response = await fetch(`${kv.url('kv-one')}/secrets?api-version=2026-04-01`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
    );
  });

  it('stores a secret with its properties and serves the latest version and each version', async () => {
    const client = fixture.client(kv, 'kv-one');
    const expiresOn = new Date(Math.floor((Date.now() + 60 * day) / 1000) * 1000);
    const notBefore = new Date(Math.floor((Date.now() - day) / 1000) * 1000);
    const first = await client.setSecret('db-password', 'first-value', {
      contentType: 'text/plain',
      tags: { rotation: 'postgres-single' },
      expiresOn,
      notBefore,
    });
    const second = await client.setSecret('db-password', 'second-value');

    const latest = await client.getSecret('db-password');
    const old = await client.getSecret('db-password', { version: first.properties.version });

    expect(latest.value).toBe('second-value');
    expect(latest.properties.version).toBe(second.properties.version);
    expect(old.value).toBe('first-value');
    expect(old.properties).toMatchObject({
      contentType: 'text/plain',
      tags: { rotation: 'postgres-single' },
      expiresOn,
      notBefore,
      enabled: true,
      vaultUrl: kv.url('kv-one'),
      name: 'db-password',
      recoveryLevel: 'Recoverable+Purgeable',
    });
    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(first.properties.version).not.toBe(second.properties.version);
  });

  it('lists the versions of a secret and pages through every secret by nextLink', async () => {
    const client = fixture.client(kv, 'kv-one');
    const v1 = await client.setSecret('api-key', 'one');
    const v2 = await client.setSecret('api-key', 'two');
    for (let i = 0; i < 29; i++) await client.setSecret(`bulk-${String(i).padStart(2, '0')}`, `value-${i}`);

    const versions: (string | undefined)[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions('api-key'))
      versions.push(properties.version);
    const names: string[] = [];
    for await (const properties of client.listPropertiesOfSecrets()) names.push(properties.name);
    const pageSizes: number[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 7 }))
      pageSizes.push(page.length);

    expect(versions.sort()).toEqual([v1.properties.version, v2.properties.version].sort());
    expect(names).toHaveLength(30);
    expect(new Set(names)).toContain('api-key');
    expect(pageSizes).toEqual([7, 7, 7, 7, 2]);
  });

  it('makes a disabled version unreadable with 403 Forbidden, and readable again once enabled', async () => {
    const client = fixture.client(kv, 'kv-one');
    const old = await client.setSecret('db-password', 'old');
    const current = await client.setSecret('db-password', 'current');
    const oldVersion = old.properties.version ?? '';

    await client.updateSecretProperties('db-password', oldVersion, { enabled: false });
    const refused = await failure(client.getSecret('db-password', { version: oldVersion }));
    const stillCurrent = await client.getSecret('db-password');
    await client.updateSecretProperties('db-password', current.properties.version ?? '', { enabled: false });
    const latestRefused = await failure(client.getSecret('db-password'));
    await client.updateSecretProperties('db-password', oldVersion, { enabled: true });

    expect(refused.statusCode).toBe(403);
    expect(refused.code).toBe('Forbidden');
    expect(refused.message).toContain('disabled');
    expect(stillCurrent.value).toBe('current');
    expect(latestRefused.statusCode).toBe(403);
    expect((await client.getSecret('db-password', { version: oldVersion })).value).toBe('old');
  });

  it('updates expiry, tags and content type of one version only', async () => {
    const client = fixture.client(kv, 'kv-one');
    const old = await client.setSecret('db-password', 'old', { tags: { owner: 'platform' } });
    const current = await client.setSecret('db-password', 'current', { tags: { owner: 'platform' } });
    const expiresOn = new Date(Math.floor((Date.now() + 90 * day) / 1000) * 1000);

    const updated = await client.updateSecretProperties('db-password', current.properties.version ?? '', {
      expiresOn,
      tags: { owner: 'security', stage: 'current' },
      contentType: 'application/x-password',
    });
    const reread = await client.getSecret('db-password');
    const oldReread = await client.getSecret('db-password', { version: old.properties.version });

    expect(updated.expiresOn).toEqual(expiresOn);
    expect(reread.properties).toMatchObject({
      expiresOn,
      tags: { owner: 'security', stage: 'current' },
      contentType: 'application/x-password',
    });
    expect(reread.value).toBe('current');
    expect(oldReread.properties.tags).toEqual({ owner: 'platform' });
    expect(oldReread.properties.expiresOn).toBeUndefined();
  });

  it('answers 404 SecretNotFound for a missing secret or version', async () => {
    const client = fixture.client(kv, 'kv-one');
    await client.setSecret('present', 'x');

    const missing = await failure(client.getSecret('absent'));
    const missingVersion = await failure(client.getSecret('present', { version: '0'.repeat(32) }));

    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('SecretNotFound');
    expect(missingVersion.code).toBe('SecretNotFound');
  });

  it('rejects bad input with 400 naming the field and the rule', async () => {
    const client = fixture.client(kv, 'kv-one');
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, 'v']));

    const badName = await failure(client.setSecret('bad_name', 'x'));
    const tooManyTags = await failure(client.setSecret('ok-name', 'x', { tags }));
    const tooLong = await failure(client.setSecret('ok-name', 'x'.repeat(26 * 1024)));

    expect(badName.statusCode).toBe(400);
    expect(badName.message).toContain('secret-name');
    expect(tooManyTags.message).toMatch(/^tags: at most 15 tags/);
    expect(tooLong.message).toMatch(/^value: must be at most 25600 bytes/);
    expect(await failure(client.getSecret('ok-name'))).toMatchObject({ statusCode: 404 });
  });

  it('soft-deletes, recovers and purges a secret', async () => {
    const client = fixture.client(kv, 'kv-one');
    await client.setSecret('temp', 'v1');
    await client.setSecret('temp', 'v2');

    const deleted = await (await client.beginDeleteSecret('temp', poll)).pollUntilDone();
    const whileDeleted = await failure(client.getSecret('temp'));
    const reuse = await failure(client.setSecret('temp', 'again'));
    const deletedNames: string[] = [];
    for await (const entry of client.listDeletedSecrets()) deletedNames.push(entry.name);
    await (await client.beginRecoverDeletedSecret('temp', poll)).pollUntilDone();
    const recovered = await client.getSecret('temp');

    expect(deleted.recoveryId).toBe(`${kv.url('kv-one')}/deletedsecrets/temp`);
    expect(deleted.deletedOn).toBeInstanceOf(Date);
    expect(whileDeleted.statusCode).toBe(404);
    expect(reuse.statusCode).toBe(409);
    expect(deletedNames).toEqual(['temp']);
    expect(recovered.value).toBe('v2');

    await (await client.beginDeleteSecret('temp', poll)).pollUntilDone();
    await client.purgeDeletedSecret('temp');
    const afterPurge = await failure(client.getDeletedSecret('temp'));
    await client.setSecret('temp', 'fresh');
    const versions: unknown[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions('temp')) versions.push(properties);

    expect(afterPurge.statusCode).toBe(404);
    expect(versions).toHaveLength(1);
  });

  it('keeps each vault separate', async () => {
    const one = fixture.client(kv, 'kv-one');
    const two = fixture.client(kv, 'kv-two');

    await one.setSecret('shared-name', 'in-one');
    await two.setSecret('shared-name', 'in-two');

    expect((await one.getSecret('shared-name')).value).toBe('in-one');
    expect((await two.getSecret('shared-name')).value).toBe('in-two');
    expect(kv.url('kv-one')).not.toBe(kv.url('kv-two'));
    expect(() => kv.url('kv-three')).toThrow(/vault "kv-three" is not served/);
  });

  it('keeps secrets, versions, tags and disabled state across a restart', async () => {
    const client = fixture.client(kv, 'kv-one');
    const old = await client.setSecret('db-password', 'old', { tags: { rotation: 'alternating' } });
    await client.setSecret('db-password', 'new', { tags: { rotation: 'alternating', stage: 'current' } });
    await client.updateSecretProperties('db-password', old.properties.version ?? '', { enabled: false });
    await kv.close();

    const restarted = await fixture.start({ vaults: ['kv-one'] });
    const again = fixture.client(restarted, 'kv-one');
    const current = await again.getSecret('db-password');
    const oldRefused = await failure(again.getSecret('db-password', { version: old.properties.version }));

    expect(current.value).toBe('new');
    expect(current.properties.tags).toEqual({ rotation: 'alternating', stage: 'current' });
    expect(oldRefused.statusCode).toBe(403);
  });

  it('refuses options it cannot serve, naming the option', async () => {
    await expect(fixture.start({ vaults: [] })).rejects.toThrow(/vaults: name at least one vault/);
    await expect(fixture.start({ vaults: ['x'] })).rejects.toThrow(/"x" is not a vault name/);
    await expect(fixture.start({ vaults: [{ name: 'kv-ok', port: 70000 }] })).rejects.toThrow(
      /port of "kv-ok" must be an integer/,
    );
  });

  it('purges a soft-deleted secret once its 90-day retention has passed on the stack clock', async () => {
    await kv.close();
    const clock = new Clock();
    const clocked = await fixture.start({ vaults: ['kv-one'], clock });
    const client = fixture.client(clocked, 'kv-one');
    await client.setSecret('short-lived', 'x');
    await (await client.beginDeleteSecret('short-lived', poll)).pollUntilDone();

    clock.advance(89 * day);
    await clocked.admin.settleEvents();
    const kept = await client.getDeletedSecret('short-lived');
    clock.advance(2 * day);
    await clocked.admin.settleEvents();
    const purged = await failure(client.getDeletedSecret('short-lived'));

    expect(kept.name).toBe('short-lived');
    expect(purged.statusCode).toBe(404);
    expect((await client.setSecret('short-lived', 'new')).value).toBe('new');
  });

  it('refuses to start on a data file that is not its own, naming the file', async () => {
    await kv.close();
    const file = path.join(fixture.dataDir, 'keyvault.json');
    await writeFile(
      file,
      JSON.stringify({ format: 1, vaults: { 'kv-one': { secrets: { a: { name: 'a' } } } } }),
    );

    await expect(fixture.start({ vaults: ['kv-one'] })).rejects.toThrow(
      `${file} is not Key Vault emulator data: vaults.kv-one.secrets.a.versions`,
    );
  });
});
