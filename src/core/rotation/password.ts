/** A cryptographically secure source of random bytes, injected so core stays pure. */
export type RandomBytes = (size: number) => Uint8Array;

/** How a generated password looks: its length, its alphabet and whether every class must appear. */
export interface PasswordPolicy {
  length: number;
  /** The characters to draw from, each once. */
  alphabet: string;
  /** Require at least one character of every class (lower, upper, digit, symbol) the alphabet has. */
  requireEachClass: boolean;
  /**
   * Names the password must not echo: no run of three or more consecutive letters or digits from
   * any of them may appear, ignoring case (Azure's rule for a Flexible Server administrator and its login).
   */
  avoidFragmentsOf?: readonly string[];
}

/** A password policy that cannot produce a safe password. */
export class PasswordPolicyError extends Error {
  override name = 'PasswordPolicyError';
}

/**
 * Characters never allowed in a password: they break URIs (`:/@?#%&=+[]`), libpq keyword strings
 * and ADO-style connection strings (`;'"\ ` and whitespace), shells and templates (`$`…`{}`).
 */
export const FORBIDDEN_CHARACTERS = ':/@"\'\\`%?#&;=+[]<>{}|^$,! ';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

/** Named alphabets a secret's tags can choose from; raw character lists never come from tags. */
export const ALPHABETS = {
  /** RFC 3986 unreserved characters: safe unencoded in URIs and in every connection string style. */
  unreserved: `${LOWER}${UPPER}${DIGITS}-._~`,
  alphanumeric: `${LOWER}${UPPER}${DIGITS}`,
} as const;
export type AlphabetName = keyof typeof ALPHABETS;

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  length: 32,
  alphabet: ALPHABETS.unreserved,
  requireEachClass: true,
};

export const PASSWORD_LENGTH = { min: 16, max: 128 } as const;

const CLASSES = [LOWER, UPPER, DIGITS] as const;
/** A policy asking for every class: retrying beyond this means the policy is unsatisfiable in practice. */
const MAX_ATTEMPTS = 1000;

/**
 * Draws a password from a CSPRNG without modulo bias: bytes at or above the largest multiple of the
 * alphabet size are rejected. A password missing a required class is discarded whole, so every
 * accepted password is equally likely.
 * @throws PasswordPolicyError if the policy is unsafe or unsatisfiable.
 * @example
 * import { randomBytes } from 'node:crypto';
 * const password = generatePassword(DEFAULT_PASSWORD_POLICY, randomBytes);
 */
export function generatePassword(policy: PasswordPolicy, randomBytes: RandomBytes): string {
  validatePasswordPolicy(policy);
  const required = requiredClasses(policy);
  const fragments = fragmentsOf(policy.avoidFragmentsOf ?? []);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const candidate = drawCharacters(policy.alphabet, policy.length, randomBytes);
    const hasClasses = required.every((members) => [...candidate].some((c) => members.includes(c)));
    const lower = candidate.toLowerCase();
    if (hasClasses && !fragments.some((fragment) => lower.includes(fragment))) return candidate;
  }
  throw new PasswordPolicyError(
    `password policy: no acceptable password (every character class, no name fragment) after ${MAX_ATTEMPTS} attempts; lengthen it`,
  );
}

/**
 * Checks a policy: length within bounds, an alphabet of distinct printable ASCII characters
 * with none of {@link FORBIDDEN_CHARACTERS}, and room for every required class.
 * @example
 * validatePasswordPolicy({ length: 32, alphabet: ALPHABETS.alphanumeric, requireEachClass: true });
 */
export function validatePasswordPolicy(policy: PasswordPolicy): void {
  const { length, alphabet } = policy;
  if (!Number.isInteger(length) || length < PASSWORD_LENGTH.min || length > PASSWORD_LENGTH.max)
    throw new PasswordPolicyError(
      `password length must be an integer from ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max}, got ${length}`,
    );
  const characters = [...alphabet];
  if (characters.length < 10 || characters.length > 256)
    throw new PasswordPolicyError('password alphabet must have 10 to 256 characters');
  if (new Set(characters).size !== characters.length)
    throw new PasswordPolicyError('password alphabet must not repeat a character (it would bias the draw)');
  const unsafe = characters.find((c) => FORBIDDEN_CHARACTERS.includes(c) || !/^[\x21-\x7e]$/.test(c));
  if (unsafe !== undefined)
    throw new PasswordPolicyError(
      `password alphabet must not contain ${JSON.stringify(unsafe)}: unsafe in connection strings or URIs`,
    );
  if (policy.requireEachClass && requiredClasses(policy).length > length)
    throw new PasswordPolicyError(
      'password length must be at least the number of required character classes',
    );
}

/** The character classes present in the alphabet; all of them must appear when the policy asks. */
function requiredClasses(policy: PasswordPolicy): string[] {
  if (!policy.requireEachClass) return [];
  const letters = CLASSES.join('');
  const symbols = [...policy.alphabet].filter((c) => !letters.includes(c)).join('');
  return [...CLASSES, symbols]
    .map((members) => [...members].filter((c) => policy.alphabet.includes(c)).join(''))
    .filter((members) => members.length > 0);
}

/** Every run of three consecutive letters or digits in the names, lower-cased. */
function fragmentsOf(names: readonly string[]): string[] {
  const fragments = new Set<string>();
  for (const name of names)
    for (const run of name.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [])
      for (let i = 0; i + 3 <= run.length; i++) fragments.add(run.slice(i, i + 3));
  return [...fragments];
}

function drawCharacters(alphabet: string, length: number, randomBytes: RandomBytes): string {
  const characters = [...alphabet];
  const size = characters.length;
  // The largest multiple of `size` within a byte: values from here up would favour low indexes.
  const limit = 256 - (256 % size);
  let result = '';
  while (result.length < length) {
    const bytes = randomBytes(length * 2);
    if (bytes.length === 0) throw new PasswordPolicyError('password: the random source returned no bytes');
    for (const byte of bytes) {
      if (byte >= limit) continue;
      result += characters[byte % size] ?? '';
      if (result.length === length) break;
    }
  }
  return result;
}
