import { parseArgs } from 'node:util';

/** Sizes a benchmark run can be given on the command line; each benchmark has its own defaults. */
export interface BenchOptions {
  /** Repetitions whose median is reported. */
  runs?: number;
  /** event-intake: events per run. */
  events?: number;
  /** event-intake: events per webhook batch (direct posts and the subscription's maxEventsPerBatch). */
  batch?: number;
  /** event-intake: share of events that repeat an earlier probe id, 0–0.9. */
  duplicates?: number;
  /** event-intake: batches in flight at once on the direct path. */
  concurrency?: number;
}

/** A command-line argument is unknown or out of range; the message names it and the rule. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

const integerFlags = ['runs', 'events', 'batch', 'concurrency'] as const;

/**
 * Parses `npm run bench -- [NAME…] [--runs N] [--events N] [--batch N] [--duplicates F] [--concurrency N]`.
 * @example
 * parseBenchArgs(['event-intake', '--events', '50']); // { names: ['event-intake'], options: { events: 50 } }
 */
export function parseBenchArgs(argv: string[]): { names: string[]; options: BenchOptions } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new BenchUsageError((error as Error).message, { cause: error });
  }
  const options: BenchOptions = {};
  for (const flag of integerFlags) {
    const text = parsed.values[flag];
    if (text === undefined) continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1)
      throw new BenchUsageError(`--${flag} must be a positive integer, got "${text}"`);
    options[flag] = value;
  }
  const duplicates = parsed.values.duplicates;
  if (duplicates !== undefined) {
    const value = Number(duplicates);
    if (!(value >= 0 && value <= 0.9))
      throw new BenchUsageError(`--duplicates must be a number from 0 to 0.9, got "${duplicates}"`);
    options.duplicates = value;
  }
  return { names: parsed.positionals, options };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      runs: { type: 'string' },
      events: { type: 'string' },
      batch: { type: 'string' },
      duplicates: { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
}
