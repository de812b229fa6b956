import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { freePorts, Stack } from '../../local/stack.js';

export const appRoot = path.resolve(import.meta.dirname, '../..');

/** A whole stack on free ports in a temporary folder, with Event Grid retrying within seconds. */
export async function startTestStack(lines: string[] = []): Promise<Stack & { cleanUp(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'vigil-stack-'));
  const stack = await Stack.start({
    appRoot,
    dataDir,
    ports: freePorts,
    eventGridRetryScheduleMs: [200, 500, 1000],
    log: (line) => lines.push(line),
  });
  return Object.assign(stack, {
    async cleanUp() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

export interface InstanceStatus {
  runtimeStatus: string;
  customStatus: unknown;
  output: unknown;
}

/** The orchestration's status through the host's Durable webhook, undefined while it does not exist. */
export async function instanceStatus(stack: Stack, instanceId: string): Promise<InstanceStatus | undefined> {
  const code = encodeURIComponent(stack.hostKeys.systemKeys.durabletask_extension);
  const response = await fetch(
    `${stack.hostUrl}/runtime/webhooks/durabletask/instances/${instanceId}?code=${code}`,
  );
  if (response.status === 404) return undefined;
  return (await response.json()) as InstanceStatus;
}

/** Polls until the instance's status satisfies `done`. */
export async function waitForInstance(
  stack: Stack,
  instanceId: string,
  done: (status: InstanceStatus) => boolean,
  timeoutMs = 30_000,
): Promise<InstanceStatus> {
  let last: InstanceStatus | undefined;
  await expect
    .poll(
      async () => {
        last = await instanceStatus(stack, instanceId);
        return last !== undefined && done(last);
      },
      { timeout: timeoutMs, interval: 100 },
    )
    .toBe(true);
  if (!last) throw new Error(`No instance ${instanceId}`);
  return last;
}

/** How many times the host ran a function to success (or to failure), from its own log lines. */
export function executions(
  lines: string[],
  functionName: string,
  result: 'Succeeded' | 'Failed' = 'Succeeded',
): number {
  return lines.filter((line) => line.includes(`Executed 'Functions.${functionName}' (${result}`)).length;
}
