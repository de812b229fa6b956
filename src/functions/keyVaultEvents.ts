import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { KeyVaultError, keyVault } from '../adapters/keyVault.js';
import { loadRotationConfig } from '../config.js';
import { KeyVaultEventError, parseKeyVaultEvent, type SecretEvent } from '../core/rotation/keyVaultEvent.js';
import { rotationInstanceId, sweepVerdict } from '../core/rotation/steps.js';
import { parseRotationTags, RotationTagError } from '../core/rotation/tags.js';
import type { RotationRequest } from '../orchestrations/rotateSecret.js';
import { findInstance } from './shared/durableInstances.js';

const FINISHED: readonly string[] = [
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
  df.OrchestrationRuntimeStatus.Terminated,
];

/**
 * Starts the secret's rotation, or joins the one already running: the instance id is the same
 * for every trigger of one secret, so at most one rotation of it runs at a time. A finished
 * instance is replaced by a new run (which skips work that a redelivered event no longer calls for).
 * @example
 * const { instanceId, started } = await startRotation(df.getClient(context), request);
 */
export async function startRotation(
  client: df.DurableClient,
  request: RotationRequest,
): Promise<{ instanceId: string; started: boolean }> {
  const instanceId = rotationInstanceId(request.vault, request.secret);
  const running = async () => {
    const status = await findInstance(client, instanceId);
    return status !== undefined && !FINISHED.includes(status.runtimeStatus);
  };
  if (await running()) return { instanceId, started: false };
  try {
    await client.startNew('rotateSecret', { instanceId, input: request });
    return { instanceId, started: true };
  } catch (error) {
    // Two deliveries raced; the other one started it (the store refuses a second start with 409).
    if (await running()) return { instanceId, started: false };
    throw error;
  }
}

/** Whether Vigil should look at this secret at all; bad tags still start a run, which records the error. */
async function markedForRotation(vault: string, secret: string): Promise<{ marked: boolean; why: string }> {
  const current = await keyVault(vault).current(secret);
  return current === undefined
    ? { marked: false, why: 'the secret no longer exists' }
    : markedBy(current.tags);
}

function markedBy(tags: Record<string, string>): { marked: boolean; why: string } {
  try {
    const plan = parseRotationTags(tags);
    return plan.marked ? { marked: true, why: plan.target.kind } : { marked: false, why: plan.reason };
  } catch (error) {
    if (error instanceof RotationTagError) return { marked: true, why: `bad tags: ${error.message}` };
    throw error;
  }
}

/**
 * Event Grid: `SecretNearExpiry` and `SecretExpired` start the secret's rotation. Other events, and
 * secrets not marked for rotation, are acknowledged with a log line saying why. An event that cannot
 * be parsed is logged and acknowledged: redelivering it would never make it valid.
 */
export async function keyVaultEvents(event: unknown, context: InvocationContext): Promise<void> {
  let parsed: SecretEvent;
  try {
    parsed = parseKeyVaultEvent(event);
  } catch (error) {
    if (!(error instanceof KeyVaultEventError)) throw error;
    context.error(`Rejected Key Vault event ${eventIdOf(event)}: ${error.message}`);
    return;
  }
  const about = `${parsed.vaultName}/${parsed.secretName} version ${parsed.version}`;
  if (parsed.type === 'SecretNewVersionCreated') {
    context.log(`Ignoring ${parsed.type} for ${about}: only expiry events start a rotation`);
    return;
  }
  let marking: { marked: boolean; why: string };
  try {
    marking = await markedForRotation(parsed.vaultName, parsed.secretName);
  } catch (error) {
    // Throttling or an outage passes: throw, so Event Grid redelivers. A refusal (403, a disabled
    // latest version) does not: redelivering for a day would change nothing, so say why and ack.
    if (!(error instanceof KeyVaultError) || error.transient) throw error;
    context.error(`Cannot rotate after ${parsed.type} for ${about}: ${error.message}`);
    return;
  }
  const { marked, why } = marking;
  if (!marked) {
    context.log(`Ignoring ${parsed.type} for ${about}: not marked for rotation (${why})`);
    return;
  }
  const reason = parsed.type === 'SecretNearExpiry' ? 'near-expiry' : 'expired';
  const { instanceId, started } = await startRotation(df.getClient(context), {
    vault: parsed.vaultName,
    secret: parsed.secretName,
    trigger: { reason, version: parsed.version, eventId: parsed.eventId },
  });
  context.log(
    `${parsed.type} for ${about} (event ${parsed.eventId}): ${started ? 'started' : 'joined'} ${instanceId}`,
  );
}

/**
 * Timer: catches what events miss (versions created before the subscription, lost deliveries,
 * secrets without an expiry). Every marked secret that is expired, near expiry or without expiry
 * gets a rotation unless one is already running.
 */
export async function rotationSweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const { rotationVaults } = loadRotationConfig();
  if (rotationVaults.length === 0) {
    context.log('Rotation sweep: VIGIL_ROTATION_VAULTS names no vault; nothing to scan');
    return;
  }
  const client = df.getClient(context);
  const now = new Date();
  // One vault or secret that fails must not stop the sweep of the others: log it and go on.
  for (const vault of rotationVaults) {
    try {
      const started = await sweepVault(client, vault, now, context);
      context.log(`Rotation sweep of ${vault}: ${started} rotation(s) started`);
    } catch (error) {
      context.error(`Rotation sweep of ${vault} failed: ${(error as Error).message}`);
    }
  }
}

async function sweepVault(client: df.DurableClient, vault: string, now: Date, context: InvocationContext) {
  let started = 0;
  for (const secret of await keyVault(vault).secrets()) {
    const verdict = sweepVerdict(secret.expiresOn, now);
    if (verdict === 'valid' || !secret.enabled) continue;
    if (!markedBy(secret.tags).marked) continue;
    try {
      const outcome = await startRotation(client, {
        vault,
        secret: secret.name,
        trigger: { reason: 'sweep', verdict },
      });
      if (outcome.started) started += 1;
      context.log(
        `Rotation sweep: ${vault}/${secret.name} is ${verdict}: ${outcome.started ? 'started' : 'already running'}`,
      );
    } catch (error) {
      context.error(`Rotation sweep: ${vault}/${secret.name} could not start: ${(error as Error).message}`);
    }
  }
  return started;
}

function eventIdOf(event: unknown): string {
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : '(no id)';
}

app.eventGrid('keyVaultEvents', {
  handler: (event, context) => keyVaultEvents(event, context),
  extraInputs: [df.input.durableClient()],
});
app.timer('rotationSweep', {
  schedule: '%VIGIL_ROTATION_SWEEP_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: rotationSweep,
});
