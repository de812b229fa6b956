import type { Stack } from '../../local/stack.js';

/** The run's instances do not match its probe ids. */
export class IntakeCorrectnessError extends Error {
  override name = 'IntakeCorrectnessError';
}

interface InstanceView {
  instanceId: string;
  runtimeStatus: string;
  customStatus: { stage?: string } | null;
}

/**
 * Waits until every probe of the run has checked its dependencies and waits for its
 * acknowledgement (the orchestration's first real work), then checks there is exactly one
 * `pipelineProbe` instance per distinct probe id and none failed. Resolves with the time
 * (performance.now()) it saw them all settled.
 * @example
 * const settledAt = await settleAndCheck(stack, 'r1direct-ab12', probeIds, 600_000);
 */
export async function settleAndCheck(
  stack: Stack,
  tag: string,
  probeIds: readonly string[],
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const instances = await listInstances(stack, `probe-${tag}-`);
    const broken = instances.filter((i) => ['Failed', 'Terminated', 'Canceled'].includes(i.runtimeStatus));
    if (broken.length > 0)
      throw new IntakeCorrectnessError(
        `${broken.length} probe instances ended ${broken[0]?.runtimeStatus} (first: ${broken[0]?.instanceId})`,
      );
    const settled = instances.filter((i) => i.customStatus?.stage === 'awaiting-acknowledgement').length;
    if (settled === probeIds.length && instances.length === probeIds.length) {
      checkOnePerProbe(instances, probeIds);
      return performance.now();
    }
    if (instances.length > probeIds.length) checkOnePerProbe(instances, probeIds);
    if (performance.now() > deadline)
      throw new IntakeCorrectnessError(
        `after ${timeoutMs} ms, ${instances.length} instances exist for ${probeIds.length} probe ids and ${settled} have settled`,
      );
    // Once a second: the local host lists every instance in the hub to filter by prefix.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function checkOnePerProbe(instances: InstanceView[], probeIds: readonly string[]): void {
  const expected = new Set(probeIds.map((id) => `probe-${id}`));
  const seen = new Map<string, number>();
  for (const instance of instances) seen.set(instance.instanceId, (seen.get(instance.instanceId) ?? 0) + 1);
  const extra = [...seen.keys()].filter((id) => !expected.has(id));
  const repeated = [...seen.entries()].filter(([, count]) => count > 1);
  const missing = [...expected].filter((id) => !seen.has(id));
  if (extra.length + repeated.length + missing.length > 0)
    throw new IntakeCorrectnessError(
      `expected exactly one instance per probe id: ${missing.length} missing, ${repeated.length} repeated, ${extra.length} unexpected (e.g. ${[...missing, ...extra][0] ?? repeated[0]?.[0]})`,
    );
}

/** Instances whose id starts with the prefix, through the host's Durable webhook. */
async function listInstances(stack: Stack, prefix: string): Promise<InstanceView[]> {
  const code = encodeURIComponent(stack.hostKeys.systemKeys.durabletask_extension);
  const response = await fetch(
    `${stack.hostUrl}/runtime/webhooks/durabletask/instances?instanceIdPrefix=${encodeURIComponent(prefix)}&code=${code}`,
  );
  if (!response.ok) throw new IntakeCorrectnessError(`listing instances answered ${response.status}`);
  return (await response.json()) as InstanceView[];
}
