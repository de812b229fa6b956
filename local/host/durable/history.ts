/**
 * History events in the shape durable-functions' replay engine reads (DurableTask.Core's
 * HistoryEvent as the extension serializes it: PascalCase fields, JSON strings for payloads).
 * The numbers are durable-functions' `HistoryEventType`; the contract test pins them.
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
  ContinueAsNew: 16,
} as const;

export type EventTypeNumber = (typeof EventType)[keyof typeof EventType];

export const eventTypeName = (type: number): string =>
  Object.entries(EventType).find(([, value]) => value === type)?.[0] ?? `Unknown(${type})`;

/** One history event. Optional fields are present only on the event types that carry them. */
export interface HistoryEvent {
  EventType: EventTypeNumber;
  /** The orchestrator's sequence number for events it scheduled; -1 for everything else. */
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  /** JSON text. */
  Input?: string;
  /** JSON text. */
  Result?: string;
  Version?: string;
  InstanceId?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetails;
  OrchestrationStatus?: string;
  ParentInstance?: ParentInstance;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
}

export interface FailureDetails {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
}

export interface ParentInstance {
  Name: string;
  TaskScheduleId: number;
  OrchestrationInstance: { InstanceId: string; ExecutionId: string };
}

/** An orchestration-caused event: it carries the sequence number the replay engine correlates on. */
export function scheduled(
  type: EventTypeNumber,
  eventId: number,
  at: Date,
  fields: Partial<HistoryEvent>,
): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: at.toISOString(), ...fields };
}

/** An event that arrived from outside the orchestrator (completion, timer, raised event…). */
export function arrived(type: EventTypeNumber, at: Date, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return scheduled(type, -1, at, fields);
}

/** JSON text for a payload field; `undefined` becomes JSON null, as the extension writes it. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** Parses JSON text from a payload field, leaving absent values absent. */
export function parseJsonText(text: string | undefined): unknown {
  return text === undefined || text === '' ? undefined : JSON.parse(text);
}
