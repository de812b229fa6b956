import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs } from '../../../bench/options.js';
import { median, percentile } from '../../../bench/stats.js';

describe('bench statistics', () => {
  it.each([
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[7], 7],
  ])('median of %j is %d', (samples, expected) => {
    expect(median(samples)).toBe(expected);
  });

  it('takes the nearest-rank percentile, so p99 of 100 samples is the 99th smallest', () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile([5, 1], 50)).toBe(1);
  });

  it('refuses empty samples and out-of-range percentiles', () => {
    expect(() => median([])).toThrow(/no samples/);
    expect(() => percentile([1], 0)).toThrow(/p must be in \(0, 100\], got 0/);
  });
});

describe('bench arguments', () => {
  it('reads names and sizes', () => {
    expect(parseBenchArgs(['event-intake', '--events', '50', '--duplicates', '0.25'])).toEqual({
      names: ['event-intake'],
      options: { events: 50, duplicates: 0.25 },
    });
  });

  it.each([
    [['--batch', '1.5'], /--batch must be a positive integer, got "1.5"/],
    [['--duplicates', '0.95'], /--duplicates must be a number from 0 to 0.9, got "0.95"/],
    [['--speed', '3'], /Unknown option '--speed'/],
  ])('refuses %j naming the flag', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});
