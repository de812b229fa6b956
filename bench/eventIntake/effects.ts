/**
 * When each probe id's effect was first seen, read from a receiver's log lines as they arrive in
 * the bench process, so send times and effect times share one clock (performance.now()).
 */
export class EffectLog {
  readonly #firstSeen = new Map<string, number>();
  #failures = 0;

  /**
   * @param effect captures the probe id in group 1 of a line that proves the effect happened
   * @param failure matches a line reporting a failed invocation
   * @example
   * const log = new EffectLog(/^accepted (\S+)$/);
   * log.line('accepted p-1');
   */
  constructor(
    readonly effect: RegExp,
    readonly failure?: RegExp,
  ) {}

  line(text: string): void {
    const probeId = this.effect.exec(text)?.[1];
    if (probeId !== undefined && !this.#firstSeen.has(probeId))
      this.#firstSeen.set(probeId, performance.now());
    if (this.failure?.test(text)) this.#failures += 1;
  }

  firstSeen(probeId: string): number | undefined {
    return this.#firstSeen.get(probeId);
  }

  /** Failed invocations seen so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Resolves with the time the last of `probeIds` was first seen; rejects after `timeoutMs`. */
  async waitForAll(probeIds: readonly string[], timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const missing = probeIds.filter((id) => !this.#firstSeen.has(id));
      if (missing.length === 0) return Math.max(...probeIds.map((id) => this.#firstSeen.get(id) ?? 0));
      if (performance.now() > deadline)
        throw new Error(
          `${missing.length} of ${probeIds.length} probe ids had no effect within ${timeoutMs} ms (first: ${missing[0]})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
