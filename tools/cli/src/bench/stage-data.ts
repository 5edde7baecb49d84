// The touchpoints (and the signals a processor would raise for them) that `bench sink|processor` pre-fills its topics
// with: the journeys of bench-data.ts (retail checkout, billing support with repeat calls, identity verification, app
// self-service; surveys, sentiment, waits, reasons, outcomes), spread over exactly `customers` customers with
// `events / customers` touchpoints each, moved into the last 28 days (inside the processor's 30-day backfill horizon, so
// its alerts are raised as on live traffic) and ordered by event time across customers, as a live stream would be.
// Deterministic for a seed and a clock.
import type { Signal, TouchpointEvent } from '@touchstream/contracts';
import { benchCustomer, benchEpochEndMicros, benchSpanDays, type BenchTouchpoint } from './query-data.ts';

/** The bench-data timeline (90 days) is compressed into this many days before now. */
export const stageSpanDays = 28;

export interface StageDataset {
  /** In event-time order (ties: customer, then the customer's order). */
  touchpoints: TouchpointEvent[];
  /** The signals bench-data raises for the kept touchpoints, in event-time order. */
  signals: Signal[];
  /** Customers that have at least one touchpoint. */
  customers: number;
}

const assisted = new Set(['phone', 'chat', 'store', 'branch', 'back_office']);
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export function stageDataset(opts: { events: number; customers: number; seed: number; nowMicros: number }): StageDataset {
  const { events, seed } = opts;
  const customers = Math.max(1, Math.min(opts.customers, events));
  // Event time: the bench-data span [end − 90 d, end) maps linearly onto [now − 28 d − 1 min, now − 1 min).
  const end = opts.nowMicros - 60_000_000;
  const factor = stageSpanDays / benchSpanDays;
  const timeOf = (us: number) => Math.round(end - (benchEpochEndMicros - us) * factor);

  type Kept = { tp: BenchTouchpoint; customer: number; seq: number; time: number };
  const kept: Kept[] = [];
  const signals: Array<{ signal: Signal; customer: number; seq: number }> = [];
  const base = Math.floor(events / customers);
  const extra = events - base * customers;
  for (let c = 0; c < customers; c++) {
    const quota = base + (c < extra ? 1 : 0);
    // Journeys of further bench customers are added until the quota is met, then the customer's touchpoints are
    // ordered by time and the quota's first kept (a journey may end mid-way, as it would at any cut of a stream).
    const mine: BenchTouchpoint[] = [];
    const mySignals: Array<{ signal_id: string; type: string; weight: number; event_id: string }> = [];
    for (let round = 0; mine.length < quota; round++) {
      const generated = benchCustomer(round * customers + c, seed);
      mine.push(...generated.touchpoints);
      mySignals.push(...generated.signals);
    }
    mine.sort((a, b) => a.occurred_us - b.occurred_us);
    const customer_id = `bc-${c.toString(36)}`;
    const keptIds = new Map<string, Kept>();
    for (let i = 0; i < quota; i++) {
      const k = { tp: { ...mine[i]!, customer_id }, customer: c, seq: i, time: timeOf(mine[i]!.occurred_us) };
      kept.push(k);
      keptIds.set(k.tp.event_id, k);
    }
    for (const s of mySignals) {
      const k = keptIds.get(s.event_id);
      if (!k) continue;
      signals.push({
        customer: c,
        seq: k.seq,
        signal: {
          signal_id: s.signal_id, customer_id, type: s.type, weight: s.weight, event_id: s.event_id, occurred_at: k.time,
          channel: k.tp.channel, touchpoint: k.tp.touchpoint, journey: k.tp.journey || null, stage: k.tp.stage || null,
          explanation: `${s.type} (bench)`, rules_version: 'bench',
        },
      });
    }
  }
  kept.sort((a, b) => a.time - b.time || a.customer - b.customer || a.seq - b.seq);
  signals.sort((a, b) => a.signal.occurred_at - b.signal.occurred_at || a.customer - b.customer || a.seq - b.seq);

  const touchpoints = kept.map(({ tp, time }, i): TouchpointEvent => ({
    event_id: tp.event_id,
    customer_id: tp.customer_id,
    occurred_at: time,
    received_at: time + 150_000 + (i % 7) * 40_000,
    channel: tp.channel,
    touchpoint: tp.touchpoint,
    initiator: tp.initiator,
    journey: tp.journey || null,
    stage: tp.stage || null,
    reason: tp.reason || null,
    outcome: (tp.outcome || null) as TouchpointEvent['outcome'],
    duration_ms: tp.duration_ms,
    wait_ms: tp.wait_ms,
    sentiment: tp.sentiment === null ? null : clamp(Math.round(tp.sentiment * 100) / 100, -1, 1),
    survey: tp.survey_kind ? { kind: tp.survey_kind as 'NPS' | 'CSAT' | 'CES', score: tp.survey_score ?? 0, comment: null } : null,
    agent_id: assisted.has(tp.channel) && tp.initiator === 'customer' ? `agent-${(i * 7919) % 60}` : null,
    session_id: tp.channel === 'web' || tp.channel === 'mobile_app' ? `s-${tp.customer_id}-${tp.journey}` : null,
    attributes: tp.initiator === 'company' ? { campaign: `${tp.journey}-${tp.touchpoint}` } : {},
    text: null,
  }));
  return { touchpoints, signals: signals.map((s) => s.signal), customers };
}
