// Training's side of the one feature definition: a customer's stored history (ClickHouse touchpoints and
// signals) replayed into the ChurnState the processor would have had in Redis right after each touchpoint
// (docs/architecture.md §22). It follows the state script's rules: counters per touchpoint and per signal, the
// score decayed and increased at every touchpoint and every fired journey timer (§4.5), the last `count`
// sentiments by event time.
import type { SignalType } from '@touchstream/contracts';
import type { ChurnState } from './features.ts';

export interface HistoryTouchpoint {
  event_id: string;
  /** Event time, µs. */
  occurred_at: number;
  /** The stored sentiment (given or derived from text), null when none. */
  sentiment: number | null;
}

export interface HistorySignal {
  type: string;
  weight: number;
  /** The touchpoint that raised it; for journey_not_completed the journey's `started` touchpoint. */
  event_id: string;
  /** Event time, µs (a fired timer's: its due time). */
  occurred_at: number;
}

export interface ReplayOptions {
  /** The score half-life in force (rules `score.half_life`), ms. */
  halfLifeMs: number;
  /** How many sentiments the state keeps (rules `signals.sentiment_decline.count`). */
  sentimentCount: number;
}

const TIMER_SIGNAL = 'journey_not_completed';

/**
 * The ChurnState after each of one customer's touchpoints, in the order given (the processing order: by event
 * time). Signals of the touchpoints count with them; fired journey timers count at their due time, before a
 * touchpoint of the same time.
 */
export function replayChurnStates(touchpoints: readonly HistoryTouchpoint[], signals: readonly HistorySignal[], opts: ReplayOptions): ChurnState[] {
  const halfLifeUs = opts.halfLifeMs * 1000;
  const byEvent = new Map<string, HistorySignal[]>();
  const timers: HistorySignal[] = [];
  for (const s of signals) {
    if (s.type === TIMER_SIGNAL) timers.push(s);
    else {
      const list = byEvent.get(s.event_id);
      if (list) list.push(s);
      else byEvent.set(s.event_id, [s]);
    }
  }
  timers.sort((a, b) => a.occurred_at - b.occurred_at);

  let events = 0;
  let signalCount = 0;
  const byType: Partial<Record<SignalType, number>> = {};
  let first = Infinity;
  let last = -Infinity;
  let score = 0;
  let scoreAt: number | null = null;
  const sentiments: Array<[number, number]> = [];

  // The score update of customer-common.lua's score_signals, for one decision at event time t.
  const addToScore = (t: number, raised: readonly HistorySignal[]) => {
    let weight = 0;
    for (const s of raised) weight += s.weight;
    const ref = scoreAt !== null && scoreAt > t ? scoreAt : t;
    let before = score;
    if (scoreAt !== null && ref > scoreAt) before = score * 2 ** (-(ref - scoreAt) / halfLifeUs);
    let after = before;
    if (weight > 0) after = ref > t ? before + weight * 2 ** (-(ref - t) / halfLifeUs) : before + weight;
    score = after;
    scoreAt = ref;
    signalCount += raised.length;
    for (const s of raised) byType[s.type as SignalType] = (byType[s.type as SignalType] ?? 0) + 1;
  };

  const states: ChurnState[] = [];
  let nextTimer = 0;
  for (const tp of touchpoints) {
    while (nextTimer < timers.length && timers[nextTimer]!.occurred_at <= tp.occurred_at) {
      addToScore(timers[nextTimer]!.occurred_at, [timers[nextTimer]!]);
      nextTimer++;
    }
    const t = tp.occurred_at;
    addToScore(t, byEvent.get(tp.event_id) ?? []);
    if (tp.sentiment !== null && opts.sentimentCount > 0) {
      // Inserted by event time (a late event goes before newer ones), then only the newest `count` kept.
      let pos = sentiments.length;
      while (pos > 0 && sentiments[pos - 1]![0] > t) pos--;
      sentiments.splice(pos, 0, [t, tp.sentiment]);
      while (sentiments.length > opts.sentimentCount) sentiments.shift();
    }
    events++;
    if (t < first) first = t;
    if (t >= last) last = t;
    states.push({
      events,
      signals: signalCount,
      signalsByType: { ...byType },
      firstOccurredAt: first,
      lastOccurredAt: last,
      score,
      sentiments: sentiments.map((p) => p[1]),
    });
  }
  return states;
}
