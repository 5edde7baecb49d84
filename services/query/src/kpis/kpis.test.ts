import { describe, expect, it } from 'vitest';
import { microsToIso, parseIsoToMicros } from '../shared/time.ts';
import { parsePersonas } from '@touchstream/contracts/personas';
import { personaSql } from '../personas/sql.ts';
import { alignRange, fcrTotalsFromSeries, kpiDimensionNames, kpiFcrSql, kpiIntervalNames, reactionTimeSql, signalAggregateSql, touchpointAggregateSql, touchpointReadOf } from './kpis.ts';

describe('KPI statements', () => {
  it('period FCR totals are the sums of the series buckets of each period', () => {
    const rows = [
      { g: 100, k: 'a', fcr_contacts: 3, fcr_resolved: 2 },
      { g: 200, k: 'a', fcr_contacts: '4', fcr_resolved: '1' },
      { g: 300, k: 'a', fcr_contacts: 5, fcr_resolved: 5 },
      { g: 400, k: 'b', fcr_contacts: 1, fcr_resolved: 0 },
      { g: 300, k: 'b', fcr_contacts: 2, fcr_resolved: 2 },
    ];
    const totals = fcrTotalsFromSeries(rows, 300).sort((x, y) => Number(x.g) - Number(y.g) || (x.k < y.k ? -1 : 1));
    expect(totals).toEqual([
      { g: 0, k: 'a', fcr_contacts: 7, fcr_resolved: 3 },
      { g: 1, k: 'a', fcr_contacts: 5, fcr_resolved: 5 },
      { g: 1, k: 'b', fcr_contacts: 3, fcr_resolved: 2 },
    ]);
  });

  it('leaves the uniq merge of customers out only when asked to', () => {
    expect(touchpointAggregateSql('day', 'stage', 'totals')).toContain('uniqCombined64Merge(15)(customers) AS unique_customers');
    expect(touchpointAggregateSql('minute', 'stage', 'totals')).toContain('uniqMerge(customers) AS unique_customers');
    const skipped = touchpointAggregateSql('day', 'stage', 'totals', { uniqueCustomers: false });
    expect(skipped).not.toContain('(customers)');
    expect(skipped).toContain('toUInt64(0) AS unique_customers');
  });

  it('reads one dimension\'s rows of the per-dimension rollups, every combination of the 1-minute table', () => {
    const hourly = touchpointAggregateSql('hour', 'channel', 'both');
    expect(hourly).toContain('FROM kpi_agg_1h');
    expect(hourly).toContain('dimension = {dimension:String}');
    expect(hourly).toContain('key AS k');
    const minute = touchpointAggregateSql('minute', 'channel', 'both');
    expect(minute).toContain('FROM touchpoint_agg_1m');
    expect(minute).not.toContain('dimension');
    expect(minute).toContain('channel AS k');
  });

  it('filters on the per-dimension rows when one filter matches the split, on the combined rollup otherwise', () => {
    // One filter, no split or split by it: kpi_agg_1h's rows of that dimension, that key.
    expect(touchpointReadOf('hour', undefined, { channel: 'phone' })).toEqual({ table: 'kpi_agg_1h', layout: 'single', dimension: 'channel', filterKey: 'channel' });
    expect(touchpointReadOf('day', 'journey', { journey: 'checkout' })).toEqual({ table: 'kpi_agg_1d', layout: 'single', dimension: 'journey', filterKey: 'journey' });
    const single = touchpointAggregateSql('hour', undefined, 'both', { filter: { channel: 'phone' } });
    expect(single).toContain("'' AS k");
    expect(single).toContain('dimension = {dimension:String} AND key = {channel:String}');
    // Two filters, or a filter and another split: every dimension on each row.
    expect(touchpointReadOf('hour', undefined, { channel: 'phone', journey: 'checkout' })).toMatchObject({ table: 'touchpoint_agg_1h', layout: 'combined' });
    expect(touchpointReadOf('day', 'stage', { touchpoint: 'cart' })).toMatchObject({ table: 'touchpoint_agg_1d', layout: 'combined' });
    const combined = touchpointAggregateSql('day', 'stage', 'totals', { filter: { channel: 'phone', touchpoint: 'cart' } });
    expect(combined).toContain('FROM touchpoint_agg_1d');
    expect(combined).toContain("({touchpoint:String} = '' OR touchpoint = {touchpoint:String})");
    expect(combined).toContain('uniqMerge(customers)');
    expect(combined).not.toContain('dimension');
    // Unfiltered: as before.
    expect(touchpointReadOf('hour', 'stage')).toEqual({ table: 'kpi_agg_1h', layout: 'single', dimension: 'stage', filterKey: null });
    expect(touchpointReadOf('minute', undefined, { channel: 'phone' })).toMatchObject({ table: 'touchpoint_agg_1m', layout: 'combined' });
  });
});

describe('alignRange', () => {
  it('widens a range to whole buckets', () => {
    const from = parseIsoToMicros('2024-05-01T12:34:56Z')!;
    const to = parseIsoToMicros('2024-05-01T14:00:01Z')!;
    const { alignedFrom, alignedTo } = alignRange(from, to, 'hour');
    expect([microsToIso(alignedFrom), microsToIso(alignedTo)]).toEqual(['2024-05-01T12:00:00.000000Z', '2024-05-01T15:00:00.000000Z']);
  });
});

describe('KPI SQL', () => {
  it('only ever contains whitelisted fragments and {name:Type} placeholders', () => {
    for (const interval of kpiIntervalNames) {
      for (const by of [undefined, ...kpiDimensionNames.filter((d) => d !== 'persona')]) {
        const statements = [
          ...(['totals', 'both'] as const).flatMap((g) => [touchpointAggregateSql(interval, by, g), signalAggregateSql(interval, by, g) ?? '']),
          ...(['series', 'totals'] as const).map((g) => kpiFcrSql(interval, by, g)),
        ];
        for (const sql of statements) {
          expect(sql).not.toMatch(/\d{4}-\d{2}-\d{2}/);
          // String literals (paired left to right) are fixed words such as 'UTC' or 'customer', never a value.
          for (const [literal] of sql.matchAll(/'[^']*'/g)) expect(literal).toMatch(/^'[A-Za-z_]*'$/);
        }
        for (const grouping of ['totals', 'both'] as const) {
          expect(touchpointAggregateSql(interval, by, grouping)).toContain('{prev_from_s:Int64}');
          expect(touchpointAggregateSql(interval, by, grouping)).toContain(`FROM ${{ minute: 'touchpoint_agg_1m', hour: 'kpi_agg_1h', day: 'kpi_agg_1d' }[interval]}`);
        }
        for (const grouping of ['series', 'totals'] as const) {
          expect(kpiFcrSql(interval, by, grouping)).toContain('FROM fcr_contacts FINAL');
          expect(kpiFcrSql(interval, by, grouping)).toContain('{fcr_days:UInt16}');
        }
        expect(touchpointAggregateSql(interval, by, 'both')).toContain('GROUPING SETS ((b, k), (p, k))');
      }
    }
  });

  it('by persona: reads the raw tables, and no name or value of the personas file is in the text', () => {
    const personas = personaSql(parsePersonas(`
fallback: zz_fallback_zz
personas:
  - name: zz_premium_zz
    when: { zz_tier_zz: { in: [zz_gold_zz, 1234567] }, zz_age_zz: { gte: 7654321, lt: 8765432 }, zz_flag_zz: true }
`, 'test.yaml'));
    for (const interval of kpiIntervalNames) {
      const statements = [
        touchpointAggregateSql(interval, 'persona', 'both', { persona: personas }),
        signalAggregateSql(interval, 'persona', 'both', undefined, personas)!,
        kpiFcrSql(interval, 'persona', 'series', false, personas),
        reactionTimeSql(interval, 'persona', 'both', false, personas),
      ];
      for (const sql of statements) {
        expect(sql).not.toMatch(/zz_|1234567|7654321|8765432/);
        expect(sql).toContain('{ps_0_0_a:String}');
      }
      expect(statements[0]).toContain('FROM touchpoints');
      expect(statements[1]).toContain('FROM signals');
    }
    expect(personas.params).toMatchObject({ ps_0: 'zz_premium_zz', ps_fallback: 'zz_fallback_zz', ps_0_0_in: ['string:zz_gold_zz', 'number:1234567'], ps_0_1_gte: 7654321, ps_0_2_eq: 'boolean:true' });
  });
});
