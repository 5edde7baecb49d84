-- 002: what the KPIs need beyond 001, rolled up to 1 hour and 1 day; raw retention; customer activity for
-- cohorts; annotations for the impact of actions.
--
-- Rollups: every aggregate table (1 min, 1 h, 1 day) is fed by its own materialized view straight from the raw
-- table's inserts, not chained from the 1-minute table. One level of views is what the insert's
-- deduplicate_blocks_in_dependent_materialized_views covers the same way for all three (DESIGN §5, trap 2;
-- tested with a retried insert); a chain would add a second level whose blocks are re-derived from the first.
-- All three tables hold the same states, so any of them answers the same query with the same -Merge functions.
--
-- Journeys: a journey instance is a (customer_id, journey) pair seen in the bucket; `journeys` counts them and
-- `journeys_completed` those that reached outcome 'completed' (uniq states, so they merge across buckets).
--
-- The rollups hold what is inserted after this migration ran; rows stored before it are in the 1-minute table
-- (still fed) and the raw table. Backfilling is not done here because an INSERT … SELECT is not idempotent
-- when a migration is re-run.

ALTER TABLE touchpoint_agg_1m ADD COLUMN IF NOT EXISTS journeys AggregateFunction(uniqIf, Tuple(String, String), UInt8);

ALTER TABLE touchpoint_agg_1m ADD COLUMN IF NOT EXISTS journeys_completed AggregateFunction(uniqIf, Tuple(String, String), UInt8);

-- Atomic on chDB and a server: no insert sees the view missing or doubled while it is redefined.
ALTER TABLE touchpoint_agg_1m_mv MODIFY QUERY
SELECT
    toStartOfMinute(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel,
    touchpoint,
    journey,
    stage,
    initiator,
    countState() AS events,
    uniqState(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
    avgState(duration_ms) AS duration_avg,
    sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    sumState(toUInt64(survey_kind = 'NPS')) AS nps_responses,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9)) AS nps_promoters,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)) AS nps_detractors,
    sumState(toUInt64(survey_kind = 'CSAT')) AS csat_responses,
    sumState(toUInt64(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4)) AS csat_satisfied,
    sumState(toInt64(if(survey_kind = 'CSAT', ifNull(survey_score, 0), 0))) AS csat_score_sum,
    sumState(toUInt64(survey_kind = 'CES')) AS ces_responses,
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum,
    uniqIfState((customer_id, journey), journey != '') AS journeys,
    uniqIfState((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

CREATE TABLE IF NOT EXISTS touchpoint_agg_1h
(
    bucket              DateTime('UTC'),
    channel             LowCardinality(String),
    touchpoint          LowCardinality(String),
    journey             LowCardinality(String),
    stage               LowCardinality(String),
    initiator           LowCardinality(String),
    events              AggregateFunction(count),
    customers           AggregateFunction(uniq, String),
    outcome_started     AggregateFunction(sum, UInt64),
    outcome_completed   AggregateFunction(sum, UInt64),
    outcome_failed      AggregateFunction(sum, UInt64),
    outcome_abandoned   AggregateFunction(sum, UInt64),
    outcome_escalated   AggregateFunction(sum, UInt64),
    outcome_transferred AggregateFunction(sum, UInt64),
    outcome_resolved    AggregateFunction(sum, UInt64),
    outcome_unresolved  AggregateFunction(sum, UInt64),
    duration_avg        AggregateFunction(avg, Nullable(Int64)),
    duration_sum        AggregateFunction(sum, Nullable(Int64)),
    duration_count      AggregateFunction(count, Nullable(Int64)),
    wait_avg            AggregateFunction(avg, Nullable(Int64)),
    wait_quantiles      AggregateFunction(quantiles(0.5, 0.9), Nullable(Int64)),
    sentiment_avg       AggregateFunction(avg, Nullable(Float64)),
    nps_responses       AggregateFunction(sum, UInt64),
    nps_promoters       AggregateFunction(sum, UInt64),
    nps_detractors      AggregateFunction(sum, UInt64),
    csat_responses      AggregateFunction(sum, UInt64),
    csat_satisfied      AggregateFunction(sum, UInt64),
    csat_score_sum      AggregateFunction(sum, Int64),
    ces_responses       AggregateFunction(sum, UInt64),
    ces_score_sum       AggregateFunction(sum, Int64),
    journeys            AggregateFunction(uniqIf, Tuple(String, String), UInt8),
    journeys_completed  AggregateFunction(uniqIf, Tuple(String, String), UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, touchpoint, journey, stage, initiator)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS touchpoint_agg_1h_mv TO touchpoint_agg_1h AS
SELECT
    toStartOfHour(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel,
    touchpoint,
    journey,
    stage,
    initiator,
    countState() AS events,
    uniqState(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
    avgState(duration_ms) AS duration_avg,
    sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    sumState(toUInt64(survey_kind = 'NPS')) AS nps_responses,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9)) AS nps_promoters,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)) AS nps_detractors,
    sumState(toUInt64(survey_kind = 'CSAT')) AS csat_responses,
    sumState(toUInt64(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4)) AS csat_satisfied,
    sumState(toInt64(if(survey_kind = 'CSAT', ifNull(survey_score, 0), 0))) AS csat_score_sum,
    sumState(toUInt64(survey_kind = 'CES')) AS ces_responses,
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum,
    uniqIfState((customer_id, journey), journey != '') AS journeys,
    uniqIfState((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

CREATE TABLE IF NOT EXISTS signal_agg_1h
(
    bucket     DateTime('UTC'),
    channel    LowCardinality(String),
    touchpoint LowCardinality(String),
    journey    LowCardinality(String),
    stage      LowCardinality(String),
    type       LowCardinality(String),
    signals    AggregateFunction(count),
    customers  AggregateFunction(uniq, String),
    weight_sum AggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, touchpoint, journey, stage, type)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS signal_agg_1h_mv TO signal_agg_1h AS
SELECT
    toStartOfHour(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel,
    touchpoint,
    journey,
    stage,
    type,
    countState() AS signals,
    uniqState(customer_id) AS customers,
    sumState(weight) AS weight_sum
FROM signals
GROUP BY bucket, channel, touchpoint, journey, stage, type;

CREATE TABLE IF NOT EXISTS touchpoint_agg_1d
(
    bucket              DateTime('UTC'),
    channel             LowCardinality(String),
    touchpoint          LowCardinality(String),
    journey             LowCardinality(String),
    stage               LowCardinality(String),
    initiator           LowCardinality(String),
    events              AggregateFunction(count),
    customers           AggregateFunction(uniq, String),
    outcome_started     AggregateFunction(sum, UInt64),
    outcome_completed   AggregateFunction(sum, UInt64),
    outcome_failed      AggregateFunction(sum, UInt64),
    outcome_abandoned   AggregateFunction(sum, UInt64),
    outcome_escalated   AggregateFunction(sum, UInt64),
    outcome_transferred AggregateFunction(sum, UInt64),
    outcome_resolved    AggregateFunction(sum, UInt64),
    outcome_unresolved  AggregateFunction(sum, UInt64),
    duration_avg        AggregateFunction(avg, Nullable(Int64)),
    duration_sum        AggregateFunction(sum, Nullable(Int64)),
    duration_count      AggregateFunction(count, Nullable(Int64)),
    wait_avg            AggregateFunction(avg, Nullable(Int64)),
    wait_quantiles      AggregateFunction(quantiles(0.5, 0.9), Nullable(Int64)),
    sentiment_avg       AggregateFunction(avg, Nullable(Float64)),
    nps_responses       AggregateFunction(sum, UInt64),
    nps_promoters       AggregateFunction(sum, UInt64),
    nps_detractors      AggregateFunction(sum, UInt64),
    csat_responses      AggregateFunction(sum, UInt64),
    csat_satisfied      AggregateFunction(sum, UInt64),
    csat_score_sum      AggregateFunction(sum, Int64),
    ces_responses       AggregateFunction(sum, UInt64),
    ces_score_sum       AggregateFunction(sum, Int64),
    journeys            AggregateFunction(uniqIf, Tuple(String, String), UInt8),
    journeys_completed  AggregateFunction(uniqIf, Tuple(String, String), UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(bucket)
ORDER BY (bucket, channel, touchpoint, journey, stage, initiator)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS touchpoint_agg_1d_mv TO touchpoint_agg_1d AS
SELECT
    toStartOfDay(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel,
    touchpoint,
    journey,
    stage,
    initiator,
    countState() AS events,
    uniqState(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
    avgState(duration_ms) AS duration_avg,
    sumState(duration_ms) AS duration_sum,
    countState(duration_ms) AS duration_count,
    avgState(wait_ms) AS wait_avg,
    quantilesState(0.5, 0.9)(wait_ms) AS wait_quantiles,
    avgState(sentiment) AS sentiment_avg,
    sumState(toUInt64(survey_kind = 'NPS')) AS nps_responses,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, -1) >= 9)) AS nps_promoters,
    sumState(toUInt64(survey_kind = 'NPS' AND ifNull(survey_score, 99) <= 6)) AS nps_detractors,
    sumState(toUInt64(survey_kind = 'CSAT')) AS csat_responses,
    sumState(toUInt64(survey_kind = 'CSAT' AND ifNull(survey_score, -1) >= 4)) AS csat_satisfied,
    sumState(toInt64(if(survey_kind = 'CSAT', ifNull(survey_score, 0), 0))) AS csat_score_sum,
    sumState(toUInt64(survey_kind = 'CES')) AS ces_responses,
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum,
    uniqIfState((customer_id, journey), journey != '') AS journeys,
    uniqIfState((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

CREATE TABLE IF NOT EXISTS signal_agg_1d
(
    bucket     DateTime('UTC'),
    channel    LowCardinality(String),
    touchpoint LowCardinality(String),
    journey    LowCardinality(String),
    stage      LowCardinality(String),
    type       LowCardinality(String),
    signals    AggregateFunction(count),
    customers  AggregateFunction(uniq, String),
    weight_sum AggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(bucket)
ORDER BY (bucket, channel, touchpoint, journey, stage, type)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS signal_agg_1d_mv TO signal_agg_1d AS
SELECT
    toStartOfDay(toDateTime(occurred_at, 'UTC')) AS bucket,
    channel,
    touchpoint,
    journey,
    stage,
    type,
    countState() AS signals,
    uniqState(customer_id) AS customers,
    sumState(weight) AS weight_sum
FROM signals
GROUP BY bucket, channel, touchpoint, journey, stage, type;

-- Raw retention. The default here (400 days: a year plus a month, for year-over-year comparisons) is replaced at
-- start by CLICKHOUSE_RAW_TTL_DAYS (applyRawRetention); the aggregates and customer_activity_1d keep no TTL.
-- Counted from when a row was stored, not from its event time: a backfilled event (accepted however old, DESIGN
-- §2) is kept as long as a fresh one instead of being dropped by the next merge.
ALTER TABLE touchpoints MODIFY TTL toDateTime(stored_at) + toIntervalDay(400);

-- One row per customer and active day (events summed): cohorts and retention read this instead of the raw
-- table, so they survive the raw TTL and scan one small row per customer-day. Erasure of a customer must delete
-- here too.
CREATE TABLE IF NOT EXISTS customer_activity_1d
(
    customer_id String,
    day         Date,
    events      SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(day)
ORDER BY (customer_id, day)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS customer_activity_1d_mv TO customer_activity_1d AS
SELECT customer_id, toDate(occurred_at, 'UTC') AS day, toUInt64(count()) AS events
FROM touchpoints
GROUP BY customer_id, day;

-- Actions whose impact analysts want to measure (POST /v1/annotations). Scope columns are '' when unset.
-- ReplacingMergeTree on the id: a retried POST with the same id stores one annotation.
CREATE TABLE IF NOT EXISTS annotations
(
    annotation_id String,
    title         String,
    description   String,
    at            DateTime64(6, 'UTC'),
    channel       LowCardinality(String),
    journey       LowCardinality(String),
    touchpoint    LowCardinality(String),
    stage         LowCardinality(String),
    created_by    String,
    created_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY annotation_id
SETTINGS non_replicated_deduplication_window = 1000;
