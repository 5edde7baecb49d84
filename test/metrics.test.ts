// GET /metrics on the real executable (no OpenTelemetry variables: metrics are on by default), scraped before and
// after traffic; and the provisioned Grafana dashboards (deploy/grafana) checked against what the code really
// exposes: every PromQL metric name appears in that scrape, and every ClickHouse panel's SQL runs against the
// migrated schema (chDB, or the ClickHouse server of the run when CLICKHOUSE_URL is set). docs/architecture.md §17.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { migrate } from '@touchstream/clickhouse';
import { openTestClickHouse } from '@touchstream/clickhouse/testing';
import { eventually } from '@touchstream/testkit';
import { startExecutable, type RunningExecutable } from './executable.test-support.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const dashboardsDir = path.join(repoRoot, 'deploy/grafana/dashboards');
const run = randomUUID().slice(0, 8);
const WRITE_KEY = `metrics-write-${run}`;
const READ_KEY = `metrics-read-${run}`;
const METRICS_KEY = `metrics-scrape-key-${run}`;
/** No other test file uses this Redis database. */
const REDIS_DB = 11;

interface Panel { title: string; datasource: { type: string }; targets: Array<{ expr?: string; rawSql?: string }> }
function dashboards(): Array<{ file: string; panels: Panel[] }> {
  return readdirSync(dashboardsDir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, panels: (JSON.parse(readFileSync(path.join(dashboardsDir, file), 'utf8')) as { panels: Panel[] }).panels }));
}

/** Sample values by series (`name{labels}`) from a Prometheus text exposition. */
function parseExposition(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    series.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return series;
}

/** Sum of the samples of one metric name whose labels include every `label="value"` given. */
function total(series: Map<string, number>, name: string, labels: string[] = []): number {
  let sum = 0;
  for (const [key, value] of series) {
    const n = key.indexOf('{');
    if ((n < 0 ? key : key.slice(0, n)) === name && labels.every((l) => key.includes(l))) sum += value;
  }
  return sum;
}

/**
 * The Grafana ClickHouse plugin's macros, as the plugin expands them for a time range (`$__timeFilter(col)` is
 * `col >= toDateTime(from) AND col <= toDateTime(to)`, in seconds).
 */
function expandClickHouseMacros(sql: string, fromS: number, toS: number): string {
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, col: string) => `${col.trim()} >= toDateTime(${fromS}) AND ${col.trim()} <= toDateTime(${toS})`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_, col: string) => `toStartOfInterval(toDateTime(${col.trim()}), INTERVAL 60 second)`)
    .replace(/\$__fromTime/g, `toDateTime(${fromS})`)
    .replace(/\$__toTime/g, `toDateTime(${toS})`)
    .replace(/\$__interval_s/g, '60');
}

let executable: RunningExecutable | undefined;

afterAll(async () => {
  await executable?.stop();
});

describe('GET /metrics', () => {
  it('serves Prometheus series that move with traffic, and every PromQL name of the Grafana dashboards', async () => {
    executable = await startExecutable({
      name: 'metrics',
      redisDb: REDIS_DB,
      env: { WRITE_KEYS: `${WRITE_KEY}=metrics`, READ_KEYS: `${READ_KEY}=analyst`, KAFKA_GROUP_PREFIX: `metrics-${run}`, METRICS_KEY },
    });
    const { url, waitOptions: opts } = executable;

    // METRICS_KEY set: only its bearer may scrape.
    const refused = await fetch(`${url}/metrics`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('METRICS_KEY_REQUIRED');
    const scrapeText = async () => {
      const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_KEY}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return r.text();
    };
    const scrape = async () => parseExposition(await scrapeText());
    const before = await scrape();

    // Traffic: an unhappy customer (an alert), a valid event, one invalid (a dead letter), and a journey read.
    const customer = `metrics-${run}`;
    const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
    const base = { customer_id: customer, channel: 'phone', initiator: 'customer' };
    const events = [
      { ...base, occurred_at: iso(5000), touchpoint: 'billing_inquiry_call', reason: 'billing_dispute', outcome: 'unresolved', wait_ms: 600000, sentiment: -0.8 },
      { ...base, occurred_at: iso(4000), touchpoint: 'billing_inquiry_call', reason: 'billing_dispute', outcome: 'resolved', sentiment: -0.7 },
      { ...base, occurred_at: iso(3000), touchpoint: 'nps_survey', survey: { kind: 'NPS', score: 2, comment: 'called twice' } },
      { customer_id: customer, occurred_at: 'not a time', channel: 'phone', touchpoint: 'x' },
    ];
    const posted = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    const postBody = (await posted.json()) as { accepted: number; rejected: unknown[] };
    expect(posted.status).toBe(202);
    expect(postBody.accepted).toBe(3);
    expect(postBody.rejected).toHaveLength(1);
    await eventually('the journey stored', async () => {
      const r = await fetch(`${url}/v1/customers/${encodeURIComponent(customer)}/journey`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      const j = (await r.json()) as { timeline?: unknown[] };
      return r.status === 200 && (j.timeline?.length ?? 0) >= 3;
    }, opts);

    const moved = (after: Map<string, number>, name: string, labels: string[] = []) => total(after, name, labels) - total(before, name, labels);
    let after = new Map<string, number>();
    let notMoved: string[] = [];
    await eventually('every named series moved', async () => {
      after = await scrape();
      const checks = {
        httpIngest: moved(after, 'touchstream_http_server_duration_count', ['http_route="/v1/events"', 'http_response_status_code="202"']) >= 1,
        httpJourney: moved(after, 'touchstream_http_server_duration_count', ['http_route="/v1/customers/:customer_id/journey"']) >= 1,
        produced: moved(after, 'touchstream_kafka_produced_total', ['messaging_destination_name="touchpoints.v1"']) >= 3,
        consumed: moved(after, 'touchstream_kafka_consumed_total', [`messaging_consumer_group_name="metrics-${run}-processor"`]) >= 3,
        batchSizes: moved(after, 'touchstream_kafka_batch_size_count', [`messaging_consumer_group_name="metrics-${run}-sink"`]) >= 1,
        lag: [...after.keys()].some((k) => k.startsWith('touchstream_consumer_lag{') && k.includes(`metrics-${run}-sink`) && k.includes('messaging_destination_partition_id=')),
        redis: moved(after, 'touchstream_redis_duration_count') >= 1,
        clickhouse: moved(after, 'touchstream_clickhouse_duration_count', ['db_operation_name="insert"']) >= 1,
        produceLatency: moved(after, 'touchstream_kafka_produce_duration_count') >= 1,
        alerts: moved(after, 'touchstream_alerts_raised_total') >= 1,
        deadLetters: moved(after, 'touchstream_dead_letters_total', ['messaging_destination_name="touchpoints.invalid.v1"']) >= 1,
      };
      notMoved = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => k);
      return notMoved.length === 0;
    }, { ...opts, timeoutMs: 60_000, context: () => `not moved: ${notMoved.join(', ')}\n${opts.context()}` });

    // The operators' dashboard asks only for series that exist.
    const names = new Set([...after.keys()].map((k) => (k.includes('{') ? k.slice(0, k.indexOf('{')) : k)));
    const promql = dashboards().flatMap((d) => d.panels.filter((p) => p.datasource.type === 'prometheus').flatMap((p) => p.targets.map((t) => ({ panel: `${d.file}: ${p.title}`, expr: t.expr ?? '' }))));
    expect(promql.length).toBeGreaterThan(5);
    const unknown: string[] = [];
    for (const { panel, expr } of promql) {
      const metricNames = [...expr.matchAll(/\b(touchstream_[a-z0-9_]+)/g)].map((m) => m[1]!);
      expect(metricNames.length, `${panel} names no touchstream metric`).toBeGreaterThan(0);
      for (const name of metricNames) if (!names.has(name)) unknown.push(`${panel}: ${name}`);
    }
    expect(unknown, `PromQL names not in the scrape (${[...names].join(', ')})`).toEqual([]);
  }, 300_000);
});

describe('Grafana ClickHouse panels', () => {
  it('every panel SQL runs against the migrated schema, macros expanded', async () => {
    const ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
    try {
      await migrate(ch.client);
      const panels = dashboards().flatMap((d) => d.panels.filter((p) => p.datasource.type === 'grafana-clickhouse-datasource').map((p) => ({ ...p, file: d.file })));
      expect(panels.length).toBeGreaterThan(3);
      const now = Math.floor(Date.now() / 1000);
      const failures: string[] = [];
      for (const panel of panels) {
        for (const target of panel.targets) {
          const sql = expandClickHouseMacros(target.rawSql ?? '', now - 7 * 86400, now);
          expect(sql, `${panel.title}: a macro left unexpanded`).not.toMatch(/\$__/);
          try {
            await (await ch.client.query({ query: sql, format: 'JSONEachRow' })).json();
          } catch (err) {
            failures.push(`${panel.file}: ${panel.title}: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
      expect(failures).toEqual([]);
    } finally {
      await ch.close();
    }
  });
});
