// Paths from (or to) one touchpoint as Sankey edges. Per customer, the touchpoints in the range in time order; the
// path starts at the customer's FIRST occurrence of `start` and takes the next depth−1 touchpoints (or ends at the
// LAST occurrence of `end` and takes the depth−1 before it). Nodes are "step i: touchpoint": with `start`, the start is
// step 1 and later steps count up; with `end`, the end is step 0 and earlier steps count down (step -1, -2, …), so
// paths of different lengths line up at the touchpoint asked for. Each customer contributes one path, so an edge's
// weight is a number of customers. Per step only the `top` touchpoints by customers keep their own node; the rest
// are merged into "step i: (other)".
import { andPersonaSql, personaParams, type PersonaSql } from '../personas/sql.ts';
import { andChurnRiskSql, churnRiskParams, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { num } from '../shared/numbers.ts';
import { scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';

export const maxPathDepth = 10;
const otherNode = '(other)';

export interface PathsRequest {
  anchor: { kind: 'start' | 'end'; touchpoint: string };
  depth: number;
  top: number;
  fromMicros: number;
  toMicros: number;
  /** Paths made of the touchpoints on this channel / of this journey only. */
  scope?: Scope;
  /** The personas' SQL, with `scope.persona` (docs/architecture.md §20.6): only the paths of its customers. */
  personas?: PersonaSql;
}

export interface SankeyEdge {
  source: string;
  target: string;
  customers: number;
}

export interface PathsResult {
  from: string;
  to: string;
  start: string | null;
  end: string | null;
  depth: number;
  /** Customers whose path contains the anchor touchpoint. */
  customers: number;
  nodes: Array<{ name: string; step: number; touchpoint: string; customers: number }>;
  edges: SankeyEdge[];
}

/**
 * Raw edge counts. The path is anchored at index 1 (reversed for `end`, so index 1 is the end touchpoint and index 2
 * the one before it). Row (position p, a, b) counts customers with path[p] = a and path[p+1] = b; position 0 carries
 * the number of paths.
 */
function pathsSql(kind: 'start' | 'end', personas?: PersonaSql, churnRisk?: ChurnRiskBand): string {
  const path =
    kind === 'start'
      ? `arraySlice(P, indexOf(P, {touchpoint:String}), {depth:UInt8})`
      : `arraySlice(arrayReverse(P), indexOf(arrayReverse(P), {touchpoint:String}), {depth:UInt8})`;
  return `
SELECT position, a, b, count() AS customers
FROM (
  SELECT ${path} AS path
  FROM (
    SELECT customer_id, arrayMap(e -> toString(e.2), arraySort(groupArray((toUnixTimestamp64Micro(occurred_at), touchpoint)))) AS P
    FROM touchpoints
    WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ${scopeConditionSql()}${andPersonaSql(personas)}${andChurnRiskSql(churnRisk)}
    GROUP BY customer_id
    HAVING has(P, {touchpoint:String})
  )
)
ARRAY JOIN
  range(toUInt64(length(path))) AS position,
  arrayConcat([''], arraySlice(path, 1, length(path) - 1)) AS a,
  arrayConcat([''], arraySlice(path, 2)) AS b
GROUP BY position, a, b
${querySettingsSql}`;
}

interface EdgeRow {
  position: number | string;
  a: string;
  b: string;
  customers: number | string;
}

export async function queryPaths(clickhouse: ClickHouseClient, request: PathsRequest): Promise<PathsResult> {
  const result = await clickhouse.query({
    query: pathsSql(request.anchor.kind, request.scope?.persona ? request.personas : undefined, request.scope?.churnRisk),
    query_params: {
      from_us: request.fromMicros, to_us: request.toMicros, touchpoint: request.anchor.touchpoint, depth: request.depth, ...scopeParams(request.scope ?? {}),
      ...personaParams(request.personas, request.scope?.persona),
      ...churnRiskParams(request.scope?.churnRisk),
    },
    format: 'JSONEachRow',
  });
  return buildSankey(request, await result.json<EdgeRow>());
}

function buildSankey(request: PathsRequest, rows: EdgeRow[]): PathsResult {
  const fromStart = request.anchor.kind === 'start';
  // Step label of path index i (1-based from the anchor).
  const stepOf = (index: number) => (fromStart ? index : 1 - index);
  const pathCount = rows.filter((r) => num(r.position) === 0).reduce((s, r) => s + num(r.customers), 0);
  const edges = rows.filter((r) => num(r.position) > 0).map((r) => ({ index: num(r.position), a: r.a, b: r.b, customers: num(r.customers) }));
  // Customers at (index, touchpoint): the anchor has every path; index i+1 is reached exactly by the edges into it.
  const key = (index: number, tp: string) => `${index}\u0000${tp}`;
  const nodeCustomers = new Map<string, number>(pathCount > 0 ? [[key(1, request.anchor.touchpoint), pathCount]] : []);
  for (const e of edges) nodeCustomers.set(key(e.index + 1, e.b), (nodeCustomers.get(key(e.index + 1, e.b)) ?? 0) + e.customers);
  const perIndex = new Map<number, Array<[string, number]>>();
  for (const [k, v] of nodeCustomers) {
    const [index, tp] = k.split('\u0000') as [string, string];
    perIndex.set(Number(index), [...(perIndex.get(Number(index)) ?? []), [tp, v]]);
  }
  const kept = new Set<string>();
  for (const [index, list] of perIndex) {
    list.sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
    for (const [tp] of list.slice(0, request.top)) kept.add(key(index, tp));
  }
  const shown = (index: number, tp: string) => (kept.has(key(index, tp)) ? tp : otherNode);
  const nodeName = (index: number, tp: string) => `step ${stepOf(index)}: ${shown(index, tp)}`;
  const merged = new Map<string, SankeyEdge>();
  for (const e of edges) {
    const near = nodeName(e.index, e.a);
    const far = nodeName(e.index + 1, e.b);
    // Edges point forward in time: away from a start, towards an end.
    const edge = fromStart ? { source: near, target: far } : { source: far, target: near };
    const k = `${edge.source}\u0000${edge.target}`;
    const existing = merged.get(k);
    if (existing) existing.customers += e.customers;
    else merged.set(k, { ...edge, customers: e.customers });
  }
  const nodes = new Map<string, { name: string; step: number; touchpoint: string; customers: number }>();
  for (const [k, v] of nodeCustomers) {
    const [indexText, tp] = k.split('\u0000') as [string, string];
    const index = Number(indexText);
    const name = nodeName(index, tp);
    const node = nodes.get(name);
    if (node) node.customers += v;
    else nodes.set(name, { name, step: stepOf(index), touchpoint: shown(index, tp), customers: v });
  }
  return {
    from: microsToIso(request.fromMicros),
    to: microsToIso(request.toMicros),
    start: fromStart ? request.anchor.touchpoint : null,
    end: fromStart ? null : request.anchor.touchpoint,
    depth: request.depth,
    customers: pathCount,
    nodes: [...nodes.values()].sort((x, y) => x.step - y.step || y.customers - x.customers || x.name.localeCompare(y.name)),
    edges: [...merged.values()].sort((x, y) => y.customers - x.customers || x.source.localeCompare(y.source) || x.target.localeCompare(y.target)),
  };
}
