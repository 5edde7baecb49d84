import { describe, expect, it } from 'vitest';
import { codecs, createCodec, loadSchemaFile, alertJson, alertLevelRank, type Alert } from './index.ts';

const v1Alert = {
  alert_id: 'a1', customer_id: 'c-1', score: 6.5, score_before: 2, level: 'at_risk',
  signals: [{ signal_id: 's1', type: 'survey_detractor', weight: 3, event_id: 'e1', explanation: 'NPS 3 ≤ 6' }],
  triggered_by: 'e1', at: 1_764_000_000_123_456, rules_version: null,
};

describe('Alert schema evolution (journey, channel)', () => {
  it('reads an alert written with the v1 schema, journey and channel null', () => {
    const v1 = createCodec<typeof v1Alert>(loadSchemaFile('alert.v1.avsc'));
    const decoded = codecs.alert.decode(v1.encode(v1Alert));
    expect(decoded).toEqual({ ...v1Alert, journey: null, channel: null });
  });

  it('round-trips journey and channel', () => {
    const alert: Alert = { ...v1Alert, journey: 'billing_support', channel: 'phone' };
    expect(codecs.alert.decode(codecs.alert.encode(alert))).toEqual(alert);
  });
});

describe('alertJson', () => {
  it('turns the event time into ISO-8601 with microseconds', () => {
    const json = alertJson({ ...v1Alert, journey: 'j', channel: null });
    expect(json.at).toBe('2025-11-24T16:00:00.123456Z');
    expect(json).toMatchObject({ alert_id: 'a1', journey: 'j', channel: null, signals: v1Alert.signals });
  });

  it('ranks levels', () => {
    expect(['watch', 'at_risk', 'critical', 'other'].map(alertLevelRank)).toEqual([1, 2, 3, 0]);
  });
});
