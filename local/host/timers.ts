import { Cron } from 'croner';
import type { Clock } from '../clock.js';

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
 * Runs each timer trigger on its schedule by the stack's clock, so advancing the clock fires
 * the occurrences it passes (once: like the real host, missed occurrences collapse into one).
 * @example
 * const stop = startTimers([{ functionName: 'sweep', schedule: '0 0 * * * *', runOnStartup: false, fire }], clock);
 */
export function startTimers(
  schedules: TimerSchedule[],
  clock: Clock,
  onError: (name: string, error: unknown) => void,
) {
  const abort = new AbortController();
  for (const timer of schedules) {
    const report = (error: unknown) => onError(timer.functionName, error);
    void runTimer(timer, clock, abort.signal, report).catch(report);
  }
  return () => abort.abort();
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

async function runTimer(
  timer: TimerSchedule,
  clock: Clock,
  signal: AbortSignal,
  report: (error: unknown) => void,
): Promise<void> {
  const cron = parseSchedule(timer.functionName, timer.schedule);
  let last = clock.now();
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
    last = now;
    await timer.fire(timerInfo(due, nextAfter(cron, now), isPastDue)).catch(report);
  }
}

function nextAfter(cron: Cron, date: Date): Date {
  const next = cron.nextRun(date);
  if (!next) throw new Error(`Schedule "${cron.getPattern()}" never fires again`);
  return next;
}

function timerInfo(last: Date, next: Date, isPastDue: boolean): TimerInfo {
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: last.toISOString(), Next: next.toISOString(), LastUpdated: last.toISOString() },
    IsPastDue: isPastDue,
  };
}
