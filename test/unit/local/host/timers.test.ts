import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import {
  fileTimerStatus,
  memoryTimerStatus,
  parseSchedule,
  startTimers,
  type TimerInfo,
} from '../../../../local/host/timers.js';

const hour = 3600_000;

describe('timer triggers', () => {
  it('fire when the clock is advanced past their schedule, once per advance', async () => {
    const clock = new Clock();
    const fired: TimerInfo[] = [];
    const timers = startTimers(
      [
        {
          functionName: 'hourly',
          schedule: '0 0 * * * *',
          runOnStartup: false,
          fire: async (info) => void fired.push(info),
        },
      ],
      clock,
      () => {},
    );
    await timers.armed;
    expect(fired).toHaveLength(0);

    clock.advance(hour);
    await expect.poll(() => fired.length).toBe(1);
    clock.advance(30 * 24 * hour);
    await expect.poll(() => fired.length).toBe(2);
    timers.stop();

    expect(fired[1]?.IsPastDue).toBe(true);
    // As in Azure: Next is the occurrence being run (here the missed one), Last the run before.
    const { Last, Next } = fired[1]?.ScheduleStatus ?? { Last: '', Next: '' };
    expect(new Date(Next).getTime()).toBeGreaterThan(new Date(Last).getTime());
    expect(new Date(Next).getTime()).toBeLessThan(clock.now().getTime());
    expect([new Date(Next).getMinutes(), new Date(Next).getSeconds()]).toEqual([0, 0]);
  });

  it('run on startup when asked', async () => {
    const clock = new Clock();
    let count = 0;
    const timers = startTimers(
      [
        {
          functionName: 'sweep',
          schedule: '0 0 0 * * *',
          runOnStartup: true,
          fire: async () => void count++,
        },
      ],
      clock,
      () => {},
    );
    await timers.armed;
    await expect.poll(() => count).toBe(1);
    timers.stop();
  });

  it('report a failing run and keep the schedule', async () => {
    const clock = new Clock();
    const errors: string[] = [];
    let runs = 0;
    const timers = startTimers(
      [
        {
          functionName: 'flaky',
          schedule: '0 * * * * *',
          runOnStartup: false,
          fire: async () => {
            runs++;
            throw new Error('boom');
          },
        },
      ],
      clock,
      (name, error) => errors.push(`${name}: ${(error as Error).message}`),
    );
    await timers.armed;
    clock.advance(60_000);
    await expect.poll(() => errors).toEqual(['flaky: boom']);
    clock.advance(60_000);
    await expect.poll(() => runs).toBe(2);
    timers.stop();
  });

  it.each([
    ['0 0 * * *', 'must have 6 NCRONTAB fields'],
    ['0 0 99 * * *', 'invalid schedule'],
  ])('reject the schedule %s, naming the function', (schedule, problem) => {
    expect(() => parseSchedule('sweep', schedule)).toThrow(`Timer sweep: `);
    expect(() => parseSchedule('sweep', schedule)).toThrow(problem);
  });
});

describe('the schedule monitor', () => {
  it('runs an occurrence missed while the host was down once, past due, when it starts again', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vigil-timers-'));
    const status = fileTimerStatus(path.join(dir, 'timers.json'));
    const clock = new Clock();
    const fired: TimerInfo[] = [];
    const timer = {
      functionName: 'sweep',
      schedule: '0 0 * * * *',
      runOnStartup: false,
      fire: async (info: TimerInfo) => void fired.push(info),
    };

    const first = startTimers([timer], clock, () => {}, status);
    await first.armed;
    clock.advance(hour);
    await expect.poll(() => fired.length).toBe(1);
    first.stop();
    await expect.poll(async () => (await status.lastRun('sweep')) !== undefined).toBe(true);

    clock.advance(5 * hour); // the host is down for five occurrences
    const second = startTimers([timer], clock, () => {}, fileTimerStatus(path.join(dir, 'timers.json')));
    await second.armed;
    await expect.poll(() => fired.length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    second.stop();
    expect(fired).toHaveLength(2);
    expect(fired[1]?.IsPastDue).toBe(true);
  });

  it('does not run at once on a first start with no record', async () => {
    const clock = new Clock();
    let runs = 0;
    const timers = startTimers(
      [
        {
          functionName: 'fresh',
          schedule: '0 0 * * * *',
          runOnStartup: false,
          fire: async () => void runs++,
        },
      ],
      clock,
      () => {},
      memoryTimerStatus(),
    );
    await timers.armed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    timers.stop();
    expect(runs).toBe(0);
  });
});
