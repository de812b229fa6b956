import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts, Stack } from '../local/stack.js';

/** The whole local stack for a benchmark: the host as its own process, the emulators in this one. */
export interface BenchStack {
  stack: Stack;
  /** Also hands every line the stack logs (host and emulators) to `listener`; returns its removal. */
  onLine(listener: (line: string) => void): () => void;
  stop(): Promise<void>;
}

/**
 * Starts the local stack on free ports in a temporary folder, with Event Grid redelivering within
 * seconds (as the tests do), so a refused delivery does not stall a run for 10 s.
 * @example
 * const storm = await startBenchStack('vigil-bench-storm-');
 * const stop = storm.onLine((line) => console.log(line));
 * await storm.stop();
 */
export async function startBenchStack(tempPrefix: string): Promise<BenchStack> {
  const appRoot = path.resolve(import.meta.dirname, '../..');
  const dataDir = await mkdtemp(path.join(tmpdir(), tempPrefix));
  const listeners = new Set<(line: string) => void>();
  let stack: Stack;
  try {
    stack = await Stack.start({
      appRoot,
      dataDir,
      ports: freePorts,
      eventGridRetryScheduleMs: [250, 500, 1000],
      log: (line) => {
        for (const listener of listeners) listener(line);
      },
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    stack,
    onLine(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
