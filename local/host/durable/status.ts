import type { DurableEngine } from './engine.js';
import { EventType, eventTypeName, type HistoryEvent, parseJsonText } from './history.js';
import type { InstanceRecord } from './store.js';

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/** Seconds precision with a Z, as the extension formats `createdTime` and `lastUpdatedTime`. */
const extensionTime = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/**
 * An instance's status in the extension's StatusResponsePayload shape. `input` and `output` are
 * always present (null when absent): durable-functions' DurableOrchestrationStatus requires them.
 * @example
 * const body = await statusPayload(engine, record, { showHistory: true });
 */
export async function statusPayload(engine: DurableEngine, record: InstanceRecord, options: StatusOptions) {
  const payload: Record<string, unknown> = {
    name: record.name,
    instanceId: record.instanceId,
    runtimeStatus: record.runtimeStatus,
    input: options.showInput === false ? null : (parseJsonText(record.input) ?? null),
    customStatus: parseJsonText(record.customStatus) ?? null,
    output: parseJsonText(record.output) ?? null,
    createdTime: extensionTime(record.createdTime),
    lastUpdatedTime: extensionTime(record.lastUpdatedTime),
  };
  if (options.showHistory)
    payload.historyEvents = historyView(await engine.history(record), options.showHistoryOutput === true);
  return payload;
}

const hidden: ReadonlySet<number> = new Set([
  EventType.OrchestratorStarted,
  EventType.OrchestratorCompleted,
  EventType.TaskScheduled,
  EventType.SubOrchestrationInstanceCreated,
]);

/**
 * The history as the status API shows it: the orchestrator's bookkeeping events left out,
 * completions named after the function they completed with its scheduled time, payloads
 * only when `showHistoryOutput` is set.
 */
function historyView(history: HistoryEvent[], withOutput: boolean): Record<string, unknown>[] {
  const scheduledById = new Map<number, HistoryEvent>();
  for (const event of history)
    if (
      event.EventType === EventType.TaskScheduled ||
      event.EventType === EventType.SubOrchestrationInstanceCreated
    )
      scheduledById.set(event.EventId, event);
  return history
    .filter((event) => !hidden.has(event.EventType))
    .map((event) => {
      const view: Record<string, unknown> = {
        EventType: eventTypeName(event.EventType),
        Timestamp: event.Timestamp,
      };
      const origin =
        event.TaskScheduledId === undefined ? undefined : scheduledById.get(event.TaskScheduledId);
      if (origin) Object.assign(view, { FunctionName: origin.Name, ScheduledTime: origin.Timestamp });
      if (event.EventType === EventType.ExecutionStarted) view.FunctionName = event.Name;
      if (event.EventType === EventType.EventRaised) view.Name = event.Name;
      if (event.FireAt) view.FireAt = event.FireAt;
      if (event.OrchestrationStatus) view.OrchestrationStatus = event.OrchestrationStatus;
      if (event.Reason) Object.assign(view, { Reason: event.Reason, Details: event.Details });
      if (withOutput && event.Result !== undefined) view.Result = parseJsonText(event.Result);
      if (withOutput && event.Input !== undefined) view.Input = parseJsonText(event.Input);
      return view;
    });
}
