// The sink's batch handler against a real ClickHouse (chDB in a temp dir, or the stack's server), without
// Kafka: redelivery with other batch boundaries, replayed outputs, poison records.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { migrate } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { createSinkBatchHandler, type ClickHouseHealth } from './module.ts';
import { alert, batchOf, encode, signal, touchpoint } from './fixtures.test-support.ts';

let ch: TestClickHouse;
const health: ClickHouseHealth[] = [];
let handle: ReturnType<typeof createSinkBatchHandler>;
const runId = randomBytes(4).toString('hex');

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  await migrate(ch.client);
  handle = createSinkBatchHandler({ clickhouse: ch.client, onClickHouse: (h) => health.push(h) });
});

afterAll(async () => {
  await ch?.close();
});

async function scalar(query: string, params: Record<string, unknown>): Promise<number> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow', query_params: params });
  const [row] = await rs.json<{ n: number | string }>();
  return Number(row!.n);
}

const rawCount = (table: string, channel: string) => scalar(`SELECT count() AS n FROM ${table} WHERE channel = {channel:String}`, { channel });
const touchpointAggCount = (channel: string) =>
  scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1m WHERE channel = {channel:String}', { channel });
const signalAggCount = (channel: string) =>
  scalar('SELECT countMerge(signals) AS n FROM signal_agg_1m WHERE channel = {channel:String}', { channel });

describe('sink batch handler', () => {
  it('stores a batch once when it is redelivered verbatim and again with other boundaries', async () => {
    const channel = `redeliver_${runId}`;
    const values = [0, 1, 2, 3].map((i) =>
      encode.touchpoint(touchpoint({ event_id: `${runId}-e${i}`, customer_id: `${runId}-c${i % 2}`, channel })),
    );
    const first = await handle(batchOf('touchpoints.v1', values.slice(0, 3), { firstOffset: 10 }));
    expect(first.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
    // Crash before the commit: the same batch again …
    await handle(batchOf('touchpoints.v1', values.slice(0, 3), { firstOffset: 10 }));
    // … and the consumer refetching 10-13 in one go (a different token).
    const refetched = await handle(batchOf('touchpoints.v1', values, { firstOffset: 10 }));
    expect(refetched.map((r) => r.kind)).toEqual(['drop', 'drop', 'drop', 'ok']);
    expect(await rawCount('touchpoints', channel)).toBe(4);
    expect(await touchpointAggCount(channel)).toBe(4);
  });

  it('repairs the rollups an interrupted insert did not reach when the batch comes again, doubling nothing', async () => {
    const channel = `repair_${runId}`;
    const values = [0, 1, 2].map((i) => encode.touchpoint(touchpoint({ event_id: `${runId}-r${i}`, customer_id: `${runId}-rc`, channel })));
    const batch = () => batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 500 });
    const counts = async () => ({
      raw: await rawCount('touchpoints', channel),
      minute: await touchpointAggCount(channel),
      hour: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1h WHERE channel = {channel:String}', { channel }),
      day: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1d WHERE channel = {channel:String}', { channel }),
    });
    // A sink killed while ClickHouse wrote the views one after another: the raw table and some rollups got the
    // block, the hour rollup did not (simulated by detaching its view for the first insert).
    await ch.client.command({ query: 'DETACH TABLE touchpoint_agg_1h_mv' });
    try {
      await handle(batch());
    } finally {
      await ch.client.command({ query: 'ATTACH TABLE touchpoint_agg_1h_mv' });
    }
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 0, day: 3 });
    // Not committed, so the batch comes again: stored under its own token, it is inserted again under it.
    const again = await handle(batch());
    expect(again.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 3, day: 3 });
    await handle(batch());
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 3, day: 3 });
  });

  it('repairs them too when the batch comes again with other boundaries (another token)', async () => {
    const channel = `repair_rebatched_${runId}`;
    const values = [0, 1, 2, 3].map((i) => encode.touchpoint(touchpoint({ event_id: `${runId}-rb${i}`, customer_id: `${runId}-rbc`, channel })));
    const counts = async () => ({
      raw: await rawCount('touchpoints', channel),
      minute: await touchpointAggCount(channel),
      hour: await scalar('SELECT countMerge(events) AS n FROM touchpoint_agg_1h WHERE channel = {channel:String}', { channel }),
    });
    await ch.client.command({ query: 'DETACH TABLE touchpoint_agg_1h_mv' });
    try {
      await handle(batchOf('touchpoints.v1', values.slice(0, 3), { partition: 1, firstOffset: 700 }));
    } finally {
      await ch.client.command({ query: 'ATTACH TABLE touchpoint_agg_1h_mv' });
    }
    expect(await counts()).toEqual({ raw: 3, minute: 3, hour: 0 });
    // Refetched after the crash with one more record: a different token. The three stored rows go again under
    // their own token (repairing the hour view, deduplicated elsewhere); the new one is inserted.
    const again = await handle(batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 700 }));
    expect(again.map((r) => r.kind)).toEqual(['drop', 'drop', 'drop', 'ok']);
    expect(await counts()).toEqual({ raw: 4, minute: 4, hour: 4 });
    await handle(batchOf('touchpoints.v1', values, { partition: 1, firstOffset: 700 }));
    expect(await counts()).toEqual({ raw: 4, minute: 4, hour: 4 });
  });

  it('counts signals re-emitted by a replaying processor at new offsets once', async () => {
    const channel = `replay_${runId}`;
    const values = [0, 1].map((i) => encode.signal(signal({ signal_id: `${runId}-s${i}`, customer_id: `${runId}-c`, channel })));
    await handle(batchOf('signals.v1', values, { partition: 2, firstOffset: 0 }));
    const replayed = await handle(batchOf('signals.v1', values, { partition: 2, firstOffset: 2 }));
    expect(replayed).toEqual([
      { kind: 'drop', reason: `signal_id ${runId}-s0 already stored` },
      { kind: 'drop', reason: `signal_id ${runId}-s1 already stored` },
    ]);
    expect(await rawCount('signals', channel)).toBe(2);
    expect(await signalAggCount(channel)).toBe(2);
  });

  it('stores alerts once and dead-letters poison records without inserting them', async () => {
    const alertId = `${runId}-a1`;
    const results = await handle(
      batchOf('alerts.v1', [Buffer.from([0xc3, 0x01, 0, 0]), encode.alert(alert({ alert_id: alertId })), null], { firstOffset: 5 }),
    );
    expect(results.map((r) => r.kind)).toEqual(['dlq', 'ok', 'dlq']);
    await handle(batchOf('alerts.v1', [encode.alert(alert({ alert_id: alertId }))], { firstOffset: 9 }));
    expect(await scalar('SELECT count() AS n FROM alerts WHERE alert_id = {id:String}', { id: alertId })).toBe(1);
  });

  it('reports a failing ClickHouse and throws, so the batch is retried', async () => {
    const broken = createSinkBatchHandler({
      clickhouse: ch.client,
      topics: { touchpoints: 'touchpoints.v1', signals: 'signals.v1', alerts: 'alerts.v1' },
      onClickHouse: (h) => health.push(h),
    });
    await ch.client.command({ query: 'RENAME TABLE alerts TO alerts_away' });
    try {
      await expect(broken(batchOf('alerts.v1', [encode.alert(alert({ alert_id: `${runId}-a2` }))]))).rejects.toThrow();
      expect(health.at(-1)).toMatchObject({ ok: false, error: expect.stringMatching(/alerts/) });
    } finally {
      await ch.client.command({ query: 'RENAME TABLE alerts_away TO alerts' });
    }
    await broken(batchOf('alerts.v1', [encode.alert(alert({ alert_id: `${runId}-a2` }))]));
    expect(health.at(-1)).toEqual({ ok: true });
  });
});
