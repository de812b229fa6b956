import { describe, expect, it } from 'vitest';
import { authorize, principalFrom } from '../../../src/core/principal.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const easyAuthPrincipal = (roles: string[]) =>
  encode({
    auth_typ: 'aad',
    name_typ: 'name',
    role_typ: 'roles',
    claims: [
      { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-1' },
      { typ: 'name', val: 'Alice' },
      ...roles.map((val) => ({ typ: 'roles', val })),
    ],
  });

/** A header as App Service Authentication sends it for an Entra ID user with an app role. */
const appServiceHeader = encode({
  auth_typ: 'aad',
  claims: [
    { typ: 'aud', val: 'api://vigil' },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-9' },
    { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', val: 'ada@example.com' },
    { typ: 'name', val: 'Ada Lovelace' },
    { typ: 'roles', val: 'responder' },
  ],
  name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
});

describe('principalFrom', () => {
  it('reads the app roles of a real App Service header, whose role_typ is the long role URI', () => {
    expect(principalFrom(appServiceHeader)).toEqual({
      id: 'oid-9',
      name: 'ada@example.com',
      roles: ['responder'],
    });
    expect(authorize(appServiceHeader, 'responder')).toMatchObject({ allowed: true });
  });

  it('also reads roles carried under the long role URI', () => {
    const header = encode({
      claims: [
        { typ: 'sub', val: 's' },
        { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'responder' },
      ],
    });
    expect(principalFrom(header)?.roles).toEqual(['responder']);
  });

  it('reads id, name and roles from the App Service claims', () => {
    expect(principalFrom(easyAuthPrincipal(['responder', 'reader']))).toEqual({
      id: 'oid-1',
      name: 'Alice',
      roles: ['responder', 'reader'],
    });
  });

  it('falls back to sub and uses the id as name', () => {
    expect(principalFrom(encode({ claims: [{ typ: 'sub', val: 'svc' }] }))).toEqual({
      id: 'svc',
      name: 'svc',
      roles: [],
    });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['not base64 JSON', '%%%'],
    ['without claims', encode({ auth_typ: 'aad' })],
    ['without an id claim', encode({ claims: [{ typ: 'roles', val: 'responder' }] })],
    ['with malformed claims', encode({ claims: [{ typ: 1, val: 'x' }] })],
  ])('is undefined when the header is %s', (_, header) => {
    expect(principalFrom(header)).toBeUndefined();
  });
});

describe('authorize', () => {
  it('allows a caller with the role', () => {
    expect(authorize(easyAuthPrincipal(['responder']), 'responder')).toMatchObject({
      allowed: true,
      principal: { id: 'oid-1' },
    });
  });

  it('answers 401 for an anonymous caller and 403 for a caller without the role', () => {
    expect(authorize(null, 'responder')).toMatchObject({ allowed: false, status: 401 });
    expect(authorize(easyAuthPrincipal(['reader']), 'responder')).toEqual({
      allowed: false,
      status: 403,
      reason: 'The caller lacks the "responder" role this route needs',
    });
  });
});
