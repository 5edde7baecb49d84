// Recent alerts from ClickHouse, newest first, each with the signals that raised it (stored on the alert row).
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { AlertJson, AlertLevelName, AlertSignal } from '@touchstream/contracts';
import { scopeConditionSql, scopeParams, type Scope } from '../shared/scope.ts';
import { personaConditionSql, type PersonaSql } from '../personas/sql.ts';
import { churnRiskConditionSql, churnRiskParams } from '../shared/churn-risk.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';


/** An alert as HTTP consumers see it everywhere (webhooks, SSE); ClickHouse does not keep journey/channel yet. */
export type AlertView = Omit<AlertJson, 'journey' | 'channel'>;

export interface AlertRow {
  alert_id: string;
  customer_id: string;
  level: string;
  score: number;
  score_before: number;
  at_us: number | string;
  triggered_by: string;
  signals: Array<AlertSignal | [string, string, number, string, string]>;
  rules_version: string;
}

export const alertColumnsSql = `alert_id, customer_id, level, score, score_before, toUnixTimestamp64Micro(at) AS at_us,
  triggered_by, signals, rules_version`;

/**
 * What raised an alert: a customer's weak signals (`customer`), or the KPI deviation detector (`kpi`: triggered_by
 * `kpi_anomaly`, customer_id `kpi:<dimension>=<value>`, docs/architecture.md §21), which are not customers.
 */
export const alertKindNames = ['customer', 'kpi'] as const;
export type AlertKind = (typeof alertKindNames)[number];
/** The triggered_by of a KPI deviation alert (an ordinary Alert record otherwise). */
export const kpiAlertTrigger = 'kpi_anomaly';
export const alertKindOf = (a: { triggered_by: string }): AlertKind => (a.triggered_by === kpiAlertTrigger ? 'kpi' : 'customer');

interface AlertsRequest {
  fromMicros: number;
  toMicros: number;
  level?: AlertLevelName;
  customerId?: string;
  kind?: AlertKind;
  limit: number;
  /** Only alerts raised by a touchpoint on this channel / of this journey (as the live stream's filter); `persona` / `churnRisk`: of customers of it. */
  scope?: Scope;
  /** The personas' SQL, with `scope.persona` (§20.6). */
  personas?: PersonaSql;
}

// Optional filters are expressed in SQL with an "unset" value instead of splicing conditions in, so the statement
// text never depends on the request.
const alertsSql = (persona?: PersonaSql, byRisk = false) => `
SELECT ${alertColumnsSql}
FROM alerts FINAL
WHERE at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC')
  AND at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
  AND ({level:String} = '' OR level = {level:String})
  AND ({customer_id:String} = '' OR customer_id = {customer_id:String})
  AND ({kind:String} = '' OR (triggered_by = '${kpiAlertTrigger}') = ({kind:String} = 'kpi'))
  -- The alerts table keeps no channel or journey: the touchpoint that raised the alert (triggered_by, at its event
  -- time, which is the alert's) has them. A KPI deviation alert is in scope when its series is the channel or the
  -- journey filtered on (the live stream sees its channel / journey set); with both set, none is.
  AND (({channel:String} = '' AND {journey:String} = '') OR triggered_by IN (
    SELECT event_id FROM touchpoints
    WHERE occurred_at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
      AND ${scopeConditionSql()})
    OR (triggered_by = '${kpiAlertTrigger}'
      AND ({channel:String} = '' OR customer_id = concat('kpi:channel=', {channel:String}))
      AND ({journey:String} = '' OR customer_id = concat('kpi:journey=', {journey:String}))))${persona ? `
  -- A KPI deviation alert (customer_id kpi:…) is about no customer, so it has no persona.
  AND NOT startsWith(customer_id, 'kpi:') AND ${personaConditionSql(persona)}` : ''}${byRisk ? `
  -- Nor a churn-risk band.
  AND NOT startsWith(customer_id, 'kpi:') AND ${churnRiskConditionSql()}` : ''}
ORDER BY at DESC, alert_id DESC
LIMIT {limit:UInt32}
${querySettingsSql}`;

export function alertFromRow(row: AlertRow): AlertView {
  return {
    alert_id: row.alert_id,
    customer_id: row.customer_id,
    level: row.level,
    score: Number(row.score),
    score_before: Number(row.score_before),
    at: microsToIso(Number(row.at_us)),
    triggered_by: row.triggered_by,
    // Named tuples come out as objects (output_format_json_named_tuples_as_objects, on by default); accept arrays
    // too in case a server has it switched off.
    signals: (row.signals ?? []).map((s) =>
      Array.isArray(s)
        ? { signal_id: s[0], type: s[1], weight: Number(s[2]), event_id: s[3], explanation: s[4] }
        : { ...s, weight: Number(s.weight) },
    ),
    rules_version: row.rules_version ? row.rules_version : null,
  };
}

export async function queryAlerts(clickhouse: ClickHouseClient, request: AlertsRequest) {
  const result = await clickhouse.query({
    query: alertsSql(request.scope?.persona ? request.personas : undefined, Boolean(request.scope?.churnRisk)),
    query_params: {
      ...request.personas?.params,
      persona: request.scope?.persona ?? '',
      ...churnRiskParams(request.scope?.churnRisk),
      from_us: request.fromMicros,
      to_us: request.toMicros,
      level: request.level ?? '',
      customer_id: request.customerId ?? '',
      kind: request.kind ?? '',
      limit: request.limit,
      ...scopeParams(request.scope ?? {}),
    },
    format: 'JSONEachRow',
  });
  return (await result.json<AlertRow>()).map(alertFromRow);
}
