import { EventEmitter } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './http.js';

/**
 * The local stack's time: real time plus an offset that tests move forward, so a
 * 30-day timer fires in milliseconds. Every local component reads time from here.
 * @example
 * const clock = new Clock();
 * clock.advance(30 * 24 * 3600_000); // listeners re-check their due work
 */
export class Clock extends EventEmitter<{ changed: [offsetMs: number] }> {
  #offsetMs: number;

  constructor(offsetMs = 0) {
    super();
    // Every pending waitUntil (one per durable timer) listens for 'changed', so any fixed cap is
    // wrong; each wait removes its listener when it fires or is aborted, so none leak.
    this.setMaxListeners(0);
    this.#offsetMs = offsetMs;
  }

  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Moves time forward; time never goes back, so timers already fired stay fired. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`advance: ms must be a finite number ≥ 0, got ${ms}`);
    this.setOffset(this.#offsetMs + ms);
  }

  setOffset(offsetMs: number): void {
    if (offsetMs < this.#offsetMs) throw new RangeError('setOffset: the clock cannot go back');
    this.#offsetMs = offsetMs;
    this.emit('changed', offsetMs);
  }

  /** Resolves at clock time `due` (or at once if it has passed), also when the clock is advanced. */
  waitUntil(due: Date, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.off('changed', check);
        signal?.removeEventListener('abort', abort);
      };
      const abort = () => {
        done();
        reject(signal?.reason);
      };
      const check = () => {
        clearTimeout(timer);
        const remaining = due.getTime() - this.now().getTime();
        if (remaining <= 0) {
          done();
          resolve();
          return;
        }
        // setTimeout caps at 2^31-1 ms; re-check when it fires.
        timer = setTimeout(check, Math.min(remaining, 2 ** 31 - 1));
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort);
      this.on('changed', check);
      check();
    });
  }
}

/**
 * A clock whose offset lives in `file`, shared by the stack and the host it restarts, so a restart
 * never moves time back. Writes are serialized, atomic (write then rename), and never lower the
 * offset already on disk, whichever process wrote it.
 * @example
 * const clock = await persistedClock('.vigil/clock.json');
 */
export async function persistedClock(file: string): Promise<PersistedClock> {
  return new PersistedClock(file, await readOffset(file));
}

export class PersistedClock extends Clock {
  #writes = Promise.resolve();

  constructor(file: string, offsetMs: number) {
    super(offsetMs);
    this.on('changed', (offset) => {
      this.#writes = this.#writes.then(() => writeOffset(file, offset)).catch(() => {});
    });
  }

  /** Resolves once every change so far is on disk: before another process reads the file. */
  saved(): Promise<void> {
    return this.#writes;
  }
}

async function readOffset(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const offsetMs = (JSON.parse(text) as { offsetMs?: unknown }).offsetMs;
  if (typeof offsetMs !== 'number' || !Number.isFinite(offsetMs) || offsetMs < 0) {
    throw new Error(
      `${file}: offsetMs must be a number ≥ 0; delete the file to restart the clock at real time`,
    );
  }
  return offsetMs;
}

async function writeOffset(file: string, offsetMs: number): Promise<void> {
  const onDisk = await readOffset(file).catch(() => 0);
  if (onDisk >= offsetMs) return;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify({ offsetMs }));
}
