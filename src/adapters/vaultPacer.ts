/**
 * Paces one vault's requests once it has throttled this process under load.
 *
 * Why: Key Vault answers a throttled request with 429 and a `Retry-After` in whole seconds. Every
 * caller that gets one sleeps the whole second, and when they all sleep at once the vault idles
 * although it would serve. A pacer learns the rate the vault served when it throttled (the
 * responses of the second before) and spaces requests at that rate, so they queue here instead of
 * collecting 429s; it probes upward by a tenth each second without a 429, and lets go once the
 * pace is twice what callers ask and nobody waits, or after two quiet seconds. A 429 after fewer than `minimumRate` responses
 * in a second says nothing about a rate (another client used the vault up): the SDK's own
 * Retry-After handling is left to deal with it.
 */
const minimumRate = 5;
/** The SDK waits at most this long between retries; a longer Retry-After does not stall the line longer. */
const maxWaitMs = 30_000;
/** A pace with no request asked or served for this long belongs to a storm that is over. */
const forgetAfterMs = 2_000;

export class VaultPacer {
  /** Requests per second; undefined while unpaced. */
  #rate: number | undefined;
  #nextSlotMs = 0;
  #lastRaiseMs = 0;
  /** When the responses of the last second arrived, and when callers asked for a slot. */
  #served: number[] = [];
  #asked: number[] = [];
  #line: Promise<void> = Promise.resolve();
  #waiting = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /** The current pace in requests per second, or undefined when requests go out unpaced. */
  get rate(): number | undefined {
    return this.#rate;
  }

  /** Resolves when this request may go out. */
  async slot(): Promise<void> {
    const now = this.now();
    if (this.#rate !== undefined && this.#waiting === 0 && now - this.#lastActivityMs() > forgetAfterMs)
      this.#rate = undefined;
    if (this.#rate === undefined) return;
    lastSecond(this.#asked, now).push(now);
    // Callers wait in line and each takes its slot when its turn comes, at the pace then in force,
    // so a slower pace learnt from a 429 applies to everyone already waiting.
    this.#waiting += 1;
    const turn = this.#line.then(() => this.#nextSlot());
    // A failed turn must not wedge the line for everyone after it.
    this.#line = turn.catch(() => undefined);
    await turn.finally(() => {
      this.#waiting -= 1;
    });
  }

  async #nextSlot(): Promise<void> {
    if (this.#rate === undefined) return;
    const now = this.now();
    const at = Math.max(now, this.#nextSlotMs);
    this.#nextSlotMs = at + 1000 / this.#rate;
    if (at > now) await this.sleep(at - now);
  }

  /** A response other than 429 arrived. */
  served(): void {
    const now = this.now();
    lastSecond(this.#served, now).push(now);
    if (this.#rate === undefined || now - this.#lastRaiseMs < 1000) return;
    this.#lastRaiseMs = now;
    this.#rate *= 1.1;
    const idle = this.#waiting === 0 && this.#rate > 2 * lastSecond(this.#asked, now).length;
    if (idle) this.#rate = undefined;
  }

  /**
   * A 429 arrived: pace at what the vault served in the second before it. When pacing starts, the
   * burst that drew the 429 is still in the vault's window, so nothing goes out before `retryAfterMs`.
   * Already pacing and hardly anything served (the vault counts over a longer window than a
   * second, or shares its limit with other clients): halve the pace.
   */
  throttled(retryAfterMs = 1000): void {
    const now = this.now();
    const served = lastSecond(this.#served, now).length;
    const starting = this.#rate === undefined;
    if (starting && served < minimumRate) return;
    this.#rate = served >= minimumRate ? served : Math.max(1, (this.#rate ?? 1) / 2);
    this.#lastRaiseMs = now;
    const wait = starting ? Math.min(retryAfterMs, maxWaitMs) : 1000 / this.#rate;
    this.#nextSlotMs = Math.max(this.#nextSlotMs, now + wait);
  }

  #lastActivityMs(): number {
    return Math.max(this.#served.at(-1) ?? 0, this.#asked.at(-1) ?? 0, this.#lastRaiseMs);
  }
}

/** Drops the times older than a second, in place, and returns the array. */
function lastSecond(times: number[], now: number): number[] {
  const firstRecent = times.findIndex((at) => at > now - 1000);
  times.splice(0, firstRecent === -1 ? times.length : firstRecent);
  return times;
}
