import { describe, expect, it } from 'vitest';
import { VaultPacer } from '../../../src/adapters/vaultPacer.js';

/** A pacer on a fake clock: sleeping moves the clock, and every sleep is recorded. */
function pacerOnFakeClock() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const pacer = new VaultPacer(
    () => now,
    async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  );
  return {
    pacer,
    sleeps,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

/** `count` responses spread evenly over the last second. */
function serveOverOneSecond(fake: ReturnType<typeof pacerOnFakeClock>, count: number) {
  for (let i = 0; i < count; i++) {
    fake.advance(1000 / count);
    fake.pacer.served();
  }
}

describe('VaultPacer', () => {
  it('lets every request go at once until the vault throttles', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 100);
    for (let i = 0; i < 50; i++) await fake.pacer.slot();
    expect(fake.sleeps).toEqual([]);
    expect(fake.pacer.rate).toBeUndefined();
  });

  it('after a 429, spaces requests at the rate the vault served in the second before', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 25);
    fake.pacer.throttled();
    expect(fake.pacer.rate).toBe(25);
    await Promise.all(Array.from({ length: 50 }, () => fake.pacer.slot()));
    // The burst that drew the 429 is in the vault's window for Retry-After (1 s), then one every 40 ms.
    expect(fake.sleeps.map((ms) => Math.round(ms))).toEqual([1000, ...Array(49).fill(40)]);
  });

  it('re-spaces callers already waiting when a later 429 lowers the pace', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 50);
    fake.pacer.throttled(0);
    const waiting = Array.from({ length: 10 }, () => fake.pacer.slot());
    await waiting[0];
    // 10 responses in the second before the next 429: everyone still in line goes at 10/s.
    for (let i = 0; i < 10; i++) fake.pacer.served();
    fake.advance(1000);
    for (let i = 0; i < 10; i++) fake.pacer.served();
    fake.pacer.throttled(0);
    expect(fake.pacer.rate).toBe(10);
    await Promise.all(waiting);
    expect(fake.sleeps.slice(-3).map((ms) => Math.round(ms))).toEqual([100, 100, 100]);
  });

  it('does not pace after a 429 that came with too few responses to tell a rate', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 4);
    fake.pacer.throttled();
    expect(fake.pacer.rate).toBeUndefined();
    await fake.pacer.slot();
    expect(fake.sleeps).toEqual([]);
  });

  it('probes upward by a tenth each second without a 429, and lets go once callers ask far less', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 20);
    fake.pacer.throttled(0);
    for (let i = 0; i < 45; i++) {
      await fake.pacer.slot();
      fake.pacer.served();
    }
    expect(fake.pacer.rate).toBeCloseTo(24.2, 5);
    // The storm is over: one request a second, and the pace is let go.
    fake.advance(1000);
    await fake.pacer.slot();
    fake.pacer.served();
    expect(fake.pacer.rate).toBeUndefined();
  });

  it('forgets the pace of a storm that is over: after two quiet seconds requests go at once', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 20);
    fake.pacer.throttled(0);
    fake.advance(3000);
    await fake.pacer.slot();
    expect(fake.pacer.rate).toBeUndefined();
    expect(fake.sleeps).toEqual([]);
  });

  it('halves the pace on a 429 that comes while pacing with hardly anything served', () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 20);
    fake.pacer.throttled(0);
    fake.advance(1500);
    fake.pacer.throttled(0);
    expect(fake.pacer.rate).toBe(10);
  });

  it('waits out at most 30 s of Retry-After when pacing starts', async () => {
    const fake = pacerOnFakeClock();
    serveOverOneSecond(fake, 20);
    fake.pacer.throttled(3600_000);
    await fake.pacer.slot();
    expect(fake.sleeps).toEqual([30_000]);
  });

  it('keeps the line moving after a turn that failed', async () => {
    let failNext = true;
    let now = 0;
    const pacer = new VaultPacer(
      () => now,
      async (ms) => {
        now += ms;
        if (failNext) {
          failNext = false;
          throw new Error('timer failed');
        }
      },
    );
    for (let i = 0; i < 20; i++) {
      now += 50;
      pacer.served();
    }
    pacer.throttled(500);
    await expect(pacer.slot()).rejects.toThrow('timer failed');
    await expect(pacer.slot()).resolves.toBeUndefined();
  });
});
