// Multi-touch attribution of a conversion touchpoint to channels or touchpoints.
//
// Paths: every conversion event (touchpoint = `conversion`) in [from, to) has a path — the customer's other
// touchpoints in the `lookback` before it and after their previous conversion, in time order. Customers with
// touchpoints in [from, to) but no conversion there have one non-converting path: their touchpoints in the `lookback`
// up to their last touchpoint in the range (used only by the Markov model, which needs paths that fail).
// Models (credit per conversion sums to 1; conversions without any touchpoint before them are counted apart):
//  first / last touch; linear (1/n each); time decay (weight 2^(−age/half_life), normalised); position-based (40% first,
//  40% last, 20% shared by the middle; 50/50 for two touches, 100% for one); Markov (first-order chain over all paths,
//  (start) → … → (conversion) | (null); a state's removal effect is 1 − P(conversion without it)/P(conversion); the
//  conversions are shared in proportion to the removal effects).
import { andPersonaSql, personaParams, type PersonaSql } from '../personas/sql.ts';
import { andChurnRiskSql, churnRiskParams, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { num, round } from '../shared/numbers.ts';
import { scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { distinctValuesSql, querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';
import { addTransition, conversionState, nullState, removalEffects, startState, type Transitions } from './markov.ts';

export const attributionByNames = ['channel', 'touchpoint'] as const;
export type AttributionBy = (typeof attributionByNames)[number];

export interface AttributionRequest {
  conversion: string;
  by: AttributionBy;
  lookbackMicros: number;
  halfLifeMicros: number;
  fromMicros: number;
  toMicros: number;
  /** Only the touchpoints on this channel / of this journey make paths and conversions. */
  scope?: Scope;
  /** The personas' SQL, with `scope.persona` (docs/architecture.md §20.6): only the paths of its customers. */
  personas?: PersonaSql;
}

export interface AttributionRow {
  key: string;
  touches: number;
  first_touch: number;
  last_touch: number;
  linear: number;
  time_decay: number;
  position_based: number;
  markov: number;
  removal_effect: number;
}

export interface AttributionResult {
  conversion: string;
  by: AttributionBy;
  from: string;
  to: string;
  lookback_seconds: number;
  half_life_seconds: number;
  conversions: number;
  conversions_without_touchpoints: number;
  non_converting_paths: number;
  conversion_probability: number;
  credits: AttributionRow[];
}

const keyColumn: Record<AttributionBy, string> = { channel: 'channel', touchpoint: 'touchpoint' };

/**
 * One row per (kind, a, b): kind 'credit' rows sum each model's credit for key a; kind 'edge' rows count Markov
 * transitions a → b; kind 'paths' counts converting (a = 'conversion') and non-converting paths and conversions
 * without touchpoints (a = 'empty').
 */
function attributionSql(by: AttributionBy, personas?: PersonaSql, churnRisk?: ChurnRiskBand): string {
  return `
WITH
-- The distinct keys of the range, sorted: rows carry their 1-based position (transform on a LowCardinality column maps
-- its dictionary, not every row), which orders like the string, and strings come back after grouping. Positions 0,
-- length(dict) + 1 and + 2 are the Markov states (start), (conversion) and (null).
arraySort(${distinctValuesSql(keyColumn[by], 'touchpoints', 'lookback_us')}) AS dict,
toUInt32(length(dict) + 1) AS conversion_id,
toUInt32(length(dict) + 2) AS null_id,
arrayConcat(['${startState}'], dict, ['${conversionState}', '${nullState}']) AS names
SELECT ['credit', 'edge', 'paths'][kind_id] AS kind, if(kind_id = 3, ['conversion', 'empty', 'none'][ia], names[ia + 1]) AS a,
  if(kind_id = 2, names[ib + 1], '') AS b,
  sum(v.1) AS first_touch, sum(v.2) AS last_touch, sum(v.3) AS linear, sum(v.4) AS time_decay,
  sum(v.5) AS position_based, sum(v.6) AS count
FROM (
  SELECT arrayConcat(
      -- heuristic credits of converting paths
      if(converting, arrayMap((k, j, w) -> (toUInt8(1), k, toUInt32(0),
          (toFloat64(j = 1), toFloat64(j = n), 1 / n, w / w_sum,
           multiIf(n = 1, 1., n = 2, 0.5, j = 1 OR j = n, 0.4, 0.2 / (n - 2)), 1.)),
        K, arrayEnumerate(K), W), []),
      -- Markov transitions of every path
      arrayMap((x, y) -> (toUInt8(2), x, y, (0., 0., 0., 0., 0., 1.)),
        arrayConcat([toUInt32(0)], K), arrayConcat(K, [if(converting, conversion_id, null_id)])),
      [(toUInt8(3), toUInt32(if(converting, if(n = 0, 2, 1), 3)), toUInt32(0), (0., 0., 0., 0., 0., 1.))]
    ) AS items
  FROM (
    -- Arrays are zipped into the lambdas rather than indexed from inside them: an array captured by a lambda is
    -- copied once per element, which makes indexing quadratic in the number of events.
    SELECT ci > 0 AS converting,
      if(converting, T[ci], arrayMax(arrayMap(t -> if(t >= {from_us:Int64}, t, 0), T))) AS end_at,
      if(converting, arrayMax(arrayMap((t, v, i) -> if(v AND i < ci, t, 0), T, V, arrayEnumerate(T))), 0) AS previous_conversion_at,
      arrayMap((i, t, v) -> NOT v AND (if(converting, i < ci, t <= end_at)) AND t > end_at - {lookback_us:Int64} AND t > previous_conversion_at,
        arrayEnumerate(T), T, V) AS on_path,
      arrayFilter((k, p) -> p, K0, on_path) AS K,
      arrayMap(t -> exp2(-(end_at - t) / {half_life_us:Int64}), arrayFilter((t, p) -> p, T, on_path)) AS W,
      arraySum(W) AS w_sum,
      toFloat64(length(K)) AS n
    FROM (
      SELECT customer_id,
        -- Events in (time, key, is conversion) order, sorted as one Int128 each: time · 2^33 + key position · 2 + is
        -- conversion (the position is a UInt32, so the low 33 bits never carry into the time); much cheaper to build
        -- and sort than tuples. (A row whose key was first stored after the dictionary was read, while this query
        -- ran, is left out.)
        arraySort(groupArrayIf(toInt128(toUnixTimestamp64Micro(occurred_at)) * 8589934592 + key_id * 2 + (touchpoint = {conversion:String}),
          key_id > 0)) AS ev,
        arrayMap(x -> toInt64(bitShiftRight(x, 33)), ev) AS T,
        arrayMap(x -> toUInt32(bitShiftRight(bitAnd(x, 8589934591), 1)), ev) AS K0,
        arrayMap(x -> toUInt8(bitAnd(x, 1)), ev) AS V,
        arrayFilter((i, t, v) -> v AND t >= {from_us:Int64}, arrayEnumerate(T), T, V) AS conversion_indexes
      FROM (
        SELECT customer_id, occurred_at, touchpoint, toUInt32(transform(${keyColumn[by]}, dict, arrayEnumerate(dict), 0)) AS key_id
        FROM touchpoints
        WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64} - {lookback_us:Int64}, 'UTC')
          AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
          AND ${scopeConditionSql()}${andPersonaSql(personas)}${andChurnRiskSql(churnRisk)}
      )
      GROUP BY customer_id
    )
    ARRAY JOIN if(empty(conversion_indexes), [0], conversion_indexes) AS ci
    WHERE end_at > 0
  )
)
ARRAY JOIN items.1 AS kind_id, items.2 AS ia, items.3 AS ib, items.4 AS v
GROUP BY kind_id, ia, ib
${querySettingsSql}`;
}

interface Row {
  kind: string;
  a: string;
  b: string;
  first_touch: number;
  last_touch: number;
  linear: number;
  time_decay: number;
  position_based: number;
  count: number | string;
}

function attributionFromRows(request: AttributionRequest, rows: Row[]): AttributionResult {
  const paths = (a: string) => num(rows.find((r) => r.kind === 'paths' && r.a === a)?.count);
  const transitions: Transitions = new Map();
  for (const r of rows) if (r.kind === 'edge') addTransition(transitions, r.a, r.b, num(r.count));
  const withTouchpoints = paths('conversion');
  const { base, effects } = removalEffects(transitions);
  let effectSum = 0;
  for (const e of effects.values()) effectSum += Math.max(0, e);
  const credits = new Map<string, AttributionRow>();
  const rowFor = (key: string) => {
    let row = credits.get(key);
    if (!row) credits.set(key, (row = { key, touches: 0, first_touch: 0, last_touch: 0, linear: 0, time_decay: 0, position_based: 0, markov: 0, removal_effect: 0 }));
    return row;
  };
  for (const r of rows) {
    if (r.kind !== 'credit') continue;
    const row = rowFor(r.a);
    row.touches = num(r.count);
    row.first_touch = Number(r.first_touch);
    row.last_touch = Number(r.last_touch);
    row.linear = Number(r.linear);
    row.time_decay = Number(r.time_decay);
    row.position_based = Number(r.position_based);
  }
  for (const [key, effect] of effects) {
    const row = rowFor(key);
    row.removal_effect = effect;
    row.markov = effectSum > 0 ? (Math.max(0, effect) / effectSum) * withTouchpoints : 0;
  }
  const rounded = [...credits.values()].map((r) => ({
    key: r.key,
    touches: r.touches,
    first_touch: round(r.first_touch, 4)!,
    last_touch: round(r.last_touch, 4)!,
    linear: round(r.linear, 4)!,
    time_decay: round(r.time_decay, 4)!,
    position_based: round(r.position_based, 4)!,
    markov: round(r.markov, 4)!,
    removal_effect: round(r.removal_effect, 6)!,
  }));
  rounded.sort((x, y) => y.linear - x.linear || y.markov - x.markov || x.key.localeCompare(y.key));
  return {
    conversion: request.conversion,
    by: request.by,
    from: microsToIso(request.fromMicros),
    to: microsToIso(request.toMicros),
    lookback_seconds: request.lookbackMicros / 1_000_000,
    half_life_seconds: request.halfLifeMicros / 1_000_000,
    conversions: withTouchpoints + paths('empty'),
    conversions_without_touchpoints: paths('empty'),
    non_converting_paths: paths('none'),
    conversion_probability: round(base)!,
    credits: rounded,
  };
}

export async function queryAttribution(clickhouse: ClickHouseClient, request: AttributionRequest): Promise<AttributionResult> {
  const result = await clickhouse.query({
    query: attributionSql(request.by, request.scope?.persona ? request.personas : undefined, request.scope?.churnRisk),
    query_params: {
      ...personaParams(request.personas, request.scope?.persona),
      ...churnRiskParams(request.scope?.churnRisk),
      from_us: request.fromMicros,
      to_us: request.toMicros,
      lookback_us: request.lookbackMicros,
      half_life_us: request.halfLifeMicros,
      conversion: request.conversion,
      ...scopeParams(request.scope ?? {}),
    },
    format: 'JSONEachRow',
  });
  return attributionFromRows(request, await result.json<Row>());
}
