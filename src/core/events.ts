import { z } from 'zod';
import { CREDENTIAL_NAMES, looksLikeCredential } from './audit.js';

/**
 * An event Vigil publishes to its own Event Grid topic (Event Grid schema). The caller chooses
 * `id` deterministically (e.g. from the rotation id) so that a repeated publish after a crash
 * carries the same id and consumers drop the duplicate.
 */
export interface VigilEvent<Data extends object = object> {
  id: string;
  /** `Vigil.<Name>`, e.g. `Vigil.RotationFailed`. */
  type: string;
  /** What the event is about, as a path: `/vaults/{vault}/secrets/{secret}`. */
  subject: string;
  data: Data;
  /** ISO 8601 UTC: when it happened, not when it was published. */
  time: string;
}

/** An event is malformed or could carry secret material; the message names each field and rule. */
export class VigilEventError extends Error {
  override name = 'VigilEventError';
  readonly problems: string[];
  constructor(problems: string[], options?: ErrorOptions) {
    super(`Invalid Vigil event: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}

/** Event Grid refuses a request above 1 MB; one event must leave room for others in a batch. */
export const MAX_EVENT_DATA_BYTES = 64 * 1024;

const printable = /^[^\p{Cc}]*$/u;
const objectError = {
  error: (issue: { code: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `has unknown field(s) ${(issue.keys ?? []).join(', ')}`
      : 'must be an object',
};
const isoTime = z.iso.datetime({ error: 'must be an ISO 8601 UTC date-time' });

const vigilEventSchema = z.strictObject(
  {
    id: z
      .string({ error: 'must be a string' })
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,255}$/,
        'must be 1-256 letters, digits or . _ : / @ + = -, starting with a letter or digit',
      ),
    type: z
      .string({ error: 'must be a string' })
      .regex(
        /^Vigil(\.[A-Z][A-Za-z0-9]*)+$/,
        'must be Vigil.<Name> with PascalCase parts, e.g. Vigil.RotationFailed',
      ),
    subject: z
      .string({ error: 'must be a string' })
      .regex(/^\/[^\s\p{Cc}]{1,1023}$/u, 'must be a path of 2-1024 characters starting with / and no spaces'),
    data: z
      .record(z.string(), z.unknown(), { error: 'must be an object' })
      .refine((data) => Buffer.byteLength(JSON.stringify(data)) <= MAX_EVENT_DATA_BYTES, {
        error: `must be at most ${MAX_EVENT_DATA_BYTES} bytes as JSON`,
      }),
    time: isoTime,
  },
  objectError,
);

/**
 * Validates an event before it is published (it may have crossed a Durable boundary as plain JSON).
 * @throws VigilEventError naming the field and the rule.
 * @example
 * validateVigilEvent({ id: 'e-1', type: 'Vigil.RotationFailed', subject: '/vaults/kv/secrets/db', data: {}, time: '2026-01-01T00:00:00Z' });
 */
export function validateVigilEvent(value: unknown): VigilEvent {
  return parseWith(vigilEventSchema, value, 'event') as VigilEvent;
}

export const ROTATION_FAILED_EVENT_TYPE = 'Vigil.RotationFailed';

/**
 * `data` of `Vigil.RotationFailed`: a rotation gave up; the last working credential is still
 * current. Everything an incident needs, and never a secret value.
 */
export interface RotationFailedData {
  /** Key Vault name. */
  vault: string;
  /** Secret name. */
  secret: string;
  /** The rotation strategy (`postgres-role`, `postgres-alternating`, …) or `unknown` when the tags were bad. */
  strategy: string;
  /** The step that failed (`plan`, `create`, `set`, `test`, `promote`, …). */
  step: string;
  /** The error's message, secrets already removed (see {@link withoutSecrets}). */
  error: string;
  /** The rotation's id (the Durable instance id): one failure event per rotation. */
  rotationId: string;
  /** ISO 8601 UTC. */
  occurredAt: string;
}

const name = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .regex(
      new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${max - 1}}$`),
      `must be 1-${max} letters, digits or . _ -, starting with a letter or digit`,
    );
const stepName = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be 1-64 lowercase letters, digits or -, starting with a letter');

export const MAX_ERROR_MESSAGE_LENGTH = 1024;

const rotationFailedSchema = z.strictObject(
  {
    vault: name(24),
    secret: name(127),
    strategy: stepName,
    step: stepName,
    error: z
      .string({ error: 'must be a string' })
      .min(1, 'must not be empty')
      .max(MAX_ERROR_MESSAGE_LENGTH, `must be at most ${MAX_ERROR_MESSAGE_LENGTH} characters`)
      .regex(printable, 'must not contain control characters')
      .refine((message) => !looksLikeCredential(message), {
        error: 'looks like it contains a credential: pass it through withoutSecrets first',
      }),
    rotationId: z
      .string({ error: 'must be a string' })
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/,
        'must be 1-200 letters, digits or . _ : @ -, starting with a letter or digit',
      ),
    occurredAt: isoTime,
  },
  objectError,
);

/**
 * Validates `Vigil.RotationFailed` data, as the publisher builds it or a consumer receives it.
 * @throws VigilEventError naming the field and the rule.
 * @example
 * const failure = parseRotationFailedData(event.data);
 */
export function parseRotationFailedData(value: unknown): RotationFailedData {
  return parseWith(rotationFailedSchema, value, 'data');
}

/**
 * The incident-ready `Vigil.RotationFailed` event. Its id derives from the rotation id unless
 * given, so publishing again after a crash yields the same event and consumers dedupe it.
 * @throws VigilEventError
 * @example
 * rotationFailedEvent({ vault: 'kv-1', secret: 'db-app', strategy: 'postgres-role', step: 'set',
 *   error: 'connection refused', rotationId: 'rotate-secret:kv-1:db-app', occurredAt: now.toISOString() });
 */
export function rotationFailedEvent(
  data: RotationFailedData,
  id = `${ROTATION_FAILED_EVENT_TYPE}:${data.rotationId}`,
): VigilEvent<RotationFailedData> {
  const valid = parseRotationFailedData(data);
  const event = validateVigilEvent({
    id,
    type: ROTATION_FAILED_EVENT_TYPE,
    subject: `/vaults/${valid.vault}/secrets/${valid.secret}`,
    data: valid,
    time: valid.occurredAt,
  });
  return { ...event, data: valid };
}

const REDACTED = '[redacted]';
// Keeps the name (`Password=`) and drops what follows, for connection strings and query strings.
const credentialAssignments = new RegExp(`\\b(${CREDENTIAL_NAMES})(\\s*[=:]\\s*)[^\\s;&,'"]+`, 'gi');
const urlPasswords = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^/\s@]+@/gi;
const bearerTokens = /\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}/gi;
const jwts = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const privateKeys = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g;

/**
 * An error message safe to record and publish: every known secret value (and its URL- and
 * JSON-encoded forms) is replaced, credential-shaped fragments are masked, control characters
 * become spaces, and the result is cut to {@link MAX_ERROR_MESSAGE_LENGTH}.
 * @example
 * withoutSecrets(`login failed for app with ${pending}`, [pending]); // 'login failed for app with [redacted]'
 */
export function withoutSecrets(message: string, secrets: readonly string[] = []): string {
  let safe = message;
  for (const secret of secrets.filter((value) => value.length > 0)) {
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]))
      safe = safe.split(form).join(REDACTED);
  }
  safe = safe
    .replace(privateKeys, REDACTED)
    .replace(credentialAssignments, `$1$2${REDACTED}`)
    .replace(urlPasswords, `$1${REDACTED}@`)
    .replace(bearerTokens, `$1${REDACTED}`)
    .replace(jwts, REDACTED)
    .replace(/\p{Cc}+/gu, ' ')
    .trim();
  if (safe.length === 0) return 'unknown error';
  if (safe.length <= MAX_ERROR_MESSAGE_LENGTH) return safe;
  // Cut at a space near the limit where there is one, so no "[redacted]" is split into a
  // fragment that reads like a credential again.
  const cut = safe.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > MAX_ERROR_MESSAGE_LENGTH - 200 ? cut.slice(0, space) : cut}…`;
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new VigilEventError(
      parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || root} ${issue.message}`),
    );
  }
  return parsed.data;
}
