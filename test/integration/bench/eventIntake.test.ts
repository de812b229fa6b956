import { describe, expect, it } from 'vitest';
import { parseReport, runBench } from './benchOutput.js';

describe('bench event-intake (smoke, 40 events, one run)', () => {
  it('measures both receivers on both paths, checks one instance per probe id, and prints four ratios', async () => {
    const run = await runBench(['event-intake', '--events', '40', '--batch', '10', '--runs', '1'], 150_000);

    expect(run.stderr).not.toMatch(/bench:/);
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.title).toBe('# event-intake: 40 probe requests per run (32 distinct), 1 runs, medians');
    expect(report.rows.map((row) => `${row.path} ${row.receiver}`)).toEqual([
      'direct trivial webhook (answers 200)',
      'direct vigil probeEvents',
      'eventgrid trivial webhook (answers 200)',
      'eventgrid vigil probeEvents',
    ]);
    for (const row of report.rows) {
      expect(Number(row['events/s'])).toBeGreaterThan(0);
      expect(Number(row['effect p99 ms'])).toBeGreaterThanOrEqual(Number(row['effect p50 ms']));
      expect(Number(row['peak RSS MiB'])).toBeGreaterThan(10);
    }
    // Only Vigil's rows settle: their orchestrations ran their dependency checks.
    expect(report.rows.map((row) => row['settled s'] !== '—')).toEqual([false, true, false, true]);
    expect(report.notes).toContain(
      'check: exactly one pipelineProbe instance per distinct probe id, none failed, nothing dead-lettered — ok in 2 vigil runs',
    );
    expect([...report.ratios.keys()]).toEqual([
      'event-intake.direct.wall',
      'event-intake.direct.p99',
      'event-intake.eventgrid.wall',
      'event-intake.eventgrid.p99',
    ]);
    for (const value of report.ratios.values()) expect(value).toBeGreaterThan(0);
  });

  it('refuses a batch larger than Event Grid allows', async () => {
    const run = await runBench(['event-intake', '--batch', '5001']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--batch must be at most 5000/);
  });
});
