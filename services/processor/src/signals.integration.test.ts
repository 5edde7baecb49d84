// The history-dependent signals, journey timers and rules reload against a real redis-server (a private
// child process). Each signal fires at its threshold and not just past it; windows expire; replays
// change nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codecs, type TouchpointEvent } from '@touchstream/contracts';
import type { OutboundMessage } from '@touchstream/kafka';
import { customerDueKey, customerStateKey, customerTimersKey } from '@touchstream/contracts';
import { createTouchpointProcessor, type TouchpointOutcome, type TouchpointProcessorOptions } from './processor.ts';
import { parseRules } from './rules.ts';
import { createRulesWatcher } from './rules-watcher.ts';
import { startTimerSweeper } from './timer-sweeper.ts';
import { signalIdFor, timerAlertIdFor } from './signals.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, useTestRedis, touchpoint, uniqueCustomer } from '@touchstream/testkit';

const redis = useTestRedis();

const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);
/** High levels: these tests look at signals, not alerts. */
const quiet = { levelThresholds: { watch: 100, at_risk: 200, critical: 300 } };
let indexes = 0;

function processor(options: Omit<Partial<TouchpointProcessorOptions>, 'redis'> = {}) {
  return createTouchpointProcessor({ redis: redis.client, now: () => NOW_MS, timerIndexKey: `test:timers:${process.pid}:${indexes++}`, ...options });
}
const quietProcessor = () => processor({ scoring: quiet });
const typesOf = (outcomes: TouchpointOutcome[]) => outcomes.map((o) => o.signals.map((s) => s.type));

describe('repeat_contact', () => {
  it('fires on a contact about the same reason 7 days after the previous one, not 1 ms later', async () => {
    const at = NOW_MS - 20 * DAY_MS;
    const fires = uniqueCustomer('repeat-at');
    const late = uniqueCustomer('repeat-late');
    const p = quietProcessor();
    expect(typesOf(await p.processTouchpoints([touchpoint(fires, at, { reason: 'r' }), touchpoint(fires, at + 7 * DAY_MS, { reason: 'r' })]))).toEqual([[], ['repeat_contact']]);
    expect(typesOf(await p.processTouchpoints([touchpoint(late, at, { reason: 'r' }), touchpoint(late, at + 7 * DAY_MS + 1, { reason: 'r' })]))).toEqual([[], []]);
  });
});

describe('channel_hopping', () => {
  it('fires on the third distinct channel of a journey within 24 h, not when the first is 1 ms older', async () => {
    const t = NOW_MS - 10 * DAY_MS;
    const fires = uniqueCustomer('hop');
    const j = { journey: 'billing_support' };
    const outcomes = await quietProcessor().processTouchpoints([
      touchpoint(fires, t, { channel: 'web', ...j }),
      touchpoint(fires, t + HOUR_MS, { channel: 'chat', ...j }),
      touchpoint(fires, t + 2 * HOUR_MS, { channel: 'chat', ...j }), // same channel again: still two
      touchpoint(fires, t + DAY_MS, { channel: 'phone', ...j }),
    ]);
    expect(typesOf(outcomes)).toEqual([[], [], [], ['channel_hopping']]);
    expect(outcomes[3]!.signals[0]!.explanation).toBe('3 channels (chat, phone, web) in journey billing_support within 1 day');

    const tooSlow = uniqueCustomer('hop-slow');
    expect(typesOf(await quietProcessor().processTouchpoints([
      touchpoint(tooSlow, t, { channel: 'web', ...j }),
      touchpoint(tooSlow, t + HOUR_MS, { channel: 'chat', ...j }),
      touchpoint(tooSlow, t + DAY_MS + 1, { channel: 'phone', ...j }),
    ]))).toEqual([[], [], []]);
  });

  it('fires once per window per journey; company contacts do not count; without a journey the reason groups', async () => {
    const t = NOW_MS - 10 * DAY_MS;
    const c = uniqueCustomer('hop-once');
    const j = { journey: 'j1' };
    const outcomes = await quietProcessor().processTouchpoints([
      touchpoint(c, t, { channel: 'web', ...j }),
      touchpoint(c, t + 1, { channel: 'email', initiator: 'company', ...j }),
      touchpoint(c, t + HOUR_MS, { channel: 'chat', ...j }),
      touchpoint(c, t + 2 * HOUR_MS, { channel: 'phone', ...j }), // fires
      touchpoint(c, t + 3 * HOUR_MS, { channel: 'store', ...j }), // 4 channels, same window: no
      touchpoint(c, t + 3 * HOUR_MS, { channel: 'web', reason: 'password_reset' }),
      touchpoint(c, t + 4 * HOUR_MS, { channel: 'chat', reason: 'password_reset' }),
      touchpoint(c, t + 5 * HOUR_MS, { channel: 'phone', reason: 'password_reset' }), // fires for the reason
      touchpoint(c, t + 26 * HOUR_MS, { channel: 'branch', ...j }), // a window after the first firing: phone, store, branch
    ]);
    const hops = outcomes.map((o) => o.signals.filter((x) => x.type === 'channel_hopping').length);
    expect(hops).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 1]);
    expect(outcomes[7]!.signals.find((x) => x.type === 'channel_hopping')!.explanation).toBe('3 channels (chat, phone, web) in reason password_reset within 1 day');
    expect(outcomes[8]!.signals[0]!.explanation).toBe('3 channels (branch, phone, store) in journey j1 within 1 day');
  });
});

describe('self_service_failure', () => {
  it('fires on a customer contact on an assisted channel 1 h after a self-service failure, not 1 ms later', async () => {
    const t = NOW_MS - DAY_MS;
    const c = uniqueCustomer('ssf');
    const outcomes = await quietProcessor().processTouchpoints([
      touchpoint(c, t, { channel: 'web', touchpoint: 'document_upload', outcome: 'failed' }),
      touchpoint(c, t + 10 * MINUTE_MS, { channel: 'phone', initiator: 'company' }), // company call: no
      touchpoint(c, t + HOUR_MS, { channel: 'phone', touchpoint: 'help_call' }),
      touchpoint(c, t + HOUR_MS + MINUTE_MS, { channel: 'chat' }), // the failure already led to a contact
    ]);
    expect(typesOf(outcomes)).toEqual([[], [], ['self_service_failure'], []]);
    expect(outcomes[2]!.signals[0]!.explanation).toBe('phone contact within 1 hour after document_upload failed on web (' + new Date(t).toISOString().replace('.000', '') + ')');

    const late = uniqueCustomer('ssf-late');
    expect(typesOf(await quietProcessor().processTouchpoints([
      touchpoint(late, t, { channel: 'ivr', outcome: 'abandoned' }),
      touchpoint(late, t + HOUR_MS + 1, { channel: 'phone' }),
    ]))).toEqual([[], []]);
  });
});

describe('sentiment_decline', () => {
  it('fires on the third falling sentiment when the drop reaches 0.5, not at 0.49', async () => {
    const t = NOW_MS - DAY_MS;
    const c = uniqueCustomer('decline');
    const s = (at: number, sentiment: number) => touchpoint(c, at, { sentiment });
    const outcomes = await quietProcessor().processTouchpoints([s(t, 0.2), touchpoint(c, t + 1, {}), s(t + 2, -0.1), s(t + 3, -0.3)]);
    expect(typesOf(outcomes)).toEqual([[], [], [], ['sentiment_decline']]);
    expect(outcomes[3]!.signals[0]!.explanation).toBe('sentiment fell over 3 touchpoints (0.2 → -0.1 → -0.3): drop 0.5 ≥ 0.5');

    const small = uniqueCustomer('decline-small');
    const d = (at: number, sentiment: number) => touchpoint(small, at, { sentiment });
    expect(typesOf(await quietProcessor().processTouchpoints([d(t, 0.2), d(t + 1, -0.1), d(t + 2, -0.29)]))).toEqual([[], [], []]);
  });

  it('needs each sentiment lower than the one before; 0.7 → 0.5 → 0.2 counts as a drop of 0.5 despite rounding', async () => {
    const t = NOW_MS - DAY_MS;
    const bumpy = uniqueCustomer('decline-bumpy');
    const b = (at: number, sentiment: number) => touchpoint(bumpy, at, { sentiment });
    expect(typesOf(await quietProcessor().processTouchpoints([b(t, 0.5), b(t + 1, 0.6), b(t + 2, -0.2)]))).toEqual([[], [], []]);
    const rounding = uniqueCustomer('decline-rounding');
    const r = (at: number, sentiment: number) => touchpoint(rounding, at, { sentiment });
    expect(typesOf(await quietProcessor().processTouchpoints([r(t, 0.7), r(t + 1, 0.5), r(t + 2, 0.2)]))).toEqual([[], [], ['sentiment_decline']]);
  });
});

describe('sentiment derived from text (no number sent)', () => {
  it('scores text and survey comments: negative_sentiment says the score was derived; a number sent wins over the text', async () => {
    const t = NOW_MS - DAY_MS;
    const c = uniqueCustomer('text');
    const outcomes = await quietProcessor().processTouchpoints([
      // wink-sentiment: "terrible" −3 → tanh(−1.5) = −0.905 ≤ −0.5
      touchpoint(c, t, { channel: 'chat', text: 'Terrible service.' }),
      // the survey comment when there is no text: "rude" −2 → tanh(−1) = −0.762
      touchpoint(c, t + 1, { survey: { kind: 'CSAT', score: 3, comment: 'Rude staff.' } }),
      // a number sent wins: 0.3 is not negative although the text is
      touchpoint(c, t + 2, { sentiment: 0.3, text: 'Terrible service.' }),
      // positive text: no signal
      touchpoint(c, t + 3, { text: 'Thanks so much, that fixed it right away!' }),
    ]);
    expect(typesOf(outcomes)).toEqual([['negative_sentiment'], ['negative_sentiment'], [], []]);
    expect(outcomes[0]!.signals[0]!.explanation).toBe('sentiment -0.905 (derived from text) ≤ -0.5: negative');
    expect(outcomes[1]!.signals[0]!.explanation).toBe('sentiment -0.762 (derived from text) ≤ -0.5: negative');
  });

  it('derived scores feed sentiment_decline like sent ones', async () => {
    const t = NOW_MS - DAY_MS;
    const c = uniqueCustomer('text-decline');
    const outcomes = await quietProcessor().processTouchpoints([
      touchpoint(c, t, { text: 'Great, thank you!' }),
      touchpoint(c, t + 1, { text: 'I need to update my billing address.' }), // 0
      touchpoint(c, t + 2, { text: 'Terrible service.' }),
    ]);
    expect(typesOf(outcomes)[2]).toEqual(['negative_sentiment', 'sentiment_decline']);
  });
});

describe('repeated_error', () => {
  it('fires on the second error touchpoint within 1 h, not 1 ms later; once per window', async () => {
    const t = NOW_MS - DAY_MS;
    const c = uniqueCustomer('errors');
    const outcomes = await quietProcessor().processTouchpoints([
      touchpoint(c, t, { touchpoint: 'payment_failed' }),
      touchpoint(c, t + 30 * MINUTE_MS, { touchpoint: 'checkout_page' }),
      touchpoint(c, t + HOUR_MS, { touchpoint: 'login_failed' }), // fires
      touchpoint(c, t + HOUR_MS + 10 * MINUTE_MS, { touchpoint: 'otp_failed' }), // same window: no
      touchpoint(c, t + 2 * HOUR_MS, { touchpoint: 'error_page' }), // a window after the firing: fires again
    ]);
    expect(typesOf(outcomes)).toEqual([[], [], ['repeated_error'], [], ['repeated_error']]);
    expect(outcomes[2]!.signals[0]!.explanation).toBe('2nd error touchpoint (login_failed) within 1 hour');

    const slow = uniqueCustomer('errors-slow');
    expect(typesOf(await quietProcessor().processTouchpoints([
      touchpoint(slow, t, { touchpoint: 'payment_failed' }),
      touchpoint(slow, t + HOUR_MS + 1, { touchpoint: 'payment_failed' }),
    ]))).toEqual([[], []]);
  });
});

describe('journey_not_completed', () => {
  const EXPECTED_MS = 2000;
  const timers = { ...quiet, signals: { journey_not_completed: { expected_duration: EXPECTED_MS } } };
  const collect = () => {
    const emitted: OutboundMessage[] = [];
    return { emitted, emit: async (m: OutboundMessage[]) => void emitted.push(...m) };
  };
  const decodeSignals = (messages: OutboundMessage[]) => messages.filter((m) => m.topic === 'signals.v1').map((m) => codecs.signal.decode(m.value));

  it('fires from the sweeper when the due time passes with no further event, once', async () => {
    const c = uniqueCustomer('jnc');
    const p = processor({ scoring: timers });
    const started = touchpoint(c, NOW_MS - 500, { channel: 'web', touchpoint: 'application_start', journey: 'loan', stage: 'onboarding', outcome: 'started' });
    expect(typesOf(await p.processTouchpoints([started]))).toEqual([[]]);
    const due = (NOW_MS - 500 + EXPECTED_MS) * 1000;
    expect(await redis.client.zrange(customerDueKey(c), 0, -1, 'WITHSCORES')).toEqual([started.event_id, String(due)]);

    const { emitted, emit } = collect();
    expect(await p.sweepTimers(emit, NOW_MS + 1000)).toEqual([]); // 500 ms before due
    const fired = await p.sweepTimers(emit, NOW_MS + 1500); // exactly due
    expect(fired).toHaveLength(1);
    expect(decodeSignals(emitted)).toEqual([{
      signal_id: signalIdFor(started.event_id, 'journey_not_completed'),
      customer_id: c,
      type: 'journey_not_completed',
      weight: 3,
      event_id: started.event_id,
      occurred_at: due,
      channel: 'web',
      touchpoint: 'application_start',
      journey: 'loan',
      stage: 'onboarding',
      explanation: `journey loan started ${new Date(NOW_MS - 500).toISOString().replace(/\.\d{3}Z$/, 'Z')} not completed within 2 seconds`,
      rules_version: null,
    }]);
    expect(await redis.client.hmget(customerStateKey(c), 'score', 'signals')).toEqual(['3', '1']);
    // Acknowledged: gone from the customer's timers and from the index; a later sweep fires nothing.
    expect(await redis.client.zcard(customerDueKey(c))).toBe(0);
    expect(await redis.client.hlen(customerTimersKey(c))).toBe(0);
    expect(await p.sweepTimers(emit, NOW_MS + 60_000)).toEqual([]);
    expect(emitted).toHaveLength(1);
    // The started event redelivered: its recorded outputs, no new timer.
    const [again] = await p.processTouchpoints([started]);
    expect(again!.duplicate).toBe(true);
    expect(await redis.client.zcard(customerDueKey(c))).toBe(0);
  });

  it('the ticking sweeper fires on the wall clock with no further event from the customer', async () => {
    const c = uniqueCustomer('jnc-tick');
    // The real clock: started now, expected within 1 s; the sweeper ticks every 100 ms.
    const p = processor({ now: Date.now, scoring: { ...quiet, signals: { journey_not_completed: { expected_duration: 1000 } } } });
    const startedAt = Date.now();
    const started = touchpoint(c, startedAt, { journey: 'loan', outcome: 'started' });
    await p.processTouchpoints([started]);
    const { emitted, emit } = collect();
    const silent = { error() {}, warn() {}, info() {}, debug() {} };
    const sweeper = startTimerSweeper({ processor: p, emit, intervalMs: 100, log: silent });
    try {
      await expect.poll(() => emitted.length, { timeout: 4000, interval: 50 }).toBe(1);
      expect(Date.now()).toBeGreaterThanOrEqual(startedAt + 1000);
      expect(decodeSignals(emitted)[0]).toMatchObject({ type: 'journey_not_completed', event_id: started.event_id, occurred_at: (startedAt + 1000) * 1000 });
    } finally {
      await sweeper.stop();
    }
  });

  it('a completion or resolution of the journey disarms it; a backfill start arms nothing', async () => {
    const p = processor({ scoring: timers });
    const completed = uniqueCustomer('jnc-done');
    const resolved = uniqueCustomer('jnc-resolved');
    const backfill = uniqueCustomer('jnc-backfill');
    await p.processTouchpoints([
      touchpoint(completed, NOW_MS - 1000, { journey: 'loan', outcome: 'started' }),
      touchpoint(completed, NOW_MS - 900, { journey: 'other', outcome: 'completed' }), // another journey: no effect
      touchpoint(completed, NOW_MS - 800, { journey: 'loan', outcome: 'completed' }),
      touchpoint(resolved, NOW_MS - 1000, { journey: 'loan', outcome: 'started' }),
      touchpoint(resolved, NOW_MS - 800, { journey: 'loan', outcome: 'resolved' }),
      touchpoint(backfill, NOW_MS - 40 * DAY_MS, { journey: 'loan', outcome: 'started' }),
    ]);
    const { emitted, emit } = collect();
    expect(await p.sweepTimers(emit, NOW_MS + 10_000)).toEqual([]);
    expect(emitted).toEqual([]);
    for (const c of [completed, resolved, backfill]) expect(await redis.client.zcard(customerDueKey(c))).toBe(0);
  });

  it('raises an alert when the timer signal crosses a level, with its own deterministic id', async () => {
    const c = uniqueCustomer('jnc-alert');
    const p = processor({ scoring: { signals: { journey_not_completed: { expected_duration: EXPECTED_MS } } } });
    const started = touchpoint(c, NOW_MS - 1000, { journey: 'loan', outcome: 'started' });
    await p.processTouchpoints([started]);
    const { emitted, emit } = collect();
    const [fired] = await p.sweepTimers(emit, NOW_MS + 1000);
    expect(fired!.alert).toMatchObject({
      alert_id: timerAlertIdFor(c, started.event_id, 'watch'),
      level: 'watch',
      score: 3,
      triggered_by: started.event_id,
      at: (NOW_MS + 1000) * 1000,
    });
    expect(emitted.map((m) => m.topic)).toEqual(['signals.v1', 'alerts.v1']);
    expect(codecs.alert.decode(emitted[1]!.value)).toEqual(fired!.alert);
  });

  it('two sweepers at once fire a timer once; a sweeper dying before its outputs are produced loses nothing', async () => {
    const c = uniqueCustomer('jnc-race');
    const leaseMs = 5000;
    const a = processor({ scoring: timers, timerLeaseMs: leaseMs });
    const started = touchpoint(c, NOW_MS - 1000, { journey: 'loan', outcome: 'started' });
    await a.processTouchpoints([started]);
    // The first sweeper claims the timer, then "crashes" before Kafka acknowledged.
    const crash = a.sweepTimers(async () => {
      throw new Error('Kafka unavailable');
    }, NOW_MS + 1000);
    await expect(crash).rejects.toThrow('Kafka unavailable');
    // Another sweep during the lease fires nothing (not twice).
    const { emitted, emit } = collect();
    expect(await a.sweepTimers(emit, NOW_MS + 2000)).toEqual([]);
    // After the lease, the same outputs are produced, byte for byte.
    const [refired] = await a.sweepTimers(emit, NOW_MS + 1000 + leaseMs);
    expect(refired!.signals.map((s) => s.signal_id)).toEqual([signalIdFor(started.event_id, 'journey_not_completed')]);
    expect(await redis.client.hget(customerStateKey(c), 'signals')).toBe('1');
    expect(await redis.client.zcard(customerDueKey(c))).toBe(0);
    expect(emitted).toHaveLength(1);

    // Two instances sweeping the same index concurrently: exactly one emits.
    const d = uniqueCustomer('jnc-concurrent');
    const index = `test:timers:${process.pid}:shared`;
    const one = processor({ scoring: timers, timerIndexKey: index });
    const two = processor({ scoring: timers, timerIndexKey: index });
    await one.processTouchpoints([touchpoint(d, NOW_MS - 1000, { journey: 'loan', outcome: 'started' })]);
    const both = collect();
    const [x, y] = await Promise.all([one.sweepTimers(both.emit, NOW_MS + 1000), two.sweepTimers(both.emit, NOW_MS + 1000)]);
    expect(x!.length + y!.length).toBe(1);
    expect(decodeSignals(both.emitted).map((s) => s.customer_id)).toEqual([d]);
  });
});

describe('replay', () => {
  it('a redelivered batch raising every kind of history signal produces byte-identical outputs and no new state', async () => {
    const c = uniqueCustomer('replay-all');
    const t = NOW_MS - 2 * HOUR_MS;
    const j = { journey: 'checkout' };
    const events: TouchpointEvent[] = [
      touchpoint(c, t, { channel: 'web', touchpoint: 'checkout_page', outcome: 'started', sentiment: 0.4, ...j }),
      touchpoint(c, t + MINUTE_MS, { channel: 'web', touchpoint: 'payment_failed', outcome: 'failed', sentiment: 0.1, ...j }),
      touchpoint(c, t + 2 * MINUTE_MS, { channel: 'mobile_app', touchpoint: 'payment_failed', outcome: 'failed', sentiment: -0.2, ...j }),
      touchpoint(c, t + 3 * MINUTE_MS, { channel: 'chat', touchpoint: 'help_chat', reason: 'payment_problem', outcome: 'escalated', wait_ms: 90_000, ...j }),
      touchpoint(c, t + 4 * MINUTE_MS, { channel: 'phone', touchpoint: 'help_call', reason: 'payment_problem', ...j }),
    ];
    const p = processor();
    const first = await p.processTouchpoints(events);
    expect(typesOf(first)).toEqual([
      [],
      [],
      ['sentiment_decline', 'repeated_error'],
      ['sla_breach', 'escalation', 'channel_hopping', 'self_service_failure'],
      ['repeat_contact'],
    ]);
    const snapshot = async () => [
      await redis.client.hgetall(customerStateKey(c)),
      await redis.client.zrange(customerDueKey(c), 0, -1, 'WITHSCORES'),
      await redis.client.hgetall(customerTimersKey(c)),
    ];
    const before = await snapshot();
    const again = await processor({ now: () => NOW_MS + HOUR_MS }).processTouchpoints(events);
    expect(again.every((o) => o.duplicate)).toBe(true);
    const bytes = (outcomes: TouchpointOutcome[]) => outcomes.flatMap((o) => p.outputsOf(o).map((m) => [m.topic, m.key, m.value.toString('hex')]));
    expect(bytes(again)).toEqual(bytes(first));
    expect(await snapshot()).toEqual(before);
  });
});

describe('score settings from the rules file', () => {
  it('levels, exit ratio, cooldown and half-life come from the file', async () => {
    const rules = (exitRatio: number) =>
      parseRules(`score: { half_life: 1m, levels: { watch: 2, at_risk: 4, critical: 8 }, exit_ratio: ${exitRatio}, cooldown: 0 }`, 'rules.yaml');
    const t = NOW_MS - HOUR_MS;
    const twoEscalations = (c: string) => [touchpoint(c, t, { outcome: 'escalated' }), touchpoint(c, t + 30_000, { outcome: 'escalated' })];
    // 30 s later the score is 2·2^(−½) ≈ 1.41: below 0.8 × 2 = 1.6, so the level fell back and crossing 2 alerts again
    // (no cooldown); with an exit ratio of 0.5 (1.0) the level held, so no second alert.
    const strict = uniqueCustomer('file-levels-strict');
    const sticky = uniqueCustomer('file-levels-sticky');
    const strictOutcomes = await processor({ config: rules(0.8) }).processTouchpoints(twoEscalations(strict));
    const stickyOutcomes = await processor({ config: rules(0.5) }).processTouchpoints(twoEscalations(sticky));
    expect(strictOutcomes.map((o) => o.alert?.level ?? null)).toEqual(['watch', 'watch']);
    expect(stickyOutcomes.map((o) => o.alert?.level ?? null)).toEqual(['watch', null]);
    expect(strictOutcomes[1]!.alert!.score).toBeCloseTo(2 * Math.SQRT1_2 + 2, 12);
    expect(strictOutcomes[1]!.alert!.rules_version).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('rules reload', () => {
  it('swaps the rules for the next batch on a file change or reload(), keeps state, and rejects an invalid file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'touchstream-rules-'));
    const file = path.join(dir, 'rules.yaml');
    writeFileSync(file, 'version: one\nsignals: { complaint: { weight: 4 } }\n');
    const logged: string[] = [];
    const log = { error: (o: object) => logged.push((o as { error: string }).error), warn() {}, info() {}, debug() {} };
    let p: ReturnType<typeof processor> | undefined;
    const watcher = await createRulesWatcher({ file, onChange: (config) => p!.setConfig(config), log, pollIntervalMs: 20 });
    p = processor({ config: watcher.current });
    watcher.start();
    try {
      const c = uniqueCustomer('reload');
      // Different reasons: no repeat contact, only the complaint signal.
      const complaint = (at: number, reason: string) => touchpoint(c, at, { reason });
      const [one] = await p.processTouchpoints([complaint(NOW_MS - 3 * MINUTE_MS, 'complaint')]);
      expect(one!.signals[0]).toMatchObject({ weight: 4, rules_version: expect.stringMatching(/^one\+[0-9a-f]{8}$/) });

      // File change: picked up by the watcher without any call.
      writeFileSync(file, 'version: two\nsignals: { complaint: { weight: 1.5 } }\n');
      await expect.poll(() => p!.config.rulesVersion, { timeout: 3000, interval: 20 }).toMatch(/^two\+/);
      const [two] = await p.processTouchpoints([complaint(NOW_MS - 2 * MINUTE_MS, 'formal_complaint')]);
      expect(two!.signals[0]).toMatchObject({ weight: 1.5, rules_version: p.config.rulesVersion });
      // State survived the swap: 4 (a minute older, decayed a little) + 1.5, and the watch alert fired at 4 stays the level.
      expect(Number(await redis.client.hget(customerStateKey(c), 'score'))).toBeCloseTo(4 * Math.pow(2, -MINUTE_MS / (72 * HOUR_MS)) + 1.5, 12);
      expect(await redis.client.hget(customerStateKey(c), 'level')).toBe('watch');

      // Invalid file: rejected with the error logged once (not on every poll), the rules in force stay.
      writeFileSync(file, 'version: three\nsignals: { complaint: { weight: -2 } }\n');
      const error = `invalid rules file ${file}:\n  - signals.complaint.weight: a weight must be ≥ 0`;
      await expect.poll(() => logged, { timeout: 3000, interval: 20 }).toEqual([error]);
      await new Promise((r) => setTimeout(r, 200));
      expect(logged).toEqual([error]);
      expect(p.config.rulesVersion).toMatch(/^two\+/);
      watcher.stop();
      expect(await watcher.reload('SIGHUP')).toEqual({ ok: false, error });

      // SIGHUP-equivalent reload of a fixed file.
      writeFileSync(file, 'version: four\nsignals: { complaint: { weight: 2 } }\n');
      expect(await watcher.reload('SIGHUP')).toMatchObject({ ok: true, changed: true, version: expect.stringMatching(/^four\+/) });
      const [four] = await p.processTouchpoints([complaint(NOW_MS - MINUTE_MS, 'cancellation_threat')]);
      expect(four!.signals[0]!.weight).toBe(2);
      expect(await redis.client.hget(customerStateKey(c), 'signals')).toBe('3');
    } finally {
      watcher.stop();
    }
  });
});
