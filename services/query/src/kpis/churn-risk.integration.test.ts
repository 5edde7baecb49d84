// KPIs by churn-risk band and filtered to one (docs/architecture.md §22) on real ClickHouse: each customer counts in
// the band of their newest score (churn_scores), `unscored` without one, with the figures of the rollup path.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dateTime64FromMicros, insertRows, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { parseIsoToMicros } from '../shared/time.ts';
import { queryKpis } from './kpis.ts';

const at = (iso: string) => parseIsoToMicros(iso)!;
const fromMicros = at('2024-05-02T00:00:00Z');
const toMicros = at('2024-05-03T00:00:00Z');
let ch: TestClickHouse;

const touchpoint = (id: string, customer: string, iso: string, extra: Record<string, unknown> = {}) => ({
  event_id: id, customer_id: customer, occurred_at: dateTime64FromMicros(at(iso)), received_at: dateTime64FromMicros(at(iso)),
  channel: 'phone', touchpoint: 'support_call', initiator: 'customer', journey: '', stage: '', reason: '', outcome: '',
  duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '',
  agent_id: '', session_id: '', attributes: {}, kafka_partition: 0, kafka_offset: 0, ...extra,
});

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  await migrate(ch.client);
  await storeRows(ch.client, {
    table: 'touchpoints',
    dedupToken: 'churn-risk-kpis:touchpoints',
    rows: [
      touchpoint('a0', 'risk-a', '2024-05-01T10:00:00Z'), // previous period
      touchpoint('a1', 'risk-a', '2024-05-02T09:00:00Z', { sentiment: -0.6 }),
      touchpoint('a2', 'risk-a', '2024-05-02T10:00:00Z', { channel: 'chat', outcome: 'abandoned' }),
      touchpoint('a3', 'risk-a', '2024-05-02T11:00:00Z', { channel: 'email', touchpoint: 'nps_survey', survey_kind: 'NPS', survey_score: 2 }),
      touchpoint('b1', 'risk-b', '2024-05-02T09:30:00Z', { sentiment: 0.8 }),
      touchpoint('b2', 'risk-b', '2024-05-02T12:00:00Z', { channel: 'email', touchpoint: 'nps_survey', survey_kind: 'NPS', survey_score: 10 }),
      touchpoint('c1', 'risk-c', '2024-05-02T13:00:00Z'),
    ],
  });
  const signal = (id: string, customer: string, iso: string) => ({
    signal_id: id, customer_id: customer, type: 'negative_sentiment', weight: 2, event_id: 'a1', occurred_at: dateTime64FromMicros(at(iso)),
    channel: 'phone', touchpoint: 'support_call', journey: '', stage: '', explanation: 'x', rules_version: '', kafka_partition: 0, kafka_offset: 0,
  });
  await storeRows(ch.client, { table: 'signals', dedupToken: 'churn-risk-kpis:signals', rows: [signal('s1', 'risk-a', '2024-05-02T09:00:00Z'), signal('s2', 'risk-a', '2024-05-02T10:00:00Z')] });
  const score = (customer: string, band: string, value: number, iso: string) => ({
    customer_id: customer, score: value, band, event_id: 'e', scored_at: dateTime64FromMicros(at(iso)), model_version: 'm1', rules_version: '',
  });
  // risk-a was low, then high: the newest score counts.
  await insertRows(ch.client, { table: 'churn_scores', rows: [score('risk-a', 'low', 0.1, '2024-05-01T10:00:00Z'), score('risk-a', 'high', 0.7, '2024-05-02T11:00:00Z'), score('risk-b', 'low', 0.05, '2024-05-02T12:00:00Z')] });
}, 120_000);

afterAll(async () => {
  await ch?.close();
});

describe('KPIs by churn-risk band', () => {
  it('split every customer by their current band, unscored without a score', async () => {
    const r = await queryKpis(ch.client, { fromMicros, toMicros, interval: 'day', by: 'churn_risk' });
    expect(r.by).toBe('churn_risk');
    const byKey = Object.fromEntries(r.totals.map((t) => [t.key, t]));
    expect(Object.keys(byKey)).toEqual(['high', 'low', 'unscored']);
    expect(byKey.high).toMatchObject({ events: 3, unique_customers: 1, nps: -100, nps_responses: 1, signals: 2, sentiment_mean: -0.6, outcomes: 1, abandonment_rate: 1, fcr: null });
    expect(byKey.high!.negative_signal_rate).toBeCloseTo(200 / 3, 3);
    // The previous period counts the same customer in the same (current) band.
    expect(byKey.high!.previous.events).toBe(1);
    expect(byKey.low).toMatchObject({ events: 2, nps: 100, signals: 0 });
    expect(byKey.unscored).toMatchObject({ events: 1, unique_customers: 1 });
    expect(r.buckets.map((b) => b.key)).toEqual(['high', 'low', 'unscored']);
  });

  it('filter to one band, with or without another split', async () => {
    const high = await queryKpis(ch.client, { fromMicros, toMicros, interval: 'day', churnRisk: 'high' });
    expect(high.totals).toHaveLength(1);
    expect(high.totals[0]).toMatchObject({ events: 3, signals: 2 });
    const byChannel = await queryKpis(ch.client, { fromMicros, toMicros, interval: 'hour', by: 'channel', churnRisk: 'low' });
    expect(byChannel.totals.map((t) => [t.key, t.events])).toEqual([['email', 1], ['phone', 1]]);
  });
});
