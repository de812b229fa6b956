import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ALPHABETS,
  DEFAULT_PASSWORD_POLICY,
  FORBIDDEN_CHARACTERS,
  generatePassword,
  type PasswordPolicy,
  PasswordPolicyError,
} from '../../../../src/core/rotation/password.js';

const csprng = (size: number) => new Uint8Array(randomBytes(size));

/** A random source that replays fixed bytes, to pin down the sampling rule. */
function replay(...bytes: number[]) {
  let next = 0;
  return (size: number) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = bytes[next++ % bytes.length] ?? 0;
    return out;
  };
}

describe('generatePassword', () => {
  it('draws 32 characters from the unreserved alphabet by default, never a forbidden one', () => {
    for (let i = 0; i < 200; i++) {
      const password = generatePassword(DEFAULT_PASSWORD_POLICY, csprng);
      expect(password).toHaveLength(32);
      expect(password).toMatch(/^[A-Za-z0-9._~-]+$/);
      for (const c of ':/@"\'\\') expect(password).not.toContain(c);
    }
  });

  it.each([
    ['default', DEFAULT_PASSWORD_POLICY],
    ['alphanumeric, 16', { length: 16, alphabet: ALPHABETS.alphanumeric, requireEachClass: true }],
  ])('always contains every character class of the %s policy', (_, policy) => {
    for (let i = 0; i < 300; i++) {
      const password = generatePassword(policy, csprng);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[0-9]/);
      if (policy.alphabet.includes('~')) expect(password).toMatch(/[-._~]/);
    }
  });

  it('rejects bytes that would bias the draw instead of folding them with a modulo', () => {
    // 66 characters: 256 - 256 % 66 = 198, so bytes 198..255 must be skipped, not mapped.
    const policy = { length: 16, alphabet: ALPHABETS.unreserved, requireEachClass: false };
    const password = generatePassword(policy, replay(198, 255, 0, 65, 66));
    expect(password.slice(0, 3)).toBe('a~a');
  });

  it('is statistically uniform over the alphabet (chi-squared sanity check)', () => {
    const policy = { length: 128, alphabet: ALPHABETS.unreserved, requireEachClass: false };
    const counts = new Map<string, number>();
    const draws = 2000;
    for (let i = 0; i < draws; i++)
      for (const c of generatePassword(policy, csprng)) counts.set(c, (counts.get(c) ?? 0) + 1);
    const size = policy.alphabet.length;
    const expected = (draws * policy.length) / size;
    const chiSquared = [...policy.alphabet].reduce(
      (sum, c) => sum + ((counts.get(c) ?? 0) - expected) ** 2 / expected,
      0,
    );
    // 65 degrees of freedom: the 99.99th percentile is about 121; a modulo bias on 66 symbols gives thousands.
    expect(counts.size).toBe(size);
    expect(chiSquared).toBeLessThan(121);
  });

  it('would catch a modulo-biased source (the check above can fail)', () => {
    const biased = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~';
    const counts = new Map<string, number>();
    const bytes = randomBytes(2000 * 128);
    for (const byte of bytes)
      counts.set(biased[byte % 66] ?? '', (counts.get(biased[byte % 66] ?? '') ?? 0) + 1);
    const expected = bytes.length / 66;
    const chiSquared = [...counts.values()].reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    expect(chiSquared).toBeGreaterThan(121);
  });

  it('never echoes three consecutive letters or digits of a name to avoid, in any case', () => {
    // A 16-letter alphabet makes fragments of "Abcdef" frequent, so the rejection really runs.
    const policy = {
      length: 16,
      alphabet: 'abcdefABCDEF1234',
      requireEachClass: false,
      avoidFragmentsOf: ['Abc-def'],
    };
    for (let i = 0; i < 300; i++) {
      const lower = generatePassword(policy, csprng).toLowerCase();
      for (const fragment of ['abc', 'def']) expect(lower).not.toContain(fragment);
    }
  });

  it('treats names shorter than three letters or digits as nothing to avoid', () => {
    const policy = { ...DEFAULT_PASSWORD_POLICY, avoidFragmentsOf: ['a-b', 'x'] };
    expect(generatePassword(policy, replay(0, 26, 52, 62))).toBe('aA0-'.repeat(8));
  });

  it('produces distinct passwords', () => {
    const seen = new Set(
      Array.from({ length: 1000 }, () => generatePassword(DEFAULT_PASSWORD_POLICY, csprng)),
    );
    expect(seen.size).toBe(1000);
  });

  const policy = (change: Partial<PasswordPolicy>): PasswordPolicy => ({
    ...DEFAULT_PASSWORD_POLICY,
    ...change,
  });
  it.each([
    ['too short', policy({ length: 15 }), 'password length must be an integer from 16 to 128, got 15'],
    ['too long', policy({ length: 129 }), 'from 16 to 128, got 129'],
    ['fractional', policy({ length: 20.5 }), 'password length must be an integer'],
    ['a tiny alphabet', policy({ alphabet: 'abc' }), 'password alphabet must have 10 to 256 characters'],
    ['a repeated character', policy({ alphabet: 'abcdefghijka' }), 'must not repeat a character'],
    ['a space', policy({ alphabet: `${ALPHABETS.alphanumeric} ` }), 'must not contain " "'],
    ['a non-ASCII letter', policy({ alphabet: `${ALPHABETS.alphanumeric}é` }), 'must not contain "é"'],
    ...[...FORBIDDEN_CHARACTERS].map((c): [string, PasswordPolicy, string] => [
      `the forbidden ${JSON.stringify(c)}`,
      policy({ alphabet: `${ALPHABETS.alphanumeric}${c}` }),
      `must not contain ${JSON.stringify(c)}: unsafe in connection strings or URIs`,
    ]),
  ])('rejects a policy with %s', (_, bad, message) => {
    const act = () => generatePassword(bad, csprng);
    expect(act).toThrow(PasswordPolicyError);
    expect(act).toThrow(message);
  });

  it('gives up with a clear error when the random source never yields every class', () => {
    const onlyLetterA = replay(0);
    expect(() => generatePassword(DEFAULT_PASSWORD_POLICY, onlyLetterA)).toThrow(
      'no acceptable password (every character class, no name fragment) after 1000 attempts',
    );
  });

  it('fails clearly on a random source that returns nothing', () => {
    expect(() => generatePassword(DEFAULT_PASSWORD_POLICY, () => new Uint8Array(0))).toThrow(
      'the random source returned no bytes',
    );
  });

  it('forbids every character the contract names', () => {
    for (const c of ':/@"\'\\') expect(FORBIDDEN_CHARACTERS).toContain(c);
  });
});
