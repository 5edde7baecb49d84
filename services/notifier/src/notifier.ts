// The notifier's batch handler: every alert of a batch goes to every destination whose filter it passes.
// Destinations are worked on at the same time, so a failing one does not hold the others back; the batch
// (and so its offsets) is done once every delivery is delivered or dead-lettered. Delivered (alert_id,
// destination) pairs are remembered in Redis, so a redelivered batch or a replay sends nothing twice.
import type { Cluster, Redis } from 'ioredis';
import { alertJson, codecs, SchemaError, type Alert } from '@touchstream/contracts';
import { topicNames, type ConsumedBatch, type KafkaRecord, type LogSink, type OutboundMessage, type RecordResult } from '@touchstream/kafka';
import { deliverWithRetries, type DeliveryOutcome } from './delivery.ts';
import { matchesFilter, type NotifierSettings, type WebhookDestination } from './destinations.ts';

export interface AlertNotifierOptions {
  settings: NotifierSettings;
  redis: Redis | Cluster;
  log?: LogSink;
  /** Aborted on shutdown: waits end, the batch throws and is redelivered later. */
  signal?: AbortSignal;
  /** Key prefix of the delivery records (tests isolate themselves with it). */
  keyPrefix?: string;
  now?: () => number;
  random?: () => number;
  fetch?: typeof fetch;
  deadLetterTopic?: string;
}

export interface NotifierStats {
  delivered: number;
  skippedAlreadyDelivered: number;
  deadLettered: number;
}

/** The webhook body: the alert as JSON, under a type so receivers can tell future event kinds apart. */
export function webhookBody(alert: Alert): string {
  return JSON.stringify({ type: 'alert', alert: alertJson(alert) });
}

export function deliveredKey(prefix: string, destination: string, alertId: string): string {
  return `${prefix}:${destination}:${alertId}`;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(runners);
}

export function createAlertNotifier(opts: AlertNotifierOptions) {
  const { settings, redis } = opts;
  const prefix = opts.keyPrefix ?? 'ts:webhook:delivered';
  const now = opts.now ?? Date.now;
  const deadLetterTopic = opts.deadLetterTopic ?? topicNames.deadLetters;
  const stats: NotifierStats = { delivered: 0, skippedAlreadyDelivered: 0, deadLettered: 0 };

  function deadLetter(record: KafkaRecord, alert: Alert, body: string, destination: WebhookDestination, outcome: Extract<DeliveryOutcome, { kind: 'failed' }>): OutboundMessage {
    const value = codecs.deadLetter.encode({
      // Deterministic: a redelivered batch that dead-letters again writes the same id.
      dead_letter_id: `${record.topic}:${record.partition}:${record.offset}:webhook:${destination.name}`,
      source: `webhook:${destination.name}`,
      stage: 'notifier',
      payload: Buffer.from(body),
      content_type: 'application/json',
      reasons: [`webhook ${destination.name} (${destination.url}) not delivered: ${outcome.reason}`],
      received_at: now() * 1000,
      origin_topic: record.topic,
      origin_partition: record.partition,
      origin_offset: record.offset,
      request_index: null,
    });
    return { topic: deadLetterTopic, key: alert.customer_id, value, headers: { stage: 'notifier', source: `webhook:${destination.name}` } };
  }

  async function deliverTo(destination: WebhookDestination, alert: Alert, body: string, keepAlive?: () => Promise<void>): Promise<DeliveryOutcome | 'already'> {
    const key = deliveredKey(prefix, destination.name, alert.alert_id);
    if ((await redis.exists(key)) === 1) return 'already';
    const outcome = await deliverWithRetries({
      destination,
      alertId: alert.alert_id,
      body,
      timeoutMs: settings.timeoutMs,
      signal: opts.signal,
      keepAlive,
      now,
      random: opts.random,
      fetch: opts.fetch,
    });
    if (outcome.kind === 'delivered') {
      await redis.set(key, String(now()), 'PX', settings.deliveredTtlMs, 'NX');
    }
    return outcome;
  }

  async function handleBatch(batch: ConsumedBatch): Promise<RecordResult[]> {
    const results: RecordResult[] = new Array(batch.records.length);
    const alerts: Array<{ index: number; alert: Alert; body: string }> = [];
    batch.records.forEach((record, index) => {
      if (!record.value) {
        results[index] = { kind: 'dlq', reason: 'record has no value' };
        return;
      }
      try {
        const alert = codecs.alert.decode(record.value);
        alerts.push({ index, alert, body: webhookBody(alert) });
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        results[index] = { kind: 'dlq', reason: `undecodable alert: ${err.message}` };
      }
    });
    const outputs = new Map<number, OutboundMessage[]>();
    await Promise.all(settings.destinations.map(async (destination) => {
      // One customer's alerts go out in order (watch before at_risk); different customers' at the same time.
      const byCustomer = new Map<string, typeof alerts>();
      for (const a of alerts) {
        if (!matchesFilter(a.alert, destination.filter)) continue;
        const list = byCustomer.get(a.alert.customer_id);
        if (list) list.push(a);
        else byCustomer.set(a.alert.customer_id, [a]);
      }
      await forEachLimited([...byCustomer.values()], settings.concurrency, async (customerAlerts) => {
        for (const a of customerAlerts) await deliverOne(destination, a);
      });
    }));
    for (const { index } of alerts) results[index] = { kind: 'ok', outputs: outputs.get(index) ?? [] };
    return results;

    async function deliverOne(destination: WebhookDestination, { index, alert, body }: (typeof alerts)[number]): Promise<void> {
      const outcome = await deliverTo(destination, alert, body, batch.heartbeat);
      if (outcome === 'already') {
        stats.skippedAlreadyDelivered++;
      } else if (outcome.kind === 'delivered') {
        stats.delivered++;
        opts.log?.debug({ destination: destination.name, alert_id: alert.alert_id, attempts: outcome.attempts }, 'webhook delivered');
      } else {
        stats.deadLettered++;
        opts.log?.warn({ destination: destination.name, alert_id: alert.alert_id, reason: outcome.reason }, 'webhook dead-lettered');
        const list = outputs.get(index) ?? [];
        list.push(deadLetter(batch.records[index]!, alert, body, destination, outcome));
        outputs.set(index, list);
      }
    }
  }

  return { handleBatch, stats };
}

export type AlertNotifier = ReturnType<typeof createAlertNotifier>;
