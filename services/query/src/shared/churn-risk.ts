// The churn-risk band as a segment of any analysis (docs/architecture.md §22): only the rows of customers whose newest
// live score (churn_scores) is in the requested band, `unscored` for customers without a score. Like the persona
// filter (§20.6) it is a condition on the row's customer_id, so it fits in any WHERE without reshaping a statement.
//
// One IN subquery rather than a JOIN: ClickHouse builds the set once per statement and tests each row against it. For
// a band the set is the band's customers and a row must be in it; for `unscored` the set is every scored customer and
// a row must not be. The band travels as the parameter {churn_risk:String}, so the statement's text never holds a
// request's value (and is the same for every band).

export const churnRiskBands = ['low', 'medium', 'high', 'unscored'] as const;
export type ChurnRiskBand = (typeof churnRiskBands)[number];

/**
 * The customers whose newest score is in band {churn_risk:String} (older scores collapse on merge; argMax until then),
 * or every scored customer when the band is `unscored`.
 */
const bandCustomersSql = `SELECT customer_id FROM churn_scores GROUP BY customer_id
  HAVING {churn_risk:String} = 'unscored' OR argMax(band, scored_at) = {churn_risk:String}`;

/** True for a row whose customer is in the requested band ({churn_risk:String}; '' keeps every row). */
export function churnRiskConditionSql(column = 'customer_id'): string {
  return `({churn_risk:String} = '' OR (${column} IN (${bandCustomersSql})) != ({churn_risk:String} = 'unscored'))`;
}

/**
 * The band of the row's customer as a value (for a split): `transform` over one scalar subquery holding every scored
 * customer and their newest band as two arrays, as the personas do (personas/sql.ts): computed once per statement,
 * looked up in a hash table, no JOIN. Customers without a score get `unscored`.
 */
export function churnRiskBandSql(column = 'customer_id'): string {
  const map = `((SELECT tuple(groupArray(customer_id), groupArray(band)) FROM (SELECT customer_id, toString(argMax(band, scored_at)) AS band FROM churn_scores GROUP BY customer_id)) AS ts_churn_band_map)`;
  return `transform(toString(${column}), ${map}.1, ts_churn_band_map.2, 'unscored')`;
}

/** `AND <band condition>` when the request filters by a band, else nothing (no set is built for unfiltered requests). */
export function andChurnRiskSql(band: ChurnRiskBand | undefined, column = 'customer_id'): string {
  return band ? `\n      AND ${churnRiskConditionSql(column)}` : '';
}

/** The parameter of a statement that may use the band condition. */
export const churnRiskParams = (band: ChurnRiskBand | undefined) => ({ churn_risk: band ?? '' });

/** Route querystring (or body) property `churn_risk`. `what` says what the filter keeps on this route. */
export const churnRiskProperty = (what: string) =>
  ({
    churn_risk: {
      type: 'string',
      enum: [...churnRiskBands],
      description: `${what} (the band of the customer's newest live churn-risk score, docs/architecture.md §22; \`unscored\`: customers without a score).`,
    },
  }) as const;
