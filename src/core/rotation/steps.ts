/** Tags Vigil writes on the secret versions it creates, to make every step resumable. */
export const VERSION_TAGS = {
  /** `pending` until the credential is set and tested, then `current`. */
  stage: 'vigil-stage',
  /** The rotation that created the version, so a repeated step recognises its own work. */
  rotationId: 'vigil-rotation-id',
  /** Alternating users: the role this version's password belongs to. */
  activeRole: 'vigil-active-role',
} as const;

export type VersionStage = 'pending' | 'current';

/** What the steps need to know about one secret version; never its value. */
export interface VersionView {
  version: string;
  enabled: boolean;
  createdOn?: Date;
  tags?: Readonly<Record<string, string | undefined>>;
}

/** The state of secret versions contradicts the rotation settings. */
export class RotationStateError extends Error {
  override name = 'RotationStateError';
}

const DAY_MS = 24 * 3600_000;
/** Key Vault raises SecretNearExpiry this long before `exp`; the sweep uses the same window. */
export const NEAR_EXPIRY_DAYS = 30;

/**
 * The Durable instance id for rotating one secret: the same for every trigger, so a second event
 * joins the running rotation instead of starting another. Key Vault names are case-insensitive.
 * @example
 * rotationInstanceId('Sample-KV', 'DbPassword'); // 'rotate-secret:sample-kv:dbpassword'
 */
export function rotationInstanceId(vaultName: string, secretName: string): string {
  return `rotate-secret:${vaultName.trim().toLowerCase()}:${secretName.trim().toLowerCase()}`;
}

/**
 * The expiry of a version created at `now` that stays valid for `validityDays`.
 * @example
 * nextExpiry(new Date('2025-01-01T00:00:00Z'), 60); // 2025-03-02T00:00:00.000Z
 */
export function nextExpiry(now: Date, validityDays: number): Date {
  if (!Number.isInteger(validityDays) || validityDays < 1)
    throw new RangeError(`validityDays must be a whole number ≥ 1, got ${validityDays}`);
  return new Date(now.getTime() + validityDays * DAY_MS);
}

/**
 * Alternating users: the role to rotate is the one the current version does not use, so
 * applications keep logging in with the current one. A current version without the tag
 * predates Vigil and holds the first role's password.
 * @throws RotationStateError if the current version names a role outside the pair.
 * @example
 * inactiveRole(['app', 'app_clone'], { 'vigil-active-role': 'app' }); // 'app_clone'
 */
export function inactiveRole(
  roles: readonly [string, string],
  currentTags: Readonly<Record<string, string | undefined>> | undefined,
): string {
  const active = readTag(currentTags, VERSION_TAGS.activeRole);
  const [first, second] = roles;
  if (active === undefined || active === first) return second;
  if (active === second) return first;
  throw new RotationStateError(
    `current version tag ${VERSION_TAGS.activeRole} names "${active}", which is neither "${first}" nor "${second}"`,
  );
}

export type SweepVerdict = 'expired' | 'near-expiry' | 'no-expiry' | 'valid';

/**
 * How the timer sweep classifies a marked secret's current version; anything but `valid`
 * starts a rotation unless one is already running.
 * @example
 * sweepVerdict(undefined, new Date()); // 'no-expiry'
 */
export function sweepVerdict(expiresOn: Date | undefined, now: Date): SweepVerdict {
  if (expiresOn === undefined) return 'no-expiry';
  const remaining = expiresOn.getTime() - now.getTime();
  if (remaining <= 0) return 'expired';
  return remaining <= NEAR_EXPIRY_DAYS * DAY_MS ? 'near-expiry' : 'valid';
}

export interface PendingDecision {
  /** This rotation's own pending version, left by an earlier attempt: resume it instead of creating one. */
  resume?: VersionView;
  /** Enabled pending versions of other (interrupted) rotations: disable them so they never become current. */
  stale: VersionView[];
}

/**
 * The create step's view of leftovers: resume our own pending version, clean up anyone else's.
 * A pending version left behind never blocks a later rotation.
 * @example
 * const { resume, stale } = pendingDecision(versions, 'rot-42');
 */
export function pendingDecision(versions: readonly VersionView[], rotationId: string): PendingDecision {
  const pending = versions.filter((v) => readTag(v.tags, VERSION_TAGS.stage) === 'pending');
  const ours = pending.filter((v) => readTag(v.tags, VERSION_TAGS.rotationId) === rotationId);
  const resume = newest(ours.filter((v) => v.enabled)) ?? newest(ours);
  return {
    ...(resume === undefined ? {} : { resume }),
    stale: pending.filter((v) => v !== resume && v.enabled),
  };
}

/**
 * The finish step is a no-op when the pending version was already promoted (a repeated step).
 * @example
 * needsPromotion({ version: 'v2', enabled: true, tags: { 'vigil-stage': 'current' } }); // false
 */
export function needsPromotion(pending: VersionView): boolean {
  return readTag(pending.tags, VERSION_TAGS.stage) !== 'current';
}

function newest(versions: readonly VersionView[]): VersionView | undefined {
  return versions.reduce<VersionView | undefined>(
    (best, v) =>
      best === undefined || (v.createdOn?.getTime() ?? 0) > (best.createdOn?.getTime() ?? 0) ? v : best,
    undefined,
  );
}

/** Tag keys compared ignoring case and spaces, as Vigil reads every tag. */
function readTag(
  tags: Readonly<Record<string, string | undefined>> | undefined,
  name: string,
): string | undefined {
  for (const [key, value] of Object.entries(tags ?? {}))
    if (key.trim().toLowerCase() === name && value !== undefined && value.trim() !== '') return value.trim();
  return undefined;
}
