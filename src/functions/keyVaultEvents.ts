import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { KeyVaultError, keyVault } from '../adapters/keyVault.js';
import { loadRotationConfig } from '../config.js';
import { KeyVaultEventError, parseKeyVaultEvent, type SecretEvent } from '../core/rotation/keyVaultEvent.js';
import { rotationMark } from '../core/rotation/tags.js';
import { startRotation, startUnlessRunning } from '../orchestrations/shared/instances.js';
import { SWEEP_INSTANCE_ID } from '../orchestrations/sweepSecrets.js';

/** Whether Vigil should look at this secret at all; bad tags still start a run, which records the error. */
async function markedForRotation(vault: string, secret: string): Promise<{ marked: boolean; why: string }> {
  const current = await keyVault(vault).current(secret);
  return current === undefined
    ? { marked: false, why: 'the secret no longer exists' }
    : rotationMark(current.tags);
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
 * Timer: starts the sweep (`src/orchestrations/sweepSecrets.ts`), which catches what events miss:
 * versions created before the subscription, lost deliveries, secrets without an expiry. It runs as
 * an orchestration so that it judges expiry by the Durable clock, as the rotations do, and so that
 * a sweep still running when the timer fires again is not started twice.
 */
export async function rotationSweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const { rotationVaults } = loadRotationConfig();
  if (rotationVaults.length === 0) {
    context.log('Rotation sweep: VIGIL_ROTATION_VAULTS names no vault; nothing to scan');
    return;
  }
  const started = await startUnlessRunning(df.getClient(context), 'sweepSecrets', SWEEP_INSTANCE_ID, {
    vaults: rotationVaults,
  });
  context.log(
    `Rotation sweep ${SWEEP_INSTANCE_ID}: ${started ? 'started' : 'still running, not started again'}`,
  );
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
