import { EventEmitter } from 'node:events';

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
