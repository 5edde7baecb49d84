// Warm start of the KPI deviation detector (docs/architecture.md §21.1): after a restart the detector rebuilds its
// baseline from what ClickHouse already stores instead of staying silent for min_history. Two reads of the raw
// `touchpoints` table (the sink's copy of touchpoints.v1):
//   1. the hour-of-week history: one value per series, metric and local hour over the past season_weeks, aggregated
//      in ClickHouse with the detector's own definitions (finishHour), so a seeded hour equals a lived one;
//   2. the recent level: the last hour(s) up to a cut minute replayed touchpoint by touchpoint through the detector
//      (minute tallies, EWMAs, residual spread, shares for the contribution analysis), its anomalies discarded.
// The caller then resumes Kafka a little before the cut: touchpoints before the cut come back as late (already
// counted from ClickHouse) and are left out, touchpoints from the cut on are counted once.
// Why the raw table and not the rollups: the negative-signal rate (sentiment ≤ a configured bound, NPS ≤ 6, some
// outcomes) and the exact wait p90 are not in touchpoint_agg_1h, and a seeded hour must mean what a lived hour means.
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { LogSink } from '@touchstream/kafka';
import { metricValue, zoneOffsetMinutes, type KpiAnomalyDetector, type KpiMetric, type KpiTouchpoint, type Tally } from './detector.ts';

const MINUTE_MS = 60_000;
const WEEK_MINUTES = 7 * 24 * 60;
/** Touchpoints of the replay are read this many minutes at a time (bounded memory at any rate). */
const REPLAY_SLICE_MINUTES = 10;

export interface WarmStartOptions {
  clickhouse: ClickHouseClient;
  log: LogSink;
  /** Wall clock now (ms). */
  nowMs: number;
  /**
   * How far behind now the cut is: minutes before it come from ClickHouse, minutes from it on from Kafka. It must
   * exceed the sink's lag (touchpoints not yet stored would be missing from the replayed minutes). Default 2 min.
   */
  cutLagMs?: number;
}

export interface WarmStartResult {
  /** Series with seeded hours. */
  series: number;
  /** Series × hours seeded from the hourly aggregation. */
  hours: number;
  /** Touchpoints replayed for the recent level. */
  replayed: number;
  /** Anomalies the replay found (not sent: they are history). */
  replayAnomalies: number;
  historyFromMs: number;
  replayFromMs: number;
  /** The first minute the live stream must supply: resume Kafka a little before it. */
  cutMs: number;
}

interface HourRow {
  dimension: 'touchpoint' | 'channel' | 'journey';
  value: string;
  hour_start: string | number;
  n: string | number;
  abandoned: string | number;
  failed: string | number;
  negative: string | number;
  sentiment_sum: number | null;
  sentiment_n: string | number;
  nps_n: string | number;
  promoters: string | number;
  detractors: string | number;
  wait_p90: number | null;
}

interface TouchpointRow {
  at: string | number;
  touchpoint: string;
  channel: string;
  journey: string;
  outcome: string;
  wait_ms: string | number | null;
  sentiment: number | null;
  survey_kind: string;
  survey_score: number | null;
}

const dateTimeParam = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** The first minute of the local hour (in `timezone`) that holds `minute` (UTC epoch minutes). */
function localHourStartMinute(minute: number, timezone: string): number {
  const local = minute + zoneOffsetMinutes(timezone, minute * MINUTE_MS);
  return minute - (((local % 60) + 60) % 60);
}

/**
 * Rebuilds the detector's baseline from ClickHouse. The detector must be fresh (nothing observed yet). The replay
 * covers 3 × recent_half_life (at least an hour, and at least 30 minutes of seasonal offset) from a local hour start.
 */
export async function warmStartFromClickHouse(detector: KpiAnomalyDetector, options: WarmStartOptions): Promise<WarmStartResult> {
  const config = detector.settings;
  const cutMinute = Math.floor((options.nowMs - (options.cutLagMs ?? 2 * MINUTE_MS)) / MINUTE_MS);
  const replayMinutes = Math.max(60, 3 * config.recentHalfLifeMinutes);
  const replayFromMinute = localHourStartMinute(cutMinute - replayMinutes, config.timezone);
  const historyFromMinute = replayFromMinute - config.seasonWeeks * WEEK_MINUTES;
  const metrics = Object.keys(config.metrics) as KpiMetric[];

  // 1. The hour-of-week history, one row per series and local hour, before the replay.
  const hoursResult = await options.clickhouse.query({
    query: `
      SELECT dv.1 AS dimension, dv.2 AS value,
             toUnixTimestamp(toStartOfHour(occurred_at, {tz:String})) AS hour_start,
             count() AS n,
             countIf(outcome = 'abandoned') AS abandoned,
             countIf(outcome = 'failed') AS failed,
             countIf(ifNull(sentiment, 2) <= {negative:Float64} OR (survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)
                     OR outcome IN ('escalated', 'unresolved')) AS negative,
             sum(sentiment) AS sentiment_sum, count(sentiment) AS sentiment_n,
             countIf(survey_kind = 'NPS' AND survey_score IS NOT NULL) AS nps_n,
             countIf(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9) AS promoters,
             countIf(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6) AS detractors,
             if(count(wait_ms) > 0, quantileExactInclusive(0.9)(wait_ms), NULL) AS wait_p90
      FROM touchpoints
      ARRAY JOIN arrayFilter(x -> x.2 != '' AND has({dimensions:Array(String)}, x.1),
                             [('touchpoint', toString(touchpoint)), ('channel', toString(channel)), ('journey', toString(journey))]) AS dv
      WHERE occurred_at >= {from:DateTime64(6, 'UTC')} AND occurred_at < {to:DateTime64(6, 'UTC')}
      GROUP BY dimension, value, hour_start
      ORDER BY hour_start
      SETTINGS max_execution_time = 300`,
    query_params: {
      tz: config.timezone,
      negative: config.negativeSentimentMax,
      dimensions: config.dimensions,
      from: dateTimeParam(historyFromMinute * MINUTE_MS),
      to: dateTimeParam(replayFromMinute * MINUTE_MS),
    },
    format: 'JSONEachRow',
  });
  const hourRows = await hoursResult.json<HourRow>();
  let hours = 0;
  const firstHour = new Map<string, number>();
  for (const row of hourRows) {
    const tally: Tally = {
      n: Number(row.n),
      abandoned: Number(row.abandoned),
      failed: Number(row.failed),
      negative: Number(row.negative),
      sentimentSum: Number(row.sentiment_sum ?? 0),
      sentimentN: Number(row.sentiment_n),
      npsPromoters: Number(row.promoters),
      npsDetractors: Number(row.detractors),
      npsN: Number(row.nps_n),
      waits: [],
    };
    const values: Partial<Record<KpiMetric, number>> = {};
    for (const metric of metrics) {
      if (metric === 'wait_p90') {
        if (row.wait_p90 !== null && Number.isFinite(Number(row.wait_p90))) values.wait_p90 = Number(row.wait_p90);
        continue;
      }
      const v = metricValue(metric, tally, 60);
      if (v) values[metric] = v.value;
    }
    const hourStartMs = Number(row.hour_start) * 1000;
    if (detector.seedHour(row.dimension, row.value, hourStartMs, values)) {
      hours++;
      const key = `${row.dimension}\u0000${row.value}`;
      if (!firstHour.has(key)) firstHour.set(key, hourStartMs);
    }
  }
  // A lived series records an hour without touchpoints as volume 0: so does a seeded one, from its first hour on.
  if (config.metrics.volume) {
    for (const [key, fromMs] of firstHour) {
      const [dimension, value] = key.split('\u0000') as ['touchpoint' | 'channel' | 'journey', string];
      for (let m = Math.floor(fromMs / MINUTE_MS); m < replayFromMinute; m += 60) {
        const start = localHourStartMinute(m, config.timezone);
        detector.seedQuietHour(dimension, value, start * MINUTE_MS);
      }
    }
  }

  // 2. The recent level: replay the touchpoints from the replay start to the cut, in event-time order.
  detector.startAt(replayFromMinute);
  let replayed = 0;
  let replayAnomalies = 0;
  for (let from = replayFromMinute; from < cutMinute; from += REPLAY_SLICE_MINUTES) {
    const to = Math.min(from + REPLAY_SLICE_MINUTES, cutMinute);
    const result = await options.clickhouse.query({
      query: `
        SELECT toUnixTimestamp64Milli(occurred_at) AS at, toString(touchpoint) AS touchpoint, toString(channel) AS channel,
               toString(journey) AS journey, toString(outcome) AS outcome, wait_ms, sentiment,
               toString(survey_kind) AS survey_kind, survey_score
        FROM touchpoints
        WHERE occurred_at >= {from:DateTime64(6, 'UTC')} AND occurred_at < {to:DateTime64(6, 'UTC')}
        ORDER BY occurred_at
        SETTINGS max_execution_time = 300`,
      query_params: { from: dateTimeParam(from * MINUTE_MS), to: dateTimeParam(to * MINUTE_MS) },
      format: 'JSONEachRow',
    });
    for (const row of await result.json<TouchpointRow>()) {
      const t: KpiTouchpoint = {
        occurredAtMs: Number(row.at),
        touchpoint: row.touchpoint,
        channel: row.channel,
        journey: row.journey === '' ? null : row.journey,
        outcome: row.outcome === '' ? null : row.outcome,
        waitMs: row.wait_ms === null ? null : Number(row.wait_ms),
        sentiment: row.sentiment,
        nps: row.survey_kind === 'NPS' && row.survey_score !== null ? Number(row.survey_score) : null,
      };
      detector.observe(t);
      replayed++;
    }
    // Minutes close as the replay passes them (what the live stream does), up to the slice's end.
    replayAnomalies += detector.advance(to * MINUTE_MS + config.latenessMs).length;
  }
  // The stream time of the cut, even when the last minutes were empty.
  replayAnomalies += detector.advance(cutMinute * MINUTE_MS + config.latenessMs).length;

  const result: WarmStartResult = {
    series: firstHour.size,
    hours,
    replayed,
    replayAnomalies,
    historyFromMs: historyFromMinute * MINUTE_MS,
    replayFromMs: replayFromMinute * MINUTE_MS,
    cutMs: cutMinute * MINUTE_MS,
  };
  options.log.info(
    { ...result, historyFrom: new Date(result.historyFromMs).toISOString(), replayFrom: new Date(result.replayFromMs).toISOString(), cut: new Date(result.cutMs).toISOString() },
    'KPI anomaly baseline warm-started from ClickHouse',
  );
  return result;
}
