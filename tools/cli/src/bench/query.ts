// `touchstream bench`: ≥ 10M touchpoints into ClickHouse (chDB by default) through @clickhouse/client, then every
// query-API request type many times through the real query plugin (Fastify inject: routing, validation, auth,
// serialisation included), printing p50/p95 per request type. The data directory is reused when it already holds
// the same dataset (same seed and size), so only the first run pays for generation.
import { environment } from '@touchstream/app';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { Command } from 'commander';
import Fastify from 'fastify';
import { enforceRoles } from '@touchstream/runtime';
import type { Redis } from 'ioredis';
import { createClickHouse, dateTime64FromMicros, insertRows, migrate, rollUpStoredRows, type ClickHouseClient } from '@touchstream/clickhouse';
import { queryPlugin } from '@touchstream/query';
import { benchCustomer, benchEpochEndMicros, benchSpanDays, type BenchCustomer } from './query-data.ts';
import { seededRng } from '../demo/demo.ts';
import { progressBar } from '../progress.ts';
import { pipelineBenchCommand } from './pipeline.ts';
import { stageBenchCommand } from './stage.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const dayMs = 86_400_000;

interface BenchOptions {
  dir: string;
  events: string;
  seed: string;
  iterations: string;
  batch: string;
  only?: string;
}

const labelledBar = (label: string) => progressBar(`${label} [{bar}] {percentage}% · {value}/{total} {unit} · {eta_formatted} left`, { everyMs: 15_000 });

const datasetTable = `CREATE TABLE IF NOT EXISTS bench_dataset (seed UInt32, events UInt64, customers UInt64, generated_at DateTime) ENGINE = MergeTree ORDER BY seed`;

async function existingDataset(clickhouse: ClickHouseClient, seed: number, events: number) {
  await clickhouse.command({ query: datasetTable });
  const rows = await (
    await clickhouse.query({
      query: 'SELECT events, customers FROM bench_dataset WHERE seed = {seed:UInt32} AND events >= {events:UInt64} LIMIT 1',
      query_params: { seed, events },
      format: 'JSONEachRow',
    })
  ).json<{ events: number | string; customers: number | string }>();
  return rows[0] ? { events: Number(rows[0].events), customers: Number(rows[0].customers) } : null;
}

/** Tables that hold data (not views, not the migration log); names come from system.tables, never from input. */
async function storedTables(clickhouse: ClickHouseClient): Promise<string[]> {
  const rows = await (
    await clickhouse.query({
      query: `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' AND name NOT IN ('schema_migrations', 'migration_marks') ORDER BY name`,
      format: 'JSONEachRow',
    })
  ).json<{ name: string }>();
  return rows.map((r) => r.name);
}

/** Every rollup of the generated raw rows, a day of event time at a time, with a progress bar. */
async function rollUp(clickhouse: ClickHouseClient) {
  const [span] = await (
    await clickhouse.query({
      query: `SELECT toUnixTimestamp(min(toStartOfDay(occurred_at))) AS first, toUnixTimestamp(max(toStartOfDay(occurred_at))) AS last FROM (SELECT occurred_at FROM touchpoints UNION ALL SELECT occurred_at FROM signals)`,
      format: 'JSONEachRow',
    })
  ).json<{ first: number | string; last: number | string }>();
  const first = Number(span!.first) * 1000;
  const days = Math.round((Number(span!.last) * 1000 - first) / dayMs) + 1;
  const bar = labelledBar('rolling up');
  bar.start(days, 0, { unit: 'days' });
  const day = (i: number) => new Date(first + i * dayMs).toISOString().slice(0, 10);
  for (let i = 0; i < days; i++) {
    for (const table of ['touchpoints', 'signals']) await rollUpStoredRows(clickhouse, table, { from: day(i), to: day(i + 1) });
    bar.update(i + 1);
  }
  bar.stop();
}

async function generate(clickhouse: ClickHouseClient, seed: number, targetEvents: number, batchSize: number) {
  // Every stored table (raw, aggregates, rollups) starts empty.
  const tables = await storedTables(clickhouse);
  for (const table of tables) await clickhouse.command({ query: `TRUNCATE TABLE ${table}` });
  const bar = labelledBar('generating');
  bar.start(targetEvents, 0, { unit: 'events' });
  let events = 0;
  let customers = 0;
  let touchpointRows: object[] = [];
  let signalRows: object[] = [];
  let alertRows: object[] = [];
  const flush = async () => {
    // Raw only: the rollups are computed from the raw tables afterwards, a day at a time (rollUp), which is
    // much faster than one INSERT … SELECT per rollup and chunk as the sink does per batch.
    await insertRows(clickhouse, { table: 'touchpoints', rows: touchpointRows, rawOnly: true });
    await insertRows(clickhouse, { table: 'signals', rows: signalRows, rawOnly: true });
    await insertRows(clickhouse, { table: 'alerts', rows: alertRows });
    touchpointRows = [];
    signalRows = [];
    alertRows = [];
  };
  const add = (c: BenchCustomer) => {
    for (const e of c.touchpoints) {
      touchpointRows.push({
        event_id: e.event_id, customer_id: e.customer_id, occurred_at: dateTime64FromMicros(e.occurred_us), received_at: dateTime64FromMicros(e.occurred_us + 150_000),
        channel: e.channel, touchpoint: e.touchpoint, initiator: e.initiator, journey: e.journey, stage: e.stage, reason: e.reason, outcome: e.outcome,
        duration_ms: e.duration_ms, wait_ms: e.wait_ms, sentiment: e.sentiment, survey_kind: e.survey_kind, survey_score: e.survey_score,
        kafka_partition: 0, kafka_offset: events++,
      });
    }
    for (const s of c.signals) {
      signalRows.push({ signal_id: s.signal_id, customer_id: s.customer_id, type: s.type, weight: s.weight, event_id: s.event_id,
        occurred_at: dateTime64FromMicros(s.occurred_us), channel: s.channel, touchpoint: s.touchpoint, journey: s.journey, stage: '', explanation: s.type, rules_version: 'bench' });
    }
    for (const a of c.alerts) {
      alertRows.push({ alert_id: a.alert_id, customer_id: a.customer_id, score: a.score, score_before: 0, level: a.level, signals: [], triggered_by: a.triggered_by,
        at: dateTime64FromMicros(a.at_us), rules_version: 'bench' });
    }
  };
  while (events < targetEvents) {
    add(benchCustomer(customers++, seed));
    if (touchpointRows.length >= batchSize) {
      await flush();
      bar.update(Math.min(events, targetEvents));
    }
  }
  await flush();
  bar.update(targetEvents);
  bar.stop();
  await rollUp(clickhouse);
  process.stderr.write('merging parts (OPTIMIZE … FINAL)…\n');
  for (const table of tables) await clickhouse.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
  await clickhouse.command({
    query: 'INSERT INTO bench_dataset SELECT {seed:UInt32}, {events:UInt64}, {customers:UInt64}, now()',
    query_params: { seed, events, customers },
  });
  return { events, customers };
}

interface RequestType {
  name: string;
  /** Builds the i-th request (parameters varied deterministically). */
  request: (i: number, rng: () => number) => { method: 'GET' | 'POST'; url: string; payload?: object };
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function benchRequestTypes(routes: Set<string>): RequestType[] {
  const endMs = benchEpochEndMicros / 1000;
  const startMs = endMs - benchSpanDays * dayMs;
  // A random whole-day window of `days` inside the dataset.
  const range = (rng: () => number, days: number) => {
    const from = startMs + Math.floor(rng() * (benchSpanDays - days)) * dayMs;
    return { from: iso(from), to: iso(from + days * dayMs) };
  };
  const qs = (o: Record<string, string | number>) => new URLSearchParams(Object.entries(o).map(([k, v]) => [k, String(v)])).toString();
  const funnels = [
    [{ touchpoint: 'product_page' }, { touchpoint: 'cart_page' }, { touchpoint: 'checkout_page' }, { touchpoint: 'payment_failed', optional: true }, { touchpoint: 'order_placed' }, { touchpoint: 'order_confirmation_email', channel: 'email' }],
    [{ touchpoint: 'invoice_email' }, { touchpoint: 'ivr_menu', channel: 'ivr' }, { touchpoint: 'billing_inquiry_call', channel: 'phone' }, { touchpoint: 'nps_survey' }, { touchpoint: 'contract_cancelled' }],
    [{ touchpoint: 'verification_request_email' }, { touchpoint: 'verification_start_page' }, { touchpoint: 'document_upload' }, { touchpoint: 'verification_completed' }],
  ];
  const types: RequestType[] = [
    {
      name: 'kpis (1 day, hourly, by channel)',
      request: (_i, rng) => ({ method: 'GET', url: `/v1/kpis?${qs({ ...range(rng, 1), interval: 'hour', by: 'channel' })}` }),
    },
    {
      name: 'kpis (30 days, daily)',
      request: (_i, rng) => ({ method: 'GET', url: `/v1/kpis?${qs({ ...range(rng, 30), interval: 'day' })}` }),
    },
    {
      name: 'funnels (30 days)',
      request: (i, rng) => ({
        method: 'POST',
        url: '/v1/funnels',
        payload: { steps: funnels[i % funnels.length], window: pick(rng, ['1d', '7d', '14d']), order: i % 4 === 3 ? 'unordered' : 'ordered', breakdown: i % 2 ? 'channel' : undefined, ...range(rng, 30) },
      }),
    },
    {
      name: 'funnels/dropped (30 days)',
      request: (i, rng) => ({ method: 'POST', url: `/v1/funnels/dropped?step=${2 + (i % 2)}&limit=100`, payload: { steps: funnels[i % funnels.length], window: '7d', ...range(rng, 30) } }),
    },
    {
      name: 'paths (30 days, depth 5)',
      request: (i, rng) => {
        const start = i % 2 === 0;
        const tp = pick(rng, start ? ['product_page', 'invoice_email', 'verification_start_page', 'app_login'] : ['contract_cancelled', 'order_placed', 'support_chat', 'verification_help']);
        return { method: 'GET', url: `/v1/paths?${qs({ [start ? 'start' : 'end']: tp, depth: 5, top: 8, ...range(rng, 30) })}` };
      },
    },
    {
      name: 'drivers (30 days)',
      request: (_i, rng) => ({
        method: 'GET',
        url: `/v1/drivers?${qs({ outcome: pick(rng, ['contract_cancelled', 'survey_detractor', 'journey_abandoned', 'alert_raised']), days: pick(rng, [7, 14]), ...range(rng, 30) })}`,
      }),
    },
    {
      name: 'attribution (30 days)',
      request: (_i, rng) => ({
        method: 'GET',
        url: `/v1/attribution?${qs({ conversion: pick(rng, ['order_placed', 'contract_cancelled', 'verification_completed']), by: pick(rng, ['channel', 'touchpoint']), lookback: '14d', half_life: '3d', ...range(rng, 30) })}`,
      }),
    },
  ];
  // Issue 4a's endpoints, when this build has them.
  if (routes.has('/v1/heatmap')) {
    types.splice(
      2, 0,
      { name: 'heatmap (1 day)', request: (_i, rng) => ({ method: 'GET', url: `/v1/heatmap?${qs(range(rng, 1))}` }) },
      { name: 'heatmap (30 days)', request: (_i, rng) => ({ method: 'GET', url: `/v1/heatmap?${qs(range(rng, 30))}` }) },
    );
  }
  // The workspace's global filters on the KPIs (docs/architecture.md §19): one filter reads the per-dimension
  // rollup's rows, two at once the rollup with every dimension on each row; the filtered heat map reads the latter.
  if (routes.has('/v1/heatmap')) {
    const scope = (rng: () => number) => pick(rng, [{ channel: 'email', journey: 'retail_checkout' }, { channel: 'phone', journey: 'billing_support' }]);
    types.splice(
      4, 0,
      { name: 'kpis (30 days, hourly)', request: (_i, rng) => ({ method: 'GET', url: `/v1/kpis?${qs({ ...range(rng, 30), interval: 'hour' })}` }) },
      { name: 'kpis (30 days, hourly, channel filter)', request: (_i, rng) => ({ method: 'GET', url: `/v1/kpis?${qs({ ...range(rng, 30), interval: 'hour', channel: scope(rng).channel })}` }) },
      { name: 'kpis (30 days, hourly, channel + journey)', request: (_i, rng) => ({ method: 'GET', url: `/v1/kpis?${qs({ ...range(rng, 30), interval: 'hour', ...scope(rng) })}` }) },
      { name: 'heatmap (30 days, channel + journey)', request: (_i, rng) => ({ method: 'GET', url: `/v1/heatmap?${qs({ ...range(rng, 30), ...scope(rng) })}` }) },
    );
  }
  return types;
}

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;

export function benchCommand(): Command {
  return new Command('bench')
    .description('Benchmarks: `bench query` (the default: query-API latency over ≥ 10M touchpoints), `bench pipeline` (throughput and latency end to end), `bench sink` / `bench processor` (one stage from a pre-filled topic)')
    .addCommand(queryBenchCommand(), { isDefault: true })
    .addCommand(pipelineBenchCommand())
    .addCommand(stageBenchCommand('sink'))
    .addCommand(stageBenchCommand('processor'));
}

function queryBenchCommand(): Command {
  return new Command('query')
    .description('Generate ≥ 10M touchpoints into ClickHouse (reused across runs) and time every query-API request type (p50/p95)')
    .option('--dir <dir>', 'chDB data directory for the benchmark dataset (reused when it already holds it)', '.bench/chdb')
    .option('--events <n>', 'touchpoints to generate', '10000000')
    .option('--seed <n>', 'seed of the generator (same seed, same data)', '42')
    .option('--iterations <n>', 'timed requests per request type (after one warm-up)', '20')
    .option('--batch <n>', 'rows per insert', '200000')
    .option('--only <substring>', 'only request types whose name contains this')
    .addHelpText('after', '\nSet CLICKHOUSE_URL to benchmark a ClickHouse server instead of embedded chDB (the dataset goes into its default database).')
    .action(async (opts: BenchOptions) => {
      const seed = Number(opts.seed);
      const targetEvents = Number(opts.events);
      const iterations = Number(opts.iterations);
      const url = environment().CLICKHOUSE_URL;
      const dir = path.resolve(repoRoot, opts.dir);
      const clickhouse = url ? createClickHouse({ url, requestTimeoutMs: 600_000 }) : createClickHouse({ path: dir });
      await migrate(clickhouse);
      let dataset = await existingDataset(clickhouse, seed, targetEvents);
      if (dataset) {
        process.stderr.write(`reusing the dataset in ${url ?? dir}: ${dataset.events.toLocaleString('en')} touchpoints, ${dataset.customers.toLocaleString('en')} customers (seed ${seed})\n`);
      } else {
        const started = Date.now();
        dataset = await generate(clickhouse, seed, targetEvents, Number(opts.batch));
        process.stderr.write(`generated ${dataset.events.toLocaleString('en')} touchpoints for ${dataset.customers.toLocaleString('en')} customers in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      }

      const readKey = 'bench-read-key';
      const app = Fastify({ logger: false });
      const routes = new Set<string>();
      enforceRoles(app, { keys: { read: { [readKey]: 'bench' } } });
      app.addHook('onRoute', (r) => void routes.add(r.url));
      const noRedis = new Proxy({}, { get: () => () => Promise.reject(new Error('the benchmark has no Redis')) }) as unknown as Redis;
      await app.register(queryPlugin({ clickhouse, redis: noRedis, halfLifeMs: 72 * 3_600_000, now: () => benchEpochEndMicros / 1000, log: app.log }));
      await app.ready();

      const types = benchRequestTypes(routes).filter((t) => !opts.only || t.name.includes(opts.only));
      const results: Array<{ name: string; p50: number; p95: number; max: number; failures: number }> = [];
      const bar = labelledBar('timing');
      bar.start(types.length * (iterations + 1), 0, { unit: 'requests' });
      for (const type of types) {
        const rng = seededRng(seed + type.name.length);
        const times: number[] = [];
        let failures = 0;
        for (let i = 0; i <= iterations; i++) {
          const req = type.request(i, rng);
          const t0 = performance.now();
          const res = await app.inject({ method: req.method, url: req.url, payload: req.payload, headers: { authorization: `Bearer ${readKey}` } });
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) {
            failures++;
            if (failures === 1) process.stderr.write(`\n${type.name}: ${res.statusCode} ${res.body.slice(0, 300)}\n`);
          }
          if (i > 0) times.push(ms); // the first request warms caches and is not counted
          bar.increment();
        }
        times.sort((a, b) => a - b);
        results.push({ name: type.name, p50: percentile(times, 0.5), p95: percentile(times, 0.95), max: times.at(-1)!, failures });
      }
      bar.stop();
      await app.close();
      await clickhouse.close();

      const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
      console.log(`\n${dataset.events.toLocaleString('en')} touchpoints, ${dataset.customers.toLocaleString('en')} customers, ${iterations} requests per type; ${url ? 'ClickHouse server' : 'chDB (embedded)'}`);
      console.log(`machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}\n`);
      const width = Math.max(...results.map((r) => r.name.length));
      console.log(`${'request'.padEnd(width)}  ${'p50 ms'.padStart(8)}  ${'p95 ms'.padStart(8)}  ${'max ms'.padStart(8)}  errors`);
      for (const r of results) {
        console.log(`${r.name.padEnd(width)}  ${r.p50.toFixed(0).padStart(8)}  ${r.p95.toFixed(0).padStart(8)}  ${r.max.toFixed(0).padStart(8)}  ${r.failures}`);
      }
    });
}
