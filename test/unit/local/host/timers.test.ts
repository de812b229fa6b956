import { describe, expect, it } from 'vitest';
import { Clock } from '../../../../local/clock.js';
import { parseSchedule, startTimers, type TimerInfo } from '../../../../local/host/timers.js';

const hour = 3600_000;

describe('timer triggers', () => {
  it('fire when the clock is advanced past their schedule, once per advance', async () => {
    const clock = new Clock();
    const fired: TimerInfo[] = [];
    const stop = startTimers(
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
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toHaveLength(0);

    clock.advance(hour);
    await expect.poll(() => fired.length).toBe(1);
    clock.advance(30 * 24 * hour);
    await expect.poll(() => fired.length).toBe(2);
    stop();

    expect(fired[1]?.IsPastDue).toBe(true);
    expect(new Date(fired[1]?.ScheduleStatus.Next ?? 0).getTime()).toBeGreaterThan(clock.now().getTime());
  });

  it('run on startup when asked', async () => {
    const clock = new Clock();
    let count = 0;
    const stop = startTimers(
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
    await expect.poll(() => count).toBe(1);
    stop();
  });

  it('report a failing run and keep the schedule', async () => {
    const clock = new Clock();
    const errors: string[] = [];
    let runs = 0;
    const stop = startTimers(
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
    clock.advance(60_000);
    await expect.poll(() => errors).toEqual(['flaky: boom']);
    clock.advance(60_000);
    await expect.poll(() => runs).toBe(2);
    stop();
  });

  it.each([
    ['0 0 * * *', 'must have 6 NCRONTAB fields'],
    ['0 0 99 * * *', 'invalid schedule'],
  ])('reject the schedule %s, naming the function', (schedule, problem) => {
    expect(() => parseSchedule('sweep', schedule)).toThrow(`Timer sweep: `);
    expect(() => parseSchedule('sweep', schedule)).toThrow(problem);
  });
});
