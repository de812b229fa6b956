import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseReport, runBench } from './benchOutput.js';

const { dependencies: productionDependencies } = JSON.parse(
  await readFile(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8'),
) as { dependencies: Record<string, string> };

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
    // Every direct production dependency, each timed importing alone.
    const dependencyLines = report.notes.filter((note) => /^ {2}\S+: \d+\.\d ms to import, /.test(note));
    expect(dependencyLines.map((line) => line.trim().split(': ')[0]).sort()).toEqual(
      Object.keys(productionDependencies).sort(),
    );
    expect(report.notes.join('\n')).toMatch(
      /^ {2}durable-functions: .* MiB on disk in \d+ packages, \d+\.\d\d MiB loaded by vigil's cold start \(\d+ modules\)$/m,
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
