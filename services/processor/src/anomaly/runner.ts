// The live side of KPI deviation alerts (docs/architecture.md §21): a consumer group of its own on touchpoints.v1
// (`<prefix>-anomaly`, run by the `anomaly` target as one instance, so it sees every partition) feeding the pure
// detector, warm-started from ClickHouse before it consumes (warm-start.ts); anomalies go out on
// alerts.v1 as Alert records with the batch that closed their minute (produced before its offsets commit). When the
// stream goes quiet, a wall-clock tick moves stream time on, so a traffic drop to zero still closes its minutes.
import { codecs, type TouchpointEvent } from '@touchstream/contracts';
import { produceAll, runBatchConsumer, topicNames, type BatchConsumer, type BatchConsumerOptions, type ConsumedBatch, type LogSink, type OutboundMessage, type RecordResult } from '@touchstream/kafka';
import { kpiAlert } from './alert.ts';
import { KpiAnomalyDetector, type KpiAnomaly, type KpiAnomalyConfig, type KpiTouchpoint } from './detector.ts';

export interface KpiAnomalyRunnerOptions {
  kafka: BatchConsumerOptions['kafka'];
  producer: BatchConsumerOptions['producer'];
  groupId: string;
  log: LogSink;
  config: KpiAnomalyConfig;
  rulesVersion: string | null;
  /** Tests: other topics (touchpoints in, alerts out, dead letters). */
  alertsTopic?: string;
  touchpointsTopic?: string;
  deadLetterTopic?: string;
  /** Where a new group starts; default false (the newest touchpoints). */
  fromBeginning?: boolean;
  /** Wall-clock tick that advances stream time while the topic is quiet; default 1 s. */
  tickMs?: number;
  /** How often the group is checked for a second member (logged as an error); default 60 s. */
  membershipCheckMs?: number;
  now?: () => number;
  /**
   * Rebuilds the baseline before the consumer starts (warm-start.ts) and returns the event time from which the live
   * stream must supply touchpoints; the group's offsets are then set to a little before it. Undefined or a failure:
   * a cold start from the group's committed offsets.
   */
  warmStart?: (detector: KpiAnomalyDetector) => Promise<number | undefined>;
}

export interface KpiAnomalyRunner {
  /** New rules: starts the consumer when anomalies become enabled; history is kept. */
  setConfig(config: KpiAnomalyConfig, rulesVersion: string | null): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly detector: KpiAnomalyDetector;
  readonly running: boolean;
}

/** A partition silent this long (wall clock) no longer holds stream time back. */
const PARTITION_IDLE_MS = 10_000;
/** No record for this long (wall clock): the stream is quiet, not between two fetches. */
const QUIET_MS = 5_000;
/**
 * After a warm start Kafka is resumed at records produced this long before the cut: a touchpoint's record is produced
 * after its event time, give or take client clocks; records before the cut come back late and are left out.
 */
const RESUME_MARGIN_MS = 2 * 60_000;
/** How often the group's membership is checked (one instance only). */
const MEMBERSHIP_CHECK_MS = 60_000;

export function kpiTouchpointOf(e: TouchpointEvent): KpiTouchpoint {
  return {
    occurredAtMs: Math.floor(e.occurred_at / 1000),
    touchpoint: e.touchpoint,
    channel: e.channel,
    journey: e.journey ?? null,
    outcome: e.outcome ?? null,
    waitMs: e.wait_ms ?? null,
    sentiment: e.sentiment ?? null,
    nps: e.survey && e.survey.kind === 'NPS' ? e.survey.score : null,
  };
}

export function createKpiAnomalyRunner(options: KpiAnomalyRunnerOptions): KpiAnomalyRunner {
  const detector = new KpiAnomalyDetector(options.config);
  let rulesVersion = options.rulesVersion;
  const now = options.now ?? Date.now;
  const topic = options.alertsTopic ?? topicNames.alerts;
  let consumer: BatchConsumer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let membership: NodeJS.Timeout | undefined;
  let started = false;
  let lastRecordWallMs = now();
  let emitting: Promise<void> = Promise.resolve();

  const toMessages = (anomalies: KpiAnomaly[]): OutboundMessage[] => {
    if (!detector.settings.enabled) return [];
    return anomalies.map((a) => {
      const alert = kpiAlert(a, detector.settings.metrics[a.metric]!, rulesVersion);
      options.log.info({ metric: a.metric, series: `${a.dimension}=${a.value}`, observed: a.observed, expected: a.expected, deviation: a.deviation }, 'KPI anomaly');
      return { topic, key: alert.customer_id, value: codecs.alert.encode(alert) };
    });
  };

  // Stream time is the smallest of the partitions' newest event times (a watermark): partitions are consumed in
  // batches of their own, and a backlog of one must not close minutes another has not delivered yet. A partition
  // that has sent nothing for PARTITION_IDLE_MS of wall time stops holding it back. Every partition of the topic is
  // known from the start (maxMs -Infinity): until the first batch plus PARTITION_IDLE_MS, one not heard from yet holds
  // stream time back, so a catch-up after a (warm) start does not close minutes from the first partition's batch alone.
  const partitions = new Map<number, { maxMs: number; wallMs: number }>();
  let heardAny = false;
  const watermark = (): number => {
    const wall = now();
    let min = Infinity;
    let max = -Infinity;
    for (const p of partitions.values()) {
      max = Math.max(max, p.maxMs);
      if (wall - p.wallMs <= PARTITION_IDLE_MS) min = Math.min(min, p.maxMs);
    }
    return min === Infinity ? max : min;
  };

  async function handleBatch(batch: ConsumedBatch): Promise<RecordResult[]> {
    if (!heardAny) {
      heardAny = true;
      for (const p of partitions.values()) p.wallMs = now();
    }
    const part = partitions.get(batch.partition) ?? { maxMs: -Infinity, wallMs: 0 };
    partitions.set(batch.partition, part);
    part.wallMs = now();
    const results: RecordResult[] = batch.records.map((record) => {
      if (!record.value) return { kind: 'drop', reason: 'empty record' };
      try {
        const t = kpiTouchpointOf(codecs.touchpoint.decode(record.value));
        detector.observe(t);
        part.maxMs = Math.max(part.maxMs, t.occurredAtMs);
        return { kind: 'ok' };
      } catch (err) {
        // The processor dead-letters bad records; counting them twice would duplicate its dead letters.
        return { kind: 'drop', reason: `not a touchpoint: ${(err as Error).message}` };
      }
    });
    lastRecordWallMs = now();
    const outputs = toMessages(detector.advance(watermark()));
    if (outputs.length && results.length) results[results.length - 1] = { kind: 'ok', outputs };
    return results;
  }

  const tick = () => {
    const idleMs = now() - lastRecordWallMs;
    // Quiet for longer than a fetch pause: stream time moves on with the wall clock.
    if (idleMs <= Math.max(detector.settings.latenessMs, QUIET_MS) || !Number.isFinite(detector.streamTimeMs)) return;
    const messages = toMessages(detector.advance(Math.max(watermark(), detector.streamTimeMs) + idleMs));
    if (messages.length) {
      emitting = emitting.then(() => produceAll(options.producer, messages)).catch((err) => options.log.error({ err: (err as Error).message }, 'KPI anomaly alerts not produced'));
    }
  };

  const runner: KpiAnomalyRunner = {
    detector,
    get running() {
      return !!consumer;
    },
    async setConfig(config, version) {
      detector.setConfig(config);
      rulesVersion = version;
      if (started && config.enabled) await startOnce();
    },
    async start() {
      started = true;
      if (detector.settings.enabled) await startOnce();
    },
    async stop() {
      started = false;
      await starting?.catch(() => undefined);
      clearInterval(ticker);
      clearInterval(membership);
      ticker = undefined;
      membership = undefined;
      await consumer?.stop();
      consumer = undefined;
      await emitting;
    },
  };

  /**
   * The detector must be its group's only member (docs/architecture.md §21): a second instance takes a share of the
   * partitions and both count partial volumes. Said loudly in the log, once a minute, while it lasts.
   */
  async function checkMembership() {
    const admin = options.kafka.admin();
    try {
      await admin.connect();
      const { groups } = await admin.describeGroups([options.groupId]);
      const members = groups[0]?.members.length ?? 0;
      if (members > 1) {
        options.log.error({ groupId: options.groupId, members }, 'KPI anomaly group has several members: each counts only its partitions, volumes are partial; run exactly one anomaly instance');
      }
    } catch (err) {
      options.log.debug({ err: (err as Error).message }, 'KPI anomaly group membership not checked');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Every partition of the topic, each holding stream time back until heard from (see watermark). */
  async function knowPartitions() {
    const admin = options.kafka.admin();
    try {
      await admin.connect();
      for (const o of await admin.fetchTopicOffsets(options.touchpointsTopic ?? topicNames.touchpoints)) {
        if (!partitions.has(o.partition)) partitions.set(o.partition, { maxMs: -Infinity, wallMs: now() });
      }
    } catch (err) {
      options.log.warn({ err: (err as Error).message }, 'KPI anomaly detection: partitions of touchpoints not listed (a backlog may count as late at start)');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Warm start, then the group's offsets set to the cut (only possible while the group has no member). */
  async function warmStart() {
    if (!options.warmStart) return;
    let cutMs: number | undefined;
    try {
      cutMs = await options.warmStart(detector);
    } catch (err) {
      options.log.error({ err: (err as Error).message }, 'KPI anomaly warm start failed: starting cold (silent until min_history)');
      return;
    }
    if (cutMs === undefined) return;
    const touchpoints = options.touchpointsTopic ?? topicNames.touchpoints;
    const admin = options.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsetsByTimestamp(touchpoints, cutMs - RESUME_MARGIN_MS);
      await admin.setOffsets({ groupId: options.groupId, topic: touchpoints, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) });
      options.log.info({ groupId: options.groupId, resumeFrom: new Date(cutMs - RESUME_MARGIN_MS).toISOString() }, 'KPI anomaly consumer resumes at the warm start cut');
    } catch (err) {
      // E.g. the previous instance is still a member: its committed offsets are used (the minute at the cut may then miss touchpoints).
      options.log.warn({ err: (err as Error).message, groupId: options.groupId }, 'KPI anomaly consumer offsets not moved to the warm start cut');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  // One start, however many reloads arrive while the warm start runs: a second would replay the history twice.
  let starting: Promise<void> | undefined;
  function startOnce(): Promise<void> {
    if (consumer) return Promise.resolve();
    starting ??= startConsumer().finally(() => (starting = undefined));
    return starting;
  }

  async function startConsumer() {
    await warmStart();
    await knowPartitions();
    // Stopped while the warm start ran: nothing to consume for.
    if (!started) return;
    consumer = await runBatchConsumer({
      kafka: options.kafka,
      groupId: options.groupId,
      topics: [options.touchpointsTopic ?? topicNames.touchpoints],
      producer: options.producer,
      handleBatch,
      deadLetterTopic: options.deadLetterTopic ?? topicNames.deadLetters,
      stage: 'kpi-anomaly',
      log: options.log,
      fromBeginning: options.fromBeginning ?? false,
      maxRecordsPerBatch: 5000,
    });
    lastRecordWallMs = now();
    ticker = setInterval(tick, options.tickMs ?? 1000);
    ticker.unref();
    membership = setInterval(() => void checkMembership(), options.membershipCheckMs ?? MEMBERSHIP_CHECK_MS);
    membership.unref();
    options.log.info({ groupId: options.groupId, metrics: Object.keys(detector.settings.metrics), dimensions: detector.settings.dimensions }, 'KPI anomaly detection consuming touchpoints');
  }

  return runner;
}
