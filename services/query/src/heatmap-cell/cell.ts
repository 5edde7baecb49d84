// What stands behind one heat-map row: the touchpoints of a journey stage in a range and the customers who had
// them, for the workspace's drill-down from a cell (docs/architecture.md §19).
import { andPersonaSql, personaParams, type PersonaSql } from '../personas/sql.ts';
import { andChurnRiskSql, churnRiskParams, type ChurnRiskBand } from '../shared/churn-risk.ts';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';

export interface StageCellRequest {
  fromMicros: number;
  toMicros: number;
  /** The stage ("" = touchpoints without one, as the heat map's row). */
  stage: string;
  limit: number;
  scope?: Scope;
  /** The personas' SQL, with `scope.persona` (docs/architecture.md §20.6). */
  personas?: PersonaSql;
}

export interface StageCell {
  touchpoints: Array<{ touchpoint: string; channel: string; events: number; customers: number }>;
  customers: Array<{ customer_id: string; events: number; last_at: string }>;
}

const whereSql = (personas?: PersonaSql, churnRisk?: ChurnRiskBand) => `stage = {stage:String}
  AND occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
  AND ${scopeConditionSql()}${andPersonaSql(personas)}${andChurnRiskSql(churnRisk)}`;

export async function queryStageCell(clickhouse: ClickHouseClient, request: StageCellRequest): Promise<StageCell> {
  const query_params = {
    stage: request.stage, from_us: request.fromMicros, to_us: request.toMicros, limit: request.limit, ...scopeParams(request.scope ?? {}),
    ...personaParams(request.personas, request.scope?.persona),
    ...churnRiskParams(request.scope?.churnRisk),
  };
  const where = whereSql(request.scope?.persona ? request.personas : undefined, request.scope?.churnRisk);
  const [tp, cu] = await Promise.all([
    clickhouse.query({
      query: `SELECT touchpoint, channel, count() AS events, uniqExact(customer_id) AS customers FROM touchpoints
WHERE ${where} GROUP BY touchpoint, channel ORDER BY events DESC, touchpoint, channel LIMIT {limit:UInt32} ${querySettingsSql}`,
      query_params,
      format: 'JSONEachRow',
    }),
    clickhouse.query({
      query: `SELECT customer_id, count() AS events, toUnixTimestamp64Micro(max(occurred_at)) AS last_us FROM touchpoints
WHERE ${where} GROUP BY customer_id ORDER BY last_us DESC, customer_id LIMIT {limit:UInt32} ${querySettingsSql}`,
      query_params,
      format: 'JSONEachRow',
    }),
  ]);
  const touchpoints = await tp.json<{ touchpoint: string; channel: string; events: string | number; customers: string | number }>();
  const customers = await cu.json<{ customer_id: string; events: string | number; last_us: string | number }>();
  return {
    touchpoints: touchpoints.map((r) => ({ touchpoint: r.touchpoint, channel: r.channel, events: Number(r.events), customers: Number(r.customers) })),
    customers: customers.map((r) => ({ customer_id: r.customer_id, events: Number(r.events), last_at: microsToIso(Number(r.last_us)) })),
  };
}
