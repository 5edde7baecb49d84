import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain browser ES module without types
import { formatDuration, gapFill, heatmapCellText, intervalFor, isKpiAlert, kpiAlertSummary, rangeOf, readableExplanation, searchFromView, tileDelta, toCsv, viewFromSearch } from '../public/format.js';

describe('tileDelta', () => {
  it('colours a change by whether the figure is better higher or lower', () => {
    // NPS 30 → 36: +20 %, higher is better → good. Wait 60 s → 90 s: +50 %, lower is better → bad.
    expect(tileDelta(36, 30, true)).toEqual({ text: '▲ 20.0 % vs previous period', tone: 'good' });
    expect(tileDelta(90_000, 60_000, false)).toEqual({ text: '▲ 50.0 % vs previous period', tone: 'bad' });
    expect(tileDelta(40_000, 60_000, false).tone).toBe('good');
    // A negative previous value: NPS −20 → −10 is an improvement of 50 %.
    expect(tileDelta(-10, -20, true)).toEqual({ text: '▲ 50.0 % vs previous period', tone: 'good' });
  });

  it('stays neutral for volumes and tiny moves, and says when there is nothing to compare', () => {
    expect(tileDelta(120, 100, null).tone).toBe('flat');
    expect(tileDelta(100.4, 100, true).tone).toBe('flat');
    expect(tileDelta(5, null, true)).toEqual({ text: 'no data in the previous period', tone: 'flat' });
    expect(tileDelta(null, 5, true)).toEqual({ text: 'no data in this period', tone: 'flat' });
    expect(tileDelta(5, 0, true)).toEqual({ text: 'previous period: 0', tone: 'flat' });
  });
});

describe('heatmapCellText', () => {
  it('says the value against its target in the metric\'s unit', () => {
    expect(heatmapCellText('nps', { value: 12.34567, target: 30, warn: 0, direction: 'higher_is_better', status: 'warn' })).toBe(
      'NPS: 12.3 · target at least 30 (warn 0) · warn',
    );
    expect(heatmapCellText('avg_wait_ms', { value: 95_000, target: 60_000, warn: 120_000, direction: 'lower_is_better', status: 'no_data' })).toBe(
      'Wait (mean): 1.6 min · target at most 1.0 min (warn 2.0 min) · no data',
    );
  });
});

describe('readableExplanation', () => {
  it('turns milliseconds into durations, rounds long doubles and localises ISO stamps', () => {
    expect(readableExplanation('handling 844662 ms > phone handling SLA 10 minutes')).toBe('handling 14.1 min > phone handling SLA 10 minutes');
    expect(readableExplanation('sentiment -0.912345 below -0.5')).toBe('sentiment -0.91 below -0.5');
    expect(readableExplanation('2nd contact (previous 2026-12-04T14:41:45Z)', (iso: string) => `<${iso.slice(11, 16)}>`)).toBe('2nd contact (previous <14:41>)');
    expect(formatDuration(950)).toBe('950 ms');
  });
});

describe('gapFill', () => {
  it('puts a zero in every hour without a bucket, over the whole range', () => {
    const h = 3600e3;
    const from = Date.parse('2024-05-01T00:30:00Z');
    const rows = gapFill([{ bucket: '2024-05-01T02:00:00.000000Z', events: 7, signals: 1 }], from, from + 4 * h, h, ['events', 'signals']);
    expect(rows.map((r: { events: number }) => r.events)).toEqual([0, 0, 7, 0, 0]);
    expect(rows[0].t).toBe(Date.parse('2024-05-01T00:00:00Z'));
  });
});

describe('the view in the URL', () => {
  it('round-trips page, custom range, filters and page parameters, dropping a key', () => {
    const search = '?page=funnels&range=custom&from=2024-05-01T00%3A00%3A00.000Z&to=2024-05-02T00%3A00%3A00.000Z&channel=web&journey=retail&persona=senior_assisted&churn_risk=high&steps=a%2Cb&key=secret';
    const view = viewFromSearch(search);
    expect(view).toEqual({ page: 'funnels', range: 'custom', from: '2024-05-01T00:00:00.000Z', to: '2024-05-02T00:00:00.000Z', channel: 'web', journey: 'retail', persona: 'senior_assisted', churn_risk: 'high', params: { steps: 'a,b' } });
    expect(viewFromSearch(searchFromView(view))).toEqual(view);
    expect(rangeOf(view)).toEqual({ fromMs: Date.parse('2024-05-01T00:00:00Z'), toMs: Date.parse('2024-05-02T00:00:00Z') });
    expect(rangeOf(viewFromSearch('?range=7d'), 10 * 86400e3)).toEqual({ fromMs: 3 * 86400e3, toMs: 10 * 86400e3 });
    expect(viewFromSearch('?range=bogus').range).toBe('24h');
    expect(intervalFor(30 * 86400e3)[0]).toBe('hour');
  });
});

describe('toCsv', () => {
  it('names a column by its csvLabel when the screen label differs, and takes csv(row) for its value', () => {
    const columns = [{ key: 'seen', label: 'Seen (first – last)', csvLabel: 'first_seen', csv: (r: { f: string }) => r.f }, { key: 'last', label: 'last_seen', csvOnly: true }];
    expect(toCsv([{ f: '2024-01-01', last: '2024-01-02' }], columns)).toBe('first_seen,last_seen\r\n2024-01-01,2024-01-02\r\n');
  });

  it('quotes what needs quoting', () => {
    expect(toCsv([{ a: 'x,y', b: 'say "hi"' }, { a: null, b: 2 }], [{ key: 'a', label: 'A' }, { key: 'b', label: 'B' }])).toBe('A,B\r\n"x,y","say ""hi"""\r\n,2\r\n');
  });
});

describe('KPI deviation alerts in words', () => {
  // As the processor writes one (services/processor/src/anomaly/alert.ts): the detail signal carries the figures.
  const detail = {
    metric: 'abandonment_rate', dimension: 'touchpoint', value: 'checkout_page', observed: 0.4, expected: 0.1, deviation: 7.04, change: 3,
    window_minutes: 1, window_start: '2026-12-04T10:00:00.000Z', window_end: '2026-12-04T10:01:00.000Z', denominator: 50, baseline: 'recent',
    contributions: [{ dimension: 'channel', value: 'web', share: 0.998, excess: 15, count: 50 }],
  };
  const alert = {
    alert_id: 'k1', customer_id: 'kpi:touchpoint=checkout_page', triggered_by: 'kpi_anomaly', level: 'at_risk', score: 7.04, score_before: 0,
    signals: [
      { signal_id: 'k1', type: 'kpi_anomaly', weight: 7.04, event_id: '', explanation: 'abandonment_rate at touchpoint=checkout_page: observed 40.0 % vs expected 10.0 %' },
      { signal_id: 'k1:detail', type: 'kpi_anomaly_detail', weight: 0, event_id: '', explanation: JSON.stringify(detail) },
    ],
  };
  const utc = (ms: number) => new Date(ms).toISOString().slice(11, 16);

  it('tells a KPI alert from a customer alert', () => {
    expect(isKpiAlert(alert)).toBe(true);
    expect(isKpiAlert({ ...alert, triggered_by: 'evt-7', customer_id: 'c-1' })).toBe(false);
  });

  it('gives the metric, expected against observed, deviation and contribution in units', () => {
    const s = kpiAlertSummary(alert, utc);
    expect(s).toMatchObject({ series: 'touchpoint checkout_page', metric: 'Abandonment rate', observed: '40.0 %', expected: '10.0 %', change: '+300 %', window: '1 min, 10:00–10:01' });
    expect(s.deviation).toBe('deviation score 7.0 (above expected)');
    expect(s.contributions).toEqual(['channel web (100 %)']);
    expect(s.text).toBe('Abandonment rate at touchpoint checkout_page: 40.0 % observed against 10.0 % expected (+300 %), deviation score 7.0 (above expected), over 1 min, 10:00–10:01. Most of the deviation: channel web (100 %).');
  });

  it('waits as durations, volume per minute, a drop below expected', () => {
    const wait = { ...alert, signals: [{ ...alert.signals[1], explanation: JSON.stringify({ ...detail, metric: 'wait_p90', observed: 300_000, expected: 120_000, change: 1.5 }) }] };
    expect(kpiAlertSummary(wait, utc)).toMatchObject({ metric: 'Wait (p90)', observed: '5.0 min', expected: '2.0 min', change: '+150 %' });
    const drop = { ...alert, signals: [{ ...alert.signals[1], explanation: JSON.stringify({ ...detail, metric: 'volume', observed: 12, expected: 40.25, change: -0.7, deviation: -5.2, contributions: [] }) }] };
    expect(kpiAlertSummary(drop, utc)).toMatchObject({ observed: '12 touchpoints/min', expected: '40.3 touchpoints/min', change: '−70 %', deviation: 'deviation score 5.2 (below expected)' });
    expect(kpiAlertSummary(drop, utc).text).not.toContain('Most of the deviation');
  });

  it('without the detail, the explanation made readable', () => {
    const bare = { ...alert, signals: [alert.signals[0]] };
    expect(kpiAlertSummary(bare, utc)).toMatchObject({ series: 'touchpoint checkout_page', text: alert.signals[0]!.explanation });
  });
});
