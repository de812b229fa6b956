import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ActionType, parseActions } from '../../../local/host/durable/actions.js';
import { EventType } from '../../../local/host/durable/history.js';
import { upperSchemaVersion, upperSchemaVersionNew } from '../../../local/host/durable/orchestrator.js';

// The local Durable host drives durable-functions' internals directly; if any of these change,
// the host's history and action handling must be revisited before the version pin moves.
const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve('durable-functions/package.json'));
const internal = <T>(file: string) => require(path.join(root, 'lib/src', file)) as T;

interface OrchestratorModule {
  Orchestrator: new (
    fn: (context: unknown) => Generator<unknown, unknown, unknown>,
  ) => {
    listen(): (trigger: unknown, context: unknown) => Promise<Record<string, unknown>>;
  };
}

type Ctx = { df: { callActivity(name: string, input: unknown): unknown; getInput(): unknown } };

const now = new Date('2030-01-01T00:00:00Z').toISOString();
const trigger = (history: unknown[]) => ({
  history,
  input: 'in',
  instanceId: 'contract',
  isReplaying: false,
  parentInstanceId: '',
  upperSchemaVersion,
  upperSchemaVersionNew,
  maximumShortTimerDuration: '6.00:00:00',
  longRunningTimerIntervalDuration: '3.00:00:00',
  defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
});
const started = [
  { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: now },
  { EventType: 0, EventId: -1, IsPlayed: false, Timestamp: now, Name: 'o', Input: '"in"' },
];

describe('durable-functions internals the local Durable host relies on', () => {
  it('is the pinned version', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toBe('3.5.0');
    const app = JSON.parse(
      await readFile(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8'),
    ) as {
      dependencies: Record<string, string>;
    };
    expect(app.dependencies['durable-functions']).toBe('3.5.0');
  });

  it('numbers history events and actions as the host does', () => {
    const { HistoryEventType } = internal<{ HistoryEventType: Record<string, number> }>(
      'history/HistoryEventType.js',
    );
    for (const [name, number] of Object.entries(EventType))
      expect([name, HistoryEventType[name]]).toEqual([name, number]);
    const actions = internal<{ ActionType: Record<string, number> }>('actions/ActionType.js').ActionType;
    for (const [name, number] of Object.entries(ActionType))
      expect([name, actions[name]]).toEqual([name, number]);
    const { ReplaySchema } = internal<{ ReplaySchema: Record<string, number> }>(
      'orchestrations/ReplaySchema.js',
    );
    expect(ReplaySchema.V3).toBe(upperSchemaVersion);
    expect(ReplaySchema.V4).toBe(upperSchemaVersionNew);
  });

  it('reads the trigger fields the host sends', () => {
    const { DurableOrchestrationBindingInfoReqFields } = internal<{
      DurableOrchestrationBindingInfoReqFields: new () => object;
    }>('orchestrations/DurableOrchestrationBindingInfo.js');
    expect(Object.keys(new DurableOrchestrationBindingInfoReqFields()).sort()).toEqual(
      ['history', 'instanceId', 'isReplaying', 'upperSchemaVersion'].sort(),
    );
  });

  it('returns the orchestrator state shape the host interprets', async () => {
    const { Orchestrator } = internal<OrchestratorModule>('orchestrations/Orchestrator.js');
    const listen = new Orchestrator(function* (context: unknown) {
      const df = (context as Ctx).df;
      return yield df.callActivity('hello', df.getInput());
    }).listen();
    const state = await listen(trigger(structuredClone(started)), {});
    expect(state).toMatchObject({ isDone: false, schemaVersion: upperSchemaVersionNew });
    expect(state.actions).toEqual([[{ actionType: 0, functionName: 'hello', input: '"in"' }]]);
    expect(parseActions(state.actions)).toEqual([{ kind: 'activity', name: 'hello', input: 'in' }]);

    const completed = [
      ...started,
      { EventType: 4, EventId: 0, IsPlayed: false, Timestamp: now, Name: 'hello', Input: '"in"' },
      { EventType: 13, EventId: -1, IsPlayed: false, Timestamp: now },
      { EventType: 12, EventId: -1, IsPlayed: false, Timestamp: now },
      { EventType: 5, EventId: -1, IsPlayed: false, Timestamp: now, TaskScheduledId: 0, Result: '"done"' },
    ];
    expect(await listen(trigger(completed), {})).toMatchObject({ isDone: true, output: 'done' });
  });

  it('puts the state of a failed orchestrator, with the error, after $OutOfProcData$ in the message', async () => {
    const { Orchestrator } = internal<OrchestratorModule>('orchestrations/Orchestrator.js');
    // biome-ignore lint/correctness/useYield: the orchestrator fails before its first yield on purpose.
    const listen = new Orchestrator(function* () {
      throw new Error('kaput');
    }).listen();
    await expect(listen(trigger(structuredClone(started)), {})).rejects.toThrow(
      /^false\n\n\$OutOfProcData\$:\{"isDone":false.*"error":"kaput"/,
    );
  });

  it('calls the extension HTTP API on the paths the host serves', async () => {
    const client = await readFile(path.join(root, 'lib/src/durableClient/DurableClient.js'), 'utf8');
    // Template placeholders are spelled #{…} here and compared as the source's ${…}.
    for (const route of [
      'orchestrators/#{orchestratorFunctionName}#{instanceIdPath}',
      'instances/#{instanceId}/raiseEvent/#{eventName}',
      'instances/#{instanceId}/terminate?reason=#{reason}',
      'new URL(`instances/#{instanceId}`, this.clientData.rpcBaseUrl)',
      'new URL("instances/", this.clientData.rpcBaseUrl)',
      'new URL(`instances/#{options.instanceId || ""}`, this.clientData.rpcBaseUrl)',
      'return response.data.id;',
    ])
      expect(client, route).toContain(route.replaceAll('#{', '$' + '{'));
  });
});
