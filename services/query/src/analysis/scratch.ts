import { createClickHouse, migrate, insertRows, dateTime64FromMicros } from '@touchstream/clickhouse';
import { queryFunnel, queryDropped } from '/work/wt-4b/services/query/src/analysis/funnels.ts';
const ch = createClickHouse({ path: '/tmp/wt4b/chdb' });
await migrate(ch);
const base = Date.UTC(2024, 4, 1) * 1000;
const ev = (id: string, c: string, minutes: number, tp: string, channel = 'web') => ({ event_id: id, customer_id: c, occurred_at: dateTime64FromMicros(base + minutes * 60e6), received_at: dateTime64FromMicros(base), channel, touchpoint: tp, initiator: 'customer', journey: '', stage: '', reason: '', outcome: '', survey_kind: '', survey_comment: '', agent_id: '', session_id: '', attributes: {}, kafka_partition: 0, kafka_offset: 0 });
await ch.command({ query: 'TRUNCATE TABLE touchpoints' });
await insertRows(ch, { table: 'touchpoints', rows: [
  ev('1', 'a', 0, 'home'), ev('2', 'a', 1, 'cart'), ev('3', 'a', 3, 'pay'),
  ev('4', 'b', 0, 'home', 'app'), ev('5', 'b', 5, 'cart', 'app'), ev('5b', 'b', 6, 'faq', 'app'),
  ev('6', 'c', 0, 'home'), ev('7', 'c', 2, 'help'),
] });
const req = { steps: [{ touchpoint: 'home' }, { touchpoint: 'cart' }, { touchpoint: 'pay' }], exclusions: [], order: 'ordered' as const, windowMicros: 3600e6, fromMicros: base, toMicros: base + 86400e6, breakdown: 'channel' as const };
const f = await queryFunnel(ch, req); const compact = (ss: any[]) => ss.map((s: any) => [s.customers, s.conversion_from_previous, s.median_seconds_from_previous, s.p90_seconds_from_previous, s.median_seconds_from_first, s.histogram_from_previous.map((h: any) => h.customers).join("")]); console.log(JSON.stringify(compact(f.steps)), JSON.stringify(f.breakdown!.groups.map(g => [g.key, compact(g.steps)])));
console.log(JSON.stringify(await queryDropped(ch, req, { step: 2, limit: 10, offset: 0, top: 5 }), null, 1));
console.log(JSON.stringify(await queryFunnel(ch, { ...req, order: 'unordered', breakdown: 'first_channel' }).then(r => r.steps.map(s => [s.customers, s.median_seconds_from_first]))));
await ch.close();
const { queryPaths } = await import('/work/wt-4b/services/query/src/analysis/paths.ts');
const ch2 = createClickHouse({ path: '/tmp/wt4b/chdb' });
console.log(JSON.stringify(await queryPaths(ch2, { anchor: { kind: 'start', touchpoint: 'home' }, depth: 3, top: 2, fromMicros: base, toMicros: base + 86400e6 })));
console.log(JSON.stringify(await queryPaths(ch2, { anchor: { kind: 'end', touchpoint: 'cart' }, depth: 3, top: 5, fromMicros: base, toMicros: base + 86400e6 })));
await ch2.close();
