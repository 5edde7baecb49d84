// Demo traffic: realistic omnichannel journeys, some of them going wrong, so that a fresh stack shows
// KPIs, journeys and alerts within a minute.
//  - bank: personal-data verification on web with company notifications; some fail and end on the phone,
//    some are abandoned;
//  - telecom: IVR → agent for a billing dispute, long waits, negative sentiment, repeat calls, NPS survey,
//    a written complaint after a third call;
//  - retail: checkout with payment failures, confirmation email, CSAT survey.

/** One touchpoint as posted to POST /v1/events (the HTTP shape: occurred_at as ISO-8601). */
export interface DemoEvent {
  customer_id: string;
  occurred_at: string;
  channel: string;
  touchpoint: string;
  initiator: 'customer' | 'company';
  journey?: string;
  stage?: string;
  reason?: string;
  outcome?: string;
  duration_ms?: number;
  wait_ms?: number;
  sentiment?: number;
  survey?: { kind: 'NPS' | 'CSAT' | 'CES'; score: number; comment?: string };
  /** A message without a sentiment number: the processor and the sink score it (docs/architecture.md §20). */
  text?: string;
  agent_id?: string;
  session_id?: string;
  attributes?: Record<string, string>;
}

/** What customers write in the payment-help chat: text only, scored by touchstream (each ≤ −0.6, a negative signal). */
const PAYMENT_CHAT_MESSAGES = [
  'My card keeps getting declined and nobody can tell me why. Terrible.',
  'Payment failed again, this is ridiculous.',
  'The checkout is broken, I am really frustrated.',
];

/** A step of a journey: the event and its delay after the previous step. */
export interface JourneyStep {
  afterMs: number;
  event: Omit<DemoEvent, 'customer_id' | 'occurred_at'>;
}

// The seeded generator lives in @touchstream/runtime (random.ts); re-exported for the tools that import it from here.
import { seededRng, type Rng } from '@touchstream/runtime';

export { seededRng, type Rng };

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const between = (rng: Rng, min: number, max: number) => Math.round(min + rng() * (max - min));

export function bankVerificationJourney(rng: Rng): JourneyStep[] {
  const journey = 'personal_data_verification';
  const session = `s-${Math.floor(rng() * 1e9).toString(36)}`;
  const steps: JourneyStep[] = [
    { afterMs: 0, event: { channel: 'email', touchpoint: 'verification_request_email', initiator: 'company', journey, stage: 'onboarding' } },
    { afterMs: between(rng, 500, 2000), event: { channel: 'web', touchpoint: 'verification_start_page', initiator: 'customer', journey, stage: 'onboarding', outcome: 'started', session_id: session } },
  ];
  const roll = rng();
  if (roll < 0.55) {
    steps.push(
      { afterMs: between(rng, 500, 1500), event: { channel: 'web', touchpoint: 'document_upload', initiator: 'customer', journey, stage: 'onboarding', outcome: 'completed', duration_ms: between(rng, 30_000, 180_000), session_id: session } },
      { afterMs: between(rng, 300, 900), event: { channel: 'sms', touchpoint: 'verification_confirmed_sms', initiator: 'company', journey, stage: 'onboarding', outcome: 'completed' } },
      { afterMs: between(rng, 500, 2000), event: { channel: 'email', touchpoint: 'csat_survey', initiator: 'customer', journey, stage: 'onboarding', survey: { kind: 'CSAT', score: pick(rng, [4, 5, 5, 4, 3]), comment: 'Quick and easy, thank you!' } } },
    );
  } else if (roll < 0.8) {
    // Self-service fails, the customer calls: the frustration shows in the call and the survey.
    steps.push(
      { afterMs: between(rng, 500, 1500), event: { channel: 'web', touchpoint: 'document_upload', initiator: 'customer', journey, stage: 'onboarding', outcome: 'failed', reason: 'document_rejected', session_id: session } },
      { afterMs: between(rng, 1000, 3000), event: { channel: 'phone', touchpoint: 'verification_help_call', initiator: 'customer', journey, stage: 'support', reason: 'identity_verification', outcome: 'resolved', wait_ms: between(rng, 60_000, 600_000), duration_ms: between(rng, 240_000, 900_000), sentiment: -(0.5 + rng() * 0.4), agent_id: `agent-${between(rng, 1, 40)}` } },
      { afterMs: between(rng, 500, 1500), event: { channel: 'email', touchpoint: 'nps_survey', initiator: 'customer', journey, stage: 'support', survey: { kind: 'NPS', score: pick(rng, [2, 3, 4, 5]), comment: 'Took far too long to verify my details' } } },
    );
  } else {
    steps.push(
      { afterMs: between(rng, 500, 1500), event: { channel: 'web', touchpoint: 'document_upload', initiator: 'customer', journey, stage: 'onboarding', outcome: 'abandoned', session_id: session } },
      { afterMs: between(rng, 1000, 2000), event: { channel: 'email', touchpoint: 'verification_reminder_email', initiator: 'company', journey, stage: 'onboarding' } },
    );
  }
  return steps;
}

export function telecomSupportJourney(rng: Rng): JourneyStep[] {
  const journey = 'billing_support';
  const reason = pick(rng, ['billing_dispute', 'roaming_charges', 'contract_change']);
  const steps: JourneyStep[] = [];
  const calls = rng() < 0.4 ? between(rng, 2, 3) : 1;
  for (let i = 0; i < calls; i++) {
    const unhappy = calls > 1;
    steps.push(
      { afterMs: i === 0 ? 0 : between(rng, 1500, 4000), event: { channel: 'ivr', touchpoint: 'ivr_billing_menu', initiator: 'customer', journey, stage: 'support', reason, outcome: 'transferred', duration_ms: between(rng, 40_000, 120_000) } },
      { afterMs: between(rng, 300, 1000), event: { channel: 'phone', touchpoint: 'billing_inquiry_call', initiator: 'customer', journey, stage: 'support', reason, outcome: unhappy && i < calls - 1 ? 'unresolved' : 'resolved', wait_ms: unhappy ? between(rng, 300_000, 1_200_000) : between(rng, 20_000, 120_000), duration_ms: between(rng, 180_000, 900_000), sentiment: unhappy ? -(0.5 + rng() * 0.5) : rng() * 0.8 - 0.2, agent_id: `agent-${between(rng, 1, 40)}` } },
    );
  }
  steps.push({ afterMs: between(rng, 500, 1500), event: { channel: 'sms', touchpoint: 'nps_survey', initiator: 'customer', journey, stage: 'support', reason, survey: { kind: 'NPS', score: calls > 1 ? between(rng, 0, 5) : between(rng, 6, 10) } } });
  if (calls === 3) {
    // After a third call the customer puts it in writing: a complaint signal.
    steps.push({ afterMs: between(rng, 500, 1500), event: { channel: 'email', touchpoint: 'complaint_email', initiator: 'customer', journey, stage: 'support', reason: 'formal_complaint', text: 'I am writing to complain about the poor service: charged twice and nobody answers my emails.' } });
  }
  return steps;
}

export function retailCheckoutJourney(rng: Rng): JourneyStep[] {
  const journey = 'online_checkout';
  const channel = pick(rng, ['web', 'mobile_app']);
  const session = `s-${Math.floor(rng() * 1e9).toString(36)}`;
  const steps: JourneyStep[] = [
    { afterMs: 0, event: { channel, touchpoint: 'product_page', initiator: 'customer', journey, stage: 'consideration', session_id: session } },
    { afterMs: between(rng, 300, 1200), event: { channel, touchpoint: 'cart', initiator: 'customer', journey, stage: 'purchase', session_id: session } },
    { afterMs: between(rng, 300, 1200), event: { channel, touchpoint: 'checkout_page', initiator: 'customer', journey, stage: 'purchase', outcome: 'started', session_id: session } },
  ];
  const failures = rng() < 0.3 ? between(rng, 1, 3) : 0;
  for (let i = 0; i < failures; i++) {
    steps.push({ afterMs: between(rng, 300, 1000), event: { channel, touchpoint: 'payment_failed', initiator: 'customer', journey, stage: 'purchase', outcome: 'failed', reason: 'card_declined', session_id: session } });
  }
  if (failures >= 3 || rng() < 0.1) {
    steps.push(
      { afterMs: between(rng, 300, 1000), event: { channel, touchpoint: 'checkout_page', initiator: 'customer', journey, stage: 'purchase', outcome: 'abandoned', session_id: session } },
      { afterMs: between(rng, 1000, 2500), event: { channel: 'chat', touchpoint: 'payment_help_chat', initiator: 'customer', journey, stage: 'support', reason: 'payment_problem', outcome: 'unresolved', wait_ms: between(rng, 30_000, 400_000), text: PAYMENT_CHAT_MESSAGES[Math.floor(rng() * PAYMENT_CHAT_MESSAGES.length)] } },
      { afterMs: between(rng, 500, 1500), event: { channel: 'email', touchpoint: 'csat_survey', initiator: 'customer', journey, stage: 'support', survey: { kind: 'CSAT', score: between(rng, 1, 2) } } },
    );
  } else {
    steps.push(
      { afterMs: between(rng, 300, 1000), event: { channel, touchpoint: 'order_confirmed', initiator: 'customer', journey, stage: 'purchase', outcome: 'completed', session_id: session } },
      { afterMs: between(rng, 200, 600), event: { channel: 'email', touchpoint: 'order_confirmation_email', initiator: 'company', journey, stage: 'purchase' } },
      { afterMs: between(rng, 500, 2000), event: { channel: 'email', touchpoint: 'ces_survey', initiator: 'customer', journey, stage: 'purchase', survey: { kind: 'CES', score: failures ? between(rng, 4, 6) : between(rng, 1, 3) } } },
    );
  }
  return steps;
}

export const JOURNEYS = { bank: bankVerificationJourney, telecom: telecomSupportJourney, retail: retailCheckoutJourney };

/** Profile attributes of a demo customer, as posted to POST /v1/profiles; personas/demo.yaml maps them to personas. */
export type DemoAttributes = Record<string, string | number | boolean>;

/** The CRM's view of a demo customer of each journey: what personas/demo.yaml decides on. */
export function demoProfile(kind: keyof typeof JOURNEYS, rng: Rng): DemoAttributes {
  const age = between(rng, 19, 84);
  switch (kind) {
    case 'bank':
      return { segment: 'retail_banking', age, tenure_months: between(rng, 0, 180), tier: rng() < 0.2 ? 'premier' : 'standard', preferred_channel: pick(rng, ['web', 'web', 'phone', 'branch']), paperless: rng() < 0.6 };
    case 'telecom':
      return { segment: 'telecom', age, tenure_months: between(rng, 1, 120), plan: pick(rng, ['prepaid', 'postpaid', 'postpaid', 'business']), preferred_channel: pick(rng, ['phone', 'mobile_app', 'web']) };
    case 'retail':
      return { segment: 'retail', age, loyalty_tier: pick(rng, ['none', 'none', 'silver', 'gold']), orders_last_year: between(rng, 0, 30), preferred_channel: pick(rng, ['web', 'mobile_app']) };
  }
}

export interface DemoTrafficOptions {
  /** Ingest base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  writeKey: string;
  /** New journeys started per second. */
  journeysPerSecond?: number;
  /** Stop after this many journeys (default: run until stopped). */
  maxJourneys?: number;
  seed?: number;
  onPosted?: (stats: DemoStats) => void;
  onError?: (message: string) => void;
}

export interface DemoStats {
  journeys: number;
  /** Customer profiles accepted by POST /v1/profiles (one per journey's customer). */
  profiles: number;
  posted: number;
  accepted: number;
  rejected: number;
  failedRequests: number;
}

interface Pending { dueAt: number; event: DemoEvent }

/** Runs journeys in (compressed) real time, posting due events every 250 ms as one JSON array. */
export function startDemoTraffic(opts: DemoTrafficOptions): { stop(): Promise<void>; stats: DemoStats; done: Promise<void> } {
  const rng = seededRng(opts.seed ?? Date.now());
  const stats: DemoStats = { journeys: 0, profiles: 0, posted: 0, accepted: 0, rejected: 0, failedRequests: 0 };
  const pending: Pending[] = [];
  /** Profiles of the customers started since the last post, sent before their first touchpoint. */
  let profiles: Array<{ customer_id: string; updated_at: string; attributes: DemoAttributes }> = [];
  const rate = opts.journeysPerSecond ?? 2;
  const runId = Math.floor(rng() * 36 ** 4).toString(36);
  let credit = 0;
  let stopped = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const startJourney = (now: number) => {
    const kind = pick(rng, Object.keys(JOURNEYS) as (keyof typeof JOURNEYS)[]);
    const customerId = `demo-${kind}-${runId}-${stats.journeys}`;
    profiles.push({ customer_id: customerId, updated_at: new Date(now).toISOString(), attributes: demoProfile(kind, rng) });
    let at = now;
    for (const step of JOURNEYS[kind](rng)) {
      at += step.afterMs;
      pending.push({ dueAt: at, event: { ...step.event, customer_id: customerId, occurred_at: '' } });
    }
    stats.journeys++;
  };

  const tick = async () => {
    const now = Date.now();
    credit += rate / 4;
    while (credit >= 1 && (opts.maxJourneys === undefined || stats.journeys < opts.maxJourneys)) {
      startJourney(now);
      credit -= 1;
    }
    if (profiles.length) {
      const batch = profiles;
      profiles = [];
      try {
        const res = await fetch(`${opts.url}/v1/profiles`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.writeKey}` },
          body: JSON.stringify(batch),
        });
        const body = (await res.json()) as { accepted?: number; message?: string; rejected?: unknown[] };
        stats.profiles += body.accepted ?? 0;
        if (res.status >= 300) opts.onError?.(`profile intake answered ${res.status}: ${body.message ?? JSON.stringify(body.rejected)}`);
      } catch (err) {
        stats.failedRequests++;
        profiles.push(...batch);
        opts.onError?.(`could not reach ingest: ${(err as Error).message}`);
      }
    }
    pending.sort((a, b) => a.dueAt - b.dueAt);
    const due: DemoEvent[] = [];
    while (pending.length && pending[0]!.dueAt <= now) {
      const p = pending.shift()!;
      due.push({ ...p.event, occurred_at: new Date(p.dueAt).toISOString() });
    }
    if (due.length) {
      try {
        const res = await fetch(`${opts.url}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.writeKey}` },
          body: JSON.stringify(due),
        });
        const body = (await res.json()) as { accepted?: number; rejected?: unknown[]; message?: string };
        stats.posted += due.length;
        stats.accepted += body.accepted ?? 0;
        stats.rejected += body.rejected?.length ?? 0;
        if (res.status >= 300) opts.onError?.(`ingest answered ${res.status}: ${body.message ?? JSON.stringify(body.rejected)}`);
      } catch (err) {
        stats.failedRequests++;
        // Put them back: the demo does not lose events when ingest is briefly away.
        pending.push(...due.map((e) => ({ dueAt: Date.parse(e.occurred_at), event: e })));
        opts.onError?.(`could not reach ingest: ${(err as Error).message}`);
      }
      opts.onPosted?.(stats);
    }
    const finished = opts.maxJourneys !== undefined && stats.journeys >= opts.maxJourneys && pending.length === 0 && profiles.length === 0;
    if (finished || stopped) {
      resolveDone();
      return;
    }
    timer = setTimeout(tick, 250);
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(tick, 0);

  return {
    stats,
    done,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      resolveDone();
    },
  };
}
