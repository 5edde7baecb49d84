// The churn model's features, defined once (docs/architecture.md §22). A customer's journey state — what the
// processor keeps in the Redis hash ts:{c}:state (§4.2) — is reduced to a ChurnState, and churnFeatures turns that
// into the model's input vector. Live scoring builds the ChurnState from the hash (churnStateFromHash); training
// builds it by replaying the stored history up to the scoring point (history.ts). Both then call churnFeatures, so
// the model sees the same numbers in training and in production: features.test.ts proves the two agree on a
// hand-worked customer.
import { signalTypes, type SignalType } from '@touchstream/contracts';

/** A customer's journey state as of their latest touchpoint: the inputs of churnFeatures. Times are event µs. */
export interface ChurnState {
  /** Touchpoints processed (`events`). */
  events: number;
  /** Signals raised, all types (`signals`). */
  signals: number;
  /** Signals raised per type (`signals:<type>`; counted since this field exists, see §22). */
  signalsByType: Partial<Record<SignalType, number>>;
  firstOccurredAt: number;
  lastOccurredAt: number;
  /** The weak-signal score as of `scoreAt` (§4.5). */
  score: number;
  /** The last sentiments by event time, oldest first (`sentiments`, kept for sentiment_decline). */
  sentiments: number[];
}

const DAY_US = 86_400_000_000;

/** Feature names, in the order of the vector; stored with the model so a model and the code can be checked. */
export const churnFeatureNames = [
  'events',
  'tenure_days',
  'contacts_per_week',
  'score',
  'signals_per_event',
  ...signalTypes.map((t) => `signals_${t}`),
  'sentiment_last',
  'sentiment_mean',
  'sentiment_trend',
] as const;

/** The model's input vector for one customer. Pure: the same state gives the same numbers. */
export function churnFeatures(s: ChurnState): number[] {
  const tenureDays = Math.max(0, (s.lastOccurredAt - s.firstOccurredAt) / DAY_US);
  // A customer seen once has no tenure: contact intensity counts over at least a day.
  const contactsPerWeek = (s.events / Math.max(tenureDays, 1)) * 7;
  const n = s.sentiments.length;
  const last = n ? s.sentiments[n - 1]! : 0;
  const mean = n ? s.sentiments.reduce((a, b) => a + b, 0) / n : 0;
  const trend = n >= 2 ? s.sentiments[n - 1]! - s.sentiments[0]! : 0;
  return [
    s.events,
    tenureDays,
    contactsPerWeek,
    s.score,
    s.events > 0 ? s.signals / s.events : 0,
    ...signalTypes.map((t) => s.signalsByType[t] ?? 0),
    last,
    mean,
    trend,
  ];
}

/** The prefix of the per-type signal counters in the state hash (written by customer-common.lua). */
export const signalCountField = (type: string) => `signals:${type}`;

/**
 * The state-hash fields live scoring reads (the apply script returns them with its reply, so scoring costs no
 * extra round trip) — the ChurnState inputs, then the churn fields this feature writes back (§22).
 */
export const churnStateFields = [
  'events',
  'signals',
  'first_occurred_at',
  'last_occurred_at',
  'score',
  'sentiments',
  ...signalTypes.map(signalCountField),
  'last_event_id',
  'last_channel',
  'churn_score',
  'churn_band',
  'churn_alert_event',
] as const;

/** The churn fields of the state hash: the last live score and its band. */
export interface ChurnMemory {
  score: number | null;
  band: string | null;
}

const signalCountFields = signalTypes.map((t) => [t, signalCountField(t)] as const);

/** A ChurnState from the state hash (values as Redis returns them: strings, or null/false for missing fields). */
export function churnStateFromHash(hash: Readonly<Record<string, string | null | false | undefined>>): ChurnState {
  const num = (field: string) => {
    const v = hash[field];
    const x = typeof v === 'string' ? Number(v) : NaN;
    return Number.isFinite(x) ? x : 0;
  };
  const signalsByType: Partial<Record<SignalType, number>> = {};
  for (const [t, field] of signalCountFields) {
    const c = num(field);
    if (c) signalsByType[t] = c;
  }
  let sentiments: number[] = [];
  const raw = hash.sentiments;
  if (typeof raw === 'string' && raw !== '') {
    // [[t, sentiment], …] with both as %.17g strings (apply-touchpoints.lua); ordered by event time.
    sentiments = (JSON.parse(raw) as Array<[string, string]>).map((p) => Number(p[1]));
  }
  return {
    events: num('events'),
    signals: num('signals'),
    signalsByType,
    firstOccurredAt: num('first_occurred_at'),
    lastOccurredAt: num('last_occurred_at'),
    score: num('score'),
    sentiments,
  };
}

/** The hash as an object from HMGET's reply to churnStateFields (same order). */
export function hashFromFieldValues(values: ReadonlyArray<string | null | false>): Record<string, string | null | false> {
  const out: Record<string, string | null | false> = {};
  churnStateFields.forEach((f, i) => (out[f] = values[i] ?? null));
  return out;
}

/** The churn memory (last score and band) from the same hash. */
export function churnMemoryFromHash(hash: Readonly<Record<string, string | null | false | undefined>>): ChurnMemory {
  const score = typeof hash.churn_score === 'string' ? Number(hash.churn_score) : NaN;
  return { score: Number.isFinite(score) ? score : null, band: typeof hash.churn_band === 'string' && hash.churn_band ? hash.churn_band : null };
}
