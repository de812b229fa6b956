import { withoutUndefined } from './compact.js';
import { SECRET_NAME } from './keyVaultEvent.js';
import { ALPHABETS, type AlphabetName, DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from './password.js';
import { VERSION_TAGS } from './steps.js';

/**
 * The secret tags Vigil reads. Keys are matched ignoring case and surrounding spaces; other tags
 * are left alone, but an unknown `vigil-` tag is an error so a typo never silently disables a setting.
 * README.md in this folder documents each one.
 */
export const ROTATION_TAGS = {
  kind: 'vigil-rotation',
  host: 'vigil-host',
  port: 'vigil-port',
  database: 'vigil-database',
  sslMode: 'vigil-sslmode',
  role: 'vigil-role',
  alternateRole: 'vigil-role-alternate',
  adminSecret: 'vigil-admin-secret',
  adminRole: 'vigil-admin-role',
  resourceId: 'vigil-resource-id',
  validityDays: 'vigil-validity-days',
  passwordLength: 'vigil-password-length',
  passwordAlphabet: 'vigil-password-alphabet',
  webhook: 'vigil-webhook',
} as const;
type TagKey = keyof typeof ROTATION_TAGS;

export const ROTATION_KINDS = [
  'postgres-role',
  'postgres-alternating',
  'postgres-flexible-admin',
  'random',
] as const;
export type RotationKind = (typeof ROTATION_KINDS)[number];

/** libpq sslmode values Vigil accepts; `allow` and `prefer` are refused: they downgrade silently. */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const VALIDITY_DAYS = { min: 31, max: 365, default: 60 } as const;

export interface PostgresEndpoint {
  host: string;
  port: number;
  database: string;
  sslMode: SslMode;
}

/** Another secret in the same vault holding the password of a role allowed to `ALTER ROLE`. */
export interface AdminCredentialRef {
  secretName: string;
  role: string;
}

export interface FlexibleServerRef {
  resourceId: string;
  subscriptionId: string;
  resourceGroup: string;
  serverName: string;
}

export type RotationTarget =
  | { kind: 'postgres-role'; endpoint: PostgresEndpoint; role: string; admin?: AdminCredentialRef }
  | {
      kind: 'postgres-alternating';
      endpoint: PostgresEndpoint;
      roles: readonly [string, string];
      admin: AdminCredentialRef;
    }
  | {
      kind: 'postgres-flexible-admin';
      server: FlexibleServerRef;
      /** Overrides for what ARM reports (`fullyQualifiedDomainName`, `administratorLogin`). */
      endpoint: Omit<PostgresEndpoint, 'host'> & { host?: string };
      role?: string;
    }
  | { kind: 'random'; webhookUrl?: string };

export interface RotationPlan {
  marked: true;
  target: RotationTarget;
  validityDays: number;
  password: PasswordPolicy;
}

export interface NotMarked {
  marked: false;
  reason: string;
}

/** Tags that cannot describe a rotation; the secret is not rotated and the error is recorded. */
export class RotationTagError extends Error {
  override name = 'RotationTagError';

  constructor(
    readonly tag: string,
    rule: string,
  ) {
    super(`tag ${tag} ${rule}`);
  }
}

/** Which tags each kind accepts beyond the common ones; any other `vigil-` tag contradicts the kind. */
const KIND_TAGS: Record<RotationKind, readonly TagKey[]> = {
  'postgres-role': ['host', 'port', 'database', 'sslMode', 'role', 'adminSecret', 'adminRole'],
  'postgres-alternating': [
    'host',
    'port',
    'database',
    'sslMode',
    'role',
    'alternateRole',
    'adminSecret',
    'adminRole',
  ],
  'postgres-flexible-admin': ['host', 'port', 'database', 'sslMode', 'role', 'resourceId'],
  random: ['webhook'],
};
const COMMON_TAGS: readonly TagKey[] = ['kind', 'validityDays', 'passwordLength', 'passwordAlphabet'];
const DISABLED = ['off', 'disabled', 'none', 'false'];

const FLEXIBLE_SERVER_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])$/i;
const HOST = /^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$/i;
const RESERVED_ROLES = ['public', 'none', 'current_user', 'session_user', 'current_role'];
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Reads a secret's rotation settings from its tags.
 * @returns the plan, or `{ marked: false }` with the reason when the secret is not Vigil's to rotate.
 * @throws RotationTagError for a missing, malformed or contradictory tag.
 * @example
 * const plan = parseRotationTags({ 'vigil-rotation': 'postgres-role', 'vigil-host': 'db.internal', 'vigil-role': 'app' });
 * if (plan.marked) console.log(plan.target.kind, plan.validityDays); // postgres-role 60
 */
export function parseRotationTags(
  tags: Readonly<Record<string, string | undefined>> | undefined,
): RotationPlan | NotMarked {
  const read = normalizeTags(tags ?? {});
  const kindText = read.get(ROTATION_TAGS.kind);
  if (kindText === undefined) return { marked: false, reason: `no ${ROTATION_TAGS.kind} tag` };
  if (DISABLED.includes(kindText.toLowerCase()))
    return { marked: false, reason: `${ROTATION_TAGS.kind} is "${kindText}"` };
  const kind = parseKind(kindText);
  rejectForeignTags(read, kind);
  return {
    marked: true,
    target: parseTarget(kind, read),
    validityDays: parseValidityDays(read),
    password: parsePasswordPolicy(read),
  };
}

type TagReader = Map<string, string>;

function normalizeTags(tags: Readonly<Record<string, string | undefined>>): TagReader {
  const known = new Set<string>(Object.values(ROTATION_TAGS));
  // Tags Vigil writes on the versions it creates are its bookkeeping, not settings.
  const written = new Set<string>(Object.values(VERSION_TAGS));
  const read: TagReader = new Map();
  for (const [rawKey, rawValue] of Object.entries(tags)) {
    const key = rawKey.trim().toLowerCase();
    if (!key.startsWith('vigil-') || written.has(key) || rawValue === undefined) continue;
    if (!known.has(key))
      throw new RotationTagError(rawKey.trim(), `is not a Vigil tag; known tags: ${[...known].join(', ')}`);
    const value = rawValue.trim();
    const previous = read.get(key);
    if (previous !== undefined && previous !== value)
      throw new RotationTagError(key, 'is set twice (ignoring case) with different values');
    if (value !== '') read.set(key, value);
  }
  return read;
}

function parseKind(text: string): RotationKind {
  const kind = ROTATION_KINDS.find((k) => k === text.toLowerCase());
  if (kind === undefined)
    throw new RotationTagError(
      ROTATION_TAGS.kind,
      `must be one of ${ROTATION_KINDS.join(', ')} or off, got "${text}"`,
    );
  return kind;
}

function rejectForeignTags(read: TagReader, kind: RotationKind): void {
  const allowed = new Set<string>([...COMMON_TAGS, ...KIND_TAGS[kind]].map((key) => ROTATION_TAGS[key]));
  for (const key of read.keys())
    if (!allowed.has(key)) throw new RotationTagError(key, `does not apply to ${ROTATION_TAGS.kind}=${kind}`);
}

function parseTarget(kind: RotationKind, read: TagReader): RotationTarget {
  switch (kind) {
    case 'postgres-role':
      return withoutUndefined({
        kind,
        endpoint: parseEndpoint(read, true),
        role: parseRole(read, 'role', true),
        admin: parseAdmin(read, false),
      });
    case 'postgres-alternating':
      return parseAlternating(read);
    case 'postgres-flexible-admin':
      return withoutUndefined({
        kind,
        server: parseFlexibleServer(read),
        endpoint: withoutUndefined(parseEndpoint(read, false)),
        role: parseRole(read, 'role', false),
      });
    case 'random':
      return withoutUndefined({ kind, webhookUrl: parseWebhook(read) });
  }
}

function parseAlternating(read: TagReader): RotationTarget {
  const first = parseRole(read, 'role', true);
  const second = parseRole(read, 'alternateRole', true);
  if (first === second)
    throw new RotationTagError(ROTATION_TAGS.alternateRole, `must differ from ${ROTATION_TAGS.role}`);
  const admin = parseAdmin(read, true);
  if (admin.role === first || admin.role === second)
    throw new RotationTagError(
      ROTATION_TAGS.adminRole,
      'must not be one of the alternating roles it rotates',
    );
  return { kind: 'postgres-alternating', endpoint: parseEndpoint(read, true), roles: [first, second], admin };
}

function parseEndpoint(read: TagReader, hostRequired: true): PostgresEndpoint;
function parseEndpoint(
  read: TagReader,
  hostRequired: false,
): Omit<PostgresEndpoint, 'host'> & { host?: string };
function parseEndpoint(
  read: TagReader,
  hostRequired: boolean,
): Omit<PostgresEndpoint, 'host'> & { host?: string } {
  const host = read.get(ROTATION_TAGS.host);
  if (host === undefined && hostRequired) throw missing('host');
  if (host !== undefined && !HOST.test(host))
    throw new RotationTagError(
      ROTATION_TAGS.host,
      'must be a host name or IP address (no scheme, port or path)',
    );
  return {
    host,
    port: parseInteger(read, 'port', 1, 65535, 5432),
    database: parseIdentifier(read, 'database') ?? 'postgres',
    sslMode: parseSslMode(read),
  };
}

function parseSslMode(read: TagReader): SslMode {
  const text = read.get(ROTATION_TAGS.sslMode);
  if (text === undefined) return 'verify-full';
  const mode = SSL_MODES.find((m) => m === text.toLowerCase());
  if (mode === undefined)
    throw new RotationTagError(
      ROTATION_TAGS.sslMode,
      `must be one of ${SSL_MODES.join(', ')} (allow and prefer fall back to plaintext silently), got "${text}"`,
    );
  return mode;
}

function parseRole(read: TagReader, key: 'role' | 'alternateRole' | 'adminRole', required: true): string;
function parseRole(
  read: TagReader,
  key: 'role' | 'alternateRole' | 'adminRole',
  required: false,
): string | undefined;
function parseRole(
  read: TagReader,
  key: 'role' | 'alternateRole' | 'adminRole',
  required: boolean,
): string | undefined {
  const role = parseIdentifier(read, key);
  if (role === undefined && required) throw missing(key);
  if (role === undefined) return undefined;
  if (RESERVED_ROLES.includes(role.toLowerCase()) || role.toLowerCase().startsWith('pg_'))
    throw new RotationTagError(ROTATION_TAGS[key], `must not be a reserved role name ("${role}")`);
  return role;
}

/** A PostgreSQL identifier: at most 63 bytes (NAMEDATALEN - 1), never a NUL. */
function parseIdentifier(read: TagReader, key: TagKey): string | undefined {
  const value = read.get(ROTATION_TAGS[key]);
  if (value === undefined) return undefined;
  if (new TextEncoder().encode(value).length > MAX_IDENTIFIER_BYTES || value.includes('\0'))
    throw new RotationTagError(
      ROTATION_TAGS[key],
      `must be a PostgreSQL name of at most ${MAX_IDENTIFIER_BYTES} bytes without NUL`,
    );
  return value;
}

function parseAdmin(read: TagReader, required: true): AdminCredentialRef;
function parseAdmin(read: TagReader, required: false): AdminCredentialRef | undefined;
function parseAdmin(read: TagReader, required: boolean): AdminCredentialRef | undefined {
  const secretName = read.get(ROTATION_TAGS.adminSecret);
  const role = parseRole(read, 'adminRole', false);
  if (secretName === undefined && role === undefined && !required) return undefined;
  if (secretName === undefined) throw missing('adminSecret');
  if (role === undefined) throw missing('adminRole');
  if (!SECRET_NAME.test(secretName))
    throw new RotationTagError(
      ROTATION_TAGS.adminSecret,
      'must be a secret name: 1-127 letters, digits or -',
    );
  return { secretName, role };
}

function parseFlexibleServer(read: TagReader): FlexibleServerRef {
  const resourceId = read.get(ROTATION_TAGS.resourceId);
  if (resourceId === undefined) throw missing('resourceId');
  const match = FLEXIBLE_SERVER_ID.exec(resourceId);
  const [, subscriptionId, resourceGroup, serverName] = match ?? [];
  if (subscriptionId === undefined || resourceGroup === undefined || serverName === undefined)
    throw new RotationTagError(
      ROTATION_TAGS.resourceId,
      'must be /subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}',
    );
  return { resourceId, subscriptionId, resourceGroup, serverName };
}

function parseWebhook(read: TagReader): string | undefined {
  const text = read.get(ROTATION_TAGS.webhook);
  if (text === undefined) return undefined;
  const rule = 'must be an https URL (http only on loopback) without credentials';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RotationTagError(ROTATION_TAGS.webhook, rule);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  const schemeOk = url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
  if (!schemeOk || url.username !== '' || url.password !== '')
    throw new RotationTagError(ROTATION_TAGS.webhook, rule);
  return url.href;
}

function parsePasswordPolicy(read: TagReader): PasswordPolicy {
  const name = read.get(ROTATION_TAGS.passwordAlphabet)?.toLowerCase() ?? 'unreserved';
  if (!isAlphabetName(name))
    throw new RotationTagError(
      ROTATION_TAGS.passwordAlphabet,
      `must be one of ${Object.keys(ALPHABETS).join(', ')}, got "${name}"`,
    );
  return {
    length: parseInteger(read, 'passwordLength', 16, 128, DEFAULT_PASSWORD_POLICY.length),
    alphabet: ALPHABETS[name],
    requireEachClass: true,
  };
}

function isAlphabetName(name: string): name is AlphabetName {
  return Object.hasOwn(ALPHABETS, name);
}

/** At least 31 days: Key Vault raises SecretNearExpiry 30 days ahead, so a shorter validity would rotate again at once. */
function parseValidityDays(read: TagReader): number {
  const { min, max } = VALIDITY_DAYS;
  const why = ' (Key Vault warns 30 days before expiry; a shorter validity would rotate again at once)';
  return parseInteger(read, 'validityDays', min, max, VALIDITY_DAYS.default, why);
}

function parseInteger(
  read: TagReader,
  key: TagKey,
  min: number,
  max: number,
  fallback: number,
  why = '',
): number {
  const text = read.get(ROTATION_TAGS[key]);
  if (text === undefined) return fallback;
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max))
    throw new RotationTagError(
      ROTATION_TAGS[key],
      `must be a whole number from ${min} to ${max}${why}, got "${text}"`,
    );
  return value;
}

function missing(key: TagKey): RotationTagError {
  return new RotationTagError(ROTATION_TAGS[key], 'is required for this kind of rotation');
}

/**
 * Whether Vigil should look at a secret at all, and why: bad tags count as marked, so that a
 * run starts and records the error instead of the secret being skipped in silence.
 * @example
 * rotationMark({ 'vigil-rotation': 'random' }); // { marked: true, why: 'random' }
 */
export function rotationMark(tags: Record<string, string>): { marked: boolean; why: string } {
  try {
    const plan = parseRotationTags(tags);
    return plan.marked ? { marked: true, why: plan.target.kind } : { marked: false, why: plan.reason };
  } catch (error) {
    if (error instanceof RotationTagError) return { marked: true, why: `bad tags: ${error.message}` };
    throw error;
  }
}
