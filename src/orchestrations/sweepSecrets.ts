import type { InvocationContext } from '@azure/functions';
import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { keyVault } from '../adapters/keyVault.js';
import { sweepVerdict } from '../core/rotation/steps.js';
import { rotationMark } from '../core/rotation/tags.js';
import { startRotation } from './shared/instances.js';
import { retry } from './shared/retry.js';

/** One sweep at a time: the timer starts it under this id unless it still runs. */
export const SWEEP_INSTANCE_ID = 'rotation-sweep';

const sweepInputSchema = z.object({ vaults: z.array(z.string().min(1)) });
const vaultInputSchema = z.object({ vault: z.string().min(1), now: z.iso.datetime() });

const vaultSweepSchema = z.object({
  vault: z.string(),
  started: z.number(),
  alreadyRunning: z.number(),
  /** Secrets whose rotation could not be started; the next sweep tries again. */
  notStarted: z.array(z.string()),
});
export type VaultSweep = z.infer<typeof vaultSweepSchema> | { vault: string; error: string };

/**
 * Lists one vault's secrets and starts a rotation of every marked one that is expired, near
 * expiry or without expiry at `now` (the orchestration's time), unless one already runs. The
 * rotation re-judges its secret on the Durable clock too, so a run started here for a secret
 * rotated meanwhile skips.
 */
export const sweepVault = df.app.activity('sweepVault', {
  extraInputs: [df.input.durableClient()],
  handler: async (input: unknown, context: InvocationContext): Promise<VaultSweep> => {
    const { vault, now } = vaultInputSchema.parse(input);
    const client = df.getClient(context);
    const result = { vault, started: 0, alreadyRunning: 0, notStarted: [] as string[] };
    for (const secret of await keyVault(vault).secrets()) {
      const verdict = sweepVerdict(secret.expiresOn, new Date(now));
      if (verdict === 'valid' || !secret.enabled || !rotationMark(secret.tags).marked) continue;
      // One secret that cannot start must not stop the sweep of the others: log it and go on.
      try {
        const outcome = await startRotation(client, {
          vault,
          secret: secret.name,
          trigger: { reason: 'sweep', verdict },
        });
        result[outcome.started ? 'started' : 'alreadyRunning'] += 1;
        context.log(
          `Rotation sweep: ${vault}/${secret.name} is ${verdict}: ${outcome.started ? 'started' : 'already running'}`,
        );
      } catch (error) {
        result.notStarted.push(secret.name);
        context.error(`Rotation sweep: ${vault}/${secret.name} could not start: ${(error as Error).message}`);
      }
    }
    context.log(`Rotation sweep of ${vault}: ${result.started} rotation(s) started`);
    return result;
  },
});

/**
 * The rotation sweep: each configured vault in turn, at the orchestration's time, so that it
 * judges expiry by the same clock as the rotations it starts (locally, the stack's clock). A vault
 * that fails after the retries is reported and the others are still swept.
 */
export function* sweepSecrets(context: OrchestrationContext): Generator<df.Task, VaultSweep[], unknown> {
  const { vaults } = sweepInputSchema.parse(context.df.getInput());
  const now = context.df.currentUtcDateTime.toISOString();
  const results: VaultSweep[] = [];
  for (const vault of vaults) {
    try {
      results.push(vaultSweepSchema.parse(yield sweepVault({ vault, now }).withRetry(retry)));
    } catch (error) {
      results.push({ vault, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return results;
}

df.app.orchestration('sweepSecrets', sweepSecrets);
