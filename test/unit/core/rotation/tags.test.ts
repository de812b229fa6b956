import { describe, expect, it } from 'vitest';
import { ALPHABETS } from '../../../../src/core/rotation/password.js';
import { parseRotationTags, RotationTagError } from '../../../../src/core/rotation/tags.js';

const flexibleId =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-main';

const single = { 'vigil-rotation': 'postgres-role', 'vigil-host': 'db.internal', 'vigil-role': 'app' };
const alternating = {
  'vigil-rotation': 'postgres-alternating',
  'vigil-host': '10.0.0.4',
  'vigil-role': 'app',
  'vigil-role-alternate': 'app_clone',
  'vigil-admin-secret': 'pg-admin',
  'vigil-admin-role': 'vigil_admin',
};
const flexible = { 'vigil-rotation': 'postgres-flexible-admin', 'vigil-resource-id': flexibleId };
const defaultPassword = { length: 32, alphabet: ALPHABETS.unreserved, requireEachClass: true };
const defaultEndpoint = { port: 5432, database: 'postgres', sslMode: 'verify-full' };

describe('parseRotationTags', () => {
  it.each([
    ['no tags at all', undefined, 'no vigil-rotation tag'],
    ['only foreign tags', { owner: 'team-a', 'vigil-host': undefined }, 'no vigil-rotation tag'],
    ['rotation switched off', { ' Vigil-Rotation ': 'Off' }, 'vigil-rotation is "Off"'],
    [
      'rotation disabled',
      { 'vigil-rotation': 'disabled', 'vigil-host': 'db' },
      'vigil-rotation is "disabled"',
    ],
  ])('does not mark a secret with %s', (_, tags, reason) => {
    expect(parseRotationTags(tags)).toEqual({ marked: false, reason });
  });

  it('reads a single-role plan with defaults', () => {
    expect(parseRotationTags({ ...single, owner: 'team-a' })).toEqual({
      marked: true,
      target: { kind: 'postgres-role', endpoint: { host: 'db.internal', ...defaultEndpoint }, role: 'app' },
      validityDays: 60,
      password: defaultPassword,
    });
  });

  it('ignores the version tags Vigil itself writes on promoted and pending versions', () => {
    const promoted = {
      ...single,
      'vigil-rotation-id': 'rot-1',
      'Vigil-Active-Role': 'app',
      'vigil-pending-for': 'x',
    };
    expect(parseRotationTags(promoted)).toEqual(parseRotationTags(single));
  });

  it('reads every optional setting, ignoring key case and spaces', () => {
    const plan = parseRotationTags({
      ...single,
      ' VIGIL-PORT ': ' 6432 ',
      'vigil-database': 'orders',
      'vigil-sslmode': 'Require',
      'vigil-admin-secret': 'pg-admin',
      'vigil-admin-role': 'vigil_admin',
      'vigil-validity-days': '90',
      'vigil-password-length': '48',
      'vigil-password-alphabet': 'alphanumeric',
    });
    expect(plan).toEqual({
      marked: true,
      target: {
        kind: 'postgres-role',
        endpoint: { host: 'db.internal', port: 6432, database: 'orders', sslMode: 'require' },
        role: 'app',
        admin: { secretName: 'pg-admin', role: 'vigil_admin' },
      },
      validityDays: 90,
      password: { length: 48, alphabet: ALPHABETS.alphanumeric, requireEachClass: true },
    });
  });

  it('reads an alternating plan', () => {
    expect(parseRotationTags(alternating)).toMatchObject({
      target: {
        kind: 'postgres-alternating',
        endpoint: { host: '10.0.0.4', ...defaultEndpoint },
        roles: ['app', 'app_clone'],
        admin: { secretName: 'pg-admin', role: 'vigil_admin' },
      },
    });
  });

  it('reads a Flexible Server admin plan whose host and role come from ARM unless overridden', () => {
    expect(parseRotationTags(flexible)).toMatchObject({
      target: {
        kind: 'postgres-flexible-admin',
        server: { resourceId: flexibleId, resourceGroup: 'rg-data', serverName: 'pg-main' },
        endpoint: defaultEndpoint,
      },
    });
    const lowercased = flexibleId
      .replace('resourceGroups', 'resourcegroups')
      .replace('DBforPostgreSQL', 'dbforpostgresql');
    const overridden = parseRotationTags({
      ...flexible,
      'vigil-resource-id': lowercased,
      'vigil-host': '127.0.0.1',
      'vigil-role': 'azureadmin',
    });
    expect(overridden).toMatchObject({ target: { endpoint: { host: '127.0.0.1' }, role: 'azureadmin' } });
  });

  it.each([
    [{ 'vigil-rotation': 'random' }, { kind: 'random' }],
    [
      { 'vigil-rotation': 'RANDOM', 'vigil-webhook': 'https://hooks.example.org/rotated' },
      { kind: 'random', webhookUrl: 'https://hooks.example.org/rotated' },
    ],
    [
      { 'vigil-rotation': 'random', 'vigil-webhook': 'http://127.0.0.1:7070/hook' },
      { kind: 'random', webhookUrl: 'http://127.0.0.1:7070/hook' },
    ],
  ])('reads a random-value plan %o', (tags, target) => {
    expect(parseRotationTags(tags)).toMatchObject({ marked: true, target });
  });

  const tooLong = 'r'.repeat(64);
  it.each([
    ['an unknown kind', { 'vigil-rotation': 'mysql' }, 'tag vigil-rotation must be one of postgres-role'],
    ['a misspelt Vigil tag', { ...single, 'vigil-hots': 'x' }, 'tag vigil-hots is not a Vigil tag'],
    ['a tag twice with two values', { ...single, 'VIGIL-ROLE': 'other' }, 'tag vigil-role is set twice'],
    ['single role without host', { ...single, 'vigil-host': ' ' }, 'tag vigil-host is required'],
    ['single role without role', { ...single, 'vigil-role': undefined }, 'tag vigil-role is required'],
    [
      'a host with a scheme',
      { ...single, 'vigil-host': 'postgres://db' },
      'tag vigil-host must be a host name',
    ],
    [
      'port 0',
      { ...single, 'vigil-port': '0' },
      'tag vigil-port must be a whole number from 1 to 65535, got "0"',
    ],
    ['a port of letters', { ...single, 'vigil-port': 'pg' }, 'tag vigil-port must be a whole number'],
    [
      'sslmode prefer',
      { ...single, 'vigil-sslmode': 'prefer' },
      'allow and prefer fall back to plaintext silently',
    ],
    [
      'a role over 63 bytes',
      { ...single, 'vigil-role': tooLong },
      'tag vigil-role must be a PostgreSQL name of at most 63 bytes',
    ],
    ['a role of 32 two-byte letters', { ...single, 'vigil-role': 'é'.repeat(32) }, 'at most 63 bytes'],
    [
      'a database over 63 bytes',
      { ...single, 'vigil-database': tooLong },
      'tag vigil-database must be a PostgreSQL name',
    ],
    [
      'a reserved role',
      { ...single, 'vigil-role': 'PUBLIC' },
      'tag vigil-role must not be a reserved role name',
    ],
    [
      'a pg_ role',
      { ...single, 'vigil-role': 'pg_monitor' },
      'must not be a reserved role name ("pg_monitor")',
    ],
    [
      'an admin secret without admin role',
      { ...single, 'vigil-admin-secret': 'pg-admin' },
      'tag vigil-admin-role is required',
    ],
    [
      'an admin role without admin secret',
      { ...single, 'vigil-admin-role': 'root' },
      'tag vigil-admin-secret is required',
    ],
    [
      'an admin secret name with a dot',
      { ...single, 'vigil-admin-secret': 'pg.admin', 'vigil-admin-role': 'root' },
      'tag vigil-admin-secret must be a secret name',
    ],
    [
      'a second role on a single-role kind',
      { ...single, 'vigil-role-alternate': 'b' },
      'tag vigil-role-alternate does not apply to vigil-rotation=postgres-role',
    ],
    [
      'alternating without a second role',
      { ...alternating, 'vigil-role-alternate': undefined },
      'tag vigil-role-alternate is required',
    ],
    [
      'alternating with one role twice',
      { ...alternating, 'vigil-role-alternate': 'app' },
      'tag vigil-role-alternate must differ from vigil-role',
    ],
    [
      'alternating without admin',
      { ...alternating, 'vigil-admin-secret': undefined, 'vigil-admin-role': undefined },
      'tag vigil-admin-secret is required',
    ],
    [
      'alternating whose admin is a rotated role',
      { ...alternating, 'vigil-admin-role': 'app_clone' },
      'tag vigil-admin-role must not be one of the alternating roles',
    ],
    [
      'flexible admin without resource id',
      { 'vigil-rotation': 'postgres-flexible-admin' },
      'tag vigil-resource-id is required',
    ],
    [
      'flexible admin with a vault id',
      {
        ...flexible,
        'vigil-resource-id': '/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v',
      },
      'tag vigil-resource-id must be /subscriptions/',
    ],
    [
      'a resource id on a single role',
      { ...single, 'vigil-resource-id': flexibleId },
      'tag vigil-resource-id does not apply to vigil-rotation=postgres-role',
    ],
    [
      'an admin secret on flexible admin',
      { ...flexible, 'vigil-admin-secret': 'x' },
      'tag vigil-admin-secret does not apply',
    ],
    [
      'a host on random',
      { 'vigil-rotation': 'random', 'vigil-host': 'db' },
      'tag vigil-host does not apply to vigil-rotation=random',
    ],
    [
      'a webhook on a database kind',
      { ...single, 'vigil-webhook': 'https://x.example' },
      'tag vigil-webhook does not apply',
    ],
    [
      'a plain-http webhook',
      { 'vigil-rotation': 'random', 'vigil-webhook': 'http://hooks.example.org' },
      'tag vigil-webhook must be an https URL',
    ],
    [
      'a webhook with credentials',
      { 'vigil-rotation': 'random', 'vigil-webhook': 'https://u:p@hooks.example.org' },
      'without credentials',
    ],
    [
      'a webhook that is no URL',
      { 'vigil-rotation': 'random', 'vigil-webhook': 'hooks' },
      'tag vigil-webhook must be an https URL',
    ],
    [
      'validity of 30 days',
      { ...single, 'vigil-validity-days': '30' },
      'tag vigil-validity-days must be a whole number from 31 to 365 (Key Vault warns 30 days',
    ],
    ['validity of 366 days', { ...single, 'vigil-validity-days': '366' }, 'from 31 to 365'],
    [
      'validity of 1.5 days',
      { ...single, 'vigil-validity-days': '60.5' },
      'tag vigil-validity-days must be a whole number',
    ],
    [
      'a password of 15 characters',
      { ...single, 'vigil-password-length': '15' },
      'tag vigil-password-length must be a whole number from 16 to 128',
    ],
    ['a password of 129 characters', { ...single, 'vigil-password-length': '129' }, 'from 16 to 128'],
    [
      'an unknown alphabet',
      { ...single, 'vigil-password-alphabet': 'ascii' },
      'tag vigil-password-alphabet must be one of unreserved, alphanumeric',
    ],
  ])('rejects %s', (_, tags, message) => {
    const act = () => parseRotationTags(tags);
    expect(act).toThrow(RotationTagError);
    expect(act).toThrow(message);
  });

  it('names the offending tag on the error', () => {
    expect(() => parseRotationTags({ ...single, 'vigil-port': '99999' })).toThrow(
      expect.objectContaining({ name: 'RotationTagError', tag: 'vigil-port' }),
    );
  });
});
