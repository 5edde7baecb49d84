// Churn-risk scores (churn_scores.v1, docs/architecture.md §22) into ClickHouse's churn_scores. Simpler than the
// raw tables: no rollups, and a copy is harmless (ReplacingMergeTree keeps one row per customer and score time), so
// one insert per call under the batch's token is all that effectively-once needs.
import { dateTime64FromMicros, insertRows, tableNames, type ClickHouseClient } from '@touchstream/clickhouse';
import type { ConsumedBatch, RecordResult } from '@touchstream/kafka';
import { codecs, SchemaError } from '@touchstream/contracts';
import { dedupTokenFor } from './batch.ts';

export interface ChurnScoreRow {
  customer_id: string;
  score: number;
  band: string;
  event_id: string;
  scored_at: string;
  model_version: string;
  rules_version: string;
}

/** Stores the churn scores of the batches (all of churn_scores.v1); one result list per batch. */
export async function storeChurnScores(clickhouse: ClickHouseClient, batches: readonly ConsumedBatch[]): Promise<RecordResult[][]> {
  const rows: ChurnScoreRow[] = [];
  const results = batches.map((batch) =>
    batch.records.map((record): RecordResult => {
      if (!record.value) return { kind: 'dlq', reason: 'record has no value' };
      try {
        const s = codecs.churnScore.decode(record.value);
        if (!s.customer_id) return { kind: 'dlq', reason: 'churn score has an empty customer_id' };
        if (!Number.isFinite(s.score) || s.score < 0 || s.score > 1) return { kind: 'dlq', reason: `churn score ${s.score} is not a probability` };
        rows.push({
          customer_id: s.customer_id,
          score: s.score,
          band: s.band,
          event_id: s.event_id,
          scored_at: dateTime64FromMicros(s.scored_at),
          model_version: s.model_version,
          rules_version: s.rules_version ?? '',
        });
        return { kind: 'ok', outputs: [] };
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        return { kind: 'dlq', reason: `undecodable churn score: ${err.message}` };
      }
    }),
  );
  if (rows.length) await insertRows(clickhouse, { table: tableNames.churnScores, rows, dedupToken: dedupTokenFor(batches) });
  return results;
}
