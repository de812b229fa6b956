import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Cron } from 'croner';
import type { Clock } from '../clock.js';
import { writeFileAtomic } from '../http.js';

/** The value the Functions host passes a timer trigger (the library camel-cases it). */
export interface TimerInfo {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string };
  IsPastDue: boolean;
}

export interface TimerSchedule {
  functionName: string;
  /** NCRONTAB with seconds: `{second} {minute} {hour} {day} {month} {day-of-week}`. */
  schedule: string;
  runOnStartup: boolean;
  fire: (info: TimerInfo) => Promise<void>;
}

/**
 * When each timer last ran: the real host's schedule monitor, which makes a host that was down
 * (or whose clock jumped) run a missed occurrence once, past due, when it starts again.
 */
export interface TimerStatusStore {
  lastRun(functionName: string): Promise<Date | undefined>;
  recordRun(functionName: string, at: Date): Promise<void>;
}

/** A schedule monitor kept in a JSON file, written whole and renamed so a crash never leaves half. */
export function fileTimerStatus(file: string): TimerStatusStore {
  let writes = Promise.resolve();
  const read = async (): Promise<Record<string, string>> => {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  };
  return {
    async lastRun(functionName) {
      const at = (await read())[functionName];
      return at ? new Date(at) : undefined;
    },
    recordRun(functionName, at) {
      writes = writes.then(async () => {
        const status = { ...(await read()), [functionName]: at.toISOString() };
        await mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, JSON.stringify(status, null, 2));
      });
      return writes;
    },
  };
}

/** For hosts without a data folder: runs are remembered only while the host runs. */
export function memoryTimerStatus(): TimerStatusStore {
  const runs = new Map<string, Date>();
  return {
    lastRun: async (functionName) => runs.get(functionName),
    recordRun: async (functionName, at) => void runs.set(functionName, at),
  };
}

/**
 * Runs each timer trigger on its schedule by the stack's clock, so advancing the clock fires
 * the occurrences it passes (once: like the real host, missed occurrences collapse into one).
 * @example
 * const timers = startTimers([{ functionName: 'sweep', schedule: '0 0 * * * *', runOnStartup: false, fire }], clock, onError);
 * await timers.armed; // every timer knows its next occurrence
 * timers.stop();
 */
export function startTimers(
  schedules: TimerSchedule[],
  clock: Clock,
  onError: (name: string, error: unknown) => void,
  status: TimerStatusStore = memoryTimerStatus(),
) {
  const abort = new AbortController();
  const armed = schedules.map(async (timer) => {
    const report = (error: unknown) => onError(timer.functionName, error);
    const last = await status.lastRun(timer.functionName).catch(() => undefined);
    void runTimer(timer, last ?? clock.now(), { clock, status, signal: abort.signal, report }).catch(report);
  });
  return { stop: () => abort.abort(), armed: Promise.all(armed).then(() => {}) };
}

/** Validates a schedule up front, so a bad one stops the host with a message naming the function. */
export function parseSchedule(functionName: string, schedule: string): Cron {
  if (schedule.trim().split(/\s+/).length !== 6) {
    throw new Error(
      `Timer ${functionName}: schedule "${schedule}" must have 6 NCRONTAB fields (seconds first)`,
    );
  }
  try {
    return new Cron(schedule, { paused: true, timezone: 'UTC', mode: '6-part' });
  } catch (error) {
    throw new Error(`Timer ${functionName}: invalid schedule "${schedule}": ${(error as Error).message}`, {
      cause: error,
    });
  }
}

interface TimerRun {
  clock: Clock;
  status: TimerStatusStore;
  signal: AbortSignal;
  report: (error: unknown) => void;
}

/** `last` is the last recorded run: the occurrence after it may already be due, and then fires at once, past due. */
async function runTimer(
  timer: TimerSchedule,
  lastRun: Date,
  { clock, status, signal, report }: TimerRun,
): Promise<void> {
  const cron = parseSchedule(timer.functionName, timer.schedule);
  let last = lastRun;
  if (timer.runOnStartup) await timer.fire(timerInfo(last, nextAfter(cron, last), false)).catch(report);
  while (!signal.aborted) {
    const due = nextAfter(cron, last);
    try {
      await clock.waitUntil(due, signal);
    } catch {
      return;
    }
    const now = clock.now();
    const isPastDue = now.getTime() - due.getTime() > 1000;
    const previous = last;
    last = now;
    await status.recordRun(timer.functionName, now).catch(report);
    await timer.fire(timerInfo(previous, due, isPastDue)).catch(report);
  }
}

function nextAfter(cron: Cron, date: Date): Date {
  const next = cron.nextRun(date);
  if (!next) throw new Error(`Schedule "${cron.getPattern()}" never fires again`);
  return next;
}

/**
 * The schedule status as the real host passes it: named from the scheduler's side, so during an
 * invocation `Next` is the occurrence being run (in the past when it is past due) and `Last` the
 * run before it.
 */
function timerInfo(last: Date, next: Date, isPastDue: boolean): TimerInfo {
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: last.toISOString(), Next: next.toISOString(), LastUpdated: last.toISOString() },
    IsPastDue: isPastDue,
  };
}
