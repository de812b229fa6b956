import { invoke } from '../invoke.js';
import type { LoadedApp, RegisteredFunction } from '../registry.js';
import { DurableProtocolError } from './errors.js';
import type { HistoryEvent } from './history.js';
import type { TimerLimits } from './replay.js';

/** Replay schema versions the extension announces: V3 in the old field, V4 in the new one. */
export const upperSchemaVersion = 2;
export const upperSchemaVersionNew = 3;
export const defaultHttpAsyncRequestSleepTimeMillseconds = 30_000;

export interface OrchestrationTrigger {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  parentInstanceId: string | undefined;
  isReplaying: boolean;
  timers: TimerLimits;
}

/** What durable-functions' Orchestrator returns (its OrchestratorState). */
export interface OrchestratorResult {
  isDone: boolean;
  actions: unknown;
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** Where durable-functions appends the orchestrator state to the message of a failure it throws. */
const outOfProcDataLabel = '\n\n$OutOfProcData$:';

/**
 * Invokes an orchestrator function with the orchestration trigger payload, as the extension
 * does, and returns the orchestrator's state, also when it failed (the state then rides in the
 * thrown error's message after `$OutOfProcData$:`).
 * @example
 * const state = await runOrchestrator(app, fn, { history, input, instanceId, parentInstanceId: undefined, isReplaying: false, timers });
 */
export async function runOrchestrator(
  app: LoadedApp,
  fn: RegisteredFunction,
  trigger: OrchestrationTrigger,
): Promise<OrchestratorResult> {
  const payload = {
    history: trigger.history,
    input: trigger.input,
    instanceId: trigger.instanceId,
    isReplaying: trigger.isReplaying,
    parentInstanceId: trigger.parentInstanceId ?? '',
    upperSchemaVersion,
    upperSchemaVersionNew,
    maximumShortTimerDuration: timeSpan(trigger.timers.maximumShortTimerMs),
    longRunningTimerIntervalDuration: timeSpan(trigger.timers.longRunningTimerIntervalMs),
    defaultHttpAsyncRequestSleepTimeMillseconds,
  };
  let returned: unknown;
  try {
    const result = await invoke(app, fn, { trigger: { json: JSON.stringify(payload) } });
    returned = result.returnValue;
  } catch (error) {
    return stateFromFailure(error);
  }
  return toResult(decodeJson(returned));
}

function stateFromFailure(error: unknown): OrchestratorResult {
  const message = error instanceof Error ? error.message : String(error);
  const at = message.indexOf(outOfProcDataLabel);
  if (at < 0) return { isDone: false, actions: [[]], error: message };
  const state = toResult(JSON.parse(message.slice(at + outOfProcDataLabel.length)));
  return { ...state, error: state.error ?? message.slice(0, at) };
}

function decodeJson(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const typed = data as Record<string, unknown>;
  if (typeof typed.json === 'string') return JSON.parse(typed.json);
  if (typeof typed.string === 'string') return JSON.parse(typed.string);
  return data;
}

function toResult(value: unknown): OrchestratorResult {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { isDone?: unknown }).isDone !== 'boolean'
  )
    throw new DurableProtocolError(
      'The orchestrator returned no orchestrator state (isDone, actions…): is it registered with df.app.orchestration?',
    );
  return value as OrchestratorResult;
}

/** A .NET TimeSpan string (d.hh:mm:ss), the format the extension sends timer settings in. */
export function timeSpan(ms: number): string {
  const totalSeconds = Math.floor(ms / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  return `${days}.${pad(hours)}:${pad(minutes)}:${pad(totalSeconds % 60)}`;
}
