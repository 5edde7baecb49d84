// The workspace's global filters on the analyses: an optional channel and journey (docs/architecture.md §19).
// Expressed in SQL with '' as "unset" instead of splicing conditions in, so a statement's text never depends on the
// request and the values always travel as parameters.
import { name } from './schemas.ts';
import type { ChurnRiskBand } from './churn-risk.ts';

export interface Scope {
  channel?: string;
  journey?: string;
  /**
   * Only customers of this persona (docs/architecture.md §20.6). Its condition needs the personas' SQL, so the analyses
   * that take it add personaConditionSql (services/query/src/personas/sql.ts) themselves; isScoped ignores it.
   */
  persona?: string;
  /**
   * Only customers whose newest churn-risk score is in this band (docs/architecture.md §22). The analyses that take it
   * add churnRiskConditionSql (./churn-risk.ts) themselves; isScoped ignores it.
   */
  churnRisk?: ChurnRiskBand;
}

/** Route querystring properties `channel` and `journey`. `what` says what the filter keeps on this route. */
export const scopeProperties = (what = 'Only touchpoints') =>
  ({
    channel: name(`${what} on this channel.`, 'phone'),
    journey: name(`${what} of this journey.`, 'billing_support'),
  }) as const;

/** True for a row of a table with `channel` and `journey` columns that the scope keeps (every row when unset). */
export function scopeConditionSql(alias = ''): string {
  const col = (c: string) => (alias ? `${alias}.${c}` : c);
  return `({channel:String} = '' OR ${col('channel')} = {channel:String}) AND ({journey:String} = '' OR ${col('journey')} = {journey:String})`;
}

export const scopeParams = (scope: Scope) => ({ channel: scope.channel ?? '', journey: scope.journey ?? '' });

export const isScoped = (scope: Scope | undefined) => Boolean(scope?.channel || scope?.journey);
