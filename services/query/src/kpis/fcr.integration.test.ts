// First-contact resolution against real ClickHouse (chDB in a temp dir, or the stack's server): the figures of
// /v1/kpis and the heat map, per key, period and bucket, must equal a plain reading of the definition applied to
// the same contacts in TypeScript. The fixture is generated (seeded) so that it holds what the SQL must get right
// beyond the hand-worked cases of analytics.integration.test.ts: contacts of one customer and reason at the same
// instant under different stages and channels (which of them the next contact is decides per key), repeats
// exactly at and just past the fcr_days boundary, contacts stored twice (FINAL), company-initiated contacts and
// contacts without a reason (no FCR contacts), and contacts before, between and after the two periods.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dateTime64FromMicros, migrate, storeRows } from '@touchstream/clickhouse';
import { openTestClickHouse, type TestClickHouse } from '@touchstream/clickhouse/testing';
import { queryHeatmap } from '../heatmap/heatmap.ts';
import { parseIsoToMicros } from '../shared/time.ts';
import { queryKpis, type KpiDimension } from './kpis.ts';

const hourMicros = 3_600_000_000;
const dayMicros = 24 * hourMicros;
const at = (iso: string) => parseIsoToMicros(iso)!;

interface Contact {
  id: string;
  customer: string;
  reason: string;
  initiator: 'customer' | 'company';
  us: number;
  stage: string;
  channel: string;
}

/** mulberry32: the same fixture on every run. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// Current period Apr 10–14, previous Apr 6–10, the look-ahead up to Apr 21; contacts from Apr 4 to Apr 22.
const fromMicros = at('2024-04-10T00:00:00Z');
const toMicros = at('2024-04-14T00:00:00Z');
const prevFromMicros = fromMicros - (toMicros - fromMicros);
const firstDay = at('2024-04-04T00:00:00Z');

function generateContacts(): Contact[] {
  const random = rng(20240410);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const stages = ['support', 'churn', 'onboarding', ''];
  const channels = ['phone', 'chat', 'email'];
  const contacts: Contact[] = [];
  // Two-hour slots over 18 days: few enough that one customer and reason often has two contacts in one slot.
  for (let i = 0; i < 700; i++) {
    const slot = Math.floor(random() * 18 * 12);
    contacts.push({
      id: `g${String(i).padStart(4, '0')}-${Math.floor(random() * 1e6).toString(36)}`,
      customer: `c${Math.floor(random() * 12)}`,
      reason: pick(['billing', 'password', 'delivery', 'billing', 'password', '']),
      initiator: random() < 0.9 ? 'customer' : 'company',
      us: firstDay + slot * 2 * hourMicros,
      stage: pick(stages),
      channel: pick(channels),
    });
  }
  // A repeat exactly fcr_days (7) after a contact (not resolved) and one 1 µs later (resolved), in the current period.
  const t = at('2024-04-11T09:00:00Z');
  contacts.push(
    { id: 'edge-1', customer: 'edge', reason: 'billing', initiator: 'customer', us: t, stage: 'support', channel: 'phone' },
    { id: 'edge-2', customer: 'edge', reason: 'billing', initiator: 'customer', us: t + 7 * dayMicros, stage: 'churn', channel: 'chat' },
    { id: 'edge-3', customer: 'edge', reason: 'password', initiator: 'customer', us: t, stage: 'support', channel: 'phone' },
    { id: 'edge-4', customer: 'edge', reason: 'password', initiator: 'customer', us: t + 7 * dayMicros + 1, stage: 'churn', channel: 'chat' },
  );
  // Three contacts in one instant, ids out of insert order: only the last by event_id (tie-c, churn) can be resolved.
  const tie = at('2024-04-12T15:00:00Z');
  contacts.push(
    { id: 'tie-b', customer: 'tie', reason: 'billing', initiator: 'customer', us: tie, stage: 'support', channel: 'phone' },
    { id: 'tie-c', customer: 'tie', reason: 'billing', initiator: 'customer', us: tie, stage: 'churn', channel: 'email' },
    { id: 'tie-a', customer: 'tie', reason: 'billing', initiator: 'customer', us: tie, stage: 'onboarding', channel: 'chat' },
  );
  return contacts;
}

const contacts = generateContacts();

/**
 * The definition, read plainly: a customer-initiated contact with a reason is resolved unless the next contact of
 * the same customer about the same reason (in time, then event id, order) follows within `days`; only contacts up
 * to `days` past the range's end are looked at. `group` says which cell a contact belongs to, `key` its key.
 */
function referenceFcr(days: number, key: (c: Contact) => string, group: (c: Contact) => number) {
  const end = toMicros + days * dayMicros;
  const seen = contacts.filter((c) => c.initiator === 'customer' && c.reason !== '' && c.us >= prevFromMicros && c.us < end);
  const byCustomerReason = new Map<string, Contact[]>();
  for (const c of seen) {
    const id = `${c.customer}\u0000${c.reason}`;
    byCustomerReason.set(id, [...(byCustomerReason.get(id) ?? []), c]);
  }
  const cells = new Map<string, { contacts: number; resolved: number }>();
  for (const list of byCustomerReason.values()) {
    list.sort((a, b) => a.us - b.us || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    list.forEach((c, i) => {
      if (c.us >= toMicros) return;
      const next = list[i + 1];
      const cell = `${group(c)}|${key(c)}`;
      const sums = cells.get(cell) ?? { contacts: 0, resolved: 0 };
      sums.contacts++;
      if (!next || next.us > c.us + days * dayMicros) sums.resolved++;
      cells.set(cell, sums);
    });
  }
  return cells;
}

const period = (c: Contact) => (c.us >= fromMicros ? 1 : 0);
const dimensionOf: Record<Exclude<KpiDimension, 'persona'>, (c: Contact) => string> = {
  stage: (c) => c.stage,
  channel: (c) => c.channel,
  touchpoint: (c) => `${c.channel}_contact`,
  journey: () => '',
  initiator: () => 'customer',
};
const fcrOf = (cell: { contacts: number; resolved: number } | undefined) =>
  cell ? { fcr_contacts: cell.contacts, fcr: Number((cell.resolved / cell.contacts).toFixed(6)) } : { fcr_contacts: 0, fcr: null };

let ch: TestClickHouse;

beforeAll(async () => {
  ch = await openTestClickHouse({ url: inject('clickhouseUrl') });
  await migrate(ch.client);
  const row = (c: Contact, offset: number) => ({
    event_id: c.id, customer_id: `fcr-${c.customer}`, occurred_at: dateTime64FromMicros(c.us), received_at: dateTime64FromMicros(c.us),
    channel: c.channel, touchpoint: `${c.channel}_contact`, initiator: c.initiator, journey: '', stage: c.stage, reason: c.reason,
    outcome: '', duration_ms: null, wait_ms: null, sentiment: null, survey_kind: '', survey_score: null, survey_comment: '',
    agent_id: '', session_id: '', attributes: {}, kafka_partition: 0, kafka_offset: offset,
  });
  const rows = contacts.map((c, i) => row(c, i));
  await storeRows(ch.client, { table: 'touchpoints', rows, dedupToken: `touchpoints.v1:0:0-${rows.length - 1}` });
  // Every fifth contact stored a second time (another token, as after a re-delivery): FINAL must count it once.
  const again = rows.filter((_, i) => i % 5 === 0);
  await storeRows(ch.client, { table: 'touchpoints', rows: again, dedupToken: 'touchpoints.v1:1:0-999' });
}, 120_000);

afterAll(async () => {
  await ch?.close();
});

describe('FCR against the definition', () => {
  it('the fixture holds what it is meant to', () => {
    const fcrContacts = contacts.filter((c) => c.initiator === 'customer' && c.reason !== '');
    const instants = new Map<string, Set<string>>();
    for (const c of fcrContacts) {
      const id = `${c.customer}|${c.reason}|${c.us}`;
      instants.set(id, (instants.get(id) ?? new Set()).add(c.stage));
    }
    // Generated ties with differing stages besides the hand-made one.
    expect([...instants.values()].filter((stages) => stages.size > 1).length).toBeGreaterThan(3);
    expect(contacts.filter((c) => c.initiator === 'company').length).toBeGreaterThan(10);
    expect(contacts.filter((c) => c.reason === '').length).toBeGreaterThan(10);
    // The reference on the hand-made cases: per contact, resolved or not.
    const perContact = referenceFcr(7, (c) => c.id, () => 0);
    const resolved = (id: string) => perContact.get(`0|${id}`)?.resolved;
    expect(['tie-a', 'tie-b', 'tie-c'].map(resolved)).toEqual([0, 0, 1]);
    // edge-2 and edge-4 lie past the range (in the look-ahead only).
    expect(['edge-1', 'edge-2', 'edge-3', 'edge-4'].map(resolved)).toEqual([0, undefined, 1, undefined]);
  });

  for (const days of [7, 1]) {
    for (const by of [undefined, 'stage', 'channel', 'initiator'] as const) {
      it(`period totals${by ? ` by ${by}` : ''}, fcr_days ${days}, from the day and the hour rollups`, async () => {
        const key = by ? dimensionOf[by] : () => '';
        const expected = referenceFcr(days, key, period);
        for (const interval of ['day', 'hour'] as const) {
          const result = await queryKpis(ch.client, { fromMicros, toMicros, interval, by, fcrDays: days, totalsOnly: interval === 'day' });
          const keys = result.totals.map((t) => t.key ?? '');
          expect(keys.length).toBeGreaterThan(0);
          for (const total of result.totals) {
            const k = total.key ?? '';
            expect({ k, fcr_contacts: total.fcr_contacts, fcr: total.fcr }).toEqual({ k, ...fcrOf(expected.get(`1|${k}`)) });
            expect({ k, fcr_contacts: total.previous.fcr_contacts, fcr: total.previous.fcr }).toEqual({ k, ...fcrOf(expected.get(`0|${k}`)) });
          }
          // Every key with contacts in the current period has its row.
          for (const cell of expected.keys()) if (cell.startsWith('1|')) expect(keys).toContain(cell.slice(2));
        }
      });
    }
  }

  it('hourly buckets by stage', async () => {
    const expected = referenceFcr(7, dimensionOf.stage, (c) => Math.floor(c.us / hourMicros) * hourMicros);
    const result = await queryKpis(ch.client, { fromMicros, toMicros, interval: 'hour', by: 'stage', fcrDays: 7 });
    let withContacts = 0;
    for (const bucket of result.buckets) {
      const us = at(bucket.bucket);
      expect({ bucket: bucket.bucket, key: bucket.key, fcr_contacts: bucket.fcr_contacts, fcr: bucket.fcr })
        .toEqual({ bucket: bucket.bucket, key: bucket.key, ...fcrOf(expected.get(`${us}|${bucket.key}`)) });
      if (bucket.fcr_contacts > 0) withContacts++;
    }
    expect(withContacts).toBeGreaterThan(20);
    expect(withContacts).toBe([...expected.keys()].filter((cell) => Number(cell.split('|')[0]) >= fromMicros).length);
  });

  it('the heat map: FCR per stage', async () => {
    const expected = referenceFcr(7, dimensionOf.stage, period);
    const heatmap = await queryHeatmap(ch.client, { fromMicros, toMicros, metrics: ['fcr'], targets: {}, fcrDays: 7 });
    expect(heatmap.rows.map((r) => r.stage).sort()).toEqual(['', 'churn', 'onboarding', 'support']);
    for (const row of heatmap.rows) expect({ stage: row.stage, fcr: row.cells.fcr?.value }).toEqual({ stage: row.stage, fcr: fcrOf(expected.get(`1|${row.stage}`)).fcr });
  });
});
