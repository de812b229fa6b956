import type { RestError } from '@azure/core-rest-pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyVaultEmulator } from '../../../../local/emulators/keyvault/index.js';
import { type VaultFixture, vaultFixture } from './fixture.js';

describe('Key Vault emulator fault injection with the real SecretClient', () => {
  let fixture: VaultFixture;
  let kv: KeyVaultEmulator;

  beforeEach(async () => {
    fixture = await vaultFixture();
    kv = await fixture.start({ vaults: ['kv-faults'] });
  });
  afterEach(() => fixture.cleanup());

  it('throttles with 429 and Retry-After, and the SDK succeeds after waiting', async () => {
    const client = fixture.client(kv, 'kv-faults');
    await client.setSecret('db-password', 'value');
    kv.admin.throttle({ requests: 2, retryAfterSeconds: 1 });

    const started = performance.now();
    const secret = await client.getSecret('db-password');
    const elapsed = performance.now() - started;

    expect(secret.value).toBe('value');
    expect(kv.admin.counts().throttled).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(1950);
    expect(elapsed).toBeLessThan(5000);
  });

  it('surfaces 429 Throttled once the SDK runs out of retries', async () => {
    const client = fixture.client(kv, 'kv-faults', { retryOptions: { maxRetries: 1 } });
    await client.setSecret('db-password', 'value');
    kv.admin.throttle({ requests: 3, retryAfterSeconds: 1 });

    const error = (await client.getSecret('db-password').catch((e: unknown) => e)) as RestError & {
      code?: string;
    };

    expect(error.statusCode).toBe(429);
    expect(error.code).toBe('Throttled');
    expect(kv.admin.counts().throttled).toBe(2);
  });

  it('enforces a per-vault rate limit that the SDK backs off from', async () => {
    const client = fixture.client(kv, 'kv-faults', { retryOptions: { maxRetries: 10 } });
    await client.setSecret('db-password', 'value');
    kv.admin.rateLimit({ perSecond: 5, preciseRetryAfter: true });

    const started = performance.now();
    const values = await Promise.all(Array.from({ length: 15 }, () => client.getSecret('db-password')));
    const elapsed = performance.now() - started;

    expect(values.every((secret) => secret.value === 'value')).toBe(true);
    expect(kv.admin.counts().throttled).toBeGreaterThan(0);
    // 15 requests at 5 a second cannot finish in under two seconds.
    expect(elapsed).toBeGreaterThanOrEqual(1900);
  });

  it('fails with 503 and the SDK retries', async () => {
    const client = fixture.client(kv, 'kv-faults', { retryOptions: { retryDelayInMs: 50 } });
    kv.admin.fail({ requests: 2 });

    await client.setSecret('db-password', 'value');

    expect((await client.getSecret('db-password')).value).toBe('value');
    expect(kv.admin.counts().failed).toBe(2);
  });

  it('fails only the requests that match, serving the others meanwhile', async () => {
    const client = fixture.client(kv, 'kv-faults', { retryOptions: { maxRetries: 0 } });
    const { properties } = await client.setSecret('db-password', 'value');
    kv.admin.fail({ requests: 1, only: { method: 'PATCH', path: /^\/secrets\/db-password\// } });

    expect((await client.getSecret('db-password')).value).toBe('value');
    await expect(
      client.updateSecretProperties('db-password', properties.version ?? '', { enabled: false }),
    ).rejects.toMatchObject({ statusCode: 503 });
    await client.updateSecretProperties('db-password', properties.version ?? '', { enabled: false });

    expect(kv.admin.counts().failed).toBe(1);
  });

  it('rejects fault options it cannot apply, naming the option', () => {
    expect(() => kv.admin.throttle({ requests: 0 })).toThrow(/throttle.requests must be an integer ≥ 1/);
    expect(() => kv.admin.rateLimit({ perSecond: 1.5 })).toThrow(/rateLimit.perSecond/);
    expect(() => kv.admin.fail({ requests: 1, status: 404 })).toThrow(/fail.status must be a 5xx status/);
  });

  it('serves normally again once faults are cleared', async () => {
    const client = fixture.client(kv, 'kv-faults', { retryOptions: { maxRetries: 0 } });
    kv.admin.fail({ requests: 5 });
    kv.admin.clearFaults();

    await client.setSecret('db-password', 'value');

    expect(kv.admin.counts().failed).toBe(0);
  });
});
