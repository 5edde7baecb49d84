// The touchpoint inventory: the catalogue (catalogue.ts) merged with what the data shows in a range — volume,
// customers, first and last seen, the channels each touchpoint was seen on, and how often the company reacted within
// the catalogued target (wait_ms ≤ reaction_time) with the p90 wait and the change since the previous range. Touchpoints seen but not catalogued, catalogued
// but never seen, and seen on a channel other than the catalogued one are flagged. docs/architecture.md §20.2.
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { num, round } from '../shared/numbers.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';
import type { CatalogueEntry, TouchpointCatalogue } from '@touchstream/contracts/touchpoint-catalogue';

export type InventoryFlag = 'uncatalogued' | 'no_traffic' | 'channel_mismatch';

export interface ReactionTime {
  /** The catalogued target, ms (null: none set). */
  target_ms: number | null;
  /** Touchpoints in the range with a wait_ms (the company's reaction time). */
  measured: number;
  /** Of those, how many waited no longer than the target (null without a target). */
  met: number | null;
  /** met / measured, 0…1 (null without a target or a measurement). */
  share_met: number | null;
  /** 90th percentile of wait_ms, exact (null without a measurement). */
  p90_ms: number | null;
  /** share_met over the previous range of the same length (null without a target or a measurement then). */
  share_met_previous: number | null;
  /** share_met − share_met_previous: > 0 improving, < 0 worsening (null when either is null). */
  trend: number | null;
}

export interface InventoryEntry {
  touchpoint: string;
  catalogued: boolean;
  channel: string | null;
  stage: string | null;
  owner: string | null;
  layer: CatalogueEntry['layer'] | null;
  description: string | null;
  journey: string | null;
  events: number;
  customers: number;
  first_seen: string | null;
  last_seen: string | null;
  channels_seen: string[];
  reaction_time: ReactionTime;
  flags: InventoryFlag[];
}

export interface Inventory {
  from: string;
  to: string;
  catalogue: { file: string; version: string } | null;
  summary: { catalogued: number; seen: number; uncatalogued: number; no_traffic: number; channel_mismatch: number };
  touchpoints: InventoryEntry[];
}

// FINAL: the raw table deduplicates by event id only at merge time; the inventory's counts must be exact.
// transform() gives each row its touchpoint's target (−1 when none: never met, and met is reported null then).
const inventorySql = `
SELECT
  toString(touchpoint) AS touchpoint,
  count() AS events,
  uniqExact(customer_id) AS customers,
  toUnixTimestamp64Micro(min(occurred_at)) AS first_us,
  toUnixTimestamp64Micro(max(occurred_at)) AS last_us,
  arraySort(groupUniqArray(toString(channel))) AS channels,
  count(wait_ms) AS measured,
  countIf(wait_ms IS NOT NULL AND wait_ms <= transform(toString(touchpoint), {names:Array(String)}, {targets:Array(Int64)}, toInt64(-1))) AS met,
  quantileExactIf(0.9)(assumeNotNull(wait_ms), wait_ms IS NOT NULL) AS p90
FROM touchpoints FINAL
WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
GROUP BY touchpoint
ORDER BY touchpoint
${querySettingsSql}`;

interface Row {
  touchpoint: string;
  events: number | string;
  customers: number | string;
  first_us: number | string;
  last_us: number | string;
  channels: string[];
  measured: number | string;
  met: number | string;
  p90: number | string;
}

export async function queryInventory(
  clickhouse: ClickHouseClient,
  catalogue: TouchpointCatalogue | null,
  range: { fromMicros: number; toMicros: number },
): Promise<Inventory> {
  const targeted = (catalogue?.entries ?? []).filter((e) => e.reaction_time_ms !== null);
  const read = async (fromMicros: number, toMicros: number) => {
    const rs = await clickhouse.query({
      query: inventorySql,
      format: 'JSONEachRow',
      query_params: {
        from_us: fromMicros,
        to_us: toMicros,
        names: targeted.map((e) => e.touchpoint),
        targets: targeted.map((e) => Math.floor(e.reaction_time_ms!)),
      },
    });
    return new Map((await rs.json<Row>()).map((r) => [r.touchpoint, r]));
  };
  // The trend compares with the range of the same length just before.
  const [seen, before] = await Promise.all([
    read(range.fromMicros, range.toMicros),
    read(range.fromMicros - (range.toMicros - range.fromMicros), range.fromMicros),
  ]);
  const shareMet = (r: Row | undefined, target: number | null) =>
    target === null || num(r?.measured) === 0 ? null : round(num(r?.met) / num(r?.measured));
  const byName = new Map((catalogue?.entries ?? []).map((e) => [e.touchpoint, e]));
  const names = [...new Set([...byName.keys(), ...seen.keys()])].sort();

  const touchpoints = names.map((touchpoint): InventoryEntry => {
    const entry = byName.get(touchpoint);
    const row = seen.get(touchpoint);
    const events = num(row?.events);
    const measured = num(row?.measured);
    const target = entry?.reaction_time_ms ?? null;
    const met = target === null ? null : num(row?.met);
    const channels = row?.channels ?? [];
    const flags: InventoryFlag[] = [];
    if (!entry) flags.push('uncatalogued');
    if (entry && events === 0) flags.push('no_traffic');
    if (entry && events > 0 && !channels.includes(entry.channel)) flags.push('channel_mismatch');
    return {
      touchpoint,
      catalogued: entry !== undefined,
      channel: entry?.channel ?? null,
      stage: entry?.stage ?? null,
      owner: entry?.owner ?? null,
      layer: entry?.layer ?? null,
      description: entry?.description ?? null,
      journey: entry?.journey ?? null,
      events,
      customers: num(row?.customers),
      first_seen: row ? microsToIso(Number(row.first_us)) : null,
      last_seen: row ? microsToIso(Number(row.last_us)) : null,
      channels_seen: channels,
      reaction_time: (() => {
        const share = shareMet(row, target);
        const previous = shareMet(before.get(touchpoint), target);
        return {
          target_ms: target,
          measured,
          met,
          share_met: share,
          p90_ms: measured === 0 ? null : num(row?.p90),
          share_met_previous: previous,
          trend: share === null || previous === null ? null : round(share - previous),
        };
      })(),
      flags,
    };
  });
  const count = (f: InventoryFlag) => touchpoints.filter((t) => t.flags.includes(f)).length;
  return {
    from: microsToIso(range.fromMicros),
    to: microsToIso(range.toMicros),
    catalogue: catalogue ? { file: catalogue.file, version: catalogue.version } : null,
    summary: {
      catalogued: byName.size,
      seen: seen.size,
      uncatalogued: count('uncatalogued'),
      no_traffic: count('no_traffic'),
      channel_mismatch: count('channel_mismatch'),
    },
    touchpoints,
  };
}
