import { randomBytes } from 'node:crypto';
import { type BenchStack, startBenchStack } from '../benchStack.js';
import type { BenchOptions } from '../options.js';
import { peakRssOf } from '../peakRss.js';
import { type BenchmarkReport, mib } from '../report.js';
import { median } from '../stats.js';
import { checkRotatedOnce, StormCorrectnessError, settleInstances } from './checks.js';
import { advanceIntoWindow, populate, stormVaultClient } from './population.js';
import { VaultUse } from './vaultUse.js';
import { StormWatch } from './watch.js';

interface Settings {
  runs: number;
  /** K: secrets reaching near-expiry at once, one SecretNearExpiry event each. */
  secrets: number;
  /** How many of them are postgres-role secrets (the rest are random). */
  postgres: number;
  /** The Key Vault emulator's throttle: requests served per second per vault. */
  perSecond: number;
}

/** A storm under the throttle, or the same storm without one (Vigil's own pace, the baseline). */
type Mode = 'throttled' | 'unthrottled';

interface StormResult {
  run: number;
  mode: Mode;
  wallMs: number;
  served: number;
  throttled: number;
  failedAttempts: Map<string, number>;
  failedDeliveries: number;
  sweeps: number;
  hostPeakRss: number | undefined;
  /** Whole seconds of the storm, and those in which the vault served under 90% of the throttle. */
  use: ReturnType<VaultUse['underused']>;
}

/** Share of postgres-role secrets: they exercise the real PostgreSQL, the rest only Vigil and Key Vault. */
const postgresShare = 0.1;
/**
 * About a third of what Vigil sustains unthrottled on two shared cores (~75 requests/s), so the
 * throttle, not the host, sets the pace.
 */
const defaults = { runs: 1, secrets: 1000, perSecond: 25 };

/**
 * Rotation storm: K secrets marked for rotation reach Key Vault's near-expiry window at the same
 * instant (the stack's clock moves past it) while the Key Vault emulator throttles the vault
 * (429 + Retry-After beyond `perSecond`). Measures the wall-clock from the clock advance to the
 * last promotion against the ideal the throttle allows (requests served ÷ rate), and the same
 * storm unthrottled as Vigil's own pace; checks every secret rotated exactly once with no pending
 * version left enabled.
 * @example
 * console.log(formatReport(await rotationStorm({ events: 200 })));
 */
export async function rotationStorm(options: BenchOptions): Promise<BenchmarkReport> {
  const settings = settingsFrom(options);
  const storm = await startBenchStack('vigil-bench-storm-');
  try {
    const results: StormResult[] = [];
    for (let run = 1; run <= settings.runs; run += 1)
      for (const mode of ['unthrottled', 'throttled'] as const)
        results.push(await measure(storm, settings, run, mode));
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
  };
}

async function measure(storm: BenchStack, settings: Settings, run: number, mode: Mode): Promise<StormResult> {
  const { stack } = storm;
  const admin = stack.keyVault.admin;
  const client = stormVaultClient(stack);
  const population = await populate(stack, client, {
    tag: `r${run}${mode === 'throttled' ? 't' : 'u'}${randomBytes(2).toString('hex')}`,
    random: settings.secrets - settings.postgres,
    postgres: settings.postgres,
  });
  const watch = new StormWatch();
  let last: { at: number; served: number; throttled: number } | undefined;
  let use: VaultUse | undefined;
  const unlisten = storm.onLine((line) => {
    watch.line(line);
    // Read the counts the moment the last promotion shows, so requests after it are not counted.
    if (!last && watch.promoted >= settings.secrets) {
      last = { at: watch.lastPromotionAt ?? performance.now(), ...admin.counts() };
      use?.stop();
    }
  });
  try {
    // Key Vault sends Retry-After in whole seconds only, so no retry-after-ms here.
    if (mode === 'throttled') admin.rateLimit({ perSecond: settings.perSecond, preciseRetryAfter: false });
    const before = admin.counts();
    const started = performance.now();
    use = new VaultUse(() => admin.counts().served);
    await stack.advanceClock(advanceIntoWindow(stack, population.expiresOn));
    const timeoutMs = stormTimeoutMs(settings);
    while (!last) {
      if (watch.abandoned > 0) {
        // The failed instance's output names the step and the cause.
        await settleInstances(stack, population.secrets, 60_000);
        throw new StormCorrectnessError(`${watch.abandoned} rotation(s) gave up during the storm`);
      }
      if (performance.now() - started > timeoutMs)
        throw new StormCorrectnessError(
          `after ${timeoutMs} ms, ${watch.promoted} of ${settings.secrets} secrets were promoted`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    admin.clearFaults();
    await settleInstances(stack, population.secrets, timeoutMs);
    await stack.eventGrid.idle();
    await checkRotatedOnce(client, population.secrets, stack.postgres);
    return {
      run,
      mode,
      wallMs: last.at - started,
      served: last.served - before.served,
      throttled: last.throttled - before.throttled,
      failedAttempts: watch.failedAttempts,
      failedDeliveries: watch.failedDeliveries,
      sweeps: watch.sweeps,
      hostPeakRss: await peakRssOf(stack.host?.pid),
      use: use.underused(settings.perSecond),
    };
  } finally {
    use?.stop();
    admin.clearFaults();
    unlisten();
  }
}

/** Generous: ten times what about 15 requests a rotation would take at the throttle, and at least 5 minutes. */
function stormTimeoutMs(settings: Settings): number {
  return Math.max(300_000, ((settings.secrets * 15) / settings.perSecond) * 10_000);
}

const seconds = (ms: number) => ms / 1000;

function idealMs(result: StormResult, settings: Settings): number {
  return (result.served / settings.perSecond) * 1000;
}

function report(settings: Settings, results: StormResult[], benchPeakRss: number): BenchmarkReport {
  const of = (mode: Mode) => results.filter((result) => result.mode === mode);
  const wallPerIdeal = of('throttled').map((result) => result.wallMs / idealMs(result, settings));
  const headroom = of('unthrottled').map(
    (result) => result.served / seconds(result.wallMs) / settings.perSecond,
  );
  return {
    title: `rotation-storm: ${settings.secrets} secrets (${settings.secrets - settings.postgres} random, ${settings.postgres} postgres-role) near expiry at once, Key Vault throttled to ${settings.perSecond} requests/s, ${settings.runs} runs`,
    table: {
      columns: [
        'run',
        'throttle',
        'wall s',
        'ideal s',
        'wall/ideal',
        'rotations/s',
        'KV served',
        'KV served/s',
        'KV 429s',
        'activity retries',
        'event redeliveries',
        'host peak RSS MiB',
      ],
      rows: results.map((result) => row(result, settings)),
    },
    notes: notes(settings, results, benchPeakRss),
    ratios: [
      {
        name: 'rotation-storm.wall',
        value: median(wallPerIdeal),
        meaning:
          'wall-clock from the clock advance to the last promotion ÷ the ideal time the throttle allows, throttled storms, median over runs',
      },
      {
        name: 'rotation-storm.headroom',
        value: median(headroom),
        meaning: `Key Vault requests/s Vigil makes unthrottled ÷ the throttle's ${settings.perSecond}/s, median over runs (well above 1: the throttle sets the pace, not the host)`,
      },
    ],
  };
}

function notes(settings: Settings, results: StormResult[], benchPeakRss: number): string[] {
  const of = (mode: Mode) => results.filter((result) => result.mode === mode);
  const failed = new Map<string, number>();
  for (const result of results)
    for (const [name, count] of result.failedAttempts) failed.set(name, (failed.get(name) ?? 0) + count);
  const retried = [...failed].map(([name, count]) => `${name} ${count}`).join(', ') || 'none';
  return [
    `throttle = the Key Vault emulator serves at most ${settings.perSecond} requests per vault in any 1 s; the rest get 429 with Retry-After in whole seconds, as Key Vault sends it. none = the same storm on fresh secrets without it: Vigil's own pace`,
    'wall = from the clock advance that puts every secret in its near-expiry window to the last successful promotePendingCredential (host log); KV served and 429s are counted over the same span',
    `ideal = KV requests served ÷ ${settings.perSecond}/s: the least time the throttle allows for the requests Vigil made`,
    `activity retries = activity attempts that threw and were retried by Durable after its backoff (${retried}); event redeliveries = keyVaultEvents invocations that failed, redelivered by Event Grid`,
    `seconds the vault served under 90% of the throttle, throttled storms: ${of('throttled')
      .map(
        (r) =>
          `${r.use.under} of ${r.use.seconds} (${r.use.first} in the first 5 s, ${r.use.last} in the last 5 s)`,
      )
      .join('; ')}`,
    `rotationSweep runs during each storm (the hourly timer fires when the clock advance passes an hour): ${results.map((r) => r.sweeps).join(', ')}; bench process (emulators) peak RSS ${mib(benchPeakRss)} MiB`,
    `check: every secret's current version changed exactly once (2 versions, the new one current with a rotation id), no enabled -pending version, postgres-role values log in and initial ones are refused, no rotation failed — ok in ${results.length} storms`,
  ];
}

function row(result: StormResult, settings: Settings): string[] {
  const throttled = result.mode === 'throttled';
  const ideal = idealMs(result, settings);
  const retries = [...result.failedAttempts.values()].reduce((total, count) => total + count, 0);
  return [
    String(result.run),
    throttled ? `${settings.perSecond}/s` : 'none',
    seconds(result.wallMs).toFixed(2),
    throttled ? seconds(ideal).toFixed(2) : '—',
    throttled ? (result.wallMs / ideal).toFixed(2) : '—',
    (settings.secrets / seconds(result.wallMs)).toFixed(1),
    String(result.served),
    (result.served / seconds(result.wallMs)).toFixed(1),
    String(result.throttled),
    String(retries),
    String(result.failedDeliveries),
    result.hostPeakRss === undefined ? '—' : mib(result.hostPeakRss),
  ];
}
