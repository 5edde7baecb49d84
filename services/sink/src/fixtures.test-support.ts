// Records shaped like the contracts, and batches as the Kafka wrapper hands them over (shared by the tests).
import type { Alert, Signal, TouchpointEvent } from '@touchstream/contracts';
import { codecs } from '@touchstream/contracts';
import { touchpointEvent } from '@touchstream/contracts/fixtures';
import type { ConsumedBatch } from '@touchstream/kafka';

export const t0Micros = Date.UTC(2025, 2, 1, 10, 15, 0) * 1000 + 123_456;

export function touchpoint(over: Partial<TouchpointEvent> = {}): TouchpointEvent {
  return touchpointEvent({
    event_id: 'evt-1',
    customer_id: 'cust-1',
    occurred_at: t0Micros,
    received_at: t0Micros + 1_000,
    touchpoint: 'checkout_page',
    ...over,
  });
}

export function signal(over: Partial<Signal> = {}): Signal {
  return {
    signal_id: 'sig-1',
    customer_id: 'cust-1',
    type: 'survey_detractor',
    weight: 2,
    event_id: 'evt-1',
    occurred_at: t0Micros,
    channel: 'web',
    touchpoint: null,
    journey: null,
    stage: null,
    explanation: 'NPS 3',
    rules_version: null,
    ...over,
  };
}

export function alert(over: Partial<Alert> = {}): Alert {
  return {
    alert_id: 'alert-1',
    customer_id: 'cust-1',
    score: 4.5,
    score_before: 2,
    level: 'at_risk',
    signals: [{ signal_id: 'sig-1', type: 'survey_detractor', weight: 2, event_id: 'evt-1', explanation: 'NPS 3' }],
    triggered_by: 'evt-1',
    at: t0Micros,
    rules_version: 'r1',
    journey: null,
    channel: null,
    ...over,
  };
}

/** A batch of one topic-partition starting at `firstOffset`; values may be raw buffers or null. */
export function batchOf(topic: string, values: Array<Buffer | null>, opts: { partition?: number; firstOffset?: number } = {}): ConsumedBatch {
  const partition = opts.partition ?? 0;
  const first = opts.firstOffset ?? 0;
  const records = values.map((value, i) => ({
    topic,
    partition,
    offset: String(first + i),
    key: 'cust-1',
    value,
    headers: {},
    timestamp: '0',
  }));
  return { topic, partition, records, firstOffset: String(first), lastOffset: String(first + values.length - 1) };
}

export const encode = {
  touchpoint: (e: TouchpointEvent) => codecs.touchpoint.encode(e),
  signal: (s: Signal) => codecs.signal.encode(s),
  alert: (a: Alert) => codecs.alert.encode(a),
};
