// The quality pipeline end to end on the shared test stack: labelled journeys posted through ingest, the
// processor's signals read back from signals.v1 and matched to the labels. Asserts that the matching works
// (what the engine surely detects is found, on the right event, with a delay), not the quality targets:
// those are figures printed by `touchstream quality`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createKafka } from '@touchstream/kafka';
import { qualityRulesDocument, RULES_FILE_ENV } from '../tools/cli/src/quality/cli.ts';
import { runQuality, type QualityRunResult } from '../tools/cli/src/quality/run.ts';
import { eventually } from '@touchstream/testkit';

const run = randomUUID().slice(0, 8);
const WRITE_KEY = `quality-write-${run}`;
const TIMER_MS = 8000;
let app: RunningApp;
let dir: string;
let result: QualityRunResult;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'quality-test-'));
  const rulesFile = path.join(dir, 'rules.json');
  writeFileSync(rulesFile, qualityRulesDocument(TIMER_MS));
  const brokers = inject('kafkaBrokers');
  const clickhouseUrl = inject('clickhouseUrl');
  app = await startApp(loadConfig({
    KAFKA_BROKERS: brokers.join(','),
    REDIS_URL: inject('redisUrl'),
    ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: path.join(dir, 'chdb') }),
    HTTP_PORT: '0',
    LOG_LEVEL: 'error',
    WRITE_KEYS: `${WRITE_KEY}=quality`,
    READ_KEYS: `quality-read-${run}=analyst`,
    KAFKA_GROUP_PREFIX: `quality-${run}`,
    TOUCHPOINT_PARTITIONS: '3',
    TOPIC_PARTITIONS: '2',
    [RULES_FILE_ENV]: rulesFile,
  }));
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
  result = await runQuality({
    url: app.url,
    writeKey: WRITE_KEY,
    kafka: createKafka({ brokers }),
    events: 1500,
    seed: 42,
    timerExpectedMs: TIMER_MS,
    customerPrefix: `qt-${run}-`,
    batchEvents: 200,
    quietMs: 4000,
    maxWaitMs: 30_000,
  });
}, 240_000);

afterAll(async () => {
  await app?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a quality run on 1.5k labelled events', () => {
  it('posts every event and labels plenty of signals', () => {
    expect(result.postedEvents).toBeGreaterThanOrEqual(1500);
    expect(result.rejectedEvents).toBe(0);
    expect(result.labels).toBeGreaterThan(200);
  });

  it('finds every labelled survey detractor on its event, with a delay from the post', () => {
    const row = result.report.rows.find((r) => r.type === 'survey_detractor')!;
    expect(row.labelled).toBeGreaterThan(20);
    expect(row.tp).toBe(row.labelled);
    expect(row.fn).toBe(0);
    expect(row.signalDelay.count).toBe(row.tp);
    expect(row.signalDelay.medianMs).toBeGreaterThanOrEqual(0);
    expect(row.signalDelay.medianMs).toBeLessThan(60_000);
  });

  it('finds every overdue journey timer on its started event, timed from its due time', () => {
    const row = result.report.rows.find((r) => r.type === 'journey_not_completed')!;
    expect(row.labelled).toBeGreaterThan(3);
    expect(row.tp).toBe(row.labelled);
    // Completed-in-time journeys (the near misses) raise nothing.
    expect(result.observed.filter((s) => s.type === 'journey_not_completed' && s.customer_id.endsWith('_near'))).toEqual([]);
    // From the due time: a sweep tick and a produce, not the 8 s expected duration.
    expect(row.signalDelay.medianMs).toBeGreaterThanOrEqual(0);
    expect(row.signalDelay.medianMs).toBeLessThan(TIMER_MS);
  });

  it('raises no survey_detractor for the near misses (NPS 7–8, CSAT 3, CES 4)', () => {
    const near = result.observed.filter((s) => s.type === 'survey_detractor' && s.customer_id.endsWith('-detractor_near'));
    expect(near).toEqual([]);
    const nearCustomers = result.labelled.filter((l) => l.customer_id.endsWith('-detractor_near'));
    expect(nearCustomers).toEqual([]);
  });

  it('keeps touchpoints beyond the backfill horizon apart: no alert from them, no false positive', () => {
    expect(result.report.backfill.events).toBeGreaterThan(0);
    expect(result.report.backfill.alerts).toBe(0);
    expect(result.report.rows.every((r) => r.falsePositives.every((fp) => !fp.includes('-backfill')))).toBe(true);
  });

  it('counts a signal on an unlabelled customer as a false positive of its type', () => {
    const row = result.report.rows.find((r) => r.type === 'survey_detractor')!;
    // (Backfill stories are counted apart, see above.)
    const unlabelled = result.observed.filter((s) => s.type === 'survey_detractor' && !s.customer_id.endsWith('-backfill') && !result.labelled.some((l) => l.customer_id === s.customer_id && l.type === 'survey_detractor' && l.event_id === s.event_id));
    expect(row.fp).toBe(new Set(unlabelled.map((s) => s.signal_id)).size);
    expect(row.predicted).toBe(row.tp + row.fp);
  });
});
