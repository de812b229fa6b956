import * as df from 'durable-functions';
import { rotationInstanceId } from '../../core/rotation/steps.js';
import type { RotationRequest } from '../rotateSecret.js';

/**
 * The instance's status, or undefined if no such instance exists. The client reports a missing
 * instance as an error mentioning HTTP 404; any other failure is real and is rethrown.
 * @example
 * const status = await findInstance(client, 'probe-p1');
 */
export async function findInstance(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (error) {
    if (error instanceof Error && error.message.includes('HTTP 404')) return undefined;
    throw error;
  }
}

/**
 * Starts an orchestration under a fixed instance id unless one already exists, so repeated
 * deliveries of one event start it once. A start that loses a race to a concurrent one is also
 * fine: the extension (host.json `overridableExistingInstanceStates: NonRunningStates`) answers
 * it with 409 because the winner's instance is Pending or Running, and that counts as 'exists'.
 * @example
 * await startSingleton(client, 'pipelineProbe', 'probe-p1', input);
 */
export async function startSingleton(
  client: df.DurableClient,
  orchestration: string,
  instanceId: string,
  input: unknown,
): Promise<'started' | 'exists'> {
  if (await findInstance(client, instanceId)) return 'exists';
  try {
    await client.startNew(orchestration, { instanceId, input });
  } catch (error) {
    if (isConflict(error)) return 'exists';
    throw error;
  }
  return 'started';
}

/** The client reports any status it does not expect as "unexpected status code: N". */
function isConflict(error: unknown): boolean {
  return error instanceof Error && /unexpected status code: 409\b/.test(error.message);
}

const FINISHED: readonly string[] = [
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
  df.OrchestrationRuntimeStatus.Terminated,
];

/**
 * Starts the orchestration under a fixed instance id unless an instance with that id is still
 * Pending or Running; a finished one is replaced by the new run. Resolves whether it started.
 * @example
 * const started = await startUnlessRunning(client, 'sweepSecrets', 'rotation-sweep', { vaults });
 */
export async function startUnlessRunning(
  client: df.DurableClient,
  orchestration: string,
  instanceId: string,
  input: unknown,
): Promise<boolean> {
  const running = async () => {
    const status = await findInstance(client, instanceId);
    return status !== undefined && !FINISHED.includes(status.runtimeStatus);
  };
  if (await running()) return false;
  try {
    await client.startNew(orchestration, { instanceId, input });
    return true;
  } catch (error) {
    // Two starts raced and the other one won: the extension answers 409, and the winner may even
    // have finished already (a rotation that skips takes a second).
    if (isConflict(error) || (await running())) return false;
    throw error;
  }
}

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
  return { instanceId, started: await startUnlessRunning(client, 'rotateSecret', instanceId, request) };
}
