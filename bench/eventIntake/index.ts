import { randomBytes } from 'node:crypto';
import type { BenchOptions } from '../options.js';
import { BenchUsageError } from '../options.js';
import { peakRssOf } from '../peakRss.js';
import { type BenchmarkReport, mib, ms } from '../report.js';
import { median, percentile } from '../stats.js';
import { postBatches, type Sent } from './direct.js';
import { IntakeCorrectnessError, settleAndCheck } from './instances.js';
import { type Receiver, startTrivialWebhook, startVigil, type VigilReceiver } from './receivers.js';
import { countFailedDelivery, type IntakeTopic, intakeTopic, publishAll } from './viaEventGrid.js';
import { inBatches, probeWorkload, type Workload } from './workload.js';

interface Settings {
  runs: number;
  events: number;
  batch: number;
  duplicates: number;
  concurrency: number;
}

type Path = 'direct' | 'eventgrid';
type Target = 'trivial' | 'vigil';

interface RunResult {
  wallMs: number;
  effectMs: number[];
  settledMs?: number;
  retries: number;
  failedInvocations: number;
}

interface Case {
  path: Path;
  target: Target;
  label: string;
  results: RunResult[];
  peakRss?: number;
}

/** One run's receivers: a fresh stack each run, so no run works on a task hub the last one filled. */
interface RunContext {
  run: number;
  trivial: Receiver;
  vigil: VigilReceiver;
  topics: Map<Target, IntakeTopic>;
}

/** Event Grid's own limit on events per delivery. */
const maxBatch = 5000;
const effectTimeoutMs = 10 * 60_000;
const labels: Record<Target, string> = {
  trivial: 'trivial webhook (answers 200)',
  vigil: 'vigil probeEvents',
};

/**
 * Event intake: batches of probe requests (with duplicates) into Vigil's `probeEvents` webhook,
 * posted directly and delivered by the Event Grid emulator, against a webhook that only answers
 * 200 on the same paths in the same run. Reports events/s and time-to-effect, and checks that
 * every distinct probe id has exactly one orchestration instance.
 * @example
 * console.log(formatReport(await eventIntake({ events: 2000, batch: 100, runs: 3 })));
 */
export async function eventIntake(options: BenchOptions): Promise<BenchmarkReport> {
  const settings = settingsFrom(options);
  const cases: Case[] = (['direct', 'eventgrid'] as const).flatMap((path) =>
    (['trivial', 'vigil'] as const).map((target) => ({ path, target, label: labels[target], results: [] })),
  );
  const trivial = await startTrivialWebhook();
  try {
    for (let run = 1; run <= settings.runs; run += 1) {
      const vigil = await startVigil();
      try {
        const context = await runContext(run, trivial, vigil, settings);
        for (const each of cases) {
          const result = await measure(each, context, settings);
          each.results.push(result);
          // Progress on stderr, so a run that fails later still leaves what it measured.
          process.stderr.write(
            `event-intake run ${run} ${each.path} ${each.target}: wall ${ms(result.wallMs)} ms, p99 ${ms(percentile(result.effectMs, 99))} ms, retried ${result.retries}, failed invocations ${result.failedInvocations}\n`,
          );
        }
        const hostPeak = await peakRssOf(vigil.pid);
        for (const each of cases.filter((c) => c.target === 'vigil'))
          each.peakRss = Math.max(each.peakRss ?? 0, hostPeak ?? 0);
      } finally {
        await vigil.stop();
      }
    }
    const trivialPeak = await peakRssOf(trivial.pid);
    for (const each of cases.filter((c) => c.target === 'trivial')) each.peakRss = trivialPeak;
    return report(settings, cases);
  } finally {
    await trivial.stop();
  }
}

function settingsFrom(options: BenchOptions): Settings {
  const settings = {
    runs: options.runs ?? 3,
    // 5,000 events in batches of 500 outran Event Grid's 30 s delivery timeout (docs/benchmarks.md).
    events: options.events ?? 2000,
    batch: options.batch ?? 100,
    duplicates: options.duplicates ?? 0.2,
    concurrency: options.concurrency ?? 4,
  };
  if (settings.batch > maxBatch)
    throw new BenchUsageError(`--batch must be at most ${maxBatch} (Event Grid's maxEventsPerBatch limit)`);
  return settings;
}

async function runContext(
  run: number,
  trivial: Receiver,
  vigil: VigilReceiver,
  settings: Settings,
): Promise<RunContext> {
  const topics = new Map<Target, IntakeTopic>();
  for (const [target, receiver] of [
    ['trivial', trivial],
    ['vigil', vigil],
  ] as const) {
    const topic = await intakeTopic(vigil.stack, `intake-${target}`, receiver.webhookUrl, settings.batch);
    vigil.onLine((line) => countFailedDelivery(topic, line));
    topics.set(target, topic);
  }
  return { run, trivial, vigil, topics };
}

async function measure(each: Case, context: RunContext, settings: Settings): Promise<RunResult> {
  const receiver = each.target === 'vigil' ? context.vigil : context.trivial;
  const topic = each.path === 'eventgrid' ? context.topics.get(each.target) : undefined;
  const tag = `r${context.run}${each.path}${each.target[0]}-${randomBytes(3).toString('hex')}`;
  const workload = probeWorkload({
    tag,
    events: settings.events,
    duplicates: settings.duplicates,
    seed: context.run,
  });
  const failuresBefore = receiver.effects.failures;
  const failedDeliveriesBefore = topic?.failedDeliveries ?? 0;
  const started = performance.now();
  const sent = topic
    ? await publishAll(topic, workload.events)
    : await postBatches(
        receiver.webhookUrl,
        inBatches(workload.events, settings.batch),
        settings.concurrency,
      );
  await receiver.effects.waitForAll(workload.probeIds, effectTimeoutMs);
  if (topic) await context.vigil.stack.eventGrid.idle();
  const wallMs = performance.now() - started;
  if (topic) checkNothingDeadLettered(context.vigil, topic);
  const result: RunResult = {
    wallMs,
    effectMs: effectTimes(workload, sent, receiver),
    retries: sent.retries + (topic?.failedDeliveries ?? 0) - failedDeliveriesBefore,
    failedInvocations: receiver.effects.failures - failuresBefore,
  };
  if (each.target === 'vigil') {
    // Also lets the run's orchestrations finish their first work, so it does not slow the next case.
    const settledAt = await settleAndCheck(context.vigil.stack, tag, workload.probeIds, effectTimeoutMs);
    result.settledMs = settledAt - started;
  }
  return result;
}

function checkNothingDeadLettered(vigil: VigilReceiver, topic: IntakeTopic): void {
  const { stats } = vigil.stack.eventGrid.subscription(topic.topic, topic.subscription);
  if (stats.deadLettered + stats.dropped > 0)
    throw new IntakeCorrectnessError(
      `Event Grid gave up on ${stats.deadLettered + stats.dropped} events bound for ${topic.topic}`,
    );
}

function effectTimes(workload: Workload, sent: Sent, receiver: Receiver): number[] {
  return workload.probeIds.map(
    (id) => (receiver.effects.firstSeen(id) ?? Number.NaN) - (sent.sentAt.get(id) ?? 0),
  );
}

function report(settings: Settings, cases: Case[]): BenchmarkReport {
  const distinct = settings.events - Math.floor(settings.events * settings.duplicates);
  return {
    title: `event-intake: ${settings.events} probe requests per run (${distinct} distinct), ${settings.runs} runs, medians`,
    table: {
      columns: [
        'path',
        'receiver',
        'wall s',
        'events/s',
        'effect p50 ms',
        'effect p99 ms',
        'settled s',
        'retried requests',
        'failed invocations',
        'peak RSS MiB',
      ],
      rows: cases.map((each) => row(each, settings)),
    },
    notes: [
      `direct = ${settings.batch} events per POST to the webhook, ${settings.concurrency} in flight, a batch not answered 2xx is retried; eventgrid = published with the Event Grid SDK (500 per request) to a topic whose subscription has maxEventsPerBatch ${settings.batch}`,
      `${Math.round(settings.duplicates * 100)}% of events repeat an earlier event (same id), shuffled across batches; each run starts a fresh local stack`,
      'effect = vigil: probeEvents logs "Probe X runs as probe-X" (the orchestration instance exists); trivial: the webhook logs the event. Time-to-effect runs from sending the first request carrying the probe id to the first effect line for it',
      'retried requests = webhook requests not answered 2xx and sent again (direct: by the bench; eventgrid: by the emulator, failed or timed out after 30 s), summed over runs',
      'settled = every probe of the run has checked its dependencies and waits for acknowledgement (seen through the Durable status API, polled each second)',
      `check: exactly one pipelineProbe instance per distinct probe id, none failed, nothing dead-lettered — ok in ${settings.runs * 2} vigil runs`,
    ],
    ratios: [
      ratio(cases, 'direct', 'wall', 'median wall time of a run, direct posts'),
      ratio(cases, 'direct', 'p99', 'median p99 time-to-effect, direct posts'),
      ratio(cases, 'eventgrid', 'wall', 'median wall time of a run, through the Event Grid emulator'),
      ratio(cases, 'eventgrid', 'p99', 'median p99 time-to-effect, through the Event Grid emulator'),
    ],
  };
}

function ratio(cases: Case[], path: Path, field: 'wall' | 'p99', what: string) {
  const value = (target: Target) => {
    const each = cases.find((c) => c.path === path && c.target === target);
    return median(each?.results.map((r) => (field === 'wall' ? r.wallMs : percentile(r.effectMs, 99))) ?? []);
  };
  return {
    name: `event-intake.${path}.${field}`,
    value: value('vigil') / value('trivial'),
    meaning: `vigil ÷ trivial webhook, ${what}`,
  };
}

function row(each: Case, settings: Settings): string[] {
  const wall = median(each.results.map((r) => r.wallMs));
  const settled = each.results.flatMap((r) => (r.settledMs === undefined ? [] : [r.settledMs]));
  return [
    each.path,
    each.label,
    (wall / 1000).toFixed(2),
    Math.round(settings.events / (wall / 1000)).toString(),
    ms(median(each.results.map((r) => percentile(r.effectMs, 50)))),
    ms(median(each.results.map((r) => percentile(r.effectMs, 99)))),
    settled.length > 0 ? (median(settled) / 1000).toFixed(2) : '—',
    String(each.results.reduce((total, r) => total + r.retries, 0)),
    String(each.results.reduce((total, r) => total + r.failedInvocations, 0)),
    each.peakRss === undefined ? '—' : mib(each.peakRss),
  ];
}
