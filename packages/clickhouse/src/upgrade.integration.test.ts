// Upgrading a database that already holds data under migration 001: 002 redefines the 1-minute view in place
// (ALTER … MODIFY QUERY) and adds columns, so old rows keep merging, new rows get the new states, and nothing
// inserted around the upgrade is lost or doubled. 004 copies the rows stored before it into its tables once, also
// when it is run again after an interruption. 006 drops every view: rows stored after it reach the rollups through
// storeRows, once.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openTestClickHouse, type TestClickHouse } from './testing.ts';
import { defaultMigrationsDir, migrate } from './migrate.ts';
import { insertRows } from './insert.ts';
import { storeRows } from './store.ts';
import { dateTime64FromMicros } from './time.ts';

let ch: TestClickHouse;
let only001: string;

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  only001 = mkdtempSync(path.join(os.tmpdir(), 'touchstream-migrations-'));
  copyFileSync(path.join(defaultMigrationsDir, '001_initial.sql'), path.join(only001, '001_initial.sql'));
});

afterAll(async () => {
  await ch?.close();
  if (only001) rmSync(only001, { recursive: true, force: true });
});

const at = Date.UTC(2025, 8, 1, 10, 0) * 1000;
const row = (id: string, customer: string, outcome: string, reason = '') => ({
  event_id: id, customer_id: customer, occurred_at: dateTime64FromMicros(at), received_at: dateTime64FromMicros(at),
  channel: 'upgrade', touchpoint: 'page', initiator: 'customer', journey: 'signup', stage: 'onboarding', reason,
  outcome, duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '',
  agent_id: '', session_id: '', attributes: {}, kafka_partition: 0, kafka_offset: 0,
});

describe('001 with data → 002', () => {
  it('keeps the old 1-minute rows, adds the new states for new rows', async () => {
    expect(await migrate(ch.client, { migrationsDir: only001 })).toEqual(['001_initial']);
    await insertRows(ch.client, { table: 'touchpoints', rows: [row('u1', 'old', 'completed', 'billing')], dedupToken: 'upgrade:0:1-1', rawOnly: true });
    expect(await migrate(ch.client)).toEqual(['002_rollups', '003_insert_token', '004_kpi_dimensions', '005_view_feeds', '006_direct_rollups', '007_customer_erasures', '009_touchpoint_text_sentiment', '010_customer_profiles', '011_churn_scores']);
    await storeRows(ch.client, { table: 'touchpoints', rows: [row('u2', 'new', 'completed', 'billing')], dedupToken: 'upgrade:0:2-2' });

    const rs = await ch.client.query({
      query: `SELECT toUInt64(countMerge(events)) AS events, toUInt64(uniqMerge(customers)) AS customers,
                toUInt64(sumMerge(outcome_completed)) AS completed, toUInt64(uniqIfMerge(journeys_completed)) AS journeys_completed
              FROM touchpoint_agg_1m WHERE channel = 'upgrade' SETTINGS output_format_json_quote_64bit_integers = 0`,
      format: 'JSONEachRow',
    });
    // Both rows in the 1-minute table; the journey state exists only for the row inserted after 002.
    expect(await rs.json()).toEqual([{ events: 2, customers: 2, completed: 2, journeys_completed: 1 }]);

    // The rollups start with 002: only the new row (documented: no backfill).
    const hourly = await ch.client.query({
      query: "SELECT toUInt64(countMerge(events)) AS n FROM touchpoint_agg_1h WHERE channel = 'upgrade' SETTINGS output_format_json_quote_64bit_integers = 0",
      format: 'JSONEachRow',
    });
    expect(await hourly.json()).toEqual([{ n: 1 }]);

    // 004's tables: the old row copied by the migration, the new one by storeRows (006: no views); each once.
    const perDimension = async () => {
      const rs = await ch.client.query({
        query: `SELECT
                  (SELECT toUInt64(countMerge(events)) FROM kpi_agg_1h WHERE dimension = 'channel' AND key = 'upgrade') AS hour,
                  (SELECT toUInt64(uniqCombined64Merge(15)(customers)) FROM kpi_agg_1d WHERE dimension = 'channel' AND key = 'upgrade') AS day_customers,
                  (SELECT toUInt64(count()) FROM fcr_contacts FINAL WHERE channel = 'upgrade') AS contacts
                SETTINGS output_format_json_quote_64bit_integers = 0`,
        format: 'JSONEachRow',
      });
      return rs.json();
    };
    expect(await perDimension()).toEqual([{ hour: 2, day_customers: 2, contacts: 2 }]);

    const views = await ch.client.query({ query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'", format: 'JSONEachRow' });
    expect(await views.json()).toEqual([]);

    // An interrupted 004 runs again from its first statement: its copies carry fixed tokens and are not doubled.
    await ch.client.command({ query: "DELETE FROM schema_migrations WHERE version = '004_kpi_dimensions'" });
    expect(await migrate(ch.client)).toEqual(['004_kpi_dimensions']);
    expect(await perDimension()).toEqual([{ hour: 2, day_customers: 2, contacts: 2 }]);
  });
});
