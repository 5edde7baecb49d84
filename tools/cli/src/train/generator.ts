// Generated customer histories for the churn model (docs/architecture.md §22): months of omnichannel contacts per
// customer, where churn (a `cancellation` contact) depends on the journey in ways the weak-signal rules do not
// encode — interactions, trends and combinations, not "a signal fired":
//   * a falling mood matters only for customers who contact often (trend × intensity);
//   * payment errors drive away new customers, not long-standing ones (errors × tenure);
//   * a detractor survey matters only together with frequent contacts (survey × intensity);
//   * loyal complainers — long tenure, escalations and angry calls that raise the weak-signal score — rarely leave.
// Deterministic for a seed.
import { randomUUID } from 'node:crypto';
import { touchpointEvent } from '@touchstream/contracts/fixtures';
import type { TouchpointEvent } from '@touchstream/contracts';

import { seededRng, type Rng } from '@touchstream/runtime';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface ChurnHistoryOptions {
  customers: number;
  /** Days of history; customers join over the first part of it. */
  days: number;
  seed: number;
  /** The history ends here (ms); default: now, rounded down to the hour. */
  endMs?: number;
  /** Customer ids start with this (unique per run). */
  prefix?: string;
}

export interface GeneratedHistory {
  /** Every touchpoint, ordered by event time. */
  events: TouchpointEvent[];
  customers: number;
  churned: number;
  startMs: number;
  endMs: number;
}

type Archetype = 'steady' | 'declining' | 'error_prone' | 'loyal_complainer' | 'detractor';

const archetypes: Array<[Archetype, number]> = [
  ['steady', 0.4],
  ['declining', 0.2],
  ['error_prone', 0.15],
  ['loyal_complainer', 0.1],
  ['detractor', 0.15],
];

function pickArchetype(r: number): Archetype {
  let acc = 0;
  for (const [a, w] of archetypes) {
    acc += w;
    if (r < acc) return a;
  }
  return 'steady';
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export function generateChurnHistory(opts: ChurnHistoryOptions): GeneratedHistory {
  const random = seededRng(opts.seed);
  const endMs = opts.endMs ?? Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const startMs = endMs - opts.days * DAY_MS;
  const prefix = opts.prefix ?? `churn-${randomUUID().slice(0, 8)}`;
  const events: TouchpointEvent[] = [];
  let churned = 0;
  let seq = 0;

  for (let c = 0; c < opts.customers; c++) {
    const customer = `${prefix}-${String(c).padStart(5, '0')}`;
    const kind = pickArchetype(random());
    // Tenure before the history starts: some are long-standing (> 1 year), some arrive during it.
    const joinedMs = random() < 0.5 ? startMs - (200 + random() * 600) * DAY_MS : startMs + random() * opts.days * 0.6 * DAY_MS;
    const intensity = random() < 0.5 ? 0.6 + random() * 1.2 : 2.5 + random() * 3.5; // contacts per week
    const frequent = intensity > 2;
    const mood0 = kind === 'declining' ? 0.3 + random() * 0.5 : -0.1 + random() * 0.8;
    const moodSlope = kind === 'declining' ? -(0.12 + random() * 0.1) : 0;
    let t = Math.max(startMs, joinedMs) + random() * 3 * DAY_MS;
    const sentiments: number[] = [];
    const errorTimes: number[] = [];
    let lastNps: number | null = null;
    let contacts = 0;
    let churnAt: number | null = null;

    const emit = (fields: Partial<TouchpointEvent> & { touchpoint: string }, at: number) => {
      const micros = Math.round(at) * 1000;
      events.push(touchpointEvent({
        event_id: `${customer}-${seq++}`,
        customer_id: customer,
        occurred_at: micros,
        received_at: micros,
        ...fields,
      }));
    };

    while (t < endMs) {
      contacts++;
      const mood = clamp(mood0 + moodSlope * contacts + (random() - 0.5) * 0.2, -1, 1);
      const roll = random();
      if (kind === 'error_prone' && roll < 0.35) {
        // A burst of payment errors within an hour (repeated_error fires on the second).
        const n = 2 + Math.floor(random() * 2);
        for (let k = 0; k < n; k++) {
          emit({ channel: 'web', touchpoint: 'payment_failed', journey: 'payment', outcome: 'failed' }, t + k * 10 * 60_000);
          errorTimes.push(t + k * 10 * 60_000);
        }
      } else if (kind === 'loyal_complainer' && roll < 0.5) {
        // Angry, escalated calls: the weak-signal score climbs, but these customers stay.
        emit({ channel: 'phone', touchpoint: 'complaint_call', initiator: 'customer', reason: 'complaint', outcome: 'escalated', wait_ms: 60_000 + Math.floor(random() * 300_000), sentiment: clamp(-0.6 - random() * 0.3, -1, 1) }, t);
      } else if (roll < 0.55) {
        const s = Math.round(mood * 100) / 100;
        sentiments.push(s);
        emit({ channel: random() < 0.5 ? 'phone' : 'chat', touchpoint: 'support_contact', initiator: 'customer', reason: 'billing_question', outcome: random() < 0.8 ? 'resolved' : 'unresolved', wait_ms: Math.floor(random() * 150_000), sentiment: s }, t);
      } else if (roll < 0.65) {
        const score = kind === 'detractor' ? Math.floor(random() * 6) : 6 + Math.floor(random() * 5);
        lastNps = score;
        emit({ channel: 'email', touchpoint: 'nps_survey', initiator: 'customer', survey: { kind: 'NPS', score, comment: null } }, t);
      } else {
        emit({ channel: 'web', touchpoint: 'account_overview', journey: 'self_service', outcome: 'completed' }, t);
      }

      // Churn: evaluated after each contact, from what the journey looks like now.
      const tenureDays = (t - joinedMs) / DAY_MS;
      const recent = sentiments.slice(-3);
      const trend = recent.length === 3 ? recent[2]! - recent[0]! : 0;
      const recentErrors = errorTimes.filter((e) => t - e <= 14 * DAY_MS).length;
      let p = 0.004;
      if (trend < -0.25 && frequent) p += 0.12; // falling mood × many contacts
      if (recentErrors >= 2 && tenureDays < 60) p += 0.15; // errors × new customer
      if (lastNps !== null && lastNps <= 6 && frequent) p += 0.06; // detractor × many contacts
      if (kind === 'loyal_complainer') p *= 0.3;
      if (random() < p) {
        churnAt = t + (1 + random() * 20) * DAY_MS;
        break;
      }
      t += (-Math.log(1 - random()) / intensity) * 7 * DAY_MS;
    }
    if (churnAt !== null && churnAt < endMs) {
      churned++;
      emit({ channel: 'phone', touchpoint: 'contract_cancellation', initiator: 'customer', reason: 'cancellation', outcome: 'completed' }, churnAt);
    }
  }
  events.sort((a, b) => a.occurred_at - b.occurred_at || (a.event_id < b.event_id ? -1 : 1));
  return { events, customers: opts.customers, churned, startMs, endMs };
}
