import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../../local/emulators/identity/index.js';

let identity: IdentityEndpoint;

beforeAll(async () => {
  identity = await startIdentityEndpoint({ clock: new Clock() });
  Object.assign(process.env, identity.env);
});
afterAll(() => identity.close());

describe('the managed identity endpoint', () => {
  it('gives @azure/identity a token for the resource it asks for, as App Service does', async () => {
    const token = await new ManagedIdentityCredential().getToken('https://vault.azure.net/.default');
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1] ?? '', 'base64url').toString()) as {
      aud: string;
    };
    expect(claims.aud).toBe('https://vault.azure.net');
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
    expect(identity.issued().map((entry) => entry.resource)).toContain('https://vault.azure.net');
  });

  it('refuses a caller without the identity header', async () => {
    const response = await fetch(`${identity.env.IDENTITY_ENDPOINT}?resource=x&api-version=2019-08-01`);
    expect(response.status).toBe(401);
  });
});
