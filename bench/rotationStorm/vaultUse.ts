/**
 * How fully a storm used the throttle: the requests the vault served in each whole second, sampled
 * from the emulator's counter, so a ratio above 1 can be placed in the ramp-up, the middle or the tail.
 */
export class VaultUse {
  readonly #perSecond: number[] = [];
  readonly #timer: NodeJS.Timeout;
  #last: number;

  /**
   * @param served reads the emulator's running count of served requests
   * @example
   * const use = new VaultUse(() => stack.keyVault.admin.counts().served);
   * use.stop();
   */
  constructor(readonly served: () => number) {
    this.#last = served();
    this.#timer = setInterval(() => {
      const now = this.served();
      this.#perSecond.push(now - this.#last);
      this.#last = now;
    }, 1000);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Whole seconds that served less than 90% of `limit`: in all, in the first and in the last five.
   * @example
   * use.underused(25); // { seconds: 12, under: 3, first: 1, last: 2 }
   */
  underused(limit: number): { seconds: number; under: number; first: number; last: number } {
    const low = this.#perSecond.map((count) => count < 0.9 * limit);
    const count = (flags: boolean[]) => flags.filter(Boolean).length;
    return {
      seconds: low.length,
      under: count(low),
      first: count(low.slice(0, 5)),
      last: count(low.slice(Math.max(5, low.length - 5))),
    };
  }
}
