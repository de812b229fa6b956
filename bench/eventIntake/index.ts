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

interface RunResult {
  wallMs: number;
  effectMs: number[];
  settledMs?: number;
  retries: number;
  failedInvocations: number;
}

interface Case {
  path: Path;
  receiver: Receiver;
  /** The eventgrid path's topic, subscribed to the receiver. */
  topic?: IntakeTopic;
  results: RunResult[];
}

/** Event Grid's own limit on events per delivery. */
const maxBatch = 5000;
const effectTimeoutMs = 10 * 60_000;

/**
 * Event intake: batches of probe requests (with duplicates) into Vigil's `probeEvents` webhook,
 * posted directly and delivered by the Event Grid emulator, against a webhook that only answers
 * 200 on the same paths in the same run. Reports events/s and time-to-effect, and checks that
 * every distinct probe id has exactly one orchestration instance.
 * @example
 * console.log(formatReport(await eventIntake({ events: 5000, runs: 3 })));
 */
export async function eventIntake(options: BenchOptions): Promise<BenchmarkReport> {
  const settings = settingsFrom(options);
  const trivial = await startTrivialWebhook();
  let vigil: VigilReceiver | undefined;
  try {
    vigil = await startVigil();
    const cases: Case[] = [];
    for (const path of ['direct', 'eventgrid'] as const)
      for (const receiver of [trivial, vigil]) {
        const name = `intake-${receiver === vigil ? 'vigil' : 'trivial'}`;
        const topic =
          path === 'eventgrid'
            ? await intakeTopic(vigil.stack, name, receiver.webhookUrl, settings.batch)
            : undefined;
        if (topic) vigil.onLine((line) => countFailedDelivery(topic, line));
        cases.push({ path, receiver, ...(topic && { topic }), results: [] });
      }
    for (let run = 1; run <= settings.runs; run += 1)
      for (const each of cases) each.results.push(await measure(each, run, settings, vigil));
    const peaks = new Map<Receiver, number | undefined>();
    for (const receiver of [trivial, vigil]) peaks.set(receiver, await peakRssOf(receiver.pid));
    return report(settings, cases, peaks);
  } finally {
    await vigil?.stop();
    await trivial.stop();
  }
}

function settingsFrom(options: BenchOptions): Settings {
  const settings = {
    runs: options.runs ?? 3,
    events: options.events ?? 5000,
    batch: options.batch ?? 500,
    duplicates: options.duplicates ?? 0.2,
    concurrency: options.concurrency ?? 4,
  };
  if (settings.batch > maxBatch)
    throw new BenchUsageError(`--batch must be at most ${maxBatch} (Event Grid's maxEventsPerBatch limit)`);
  return settings;
}

async function measure(
  each: Case,
  run: number,
  settings: Settings,
  vigil: VigilReceiver,
): Promise<RunResult> {
  const tag = `r${run}${each.path}${each.receiver === vigil ? 'v' : 't'}-${randomBytes(3).toString('hex')}`;
  const workload = probeWorkload({
    tag,
    events: settings.events,
    duplicates: settings.duplicates,
    seed: run,
  });
  const failuresBefore = each.receiver.effects.failures;
  const deadLetteredBefore = deadLettered(vigil, each.topic);
  const failedDeliveriesBefore = each.topic?.failedDeliveries ?? 0;
  const started = performance.now();
  const sent = each.topic
    ? await publishAll(each.topic, workload.events)
    : await postBatches(
        each.receiver.webhookUrl,
        inBatches(workload.events, settings.batch),
        settings.concurrency,
      );
  await each.receiver.effects.waitForAll(workload.probeIds, effectTimeoutMs);
  if (each.path === 'eventgrid') await vigil.stack.eventGrid.idle();
  const wallMs = performance.now() - started;
  if (deadLettered(vigil, each.topic) !== deadLetteredBefore)
    throw new IntakeCorrectnessError(`Event Grid dead-lettered events bound for ${each.receiver.label}`);
  const result: RunResult = {
    wallMs,
    effectMs: effectTimes(workload, sent, each.receiver),
    retries: sent.retries + (each.topic?.failedDeliveries ?? 0) - failedDeliveriesBefore,
    failedInvocations: each.receiver.effects.failures - failuresBefore,
  };
  if (each.receiver === vigil) {
    // Also lets the run's orchestrations finish their first work, so it does not slow the next run.
    const settledAt = await settleAndCheck(vigil.stack, tag, workload.probeIds, effectTimeoutMs);
    result.settledMs = settledAt - started;
  }
  return result;
}

function deadLettered(vigil: VigilReceiver, topic: IntakeTopic | undefined): number {
  if (!topic) return 0;
  const { stats } = vigil.stack.eventGrid.subscription(topic.topic, topic.subscription);
  return stats.deadLettered + stats.dropped;
}

function effectTimes(workload: Workload, sent: Sent, receiver: Receiver): number[] {
  return workload.probeIds.map(
    (id) => (receiver.effects.firstSeen(id) ?? Number.NaN) - (sent.sentAt.get(id) ?? 0),
  );
}

function report(
  settings: Settings,
  cases: Case[],
  peaks: Map<Receiver, number | undefined>,
): BenchmarkReport {
  const find = (path: Path, index: number) => cases.filter((each) => each.path === path)[index];
  const ratio = (path: Path, field: 'wall' | 'p99') => {
    const [trivial, vigil] = [find(path, 0), find(path, 1)];
    if (!trivial || !vigil) return Number.NaN;
    const value = (each: Case) =>
      median(each.results.map((r) => (field === 'wall' ? r.wallMs : percentile(r.effectMs, 99))));
    return value(vigil) / value(trivial);
  };
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
      rows: cases.map((each) => row(each, settings, peaks.get(each.receiver))),
    },
    notes: [
      `direct = ${settings.batch} events per POST to the webhook, ${settings.concurrency} in flight, a batch not answered 2xx is retried; eventgrid = published with the Event Grid SDK (500 per request) to a topic whose subscription has maxEventsPerBatch ${settings.batch}`,
      `${Math.round(settings.duplicates * 100)}% of events repeat an earlier event (same id), shuffled across batches`,
      'effect = vigil: probeEvents logs "Probe X runs as probe-X" (the orchestration instance exists); trivial: the webhook logs the event. Time-to-effect runs from sending the first request carrying the probe id to the first effect line for it',
      'retried requests = webhook requests not answered 2xx and sent again (direct: by the bench; eventgrid: by the emulator, failed or timed out after 30 s), summed over runs',
      'settled = every probe of the run has checked its dependencies and waits for acknowledgement (seen through the Durable status API)',
      `check: exactly one pipelineProbe instance per distinct probe id, none failed, nothing dead-lettered — ok in ${settings.runs * 2} vigil runs`,
    ],
    ratios: [
      {
        name: 'event-intake.direct.wall',
        value: ratio('direct', 'wall'),
        meaning: 'vigil ÷ trivial webhook, median wall time of a run, direct posts',
      },
      {
        name: 'event-intake.direct.p99',
        value: ratio('direct', 'p99'),
        meaning: 'vigil ÷ trivial webhook, median p99 time-to-effect, direct posts',
      },
      {
        name: 'event-intake.eventgrid.wall',
        value: ratio('eventgrid', 'wall'),
        meaning: 'vigil ÷ trivial webhook, median wall time of a run, through the Event Grid emulator',
      },
      {
        name: 'event-intake.eventgrid.p99',
        value: ratio('eventgrid', 'p99'),
        meaning: 'vigil ÷ trivial webhook, median p99 time-to-effect, through the Event Grid emulator',
      },
    ],
  };
}

function row(each: Case, settings: Settings, peak: number | undefined): string[] {
  const wall = median(each.results.map((r) => r.wallMs));
  const settled = each.results.flatMap((r) => (r.settledMs === undefined ? [] : [r.settledMs]));
  return [
    each.path,
    each.receiver.label,
    (wall / 1000).toFixed(2),
    Math.round(settings.events / (wall / 1000)).toString(),
    ms(median(each.results.map((r) => percentile(r.effectMs, 50)))),
    ms(median(each.results.map((r) => percentile(r.effectMs, 99)))),
    settled.length > 0 ? (median(settled) / 1000).toFixed(2) : '—',
    String(each.results.reduce((total, r) => total + r.retries, 0)),
    String(each.results.reduce((total, r) => total + r.failedInvocations, 0)),
    peak === undefined ? '—' : mib(peak),
  ];
}
