// The processor against a real redis-server (a private child process): state, score, signals, alerts,
// idempotence. No Kafka: batches are built from Avro-encoded records, as the consumer wrapper hands them.
import { describe, expect, it } from 'vitest';
import { codecs, type TouchpointEvent } from '@touchstream/contracts';
import type { ConsumedBatch, RecordResult } from '@touchstream/kafka';
import { customerSeenIndexKey, customerSeenKey, customerStateKey, customerTimelineKey } from '@touchstream/contracts';
import { createTouchpointProcessor, type TouchpointProcessorOptions } from './processor.ts';
import { alertIdFor, signalIdFor } from './signals.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, useTestRedis, touchpoint, uniqueCustomer } from '@touchstream/testkit';

const redis = useTestRedis();

/** Processing time of every test: event times are placed relative to it. */
const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);
const HALF_LIFE_MS = 72 * HOUR_MS;

function processor(options: Omit<Partial<TouchpointProcessorOptions>, 'redis'> = {}) {
  return createTouchpointProcessor({ redis: redis.client, now: () => NOW_MS, ...options });
}

function batchOf(events: Array<TouchpointEvent | Buffer>): ConsumedBatch {
  const records = events.map((e, i) => ({
    topic: 'touchpoints.v1',
    partition: 0,
    offset: String(100 + i),
    key: Buffer.isBuffer(e) ? 'garbage' : e.customer_id,
    value: Buffer.isBuffer(e) ? e : codecs.touchpoint.encode(e),
    headers: {},
    timestamp: String(NOW_MS),
  }));
  return { topic: 'touchpoints.v1', partition: 0, records, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset };
}

const iso = (micros: number) => new Date(micros / 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const decay = (elapsedMs: number, halfLifeMs = HALF_LIFE_MS) => Math.pow(2, -elapsedMs / halfLifeMs);

describe('state', () => {
  it('updates counters, last touchpoint, timeline and the decayed score as computed by hand', async () => {
    const c = uniqueCustomer('state');
    const t0 = NOW_MS - 10 * DAY_MS;
    const browse = touchpoint(c, t0, { channel: 'web', touchpoint: 'invoice_page' });
    const survey = touchpoint(c, t0 + DAY_MS, {
      channel: 'email', touchpoint: 'nps_survey', initiator: 'company', survey: { kind: 'NPS', score: 3, comment: null },
    });
    const call = touchpoint(c, t0 + 8 * DAY_MS, {
      channel: 'phone', touchpoint: 'billing_inquiry_call', reason: 'billing_dispute', outcome: 'unresolved', sentiment: -0.8,
    });
    // Arrives last but happened a week before the score time: its weight is added decayed to score_at.
    const lateChat = touchpoint(c, t0 + DAY_MS, { channel: 'chat', touchpoint: 'support_chat', sentiment: -0.9 });

    const outcomes = await processor({ scoring: { halfLifeMs: 7 * DAY_MS } }).processTouchpoints([browse, survey, call, lateChat]);
    expect(outcomes.map((o) => o.signals.map((s) => s.type))).toEqual([[], ['survey_detractor'], ['negative_sentiment'], ['negative_sentiment']]);
    expect(outcomes.every((o) => !o.duplicate)).toBe(true);

    // Half-life one week: 3 at t0+1d; a week later 1.5 (+2 = 3.5); the late chat's 2 decayed by that same week adds 1.
    const expectedScore = 3 * decay(7 * DAY_MS, 7 * DAY_MS) + 2 + 2 * decay(7 * DAY_MS, 7 * DAY_MS);
    const state = await redis.client.hgetall(customerStateKey(c));
    expect(Number(state.score)).toBeCloseTo(4.5, 12);
    expect(Number(state.score)).toBeCloseTo(expectedScore, 12);
    expect(state).toMatchObject({
      events: '4',
      signals: '3',
      first_occurred_at: String(browse.occurred_at),
      last_occurred_at: String(call.occurred_at),
      last_channel: 'phone',
      last_touchpoint: 'billing_inquiry_call',
      last_event_id: call.event_id,
      score_at: String(call.occurred_at),
      level: 'watch',
    });

    const timeline = await redis.client.zrange(customerTimelineKey(c), 0, -1, 'WITHSCORES');
    expect(timeline).toEqual([
      JSON.stringify({ event_id: browse.event_id, channel: 'web', touchpoint: 'invoice_page', outcome: null, reason: null }),
      String(browse.occurred_at),
      // Same occurred_at: Redis orders equal scores by member.
      ...[survey, lateChat]
        .map((e) => JSON.stringify({ event_id: e.event_id, channel: e.channel, touchpoint: e.touchpoint, outcome: null, reason: null }))
        .sort()
        .flatMap((m) => [m, String(survey.occurred_at)]),
      JSON.stringify({ event_id: call.event_id, channel: 'phone', touchpoint: 'billing_inquiry_call', outcome: 'unresolved', reason: 'billing_dispute' }),
      String(call.occurred_at),
    ]);
    expect(await redis.client.hlen(customerSeenKey(c))).toBe(4);
    expect(await redis.client.pttl(customerSeenKey(c))).toBeGreaterThan(34 * DAY_MS);
  });

  it('signals carry the event context and deterministic ids', async () => {
    const c = uniqueCustomer('context');
    const e = touchpoint(c, NOW_MS - HOUR_MS, {
      channel: 'ivr', touchpoint: 'ivr_menu', journey: 'card_replacement', stage: 'support', sentiment: -0.6,
    });
    const [outcome] = await processor({ scoring: { rulesVersion: 'r1' } }).processTouchpoints([e]);
    expect(outcome!.signals).toEqual([{
      signal_id: signalIdFor(e.event_id, 'negative_sentiment'),
      customer_id: c,
      type: 'negative_sentiment',
      weight: 2,
      event_id: e.event_id,
      occurred_at: e.occurred_at,
      channel: 'ivr',
      touchpoint: 'ivr_menu',
      journey: 'card_replacement',
      stage: 'support',
      explanation: 'sentiment -0.6 ≤ -0.5: negative',
      rules_version: 'r1',
    }]);
  });

  it('caps the timeline to the newest touchpoints', async () => {
    const c = uniqueCustomer('cap');
    const events = Array.from({ length: 5 }, (_, i) => touchpoint(c, NOW_MS - DAY_MS + i * MINUTE_MS));
    await processor({ scoring: { timelineCap: 3 } }).processTouchpoints(events);
    const kept = (await redis.client.zrange(customerTimelineKey(c), 0, -1)).map((m) => JSON.parse(m).event_id);
    expect(kept).toEqual(events.slice(2).map((e) => e.event_id));
    expect(await redis.client.hget(customerStateKey(c), 'events')).toBe('5');
  });

  it('forgets dedup entries once they are older than the TTL, without waiting for the key to expire', async () => {
    const c = uniqueCustomer('ttl');
    const first = touchpoint(c, NOW_MS - HOUR_MS);
    await processor({ scoring: { seenTtlMs: DAY_MS } }).processTouchpoints([first]);
    const second = touchpoint(c, NOW_MS + DAY_MS);
    await processor({ scoring: { seenTtlMs: DAY_MS }, now: () => NOW_MS + DAY_MS + 1 }).processTouchpoints([second]);
    expect(await redis.client.hkeys(customerSeenKey(c))).toEqual([second.event_id]);
    expect(await redis.client.zrange(customerSeenIndexKey(c), 0, -1)).toEqual([second.event_id]);
  });
});

describe('idempotence', () => {
  it('a redelivered batch changes no counter and returns byte-identical outputs', async () => {
    const c1 = uniqueCustomer('redeliver-a');
    const c2 = uniqueCustomer('redeliver-b');
    const t = NOW_MS - 2 * DAY_MS;
    const batch = batchOf([
      touchpoint(c1, t, { reason: 'billing_dispute', sentiment: -0.7 }),
      touchpoint(c2, t, { survey: { kind: 'CSAT', score: 1, comment: null } }),
      Buffer.from('not avro'),
      touchpoint(c1, t + HOUR_MS, { reason: 'billing_dispute', survey: { kind: 'NPS', score: 2, comment: null } }),
      touchpoint(c2, t + HOUR_MS, { channel: 'store' }),
    ]);
    const snapshot = async () => ({
      state: [await redis.client.hgetall(customerStateKey(c1)), await redis.client.hgetall(customerStateKey(c2))],
      timeline: [await redis.client.zrange(customerTimelineKey(c1), 0, -1, 'WITHSCORES'), await redis.client.zrange(customerTimelineKey(c2), 0, -1, 'WITHSCORES')],
      seen: [await redis.client.hgetall(customerSeenKey(c1)), await redis.client.hgetall(customerSeenKey(c2))],
    });

    const first = await processor().handleBatch(batch);
    const afterFirst = await snapshot();
    // Redelivered later (another processor, another wall clock): nothing changes, the same bytes come out.
    const again = await processor({ now: () => NOW_MS + HOUR_MS }).handleBatch(batch);
    expect(await snapshot()).toEqual(afterFirst);

    expect(first.map((r) => r.kind)).toEqual(['ok', 'ok', 'dlq', 'ok', 'ok']);
    expect(first[2]).toMatchObject({ kind: 'dlq', reason: expect.stringMatching(/^undecodable touchpoint: /) });
    const bytes = (results: RecordResult[]) => results.map((r) => (r.kind === 'ok' ? (r.outputs ?? []).map((o) => [o.topic, o.key, o.value.toString('hex')]) : r));
    expect(bytes(again)).toEqual(bytes(first));
    // c1: sentiment; then detractor + repeat contact + an at_risk alert. c2: detractor + watch alert.
    expect(bytes(first)[0]).toHaveLength(1);
    expect((bytes(first)[3] as unknown[]).map((o) => (o as string[])[0])).toEqual(['signals.v1', 'signals.v1', 'alerts.v1']);
    expect(afterFirst.state[0]).toMatchObject({ events: '2', signals: '3', alerts: '1', level: 'at_risk' });
  });

  it('the same event twice in one batch is applied once and re-emits its outputs', async () => {
    const c = uniqueCustomer('twice');
    const e = touchpoint(c, NOW_MS - HOUR_MS, { sentiment: -1 });
    const [a, b] = await processor().processTouchpoints([e, e]);
    expect(a!.duplicate).toBe(false);
    expect(b!.duplicate).toBe(true);
    expect(b!.signals).toEqual(a!.signals);
    expect(await redis.client.hget(customerStateKey(c), 'events')).toBe('1');
  });
});

describe('alerts', () => {
  it('negative sentiment, then a detractor survey on a repeat contact raises one at_risk alert', async () => {
    const c = uniqueCustomer('sequence');
    const t = NOW_MS - 3 * DAY_MS;
    const firstCall = touchpoint(c, t, { channel: 'phone', touchpoint: 'billing_call', reason: 'billing_dispute', sentiment: -0.6 });
    const secondChat = touchpoint(c, t + 2 * DAY_MS, {
      channel: 'chat', touchpoint: 'support_chat', reason: 'billing_dispute', survey: { kind: 'NPS', score: 4, comment: null },
    });
    const p = processor();
    const outcomes = await p.processTouchpoints([firstCall, secondChat]);

    expect(outcomes[0]!.alert).toBeNull();
    const alert = outcomes[1]!.alert!;
    const scoreBefore = 2 * decay(2 * DAY_MS);
    expect(alert).toMatchObject({
      alert_id: alertIdFor(c, secondChat.event_id, 'at_risk'),
      customer_id: c,
      level: 'at_risk',
      triggered_by: secondChat.event_id,
      at: secondChat.occurred_at,
      rules_version: null,
    });
    expect(alert.score_before).toBeCloseTo(scoreBefore, 12);
    expect(alert.score).toBeCloseTo(scoreBefore + 6, 12);
    expect(alert.signals).toEqual([
      { signal_id: signalIdFor(secondChat.event_id, 'survey_detractor'), type: 'survey_detractor', weight: 3, event_id: secondChat.event_id, explanation: 'NPS 4 ≤ 6: detractor' },
      {
        signal_id: signalIdFor(secondChat.event_id, 'repeat_contact'),
        type: 'repeat_contact',
        weight: 3,
        event_id: secondChat.event_id,
        explanation: `2nd contact about billing_dispute within 7 days (previous ${iso(firstCall.occurred_at)})`,
      },
    ]);
    expect(outcomes[1]!.signals.map((s) => s.signal_id)).toEqual(alert.signals.map((s) => s.signal_id));

    const state = await redis.client.hgetall(customerStateKey(c));
    expect(state).toMatchObject({
      level: 'at_risk', last_alert_id: alert.alert_id, last_alert_at: String(secondChat.occurred_at), last_alert_level: 'at_risk', alerts: '1',
      'reason_last_at:billing_dispute': String(secondChat.occurred_at), 'reason_streak:billing_dispute': '2',
    });

    // Replaying the sequence raises nothing new and returns the same alert.
    const replay = await p.processTouchpoints([firstCall, secondChat]);
    expect(replay.map((o) => o.duplicate)).toEqual([true, true]);
    expect(replay[1]!.alert).toEqual(alert);
    expect(await redis.client.hget(customerStateKey(c), 'alerts')).toBe('1');
  });

  it('counts the streak of repeat contacts and ignores company-initiated ones and other reasons', async () => {
    const c = uniqueCustomer('streak');
    const t = NOW_MS - 20 * DAY_MS;
    const events = [
      touchpoint(c, t, { reason: 'password_reset' }),
      touchpoint(c, t + HOUR_MS, { reason: 'password_reset', initiator: 'company' }), // not a customer contact
      touchpoint(c, t + 2 * HOUR_MS, { reason: 'billing_dispute' }), // other reason
      touchpoint(c, t + 3 * DAY_MS, { reason: 'password_reset' }), // 2nd
      touchpoint(c, t + 5 * DAY_MS, { reason: 'password_reset' }), // 3rd (within 7 days of the 2nd)
      touchpoint(c, t + 13 * DAY_MS, { reason: 'password_reset' }), // 8 days later: a new streak
    ];
    const outcomes = await processor({ scoring: { levelThresholds: { watch: 100, at_risk: 200, critical: 300 } } }).processTouchpoints(events);
    const explanations = outcomes.map((o) => o.signals.map((s) => s.explanation));
    expect(explanations).toEqual([
      [], [], [],
      [`2nd contact about password_reset within 7 days (previous ${iso(events[0]!.occurred_at)})`],
      [`3rd contact about password_reset within 7 days (previous ${iso(events[3]!.occurred_at)})`],
      [],
    ]);
    expect(await redis.client.hget(customerStateKey(c), 'reason_streak:password_reset')).toBe('1');
  });

  it('a second identical trigger within the cooldown gives no alert; after the cooldown it does', async () => {
    const c = uniqueCustomer('cooldown');
    // A one-minute half-life lets the level fall back within minutes.
    const p = processor({ scoring: { halfLifeMs: MINUTE_MS } });
    const detractor = (atMs: number) => touchpoint(c, atMs, { survey: { kind: 'NPS', score: 5, comment: null } });
    const t = NOW_MS - HOUR_MS;
    const [first] = await p.processTouchpoints([detractor(t)]);
    expect(first!.alert?.level).toBe('watch');

    // 5 minutes later the score is 3/32: level back to none; the same trigger crosses watch again, inside the cooldown.
    const [second] = await p.processTouchpoints([detractor(t + 5 * MINUTE_MS)]);
    expect(second!.signals).toHaveLength(1);
    expect(second!.alert).toBeNull();
    expect(await redis.client.hmget(customerStateKey(c), 'level', 'alerts', 'last_alert_id')).toEqual(['watch', '1', first!.alert!.alert_id]);

    // Past the cooldown (10 minutes after the alert, in event time) the same trigger alerts again.
    const [third] = await p.processTouchpoints([detractor(t + 20 * MINUTE_MS)]);
    expect(third!.alert?.level).toBe('watch');
  });

  it('the cooldown does not hold back a higher level', async () => {
    const c = uniqueCustomer('escalate');
    const t = NOW_MS - HOUR_MS;
    const outcomes = await processor().processTouchpoints([
      touchpoint(c, t, { survey: { kind: 'NPS', score: 1, comment: null } }),
      touchpoint(c, t + MINUTE_MS, { survey: { kind: 'CES', score: 7, comment: null }, sentiment: -0.9 }),
      touchpoint(c, t + 2 * MINUTE_MS, { survey: { kind: 'CSAT', score: 1, comment: null }, sentiment: -0.9 }),
    ]);
    expect(outcomes.map((o) => o.alert?.level ?? null)).toEqual(['watch', 'at_risk', 'critical']);
  });

  it('hysteresis: a level is left only below 80% of its threshold', async () => {
    const c = uniqueCustomer('hysteresis');
    const p = processor({ scoring: { halfLifeMs: MINUTE_MS, alertCooldownMs: 0, signals: { negative_sentiment: { weight: 0.5 } } } });
    const t = NOW_MS - HOUR_MS;
    const nps = (atMs: number) => touchpoint(c, atMs, { survey: { kind: 'NPS', score: 0, comment: null } });
    const [watch] = await p.processTouchpoints([nps(t)]);
    expect(watch!.alert?.level).toBe('watch');
    // 15 s later: 3·2^(−¼) ≈ 2.52 — below 3 but not below 2.4, so still watch; +0.5 re-crosses 3 without an alert.
    const [dip] = await p.processTouchpoints([touchpoint(c, t + 15_000, { sentiment: -0.9 })]);
    expect(dip!.alert).toBeNull();
    expect(await redis.client.hget(customerStateKey(c), 'level')).toBe('watch');
    // 45 s after that: ≈ 1.8 < 2.4, the level falls back to none, and crossing 3 again alerts.
    const [again] = await p.processTouchpoints([nps(t + 60_000)]);
    expect(again!.alert?.level).toBe('watch');
    expect(again!.alert!.score_before).toBeCloseTo((3 * decay(15_000, MINUTE_MS) + 0.5) * decay(45_000, MINUTE_MS), 12);
  });

  it.each([
    ['watch', 3],
    ['at_risk', 6],
    ['critical', 10],
  ] as const)('fires %s at its threshold %d and not just below it', async (level, threshold) => {
    const below = uniqueCustomer(`below-${level}`);
    const at = uniqueCustomer(`at-${level}`);
    const e = (c: string) => touchpoint(c, NOW_MS - HOUR_MS, { survey: { kind: 'NPS', score: 0, comment: null } });
    const [atOutcome] = await processor({ scoring: { signals: { survey_detractor: { weight: threshold } } } }).processTouchpoints([e(at)]);
    const [belowOutcome] = await processor({ scoring: { signals: { survey_detractor: { weight: threshold - 1e-9 } } } }).processTouchpoints([e(below)]);
    expect(atOutcome!.alert).toMatchObject({ level, score: threshold, score_before: 0 });
    const lower = { watch: null, at_risk: 'watch', critical: 'at_risk' }[level];
    expect(belowOutcome!.alert?.level ?? null).toBe(lower);
  });

  it('backfill older than the horizon updates state and score but raises no alert', async () => {
    const c = uniqueCustomer('backfill');
    const old = NOW_MS - 31 * DAY_MS;
    const outcomes = await processor().processTouchpoints([
      touchpoint(c, old, { survey: { kind: 'NPS', score: 0, comment: null }, sentiment: -1 }),
      touchpoint(c, old + HOUR_MS, { survey: { kind: 'NPS', score: 0, comment: null } }),
    ]);
    expect(outcomes.map((o) => o.signals.length)).toEqual([2, 1]);
    expect(outcomes.map((o) => o.alert)).toEqual([null, null]);
    const state = await redis.client.hgetall(customerStateKey(c));
    expect(Number(state.score)).toBeCloseTo(5 * decay(HOUR_MS) + 3, 12);
    expect(state).toMatchObject({ events: '2', level: 'at_risk' });
    expect(state.alerts).toBeUndefined();
  });
});
