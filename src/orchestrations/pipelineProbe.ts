import type { OrchestrationContext } from 'durable-functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { probe, tableEndpointOf } from '../adapters/reachability.js';
import { stateStore } from '../adapters/stateStore.js';
import { loadConfig } from '../config.js';
import {
  type DependencyCheck,
  type ProbeResult,
  parseProbeRequest,
  probeAcknowledgedEvent,
} from '../core/probe.js';

export const probesTable = 'probes';

const dependencyCheck = z.object({
  dependency: z.string(),
  reachable: z.boolean(),
  detail: z.string().optional(),
});
const acknowledgement = z.object({ by: z.string().min(1) });

/** Checks that one of Vigil's dependencies answers. */
export const checkDependency = df.app.activity('checkDependency', {
  handler: async (dependency: unknown): Promise<DependencyCheck> => {
    const config = loadConfig();
    const endpoints: Record<string, string | undefined> = {
      stateStorage: tableEndpointOf(config.stateStorage),
      eventGrid: config.eventGrid?.endpoint,
    };
    const name = String(dependency);
    const endpoint = endpoints[name];
    if (!endpoint) return { dependency: name, reachable: false, detail: 'not configured' };
    const { reachable, error } = await probe(endpoint);
    return { dependency: name, reachable, ...(error && { detail: error }) };
  },
});

/** Stores the probe's result; replaying the activity writes the same row again. */
export const recordProbeResult = df.app.activity('recordProbeResult', {
  handler: async (result: ProbeResult): Promise<void> => {
    await stateStore().upsert(probesTable, 'probe', result.probeId, { ...result });
  },
});

/** Fans out the dependency checks, waits for an acknowledgement or the deadline, records the result. */
export function* pipelineProbe(context: OrchestrationContext): Generator<df.Task, ProbeResult, unknown> {
  const request = parseProbeRequest(context.df.getInput());
  const checks = yield context.df.Task.all([checkDependency('stateStorage'), checkDependency('eventGrid')]);
  const dependencies = z.array(dependencyCheck).parse(checks);

  const deadline = new Date(context.df.currentUtcDateTime.getTime() + request.ackTimeoutMinutes * 60_000);
  context.df.setCustomStatus({ stage: 'awaiting-acknowledgement', deadline: deadline.toISOString() });
  const timeout = context.df.createTimer(deadline);
  const acknowledged = context.df.waitForExternalEvent(probeAcknowledgedEvent);
  const first = yield context.df.Task.any([acknowledged, timeout]);
  const at = context.df.currentUtcDateTime.toISOString();
  let outcome: ProbeResult['acknowledgement'];
  if (first === acknowledged) {
    timeout.cancel();
    outcome = { by: acknowledgement.parse(acknowledged.result).by, at };
  } else {
    outcome = { timedOutAt: at };
  }

  const result: ProbeResult = {
    probeId: request.probeId,
    dependencies,
    acknowledgement: outcome,
    completedAt: at,
  };
  yield recordProbeResult(result);
  return result;
}

df.app.orchestration('pipelineProbe', pipelineProbe);
