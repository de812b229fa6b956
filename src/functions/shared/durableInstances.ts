import type * as df from 'durable-functions';

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
