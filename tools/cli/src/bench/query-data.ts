// Synthetic but realistic journeys for the benchmark: many customers, each living through a few journeys (retail
// checkout, billing support, identity verification, app self-service) across channels, with waits, sentiment,
// surveys, abandonment and cancellations — and the weak signals and alerts the processor would have raised for them.
// Deterministic for a seed. Correlations are built in on purpose (repeat billing calls and detractor surveys make a
// cancellation likelier) so that drivers and attribution have something real to find.
import { seededRng, type Rng } from '../demo/demo.ts';

export const benchEpochEndMicros = Date.UTC(2026, 10, 1) * 1000; // 2026-11-01T00:00Z
export const benchSpanDays = 90;
const dayMicros = 86_400_000_000;
const minuteMicros = 60_000_000;

export interface BenchTouchpoint {
  event_id: string;
  customer_id: string;
  occurred_us: number;
  channel: string;
  touchpoint: string;
  initiator: 'customer' | 'company';
  journey: string;
  stage: string;
  reason: string;
  outcome: string;
  duration_ms: number | null;
  wait_ms: number | null;
  sentiment: number | null;
  survey_kind: string;
  survey_score: number | null;
}

export interface BenchSignal {
  signal_id: string;
  customer_id: string;
  type: string;
  weight: number;
  event_id: string;
  occurred_us: number;
  channel: string;
  touchpoint: string;
  journey: string;
}

export interface BenchAlert {
  alert_id: string;
  customer_id: string;
  score: number;
  level: string;
  at_us: number;
  triggered_by: string;
}

export interface BenchCustomer {
  touchpoints: BenchTouchpoint[];
  signals: BenchSignal[];
  alerts: BenchAlert[];
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

/** Everything one customer did, starting somewhere in the benchmark's 90 days. */
export function benchCustomer(customerIndex: number, seed: number): BenchCustomer {
  const rng = seededRng(seed * 1_000_003 + customerIndex);
  const customer_id = `bc-${customerIndex.toString(36)}`;
  const out: BenchCustomer = { touchpoints: [], signals: [], alerts: [] };
  let t = benchEpochEndMicros - Math.floor(rng() * benchSpanDays * dayMicros);
  let n = 0;
  let repeatBilling = 0;
  let detractor = false;
  const emit = (e: Partial<BenchTouchpoint> & { channel: string; touchpoint: string }, afterMinutes: number) => {
    t += Math.max(1, Math.round(afterMinutes * minuteMicros * (0.5 + rng())));
    if (t >= benchEpochEndMicros) return null;
    const tp: BenchTouchpoint = {
      event_id: `${customer_id}-${n++}`, customer_id, occurred_us: t, initiator: 'customer', journey: '', stage: '', reason: '', outcome: '',
      duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, ...e,
    };
    out.touchpoints.push(tp);
    const signal = (type: string, weight: number) =>
      out.signals.push({ signal_id: `${tp.event_id}-${type}`, customer_id, type, weight, event_id: tp.event_id, occurred_us: t, channel: tp.channel, touchpoint: tp.touchpoint, journey: tp.journey });
    if (tp.survey_kind === 'NPS' && tp.survey_score! <= 6) (detractor = true), signal('survey_detractor', 3);
    if (tp.survey_kind === 'CSAT' && tp.survey_score! <= 2) (detractor = true), signal('survey_detractor', 3);
    if (tp.sentiment !== null && tp.sentiment <= -0.5) signal('negative_sentiment', 2);
    if (tp.wait_ms !== null && tp.wait_ms > 600_000) signal('wait_over_sla', 1);
    if (tp.outcome === 'abandoned') signal('journey_abandoned', 2);
    return tp;
  };
  const journeys = 1 + Math.floor(rng() * 4);
  for (let j = 0; j < journeys && t < benchEpochEndMicros; j++) {
    const kind = rng();
    if (kind < 0.4) {
      // retail checkout
      const journey = 'retail_checkout';
      emit({ channel: pick(rng, ['social', 'email', 'sms']), touchpoint: pick(rng, ['ad_click', 'newsletter', 'promo_sms']), initiator: 'company', journey, stage: 'awareness' }, 60 * 24);
      const web = rng() < 0.6 ? 'web' : 'mobile_app';
      for (let i = 0, views = 1 + Math.floor(rng() * 4); i < views; i++) emit({ channel: web, touchpoint: 'product_page', journey, stage: 'consideration' }, 3);
      if (rng() < 0.3) continue;
      emit({ channel: web, touchpoint: 'cart_page', journey, stage: 'purchase', outcome: 'started' }, 4);
      if (rng() < 0.25) { emit({ channel: web, touchpoint: 'cart_page', journey, stage: 'purchase', outcome: 'abandoned' }, 10); continue; }
      emit({ channel: web, touchpoint: 'checkout_page', journey, stage: 'purchase' }, 3);
      if (rng() < 0.2) {
        emit({ channel: web, touchpoint: 'payment_failed', journey, stage: 'purchase', outcome: 'failed' }, 2);
        if (rng() < 0.4) {
          emit({ channel: 'chat', touchpoint: 'support_chat', journey, stage: 'support', reason: 'payment_error', wait_ms: Math.round(rng() * 900_000), duration_ms: Math.round(rng() * 600_000), sentiment: rng() * 2 - 1.2 }, 5);
        }
        if (rng() < 0.5) { emit({ channel: web, touchpoint: 'checkout_page', journey, stage: 'purchase', outcome: 'abandoned' }, 5); continue; }
        emit({ channel: web, touchpoint: 'checkout_page', journey, stage: 'purchase' }, 5);
      }
      emit({ channel: web, touchpoint: 'order_placed', journey, stage: 'purchase', outcome: 'completed' }, 2);
      emit({ channel: 'email', touchpoint: 'order_confirmation_email', initiator: 'company', journey, stage: 'purchase' }, 1);
      if (rng() < 0.3) emit({ channel: 'email', touchpoint: 'csat_survey', journey, stage: 'advocacy', survey_kind: 'CSAT', survey_score: 1 + Math.floor(rng() * 5) }, 60 * 24);
      if (rng() < 0.15) emit({ channel: 'store', touchpoint: 'store_pickup', journey, stage: 'service' }, 60 * 30);
    } else if (kind < 0.7) {
      // billing support (telecom)
      const journey = 'billing_support';
      emit({ channel: 'email', touchpoint: 'invoice_email', initiator: 'company', journey, stage: 'service' }, 60 * 24 * 3);
      if (rng() < 0.5) emit({ channel: pick(rng, ['web', 'mobile_app']), touchpoint: 'invoice_page', journey, stage: 'service' }, 60 * 6);
      const calls = rng() < 0.55 ? 1 : rng() < 0.6 ? 2 : 3;
      const reason = pick(rng, ['billing_dispute', 'billing_dispute', 'plan_change', 'roaming_charge']);
      let resolved = false;
      for (let c = 0; c < calls && !resolved; c++) {
        emit({ channel: 'ivr', touchpoint: 'ivr_menu', journey, stage: 'support', reason, duration_ms: 60_000 + Math.round(rng() * 120_000) }, c === 0 ? 60 * 12 : 60 * 24 * 2);
        if (rng() < 0.15) { emit({ channel: 'ivr', touchpoint: 'ivr_menu', journey, stage: 'support', reason, outcome: 'abandoned' }, 2); continue; }
        const wait = Math.round(rng() * rng() * 1_500_000);
        resolved = rng() < 0.55;
        const call = emit({ channel: 'phone', touchpoint: 'billing_inquiry_call', journey, stage: 'support', reason, wait_ms: wait, duration_ms: 120_000 + Math.round(rng() * 900_000),
          sentiment: Math.max(-1, Math.min(1, (resolved ? 0.3 : -0.4) + (rng() - 0.5) - wait / 3_000_000)), outcome: resolved ? 'resolved' : rng() < 0.3 ? 'escalated' : 'unresolved' }, 3);
        if (c > 0 && reason === 'billing_dispute' && call) {
          repeatBilling++;
          out.signals.push({ signal_id: `${call.event_id}-repeat_contact`, customer_id, type: 'repeat_contact', weight: 3, event_id: call.event_id, occurred_us: call.occurred_us, channel: 'phone', touchpoint: 'billing_inquiry_call', journey });
        }
      }
      if (rng() < 0.5) {
        const base = resolved ? 8 : 4;
        emit({ channel: 'email', touchpoint: 'nps_survey', journey, stage: 'advocacy', survey_kind: 'NPS', survey_score: Math.max(0, Math.min(10, base + Math.round((rng() - 0.5) * 6))) }, 60 * 24);
      }
      const cancel = 0.02 + (resolved ? 0 : 0.08) + repeatBilling * 0.1 + (detractor ? 0.1 : 0);
      if (rng() < cancel) emit({ channel: pick(rng, ['phone', 'web', 'branch']), touchpoint: 'contract_cancelled', journey, stage: 'churn', reason: 'cancellation', outcome: 'completed' }, 60 * 24 * 5);
    } else if (kind < 0.85) {
      // identity verification (bank)
      const journey = 'personal_data_verification';
      emit({ channel: 'email', touchpoint: 'verification_request_email', initiator: 'company', journey, stage: 'onboarding' }, 60 * 24);
      const ch = rng() < 0.5 ? 'web' : 'mobile_app';
      emit({ channel: ch, touchpoint: 'verification_start_page', journey, stage: 'onboarding', outcome: 'started' }, 60 * 3);
      emit({ channel: ch, touchpoint: 'document_upload', journey, stage: 'onboarding' }, 5);
      const r = rng();
      if (r < 0.6) emit({ channel: 'back_office', touchpoint: 'verification_completed', initiator: 'company', journey, stage: 'onboarding', outcome: 'completed' }, 60 * 8);
      else if (r < 0.85) {
        emit({ channel: ch, touchpoint: 'verification_failed', journey, stage: 'onboarding', outcome: 'failed' }, 30);
        emit({ channel: pick(rng, ['phone', 'chat', 'branch']), touchpoint: 'verification_help', journey, stage: 'support', reason: 'document_rejected', wait_ms: Math.round(rng() * 1_200_000), sentiment: rng() - 0.8 }, 60 * 4);
        if (rng() < 0.7) emit({ channel: 'back_office', touchpoint: 'verification_completed', initiator: 'company', journey, stage: 'onboarding', outcome: 'completed' }, 60 * 24);
      } else emit({ channel: ch, touchpoint: 'verification_start_page', journey, stage: 'onboarding', outcome: 'abandoned' }, 60 * 24 * 2);
    } else {
      // app self-service
      const journey = 'self_service';
      for (let i = 0, k = 1 + Math.floor(rng() * 6); i < k; i++) {
        emit({ channel: 'mobile_app', touchpoint: pick(rng, ['app_login', 'account_page', 'usage_page', 'faq_page', 'plan_page']), journey, stage: 'service' }, i === 0 ? 60 * 24 * 2 : 2);
      }
      if (rng() < 0.2) emit({ channel: 'chat', touchpoint: 'support_chat', journey, stage: 'support', reason: pick(rng, ['password_reset', 'plan_change']), wait_ms: Math.round(rng() * 600_000), sentiment: rng() * 2 - 1 }, 5);
    }
  }
  // An alert where the processor would have crossed "at_risk": three or more signals in the customer's history.
  if (out.signals.length >= 3) {
    const s = out.signals[2]!;
    out.alerts.push({ alert_id: `${customer_id}-alert`, customer_id, score: 6, level: 'at_risk', at_us: s.occurred_us, triggered_by: s.event_id });
  }
  return out;
}
