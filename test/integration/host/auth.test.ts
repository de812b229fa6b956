import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../../local/host/easyAuth.js';
import { type InProcessHost, startInProcessHost } from '../../support/inProcessHost.js';

/**
 * How each HTTP route is protected. Every route the app registers must be listed here, so a new
 * route cannot ship without someone deciding who may call it.
 */
const protection: Record<string, { key: 'anonymous' | 'function' | 'admin'; role?: string }> = {
  health: { key: 'anonymous' },
  requestProbe: { key: 'function' },
  getProbeResult: { key: 'function' },
  acknowledgeProbe: { key: 'anonymous', role: 'responder' },
  rotateSecretNow: { key: 'anonymous', role: 'responder' },
};

let running: InProcessHost;
beforeAll(async () => {
  running = await startInProcessHost();
});
afterAll(() => running.stop());

function httpRoutes() {
  return [...running.app.functions.values()].flatMap((fn) => {
    const trigger = Object.values(fn.metadata.bindings).find((binding) => binding.type === 'httpTrigger');
    if (!trigger) return [];
    const path = String(trigger.route ?? fn.metadata.name).replace(/\{[^}]+\}/g, 'x');
    const [method = 'GET'] = (trigger.methods as string[] | undefined) ?? [];
    return [
      {
        name: fn.metadata.name,
        url: `${running.host.url}/api/${path}`,
        method,
        authLevel: trigger.authLevel,
      },
    ];
  });
}

describe('every HTTP route', () => {
  it('is declared with the protection it needs, and registered with that auth level', () => {
    const routes = httpRoutes();
    expect(routes.map((route) => route.name).sort()).toEqual(Object.keys(protection).sort());
    for (const route of routes) expect(route.authLevel, route.name).toBe(protection[route.name]?.key);
  });

  it('answers 401 without a key, and with a wrong one, where a key is needed', async () => {
    for (const route of httpRoutes().filter((r) => protection[r.name]?.key !== 'anonymous')) {
      for (const query of ['', '?code=wrong-key']) {
        const response = await fetch(`${route.url}${query}`, { method: route.method });
        expect(response.status, `${route.name}${query}`).toBe(401);
      }
    }
  });

  it('answers 401 to an anonymous caller and 403 to a caller without the role, where a role is needed', async () => {
    const token = await issueToken(running.keys.tokenSigningKey, { subject: 'intruder', roles: ['reader'] });
    for (const route of httpRoutes().filter((r) => protection[r.name]?.role)) {
      const anonymous = await fetch(route.url, { method: route.method });
      expect(anonymous.status, route.name).toBe(401);
      const withoutRole = await fetch(route.url, {
        method: route.method,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(withoutRole.status, route.name).toBe(403);
    }
  });
});
