import { withoutUndefined } from './compact.js';

/** The Key Vault secret events Vigil reacts to, without the `Microsoft.KeyVault.` prefix. */
export const SECRET_EVENT_TYPES = ['SecretNearExpiry', 'SecretExpired', 'SecretNewVersionCreated'] as const;
export type SecretEventType = (typeof SECRET_EVENT_TYPES)[number];

/** A Key Vault secret event, whichever envelope it arrived in, with every quirk smoothed out. */
export interface SecretEvent {
  /** The event id (the envelope's `id`), used to deduplicate deliveries. */
  eventId: string;
  type: SecretEventType;
  envelope: 'EventGrid' | 'CloudEvents';
  vaultName: string;
  /** The vault's ARM resource id (the envelope's `topic` or `source`). */
  vaultResourceId: string;
  secretName: string;
  version: string;
  /** The secret version's URL (`data.Id`) when the event carries one. */
  secretId?: string;
  notBefore?: Date;
  expiresOn?: Date;
  eventTime?: Date;
}

/** A Key Vault event that cannot be understood; permanent, so the trigger answers 400. */
export class KeyVaultEventError extends Error {
  override name = 'KeyVaultEventError';

  constructor(
    readonly field: string,
    rule: string,
    options?: ErrorOptions,
  ) {
    super(`${field} ${rule}`, options);
  }
}

const EVENT_TYPE_PREFIX = 'Microsoft.KeyVault.';
const VAULT_RESOURCE_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i;
/** Key Vault's naming rules: a vault name, 3-24 characters; a secret name, 1-127. */
export const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/i;
export const SECRET_NAME = /^[0-9a-z-]{1,127}$/i;
const VERSION = /^[0-9a-z-]{1,64}$/i;
const EPOCH_SECONDS = /^-?\d{1,12}$/;
const DATA_FIELDS = ['id', 'vaultname', 'objecttype', 'objectname', 'version', 'nbf', 'exp'] as const;
type DataField = (typeof DATA_FIELDS)[number];

/**
 * Reads one Key Vault secret event in the Event Grid or CloudEvents 1.0 envelope. Tolerates
 * the quirks of the official examples: `data` keys in any case with stray spaces (`"ObjectName "`),
 * values with stray spaces, NBF/EXP as epoch-second numbers, digit strings or ISO-8601 times.
 * @throws KeyVaultEventError naming the field and the rule it breaks.
 * @example
 * const event = parseKeyVaultEvent(JSON.parse(body)[0]);
 * if (event.type === 'SecretNearExpiry') startRotation(event.vaultName, event.secretName);
 */
export function parseKeyVaultEvent(raw: unknown): SecretEvent {
  const event = asRecord(raw, 'event');
  const envelope = 'specversion' in event ? 'CloudEvents' : 'EventGrid';
  const names =
    envelope === 'CloudEvents'
      ? { type: 'type', source: 'source', time: 'time' }
      : { type: 'eventType', source: 'topic', time: 'eventTime' };
  if (envelope === 'CloudEvents') requireSpecVersion(event.specversion);
  const data = normalizeData(asRecord(event.data, 'data'));
  const vaultResourceId = requireText(event[names.source], names.source);
  const vaultName = readVaultName(data, vaultResourceId, names.source);
  return withoutUndefined({
    eventId: requireText(event.id, 'id'),
    type: readType(event[names.type], names.type),
    envelope,
    vaultName,
    vaultResourceId,
    secretName: readMatching(
      data.objectname,
      'data.ObjectName',
      SECRET_NAME,
      'must be 1-127 letters, digits or -',
    ),
    version: readMatching(data.version, 'data.Version', VERSION, 'must be 1-64 letters, digits or -'),
    secretId: optionalText(data.id),
    notBefore: readTimestamp(data.nbf, 'data.NBF'),
    expiresOn: readTimestamp(data.exp, 'data.EXP'),
    eventTime: readEventTime(event[names.time], names.time),
  });
}

function asRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new KeyVaultEventError(field, 'must be a JSON object');
  return value as Record<string, unknown>;
}

function requireSpecVersion(value: unknown): void {
  if (typeof value !== 'string' || value.trim() !== '1.0')
    throw new KeyVaultEventError('specversion', 'must be "1.0" (CloudEvents 1.0)');
}

/** Folds `data` keys to trimmed lower case; a key spelled twice must carry one value. */
function normalizeData(data: Record<string, unknown>): Partial<Record<DataField, unknown>> {
  const folded: Partial<Record<DataField, unknown>> = {};
  for (const [key, raw] of Object.entries(data)) {
    const name = key.trim().toLowerCase();
    if (!isDataField(name) || raw === undefined) continue;
    const value = typeof raw === 'string' ? raw.trim() : raw;
    if (name in folded && folded[name] !== value)
      throw new KeyVaultEventError(
        `data.${key.trim()}`,
        'appears twice (ignoring case) with different values',
      );
    folded[name] = value;
  }
  if (folded.objecttype !== undefined && String(folded.objecttype).toLowerCase() !== 'secret')
    throw new KeyVaultEventError('data.ObjectType', `must be "Secret", got "${String(folded.objecttype)}"`);
  return folded;
}

function isDataField(name: string): name is DataField {
  return (DATA_FIELDS as readonly string[]).includes(name);
}

function readType(value: unknown, field: string): SecretEventType {
  const text = requireText(value, field);
  const short = text.startsWith(EVENT_TYPE_PREFIX) ? text.slice(EVENT_TYPE_PREFIX.length) : '';
  const type = SECRET_EVENT_TYPES.find((known) => known === short);
  if (type === undefined)
    throw new KeyVaultEventError(
      field,
      `must be one of ${SECRET_EVENT_TYPES.map((t) => EVENT_TYPE_PREFIX + t).join(', ')}, got "${text}"`,
    );
  return type;
}

/** The vault name from the resource id, cross-checked with `data.VaultName` when present. */
function readVaultName(data: Partial<Record<DataField, unknown>>, resourceId: string, field: string): string {
  const fromId = VAULT_RESOURCE_ID.exec(resourceId)?.[1];
  if (fromId === undefined)
    throw new KeyVaultEventError(
      field,
      'must be a vault resource id /subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}',
    );
  const fromData = optionalText(data.vaultname);
  if (fromData !== undefined && fromData.toLowerCase() !== fromId.toLowerCase())
    throw new KeyVaultEventError('data.VaultName', `must match the vault in ${field} ("${fromId}")`);
  const name = fromData ?? fromId;
  if (!VAULT_NAME.test(name))
    throw new KeyVaultEventError(
      'data.VaultName',
      'must be 3-24 letters, digits or -, starting with a letter',
    );
  return name;
}

function readMatching(value: unknown, field: string, pattern: RegExp, rule: string): string {
  const text = requireText(value, field);
  if (!pattern.test(text)) throw new KeyVaultEventError(field, rule);
  return text;
}

function requireText(value: unknown, field: string): string {
  const text = optionalText(value);
  if (text === undefined) throw new KeyVaultEventError(field, 'is required (a non-empty string)');
  return text;
}

function optionalText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text === '' ? undefined : text;
}

/** NBF/EXP: epoch seconds as a number or digit string, or an ISO-8601 time; null means unset. */
function readTimestamp(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const rule = 'must be epoch seconds (a number or a digit string) or an ISO-8601 time';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new KeyVaultEventError(field, rule);
    return validDate(value * 1000, field, rule);
  }
  if (typeof value !== 'string') throw new KeyVaultEventError(field, rule);
  if (EPOCH_SECONDS.test(value)) return validDate(Number(value) * 1000, field, rule);
  return validDate(Date.parse(value), field, rule);
}

function readEventTime(value: unknown, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const text = requireText(value, field);
  return validDate(Date.parse(text), field, 'must be an ISO-8601 time');
}

function validDate(ms: number, field: string, rule: string): Date {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw new KeyVaultEventError(field, rule);
  return date;
}
