// churn_scores.v1 into ClickHouse (docs/architecture.md §22): decoded, stored once under the batch's token, a bad
// record dead-lettered; the newest score per customer is what readers get.
import { describe, expect, it } from 'vitest';
import { codecs } from '@touchstream/contracts';
import { useMigratedTestClickHouse } from '@touchstream/clickhouse/testing';
import type { ConsumedBatch } from '@touchstream/kafka';
import { storeChurnScores } from './churn-scores.ts';

const ch = useMigratedTestClickHouse();

function batchOf(values: Array<Buffer | null>, firstOffset = 10): ConsumedBatch {
  const records = values.map((value, i) => ({ topic: 'churn_scores.v1', partition: 0, offset: String(firstOffset + i), key: 'c', value, headers: {}, timestamp: '0' }));
  return { topic: 'churn_scores.v1', partition: 0, records, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset };
}

const score = (customer: string, value: number, band: string, micros: number) =>
  codecs.churnScore.encode({ customer_id: customer, score: value, band, event_id: `e-${micros}`, scored_at: micros, model_version: 'm1', rules_version: 'r1' });

describe('storing churn scores', () => {
  it('stores each score once, dead-letters what is not one, and keeps the newest per customer', async () => {
    const t = Date.UTC(2026, 0, 1) * 1000;
    const batch = batchOf([score('cs-1', 0.2, 'low', t), score('cs-1', 0.7, 'high', t + 1_000_000), Buffer.from('nope'), score('cs-2', 1.5, 'high', t)]);
    const results = await storeChurnScores(ch.client, [batch]);
    expect(results[0]!.map((r) => r.kind)).toEqual(['ok', 'ok', 'dlq', 'dlq']);
    const stored = async () => Number((await (await ch.client.query({ query: 'SELECT count() AS n FROM churn_scores', format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
    // One insert: ReplacingMergeTree may already have collapsed the customer's two rows into the newest.
    const first = await stored();
    expect(first).toBeGreaterThanOrEqual(1);
    // Redelivered verbatim: the token makes it a no-op; a later score is a new row.
    await storeChurnScores(ch.client, [batch]);
    expect(await stored()).toBe(first);
    await storeChurnScores(ch.client, [batchOf([score('cs-3', 0.3, 'medium', t)], 20)]);
    expect(await stored()).toBe(first + 1);
    const newest = await (await ch.client.query({ query: "SELECT argMax(band, scored_at) AS band, argMax(score, scored_at) AS score FROM churn_scores WHERE customer_id = 'cs-1'", format: 'JSONEachRow' })).json<{ band: string; score: number }>();
    expect(newest[0]).toEqual({ band: 'high', score: 0.7 });
  });
});
