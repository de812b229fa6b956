import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessHost, startInProcessHost } from '../../support/inProcessHost.js';

let running: InProcessHost;
beforeAll(async () => {
  running = await startInProcessHost();
});
afterAll(() => running.stop());

const webhookUrl = () =>
  `${running.host.url}/runtime/webhooks/eventgrid?functionName=probeEvents&code=${running.keys.systemKeys.eventgrid_extension}`;

/** Event Grid–shaped events whose fields are sometimes missing, mistyped or odd. */
const eventLike = fc.record(
  {
    id: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
    eventType: fc.oneof(fc.constant('Vigil.PipelineProbe.Requested'), fc.string()),
    subject: fc.oneof(fc.string(), fc.constant(null)),
    eventTime: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
    dataVersion: fc.oneof(fc.constant('1.0'), fc.integer()),
    data: fc.oneof(
      fc.anything(),
      fc.record({ probeId: fc.string(), ackTimeoutMinutes: fc.oneof(fc.integer(), fc.double()) }),
    ),
  },
  { requiredKeys: [] },
);

describe('bad input never gets a 5xx', () => {
  it('Event Grid webhook: malformed, oversized-field and wrong-schema batches get 400 naming the problem, or 202', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(eventLike, { maxLength: 5 }), fc.anything(), fc.string()),
        async (body) => {
          const response = await fetch(webhookUrl(), {
            method: 'POST',
            headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body ?? null),
          });
          expect(response.status).toBeLessThan(500);
          if (response.status === 400)
            expect(((await response.json()) as { error: string }).error).toMatch(/\S/);
          else expect(response.status).toBe(202);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('POST /api/probes: any body gets 400 naming the field, or starts a probe', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({ probeId: fc.string(), ackTimeoutMinutes: fc.anything() }, { requiredKeys: [] }),
        ),
        async (body) => {
          const response = await fetch(`${running.host.url}/api/probes?code=${running.keys.functionKey}`, {
            method: 'POST',
            body: JSON.stringify(body ?? null),
          });
          expect(response.status).toBeLessThan(500);
          if (response.status === 400)
            expect(((await response.json()) as { error: string }).error).toMatch(/probe request/);
          else expect(response.status).toBe(202);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each(['[1,2]', '{"advanceMs":"soon"}', '{"advanceMs":-5}', '{'])(
    'the admin clock refuses %s with a 400',
    async (body) => {
      const response = await fetch(`${running.host.url}/admin/clock`, {
        method: 'POST',
        headers: { 'x-functions-key': running.keys.masterKey },
        body,
      });
      expect(response.status).toBe(400);
    },
  );
});
