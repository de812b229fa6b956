import { randomBytes } from 'node:crypto';
import type { FaultCounts } from '../../local/emulators/keyvault/index.js';
import type { BenchOptions } from '../options.js';
import { peakRssOf } from '../peakRss.js';
import { type BenchmarkReport, mib } from '../report.js';
import { median } from '../stats.js';
import { checkRotatedOnce, StormCorrectnessError, settleInstances } from './checks.js';
import { advanceIntoWindow, populate, stormVaultClient } from './population.js';
import { type StormStack, startStormStack } from './stormStack.js';
import { StormWatch } from './watch.js';

interface Settings {
  runs: number;
  /** K: secrets reaching near-expiry at once, one SecretNearExpiry event each. */
  secrets: number;
  /** How many of them are postgres-role secrets (the rest are random). */
  postgres: number;
  /** The Key Vault emulator's throttle: requests served per second per vault. */
  perSecond: number;
  /** Whether 429s also carry retry-after-ms (Key Vault itself sends whole seconds only). */
  preciseRetryAfter: boolean;
}

interface RunResult {
  wallMs: number;
  served: number;
  throttled: number;
  failedAttempts: Map<string, number>;
  failedDeliveries: number;
  sweeps: number;
  hostPeakRss: number | undefined;
}

/** Share of postgres-role secrets: they exercise the real PostgreSQL, the rest only Vigil and Key Vault. */
const postgresShare = 0.1;
const defaults = { runs: 1, secrets: 1000, perSecond: 50, preciseRetryAfter: false };

/**
 * Rotation storm: K secrets marked for rotation reach Key Vault's near-expiry window at the same
 * instant (the stack's clock moves past it) while the Key Vault emulator throttles the vault
 * (429 + Retry-After beyond `perSecond`). Measures the wall-clock from the clock advance to the
 * last promotion against the ideal the throttle allows (requests served ÷ rate), and checks every
 * secret rotated exactly once with no pending version left enabled.
 * @example
 * console.log(formatReport(await rotationStorm({ events: 200 })));
 */
export async function rotationStorm(options: BenchOptions): Promise<BenchmarkReport> {
  const settings = settingsFrom(options);
  const storm = await startStormStack();
  try {
    const results: RunResult[] = [];
    for (let run = 1; run <= settings.runs; run += 1) results.push(await measure(storm, settings, run));
    return report(settings, results, process.resourceUsage().maxRSS * 1024);
  } finally {
    await storm.stop();
  }
}

function settingsFrom(options: BenchOptions): Settings {
  const secrets = options.events ?? defaults.secrets;
  return {
    runs: options.runs ?? defaults.runs,
    secrets,
    postgres: Math.round(secrets * postgresShare),
    perSecond: defaults.perSecond,
    preciseRetryAfter: defaults.preciseRetryAfter,
  };
}

async function measure(storm: StormStack, settings: Settings, run: number): Promise<RunResult> {
  const { stack } = storm;
  const client = stormVaultClient(stack);
  const tag = `r${run}${randomBytes(2).toString('hex')}`;
  const population = await populate(stack, client, {
    tag,
    random: settings.secrets - settings.postgres,
    postgres: settings.postgres,
  });
  const watch = new StormWatch();
  let last: { at: number; counts: FaultCounts } | undefined;
  const unlisten = storm.onLine((line) => {
    watch.line(line);
    // Read the counts the moment the last promotion shows, so requests after it are not counted.
    if (!last && watch.promoted >= settings.secrets)
      last = { at: watch.lastPromotionAt ?? performance.now(), counts: stack.keyVault.admin.counts() };
  });
  try {
    stack.keyVault.admin.rateLimit({
      perSecond: settings.perSecond,
      preciseRetryAfter: settings.preciseRetryAfter,
    });
    const before = stack.keyVault.admin.counts();
    const started = performance.now();
    await stack.advanceClock(advanceIntoWindow(stack, population.expiresOn));
    const timeoutMs = stormTimeoutMs(settings);
    while (!last) {
      if (watch.abandoned > 0)
        throw new StormCorrectnessError(`${watch.abandoned} rotation(s) gave up during the storm`);
      if (performance.now() - started > timeoutMs)
        throw new StormCorrectnessError(
          `after ${timeoutMs} ms, ${watch.promoted} of ${settings.secrets} secrets were promoted`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stack.keyVault.admin.clearFaults();
    await settleInstances(stack, population.secrets, timeoutMs);
    await stack.eventGrid.idle();
    await checkRotatedOnce(stack, client, population.secrets);
    return {
      wallMs: last.at - started,
      served: last.counts.served - before.served,
      throttled: last.counts.throttled - before.throttled,
      failedAttempts: watch.failedAttempts,
      failedDeliveries: watch.failedDeliveries,
      sweeps: watch.sweeps,
      hostPeakRss: await peakRssOf(stack.host?.pid),
    };
  } finally {
    stack.keyVault.admin.clearFaults();
    unlisten();
  }
}

/** Generous: ten times what about 15 requests a rotation would take at the throttle, and at least 5 minutes. */
function stormTimeoutMs(settings: Settings): number {
  return Math.max(300_000, ((settings.secrets * 15) / settings.perSecond) * 10_000);
}

function idealMs(result: RunResult, settings: Settings): number {
  return (result.served / settings.perSecond) * 1000;
}

function report(settings: Settings, results: RunResult[], benchPeakRss: number): BenchmarkReport {
  const ratios = results.map((result) => result.wallMs / idealMs(result, settings));
  const failed = new Map<string, number>();
  for (const result of results)
    for (const [name, count] of result.failedAttempts) failed.set(name, (failed.get(name) ?? 0) + count);
  const retryAfter = settings.preciseRetryAfter
    ? 'Retry-After and retry-after-ms'
    : 'Retry-After in whole seconds, as Key Vault sends it';
  return {
    title: `rotation-storm: ${settings.secrets} secrets (${settings.secrets - settings.postgres} random, ${settings.postgres} postgres-role) near expiry at once, Key Vault throttled to ${settings.perSecond} requests/s, ${settings.runs} runs`,
    table: {
      columns: [
        'run',
        'wall s',
        'ideal s',
        'wall/ideal',
        'rotations/s',
        'KV served',
        'KV served/s',
        'KV throttled (429)',
        'activity retries',
        'event redeliveries',
        'host peak RSS MiB',
      ],
      rows: results.map((result, index) => row(String(index + 1), result, settings)),
    },
    notes: [
      `throttle = the Key Vault emulator serves at most ${settings.perSecond} requests in any 1 s per vault and answers 429 with ${retryAfter} to the rest`,
      'wall = from the clock advance that puts every secret in its near-expiry window to the last successful promotePendingCredential (host log); KV served and 429s are counted over the same span',
      `ideal = KV requests served ÷ ${settings.perSecond}/s: the least time the throttle allows for the requests Vigil made`,
      `activity retries = activity attempts that threw and were retried by Durable after its backoff (${[...failed].map(([name, count]) => `${name} ${count}`).join(', ') || 'none'}); event redeliveries = keyVaultEvents invocations that failed, redelivered by Event Grid`,
      `rotation sweeps set off by the clock advance: ${results.map((r) => r.sweeps).join(', ')}; bench process (emulators) peak RSS ${mib(benchPeakRss)} MiB`,
      `check: every secret's current version changed exactly once (2 versions, the new one current with a rotation id), no enabled -pending version, postgres-role values log in and initial ones are refused, no rotation failed — ok in ${results.length} runs`,
    ],
    ratios: [
      {
        name: 'rotation-storm.wall',
        value: median(ratios),
        meaning:
          'wall-clock from the clock advance to the last promotion ÷ the ideal time the throttle allows, median over runs',
      },
    ],
  };
}

function row(label: string, result: RunResult, settings: Settings): string[] {
  const ideal = idealMs(result, settings);
  const retries = [...result.failedAttempts.values()].reduce((total, count) => total + count, 0);
  return [
    label,
    (result.wallMs / 1000).toFixed(2),
    (ideal / 1000).toFixed(2),
    (result.wallMs / ideal).toFixed(2),
    (settings.secrets / (result.wallMs / 1000)).toFixed(1),
    String(result.served),
    (result.served / (result.wallMs / 1000)).toFixed(1),
    String(result.throttled),
    String(retries),
    String(result.failedDeliveries),
    result.hostPeakRss === undefined ? '—' : mib(result.hostPeakRss),
  ];
}
