import { describe, expect, it } from 'vitest';
import {
  inactiveRole,
  isPromoted,
  nextExpiry,
  pendingDecision,
  pendingSecretName,
  pendingTags,
  promotedTags,
  RotationStateError,
  rotationInstanceId,
  rotationNeed,
  sweepVerdict,
  type VersionView,
} from '../../../../src/core/rotation/steps.js';

const now = new Date('2025-01-01T00:00:00Z');
const days = (n: number) => new Date(now.getTime() + n * 24 * 3600_000);

describe('rotationInstanceId', () => {
  it('is the same for every spelling of one secret and differs between secrets', () => {
    expect(rotationInstanceId('Sample-KV', ' DbPassword')).toBe(
      rotationInstanceId('sample-kv', 'dbpassword'),
    );
    expect(rotationInstanceId('sample-kv', 'a')).not.toBe(rotationInstanceId('sample-kv', 'b'));
    expect(rotationInstanceId('kv-a', 'x')).not.toBe(rotationInstanceId('kv-b', 'x'));
  });
});

describe('nextExpiry', () => {
  it.each([
    [60, '2025-03-02T00:00:00.000Z'],
    [31, '2025-02-01T00:00:00.000Z'],
    [365, '2026-01-01T00:00:00.000Z'],
  ])('adds %i days', (validity, expected) => {
    expect(nextExpiry(now, validity).toISOString()).toBe(expected);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects a validity of %s days', (validity) => {
    expect(() => nextExpiry(now, validity)).toThrow('validityDays must be a whole number ≥ 1');
  });
});

describe('inactiveRole', () => {
  const roles = ['app', 'app_clone'] as const;
  it.each([
    [{ 'vigil-active-role': 'app' }, 'app_clone'],
    [{ 'vigil-active-role': 'app_clone' }, 'app'],
    [{ ' Vigil-Active-Role ': ' app_clone ' }, 'app'],
    [{}, 'app_clone'],
    [undefined, 'app_clone'],
  ])('given current tags %o rotates %s', (tags, expected) => {
    expect(inactiveRole(roles, tags)).toBe(expected);
  });

  it('refuses a current version naming a role outside the pair', () => {
    const act = () => inactiveRole(roles, { 'vigil-active-role': 'intruder' });
    expect(act).toThrow(RotationStateError);
    expect(act).toThrow('names "intruder", which is neither "app" nor "app_clone"');
  });
});

describe('sweepVerdict', () => {
  it.each([
    [undefined, 'no-expiry'],
    [days(-1), 'expired'],
    [now, 'expired'],
    [days(29), 'near-expiry'],
    [days(30), 'near-expiry'],
    [days(31), 'valid'],
  ])('expiry %s is %s', (expiresOn, verdict) => {
    expect(sweepVerdict(expiresOn, now)).toBe(verdict);
  });
});

describe('pendingSecretName and pendingTags', () => {
  it('names the companion secret and tags it for its owner and rotation', () => {
    expect(pendingSecretName('db-app')).toBe('db-app-pending');
    expect(pendingTags('db-app', 'rot-1')).toEqual({
      'vigil-pending-for': 'db-app',
      'vigil-rotation-id': 'rot-1',
    });
    expect(pendingTags('db-app', 'rot-1', 'app_clone')).toMatchObject({ 'vigil-active-role': 'app_clone' });
  });

  it('refuses a secret name that leaves no room for the suffix', () => {
    expect(pendingSecretName('a'.repeat(119))).toHaveLength(127);
    expect(() => pendingSecretName('a'.repeat(120))).toThrow(RotationStateError);
    expect(() => pendingSecretName('a'.repeat(120))).toThrow('must be at most 119 characters');
  });
});

describe('pendingDecision', () => {
  const version = (id: string, rotationId: string, enabled = true, createdDay = 0): VersionView => ({
    version: id,
    enabled,
    createdOn: days(createdDay),
    tags: { 'vigil-pending-for': 'db-app', 'vigil-rotation-id': rotationId },
  });

  it('creates afresh when nothing is pending', () => {
    expect(pendingDecision([], 'db-app', 'rot-2')).toEqual({ stale: [] });
    expect(pendingDecision([version('v1', 'rot-1', false)], 'db-app', 'rot-2')).toEqual({ stale: [] });
  });

  it('resumes its own pending version and cleans another rotation’s leftover', () => {
    const ours = version('v3', 'rot-2', true, 2);
    const leftover = version('v2', 'rot-1', true, 1);
    expect(pendingDecision([leftover, ours], 'db-app', 'rot-2')).toEqual({ resume: ours, stale: [leftover] });
  });

  it('prefers the newest enabled pending version of its own and leaves disabled ones alone', () => {
    const older = version('v2', 'rot-2', true, 1);
    const newer = version('v3', 'rot-2', true, 2);
    const cleaned = version('v4', 'rot-1', false, 3);
    const abandoned = version('v5', 'rot-2', false, 4);
    expect(pendingDecision([older, newer, cleaned, abandoned], 'db-app', 'rot-2')).toEqual({
      resume: newer,
      stale: [older],
    });
  });

  it('refuses a companion secret that is not Vigil’s', () => {
    const foreign: VersionView = { version: 'x1', enabled: true, tags: { owner: 'someone' } };
    const act = () => pendingDecision([foreign], 'db-app', 'rot-2');
    expect(act).toThrow(RotationStateError);
    expect(act).toThrow('db-app-pending exists but is not Vigil');
  });
});

describe('isPromoted and promotedTags', () => {
  it('recognises the version this rotation wrote', () => {
    const current: VersionView = { version: 'v2', enabled: true, tags: { ' Vigil-Rotation-Id ': 'rot-2' } };
    expect(isPromoted(current, 'rot-2')).toBe(true);
    expect(isPromoted(current, 'rot-3')).toBe(false);
    expect(isPromoted({ version: 'v1', enabled: true }, 'rot-2')).toBe(false);
    expect(isPromoted(undefined, 'rot-2')).toBe(false);
  });

  it('keeps the owners’ tags and replaces Vigil’s version tags', () => {
    const tags = {
      'vigil-rotation': 'postgres-alternating',
      owner: 'a',
      'vigil-rotation-id': 'old',
      'vigil-active-role': 'app',
    };
    expect(promotedTags(tags, 'rot-2', 'app_clone')).toEqual({
      'vigil-rotation': 'postgres-alternating',
      owner: 'a',
      'vigil-rotation-id': 'rot-2',
      'vigil-active-role': 'app_clone',
    });
    expect(promotedTags(undefined, 'rot-2')).toEqual({ 'vigil-rotation-id': 'rot-2' });
  });
});

describe('rotationNeed', () => {
  const current: VersionView = { version: 'V2', enabled: true };
  it.each([
    [{ reason: 'near-expiry', version: 'v2' } as const, true],
    [{ reason: 'expired', version: 'v2' } as const, true],
    [{ reason: 'near-expiry', version: 'v1' } as const, false],
    [{ reason: 'expired', version: 'v1' } as const, false],
    [{ reason: 'sweep', verdict: 'no-expiry' } as const, true],
    [{ reason: 'on-demand', requestedBy: 'Ada' } as const, true],
  ])('%o rotates: %s', (trigger, rotate) => {
    expect(rotationNeed(trigger, current, now).rotate).toBe(rotate);
  });

  it('says why a stale event does not rotate', () => {
    expect(rotationNeed({ reason: 'expired', version: 'v1' }, current, now)).toEqual({
      rotate: false,
      reason: 'the expired event is about version v1, but the current version is V2: already rotated',
    });
  });

  it('takes a sweep verdict again from the current version: a rotation done since leaves nothing due', () => {
    const sweep = { reason: 'sweep', verdict: 'near-expiry' } as const;
    const rotated: VersionView = { version: 'v3', enabled: true, expiresOn: days(60) };
    expect(rotationNeed(sweep, rotated, now)).toEqual({
      rotate: false,
      reason: `the sweep found the secret near-expiry, but the current version v3 is valid until ${days(60).toISOString()}: already rotated`,
    });
    expect(rotationNeed(sweep, { ...rotated, expiresOn: days(29) }, now).rotate).toBe(true);
    expect(rotationNeed(sweep, { ...rotated, expiresOn: days(-1) }, now).rotate).toBe(true);
  });
});
