import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { forEachLine } from '../../local/host/process.js';
import type { Stack } from '../../local/stack.js';
import { startBenchStack } from '../benchStack.js';
import { EffectLog } from './effects.js';

/** Where a run's events go, and how the bench sees them take effect. */
export interface Receiver {
  label: string;
  webhookUrl: string;
  effects: EffectLog;
  /** The receiving process, for its peak RSS. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** A receiver did not start. */
export class ReceiverStartError extends Error {
  override name = 'ReceiverStartError';
}

const trivialWebhook = path.join(import.meta.dirname, 'trivialWebhook.js');

/**
 * Starts the baseline webhook as its own process; its effect is `accepted <probeId>` on stdout.
 * @example
 * const trivial = await startTrivialWebhook();
 * await fetch(trivial.webhookUrl, { method: 'POST', body: '[]' });
 */
export async function startTrivialWebhook(): Promise<Receiver> {
  const effects = new EffectLog(/^accepted (\S+)$/);
  const child = spawn(process.execPath, [trivialWebhook], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new ReceiverStartError(`the trivial webhook exited with ${code}`)));
    forEachLine(child.stdout, (line) => {
      const listening = /^listening (\d+)$/.exec(line)?.[1];
      if (listening) resolve(listening);
      else effects.line(line);
    });
  });
  return {
    label: 'trivial webhook (answers 200)',
    webhookUrl: `http://127.0.0.1:${port}/hook`,
    effects,
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

/** Vigil on the local stack: the host as its own process, Event Grid, Azurite, the emulators. */
export interface VigilReceiver extends Receiver {
  stack: Stack;
  /** Also hands every line the stack logs (host and emulators) to `listener`. */
  onLine(listener: (line: string) => void): void;
}

/**
 * Starts the whole local stack in a temporary folder; the effect is the line `probeEvents` logs
 * once `startSingleton` returned, i.e. once the probe's orchestration instance exists.
 * @example
 * const vigil = await startVigil();
 * console.log(vigil.webhookUrl);
 */
export async function startVigil(): Promise<VigilReceiver> {
  const effects = new EffectLog(
    /\[probeEvents\] \w+: Probe (\S+) runs as probe-/,
    /Executed 'Functions\.probeEvents' \(Failed/,
  );
  const bench = await startBenchStack('vigil-bench-');
  bench.onLine((line) => effects.line(line));
  const { stack } = bench;
  return {
    label: 'vigil probeEvents',
    webhookUrl: stack.webhookUrl('probeEvents'),
    effects,
    stack,
    get pid() {
      return stack.host?.pid;
    },
    onLine: (listener) => void bench.onLine(listener),
    stop: () => bench.stop(),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
