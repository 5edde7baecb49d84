// Live churn scoring on a real redis-server (docs/architecture.md §22): nothing is scored before a model file exists;
// once it appears the processor scores each customer of a batch, remembers score and band in the state hash, raises
// a churn_risk alert once when the customer enters the alert band (again, same id, only when that batch is replayed),
// and the features the live state gives equal those training computes from the same history.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { customerStateKey, type Signal, type TouchpointEvent } from '@touchstream/contracts';
import { eventually, HOUR_MS, MINUTE_MS, touchpoint, uniqueCustomer, useTestRedis } from '@touchstream/testkit';
import { createTouchpointProcessor } from '../processor.ts';
import { churnFeatures, churnStateFromHash } from './features.ts';
import { replayChurnStates } from './history.ts';
import { CHURN_RISK } from './live.ts';
import { writeTestChurnModel } from './test-model.test-support.ts';
import { createChurnModelWatcher } from './watcher.ts';

const redis = useTestRedis();
const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);
const dir = mkdtempSync(path.join(os.tmpdir(), 'churn-live-'));
const modelFile = path.join(dir, 'model.json');
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The test model: customers with negative sentiment and its signals churn, the others do not. */
const writeModel = () => writeTestChurnModel(modelFile, new Date(NOW_MS));

describe('live churn scoring', () => {
  it('starts when the model file appears, alerts once per crossing, and computes the features training computes', async () => {
    const watcher = await createChurnModelWatcher({ file: modelFile, log: quiet, pollIntervalMs: 20 });
    watcher.start();
    const p = createTouchpointProcessor({ redis: redis.client, now: () => NOW_MS, churnModel: () => watcher.current, timerIndexKey: `ts:timers:due:churn-${process.pid}` });
    const unhappy = uniqueCustomer('churn-unhappy');
    const happy = uniqueCustomer('churn-happy');
    const t0 = NOW_MS - 3 * HOUR_MS;
    // The happy customer's calls have no reason: no repeat_contact, no signal at all.
    const call = (c: string, at: number, sentiment: number) =>
      touchpoint(c, at, { channel: 'phone', touchpoint: 'support_call', reason: sentiment < 0 ? 'billing_question' : null, sentiment });

    // No model yet: nothing scored, nothing remembered.
    const opening = call(unhappy, t0, -0.6);
    const before = await p.processTouchpoints([opening, call(happy, t0, 0.5)]);
    expect(before.every((o) => o.churn === undefined)).toBe(true);
    expect(await redis.client.hget(customerStateKey(unhappy), 'churn_score')).toBeNull();

    await writeModel();
    await eventually('the model loaded', async () => watcher.current !== undefined);

    const first: TouchpointEvent[] = [call(unhappy, t0 + 10 * MINUTE_MS, -0.7), call(unhappy, t0 + 20 * MINUTE_MS, -0.8), call(happy, t0 + 10 * MINUTE_MS, 0.6)];
    const outcomes = await p.processTouchpoints(first);
    // One score per customer, on their last touchpoint of the batch.
    expect(outcomes.map((o) => o.churn !== undefined)).toEqual([false, true, true]);
    const scored = outcomes[1]!.churn!;
    expect(scored.score).toMatchObject({ customer_id: unhappy, band: 'high', event_id: first[1]!.event_id, scored_at: first[1]!.occurred_at, model_version: watcher.current!.file.version });
    expect(scored.score.score).toBeGreaterThan(0.5);
    expect(scored.alert).toMatchObject({ customer_id: unhappy, triggered_by: CHURN_RISK, level: 'at_risk', score: scored.score.score, score_before: 0 });
    expect(scored.alert!.signals[0]).toMatchObject({ type: CHURN_RISK, event_id: first[1]!.event_id });
    expect(outcomes[2]!.churn).toMatchObject({ score: { customer_id: happy, band: 'low' }, alert: null });
    // The records it produces: the score on churn_scores.v1, the alert on alerts.v1.
    expect(p.outputsOf(outcomes[1]!).map((m) => m.topic)).toEqual(expect.arrayContaining(['churn_scores.v1', 'alerts.v1']));

    const state = await redis.client.hgetall(customerStateKey(unhappy));
    expect(state).toMatchObject({ churn_band: 'high', churn_model: watcher.current!.file.version, churn_alert_event: first[1]!.event_id });
    expect(Number(state.churn_score)).toBe(scored.score.score);

    // The same batch redelivered (a crash before the commit): the alert comes again, with the same id.
    const replayed = await p.processTouchpoints(first);
    expect(replayed.every((o) => o.duplicate)).toBe(true);
    expect(replayed[1]!.churn!.alert!.alert_id).toBe(scored.alert!.alert_id);

    // Still high on the next touchpoint: no second alert for the same crossing.
    const later = call(unhappy, t0 + 30 * MINUTE_MS, -0.8);
    const next = await p.processTouchpoints([later]);
    expect(next[0]!.churn?.alert ?? null).toBeNull();
    expect(await redis.client.hget(customerStateKey(unhappy), 'churn_band')).toBe('high');

    // The live state's features are training's, computed from the same history (touchpoints and the signals raised).
    const tps = [opening, first[0]!, first[1]!, later].map((e) => ({ event_id: e.event_id, occurred_at: e.occurred_at, sentiment: e.sentiment }));
    const signals: Signal[] = [before[0]!, ...outcomes.slice(0, 2), next[0]!].flatMap((o) => o.signals);
    expect(signals.length).toBeGreaterThan(0);
    const replayedStates = replayChurnStates(tps, signals, { halfLifeMs: p.config.halfLifeMs, sentimentCount: p.config.signals.sentiment_decline.count });
    const live = churnFeatures(churnStateFromHash(await redis.client.hgetall(customerStateKey(unhappy))));
    const trained = churnFeatures(replayedStates.at(-1)!);
    trained.forEach((v, i) => expect(v).toBeCloseTo(live[i]!, 9));
    expect(live[0]).toBe(4);

    // Backfill (older than the 30-day horizon before processing time): scored and remembered, never alerted.
    const old = uniqueCustomer('churn-backfill');
    const t1 = NOW_MS - 40 * 24 * HOUR_MS;
    const backfill = await p.processTouchpoints([call(old, t1, -0.6), call(old, t1 + MINUTE_MS, -0.7), call(old, t1 + 2 * MINUTE_MS, -0.8)]);
    expect(backfill[2]!.churn).toMatchObject({ score: { band: 'high' }, alert: null });
    expect(await redis.client.hget(customerStateKey(old), 'churn_band')).toBe('high');
    watcher.stop();
  });
});
