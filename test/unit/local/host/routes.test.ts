import { describe, expect, it } from 'vitest';
import { compileRoute } from '../../../../local/host/routes.js';

describe('compileRoute', () => {
  it.each([
    ['api/health', '/api/health', {}],
    ['api/health', '/API/Health', {}],
    [
      'api/secrets/{vault}/{name}/rotate',
      '/api/secrets/kv-1/db%20password/rotate',
      { vault: 'kv-1', name: 'db password' },
    ],
    ['api/probes/{id?}', '/api/probes', {}],
    ['api/probes/{id?}', '/api/probes/p1', { id: 'p1' }],
    ['api/items/{id:int}', '/api/items/42', { id: '42' }],
    ['api/files/{*path}', '/api/files/a/b/c', { path: 'a/b/c' }],
  ])('%s matches %s', (template, pathname, params) => {
    expect(compileRoute(template).match(pathname)).toEqual(params);
  });

  it.each([
    ['api/health', '/api/healthz'],
    ['api/health', '/api/health/extra'],
    ['api/items/{id:int}', '/api/items/abc'],
    ['api/secrets/{vault}/{name}/rotate', '/api/secrets/kv/rotate'],
  ])('%s does not match %s', (template, pathname) => {
    expect(compileRoute(template).match(pathname)).toBeUndefined();
  });

  it('counts literal segments, so the host tries probes/latest before probes/{id}', () => {
    expect(compileRoute('api/probes/latest').literals).toBeGreaterThan(
      compileRoute('api/probes/{id}').literals,
    );
  });

  it('refuses a constraint it does not know, naming it', () => {
    expect(() => compileRoute('api/{id:regex}')).toThrow('Unsupported route constraint "regex"');
  });
});
