// A detection-quality run against a running ingest and Kafka: post labelled stories through HTTP (each
// customer's story in one request, in event-time order, anchored at "now" when posted), observe signals.v1
// and alerts.v1 from the offsets they had before posting, wait until every timer is due and the signals stop
// coming, then match predictions to labels.
import type { Kafka } from 'kafkajs';
import { codecs } from '@touchstream/contracts';
import { topicNames } from '@touchstream/kafka';
import { defaultCatalogueRules, type CatalogueRules } from './catalogue.ts';
import { generateStories, materializeStory, TIMED_JOURNEY, type QualityEvent, type Story } from './generator.ts';
import { matchSignals, type Label, type ObservedAlert, type ObservedSignal, type QualityReport, type QualityTargets } from './report.ts';

export interface QualityRunOptions {
  /** Ingest base URL. */
  url: string;
  writeKey: string;
  kafka: Kafka;
  /** At least this many touchpoints are posted. */
  events: number;
  seed: number;
  /** Expected duration of the timed journey in the rules of the stack under test. */
  timerExpectedMs: number;
  /** Unique per run: customer ids start with it, and only those customers' signals are looked at. */
  customerPrefix: string;
  /** Events per request (whole stories only). */
  batchEvents?: number;
  /** Requests in flight. */
  concurrency?: number;
  /** Events per second, paced (0: as fast as ingest takes them). A steady rate measures live delay, not backlog. */
  eventsPerSecond?: number;
  /** After the last due time, stop once no signal of this run arrived for this long. */
  quietMs?: number;
  /** Upper bound on waiting for signals after posting (beyond the last due time). */
  maxWaitMs?: number;
  targets?: QualityTargets;
  onProgress?: (phase: 'posting' | 'waiting', done: number, total: number) => void;
  onWarning?: (message: string) => void;
}

export interface QualityRunResult {
  report: QualityReport;
  customers: number;
  postedEvents: number;
  rejectedEvents: number;
  labels: number;
  postSeconds: number;
  waitSeconds: number;
  /** What was matched, for a closer look. */
  labelled: Label[];
  observed: ObservedSignal[];
}

interface Batch {
  stories: Story[];
  events: number;
  /** Events in the batches before this one (for pacing). */
  before: number;
}

function batchesOf(stories: Story[], maxEvents: number): Batch[] {
  const batches: Batch[] = [];
  let current: Batch = { stories: [], events: 0, before: 0 };
  for (const s of stories) {
    if (current.events + s.steps.length > maxEvents && current.stories.length) {
      batches.push(current);
      current = { stories: [], events: 0, before: current.before + current.events };
    }
    current.stories.push(s);
    current.events += s.steps.length;
  }
  if (current.stories.length) batches.push(current);
  return batches;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The catalogue with the run's timer: the timed journey expires after `timerExpectedMs`. */
export function qualityCatalogueRules(timerExpectedMs: number): CatalogueRules {
  return { ...defaultCatalogueRules, journeyExpectedMs: (j) => (j === TIMED_JOURNEY ? timerExpectedMs : defaultCatalogueRules.journeyExpectedMs(j)) };
}

/** Posts one request until ingest takes it (retrying 503/429 and connection errors); returns the rejected indexes. */
async function postUntilAccepted(url: string, writeKey: string, events: QualityEvent[], warn: (m: string) => void): Promise<Array<{ index: number; errors: string[] }>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${writeKey}` },
        body: JSON.stringify(events),
      });
      const body = (await res.json().catch(() => ({}))) as { rejected?: Array<{ index: number; errors: string[] }>; message?: string };
      if (res.status === 202 || res.status === 400) return body.rejected ?? [];
      if (res.status === 503 || res.status === 429) {
        const retryAfter = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(10, Math.max(0.2, retryAfter)) * 1000);
        continue;
      }
      throw new Error(`ingest answered ${res.status}: ${body.message ?? JSON.stringify(body)}`);
    } catch (err) {
      if ((err as Error).message.startsWith('ingest answered') || attempt >= 10) throw err;
      warn(`posting failed (${(err as Error).message}); retrying`);
      await sleep(500 * attempt);
    }
  }
}

export async function runQuality(opts: QualityRunOptions): Promise<QualityRunResult> {
  const warn = opts.onWarning ?? (() => undefined);
  const rules = qualityCatalogueRules(opts.timerExpectedMs);
  const stories = generateStories({ seed: opts.seed, events: opts.events, timerExpectedMs: opts.timerExpectedMs, customerPrefix: opts.customerPrefix });
  const totalEvents = stories.reduce((n, s) => n + s.steps.length, 0);
  const batches = batchesOf(stories, opts.batchEvents ?? 500);

  // Observe from the offsets signals.v1 and alerts.v1 have now, so a long-lived topic is not read from the start.
  const admin = opts.kafka.admin();
  await admin.connect();
  const startOffsets = new Map<string, Array<{ partition: number; offset: string }>>();
  try {
    for (const topic of [topicNames.signals, topicNames.alerts]) startOffsets.set(topic, await admin.fetchTopicOffsets(topic));
  } finally {
    await admin.disconnect();
  }
  const signals: ObservedSignal[] = [];
  const alerts: ObservedAlert[] = [];
  let lastArrivalAt = Date.now();
  const consumer = opts.kafka.consumer({ groupId: `touchstream-quality-${opts.customerPrefix}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topicNames.signals, topicNames.alerts], fromBeginning: false });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        if (!message.value || !message.key?.toString().startsWith(opts.customerPrefix)) continue;
        const arrivedAtMs = Number(message.timestamp);
        if (batch.topic === topicNames.signals) {
          const s = codecs.signal.decode(message.value);
          signals.push({ signal_id: s.signal_id, customer_id: s.customer_id, type: s.type, event_id: s.event_id, arrivedAtMs });
        } else {
          const a = codecs.alert.decode(message.value);
          alerts.push({ alert_id: a.alert_id, customer_id: a.customer_id, signal_ids: a.signals.map((x) => x.signal_id), arrivedAtMs });
        }
        lastArrivalAt = Date.now();
      }
    },
  });
  for (const [topic, offsets] of startOffsets) for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });

  try {
    // Post: whole stories per request, `concurrency` requests in flight, each story anchored when its request leaves.
    const labels: Label[] = [];
    const acceptedAtMs = new Map<string, number>();
    const rejectedCustomers = new Set<string>();
    const backfillEventIds = new Set<string>();
    let posted = 0;
    let rejectedEvents = 0;
    let next = 0;
    const postStarted = Date.now();
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        if (opts.eventsPerSecond) {
          const due = postStarted + (batch.before / opts.eventsPerSecond) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        const endAt = Date.now();
        const materialized = batch.stories.map((s) => materializeStory(s, endAt, rules));
        const events = materialized.flatMap((m) => m.events);
        // Delays run from the send, not the 202: the processor may produce the signal (its record timestamp)
        // before this client has read the answer, which made delays from the 202 negative under load.
        const sentAt = Date.now();
        const rejected = await postUntilAccepted(opts.url, opts.writeKey, events, warn);
        for (const r of rejected) {
          rejectedCustomers.add(events[r.index]!.customer_id);
          if (rejectedEvents < 5) warn(`event ${events[r.index]!.event_id} rejected: ${r.errors.join('; ')}`);
        }
        rejectedEvents += rejected.length;
        for (const m of materialized) {
          for (const e of m.events) acceptedAtMs.set(e.event_id, sentAt);
          for (const id of m.backfillEventIds) backfillEventIds.add(id);
          // A customer with a rejected event did not get the story it was labelled for: leave it out.
          if (!rejectedCustomers.has(m.story.customer_id)) labels.push(...m.labels.map((l) => ({ ...l, customer_id: m.story.customer_id })));
        }
        posted += events.length;
        opts.onProgress?.('posting', posted, totalEvents);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
    const postSeconds = (Date.now() - postStarted) / 1000;

    // Wait: every timer due, then until all labels are matched or no signal came for quietMs (bounded).
    const waitStarted = Date.now();
    const lastDue = Math.max(0, ...labels.map((l) => l.dueAtMs ?? 0));
    const deadline = Math.max(Date.now(), lastDue) + (opts.maxWaitMs ?? 120_000);
    const quietMs = opts.quietMs ?? 10_000;
    const labelKeys = new Set(labels.map((l) => `${l.customer_id}\0${l.type}\0${l.event_id}`));
    for (;;) {
      const found = new Set(signals.map((s) => `${s.customer_id}\0${s.type}\0${s.event_id}`));
      const matched = [...labelKeys].filter((k) => found.has(k)).length;
      opts.onProgress?.('waiting', matched, labelKeys.size);
      const now = Date.now();
      const allDue = now >= lastDue + 2000;
      if (allDue && matched === labelKeys.size && now - lastArrivalAt >= Math.min(quietMs, 3000)) break;
      if (allDue && now - lastArrivalAt >= quietMs) break;
      if (now >= deadline) {
        warn(`stopped waiting after ${Math.round((now - waitStarted) / 1000)} s with signals still arriving`);
        break;
      }
      await sleep(250);
    }
    const waitSeconds = (Date.now() - waitStarted) / 1000;
    const observed = signals.filter((s) => !rejectedCustomers.has(s.customer_id));
    const report = matchSignals({
      labels,
      signals: observed,
      alerts,
      acceptedAtMs,
      backfillEventIds,
      targets: opts.targets,
    });
    return { report, customers: stories.length, postedEvents: posted, rejectedEvents, labels: labels.length, postSeconds, waitSeconds, labelled: labels, observed };
  } finally {
    await consumer.disconnect();
  }
}
