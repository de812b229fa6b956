import { randomBytes } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { auditLog } from '../adapters/auditLog.js';
import { FlexibleServerError, flexibleServerAdministrator } from '../adapters/flexibleServer.js';
import { KeyVaultError, keyVault, type SecretStore, type SecretVersionInfo } from '../adapters/keyVault.js';
import { canLogin, type PostgresConnection, PostgresError, setRolePassword } from '../adapters/postgres.js';
import { vigilEvents } from '../adapters/vigilEvents.js';
import { type AuditRecord, createAuditRecord, parseAuditRecord } from '../core/audit.js';
import { rotationFailedEvent, validateVigilEvent, withoutSecrets } from '../core/events.js';
import {
  adoptionCandidates,
  changesLivePassword,
  failureText,
  mayDisablePending,
  type RollbackOutcome,
} from '../core/rotation/cleanup.js';
import { SECRET_NAME } from '../core/rotation/keyVaultEvent.js';
import { generatePassword, PasswordPolicyError } from '../core/rotation/password.js';
import {
  inactiveRole,
  isPromoted,
  nextExpiry,
  pendingDecision,
  pendingSecretName,
  pendingTags,
  promotedTags,
  RotationStateError,
  rotationNeed,
  VERSION_TAGS,
  type VersionView,
} from '../core/rotation/steps.js';
import {
  type PostgresEndpoint,
  parseRotationTags,
  type RotationPlan,
  RotationTagError,
} from '../core/rotation/tags.js';
import { retry } from './shared/retry.js';

/** A step refused to go on; `transient` says whether trying again later may help. */
export class RotationStepError extends Error {
  override name = 'RotationStepError';

  constructor(
    message: string,
    readonly transient = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// ---- what crosses the Durable boundary (never a secret value) ----------------------------------

const name = z.string().regex(SECRET_NAME, 'must be a Key Vault name');
const triggerSchema = z.discriminatedUnion('reason', [
  z.object({
    reason: z.enum(['near-expiry', 'expired']),
    version: z.string().min(1),
    eventId: z.string().optional(),
  }),
  z.object({ reason: z.literal('sweep'), verdict: z.enum(['expired', 'near-expiry', 'no-expiry', 'valid']) }),
  z.object({ reason: z.literal('on-demand'), requestedBy: z.string().min(1) }),
]);
const rotationRequestSchema = z.object({ vault: name, secret: name, trigger: triggerSchema });
export type RotationRequest = z.infer<typeof rotationRequestSchema>;
/** The orchestration's time goes along, so a sweep's verdict is taken again on the Durable clock. */
const inspectInputSchema = rotationRequestSchema.extend({ now: z.iso.datetime() });

const stepInputSchema = z.object({
  vault: name,
  secret: name,
  rotationId: z.string().min(1),
  /** The orchestration's time, so the new expiry follows the Durable clock. */
  now: z.iso.datetime(),
  pendingVersion: z.string().optional(),
  role: z.string().optional(),
  /** The strategy inspected: a step refuses a plan whose tags changed to another since. */
  strategy: z.string().optional(),
});
type StepInput = z.infer<typeof stepInputSchema>;

const stepResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    outcome: z.string(),
    version: z.string().optional(),
    role: z.string().optional(),
    detail: z.string().optional(),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
type StepResult = z.infer<typeof stepResultSchema>;

const STEP_NAMES = ['create', 'set', 'test', 'promote', 'notify'] as const;
type StepName = (typeof STEP_NAMES)[number];

const inspectionSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('rotate'),
    strategy: z.string(),
    /** Absent in the history of a run inspected before steps were planned (see `stepsBefore`). */
    steps: z.array(z.enum(STEP_NAMES)).optional(),
  }),
  z.object({ action: z.literal('skip'), reason: z.string() }),
  z.object({ action: z.literal('refuse'), error: z.string() }),
]);
type Inspection = z.infer<typeof inspectionSchema>;

const cleanupSchema = z.object({
  disabledPending: z.number(),
  keptPending: z.number(),
  rollback: z.string(),
});

export interface RotationResult {
  outcome: 'rotated' | 'skipped' | 'failed';
  rotationId: string;
  version?: string;
  reason?: string;
  step?: string;
  error?: string;
}

// ---- activities ---------------------------------------------------------------------------------

/** Reads the secret's tags and decides whether this trigger still calls for a rotation. */
export const inspectRotation = df.app.activity('inspectRotation', {
  handler: async (input: unknown): Promise<Inspection> => {
    const request = inspectInputSchema.parse(input);
    try {
      const current = await keyVault(request.vault).current(request.secret);
      if (current === undefined) return { action: 'skip', reason: `secret ${request.secret} does not exist` };
      const plan = parseRotationTags(current.tags);
      if (!plan.marked) return { action: 'skip', reason: `not marked for rotation: ${plan.reason}` };
      pendingSecretName(request.secret);
      const need = rotationNeed(request.trigger, current, new Date(request.now));
      return need.rotate
        ? { action: 'rotate', strategy: plan.target.kind, steps: stepsFor(plan) }
        : { action: 'skip', reason: need.reason };
    } catch (error) {
      if (isTransient(error)) throw error;
      return { action: 'refuse', error: describe(error) };
    }
  },
});

/**
 * The steps a plan needs: a `random` value has no target to set or test, and only a webhook to
 * notify; a PostgreSQL credential has no webhook. Each step skipped is Key Vault reads saved.
 */
function stepsFor(plan: RotationPlan): StepName[] {
  const { target } = plan;
  if (target.kind !== 'random') return ['create', 'set', 'test', 'promote'];
  return target.webhookUrl === undefined ? ['create', 'promote'] : ['create', 'promote', 'notify'];
}

/** Step 1: a pending value in the `{name}-pending` companion secret, made once per rotation. */
export const createPendingCredential = df.app.activity('createPendingCredential', {
  handler: (input: unknown) =>
    stepOutcome(input, async (step, store) => {
      const pendingName = pendingSecretName(step.secret);
      const decision = pendingDecision(await store.versions(pendingName), step.secret, step.rotationId);
      const adopted =
        decision.resume === undefined ? await leftoverToAdopt(store, step, decision.stale) : undefined;
      const disabled = decision.stale.filter((stale) => stale !== adopted);
      for (const stale of disabled) await store.disable(pendingName, stale.version);
      const staleNote = disabled.length > 0 ? `disabled ${disabled.length} leftover(s)` : undefined;
      if (adopted !== undefined)
        return withDetail(
          { outcome: 'adopted', version: adopted.version, ...roleOf(adopted) },
          [
            `the current version no longer logs in but leftover ${adopted.version} of an interrupted rotation does: promoting it`,
            staleNote,
          ]
            .filter(Boolean)
            .join('; '),
        );
      if (decision.resume !== undefined)
        return withDetail(
          { outcome: 'resumed', version: decision.resume.version, ...roleOf(decision.resume) },
          staleNote,
        );
      const { current, plan } = await loadPlan(store, step);
      const role = await roleToRotate(plan, current);
      const policy =
        plan.target.kind === 'postgres-flexible-admin' && role !== undefined
          ? { ...plan.password, avoidFragmentsOf: [role] }
          : plan.password;
      const written = await store.set(pendingName, generatePassword(policy, randomBytes), {
        tags: pendingTags(step.secret, step.rotationId, role),
      });
      return withDetail(
        { outcome: 'created', version: written.version, ...(role === undefined ? {} : { role }) },
        staleNote,
      );
    }),
});

/** Step 2: the target takes the pending password, unless it already logs in with it. */
export const setPendingOnTarget = df.app.activity('setPendingOnTarget', {
  handler: (input: unknown) =>
    stepOutcome(input, async (step, store) => {
      const { current, plan } = await loadPlan(store, step);
      const target = await postgresTarget(plan, step.role);
      if (target === undefined) return { outcome: 'not-applicable' };
      const pending = await pendingValue(store, step);
      if (await canLogin(connect(target, target.role, pending))) return { outcome: 'already-set' };
      await applyPassword(store, plan, target, current, pending);
      return { outcome: 'set' };
    }),
});

/** Step 3: a real login with the pending credential and a trivial query. */
export const testPendingCredential = df.app.activity('testPendingCredential', {
  handler: (input: unknown) =>
    stepOutcome(input, async (step, store) => {
      const { plan } = await loadPlan(store, step);
      const target = await postgresTarget(plan, step.role);
      if (target === undefined) return { outcome: 'not-applicable' };
      if (await canLogin(connect(target, target.role, await pendingValue(store, step))))
        return { outcome: 'logged-in' };
      // The set step saw the password accepted; a refusal now may be a replica catching up.
      throw new RotationStepError(
        `the server refused a login as ${target.role} with the pending credential`,
        true,
      );
    }),
});

/** Step 4: the pending value becomes the current version with a new expiry; then the pending one is disabled. */
export const promotePendingCredential = df.app.activity('promotePendingCredential', {
  handler: (input: unknown) =>
    stepOutcome(input, async (step, store) => {
      const pendingName = pendingSecretName(step.secret);
      const pendingVersion = requirePendingVersion(step);
      const { current, plan } = await loadPlan(store, step);
      let version = current.version;
      const already = isPromoted(current, step.rotationId);
      if (!already) {
        const activeRole = plan.target.kind === 'postgres-alternating' ? step.role : undefined;
        const written = await store.set(step.secret, await store.value(pendingName, pendingVersion), {
          tags: promotedTags(current.tags, step.rotationId, activeRole),
          expiresOn: nextExpiry(new Date(step.now), plan.validityDays),
          ...(current.contentType && { contentType: current.contentType }),
        });
        version = written.version;
      }
      // The new version is current: a pending version left enabled is only untidy (the next
      // rotation disables it), so a failure here is a warning, not a failed rotation.
      const warning = await store.disable(pendingName, pendingVersion).then(
        () => undefined,
        (error: unknown) => `warning: pending version ${pendingVersion} not disabled: ${describe(error)}`,
      );
      return withDetail({ outcome: already ? 'already-promoted' : 'promoted', version }, warning);
    }),
});

/** After a `random` rotation: tells the configured webhook which version is new (never the value). */
export const notifyRotationWebhook = df.app.activity('notifyRotationWebhook', {
  handler: (input: unknown) =>
    stepOutcome(input, async (step, store) => {
      const { current, plan } = await loadPlan(store, step);
      if (plan.target.kind !== 'random' || plan.target.webhookUrl === undefined)
        return { outcome: 'not-applicable' };
      const response = await fetch(plan.target.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'Vigil.SecretRotated',
          vault: step.vault,
          secret: step.secret,
          version: current.version,
          rotationId: step.rotationId,
        }),
        signal: AbortSignal.timeout(10_000),
        // A redirect could carry the notice to a host the tag never named.
        redirect: 'error',
      }).catch((error: unknown) => {
        throw new RotationStepError(`the webhook did not answer: ${describe(error)}`, true);
      });
      await response.body?.cancel();
      if (!response.ok)
        throw new RotationStepError(`the webhook answered HTTP ${response.status}`, response.status >= 500);
      return { outcome: 'notified' };
    }),
});

/**
 * On failure: the target gets the current password back if it already took the pending one (single
 * role and administrator only: an alternating pair's inactive role is in nobody's use), then every
 * pending version of this rotation is disabled. The current version is never touched.
 */
export const abandonRotation = df.app.activity('abandonRotation', {
  handler: async (input: unknown): Promise<z.infer<typeof cleanupSchema>> => {
    const step = stepInputSchema.parse(input);
    const store = keyVault(step.vault);
    const pendingName = pendingSecretName(step.secret);
    const ours = (await store.versions(pendingName)).filter(
      (v) => v.enabled && v.tags[VERSION_TAGS.rotationId] === step.rotationId,
    );
    const rollback = await restoreCurrentPassword(store, step, ours).catch(
      (error: unknown): RollbackOutcome => ({ kind: 'failed', text: `failed: ${describe(error)}` }),
    );
    // After a failed rollback the server may hold the pending password: its version stays readable.
    if (!mayDisablePending(rollback))
      return { disabledPending: 0, keptPending: ours.length, rollback: rollback.text };
    for (const version of ours) await store.disable(pendingName, version.version);
    return { disabledPending: ours.length, keptPending: 0, rollback: rollback.text };
  },
});

/** Writes one audit record (validated again: it crossed the Durable boundary as JSON). */
export const writeRotationAudit = df.app.activity('writeRotationAudit', {
  handler: async (input: unknown, context: InvocationContext): Promise<void> => {
    await auditLog({ log: (line) => context.log(line) }).write([parseAuditRecord(input)]);
  },
});

/** Publishes `Vigil.RotationFailed` to Vigil's topic; its id makes a repeat a duplicate consumers drop. */
export const publishRotationFailed = df.app.activity('publishRotationFailed', {
  handler: async (input: unknown, context: InvocationContext): Promise<void> => {
    await vigilEvents({ log: (line) => context.log(line) }).publish([validateVigilEvent(input)]);
  },
});

// ---- the orchestration ----------------------------------------------------------------------

const STEPS = [
  { step: 'create', activity: createPendingCredential },
  { step: 'set', activity: setPendingOnTarget },
  { step: 'test', activity: testPendingCredential },
  { step: 'promote', activity: promotePendingCredential },
] as const;

type Generated<T> = Generator<df.Task, T, unknown>;

/**
 * Rotates one secret: inspect, then create → set → test → promote, each idempotent and audited.
 * Any failure leaves the current version as it was, disables the pending one, records the real
 * cause and publishes `Vigil.RotationFailed`.
 */
export function* rotateSecret(context: OrchestrationContext): Generated<RotationResult> {
  const request = rotationRequestSchema.parse(context.df.getInput());
  const rotationId = context.df.newGuid(context.df.instanceId);
  const run: Run = { context, request, rotationId, strategy: 'unknown' };
  context.df.setCustomStatus({ stage: 'inspect', rotationId });
  const inspection = yield* inspect(run);
  if (inspection.action === 'skip') {
    context.df.setCustomStatus({ stage: 'skipped', rotationId, reason: inspection.reason });
    return { outcome: 'skipped', rotationId, reason: inspection.reason };
  }
  if (inspection.action === 'refuse') return yield* fail(run, 'plan', inspection.error);
  run.strategy = inspection.strategy;
  const steps = inspection.steps ?? stepsBefore(inspection.strategy);
  const progress: { pendingVersion?: string; role?: string } = {};
  for (const { step, activity } of STEPS.filter(({ step }) => steps.includes(step))) {
    context.df.setCustomStatus({ stage: step, rotationId });
    const result = yield* attempt(run, activity, progress);
    if (!result.ok) return yield* fail(run, step, result.error, progress);
    yield* audit(run, step, result);
    if (step === 'create') {
      progress.pendingVersion = result.version;
      progress.role = result.role;
    }
    if (step === 'promote') {
      if (steps.includes('notify')) yield* notify(run, progress);
      context.df.setCustomStatus({ stage: 'rotated', rotationId });
      return { outcome: 'rotated', rotationId, ...(result.version && { version: result.version }) };
    }
  }
  return { outcome: 'failed', rotationId, error: 'unreachable' };
}

/** The steps every run took before inspection planned them, so that such a run replays the same. */
function stepsBefore(strategy: string): StepName[] {
  return strategy === 'random'
    ? ['create', 'set', 'test', 'promote', 'notify']
    : ['create', 'set', 'test', 'promote'];
}

/** A permanent error while inspecting (a 403, a disabled latest version) is a refusal like bad tags. */
function* inspect(run: Run): Generated<Inspection> {
  const { context, request } = run;
  try {
    const now = context.df.currentUtcDateTime.toISOString();
    return inspectionSchema.parse(yield inspectRotation({ ...request, now }).withRetry(retry));
  } catch (error) {
    return { action: 'refuse', error: describe(error) };
  }
}

interface Run {
  context: OrchestrationContext;
  request: RotationRequest;
  rotationId: string;
  strategy: string;
}

function* attempt(
  run: Run,
  activity: (input: unknown) => df.RegisteredActivityTask,
  progress: { pendingVersion?: string; role?: string },
): Generated<StepResult> {
  try {
    return stepResultSchema.parse(yield activity(stepInput(run, progress)).withRetry(retry));
  } catch (error) {
    // The retries ran out: the error names the real cause of the last attempt.
    return { ok: false, error: describe(error) };
  }
}

function* notify(run: Run, progress: { pendingVersion?: string; role?: string }): Generated<void> {
  const result = yield* attempt(run, notifyRotationWebhook, progress);
  if (!(result.ok && result.outcome === 'not-applicable')) yield* audit(run, 'notify', result);
}

function* fail(
  run: Run,
  step: string,
  error: string,
  progress: { pendingVersion?: string; role?: string } = {},
): Generated<RotationResult> {
  const { context, rotationId } = run;
  context.df.setCustomStatus({ stage: 'failing', rotationId, step });
  let cleanup = 'no pending credential';
  if (step !== 'plan') {
    try {
      const done = cleanupSchema.parse(yield abandonRotation(stepInput(run, progress)).withRetry(retry));
      cleanup = cleanupSummary(done);
    } catch (cleanupError) {
      cleanup = `cleanup failed: ${describe(cleanupError)}`;
    }
  }
  const message = withoutSecrets(failureText(error, cleanup));
  yield* audit(run, step, { ok: false, error: message });
  let published = true;
  try {
    yield publishRotationFailed(failureEvent(run, step, message)).withRetry(retry);
  } catch {
    published = false;
  }
  context.df.setCustomStatus({ stage: 'failed', rotationId, step, failureEventPublished: published });
  return { outcome: 'failed', rotationId, step, error: message };
}

function cleanupSummary(done: z.infer<typeof cleanupSchema>): string {
  const kept =
    done.keptPending > 0
      ? `kept ${done.keptPending} pending version(s) enabled: the target may hold that password, recover with it`
      : `disabled ${done.disabledPending} pending version(s)`;
  return `${kept}; restoring the target: ${done.rollback}`;
}

/** Used when a message fails validation: fixed text that always passes, so the failure is still told. */
const FALLBACK_ERROR = 'the failure text could not be recorded; see the orchestration history';

/** `Vigil.RotationFailed` for this run; a message the schema refuses is replaced, never thrown. */
function failureEvent(run: Run, step: string, message: string): ReturnType<typeof rotationFailedEvent> {
  const data = {
    vault: run.request.vault,
    secret: run.request.secret,
    strategy: run.strategy,
    step,
    error: message,
    rotationId: run.rotationId,
    occurredAt: run.context.df.currentUtcDateTime.toISOString(),
  };
  try {
    return rotationFailedEvent(data);
  } catch {
    return rotationFailedEvent({ ...data, error: FALLBACK_ERROR });
  }
}

/** One audit record per step outcome; losing the audit trail must not strand a half-done rotation. */
function* audit(run: Run, step: string, result: StepResult): Generated<void> {
  const { context } = run;
  const record = auditRecordOf(run, step, result);
  try {
    yield writeRotationAudit(record).withRetry(retry);
  } catch (error) {
    context.df.setCustomStatus({ stage: step, rotationId: run.rotationId, auditError: describe(error) });
  }
}

/** The step's audit record; if its text fails validation, the same record with a fixed outcome text. */
function auditRecordOf(run: Run, step: string, result: StepResult): AuditRecord {
  try {
    return buildAuditRecord(run, step, result);
  } catch {
    const fallback: StepResult = result.ok
      ? { ok: true, outcome: result.outcome.replace(/[^a-z-]/g, '').slice(0, 32) || 'done' }
      : { ok: false, error: FALLBACK_ERROR };
    return buildAuditRecord(run, step, fallback);
  }
}

function buildAuditRecord(run: Run, step: string, result: StepResult): AuditRecord {
  const { context, request, rotationId } = run;
  return createAuditRecord(
    {
      actor: 'vigil',
      action: step === 'create' ? 'create' : 'update',
      resource_type: 'Microsoft.KeyVault/vaults/secrets',
      resource_id: `${request.vault}/${request.secret}`,
      request_id: context.df.instanceId,
      status: result.ok ? 'success' : 'failure',
      metadata: {
        step,
        strategy: run.strategy,
        rotation_id: rotationId,
        trigger: request.trigger.reason,
        ...(result.ok
          ? { outcome: result.outcome, ...pick(result, ['version', 'role', 'detail']) }
          : { error: result.error }),
      },
    },
    { id: `${rotationId}:${step}:${result.ok ? 'success' : 'failure'}`, now: context.df.currentUtcDateTime },
  );
}

function stepInput(run: Run, progress: { pendingVersion?: string; role?: string }): StepInput {
  return {
    vault: run.request.vault,
    secret: run.request.secret,
    rotationId: run.rotationId,
    now: run.context.df.currentUtcDateTime.toISOString(),
    ...(progress.pendingVersion && { pendingVersion: progress.pendingVersion }),
    ...(progress.role && { role: progress.role }),
    ...(run.strategy !== 'unknown' && { strategy: run.strategy }),
  };
}

df.app.orchestration('rotateSecret', rotateSecret);

// ---- step internals -------------------------------------------------------------------------

type StepWork = (
  step: StepInput,
  store: SecretStore,
) => Promise<{ outcome: string; version?: string; role?: string; detail?: string }>;

/** Runs a step: transient failures are thrown (Durable retries them), permanent ones returned. */
async function stepOutcome(input: unknown, work: StepWork): Promise<StepResult> {
  const step = stepInputSchema.parse(input);
  try {
    return { ok: true, ...(await work(step, keyVault(step.vault))) };
  } catch (error) {
    if (isTransient(error)) throw error;
    return { ok: false, error: describe(error) };
  }
}

/**
 * The current version and the plan its tags describe. Given the strategy the run inspected, a plan
 * whose tags now name another refuses: the steps were chosen for the first (a `random` run sets
 * nothing on a server, so promoting its value as a PostgreSQL password would lock applications out).
 */
async function loadPlan(
  store: SecretStore,
  { secret, strategy }: { secret: string; strategy?: string | undefined },
): Promise<{ current: SecretVersionInfo; plan: RotationPlan }> {
  const current = await store.current(secret);
  if (current === undefined) throw new RotationStateError(`secret ${secret} no longer exists`);
  const plan = parseRotationTags(current.tags);
  if (!plan.marked) throw new RotationStateError(`secret ${secret} is no longer marked: ${plan.reason}`);
  if (strategy !== undefined && plan.target.kind !== strategy)
    throw new RotationStateError(
      `secret ${secret}'s strategy changed from ${strategy} to ${plan.target.kind} during the rotation`,
    );
  return { current, plan };
}

/** The role whose password changes: the single role, the inactive one of a pair, or the server administrator. */
async function roleToRotate(plan: RotationPlan, current: SecretVersionInfo): Promise<string | undefined> {
  const { target } = plan;
  switch (target.kind) {
    case 'postgres-role':
      return target.role;
    case 'postgres-alternating':
      return inactiveRole(target.roles, current.tags);
    case 'postgres-flexible-admin':
      return target.role ?? (await flexibleServerAdministrator().describe(target.server)).administratorLogin;
    case 'random':
      return undefined;
  }
}

interface PostgresTarget {
  endpoint: PostgresEndpoint;
  role: string;
}

async function postgresTarget(
  plan: RotationPlan,
  role: string | undefined,
): Promise<PostgresTarget | undefined> {
  const { target } = plan;
  if (target.kind === 'random') return undefined;
  if (target.kind === 'postgres-role') return { endpoint: target.endpoint, role: target.role };
  if (target.kind === 'postgres-alternating') {
    if (role === undefined || !target.roles.includes(role))
      throw new RotationStateError(
        `the pending version names no role of the pair ${target.roles.join(', ')}`,
      );
    return { endpoint: target.endpoint, role };
  }
  const needsArm = target.endpoint.host === undefined || (role ?? target.role) === undefined;
  const facts = needsArm ? await flexibleServerAdministrator().describe(target.server) : undefined;
  const host = target.endpoint.host ?? facts?.fullyQualifiedDomainName;
  if (host === undefined)
    throw new RotationStateError(
      `server ${target.server.serverName}: no vigil-host tag and ARM reports no fullyQualifiedDomainName`,
    );
  const login = role ?? target.role ?? facts?.administratorLogin;
  if (login === undefined)
    throw new RotationStateError(
      `server ${target.server.serverName}: no vigil-role tag and ARM reports no administratorLogin`,
    );
  return { endpoint: { ...target.endpoint, host }, role: login };
}

function connect(target: PostgresTarget, user: string, password: string): PostgresConnection {
  return { ...target.endpoint, user, password };
}

/** Changes the password on the target, with the credential each strategy allows. */
async function applyPassword(
  store: SecretStore,
  plan: RotationPlan,
  target: PostgresTarget,
  current: SecretVersionInfo,
  pending: string,
): Promise<void> {
  const { target: spec } = plan;
  if (spec.kind === 'postgres-flexible-admin')
    return flexibleServerAdministrator().setPassword(spec.server, pending);
  if (spec.kind === 'postgres-alternating') {
    const active = spec.roles.find((role) => role !== target.role) ?? '';
    const currentValue = await store.value(current.name, current.version);
    if (!(await canLogin(connect(target, active, currentValue))))
      throw new RotationStepError(
        `the current version does not log in as ${active}: refusing to rotate ${target.role} while neither role is known to work`,
      );
  }
  const admin = spec.kind === 'random' ? undefined : spec.admin;
  const login = admin
    ? { user: admin.role, password: await currentValueOf(store, admin.secretName) }
    : { user: target.role, password: await store.value(current.name, current.version) };
  await setRolePassword(connect(target, login.user, login.password), target.role, pending);
}

async function currentValueOf(store: SecretStore, secret: string): Promise<string> {
  const current = await store.current(secret);
  if (current === undefined) throw new RotationStateError(`admin secret ${secret} does not exist`);
  return store.value(secret, current.version);
}

async function pendingValue(store: SecretStore, step: StepInput): Promise<string> {
  return store.value(pendingSecretName(step.secret), requirePendingVersion(step));
}

function requirePendingVersion(step: StepInput): string {
  if (step.pendingVersion === undefined) throw new RotationStateError('no pending version to work on');
  return step.pendingVersion;
}

/**
 * A leftover of an interrupted rotation that the target already uses, found only when the current
 * version no longer logs in: the run was stopped between set and promote, and disabling the
 * leftover would make the only working password unreadable. The create step adopts it instead.
 */
async function leftoverToAdopt(
  store: SecretStore,
  step: StepInput,
  stale: readonly VersionView[],
): Promise<VersionView | undefined> {
  if (stale.length === 0) return undefined;
  const { current, plan } = await loadPlan(store, step);
  const candidates = adoptionCandidates(plan.target.kind, stale);
  const target = candidates.length > 0 ? await postgresTarget(plan, undefined) : undefined;
  if (target === undefined) return undefined;
  const currentValue = await store.value(current.name, current.version);
  if (await canLogin(connect(target, target.role, currentValue))) return undefined;
  for (const candidate of candidates) {
    const value = await store.value(pendingSecretName(step.secret), candidate.version);
    if (await canLogin(connect(target, target.role, value))) return candidate;
  }
  return undefined;
}

/** Abandoning after the target took the pending password: put the current one back. */
async function restoreCurrentPassword(
  store: SecretStore,
  step: StepInput,
  ours: SecretVersionInfo[],
): Promise<RollbackOutcome> {
  const { current, plan } = await loadPlan(store, { secret: step.secret });
  const latest = ours.at(-1);
  if (isPromoted(current, step.rotationId))
    return { kind: 'not-needed', text: 'not needed (already promoted)' };
  if (latest === undefined || !changesLivePassword(plan.target.kind))
    return { kind: 'not-needed', text: 'not needed' };
  const target = await postgresTarget(plan, step.role);
  if (target === undefined) return { kind: 'not-needed', text: 'not needed' };
  const pending = await store.value(latest.name, latest.version);
  if (!(await canLogin(connect(target, target.role, pending))))
    return { kind: 'unchanged', text: 'unchanged' };
  const currentValue = await store.value(current.name, current.version);
  if (plan.target.kind === 'postgres-flexible-admin')
    await flexibleServerAdministrator().setPassword(plan.target.server, currentValue);
  else {
    const admin = plan.target.kind === 'postgres-role' ? plan.target.admin : undefined;
    const login = admin
      ? { user: admin.role, password: await currentValueOf(store, admin.secretName) }
      : { user: target.role, password: pending };
    await setRolePassword(connect(target, login.user, login.password), target.role, currentValue);
  }
  return { kind: 'restored', text: 'restored the current password' };
}

function roleOf(version: VersionView): { role?: string } {
  const role = version.tags?.[VERSION_TAGS.activeRole];
  return role === undefined ? {} : { role };
}

function withDetail<T extends object>(result: T, detail: string | undefined): T & { detail?: string } {
  return detail === undefined ? result : { ...result, detail };
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(
    keys.filter((key) => value[key] !== undefined).map((key) => [key, value[key]]),
  ) as Partial<Pick<T, K>>;
}

const TRANSIENT_POSTGRES = new Set([
  'connection-refused',
  'host-not-found',
  'timeout',
  'connection-lost',
  'unexpected',
]);

/**
 * Worth retrying: the dependency may come back. Bad tags, refused logins, a missing secret or a bad
 * password policy will not; anything unrecognised is retried, then fails with its cause.
 */
function isTransient(error: unknown): boolean {
  if (
    error instanceof KeyVaultError ||
    error instanceof FlexibleServerError ||
    error instanceof RotationStepError
  )
    return error.transient;
  if (error instanceof PostgresError) return TRANSIENT_POSTGRES.has(error.failure);
  return !(
    error instanceof RotationStateError ||
    error instanceof RotationTagError ||
    error instanceof PasswordPolicyError ||
    error instanceof z.ZodError
  );
}

/** The error's class and message; adapters never put a secret in either, and withoutSecrets masks any credential shape. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return withoutSecrets(String(error));
  return withoutSecrets(error.name === 'Error' ? error.message : `${error.name}: ${error.message}`);
}
