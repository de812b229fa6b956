import { describe, expect, it } from 'vitest';
import {
  inactiveRole,
  needsPromotion,
  nextExpiry,
  pendingDecision,
  RotationStateError,
  rotationInstanceId,
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

describe('pendingDecision', () => {
  const version = (
    id: string,
    tags: Record<string, string>,
    enabled = true,
    createdDay = 0,
  ): VersionView => ({
    version: id,
    enabled,
    createdOn: days(createdDay),
    tags,
  });
  const current = version('v1', { 'vigil-stage': 'current' });

  it('creates afresh when nothing is pending', () => {
    expect(pendingDecision([current], 'rot-2')).toEqual({ stale: [] });
  });

  it('resumes its own pending version and cleans another rotation’s leftover', () => {
    const ours = version('v3', { 'vigil-stage': 'pending', 'vigil-rotation-id': 'rot-2' }, true, 2);
    const leftover = version('v2', { 'vigil-stage': 'pending', 'vigil-rotation-id': 'rot-1' }, true, 1);
    expect(pendingDecision([current, leftover, ours], 'rot-2')).toEqual({ resume: ours, stale: [leftover] });
  });

  it('prefers the newest enabled pending version of its own and leaves disabled leftovers alone', () => {
    const older = version('v2', { 'vigil-stage': 'pending', 'vigil-rotation-id': 'rot-2' }, true, 1);
    const newer = version('v3', { 'vigil-stage': 'pending', 'vigil-rotation-id': 'rot-2' }, true, 2);
    const cleaned = version('v4', { 'vigil-stage': 'pending', 'vigil-rotation-id': 'rot-1' }, false, 3);
    expect(pendingDecision([older, newer, cleaned], 'rot-2')).toEqual({ resume: newer, stale: [older] });
  });
});

describe('needsPromotion', () => {
  it.each([
    [{ 'vigil-stage': 'pending' }, true],
    [{ 'vigil-stage': 'current' }, false],
    [undefined, true],
  ])('stage %o needs promotion: %s', (tags, expected) => {
    expect(needsPromotion({ version: 'v', enabled: true, ...(tags ? { tags } : {}) })).toBe(expected);
  });
});
