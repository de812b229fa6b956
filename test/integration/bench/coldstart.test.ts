import { describe, expect, it } from 'vitest';
import { parseReport, runBench } from './benchOutput.js';

describe('bench coldstart (smoke, one run each)', () => {
  it('prints one table of both apps, the deploy size, the heaviest dependencies and two ratios', async () => {
    const run = await runBench(['coldstart', '--runs', '1']);

    expect(run.stderr).not.toMatch(/bench:/);
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.title).toMatch(/^# coldstart/);
    expect(report.rows.map((row) => row.app)).toEqual(['hello (1 function)', 'vigil']);
    const [hello, vigil] = report.rows;
    expect(Number(hello?.functions)).toBe(1);
    // Every function the registration test finds: health, probes, rotation, orchestrations, activities.
    expect(Number(vigil?.functions)).toBeGreaterThan(5);
    expect(Number(vigil?.['modules loaded'])).toBeGreaterThan(Number(hello?.['modules loaded']));
    for (const row of report.rows) expect(Number(row['peak RSS MiB'])).toBeGreaterThan(10);
    expect(report.notes.join('\n')).toMatch(/^deploy size: \d+\.\d\d MiB in \d+ files/m);
    expect(report.notes.join('\n')).toMatch(/^ {2}@azure\/functions: \d+\.\d\d MiB on disk/m);
    expect(report.notes.join('\n')).toMatch(
      /^ {2}durable-functions: .* loaded at cold start \(\d+ modules\)$/m,
    );
    expect([...report.ratios.keys()]).toEqual(['coldstart.wall', 'coldstart.import']);
    for (const value of report.ratios.values()) expect(value).toBeGreaterThan(0);
  });

  it('refuses an unknown benchmark or a bad size, naming it', async () => {
    const unknown = await runBench(['coldstrat']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No benchmark named "coldstrat"; choose from coldstart/);

    const zero = await runBench(['coldstart', '--runs', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--runs must be a positive integer, got "0"/);
  });
});
