import { describe, expect, it } from 'vitest';
import { formatReportTable, matchSignals, quantile, type Label, type ObservedSignal } from './report.ts';

const label = (customer: string, type: Label['type'], event: string, dueAtMs?: number): Label => ({ customer_id: customer, type, event_id: event, ...(dueAtMs ? { dueAtMs } : {}) });
const signal = (id: string, customer: string, type: string, event: string, arrivedAtMs: number): ObservedSignal => ({ signal_id: id, customer_id: customer, type, event_id: event, arrivedAtMs });

describe('quantile', () => {
  it('is the nearest rank', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([5], 0.95)).toBe(5);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile(Array.from({ length: 100 }, (_, i) => i + 1), 0.95)).toBe(95);
  });
});

describe('matchSignals', () => {
  const accepted = new Map([['a.1', 1000], ['b.0', 1000], ['c.0', 2000], ['d.0', 2000]]);

  it('counts TP on (customer, type, event), FP for the wrong event or an unlabelled signal, FN for the rest', () => {
    const report = matchSignals({
      labels: [label('a', 'repeat_contact', 'a.1'), label('b', 'repeat_contact', 'b.0'), label('c', 'survey_detractor', 'c.0')],
      signals: [
        signal('s1', 'a', 'repeat_contact', 'a.1', 1300),
        signal('s1', 'a', 'repeat_contact', 'a.1', 1900), // redelivered: counted once, first arrival
        signal('s2', 'b', 'repeat_contact', 'b.9', 1500), // right type, wrong event
        signal('s3', 'c', 'survey_detractor', 'c.0', 2500),
        signal('s4', 'd', 'survey_detractor', 'd.0', 2100), // nothing labelled
      ],
      alerts: [{ alert_id: 'x', customer_id: 'c', signal_ids: ['s3'], arrivedAtMs: 2700 }],
      acceptedAtMs: accepted,
    });
    const repeat = report.rows.find((r) => r.type === 'repeat_contact')!;
    expect(repeat).toMatchObject({ labelled: 2, predicted: 2, tp: 1, fp: 1, fn: 1, precision: 0.5, recall: 0.5 });
    expect(repeat.signalDelay).toEqual({ count: 1, medianMs: 300, p95Ms: 300 });
    expect(repeat.falsePositives).toEqual(['b b.9']);
    expect(repeat.falseNegatives).toEqual(['b b.0']);
    const detractor = report.rows.find((r) => r.type === 'survey_detractor')!;
    expect(detractor).toMatchObject({ labelled: 1, predicted: 2, tp: 1, fp: 1, fn: 0, recall: 1 });
    expect(detractor.alertDelay).toEqual({ count: 1, medianMs: 700, p95Ms: 700 });
    expect(report.misses).toContain('repeat_contact: precision 0.500 < 0.9');
    expect(report.misses).toContain('repeat_contact: recall 0.500 < 0.9');
    expect(report.misses).toContain('survey_detractor: precision 0.500 < 0.9');
    // Labelled but never predicted is a miss; neither labelled nor predicted is not.
    expect(report.misses.some((m) => m.startsWith('sla_breach'))).toBe(false);
  });

  it('measures the timer from its due time and flags a slow median', () => {
    const report = matchSignals({
      labels: [label('t', 'journey_not_completed', 't.0', 10_000), label('u', 'journey_not_completed', 'u.0', 10_000)],
      signals: [signal('s', 't', 'journey_not_completed', 't.0', 10_800), signal('s2', 'u', 'journey_not_completed', 'u.0', 13_000)],
      alerts: [],
      acceptedAtMs: new Map([['t.0', 1], ['u.0', 1]]),
    });
    const timer = report.rows.find((r) => r.type === 'journey_not_completed')!;
    expect(timer.signalDelay).toEqual({ count: 2, medianMs: 800, p95Ms: 3000 });
    expect(report.misses).toEqual([]);
    const slow = matchSignals({
      labels: [label('t', 'journey_not_completed', 't.0', 10_000)],
      signals: [signal('s', 't', 'journey_not_completed', 't.0', 12_500)],
      alerts: [],
      acceptedAtMs: new Map(),
    });
    expect(slow.misses).toEqual(['journey_not_completed: median delay 2500 ms > 1000 ms']);
  });

  it('counts signals of backfill touchpoints apart, and any alert they raise as a miss', () => {
    const base = {
      labels: [],
      signals: [signal('old', 'b', 'survey_detractor', 'b.0', 100)],
      acceptedAtMs: new Map([['b.0', 50]]),
      backfillEventIds: new Set(['b.0']),
    };
    const quiet = matchSignals({ ...base, alerts: [] });
    expect(quiet.backfill).toEqual({ events: 1, signals: 1, alerts: 0 });
    expect(quiet.rows.find((r) => r.type === 'survey_detractor')).toMatchObject({ predicted: 0, fp: 0 });
    expect(quiet.misses).toEqual([]);
    const alerted = matchSignals({ ...base, alerts: [{ alert_id: 'a', customer_id: 'b', signal_ids: ['old'], arrivedAtMs: 120 }] });
    expect(alerted.misses).toEqual(['backfill: 1 alert(s) raised by touchpoints beyond the horizon']);
  });

  it('prints a Markdown table with a row per catalogue signal', () => {
    const table = formatReportTable(matchSignals({ labels: [], signals: [], alerts: [], acceptedAtMs: new Map() }));
    expect(table.split('\n')).toHaveLength(2 + 11);
    expect(table).toContain('| `channel_hopping` | 0 | 0 | 0 | 0 | 0 | — | — | — | — | — | — |');
  });
});
