import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../clock.js';
import { durableClientInputs, invoke } from '../invoke.js';
import type { LoadedApp, RegisteredFunction } from '../registry.js';
import { parseActions } from './actions.js';
import { DurableClientError, DurableConfigError } from './errors.js';
import {
  arrived,
  EventType,
  type HistoryEvent,
  jsonText,
  type ParentInstance,
  parseJsonText,
} from './history.js';
import { type OrchestratorResult, runOrchestrator } from './orchestrator.js';
import { outstanding, replay, type TimerLimits } from './replay.js';
import { retryDelayMs } from './retry.js';
import {
  type HistoryRow,
  type InstanceMessage,
  type InstanceRecord,
  type RuntimeStatus,
  TaskHubStore,
  terminalStatuses,
} from './store.js';

export interface DurableEngineOptions {
  app: LoadedApp;
  clock: Clock;
  /** Table storage (Azurite) holding the task hub. */
  connectionString: string;
  hubName: string;
  maxConcurrentActivities?: number;
  /**
   * host.json `extensions.durableTask.overridableExistingInstanceStates`: which existing instances
   * a start with the same id replaces. `NonRunningStates` (the extension's default) replaces only
   * finished ones and answers 409 for Pending or Running; `AnyState` replaces any.
   */
  overridableExistingInstanceStates?: string;
  /** How an episode that throws (store error, unreadable history) is retried before the instance fails. */
  episodeRetry?: EpisodeRetry;
  /** The durable client binding's data, for activities that declare a durable client input. */
  clientBindingData?: () => unknown;
  log?: (line: string) => void;
}

/**
 * Retries of a failing episode: the delay doubles from `firstDelayMs` up to `maxDelayMs`; after
 * `maxAttempts` failures in a row the instance is marked Failed. Defaults: 250 ms, 30 s, 10
 * (about a minute and a half of retrying), long enough to ride out a storage blip.
 */
export interface EpisodeRetry {
  firstDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
}

export type OverridableStates = 'NonRunningStates' | 'AnyState';

/**
 * Reads the setting as the extension's configuration binding does (case-insensitive enum name).
 * @example
 * overridableStates(undefined); // 'NonRunningStates'
 */
export function overridableStates(value: string | undefined): OverridableStates {
  if (value === undefined) return 'NonRunningStates';
  const known: OverridableStates[] = ['NonRunningStates', 'AnyState'];
  const match = known.find((name) => name.toLowerCase() === value.trim().toLowerCase());
  if (!match)
    throw new DurableConfigError(
      `extensions.durableTask.overridableExistingInstanceStates must be "NonRunningStates" or "AnyState", got "${value.slice(0, 60)}"`,
    );
  return match;
}

/** The Azure Storage provider's timer limits (6 days, then 3-day intervals), as the extension announces them. */
export const timerLimits: TimerLimits = {
  maximumShortTimerMs: 6 * 24 * 3600_000,
  longRunningTimerIntervalMs: 3 * 24 * 3600_000,
};

export interface StartOptions {
  instanceId?: string;
  input?: unknown;
}

/**
 * The Durable extension's side of a function app: runs orchestrations through durable-functions'
 * replay engine, activities, timers on the Clock, events, sub-orchestrations, and keeps every bit
 * of state in Table storage so a new engine on the same store resumes what a killed one left.
 * @example
 * const engine = await DurableEngine.start({ app, clock, connectionString, hubName: 'VigilHub' });
 * const id = await engine.startNew('approval', { input: { amount: 5 } });
 */
export class DurableEngine {
  readonly #abort = new AbortController();
  readonly #runs = new Map<string, { again: boolean; done: Promise<void> }>();
  readonly #activeWork = new Set<string>();
  readonly #timers = new Map<string, AbortController>();
  readonly #activityQueue: Array<() => Promise<void>> = [];
  #runningActivities = 0;
  #sequence = 0;
  readonly #overridable: OverridableStates;

  private constructor(
    readonly options: DurableEngineOptions,
    readonly store: TaskHubStore,
    overridable: OverridableStates,
  ) {
    this.#overridable = overridable;
  }

  static async start(options: DurableEngineOptions): Promise<DurableEngine> {
    // Checked before the store opens, so a bad setting fails fast with its own message.
    const overridable = overridableStates(options.overridableExistingInstanceStates);
    checkEpisodeRetry(options.episodeRetry ?? {});
    const engine = new DurableEngine(
      options,
      await TaskHubStore.open(options.connectionString, options.hubName),
      overridable,
    );
    await engine.#recover();
    return engine;
  }

  get hubName(): string {
    return this.store.hubName;
  }

  /**
   * Stops at once, as a killed process would: nothing more is written, in-flight work is
   * abandoned, and whatever Table storage holds is all a later engine gets.
   */
  async stop(): Promise<void> {
    this.#abort.abort(new Error('Durable engine stopped'));
    for (const timer of this.#timers.values()) timer.abort();
    this.#timers.clear();
    this.#activityQueue.length = 0;
    await Promise.allSettled([...this.#runs.values()].map((run) => run.done));
  }

  get #stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  // ---- client operations -------------------------------------------------------------------

  /**
   * Schedules a new orchestration instance. An existing instance with the id is replaced as
   * `overridableExistingInstanceStates` says: under `NonRunningStates` (the default) a Pending or
   * Running one makes this fail with 409 and a finished one is replaced; under `AnyState` any
   * is replaced, its running execution abandoned. The check and the write are one conditional
   * write on the instance row, so concurrent starts of one id cannot both succeed.
   */
  async startNew(name: string, options: StartOptions = {}, parent?: ParentInstance): Promise<string> {
    this.#orchestrator(name);
    const instanceId = options.instanceId ?? randomUUID().replaceAll('-', '');
    validateInstanceId(instanceId);
    const now = this.options.clock.now();
    const record: InstanceRecord = {
      instanceId,
      name,
      executionId: newExecutionId(),
      runtimeStatus: 'Pending',
      createdTime: now,
      lastUpdatedTime: now,
      input: jsonText(options.input),
      historyCount: 0,
      ...(parent ? { parent } : {}),
    };
    const anyState = this.#overridable === 'AnyState';
    await this.store.createInstance(
      record,
      (existing) => anyState || terminalStatuses.has(existing.runtimeStatus),
    );
    // A replaced execution's timers would only send messages the new execution drops.
    this.#cancelTimers(instanceId);
    await this.store.deleteHistory(instanceId, record.executionId);
    await this.#send({
      instanceId,
      messageId: `start.${record.executionId}`,
      kind: 'start',
      executionId: record.executionId,
    });
    return instanceId;
  }

  /** Delivers an event; buffered until the orchestration waits for it. 404 unknown, 410 finished. */
  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void> {
    if (!eventName) throw new DurableClientError('eventName must be a non-empty string', 400);
    await this.#requireActive(instanceId);
    const event = arrived(EventType.EventRaised, this.options.clock.now(), {
      Name: eventName,
      Input: jsonText(data),
    });
    await this.#send({ instanceId, messageId: `event.${randomUUID()}`, kind: 'event', event });
  }

  /** Terminates a Pending or Running instance. 404 unknown, 410 finished. */
  async terminate(instanceId: string, reason: string | undefined): Promise<void> {
    await this.#requireActive(instanceId);
    const event = arrived(EventType.ExecutionTerminated, this.options.clock.now(), {
      Input: jsonText(reason ?? ''),
    });
    await this.#send({ instanceId, messageId: `terminate.${randomUUID()}`, kind: 'terminate', event });
  }

  /** The instance, or undefined; an id no instance can have (e.g. with `/`) is simply absent. */
  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    // Table storage refuses such keys outright, which would surface as a server error.
    if (!isValidInstanceId(instanceId)) return undefined;
    return this.store.getInstance(instanceId);
  }

  async listInstances(): Promise<InstanceRecord[]> {
    return this.store.listInstances();
  }

  async history(record: InstanceRecord): Promise<HistoryEvent[]> {
    return (await this.store.loadHistory(record)).map((row) => row.event);
  }

  /** Deletes a finished instance and its history; returns how many instances were deleted. */
  async purge(instanceId: string): Promise<number> {
    const record = await this.getInstance(instanceId);
    if (!record) return 0;
    if (!terminalStatuses.has(record.runtimeStatus))
      throw new DurableClientError(
        `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${instanceId} has status ${record.runtimeStatus}`,
        412,
      );
    await this.store.deleteInstance(instanceId);
    return 1;
  }

  /**
   * Resolves with the instance once it reaches one of `statuses` (a finished state by default).
   * @example
   * const done = await engine.waitFor(id, { timeoutMs: 5000 });
   */
  async waitFor(
    instanceId: string,
    {
      statuses = [...terminalStatuses],
      timeoutMs = 30_000,
    }: { statuses?: string[]; timeoutMs?: number } = {},
  ): Promise<InstanceRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.getInstance(instanceId);
      if (record && statuses.includes(record.runtimeStatus)) return record;
      if (Date.now() > deadline)
        throw new Error(
          `Instance ${instanceId} did not reach ${statuses.join('/')} within ${timeoutMs} ms (status ${record?.runtimeStatus ?? 'absent'})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  }

  async #requireActive(instanceId: string): Promise<InstanceRecord> {
    const record = await this.getInstance(instanceId);
    if (!record) throw new DurableClientError(`No instance with ID '${instanceId}' found.`, 404);
    if (terminalStatuses.has(record.runtimeStatus))
      throw new DurableClientError(`Instance '${instanceId}' is ${record.runtimeStatus}.`, 410);
    return record;
  }

  #orchestrator(name: string): RegisteredFunction {
    const fn = this.options.app.functions.get(name);
    if (!fn || !hasTrigger(fn, 'orchestrationTrigger'))
      throw new DurableClientError(
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
        400,
      );
    return fn;
  }

  async #send(message: Omit<InstanceMessage, 'sequence'>): Promise<void> {
    if (this.#stopped) return;
    this.#sequence = (this.#sequence + 1) % 1000;
    await this.store.putMessage({ ...message, sequence: Date.now() * 1000 + this.#sequence });
    this.#kick(message.instanceId);
  }

  // ---- episodes ----------------------------------------------------------------------------

  /** Runs episodes for an instance one at a time; a kick during a run asks for one more run. */
  #kick(instanceId: string): void {
    if (this.#stopped) return;
    const existing = this.#runs.get(instanceId);
    if (existing) {
      existing.again = true;
      return;
    }
    const run = { again: true, done: Promise.resolve() };
    run.done = (async () => {
      let failures = 0;
      while (run.again && !this.#stopped) {
        run.again = false;
        try {
          await this.#episode(instanceId);
          failures = 0;
        } catch (error) {
          if (this.#stopped) break;
          failures += 1;
          if (!(await this.#backOff(instanceId, error, failures))) break;
          run.again = true;
        }
      }
      this.#runs.delete(instanceId);
    })();
    this.#runs.set(instanceId, run);
  }

  /**
   * After the episode's `failures`th failure in a row: logs one line and waits the next backoff
   * step (resolving true to try again), or, at the limit, marks the instance Failed (false). A
   * failure that repeats every time (an unreadable history row, a write the store refuses) so
   * ends instead of retrying forever.
   */
  async #backOff(instanceId: string, error: unknown, failures: number): Promise<boolean> {
    const retry = this.options.episodeRetry ?? {};
    const maxAttempts = retry.maxAttempts ?? 10;
    const reason = describeError(error);
    if (failures >= maxAttempts) {
      await this.#giveUp(instanceId, `${failures} attempts failed; the last with ${reason}`);
      return false;
    }
    const delay = retryDelayMs(
      {
        firstRetryIntervalInMilliseconds: retry.firstDelayMs ?? 250,
        maxNumberOfAttempts: maxAttempts,
        backoffCoefficient: 2,
        maxRetryIntervalInMilliseconds: retry.maxDelayMs ?? 30_000,
      },
      failures - 1,
      new Date(0),
      new Date(0),
    );
    this.#log(
      `[durable] ${instanceId}: episode failed (attempt ${failures} of ${maxAttempts}), retrying in ${delay} ms: ${reason}`,
    );
    try {
      await sleep(delay, undefined, { signal: this.#abort.signal });
    } catch {
      return false; // stopped while waiting
    }
    return true;
  }

  /** Marks the instance Failed with the reason, touching only its instance row (the history may be what fails). */
  async #giveUp(instanceId: string, reason: string): Promise<void> {
    try {
      const record = await this.store.getInstance(instanceId);
      if (!record || terminalStatuses.has(record.runtimeStatus) || this.#stopped) return;
      const message = `Orchestration '${record.name}' failed: the local Durable host could not run it (${reason})`;
      const next: InstanceRecord = {
        ...record,
        runtimeStatus: 'Failed',
        output: jsonText(message),
        lastUpdatedTime: this.options.clock.now(),
      };
      next.etag = await this.store.commit(next, [], record.historyCount);
      this.#log(`[durable] ${instanceId}: marked Failed: ${reason}`);
      await this.#finished(next);
    } catch (error) {
      this.#log(
        `[durable] ${instanceId}: gave up (${reason}) but could not mark it Failed: ${describeError(error)}`,
      );
    }
  }

  async #episode(instanceId: string): Promise<void> {
    const record = await this.store.getInstance(instanceId);
    const messages = await this.store.listMessages(instanceId);
    if (messages.length === 0) return;
    if (!record) {
      await Promise.all(messages.map((m) => this.store.deleteMessage(m)));
      return;
    }
    if (terminalStatuses.has(record.runtimeStatus)) {
      const stale = messages.filter((m) => m.kind !== 'start' || m.executionId !== record.executionId);
      await Promise.all(stale.map((m) => this.store.deleteMessage(m)));
      return;
    }
    const rows = record.historyCount > 0 ? await this.store.loadHistory(record) : [];
    const intake = takeMessages(record, rows, messages);
    if (intake.newRows.length > 0 && !this.#stopped) await this.#decide(record, rows, intake.newRows);
    if (this.#stopped) return;
    await Promise.all(intake.consumed.map((m) => this.store.deleteMessage(m)));
  }

  /** Runs the orchestrator on the history plus the new events and commits what it decided. */
  async #decide(record: InstanceRecord, rows: HistoryRow[], newRows: HistoryRow[]): Promise<void> {
    const now = this.options.clock.now();
    const started: HistoryRow = { event: arrived(EventType.OrchestratorStarted, now) };
    const episode = [
      ...rows.map((r) => ({ ...r.event, IsPlayed: true })),
      started.event,
      ...newRows.map((r) => r.event),
    ];
    const appended: HistoryRow[] = [started, ...newRows];
    const next: InstanceRecord = { ...record, lastUpdatedTime: now, runtimeStatus: 'Running' };
    const terminated = newRows.find((r) => r.event.EventType === EventType.ExecutionTerminated);
    let decision: Decision;
    if (terminated) {
      decision = { status: 'Terminated', scheduled: [], output: terminated.event.Input ?? jsonText('') };
    } else {
      decision = await this.#orchestrate(record, episode);
      if (decision.customStatus !== undefined) next.customStatus = decision.customStatus;
      else delete next.customStatus;
    }
    appended.push(...decision.scheduled.map((event) => ({ event })));
    if (decision.status !== 'Running') appended.push({ event: completionEvent(decision, now) });
    appended.push({ event: arrived(EventType.OrchestratorCompleted, now) });
    next.runtimeStatus = decision.status;
    if (decision.output !== undefined) next.output = decision.output;
    next.historyCount = rows.length + appended.length;
    if (decision.continueAsNew) return this.#continueAsNew(next, rows.length, decision);
    if (this.#stopped) return;
    next.etag = await this.store.commit(next, appended, rows.length);
    if (this.#stopped) return;
    if (decision.status === 'Running') await this.#dispatch(next, decision.scheduled);
    else await this.#finished(next);
  }

  async #orchestrate(record: InstanceRecord, history: HistoryEvent[]): Promise<Decision> {
    const fn = this.options.app.functions.get(record.name);
    if (!fn || !hasTrigger(fn, 'orchestrationTrigger'))
      return failed(
        `The function '${record.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    let result: OrchestratorResult;
    try {
      result = await runOrchestrator(this.options.app, fn, {
        history,
        input: parseJsonText(record.input),
        instanceId: record.instanceId,
        parentInstanceId: record.parent?.OrchestrationInstance.InstanceId,
        isReplaying: history.some((e) => e.IsPlayed),
        timers: timerLimits,
      });
    } catch (error) {
      return failed(`Orchestrator function '${record.name}' failed: ${(error as Error).message}`);
    }
    const customStatus = result.customStatus === undefined ? undefined : jsonText(result.customStatus);
    if (result.error !== undefined)
      return { ...failed(`Orchestrator function '${record.name}' failed: ${result.error}`), customStatus };
    try {
      const outcome = replay({
        instanceId: record.instanceId,
        executionId: record.executionId,
        history,
        actions: parseActions(result.actions),
        timers: timerLimits,
      });
      if (outcome.retryTimeoutError)
        return {
          ...failed(`Orchestrator function '${record.name}' failed: ${outcome.retryTimeoutError}`),
          customStatus,
        };
      if (result.isDone && outcome.continueAsNew)
        return {
          status: 'Running',
          scheduled: [],
          customStatus,
          continueAsNew: { ...outcome.continueAsNew, carry: outcome.unconsumedEvents },
        };
      if (result.isDone)
        return { status: 'Completed', scheduled: [], output: jsonText(result.output), customStatus };
      return { status: 'Running', scheduled: outcome.newEvents, customStatus };
    } catch (error) {
      return {
        ...failed(`Orchestrator function '${record.name}' failed: ${(error as Error).message}`),
        customStatus,
      };
    }
  }

  /** Ends this execution and starts the next with the new input, carrying raised events if asked. */
  async #continueAsNew(next: InstanceRecord, committed: number, decision: Decision) {
    const plan = decision.continueAsNew;
    if (!plan || this.#stopped) return;
    // Derived from the ending execution, so a crash and re-run picks the same id and messages.
    const executionId = createHash('sha256')
      .update(`${next.executionId}:${committed}`)
      .digest('hex')
      .slice(0, 32);
    const carried = plan.preserveUnprocessedEvents ? plan.carry : [];
    for (const [index, event] of carried.entries())
      await this.#send({
        instanceId: next.instanceId,
        messageId: `carry.${executionId}.${index}`,
        kind: 'event',
        executionId,
        event: { ...event, IsPlayed: false },
      });
    await this.#send({
      instanceId: next.instanceId,
      messageId: `start.${executionId}`,
      kind: 'start',
      executionId,
    });
    const renewed: InstanceRecord = { ...next, executionId, historyCount: 0, input: jsonText(plan.input) };
    delete renewed.output;
    await this.store.commit(renewed, [], 0);
    this.#cancelTimers(next.instanceId);
    await this.store.deleteHistory(next.instanceId, executionId);
  }

  /** Starts the work the episode scheduled. */
  async #dispatch(record: InstanceRecord, events: HistoryEvent[]): Promise<void> {
    for (const event of events) {
      if (event.EventType === EventType.TaskScheduled) this.#runActivity(record, event);
      else if (event.EventType === EventType.TimerCreated) this.#armTimer(record, event);
      else if (event.EventType === EventType.SubOrchestrationInstanceCreated)
        await this.#startChild(record, event);
    }
  }

  async #finished(record: InstanceRecord): Promise<void> {
    this.#cancelTimers(record.instanceId);
    if (record.parent) await this.#notifyParent(record);
  }

  // ---- activities, timers, sub-orchestrations ---------------------------------------------

  #runActivity(record: InstanceRecord, scheduledEvent: HistoryEvent): void {
    const key = `task|${record.instanceId}|${record.executionId}|${scheduledEvent.EventId}`;
    if (this.#activeWork.has(key)) return;
    this.#activeWork.add(key);
    this.#activityQueue.push(async () => {
      try {
        const event = await this.#executeActivity(scheduledEvent);
        await this.#send({
          instanceId: record.instanceId,
          messageId: `task.${record.executionId}.${scheduledEvent.EventId}`,
          kind: 'event',
          executionId: record.executionId,
          event,
        });
      } finally {
        this.#activeWork.delete(key);
      }
    });
    this.#pumpActivities();
  }

  #pumpActivities(): void {
    const limit = this.options.maxConcurrentActivities ?? 10;
    while (this.#runningActivities < limit && !this.#stopped) {
      const job = this.#activityQueue.shift();
      if (!job) return;
      this.#runningActivities += 1;
      job()
        .catch((error: unknown) => {
          if (!this.#stopped) this.#log(`[durable] activity bookkeeping failed: ${String(error)}`);
        })
        .finally(() => {
          this.#runningActivities -= 1;
          this.#pumpActivities();
        });
    }
  }

  async #executeActivity(scheduledEvent: HistoryEvent): Promise<HistoryEvent> {
    const name = scheduledEvent.Name ?? '';
    const fn = this.options.app.functions.get(name);
    const fail = (reason: string, details: string) =>
      arrived(EventType.TaskFailed, this.options.clock.now(), {
        TaskScheduledId: scheduledEvent.EventId,
        Reason: reason,
        Details: details,
      });
    if (!fn || !hasTrigger(fn, 'activityTrigger'))
      return fail(`The function '${name}' doesn't exist, is disabled, or is not an activity function.`, '');
    try {
      const input = parseJsonText(scheduledEvent.Input) ?? null;
      const result = await invoke(this.options.app, fn, {
        trigger: { json: JSON.stringify(input) },
        extraInputs: durableClientInputs(fn, () => {
          if (!this.options.clientBindingData)
            throw new Error(`${name} needs a durable client, but none is configured`);
          return this.options.clientBindingData();
        }),
      });
      return arrived(EventType.TaskCompleted, this.options.clock.now(), {
        TaskScheduledId: scheduledEvent.EventId,
        Result: jsonText(decodeReturnValue(result.returnValue)),
      });
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      return fail(`Activity function '${name}' failed: ${err.message}`, err.stack ?? err.message);
    }
  }

  #armTimer(record: InstanceRecord, created: HistoryEvent): void {
    const key = `${record.instanceId}|${record.executionId}|${created.EventId}`;
    if (this.#timers.has(key) || this.#stopped) return;
    const controller = new AbortController();
    this.#timers.set(key, controller);
    const fireAt = new Date(created.FireAt ?? 0);
    this.options.clock
      .waitUntil(fireAt, controller.signal)
      .then(() =>
        this.#send({
          instanceId: record.instanceId,
          messageId: `timer.${record.executionId}.${created.EventId}`,
          kind: 'event',
          executionId: record.executionId,
          event: arrived(EventType.TimerFired, this.options.clock.now(), {
            TimerId: created.EventId,
            FireAt: created.FireAt ?? '',
          }),
        }),
      )
      .catch(() => {})
      .finally(() => {
        if (this.#timers.get(key) === controller) this.#timers.delete(key);
      });
  }

  #cancelTimers(instanceId: string): void {
    for (const [key, controller] of this.#timers) {
      if (key.startsWith(`${instanceId}|`)) {
        controller.abort();
        this.#timers.delete(key);
      }
    }
  }

  async #startChild(record: InstanceRecord, created: HistoryEvent): Promise<void> {
    const childId = created.InstanceId ?? '';
    const parent: ParentInstance = {
      Name: record.name,
      TaskScheduleId: created.EventId,
      OrchestrationInstance: { InstanceId: record.instanceId, ExecutionId: record.executionId },
    };
    const existing = await this.store.getInstance(childId);
    if (existing && isChildOf(existing, parent)) {
      if (terminalStatuses.has(existing.runtimeStatus)) await this.#notifyParent(existing);
      return;
    }
    try {
      await this.startNew(
        created.Name ?? '',
        { instanceId: childId, input: parseJsonText(created.Input) },
        parent,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      await this.#send({
        instanceId: record.instanceId,
        messageId: `sub.${record.executionId}.${created.EventId}`,
        kind: 'event',
        executionId: record.executionId,
        event: arrived(EventType.SubOrchestrationInstanceFailed, this.options.clock.now(), {
          TaskScheduledId: created.EventId,
          Reason: reason,
          Details: '',
        }),
      });
    }
  }

  async #notifyParent(child: InstanceRecord): Promise<void> {
    const parent = child.parent;
    if (!parent) return;
    const now = this.options.clock.now();
    const event =
      child.runtimeStatus === 'Completed'
        ? arrived(EventType.SubOrchestrationInstanceCompleted, now, {
            TaskScheduledId: parent.TaskScheduleId,
            Result: child.output ?? jsonText(null),
          })
        : arrived(EventType.SubOrchestrationInstanceFailed, now, {
            TaskScheduledId: parent.TaskScheduleId,
            Reason: `Sub-orchestration '${child.instanceId}' ${child.runtimeStatus.toLowerCase()}: ${String(parseJsonText(child.output) ?? '')}`,
            Details: child.output ?? '',
          });
    await this.#send({
      instanceId: parent.OrchestrationInstance.InstanceId,
      messageId: `sub.${parent.OrchestrationInstance.ExecutionId}.${parent.TaskScheduleId}`,
      kind: 'event',
      executionId: parent.OrchestrationInstance.ExecutionId,
      event,
    });
  }

  // ---- recovery ------------------------------------------------------------------------------

  /**
   * Rebuilds in-memory work from the store: activities scheduled without a recorded result run
   * again (at-least-once, as in Azure), timers re-arm at their fire time, children are checked,
   * and every instance with waiting messages gets an episode.
   */
  async #recover(): Promise<void> {
    const withMessages = await this.store.instancesWithMessages();
    for (const record of await this.store.listInstances()) {
      if (terminalStatuses.has(record.runtimeStatus)) continue;
      if (record.historyCount === 0) {
        await this.#send({
          instanceId: record.instanceId,
          messageId: `start.${record.executionId}`,
          kind: 'start',
          executionId: record.executionId,
        });
        continue;
      }
      const pendingIds = new Set((await this.store.listMessages(record.instanceId)).map((m) => m.messageId));
      const work = outstanding(await this.history(record));
      for (const event of work.activities)
        if (!pendingIds.has(`task.${record.executionId}.${event.EventId}`)) this.#runActivity(record, event);
      for (const event of work.timers)
        if (!pendingIds.has(`timer.${record.executionId}.${event.EventId}`)) this.#armTimer(record, event);
      for (const event of work.subOrchestrations)
        if (!pendingIds.has(`sub.${record.executionId}.${event.EventId}`))
          await this.#startChild(record, event);
    }
    for (const instanceId of withMessages) this.#kick(instanceId);
  }

  #log(line: string): void {
    (this.options.log ?? console.error)(line);
  }
}

interface Decision {
  status: RuntimeStatus;
  scheduled: HistoryEvent[];
  /** JSON text. */
  output?: string;
  customStatus?: string | undefined;
  continueAsNew?: { input: unknown; preserveUnprocessedEvents: boolean; carry: HistoryEvent[] };
}

function checkEpisodeRetry(retry: EpisodeRetry): void {
  const rules: Array<[keyof EpisodeRetry, number | undefined, boolean, string]> = [
    [
      'firstDelayMs',
      retry.firstDelayMs,
      Number.isFinite(retry.firstDelayMs) && (retry.firstDelayMs ?? 0) >= 0,
      'a finite number ≥ 0',
    ],
    [
      'maxDelayMs',
      retry.maxDelayMs,
      Number.isFinite(retry.maxDelayMs) && (retry.maxDelayMs ?? 0) >= 0,
      'a finite number ≥ 0',
    ],
    [
      'maxAttempts',
      retry.maxAttempts,
      Number.isInteger(retry.maxAttempts) && (retry.maxAttempts ?? 0) >= 1,
      'an integer ≥ 1',
    ],
  ];
  for (const [field, value, ok, rule] of rules)
    if (value !== undefined && !ok)
      throw new DurableConfigError(`episodeRetry.${field} must be ${rule}, got ${value}`);
}

/** One line for the log: name, message and the causes' messages, no stack. */
function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 4; depth += 1) {
    if (current instanceof Error) {
      parts.push(`${current.name}: ${current.message}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      current = undefined;
    }
  }
  return parts.join(' <- ').replace(/\s+/g, ' ').slice(0, 1000);
}

function failed(message: string): Decision {
  return { status: 'Failed', scheduled: [], output: jsonText(message) };
}

function completionEvent(decision: Decision, at: Date): HistoryEvent {
  return arrived(EventType.ExecutionCompleted, at, {
    OrchestrationStatus: decision.status,
    Result: decision.output ?? jsonText(null),
    ...(decision.status === 'Failed'
      ? {
          FailureDetails: {
            ErrorType: 'OrchestrationFailure',
            ErrorMessage: String(parseJsonText(decision.output)),
          },
        }
      : {}),
  });
}

/** Sorts this episode's messages into new history rows and messages done with. */
function takeMessages(record: InstanceRecord, rows: HistoryRow[], messages: InstanceMessage[]) {
  const applied = new Set(rows.flatMap((row) => (row.messageId ? [row.messageId] : [])));
  const newRows: HistoryRow[] = [];
  const consumed: InstanceMessage[] = [];
  let started = rows.length > 0;
  const ordered = [
    ...messages.filter((m) => m.kind === 'start'),
    ...messages.filter((m) => m.kind !== 'start'),
  ];
  for (const message of ordered) {
    const forOther = message.executionId !== undefined && message.executionId !== record.executionId;
    if (forOther) {
      // Completions for an ended execution are dropped; a start or an event for the next one waits.
      if (message.kind === 'event' && !message.messageId.startsWith('carry.')) consumed.push(message);
      continue;
    }
    if (applied.has(message.messageId)) {
      consumed.push(message);
      continue;
    }
    if (message.kind === 'start') {
      if (!started) newRows.push({ event: executionStarted(record), messageId: message.messageId });
      started = true;
      consumed.push(message);
    } else if (message.event && (started || message.kind === 'terminate')) {
      newRows.push({ event: { ...message.event, IsPlayed: false }, messageId: message.messageId });
      consumed.push(message);
    }
  }
  return { newRows, consumed };
}

function executionStarted(record: InstanceRecord): HistoryEvent {
  return arrived(EventType.ExecutionStarted, record.createdTime, {
    Name: record.name,
    Input: record.input ?? jsonText(null),
    Version: '',
    OrchestrationInstance: { InstanceId: record.instanceId, ExecutionId: record.executionId },
    ...(record.parent ? { ParentInstance: record.parent } : {}),
  });
}

function isChildOf(child: InstanceRecord, parent: ParentInstance): boolean {
  return (
    child.parent?.OrchestrationInstance.ExecutionId === parent.OrchestrationInstance.ExecutionId &&
    child.parent.TaskScheduleId === parent.TaskScheduleId
  );
}

function hasTrigger(fn: RegisteredFunction, type: string): boolean {
  return Object.values(fn.metadata.bindings).some((binding) => binding.type === type);
}

function newExecutionId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The worker's return value (worker-protocol TypedData) as the extension reads it. */
function decodeReturnValue(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return undefined;
  const typed = data as Record<string, unknown>;
  if (typeof typed.json === 'string') return JSON.parse(typed.json);
  if (typeof typed.string === 'string') return typed.string;
  if (typeof typed.int === 'number' || typeof typed.double === 'number') return typed.int ?? typed.double;
  if (typed.bytes instanceof Uint8Array) return Buffer.from(typed.bytes).toString('base64');
  return undefined;
}

function isValidInstanceId(instanceId: string): boolean {
  // Azure Storage rejects these characters in keys; the extension rejects them in instance ids.
  const control = [...instanceId].some((c) => (c.codePointAt(0) ?? 0) < 0x20 || c === '\u007f');
  return !(instanceId.length === 0 || instanceId.length > 100 || /[/\\#?]/.test(instanceId) || control);
}

function validateInstanceId(instanceId: string): void {
  if (!isValidInstanceId(instanceId))
    throw new DurableClientError(
      `instanceId "${instanceId.slice(0, 120)}" must be 1–100 characters without / \\ # ? or control characters`,
      400,
    );
}
