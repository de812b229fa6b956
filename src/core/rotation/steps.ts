/** Tags Vigil writes on the versions it creates, to make every step resumable. */
export const VERSION_TAGS = {
  /** The rotation that created the version, so a repeated step recognises its own work. */
  rotationId: 'vigil-rotation-id',
  /** Alternating users: the role this version's password belongs to. */
  activeRole: 'vigil-active-role',
  /** On a pending version: the secret it will be promoted into. */
  pendingFor: 'vigil-pending-for',
} as const;

/** The companion secret holding a rotation's pending value: `{name}-pending`. */
export const PENDING_SUFFIX = '-pending';
const MAX_SECRET_NAME = 127;

/** What the steps need to know about one secret version; never its value. */
export interface VersionView {
  version: string;
  enabled: boolean;
  createdOn?: Date;
  expiresOn?: Date;
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

/**
 * The companion secret that holds a rotation's pending value until it is tested and promoted. The
 * rotated secret itself only ever gains one enabled version, at promotion: a disabled latest version
 * would make "get latest" fail for applications, an enabled one would be current before the target has it.
 * @throws RotationStateError if the name leaves no room for the suffix.
 * @example
 * pendingSecretName('db-app'); // 'db-app-pending'
 */
export function pendingSecretName(secretName: string): string {
  const name = `${secretName}${PENDING_SUFFIX}`;
  if (name.length > MAX_SECRET_NAME)
    throw new RotationStateError(
      `secret ${secretName}: a rotated secret's name must be at most ${MAX_SECRET_NAME - PENDING_SUFFIX.length} characters, to leave room for its ${PENDING_SUFFIX} companion`,
    );
  return name;
}

/**
 * The tags of a pending version: whose it is and which rotation wrote it (and, for alternating
 * users, the role it is for). No expiry and no rotation tags, so nothing ever rotates it.
 * @example
 * pendingTags('db-app', 'rot-1', 'app_clone');
 * // { 'vigil-pending-for': 'db-app', 'vigil-rotation-id': 'rot-1', 'vigil-active-role': 'app_clone' }
 */
export function pendingTags(secretName: string, rotationId: string, role?: string): Record<string, string> {
  return {
    [VERSION_TAGS.pendingFor]: secretName,
    [VERSION_TAGS.rotationId]: rotationId,
    ...(role === undefined ? {} : { [VERSION_TAGS.activeRole]: role }),
  };
}

export interface PendingDecision {
  /** This rotation's own pending version, left by an earlier attempt: resume it instead of creating one. */
  resume?: VersionView;
  /** Enabled pending versions of other (interrupted) rotations: disable them so they never become current. */
  stale: VersionView[];
}

/**
 * The create step's view of the companion secret's versions: resume our own pending version, clean up
 * anyone else's. A pending version left behind never blocks a later rotation.
 * @throws RotationStateError if the companion secret is not Vigil's (a version lacks `vigil-pending-for`).
 * @example
 * const { resume, stale } = pendingDecision(versions, 'db-app', 'rot-42');
 */
export function pendingDecision(
  versions: readonly VersionView[],
  secretName: string,
  rotationId: string,
): PendingDecision {
  const foreign = versions.find(
    (v) => readTag(v.tags, VERSION_TAGS.pendingFor)?.toLowerCase() !== secretName.toLowerCase(),
  );
  if (foreign !== undefined)
    throw new RotationStateError(
      `secret ${pendingSecretName(secretName)} exists but is not Vigil's pending companion of ${secretName} (version ${foreign.version} lacks ${VERSION_TAGS.pendingFor}=${secretName}); rename it or remove it`,
    );
  const ours = versions.filter((v) => v.enabled && readTag(v.tags, VERSION_TAGS.rotationId) === rotationId);
  const resume = newest(ours);
  return {
    ...(resume === undefined ? {} : { resume }),
    stale: versions.filter((v) => v !== resume && v.enabled),
  };
}

/**
 * The promote step is a no-op when the current version was written by this rotation (a repeated step).
 * @example
 * isPromoted({ version: 'v2', enabled: true, tags: { 'vigil-rotation-id': 'rot-1' } }, 'rot-1'); // true
 */
export function isPromoted(current: VersionView | undefined, rotationId: string): boolean {
  return current !== undefined && readTag(current.tags, VERSION_TAGS.rotationId) === rotationId;
}

/**
 * The tags of the promoted version: the current version's own tags (rotation settings and anything
 * else its owners keep there), with Vigil's version tags replaced by this rotation's.
 * @example
 * promotedTags({ 'vigil-rotation': 'random', owner: 'a', 'vigil-rotation-id': 'old' }, 'rot-2');
 * // { 'vigil-rotation': 'random', owner: 'a', 'vigil-rotation-id': 'rot-2' }
 */
export function promotedTags(
  currentTags: Readonly<Record<string, string | undefined>> | undefined,
  rotationId: string,
  activeRole?: string,
): Record<string, string> {
  const written = new Set<string>(Object.values(VERSION_TAGS));
  const kept = Object.entries(currentTags ?? {}).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined && !written.has(entry[0].trim().toLowerCase()),
  );
  return {
    ...Object.fromEntries(kept),
    [VERSION_TAGS.rotationId]: rotationId,
    ...(activeRole === undefined ? {} : { [VERSION_TAGS.activeRole]: activeRole }),
  };
}

/** What started a rotation. Events name the version they are about; the sweep its verdict. */
export type RotationTrigger =
  | { reason: 'near-expiry' | 'expired'; version: string; eventId?: string }
  | { reason: 'sweep'; verdict: SweepVerdict }
  | { reason: 'on-demand'; requestedBy: string };

export type RotationNeed = { rotate: true } | { rotate: false; reason: string };

/**
 * Whether a trigger still calls for a rotation once it runs. An event about a version that is no
 * longer current (a redelivery after the rotation it caused, or one arriving out of order) is done.
 * A sweep's verdict is taken again from the current version at `now` (the orchestration's clock):
 * a rotation that finished between the sweep's listing and this run leaves nothing due.
 * @example
 * rotationNeed({ reason: 'near-expiry', version: 'v1' }, { version: 'v2', enabled: true }, now); // { rotate: false, … }
 */
export function rotationNeed(trigger: RotationTrigger, current: VersionView, now: Date): RotationNeed {
  if (trigger.reason === 'sweep') {
    const verdict = sweepVerdict(current.expiresOn, now);
    return verdict === 'valid'
      ? {
          rotate: false,
          reason: `the sweep found the secret ${trigger.verdict}, but the current version ${current.version} is valid until ${current.expiresOn?.toISOString()}: already rotated`,
        }
      : { rotate: true };
  }
  if (trigger.reason !== 'near-expiry' && trigger.reason !== 'expired') return { rotate: true };
  if (trigger.version.toLowerCase() === current.version.toLowerCase()) return { rotate: true };
  return {
    rotate: false,
    reason: `the ${trigger.reason} event is about version ${trigger.version}, but the current version is ${current.version}: already rotated`,
  };
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
