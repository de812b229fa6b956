import { AzureKeyCredential, EventGridPublisherClient } from '@azure/eventgrid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../local/host/easyAuth.js';
import { vigilTopic } from '../../local/stack.js';
import { executions, startTestStack, waitForInstance } from '../support/stack.js';

const hour = 3600_000;
const lines: string[] = [];
let stack: Awaited<ReturnType<typeof startTestStack>>;
let publisher: EventGridPublisherClient<'EventGrid'>;

beforeAll(async () => {
  stack = await startTestStack(lines);
  publisher = new EventGridPublisherClient(
    stack.eventGrid.topicEndpoint(vigilTopic),
    'EventGrid',
    new AzureKeyCredential(stack.topicKey),
  );
});
afterAll(() => stack.cleanUp());

const requestProbe = (probeId: string, ackTimeoutMinutes?: number) => ({
  id: `request-${probeId}`,
  eventType: 'Vigil.PipelineProbe.Requested',
  subject: `probes/${probeId}`,
  dataVersion: '1.0',
  data: { probeId, ...(ackTimeoutMinutes && { ackTimeoutMinutes }) },
});

const awaitingAcknowledgement = (status: { customStatus: unknown }) =>
  (status.customStatus as { stage?: string } | null)?.stage === 'awaiting-acknowledgement';

async function probeResult(probeId: string): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  await expect
    .poll(
      async () => {
        const response = await fetch(
          `${stack.hostUrl}/api/probes/${probeId}?code=${stack.hostKeys.functionKey}`,
        );
        body = (await response.json()) as Record<string, unknown>;
        return response.status;
      },
      { timeout: 30_000, interval: 100 },
    )
    .toBe(200);
  return body;
}

describe('the pipeline probe, end to end through Event Grid, the host and Durable', () => {
  it('runs once per probe however often the event arrives, and records the acknowledgement', async () => {
    const event = requestProbe('e2e-ack');
    await publisher.send([event, event]);
    await publisher.send([event]);
    await waitForInstance(stack, 'probe-e2e-ack', awaitingAcknowledgement);

    const token = await issueToken(stack.hostKeys.tokenSigningKey, {
      subject: 'oncall-1',
      name: 'Ada',
      roles: ['responder'],
    });
    const ack = await fetch(`${stack.hostUrl}/api/probes/e2e-ack/acknowledge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ack.status).toBe(202);

    const result = await probeResult('e2e-ack');
    expect(result).toMatchObject({
      probeId: 'e2e-ack',
      acknowledgement: { by: 'Ada' },
      dependencies: [
        { dependency: 'stateStorage', reachable: true },
        { dependency: 'eventGrid', reachable: true },
      ],
    });
    await stack.eventGrid.idle();
    expect(executions(lines, 'probeEvents')).toBe(3);
    expect(executions(lines, 'checkDependency')).toBe(2);
    expect(executions(lines, 'recordProbeResult')).toBe(1);
  });

  it('records a timeout when nobody acknowledges before the deadline, by the stack clock', async () => {
    await publisher.send([requestProbe('e2e-timeout', 60)]);
    const waiting = await waitForInstance(stack, 'probe-e2e-timeout', awaitingAcknowledgement);
    const deadline = (waiting.customStatus as { deadline: string }).deadline;

    await stack.advanceClock(hour + 60_000);

    const result = await probeResult('e2e-timeout');
    expect(result.acknowledgement).toEqual({ timedOutAt: expect.any(String) });
    const timedOutAt = new Date((result.acknowledgement as { timedOutAt: string }).timedOutAt);
    expect(timedOutAt.getTime()).toBeGreaterThanOrEqual(new Date(deadline).getTime());
  });
});

describe('a host killed with SIGKILL mid-orchestration', () => {
  it('resumes the probe on restart without re-running the activities that had completed', async () => {
    const before = {
      checks: executions(lines, 'checkDependency'),
      records: executions(lines, 'recordProbeResult'),
    };
    await publisher.send([requestProbe('e2e-crash')]);
    await waitForInstance(stack, 'probe-e2e-crash', awaitingAcknowledgement);
    expect(executions(lines, 'checkDependency')).toBe(before.checks + 2);

    await stack.stopHost('SIGKILL');
    await stack.startHost();

    const token = await issueToken(stack.hostKeys.tokenSigningKey, {
      subject: 'oncall-2',
      name: 'Grace',
      roles: ['responder'],
    });
    const ack = await fetch(`${stack.hostUrl}/api/probes/e2e-crash/acknowledge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    if (ack.status !== 202) console.log(await ack.text(), lines.slice(-40).join('\n'));
    expect(ack.status).toBe(202);
    expect(await probeResult('e2e-crash')).toMatchObject({ acknowledgement: { by: 'Grace' } });
    expect(executions(lines, 'checkDependency')).toBe(before.checks + 2);
    expect(executions(lines, 'recordProbeResult')).toBe(before.records + 1);
  });

  it('finishes a probe whose host was killed while its event was being handled', async () => {
    await publisher.send([requestProbe('e2e-crash-early', 1)]);
    await expect
      .poll(
        () =>
          executions(lines, 'probeEvents') > 0 &&
          lines.some((l) => l.includes("Executing 'Functions.checkDependency'")),
      )
      .toBe(true);
    await stack.stopHost('SIGKILL');
    await stack.startHost();

    await waitForInstance(stack, 'probe-e2e-crash-early', awaitingAcknowledgement);
    await stack.advanceClock(2 * 60_000);
    expect(await probeResult('e2e-crash-early')).toMatchObject({
      acknowledgement: { timedOutAt: expect.any(String) },
    });
  });
});
