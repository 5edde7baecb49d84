// The emotional evaluation per touchpoint (docs/architecture.md §20.4): for each touchpoint seen in a range, the
// customers' sentiment at it (given, or derived from its text), the surveys answered after it (CSAT, CES, NPS: a
// survey is credited to the latest non-survey touchpoint of the same customer before it, within a window) and the
// share of its contacts that raised a weak signal — each with a 95% confidence interval (Wilson for rates, Student's
// t for means). Touchpoints whose interval lies wholly on the worse side of the figure over all touchpoints are pain
// points, wholly on the better side bright spots; only figures with at least `minSample` observations are judged.
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { finiteOrNull, num, round } from '../shared/numbers.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { tInterval, wilsonInterval } from '../shared/stats.ts';
import { microsToIso } from '../shared/time.ts';
import type { TouchpointCatalogue } from '@touchstream/contracts/touchpoint-catalogue';

export const evaluationMetricNames = ['sentiment', 'csat', 'ces', 'nps', 'negative_signal_rate'] as const;
export type EvaluationMetric = (typeof evaluationMetricNames)[number];

/**
 * Direction and span of each figure: the span turns a gap into a share of the scale, so gaps of different figures
 * rank on one list (sentiment −1…1, CSAT share 0…1, CES 1…7 lower is better, NPS −100…100, signal share 0…1).
 */
const metricScales: Record<EvaluationMetric, { higherIsBetter: boolean; span: number }> = {
  sentiment: { higherIsBetter: true, span: 2 },
  csat: { higherIsBetter: true, span: 1 },
  ces: { higherIsBetter: false, span: 6 },
  nps: { higherIsBetter: true, span: 200 },
  negative_signal_rate: { higherIsBetter: false, span: 1 },
};

export const defaultSurveyWindowMicros = 24 * 3600 * 1_000_000;
export const defaultMinSample = 30;

export interface Figure {
  /** Observations: contacts with a sentiment, survey responses, or contacts (signal rate). */
  n: number;
  value: number | null;
  /** 95% interval; null when n is too small for one (means need 2). */
  ci95: [number, number] | null;
  /** n ≥ min_sample: the figure is judged (pain point or bright spot) only then. */
  sufficient: boolean;
}

export interface TouchpointEvaluation {
  touchpoint: string;
  catalogued: boolean;
  stage: string | null;
  channel: string | null;
  owner: string | null;
  /** Non-survey touchpoints in the range. */
  contacts: number;
  /** Mean sentiment (−1…1); `derived` of the `n` were scored from text. */
  sentiment: Figure & { derived: number };
  /** Share of credited CSAT responses scoring 4 or 5 (0…1), with the mean score beside it. */
  csat: Figure & { mean: number | null };
  /** Mean credited CES (1…7, lower is better). */
  ces: Figure;
  /** NPS of the credited responses (−100…100); the interval is the t interval of the +100/0/−100 scores. */
  nps: Figure;
  /** Share of contacts that raised at least one weak signal (0…1). */
  negative_signal_rate: Figure & { flagged: number };
}

export interface Judgement {
  touchpoint: string;
  metric: EvaluationMetric;
  value: number;
  ci95: [number, number];
  /** The same figure over all touchpoints. */
  baseline: number;
  n: number;
  /** Distance from the baseline to the nearer end of the interval, as a share of the figure's scale: the ranking key. */
  gap: number;
}

export interface Evaluation {
  from: string;
  to: string;
  survey_window_ms: number;
  min_sample: number;
  catalogue: { file: string; version: string } | null;
  baseline: Record<EvaluationMetric, number | null>;
  /** Survey responses in the range that followed no touchpoint of theirs within the window. */
  uncredited_surveys: number;
  pain_points: Judgement[];
  bright_spots: Judgement[];
  touchpoints: TouchpointEvaluation[];
}

const rangeSql = (column: string, to = `{to_us:Int64}`) =>
  `${column} >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND ${column} < fromUnixTimestamp64Micro(${to}, 'UTC')`;

// Contacts: non-survey touchpoints in the range. `flagged`: a weak signal names the event (signals may be stored a
// little after the touchpoint, so the signal range runs one window past the end).
const contactsSql = `
SELECT
  toString(touchpoint) AS touchpoint,
  count() AS contacts,
  count(sentiment) AS sentiment_n,
  avgOrNull(sentiment) AS sentiment_mean,
  varSampOrNull(sentiment) AS sentiment_var,
  countIf(sentiment_source = 'derived' AND sentiment IS NOT NULL) AS sentiment_derived,
  countIf(event_id IN (SELECT event_id FROM signals WHERE ${rangeSql('occurred_at', '{surveys_to_us:Int64}')})) AS flagged
FROM touchpoints FINAL
WHERE ${rangeSql('occurred_at')} AND survey_kind = ''
GROUP BY touchpoint
ORDER BY touchpoint
${querySettingsSql}`;

// Surveys answered in [from, to + window), each joined (ASOF) to the latest contact of the same customer strictly
// before it among the range's contacts; no contact, or one longer than the window before: credited to '' (uncredited).
// A contact before `from` cannot be the latest when a contact in the range precedes the survey, so limiting the
// right side to the range credits exactly as the whole history would, except surveys whose contact lies before it.
const surveysSql = `
SELECT
  if(c.touchpoint = '' OR s.occurred_at > c.occurred_at + toIntervalMicrosecond({window_us:Int64}), '', c.touchpoint) AS credited_to,
  s.survey_kind AS kind,
  count() AS responses,
  avg(s.survey_score) AS mean,
  varSampOrNull(s.survey_score) AS var,
  countIf(s.survey_score >= 4) AS csat_satisfied,
  countIf(s.survey_score >= 9) AS promoters,
  countIf(s.survey_score <= 6) AS detractors
FROM (
  SELECT customer_id, occurred_at, toString(survey_kind) AS survey_kind, assumeNotNull(survey_score) AS survey_score
  FROM touchpoints FINAL
  WHERE ${rangeSql('occurred_at', '{surveys_to_us:Int64}')} AND survey_kind IN ('CSAT', 'CES', 'NPS') AND survey_score IS NOT NULL
) AS s
ASOF LEFT JOIN (
  SELECT customer_id, occurred_at, toString(touchpoint) AS touchpoint
  FROM touchpoints FINAL
  WHERE ${rangeSql('occurred_at')} AND survey_kind = ''
) AS c
ON s.customer_id = c.customer_id AND s.occurred_at > c.occurred_at
GROUP BY credited_to, kind
ORDER BY credited_to, kind
${querySettingsSql}`;

type Num = number | string | null | undefined;

interface ContactRow {
  touchpoint: string;
  contacts: Num;
  sentiment_n: Num;
  sentiment_mean: Num;
  sentiment_var: Num;
  sentiment_derived: Num;
  flagged: Num;
}

interface SurveyRow {
  credited_to: string;
  kind: 'CSAT' | 'CES' | 'NPS';
  responses: Num;
  mean: Num;
  var: Num;
  csat_satisfied: Num;
  promoters: Num;
  detractors: Num;
}

/** Rounds an interval, clipped to the figure's scale (a t interval of a small sample can reach past it). */
const roundCi = (ci: [number, number] | null, [min, max]: [number, number], scale = 1): [number, number] | null =>
  ci === null ? null : [round(Math.max(min, ci[0]) * scale)!, round(Math.min(max, ci[1]) * scale)!];

function meanFigure(n: number, mean: Num, variance: Num, minSample: number, bounds: [number, number]): Figure {
  const m = finiteOrNull(mean);
  if (n === 0 || m === null) return { n, value: null, ci95: null, sufficient: false };
  return { n, value: round(m), ci95: roundCi(tInterval({ n, mean: m, variance: finiteOrNull(variance) ?? 0 }), bounds), sufficient: n >= minSample };
}

function rateFigure(x: number, n: number, minSample: number): Figure {
  if (n === 0) return { n, value: null, ci95: null, sufficient: false };
  return { n, value: round(x / n), ci95: roundCi(wilsonInterval(x, n), [0, 1]), sufficient: n >= minSample };
}

/**
 * NPS as the mean of per-response scores +1 (promoter), 0, −1 (detractor), × 100: mean p − d; sample variance
 * n/(n − 1)·(p + d − (p − d)²) with p, d the promoter and detractor shares. The t interval of that mean is the NPS's.
 */
function npsFigure(promoters: number, detractors: number, n: number, minSample: number): Figure {
  if (n === 0) return { n, value: null, ci95: null, sufficient: false };
  const p = promoters / n;
  const d = detractors / n;
  const mean = p - d;
  const variance = n > 1 ? (n / (n - 1)) * (p + d - mean * mean) : 0;
  return { n, value: round(mean * 100, 4), ci95: roundCi(tInterval({ n, mean, variance }), [-1, 1], 100), sufficient: n >= minSample };
}

export async function queryEvaluation(
  clickhouse: ClickHouseClient,
  catalogue: TouchpointCatalogue | null,
  request: { fromMicros: number; toMicros: number; surveyWindowMicros: number; minSample: number },
): Promise<Evaluation> {
  const params = {
    from_us: request.fromMicros,
    to_us: request.toMicros,
    surveys_to_us: request.toMicros + request.surveyWindowMicros,
    window_us: request.surveyWindowMicros,
  };
  const read = async <T>(query: string) => (await clickhouse.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
  const [contactRows, surveyRows] = await Promise.all([read<ContactRow>(contactsSql), read<SurveyRow>(surveysSql)]);
  const { minSample } = request;
  const byName = new Map((catalogue?.entries ?? []).map((e) => [e.touchpoint, e]));
  const surveysOf = (touchpoint: string, kind: SurveyRow['kind']) => surveyRows.find((r) => r.credited_to === touchpoint && r.kind === kind);

  const touchpoints = contactRows.map((row): TouchpointEvaluation => {
    const entry = byName.get(row.touchpoint);
    const csat = surveysOf(row.touchpoint, 'CSAT');
    const ces = surveysOf(row.touchpoint, 'CES');
    const nps = surveysOf(row.touchpoint, 'NPS');
    const contacts = num(row.contacts);
    return {
      touchpoint: row.touchpoint,
      catalogued: entry !== undefined,
      stage: entry?.stage ?? null,
      channel: entry?.channel ?? null,
      owner: entry?.owner ?? null,
      contacts,
      sentiment: { ...meanFigure(num(row.sentiment_n), row.sentiment_mean, row.sentiment_var, minSample, [-1, 1]), derived: num(row.sentiment_derived) },
      csat: { ...rateFigure(num(csat?.csat_satisfied), num(csat?.responses), minSample), mean: round(finiteOrNull(csat?.mean ?? null)) },
      ces: meanFigure(num(ces?.responses), ces?.mean, ces?.var, minSample, [1, 7]),
      nps: npsFigure(num(nps?.promoters), num(nps?.detractors), num(nps?.responses), minSample),
      negative_signal_rate: { ...rateFigure(num(row.flagged), contacts, minSample), flagged: num(row.flagged) },
    };
  });

  // Baselines: the same figures pooled over every contact and every credited response.
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const credited = (kind: SurveyRow['kind']) => surveyRows.filter((r) => r.credited_to !== '' && r.kind === kind);
  const sentimentN = sum(contactRows.map((r) => num(r.sentiment_n)));
  const pooledMean = (rows: Array<{ n: number; mean: Num }>) => {
    const n = sum(rows.map((r) => r.n));
    return n === 0 ? null : round(sum(rows.map((r) => r.n * (finiteOrNull(r.mean) ?? 0))) / n);
  };
  const csatRows = credited('CSAT');
  const npsRows = credited('NPS');
  const npsN = sum(npsRows.map((r) => num(r.responses)));
  const contactsN = sum(contactRows.map((r) => num(r.contacts)));
  const csatN = sum(csatRows.map((r) => num(r.responses)));
  const baseline: Record<EvaluationMetric, number | null> = {
    sentiment: sentimentN === 0 ? null : pooledMean(contactRows.map((r) => ({ n: num(r.sentiment_n), mean: r.sentiment_mean }))),
    csat: csatN === 0 ? null : round(sum(csatRows.map((r) => num(r.csat_satisfied))) / csatN),
    ces: pooledMean(credited('CES').map((r) => ({ n: num(r.responses), mean: r.mean }))),
    nps: npsN === 0 ? null : round(((sum(npsRows.map((r) => num(r.promoters))) - sum(npsRows.map((r) => num(r.detractors)))) / npsN) * 100, 4),
    negative_signal_rate: contactsN === 0 ? null : round(sum(contactRows.map((r) => num(r.flagged))) / contactsN),
  };

  const painPoints: Judgement[] = [];
  const brightSpots: Judgement[] = [];
  for (const t of touchpoints) {
    for (const metric of evaluationMetricNames) {
      const figure: Figure = t[metric];
      const base = baseline[metric];
      if (!figure.sufficient || figure.value === null || figure.ci95 === null || base === null) continue;
      const { higherIsBetter, span } = metricScales[metric];
      const [low, high] = figure.ci95;
      const above = low > base;
      const below = high < base;
      if (!above && !below) continue;
      const judgement: Judgement = {
        touchpoint: t.touchpoint, metric, value: figure.value, ci95: figure.ci95, baseline: base, n: figure.n,
        gap: round((above ? low - base : base - high) / span)!,
      };
      (above === higherIsBetter ? brightSpots : painPoints).push(judgement);
    }
  }
  const byGap = (a: Judgement, b: Judgement) => b.gap - a.gap || a.touchpoint.localeCompare(b.touchpoint) || a.metric.localeCompare(b.metric);
  return {
    from: microsToIso(request.fromMicros),
    to: microsToIso(request.toMicros),
    survey_window_ms: request.surveyWindowMicros / 1000,
    min_sample: minSample,
    catalogue: catalogue ? { file: catalogue.file, version: catalogue.version } : null,
    baseline,
    uncredited_surveys: sum(surveyRows.filter((r) => r.credited_to === '').map((r) => num(r.responses))),
    pain_points: painPoints.sort(byGap),
    bright_spots: brightSpots.sort(byGap),
    touchpoints,
  };
}
