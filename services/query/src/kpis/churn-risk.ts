// The KPIs split by, or filtered to, churn-risk bands (docs/architecture.md §22). A customer's band is their latest
// live score's (churn_scores, written by the sink from the processor's churn_scores.v1), `unscored` without one, and
// it applies to all of their touchpoints in the range: "how do the customers who are at high risk now experience us".
// The band is per customer and changes, so no rollup holds it: these figures are read from the raw touchpoints and
// signals (no FINAL, as for reaction time in kpis.ts), with the same definitions as the rollups' (migration 001/002).
// First-contact resolution and reaction-time compliance are not split by band (0 / null with by=churn_risk); with the
// band as a filter, kpis.ts computes them with the band condition of shared/churn-risk.ts.
import { scopeConditionSql } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';
import type { PersonaSql } from '../personas/sql.ts';

export { churnRiskBands, type ChurnRiskBand } from '../shared/churn-risk.ts';

/** Each customer's current band: the band of their newest score. */
const bandsSql = `SELECT customer_id, argMax(band, scored_at) AS band FROM churn_scores GROUP BY customer_id`;
const riskSql = `if(b.band = '', 'unscored', toString(b.band))`;
/** The band filter: '' keeps every band. */
/** The KPI filters (kpis.ts): channel / journey scope and a touchpoint, each '' for any. */
const filterConditionSql = (alias: string) => `${scopeConditionSql(alias)} AND ({touchpoint:String} = '' OR ${alias}.touchpoint = {touchpoint:String})`;
/** The customer's persona (§20.6) when the request splits or filters by persona, '' otherwise. */
const personaColumnSql = (persona: PersonaSql | undefined, alias: string) => (persona ? persona.expression(`${alias}.customer_id`) : "''");
const personaFilterSql = `({persona:String} = '' OR persona = {persona:String})`;
const riskFilterSql = `({churn_risk:String} = '' OR risk = {churn_risk:String})`;

type Grouping = 'totals' | 'both';
const periodSql = `toUInt32(bucket >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC'))`;
const groupSql = (grouping: Grouping) =>
  grouping === 'totals'
    ? `${periodSql} AS g`
    : `toUnixTimestamp(bucket) AS b, ${periodSql} AS p, grouping(b) AS is_total, if(is_total = 1, p, b) AS g`;
const groupBySql = (grouping: Grouping) => (grouping === 'both' ? 'GROUPING SETS ((b, k), (p, k))' : 'g, k');

/**
 * The touchpoint figures (the columns of touchpointAggregateSql's rows) from the raw table. `keySql` is the split:
 * `risk` for by=churn_risk, a dimension column, or `''`.
 */
export function churnRiskTouchpointSql(rawBucketSql: string, keySql: string, grouping: Grouping, filtered: boolean, persona?: PersonaSql): string {
  return `
SELECT
  ${groupSql(grouping)},
  CAST(${keySql} AS String) AS k,
  count() AS events,
  uniq(customer_id) AS unique_customers,
  countIf(survey_kind = 'NPS') AS nps_responses,
  countIf(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9) AS nps_promoters,
  countIf(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6) AS nps_detractors,
  countIf(survey_kind = 'CSAT') AS csat_responses,
  countIf(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4) AS csat_satisfied,
  sumIf(toInt64(ifNull(survey_score, 0)), survey_kind = 'CSAT') AS csat_score_sum,
  countIf(survey_kind = 'CES') AS ces_responses,
  sumIf(toInt64(ifNull(survey_score, 0)), survey_kind = 'CES') AS ces_score_sum,
  sum(duration_ms) AS duration_sum,
  count(duration_ms) AS duration_count,
  avg(wait_ms) AS wait_avg,
  quantiles(0.5, 0.9)(wait_ms)[2] AS wait_p90,
  avg(sentiment) AS sentiment_avg,
  countIf(outcome IN ('started', 'completed', 'failed', 'abandoned', 'escalated', 'transferred', 'resolved', 'unresolved')) AS outcomes,
  countIf(outcome = 'abandoned') AS abandoned,
  uniqIf((customer_id, journey), journey != '') AS journeys,
  uniqIf((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM (
  SELECT
    ${rawBucketSql} AS bucket,
    t.customer_id AS customer_id, t.channel AS channel, t.touchpoint AS touchpoint, t.journey AS journey, t.stage AS stage,
    t.initiator AS initiator, t.outcome AS outcome, t.duration_ms AS duration_ms, t.wait_ms AS wait_ms, t.sentiment AS sentiment,
    t.survey_kind AS survey_kind, t.survey_score AS survey_score,
    ${riskSql} AS risk, ${personaColumnSql(persona, 't')} AS persona
  FROM touchpoints AS t
  LEFT JOIN (${bandsSql}) AS b ON b.customer_id = t.customer_id
  WHERE t.occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')
    AND t.occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')${filtered ? `\n    AND ${filterConditionSql('t')}` : ''}
)
WHERE ${riskFilterSql}${persona ? ` AND ${personaFilterSql}` : ''}
GROUP BY ${groupBySql(grouping)}
ORDER BY g, k
${querySettingsSql}`;
}

/** Signal counts the same way (signals carry no initiator: by=initiator has none, as in kpis.ts). */
export function churnRiskSignalSql(rawBucketSql: string, keySql: string | null, grouping: Grouping, filtered: boolean, persona?: PersonaSql): string | null {
  if (keySql === null) return null;
  return `
SELECT ${groupSql(grouping)}, CAST(${keySql} AS String) AS k, count() AS signal_count
FROM (
  SELECT ${rawBucketSql} AS bucket, s.channel AS channel, s.touchpoint AS touchpoint, s.journey AS journey, s.stage AS stage, ${riskSql} AS risk,
    ${personaColumnSql(persona, 's')} AS persona
  FROM signals AS s
  LEFT JOIN (${bandsSql}) AS b ON b.customer_id = s.customer_id
  WHERE s.occurred_at >= fromUnixTimestamp64Micro({prev_from_us:Int64}, 'UTC')
    AND s.occurred_at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')${filtered ? `\n    AND ${filterConditionSql('s')}` : ''}
)
WHERE ${riskFilterSql}${persona ? ` AND ${personaFilterSql}` : ''}
GROUP BY ${groupBySql(grouping)}
${querySettingsSql}`;
}
