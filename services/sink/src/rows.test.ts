import { describe, expect, it } from 'vitest';
import { alertRow, signalRow, touchpointRow, UnstorableRecordError } from './rows.ts';
import { alert, signal, touchpoint } from './fixtures.test-support.ts';

describe('touchpointRow', () => {
  it('flattens the survey, blanks absent dimensions, keeps absent measures null and the Kafka origin', () => {
    const row = touchpointRow(
      touchpoint({
        journey: 'purchase',
        outcome: 'completed',
        wait_ms: 1200,
        survey: { kind: 'NPS', score: 3, comment: null },
        attributes: { campaign: 'spring' },
      }),
      { partition: 4, offset: '981' },
    );
    expect(row).toEqual({
      event_id: 'evt-1',
      customer_id: 'cust-1',
      occurred_at: '2025-03-01 10:15:00.123456',
      received_at: '2025-03-01 10:15:00.124456',
      channel: 'web',
      touchpoint: 'checkout_page',
      initiator: 'customer',
      journey: 'purchase',
      stage: '',
      reason: '',
      outcome: 'completed',
      duration_ms: null,
      wait_ms: 1200,
      sentiment: null,
      survey_kind: 'NPS',
      survey_score: 3,
      survey_comment: '',
      agent_id: '',
      session_id: '',
      attributes: { campaign: 'spring' },
      text: '',
      sentiment_source: '',
      kafka_partition: 4,
      kafka_offset: 981,
    });
  });

  it('defaults the origin for rows that did not come from Kafka (demo, tests)', () => {
    expect(touchpointRow(touchpoint())).toMatchObject({ kafka_partition: 0, kafka_offset: 0 });
  });

  it('refuses what ClickHouse cannot hold instead of failing the whole insert', () => {
    expect(() => touchpointRow(touchpoint({ occurred_at: -5 }))).toThrow(UnstorableRecordError);
    expect(() => touchpointRow(touchpoint({ occurred_at: Date.UTC(2200, 0, 1) * 1000 }))).toThrow(UnstorableRecordError);
    expect(() => touchpointRow(touchpoint({ survey: { kind: 'NPS', score: 40_000, comment: null } }))).toThrow(UnstorableRecordError);
    expect(() => touchpointRow(touchpoint({ duration_ms: 1.5 }))).toThrow(UnstorableRecordError);
  });

  it('stores a non-finite sentiment as absent', () => {
    expect(touchpointRow(touchpoint({ sentiment: Number.NaN })).sentiment).toBeNull();
  });

  it('keeps the text; scores text or a survey comment without a number and says so (migration 009)', () => {
    // wink-sentiment: "terrible" −3 → tanh(−1.5) = −0.905; "rude" −2 → tanh(−1) = −0.762
    expect(touchpointRow(touchpoint({ text: 'Terrible service.' }))).toMatchObject({ text: 'Terrible service.', sentiment: -0.905, sentiment_source: 'derived' });
    expect(touchpointRow(touchpoint({ survey: { kind: 'CSAT', score: 2, comment: 'Rude staff.' } }))).toMatchObject({ text: '', sentiment: -0.762, sentiment_source: 'derived' });
    expect(touchpointRow(touchpoint({ sentiment: 0.4, text: 'Terrible service.' }))).toMatchObject({ sentiment: 0.4, sentiment_source: 'given' });
    // NaN is no number: the text decides
    expect(touchpointRow(touchpoint({ sentiment: Number.NaN, text: 'Terrible service.' }))).toMatchObject({ sentiment: -0.905, sentiment_source: 'derived' });
    expect(touchpointRow(touchpoint())).toMatchObject({ sentiment: null, sentiment_source: '' });
  });
});

describe('signalRow and alertRow', () => {
  it('map every field', () => {
    expect(signalRow(signal(), { partition: 1, offset: 7 })).toEqual({
      signal_id: 'sig-1',
      customer_id: 'cust-1',
      type: 'survey_detractor',
      weight: 2,
      event_id: 'evt-1',
      occurred_at: '2025-03-01 10:15:00.123456',
      channel: 'web',
      touchpoint: '',
      journey: '',
      stage: '',
      explanation: 'NPS 3',
      rules_version: '',
      kafka_partition: 1,
      kafka_offset: 7,
    });
    // Every field of the alert as it is, but for the time as ClickHouse text and the Kafka origin. Journey and
    // channel (alert schema v2, for webhook/SSE filters) have no columns in the alerts table yet.
    const { journey: _journey, channel: _channel, ...stored } = alert({ journey: 'j', channel: 'c' });
    expect(alertRow(alert({ journey: 'j', channel: 'c' }), { partition: 2, offset: '3' })).toEqual({
      ...stored,
      at: '2025-03-01 10:15:00.123456',
      kafka_partition: 2,
      kafka_offset: 3,
    });
  });

  it('refuse non-finite weights and scores', () => {
    expect(() => signalRow(signal({ weight: Number.POSITIVE_INFINITY }))).toThrow(UnstorableRecordError);
    expect(() => alertRow(alert({ score: Number.NaN }))).toThrow(UnstorableRecordError);
  });
});
