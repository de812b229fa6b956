import path from 'node:path';
import { Clock } from '../../../../local/clock.js';
import { DurableEngine } from '../../../../local/host/durable/engine.js';
import { type LoadedApp, loadApp } from '../../../../local/host/registry.js';

export const fixtureRoot = path.resolve(import.meta.dirname, '../../../fixtures/durable-app');

declare global {
  var durableFixtureRuns: Map<string, number> | undefined;
  var durableFixtureGates: Map<string, Promise<void>> | undefined;
}

let loaded: LoadedApp | undefined;

/** The fixture app, loaded once per test file (the core API can be provided only once per process). */
export async function fixtureApp(): Promise<LoadedApp> {
  loaded ??= await loadApp(fixtureRoot);
  return loaded;
}

/** How many times the fixture ran an activity with this key (e.g. `hello:a`). */
export function runs(key: string): number {
  return globalThis.durableFixtureRuns?.get(key) ?? 0;
}

/** Holds the fixture's `step` activity for (tag, n) until the returned function is called. */
export function hold(tag: string, n: number): { release: () => void; reached: () => boolean } {
  let release = () => {};
  globalThis.durableFixtureGates ??= new Map();
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  globalThis.durableFixtureGates.set(`${tag}:${n}`, gate);
  return { release: () => release(), reached: () => runs(`step:${tag}:${n}`) > 0 };
}

export async function startEngine(connectionString: string, hubName: string, clock = new Clock()) {
  const engine = await DurableEngine.start({ app: await fixtureApp(), clock, connectionString, hubName });
  return { engine, clock };
}

/** Polls until `check` holds. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
