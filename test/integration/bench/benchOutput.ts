import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../../..');

export interface BenchRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built bench CLI (`node dist/bench/run.js …`) as `npm run bench --` does after building. */
export async function runBench(args: string[], timeoutMs = 120_000): Promise<BenchRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [path.join(root, 'dist/bench/run.js'), ...args],
      { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

export interface ParsedReport {
  title: string;
  rows: Record<string, string>[];
  notes: string[];
  ratios: Map<string, number>;
  /** The lines after the table, in order: notes then ratio lines. */
  trailer: string[];
}

/**
 * Splits one benchmark's output into its table (rows keyed by column), notes and ratio lines, and
 * checks the shape the measures doc asks for: a title, one table, ratio lines last.
 */
export function parseReport(stdout: string): ParsedReport {
  const lines = stdout.trimEnd().split('\n');
  const title = lines[0] ?? '';
  if (!title.startsWith('# ')) throw new Error(`no title line: ${title}`);
  const tableLines = lines.filter((line) => line.startsWith('|'));
  const firstTable = lines.findIndex((line) => line.startsWith('|'));
  const lastTable = firstTable + tableLines.length - 1;
  if (tableLines.length < 3 || !lines.slice(firstTable, lastTable + 1).every((l) => l.startsWith('|')))
    throw new Error('expected exactly one contiguous table');
  const cells = (line: string) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
  const columns = cells(tableLines[0] ?? '');
  const rows = tableLines
    .slice(2)
    .map((line) => Object.fromEntries(cells(line).map((cell, index) => [columns[index] ?? '', cell])));
  const trailer = lines.slice(lastTable + 1).filter((line) => line.trim() !== '');
  const ratioAt = trailer.findIndex((line) => line.startsWith('ratio '));
  const ratioLines = ratioAt < 0 ? [] : trailer.slice(ratioAt);
  const ratios = new Map<string, number>();
  for (const line of ratioLines) {
    const match = /^ratio ([A-Za-z0-9.-]+): (\d+\.\d\d)$/.exec(line);
    if (!match?.[1] || !match[2]) throw new Error(`not a ratio line (ratio lines must come last): ${line}`);
    ratios.set(match[1], Number(match[2]));
  }
  return { title, rows, notes: ratioAt < 0 ? trailer : trailer.slice(0, ratioAt), ratios, trailer };
}
