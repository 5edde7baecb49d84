-- 001: raw tables for the three topics and the 1-minute aggregates fed by materialized views.
--
-- Conventions (the query API relies on them):
--   * event-time columns are DateTime64(6, 'UTC') (the Avro timestamp-micros, exact to the microsecond).
--   * optional dimensions are LowCardinality(String) with '' meaning "absent", so they can be GROUP BY keys.
--   * optional measures stay Nullable so averages skip the missing ones instead of counting zeros.
--   * every table is deduplicated per insert by a token (see insertRows), which on non-replicated
--     tables only works with non_replicated_deduplication_window > 0 (DESIGN §5, trap 2).
--   * the raw tables are ReplacingMergeTree on the record's id as a backstop for duplicates that reach
--     ClickHouse in different inserts; read them with FINAL (or GROUP BY id) when exact counts matter.
-- Statements are separated by lines that end with ';'. Keep every statement idempotent (IF NOT EXISTS):
-- a migration that failed halfway is re-run from its first statement.

CREATE TABLE IF NOT EXISTS touchpoints
(
    event_id        String,
    customer_id     String,
    occurred_at     DateTime64(6, 'UTC'),
    received_at     DateTime64(6, 'UTC'),
    channel         LowCardinality(String),
    touchpoint      LowCardinality(String),
    initiator       LowCardinality(String),
    journey         LowCardinality(String),
    stage           LowCardinality(String),
    reason          LowCardinality(String),
    outcome         LowCardinality(String),
    duration_ms     Nullable(Int64),
    wait_ms         Nullable(Int64),
    sentiment       Nullable(Float64),
    survey_kind     LowCardinality(String),
    survey_score    Nullable(Int16),
    survey_comment  String,
    agent_id        String,
    session_id      String,
    attributes      Map(String, String),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    stored_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX event_id_bloom event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS signals
(
    signal_id       String,
    customer_id     String,
    type            LowCardinality(String),
    weight          Float64,
    event_id        String,
    occurred_at     DateTime64(6, 'UTC'),
    channel         LowCardinality(String),
    touchpoint      LowCardinality(String),
    journey         LowCardinality(String),
    stage           LowCardinality(String),
    explanation     String,
    rules_version   LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    stored_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX signal_event_id_bloom event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (customer_id, occurred_at, signal_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- signals: the signals that raised the alert, as named tuples (JSON objects in JSONEachRow),
-- e.g. arrayJoin(signals).type or arrayMap(s -> s.event_id, signals).
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id        String,
    customer_id     String,
    score           Float64,
    score_before    Float64,
    level           LowCardinality(String),
    signals         Array(Tuple(signal_id String, type String, weight Float64, event_id String, explanation String)),
    triggered_by    String,
    at              DateTime64(6, 'UTC'),
    rules_version   LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset    UInt64,
    stored_at       DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX alert_customer_bloom customer_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
ORDER BY alert_id
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per (minute, dimensions) and insert; read with the -Merge functions and GROUP BY, e.g.
--   SELECT bucket, channel, countMerge(events), uniqMerge(customers), avgMerge(wait_avg),
--          quantilesMerge(0.5, 0.9)(wait_quantiles) FROM touchpoint_agg_1m WHERE bucket >= … GROUP BY bucket, channel
-- Outcome and survey counters are sums of 0/1 flags (sumMerge → UInt64); score sums are Int64.
-- NPS = (promoters - detractors) / responses; CSAT = satisfied / responses; mean CES = score_sum / responses.
CREATE TABLE IF NOT EXISTS touchpoint_agg_1m
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
    ces_score_sum       AggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, channel, touchpoint, journey, stage, initiator)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS touchpoint_agg_1m_mv TO touchpoint_agg_1m AS
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
    sumState(toInt64(if(survey_kind = 'CES', ifNull(survey_score, 0), 0))) AS ces_score_sum
FROM touchpoints
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

-- Signal counts per minute and dimension; weight_sum is the total weight raised.
CREATE TABLE IF NOT EXISTS signal_agg_1m
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

CREATE MATERIALIZED VIEW IF NOT EXISTS signal_agg_1m_mv TO signal_agg_1m AS
SELECT
    toStartOfMinute(toDateTime(occurred_at, 'UTC')) AS bucket,
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
