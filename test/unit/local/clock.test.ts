import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Clock, PersistedClock, persistedClock } from '../../../local/clock.js';

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

describe('Clock.waitUntil', () => {
  it('holds 50 pending waits without a MaxListenersExceededWarning and fires them all on one advance', async () => {
    process.on('warning', onWarning);
    const clock = new Clock();
    const due = new Date(clock.now().getTime() + 30 * 24 * 3600_000);
    const fired: number[] = [];
    const waits = Array.from({ length: 50 }, (_, index) =>
      clock.waitUntil(due).then(() => fired.push(index)),
    );
    clock.advance(30 * 24 * 3600_000 + 1000);
    await Promise.all(waits);
    // Node reports the warning on the next tick; give it one before looking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired).toHaveLength(50);
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    expect(clock.listenerCount('changed')).toBe(0);
  });

  it('removes an aborted wait and rejects it with the abort reason', async () => {
    const clock = new Clock();
    const controller = new AbortController();
    const wait = clock.waitUntil(new Date(clock.now().getTime() + 60_000), controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(wait).rejects.toThrow('cancelled');
    expect(clock.listenerCount('changed')).toBe(0);
  });

  it('refuses to go back or to advance by a non-finite amount', () => {
    const clock = new Clock(1000);
    expect(() => clock.setOffset(10)).toThrow(/cannot go back/);
    expect(() => clock.advance(Number.NaN)).toThrow(/ms must be a finite number/);
  });
});

describe('persistedClock', () => {
  it('keeps the offset across restarts and never writes it lower than what is on disk', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'vigil-clock-')), 'clock.json');
    const stack = await persistedClock(file);
    stack.advance(5_000);
    stack.advance(7_000);
    await stack.saved();
    expect((await persistedClock(file)).offsetMs).toBe(12_000);

    const staleHost = new PersistedClock(file, 0);
    staleHost.advance(3_000); // an older value arriving late from another process
    await staleHost.saved();
    expect((await persistedClock(file)).offsetMs).toBe(12_000);
  });

  it('refuses a damaged clock file, naming it', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'vigil-clock-')), 'clock.json');
    await writeFile(file, JSON.stringify({ offsetMs: 'soon' }));
    await expect(persistedClock(file)).rejects.toThrow(`${file}: offsetMs must be a number`);
  });
});
