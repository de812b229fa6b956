import { z } from 'zod';
import { badParameter } from './errors.js';

/** Which Event Grid notifications have already gone out for a version, so none goes out twice. */
export interface PublishedEvents {
  newVersion?: boolean;
  nearExpiry?: boolean;
  expired?: boolean;
}

/** One immutable value of a secret plus its mutable properties. Times are epoch seconds, as on the wire. */
export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  published: PublishedEvents;
}

export interface DeletionInfo {
  deletedDate: number;
  scheduledPurgeDate: number;
}

export interface StoredSecret {
  /** The name as first written; look-ups ignore case, as Key Vault's do. */
  name: string;
  /** Oldest first; the last one is the current version. */
  versions: SecretVersion[];
  deleted?: DeletionInfo;
}

export interface VaultData {
  /** Keyed by lower-case secret name. */
  secrets: Record<string, StoredSecret>;
}

export interface EmulatorData {
  format: 1;
  vaults: Record<string, VaultData>;
}

// Limits from Key Vault's service limits: 25 KB values, 15 tags, 512-char tag names, 256-char tag values.
const maxValueBytes = 25 * 1024;
const epochSeconds = z.number().int().nonnegative();

const tagsSchema = z
  .record(z.string().min(1).max(512), z.string().max(256))
  .refine((tags) => Object.keys(tags).length <= 15, 'at most 15 tags are allowed');

const attributesSchema = z.object({
  enabled: z.boolean().optional(),
  nbf: epochSeconds.nullable().optional(),
  exp: epochSeconds.nullable().optional(),
});

const setSchema = z.object({
  value: z
    .string()
    .refine((value) => Buffer.byteLength(value) <= maxValueBytes, `must be at most ${maxValueBytes} bytes`),
  contentType: z.string().max(255).nullable().optional(),
  tags: tagsSchema.nullable().optional(),
  attributes: attributesSchema.nullable().optional(),
});

const updateSchema = setSchema.omit({ value: true });

export type SetSecretBody = z.infer<typeof setSchema>;
export type UpdateSecretBody = z.infer<typeof updateSchema>;

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : 'body';
  throw badParameter(field, issue?.message ?? 'is invalid');
}

/**
 * Validates the JSON body of a Set Secret request.
 * @example
 * const body = parseSetSecretBody({ value: 's3cret', tags: { owner: 'platform' } });
 */
export function parseSetSecretBody(body: unknown): SetSecretBody {
  return parseWith(setSchema, body);
}

/**
 * Validates the JSON body of an Update Secret request.
 * @example
 * const body = parseUpdateSecretBody({ attributes: { enabled: false } });
 */
export function parseUpdateSecretBody(body: unknown): UpdateSecretBody {
  return parseWith(updateSchema, body);
}

const secretNamePattern = /^[0-9a-zA-Z-]{1,127}$/;

/**
 * Rejects a secret name Key Vault would reject: 1–127 letters, digits and hyphens.
 * @example
 * assertSecretName('db-password'); // passes
 */
export function assertSecretName(name: string): void {
  if (!secretNamePattern.test(name)) {
    throw badParameter('secret-name', `"${name}" must be 1-127 characters of letters, digits and hyphens`);
  }
}

const versionSchema = z.object({
  version: z.string().regex(/^[0-9a-f]{32}$/),
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  enabled: z.boolean(),
  nbf: epochSeconds.optional(),
  exp: epochSeconds.optional(),
  created: epochSeconds,
  updated: epochSeconds,
  published: z.object({
    newVersion: z.boolean().optional(),
    nearExpiry: z.boolean().optional(),
    expired: z.boolean().optional(),
  }),
});

const dataSchema = z.object({
  format: z.literal(1),
  vaults: z.record(
    z.string(),
    z.object({
      secrets: z.record(
        z.string(),
        z.object({
          name: z.string(),
          versions: z.array(versionSchema).min(1),
          deleted: z.object({ deletedDate: epochSeconds, scheduledPurgeDate: epochSeconds }).optional(),
        }),
      ),
    }),
  ),
});

/**
 * Validates what was read back from the data file; returns the issue as text when it is not emulator data.
 * @example
 * const parsed = parseEmulatorData(JSON.parse(text));
 * if (typeof parsed === 'string') throw new Error(parsed);
 */
export function parseEmulatorData(json: unknown): EmulatorData | string {
  const result = dataSchema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  return `${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'is invalid'}`;
}
