// Reaction-time compliance in GET /v1/kpis and /v1/heatmap, and GET /v1/touchpoints/evaluation, on chDB with a
// hand-worked fixture and a real catalogue file loaded by the query module. Every expected figure is worked out in
// the comments.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateTime64FromMicros, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { parseIsoToMicros } from '../shared/time.ts';
import { startQueryModule } from '../query-module.test-support.ts';

const readKey = 'rk-evaluation';
let offset = 0;
const ts = (iso: string) => dateTime64FromMicros(parseIsoToMicros(iso)!);
interface Tp {
  customer: string;
  at: string;
  touchpoint: string;
  channel: string;
  stage: string;
  wait_ms?: number;
  sentiment?: number;
  derived?: boolean;
  survey?: [kind: 'NPS' | 'CSAT' | 'CES', score: number];
}
const row = (e: Tp) => ({
  event_id: `ev-${offset}`, customer_id: e.customer, occurred_at: ts(e.at), received_at: ts(e.at),
  channel: e.channel, touchpoint: e.touchpoint, initiator: 'customer', journey: '', stage: e.stage, reason: '', outcome: '',
  duration_ms: null, wait_ms: e.wait_ms ?? null, sentiment: e.sentiment ?? null,
  sentiment_source: e.sentiment === undefined ? '' : e.derived ? 'derived' : 'given',
  survey_kind: e.survey?.[0] ?? '', survey_score: e.survey?.[1] ?? null, survey_comment: '', agent_id: '', session_id: '', attributes: {},
  kafka_partition: 0, kafka_offset: offset++,
});
const call = (customer: string, at: string, wait_ms: number | undefined, sentiment: number, derived = false): Tp =>
  ({ customer, at, touchpoint: 'call', channel: 'phone', stage: 'support', wait_ms, sentiment, derived });
const nps = (customer: string, at: string, score: number): Tp => ({ customer, at, touchpoint: 'nps_survey', channel: 'sms', stage: 'support', survey: ['NPS', score] });

// 2024-07-01 (the range). Catalogue targets: call 2 min, chat 1 min; page has none.
const events: Tp[] = [
  // call: waits 60 s, 120 s (= target: met), 180 s, and one without a wait → contacts 3, met 2.
  // Sentiments −0.4, −0.6, −0.5, −0.5 (the last derived from text).
  call('a', '2024-07-01T08:00:00Z', 60_000, -0.4),
  call('b', '2024-07-01T09:00:00Z', 120_000, -0.6),
  call('c', '2024-07-01T10:00:00Z', 180_000, -0.5),
  call('d', '2024-07-01T12:00:00Z', undefined, -0.5, true),
  // chat: waits 30 s (met), 90 s → contacts 2, met 1. No sentiment.
  { customer: 'i', at: '2024-07-01T08:30:00Z', touchpoint: 'chat', channel: 'chat', stage: 'support', wait_ms: 30_000 },
  { customer: 'j', at: '2024-07-01T09:30:00Z', touchpoint: 'chat', channel: 'chat', stage: 'support', wait_ms: 90_000 },
  // page: no target, so its 500 s wait is no reaction-time contact. Sentiments 0.4, 0.6, 0.5, 0.5.
  { customer: 'e', at: '2024-07-01T11:00:00Z', touchpoint: 'page', channel: 'web', stage: 'purchase', wait_ms: 500_000, sentiment: 0.4 },
  { customer: 'f', at: '2024-07-01T11:10:00Z', touchpoint: 'page', channel: 'web', stage: 'purchase', sentiment: 0.6 },
  { customer: 'g', at: '2024-07-01T11:20:00Z', touchpoint: 'page', channel: 'web', stage: 'purchase', sentiment: 0.5 },
  { customer: 'h', at: '2024-07-01T11:30:00Z', touchpoint: 'page', channel: 'web', stage: 'purchase', sentiment: 0.5 },
  // Surveys. NPS after the call: a 2 (10 min later), b 3 (1 h), c 9 (2 h); d answers 25 h after the call: past the
  // 24 h window, uncredited (still read: surveys are read up to a window past the range's end).
  nps('a', '2024-07-01T08:10:00Z', 2),
  nps('b', '2024-07-01T10:00:00Z', 3),
  nps('c', '2024-07-01T12:00:00Z', 9),
  nps('d', '2024-07-02T13:00:00Z', 10),
  // NPS after the page: e 10, f 10, g 8. z answers with no touchpoint of theirs at all: uncredited.
  nps('e', '2024-07-01T11:05:00Z', 10),
  nps('f', '2024-07-01T11:15:00Z', 10),
  nps('g', '2024-07-01T11:25:00Z', 8),
  nps('z', '2024-07-01T15:00:00Z', 0),
  // CSAT after the chat: i 1, j 2 (0 of 2 satisfied); after the page: h 5.
  { customer: 'i', at: '2024-07-01T08:40:00Z', touchpoint: 'csat_survey', channel: 'email', stage: 'support', survey: ['CSAT', 1] },
  { customer: 'j', at: '2024-07-01T09:40:00Z', touchpoint: 'csat_survey', channel: 'email', stage: 'support', survey: ['CSAT', 2] },
  { customer: 'h', at: '2024-07-01T11:35:00Z', touchpoint: 'csat_survey', channel: 'email', stage: 'purchase', survey: ['CSAT', 5] },
  // The day before (the previous period): one call within target.
  call('p', '2024-06-30T10:00:00Z', 30_000, 0),
];
const rows = events.map(row);
const eventOf = (customer: string, touchpoint: string) => rows.find((r) => r.customer_id === customer && r.touchpoint === touchpoint)!;
// Weak signals on the calls of a (two: still one flagged contact), b and c: 3 of the 4 call contacts.
const signals = [['a', 's1'], ['a', 's2'], ['b', 's3'], ['c', 's4']].map(([customer, id], i) => {
  const tp = eventOf(customer!, 'call');
  return {
    signal_id: id, customer_id: customer, type: 'long_wait', weight: 1, event_id: tp.event_id, occurred_at: tp.occurred_at,
    channel: 'phone', touchpoint: 'call', journey: '', stage: 'support', explanation: 'x', rules_version: 'v', kafka_partition: 0, kafka_offset: i,
  };
});

const catalogue = `
touchpoints:
  call: { channel: phone, stage: support, owner: Care, layer: front_stage, description: A call., reaction_time: 2m }
  chat: { channel: chat, stage: support, owner: Care, layer: front_stage, description: A chat., reaction_time: 1m }
  page: { channel: web, stage: purchase, owner: Web, layer: front_stage, description: A page. }
`;

let ch: TestClickHouse;
let app: FastifyInstance;
let stopModule: () => Promise<void>;

beforeAll(async () => {
  ch = await openTestClickHouse();
  await migrate(ch.client);
  await storeRows(ch.client, { table: 'touchpoints', rows });
  await storeRows(ch.client, { table: 'signals', rows: signals });
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'evaluation-')), 'touchpoints.yaml');
  writeFileSync(file, catalogue);
  ({ app, stop: stopModule } = await startQueryModule(readKey, { clickhouse: ch.client, now: () => Date.UTC(2024, 6, 10), touchpointsFile: file }));
}, 120_000);

afterAll(async () => {
  await stopModule?.();
  await ch?.close();
});

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readKey}` } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const day = 'from=2024-07-01T00:00:00Z&to=2024-07-02T00:00:00Z';
const reactionOf = (f: Record<string, unknown>) => [f.reaction_time_contacts, f.reaction_time_met, f.reaction_time_compliance, f.reaction_time_p90_ms];

describe('reaction-time compliance in /v1/kpis and /v1/heatmap', () => {
  it('totals against the catalogue targets, with the previous period', async () => {
    const body = await get(`/v1/kpis?${day}&interval=hour`);
    // 5 contacts (call 3, chat 2), met 3 → 0.6; p90 exact of [30k, 60k, 90k, 120k, 180k]: index floor(0.9·5) = 4 → 180 s.
    expect(reactionOf(body.totals[0])).toEqual([5, 3, 0.6, 180_000]);
    // The day before: one call at 30 s, met.
    expect(reactionOf(body.totals[0].previous)).toEqual([1, 1, 1, 30_000]);
    // Per hour: 08:00 holds a's call (60 s, met) and i's chat (30 s, met).
    const h8 = body.buckets.find((b: { bucket: string }) => b.bucket === '2024-07-01T08:00:00.000000Z');
    expect(reactionOf(h8)).toEqual([2, 2, 1, 60_000]);
    const h10 = body.buckets.find((b: { bucket: string }) => b.bucket === '2024-07-01T10:00:00.000000Z');
    // c's call at 180 s; the previous bucket (06-30 10:00) p's call at 30 s.
    expect(reactionOf(h10)).toEqual([1, 0, 0, 180_000]);
    expect(reactionOf(h10.previous)).toEqual([1, 1, 1, 30_000]);
  });

  it('per channel and per stage (keys with no targeted contact: 0 and null)', async () => {
    const byChannel = Object.fromEntries((await get(`/v1/kpis?${day}&interval=day&by=channel`)).totals.map((t: { key: string }) => [t.key, t]));
    // phone: [60k, 120k, 180k] → met 2, p90 index 2 → 180 s; chat: [30k, 90k] → met 1, p90 index floor(1.8) = 1 → 90 s.
    expect(reactionOf(byChannel.phone)).toEqual([3, 2, 0.666667, 180_000]);
    expect(reactionOf(byChannel.chat)).toEqual([2, 1, 0.5, 90_000]);
    expect(reactionOf(byChannel.web)).toEqual([0, 0, null, null]);
    const byStage = Object.fromEntries((await get(`/v1/kpis?${day}&interval=minute&by=stage`)).totals.map((t: { key: string }) => [t.key, t]));
    expect(reactionOf(byStage.support)).toEqual([5, 3, 0.6, 180_000]);
    expect(reactionOf(byStage.purchase)).toEqual([0, 0, null, null]);
  });

  it('heat map cells: support 0.6 is below the warn threshold 0.8 → bad; purchase has no targeted contact', async () => {
    const body = await get(`/v1/heatmap?${day}&metrics=reaction_time_compliance,reaction_time_p90_ms`);
    const [purchase, support] = body.rows;
    expect(support.cells).toEqual({
      reaction_time_compliance: { value: 0.6, target: 0.9, warn: 0.8, direction: 'higher_is_better', status: 'bad' },
      // 180 s is exactly the default target: ok.
      reaction_time_p90_ms: { value: 180_000, target: 180_000, warn: 300_000, direction: 'lower_is_better', status: 'ok' },
    });
    expect(purchase.cells.reaction_time_compliance.status).toBe('no_data');
    // Filtered to the chat channel: 30 s (met) and 90 s → 0.5; p90 index floor(1.8) = 1 → 90 s.
    const chat = await get(`/v1/heatmap?${day}&metrics=reaction_time_compliance,reaction_time_p90_ms&channel=chat`);
    expect(chat.rows.map((r: { stage: string; cells: Record<string, { value: number }> }) => [r.stage, r.cells.reaction_time_compliance!.value, r.cells.reaction_time_p90_ms!.value]))
      .toEqual([['support', 0.5, 90_000]]);
  });
});

describe('GET /v1/touchpoints/evaluation', () => {
  it('per touchpoint: sentiment, credited surveys, signal share, each with its interval; pain points and bright spots', async () => {
    const body = await get(`/v1/touchpoints/evaluation?${day}&min_sample=2`);
    expect(body.survey_window_ms).toBe(86_400_000);
    // Uncredited: d's answer 25 h after the call, z's with no touchpoint.
    expect(body.uncredited_surveys).toBe(2);
    // Surveys are not evaluated themselves.
    expect(body.touchpoints.map((t: { touchpoint: string }) => t.touchpoint)).toEqual(['call', 'chat', 'page']);
    const [callEval, chatEval, pageEval] = body.touchpoints;

    // Sentiment of the calls: mean −0.5; s² = (0.1² + 0.1²) / 3 = 0.0066667; se = 0.0408248; t(0.975, 3) = 3.182446
    // → ±0.129921.
    expect(callEval.contacts).toBe(4);
    expect(callEval.sentiment).toMatchObject({ n: 4, value: -0.5, derived: 1, sufficient: true });
    expect(callEval.sentiment.ci95[0]).toBeCloseTo(-0.629921, 5);
    expect(callEval.sentiment.ci95[1]).toBeCloseTo(-0.370079, 5);
    // NPS after the calls: a 2, b 3 (detractors), c 9 (promoter) → (1 − 2) / 3 = −33.3333. Variance of the ±1/0
    // scores: 3/2 · (1/3 + 2/3 − (1/3)²) = 4/3; se = √(4/9) = 0.666667; t(0.975, 2) = 4.302653 → ±2.868 → clipped to [−100, 100].
    expect(callEval.nps).toEqual({ n: 3, value: -33.3333, ci95: [-100, 100], sufficient: true });
    // Signals: 3 of 4 contacts (a's two signals flag one contact). Wilson 3/4: centre (0.75 + 0.480182) / 1.960365 = 0.627527,
    // half 1.959964 · √(0.046875 + 0.060023) / 1.960365 = 0.326885 → [0.300642, 0.954412].
    expect(callEval.negative_signal_rate).toMatchObject({ n: 4, value: 0.75, flagged: 3 });
    expect(callEval.negative_signal_rate.ci95[0]).toBeCloseTo(0.300642, 5);
    expect(callEval.negative_signal_rate.ci95[1]).toBeCloseTo(0.954412, 5);
    // CSAT after the chat: 0 of 2 satisfied, mean 1.5; Wilson 0/2: [0, 0.657620].
    expect(chatEval.csat).toMatchObject({ n: 2, value: 0, mean: 1.5, sufficient: true });
    expect(chatEval.csat.ci95[1]).toBeCloseTo(0.65762, 4);
    expect(chatEval.sentiment).toEqual({ n: 0, value: null, ci95: null, sufficient: false, derived: 0 });
    // The page: CSAT from h alone (n = 1 < min_sample 2: not judged); NPS e 10, f 10, g 8 → 66.6667.
    expect(pageEval.csat).toMatchObject({ n: 1, value: 1, mean: 5, sufficient: false });
    expect(pageEval.nps).toMatchObject({ n: 3, value: 66.6667 });
    expect(pageEval).toMatchObject({ catalogued: true, stage: 'purchase', channel: 'web', owner: 'Web' });

    // Baselines over all touchpoints: sentiment (4·−0.5 + 4·0.5) / 8 = 0; CSAT 1 of 3; NPS (3 − 2) / 6 = 16.6667;
    // signals 3 of 10 contacts.
    expect(body.baseline).toEqual({ sentiment: 0, csat: 0.333333, ces: null, nps: 16.6667, negative_signal_rate: 0.3 });
    // Pain points: the calls' sentiment (interval wholly below 0; gap 0.370079 / 2) and their signal share (0.300642 > 0.3,
    // gap 0.000642). Bright spot: the page's sentiment (wholly above 0).
    expect(body.pain_points.map((j: { touchpoint: string; metric: string }) => [j.touchpoint, j.metric])).toEqual([['call', 'sentiment'], ['call', 'negative_signal_rate']]);
    expect(body.pain_points[0].gap).toBeCloseTo(0.18504, 5);
    expect(body.pain_points[1].gap).toBeCloseTo(0.000642, 5);
    expect(body.bright_spots).toHaveLength(1);
    expect(body.bright_spots[0]).toMatchObject({ touchpoint: 'page', metric: 'sentiment', value: 0.5, baseline: 0, n: 4 });
  });

  it('the survey window and the minimum sample change what is credited and judged', async () => {
    // A 30-minute window: b's answer (1 h) and c's (2 h) no longer count for the call; a's (10 min) still does.
    const narrow = await get(`/v1/touchpoints/evaluation?${day}&min_sample=2&survey_window=30m`);
    expect(narrow.touchpoints[0].nps).toMatchObject({ n: 1, value: -100, ci95: null });
    // Uncredited: b's, c's and z's; d's answer (07-02 13:00) is not read at all: surveys are read up to 30 min past the range.
    expect(narrow.uncredited_surveys).toBe(3);
    // The default minimum sample (30): nothing here is judged.
    const strict = await get(`/v1/touchpoints/evaluation?${day}`);
    expect(strict.min_sample).toBe(30);
    expect([strict.pain_points, strict.bright_spots]).toEqual([[], []]);
    expect(strict.touchpoints[0].sentiment.sufficient).toBe(false);
  });

  it('rejects a bad survey window', async () => {
    const res = await app.inject({ method: 'GET', url: `/v1/touchpoints/evaluation?${day}&survey_window=soon`, headers: { authorization: `Bearer ${readKey}` } });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_PARAMETER');
  });
});
