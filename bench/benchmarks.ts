import { coldstart } from './coldstart/index.js';
import { eventIntake } from './eventIntake/index.js';
import type { BenchOptions } from './options.js';
import type { BenchmarkReport } from './report.js';
import { rotationStorm } from './rotationStorm/index.js';

export interface Benchmark {
  name: string;
  run(options: BenchOptions): Promise<BenchmarkReport>;
}

/** Every benchmark `npm run bench` runs, in order. */
export const benchmarks: Benchmark[] = [
  { name: 'coldstart', run: coldstart },
  { name: 'event-intake', run: eventIntake },
  { name: 'rotation-storm', run: rotationStorm },
];
