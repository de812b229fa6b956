/**
 * What the host's log says about a storm while it runs, read line by line as lines arrive in the
 * bench process, so times share one clock (performance.now()) with the clock advance.
 */
export class StormWatch {
  #promoted = 0;
  #lastPromotionAt: number | undefined;
  #abandoned = 0;
  /** Activity attempts that threw, each retried by Durable after its backoff, by activity name. */
  readonly failedAttempts = new Map<string, number>();
  /** keyVaultEvents invocations that failed (Event Grid redelivers the event). */
  failedDeliveries = 0;
  /** Rotation sweep runs the clock advance set off. */
  sweeps = 0;

  /**
   * @example
   * storm.onLine((line) => watch.line(line));
   */
  line(text: string): void {
    const executed = /Executed 'Functions\.(\w+)' \((Succeeded|Failed)/.exec(text);
    if (executed) this.#executed(executed[1] ?? '', executed[2] === 'Succeeded');
    if (/Rotation sweep of \S+: \d+ rotation/.test(text)) this.sweeps += 1;
  }

  #executed(name: string, succeeded: boolean): void {
    if (name === 'promotePendingCredential' && succeeded) {
      this.#promoted += 1;
      this.#lastPromotionAt = performance.now();
    }
    if (name === 'abandonRotation') this.#abandoned += 1;
    if (!succeeded) {
      if (name === 'keyVaultEvents') this.failedDeliveries += 1;
      else this.failedAttempts.set(name, (this.failedAttempts.get(name) ?? 0) + 1);
    }
  }

  get promoted(): number {
    return this.#promoted;
  }

  /** Rotations that gave up (each runs abandonRotation before it reports the failure). */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** performance.now() of the latest successful promotion. */
  get lastPromotionAt(): number | undefined {
    return this.#lastPromotionAt;
  }
}
