import { z } from 'zod';

/**
 * One automated action Vigil took, in the platform's audit record shape (contracts.md,
 * "Incidents and paging"). It names what was touched, never a secret value.
 */
export interface AuditRecord {
  /** Unique per action; deterministic ids let a repeated step overwrite rather than duplicate. */
  id: string;
  /** ISO 8601 UTC. */
  timestamp: string;
  /** Who acted: Vigil's identity, or the principal that asked for it. */
  actor: string;
  action: AuditAction;
  resource_type: string;
  resource_id: string;
  ip_address?: string;
  user_agent?: string;
  /** Correlation id: the orchestration instance, event id or HTTP request id. */
  request_id: string;
  status: AuditStatus;
  metadata: AuditMetadata;
}

export const AUDIT_ACTIONS = ['create', 'read', 'update', 'delete'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const AUDIT_STATUSES = ['success', 'failure'] as const;
export type AuditStatus = (typeof AUDIT_STATUSES)[number];
export type AuditMetadata = Record<string, string | number | boolean>;

/** What a caller describes; `id` and `timestamp` come from the caller's context (deterministic in orchestrations). */
export type AuditInput = Omit<AuditRecord, 'id' | 'timestamp' | 'metadata'> & { metadata?: AuditMetadata };

/** An audit record is malformed or could carry secret material; the message names each field and rule. */
export class AuditRecordError extends Error {
  override name = 'AuditRecordError';
  readonly problems: string[];
  constructor(problems: string[], options?: ErrorOptions) {
    super(`Invalid audit record: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}

export const AUDIT_LIMITS = { metadataKeys: 32, metadataValueLength: 2048 } as const;

// Control characters would let one record forge a second line in a log.
const printable = /^[^\p{Cc}]*$/u;

const text = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(printable, 'must not contain control characters');

const identifier = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .regex(
      new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,${max - 1}}$`),
      `must be 1-${max} letters, digits or . _ : / @ + = -, starting with a letter or digit`,
    );

const metadata = z
  .record(z.string(), z.unknown(), { error: 'must be an object of strings, numbers and booleans' })
  .superRefine((value, context) => {
    const keys = Object.keys(value);
    if (keys.length > AUDIT_LIMITS.metadataKeys)
      context.addIssue({ code: 'custom', message: `must have at most ${AUDIT_LIMITS.metadataKeys} keys` });
    for (const key of keys) {
      const problem = metadataKeyProblem(key) ?? metadataValueProblem(value[key]);
      if (problem) context.addIssue({ code: 'custom', path: [key], message: problem });
    }
  })
  .transform((value) => value as AuditMetadata);

const auditRecordSchema = z.strictObject(
  {
    id: identifier(256),
    timestamp: z.iso.datetime({ error: 'must be an ISO 8601 UTC date-time' }),
    actor: text(256),
    action: z.enum(AUDIT_ACTIONS, { error: `must be one of ${AUDIT_ACTIONS.join(', ')}` }),
    resource_type: z
      .string({ error: 'must be a string' })
      .regex(
        /^[A-Za-z][A-Za-z0-9./_-]{0,127}$/,
        'must be 1-128 letters, digits or . / _ -, starting with a letter',
      ),
    resource_id: text(1024),
    ip_address: z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' }).optional(),
    user_agent: text(512).optional(),
    request_id: identifier(256),
    status: z.enum(AUDIT_STATUSES, { error: `must be one of ${AUDIT_STATUSES.join(', ')}` }),
    metadata,
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `has unknown field(s) ${issue.keys.join(', ')}: only the contract's fields are allowed`
        : 'must be an object',
  },
);

/**
 * Builds a validated audit record. Refuses, naming the field and the rule, anything malformed and
 * any metadata key that names secret material (password, token, key, connection string…) or value
 * that looks like a credential, so a secret cannot be recorded by accident.
 * @throws AuditRecordError
 * @example
 * createAuditRecord(
 *   { actor: 'vigil', action: 'update', resource_type: 'secret', resource_id: 'kv-1/db-app',
 *     request_id: 'rotate-secret:kv-1:db-app', status: 'success', metadata: { step: 'promote' } },
 *   { id: 'rotate-secret:kv-1:db-app:promote', now: new Date() },
 * );
 */
export function createAuditRecord(input: AuditInput, context: { id: string; now: Date }): AuditRecord {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime()))
    throw new AuditRecordError(['now must be a valid Date']);
  const timestamp = context.now.toISOString();
  return parseAuditRecord({ ...input, metadata: input.metadata ?? {}, id: context.id, timestamp });
}

/**
 * Validates a value that should be an audit record, e.g. one that crossed a Durable activity
 * boundary as plain JSON. Same rules as {@link createAuditRecord}.
 * @throws AuditRecordError
 * @example
 * const records = input.records.map(parseAuditRecord);
 */
export function parseAuditRecord(value: unknown): AuditRecord {
  const parsed = auditRecordSchema.safeParse(value);
  if (!parsed.success) {
    throw new AuditRecordError(
      parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'record'} ${issue.message}`),
    );
  }
  const { ip_address, user_agent, ...required } = parsed.data;
  return {
    ...required,
    ...(ip_address !== undefined && { ip_address }),
    ...(user_agent !== undefined && { user_agent }),
  };
}

// Words that name secret material wherever they appear in a key.
const secretWords = new Set([
  'password',
  'passwords',
  'passwd',
  'pwd',
  'passphrase',
  'passcode',
  'token',
  'tokens',
  'bearer',
  'authorization',
  'cookie',
  'cookies',
  'apikey',
  'privatekey',
  'sas',
  'signature',
  'connectionstring',
  'connstr',
  'plaintext',
  'cleartext',
]);
// Words that name secret material unless a descriptor follows: `secret_name` is a name, `client_secret` a value.
const guardedWords = new Set(['secret', 'secrets', 'key', 'keys', 'credential', 'credentials']);
const descriptors = new Set([
  'name',
  'names',
  'id',
  'ids',
  'version',
  'versions',
  'uri',
  'url',
  'kind',
  'type',
  'count',
  'vault',
  'expiry',
  'expires',
  'tags',
  'stage',
]);
// Secret material spelled without separators (`adminpassword`, `accountkey`).
const secretFragments =
  /password|passwd|passphrase|secretvalue|clientsecret|connectionstring|apikey|privatekey|accesskey|accountkey|sharedkey|sastoken|accesstoken|refreshtoken|bearer/;

/**
 * Why a metadata key may not be used, or undefined when it may: keys name secret material
 * (password, token, key, connection string…) in any casing or separator style.
 * @example
 * metadataKeyProblem('secret_name'); // undefined
 * metadataKeyProblem('dbPassword'); // 'names secret material (password): …'
 */
export function metadataKeyProblem(key: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(key))
    return 'key must be 1-64 letters, digits or _, starting with a letter';
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split('_')
    .filter(Boolean);
  const refuse = (what: string) =>
    `names secret material (${what}): record a reference such as the secret name or version instead`;
  if (words.length === 1 && (words[0] === 'value' || words[0] === 'values')) return refuse('value');
  const fragment = secretFragments.exec(words.join(''));
  if (fragment) return refuse(fragment[0]);
  for (const [index, word] of words.entries()) {
    if (secretWords.has(word)) return refuse(word);
    if (!guardedWords.has(word)) continue;
    const next = words[index + 1];
    const aloneAsSecretName = words.length === 1 && word === 'secret';
    if (!aloneAsSecretName && (next === undefined || !descriptors.has(next))) return refuse(word);
  }
  return undefined;
}

// Credential-shaped text: `Password=…;`, `AccountKey=…`, `sig=…`, `user:pass@host`, bearer tokens and JWTs.
// A `[redacted]` placeholder (see core/events.ts withoutSecrets) is not a credential.
/** The names a credential goes by in connection and query strings; core/events.ts redacts the same. */
export const CREDENTIAL_NAMES =
  'password|pwd|accountkey|sharedaccesskey|accesskey|sig|client_secret|api[-_]?key|token';
const credentialPatterns = [
  new RegExp(`\\b(?:${CREDENTIAL_NAMES})\\s*[=:]\\s*(?!\\[redacted\\])[^\\s;&,'"]+`, 'i'),
  /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:(?!\[redacted\]@)[^/\s@]+@/i,
  /\bbearer\s+[A-Za-z0-9._~+/-]{16,}/i,
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

/**
 * True when `text` contains something shaped like a credential (a connection string password,
 * a URL with user:password, a bearer token, a JWT, a private key). Used to refuse recording it.
 * @example
 * looksLikeCredential('Host=db;Password=hunter2;'); // true
 */
export function looksLikeCredential(text: string): boolean {
  return credentialPatterns.some((pattern) => pattern.test(text));
}

function metadataValueProblem(value: unknown): string | undefined {
  if (typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'must be a finite number';
  if (typeof value !== 'string') return 'must be a string, a finite number or a boolean';
  if (value.length > AUDIT_LIMITS.metadataValueLength)
    return `must be at most ${AUDIT_LIMITS.metadataValueLength} characters`;
  if (looksLikeCredential(value))
    return 'looks like a credential (connection string, token or URL with a password): record a reference instead';
  return undefined;
}
