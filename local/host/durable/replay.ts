import type { Action, RetryPolicy } from './actions.js';
import { NonDeterminismError } from './errors.js';
import { EventType, eventTypeName, type HistoryEvent, jsonText, scheduled } from './history.js';
import { retryDelayMs } from './retry.js';

/** Timer limits the engine announces to the orchestrator (the Azure Storage provider's defaults). */
export interface TimerLimits {
  maximumShortTimerMs: number;
  longRunningTimerIntervalMs: number;
}

export interface ReplayInput {
  instanceId: string;
  executionId: string;
  /** The episode's whole history: past events, the new OrchestratorStarted and new arrivals. */
  history: HistoryEvent[];
  /** Every action the orchestrator has yielded in this execution, in order. */
  actions: Action[];
  timers: TimerLimits;
}

export interface ReplayOutcome {
  /** Scheduling events to append (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated), in order. */
  newEvents: HistoryEvent[];
  continueAsNew?: { input: unknown; preserveUnprocessedEvents: boolean };
  /** EventRaised events nothing waited for: carried over by continueAsNew when asked to. */
  unconsumedEvents: HistoryEvent[];
  /** A retry gave up because its retry timeout expired (see `RetryNode`). */
  retryTimeoutError?: string;
}

type Settled = { ok: true; event?: HistoryEvent } | { ok: false; event?: HistoryEvent; reason: string };

/** A task as the extension tracks it: settles once, then tells whoever waits on it. */
class TaskNode {
  outcome: Settled | undefined;
  readonly #listeners: Array<(outcome: Settled) => void> = [];

  onSettled(listener: (outcome: Settled) => void): void {
    if (this.outcome) listener(this.outcome);
    else this.#listeners.push(listener);
  }

  settle(outcome: Settled): void {
    if (this.outcome) return;
    this.outcome = outcome;
    for (const listener of this.#listeners.splice(0)) listener(outcome);
  }
}

const completionIdKey: Partial<Record<number, 'TaskScheduledId' | 'TimerId'>> = {
  [EventType.TaskCompleted]: 'TaskScheduledId',
  [EventType.TaskFailed]: 'TaskScheduledId',
  [EventType.SubOrchestrationInstanceCompleted]: 'TaskScheduledId',
  [EventType.SubOrchestrationInstanceFailed]: 'TaskScheduledId',
  [EventType.TimerFired]: 'TimerId',
};

const failures: ReadonlySet<number> = new Set([
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceFailed,
]);

/**
 * The extension side of a replay: walks the orchestrator's actions against the history the way
 * the Durable extension's out-of-process shim does (each top-level action awaited in turn, every
 * scheduled task numbered in order, retries and long timers expanded into timers and new
 * attempts), so sequence numbers agree with durable-functions' own replay engine. What it
 * schedules that the history does not yet hold is the episode's new work.
 * @example
 * const { newEvents } = replay({ instanceId, executionId, history, actions, timers });
 */
export function replay(input: ReplayInput): ReplayOutcome {
  const run = new ReplayRun(input);
  for (const event of input.history) run.process(event);
  return run.outcome();
}

class ReplayRun {
  #sequence = 0;
  #now = new Date(0);
  #started = false;
  #nextAction = 0;
  #current: TaskNode | undefined;
  readonly #recorded = new Map<number, HistoryEvent>();
  readonly #open = new Map<number, TaskNode>();
  readonly #early = new Map<number, HistoryEvent>();
  readonly #waiting = new Map<string, TaskNode[]>();
  readonly #buffered = new Map<string, HistoryEvent[]>();
  readonly #newEvents: HistoryEvent[] = [];
  #continueAsNew: ReplayOutcome['continueAsNew'];
  #retryTimeoutError: string | undefined;

  constructor(readonly input: ReplayInput) {
    for (const event of input.history) {
      if (
        event.EventType === EventType.TaskScheduled ||
        event.EventType === EventType.TimerCreated ||
        event.EventType === EventType.SubOrchestrationInstanceCreated
      )
        this.#recorded.set(event.EventId, event);
    }
  }

  outcome(): ReplayOutcome {
    const result: ReplayOutcome = {
      newEvents: this.#newEvents,
      unconsumedEvents: [...this.#buffered.values()].flat(),
    };
    if (this.#continueAsNew) result.continueAsNew = this.#continueAsNew;
    if (this.#retryTimeoutError) result.retryTimeoutError = this.#retryTimeoutError;
    return result;
  }

  process(event: HistoryEvent): void {
    const idKey = completionIdKey[event.EventType];
    if (event.EventType === EventType.OrchestratorStarted) {
      const at = new Date(event.Timestamp);
      if (at > this.#now) this.#now = at;
    } else if (event.EventType === EventType.ExecutionStarted) {
      this.#started = true;
    } else if (event.EventType === EventType.EventRaised) {
      this.#raise(event);
    } else if (idKey) {
      this.#complete(event[idKey] ?? -1, event);
    }
    this.#advance();
  }

  /** Awaits the actions in order: the next one is invoked only once the current one has settled. */
  #advance(): void {
    const actions = this.input.actions;
    while (this.#started && (this.#current === undefined || this.#current.outcome)) {
      const action = actions[this.#nextAction];
      if (!action || this.#retryTimeoutError) return;
      this.#nextAction += 1;
      this.#current = this.#invoke(action);
    }
  }

  #invoke(action: Action): TaskNode {
    switch (action.kind) {
      case 'activity':
      case 'subOrchestration':
        return action.retry ? this.#retrying(action, action.retry) : this.#schedule(action);
      case 'timer':
        return this.#timer(action.fireAt);
      case 'externalEvent':
        return this.#waitFor(action.name);
      case 'continueAsNew': {
        this.#continueAsNew = {
          input: action.input,
          preserveUnprocessedEvents: action.preserveUnprocessedEvents,
        };
        const done = new TaskNode();
        done.settle({ ok: true });
        return done;
      }
      case 'whenAll':
      case 'whenAny':
        return this.#compound(
          action.kind,
          action.children.map((child) => this.#invoke(child)),
        );
    }
  }

  #schedule(action: Extract<Action, { kind: 'activity' | 'subOrchestration' }>): TaskNode {
    const id = this.#sequence++;
    const isActivity = action.kind === 'activity';
    const expected = isActivity ? EventType.TaskScheduled : EventType.SubOrchestrationInstanceCreated;
    const instanceId = isActivity ? undefined : (action.instanceId ?? `${this.input.executionId}:${id}`);
    this.#record(id, expected, action.name, () => ({
      Name: action.name,
      Input: jsonText(action.input),
      ...(instanceId ? { InstanceId: instanceId } : {}),
    }));
    return this.#track(id);
  }

  #retrying(
    action: Extract<Action, { kind: 'activity' | 'subOrchestration' }>,
    policy: RetryPolicy,
  ): TaskNode {
    const node = new TaskNode();
    const firstAttemptAt = this.#now;
    let failed = 0;
    const attempt = () =>
      this.#schedule(action).onSettled((outcome) => {
        if (outcome.ok) return node.settle(outcome);
        failed += 1;
        const delay = retryDelayMs(policy, failed - 1, firstAttemptAt, this.#now);
        if (delay <= 0) {
          // Azure hangs here (durable-js#629: the extension stops retrying but the JS replay
          // engine still waits for a retry timer); fail the instance loudly instead.
          this.#retryTimeoutError = `${action.kind === 'activity' ? 'Activity' : 'Sub-orchestration'} '${action.name}' gave up: its retry timeout of ${policy.retryTimeoutInMilliseconds} ms expired after ${failed} attempt(s); last failure: ${outcome.reason}`;
          return;
        }
        this.#timer(new Date(this.#now.getTime() + delay)).onSettled(() => {
          if (failed >= policy.maxNumberOfAttempts) node.settle(outcome);
          else attempt();
        });
      });
    attempt();
    return node;
  }

  /** A durable timer; beyond the short-timer limit it is a chain of shorter timers, as in Azure Storage. */
  #timer(fireAt: Date): TaskNode {
    const { maximumShortTimerMs, longRunningTimerIntervalMs } = this.input.timers;
    const nextFireAt = () =>
      fireAt.getTime() - this.#now.getTime() > maximumShortTimerMs
        ? new Date(this.#now.getTime() + longRunningTimerIntervalMs)
        : fireAt;
    if (fireAt.getTime() - this.#now.getTime() <= maximumShortTimerMs) return this.#shortTimer(fireAt);
    const node = new TaskNode();
    const chain = () =>
      this.#shortTimer(nextFireAt()).onSettled(() => {
        if (fireAt > this.#now) chain();
        else node.settle({ ok: true });
      });
    chain();
    return node;
  }

  #shortTimer(fireAt: Date): TaskNode {
    const id = this.#sequence++;
    this.#record(id, EventType.TimerCreated, undefined, () => ({ FireAt: fireAt.toISOString() }));
    return this.#track(id);
  }

  #waitFor(name: string): TaskNode {
    const node = new TaskNode();
    const buffered = this.#buffered.get(name);
    const event = buffered?.shift();
    if (buffered?.length === 0) this.#buffered.delete(name);
    if (event) node.settle({ ok: true, event });
    else this.#waiting.set(name, [...(this.#waiting.get(name) ?? []), node]);
    return node;
  }

  #compound(kind: 'whenAll' | 'whenAny', children: TaskNode[]): TaskNode {
    const node = new TaskNode();
    for (const child of children) {
      child.onSettled((outcome) => {
        if (kind === 'whenAny') return node.settle({ ok: true });
        if (!outcome.ok) return node.settle(outcome);
        if (children.every((c) => c.outcome?.ok)) node.settle({ ok: true });
      });
    }
    return node;
  }

  /** Checks a replayed scheduling against the history, or records it as new work. */
  #record(id: number, type: number, name: string | undefined, fields: () => Partial<HistoryEvent>): void {
    const existing = this.#recorded.get(id);
    if (!existing) {
      this.#newEvents.push(scheduled(type as HistoryEvent['EventType'], id, this.#now, fields()));
      return;
    }
    if (existing.EventType !== type || (name !== undefined && existing.Name !== name)) {
      throw new NonDeterminismError(
        `Non-deterministic orchestrator: history has ${eventTypeName(existing.EventType)}${existing.Name ? ` '${existing.Name}'` : ''} with id ${id}, but replay scheduled ${eventTypeName(type)}${name ? ` '${name}'` : ''}`,
      );
    }
  }

  #track(id: number): TaskNode {
    const node = new TaskNode();
    const early = this.#early.get(id);
    if (early) {
      this.#early.delete(id);
      node.settle(settledBy(early));
    } else this.#open.set(id, node);
    return node;
  }

  #complete(id: number, event: HistoryEvent): void {
    const node = this.#open.get(id);
    if (!node) {
      this.#early.set(id, event);
      return;
    }
    this.#open.delete(id);
    node.settle(settledBy(event));
  }

  #raise(event: HistoryEvent): void {
    const name = event.Name ?? '';
    // durable-functions hands a raised event to the most recent waiter (it pops its list).
    const node = this.#waiting.get(name)?.pop();
    if (node) {
      node.settle({ ok: true, event });
      return;
    }
    this.#buffered.set(name, [...(this.#buffered.get(name) ?? []), event]);
  }
}

function settledBy(event: HistoryEvent): Settled {
  if (!failures.has(event.EventType)) return { ok: true, event };
  return { ok: false, event, reason: event.Reason ?? 'failed' };
}

/** Work the history has scheduled but not yet seen finish: what a restarted engine must resume. */
export interface Outstanding {
  activities: HistoryEvent[];
  timers: HistoryEvent[];
  subOrchestrations: HistoryEvent[];
}

/**
 * Scheduled tasks, timers and sub-orchestrations without their completion event.
 * @example
 * const { activities } = outstanding(history); // run these again after a crash
 */
export function outstanding(history: HistoryEvent[]): Outstanding {
  const done = new Set<string>();
  for (const event of history) {
    const key = completionIdKey[event.EventType];
    if (key) done.add(`${key === 'TimerId' ? 'timer' : 'task'}:${event[key]}`);
  }
  const open = (type: number, prefix: string) =>
    history.filter((e) => e.EventType === type && !done.has(`${prefix}:${e.EventId}`));
  return {
    activities: open(EventType.TaskScheduled, 'task'),
    timers: open(EventType.TimerCreated, 'timer'),
    subOrchestrations: open(EventType.SubOrchestrationInstanceCreated, 'task'),
  };
}
