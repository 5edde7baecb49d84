// Personas end to end (docs/architecture.md §20.6): a CRM export imported with the CLI's importer (POST /v1/profiles,
// in batches) and a profile set on the single-customer route go through ingest → profiles.v1 → sink → ClickHouse; the
// touchpoints of the same customers through touchpoints.v1; the query API then splits the KPIs by the personas of a
// personas file (PERSONAS_FILE) with a hand-worked split. Invalid profiles are rejected with their reasons and
// dead-lettered, and the valid ones of the same request are stored all the same.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { startApp, loadConfig, type RunningApp } from '@touchstream/app';
import { createKafka, topicNames } from '@touchstream/kafka';
import { codecs, type DeadLetter } from '@touchstream/contracts';
import { eventually } from '@touchstream/testkit';
import { csvProfiles, importProfiles } from '../tools/cli/src/profiles/import.ts';

const run = randomUUID().slice(0, 8).replace(/-/g, '');
const WRITE_KEY = `personas-write-${run}`;
const READ_KEY = `personas-read-${run}`;
const SOURCE = `crm_${run}`;
const CHANNEL = `personas_${run}`;
const customer = (name: string) => `persona-${run}-${name}`;
// Attribute names of this run only: the sink of this app reads every profile on profiles.v1, other suites' included.
const TIER = `tier_${run}`;
const AGE = `age_${run}`;

const personasYaml = `
version: e2e
fallback: { name: everyone_else }
personas:
  - name: premium
    when: { ${TIER}: { in: [gold, platinum] } }
  - name: senior
    when: { ${AGE}: { gte: 65 } }
`;

// Lines 2–7 of the CSV (line 1 is the header):
//   p1 gold, 40            → premium
//   p2 silver, 70          → senior
//   p3 silver, 30          → everyone_else
//   (no customer_id)       → rejected: customer_id
//   p4 only a postcode     → accepted (postcode kept as text: --strings), matches no rule → everyone_else
//   p6 an empty row        → rejected: no attribute
// p5 has no profile at all: everyone_else. p3 is made premium afterwards by the single-customer route (a partial
// update, later than the CSV's).
const csv = [
  `customer_id,${TIER},${AGE},postcode,updated_at`,
  `${customer('p1')},gold,40,01234,2026-01-01T00:00:00Z`,
  `${customer('p2')},silver,70,,2026-01-01T00:00:00Z`,
  `${customer('p3')},silver,30,,2026-01-01T00:00:00Z`,
  `,gold,50,,2026-01-01T00:00:00Z`,
  `${customer('p4')},,,09999,2026-01-01T00:00:00Z`,
  `${customer('p6')},,,,2026-01-01T00:00:00Z`,
].join('\n');

let app: RunningApp;
let observer: Consumer;
let dir: string;
const deadLetters: DeadLetter[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'personas-e2e-'));
  const personasFile = path.join(dir, 'personas.yaml');
  writeFileSync(personasFile, personasYaml);
  const brokers = inject('kafkaBrokers');
  const clickhouseUrl = inject('clickhouseUrl');
  app = await startApp(
    loadConfig({
      KAFKA_BROKERS: brokers.join(','),
      REDIS_URL: inject('redisUrl'),
      ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : { CLICKHOUSE_PATH: path.join(dir, 'chdb') }),
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      WRITE_KEYS: `${WRITE_KEY}=${SOURCE}`,
      READ_KEYS: `${READ_KEY}=analyst`,
      KAFKA_GROUP_PREFIX: `personas-${run}`,
      TOUCHPOINT_PARTITIONS: '3',
      TOPIC_PARTITIONS: '2',
      PERSONAS_FILE: personasFile,
    }),
  );
  observer = createKafka({ brokers }).consumer({ groupId: `personas-observer-${run}` });
  await observer.connect();
  await observer.subscribe({ topics: [topicNames.invalid], fromBeginning: true });
  await observer.run({ eachMessage: async ({ message }) => void deadLetters.push(codecs.deadLetter.decode(message.value!)) });
  await eventually('readiness', async () => (await fetch(`${app.url}/readyz`)).status === 200);
});

afterAll(async () => {
  await observer?.disconnect();
  await app?.stop();
});

const read = async <T>(pathAndQuery: string): Promise<{ status: number; body: T }> => {
  const r = await fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${READ_KEY}` } });
  return { status: r.status, body: (await r.json()) as T };
};

describe('profiles through the pipeline, personas in the KPIs', () => {
  it('imports a CRM export: valid rows stored, invalid ones rejected with the line and reason and dead-lettered', async () => {
    const file = path.join(dir, 'crm.csv');
    writeFileSync(file, csv);
    const progress: number[] = [];
    // Batches of 2: the rejected rows fall in different requests than some valid ones.
    const summary = await importProfiles(csvProfiles(file, ['postcode']), { url: app.url, writeKey: WRITE_KEY, batchSize: 2, onProgress: (n) => progress.push(n) });
    expect(summary).toEqual({
      read: 6,
      accepted: 4,
      rejected: [
        { line: 5, errors: [expect.stringMatching(/^customer_id: /)] },
        { line: 7, errors: ['attributes: must name at least one attribute'] },
      ],
    });
    expect(progress).toEqual([2, 4, 6]);
    const rejected = await eventually('the two rejected rows dead-lettered', async () => {
      const mine = deadLetters.filter((d) => d.source === SOURCE);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(rejected.map((d) => d.stage)).toEqual(['ingest', 'ingest']);
    expect(rejected.map((d) => JSON.parse(d.payload.toString()) as { attributes: object })[1]!.attributes).toEqual({});
  });

  it('takes a partial update on the single-customer route', async () => {
    const res = await fetch(`${app.url}/v1/customers/${encodeURIComponent(customer('p3'))}/profile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { [TIER]: 'platinum' }, updated_at: '2026-02-01T00:00:00Z' }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { accepted: number; profile_ids: string[] };
    expect(body.accepted).toBe(1);
    expect(body.profile_ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-/);
    const bad = await fetch(`${app.url}/v1/customers/${encodeURIComponent(customer('p3'))}/profile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { [TIER]: ['a'] } }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'NO_VALID_PROFILES', rejected: [{ index: 0, errors: [`attributes.${TIER}: must be a string, a number, a boolean or null (null removes the attribute)`] }] });
  });

  it('splits the KPIs by persona as the file decides from the stored profiles', async () => {
    const t = (s: number) => new Date(Date.now() - 120_000 + s * 1000).toISOString();
    const event = (name: string, s: number) => ({ customer_id: customer(name), occurred_at: t(s), channel: CHANNEL, touchpoint: 'store_visit', initiator: 'customer' });
    // premium: p1 ×2 and p3 ×1 (platinum now) = 3; senior: p2 ×1; everyone_else: p4 ×1, p5 ×2 = 3.
    const posted = await fetch(`${app.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WRITE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify([event('p1', 1), event('p1', 2), event('p3', 3), event('p2', 4), event('p4', 5), event('p5', 6), event('p5', 7)]),
    });
    expect(posted.status).toBe(202);
    const range = `from=${encodeURIComponent(t(-60))}&to=${encodeURIComponent(t(120))}`;
    const split = await eventually('the persona split of this run\'s channel', async () => {
      const counts: Record<string, number> = {};
      for (const persona of ['premium', 'senior', 'everyone_else']) {
        const { status, body } = await read<{ totals: Array<{ key: string; events: number; unique_customers: number }> }>(`/v1/kpis?${range}&interval=minute&by=channel&persona=${persona}`);
        if (status !== 200) throw new Error(`kpis answered ${status}: ${JSON.stringify(body)}`);
        counts[persona] = body.totals.find((x) => x.key === CHANNEL)?.events ?? 0;
      }
      return counts.premium === 3 && counts.senior === 1 && counts.everyone_else === 3 ? counts : undefined;
    });
    expect(split).toEqual({ premium: 3, senior: 1, everyone_else: 3 });

    const { body } = await read<{ personas: Array<{ name: string; customers: number; conditions: unknown[] }>; fallback: { name: string } }>('/v1/personas');
    expect(body.personas.map((p) => [p.name, p.customers])).toEqual([['premium', 2], ['senior', 1]]);
    expect(body.fallback.name).toBe('everyone_else');
  });
});
