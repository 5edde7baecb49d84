-- 004: what makes the KPI and heat-map requests fast over long ranges (issue 4's speed targets).
--
-- kpi_agg_1h / kpi_agg_1d: the KPI states per bucket for the whole population (dimension '') and per value of each
-- single dimension (channel, touchpoint, journey, stage, initiator), ordered by (dimension, bucket, key). A KPI
-- request reads one dimension's rows only: 30 days × the dimension's values, instead of every combination of the
-- five dimensions that touchpoint_agg_1h/1d hold (merging and, above all, deserialising distinct-count states was
-- most of a request's time). Fed, like the other rollups, by their own views straight from the raw inserts (one
-- level of views: the insert's deduplication token covers them; DESIGN §5).
--
-- Distinct counts (unique customers, journeys) use uniqCombined64 with 2^15 cells: its state is a fixed-size
-- HyperLogLog once large (exact up to a few thousand values), so merging 30 daily states costs little. Standard
-- error about 0.6% on large counts, the same order as `uniq` of the older tables; small counts are exact.
--
-- fcr_contacts: the customer-initiated contacts with a reason, one row each, ordered by (customer and reason, time),
-- so first-contact resolution reads them in the order its "next contact about the same reason" needs instead of
-- sorting the raw table. The pair is keyed by contact_key = cityHash64(customer_id, reason): comparing one UInt64
-- instead of a string and a dictionary value halves the window's cost. Two pairs sharing a hash would be read as
-- one; with ten million pairs the chance that any two do is about 3 in a million. Same retention as the raw table
-- (set at start with it).
--
-- Backfill: rows stored before the views existed are copied from the raw table once: the views are created first,
-- then the time is marked (migration_marks), then rows stored before the mark are copied. A fixed
-- insert_deduplication_token makes a re-run of an interrupted migration store the mark and the copies once.
-- Migrations run at start, before the sink consumes; a sink of another process inserting in the instant between a
-- view's creation and the mark would have those rows counted twice in the new tables (stop the sinks for the
-- upgrade of a server deployment).

CREATE TABLE IF NOT EXISTS kpi_agg_1h
(
    bucket              DateTime('UTC'),
    dimension           LowCardinality(String),
    key                 LowCardinality(String),
    events              AggregateFunction(count),
    customers           AggregateFunction(uniqCombined64(15), String),
    outcome_started     AggregateFunction(sum, UInt64),
    outcome_completed   AggregateFunction(sum, UInt64),
    outcome_failed      AggregateFunction(sum, UInt64),
    outcome_abandoned   AggregateFunction(sum, UInt64),
    outcome_escalated   AggregateFunction(sum, UInt64),
    outcome_transferred AggregateFunction(sum, UInt64),
    outcome_resolved    AggregateFunction(sum, UInt64),
    outcome_unresolved  AggregateFunction(sum, UInt64),
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
    journeys            AggregateFunction(uniqCombined64If(15), Tuple(String, String), UInt8),
    journeys_completed  AggregateFunction(uniqCombined64If(15), Tuple(String, String), UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (dimension, bucket, key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS kpi_agg_1h_mv TO kpi_agg_1h AS
SELECT
    toStartOfHour(toDateTime(occurred_at, 'UTC')) AS bucket,
    dimension_key.1 AS dimension,
    dimension_key.2 AS key,
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
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
    uniqCombined64IfState(15)((customer_id, journey), journey != '') AS journeys,
    uniqCombined64IfState(15)((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
GROUP BY bucket, dimension, key;

CREATE TABLE IF NOT EXISTS kpi_agg_1d
(
    bucket              DateTime('UTC'),
    dimension           LowCardinality(String),
    key                 LowCardinality(String),
    events              AggregateFunction(count),
    customers           AggregateFunction(uniqCombined64(15), String),
    outcome_started     AggregateFunction(sum, UInt64),
    outcome_completed   AggregateFunction(sum, UInt64),
    outcome_failed      AggregateFunction(sum, UInt64),
    outcome_abandoned   AggregateFunction(sum, UInt64),
    outcome_escalated   AggregateFunction(sum, UInt64),
    outcome_transferred AggregateFunction(sum, UInt64),
    outcome_resolved    AggregateFunction(sum, UInt64),
    outcome_unresolved  AggregateFunction(sum, UInt64),
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
    journeys            AggregateFunction(uniqCombined64If(15), Tuple(String, String), UInt8),
    journeys_completed  AggregateFunction(uniqCombined64If(15), Tuple(String, String), UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(bucket)
ORDER BY (dimension, bucket, key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS kpi_agg_1d_mv TO kpi_agg_1d AS
SELECT
    toStartOfDay(toDateTime(occurred_at, 'UTC')) AS bucket,
    dimension_key.1 AS dimension,
    dimension_key.2 AS key,
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
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
    uniqCombined64IfState(15)((customer_id, journey), journey != '') AS journeys,
    uniqCombined64IfState(15)((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
GROUP BY bucket, dimension, key;

CREATE TABLE IF NOT EXISTS fcr_contacts
(
    contact_key UInt64,
    customer_id String,
    reason      LowCardinality(String),
    occurred_at DateTime64(6, 'UTC'),
    event_id    String,
    channel     LowCardinality(String),
    touchpoint  LowCardinality(String),
    journey     LowCardinality(String),
    stage       LowCardinality(String),
    stored_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (contact_key, occurred_at, event_id)
TTL toDateTime(stored_at) + toIntervalDay(400)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS fcr_contacts_mv TO fcr_contacts AS
SELECT cityHash64(customer_id, reason) AS contact_key, customer_id, reason, occurred_at, event_id, channel, touchpoint, journey, stage, stored_at
FROM touchpoints
WHERE initiator = 'customer' AND reason != '';

CREATE TABLE IF NOT EXISTS migration_marks
(
    name String,
    at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY name
SETTINGS non_replicated_deduplication_window = 100;

INSERT INTO migration_marks
SETTINGS insert_deduplication_token = 'migration_004_mark', async_insert = 0
SELECT '004_kpi_dimensions', now64(3);

INSERT INTO kpi_agg_1h
SETTINGS insert_deduplication_token = 'migration_004_kpi_agg_1h', async_insert = 0
SELECT
    toStartOfHour(toDateTime(occurred_at, 'UTC')) AS bucket,
    dimension_key.1 AS dimension,
    dimension_key.2 AS key,
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
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
    uniqCombined64IfState(15)((customer_id, journey), journey != '') AS journeys,
    uniqCombined64IfState(15)((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
WHERE stored_at < (SELECT min(at) FROM migration_marks WHERE name = '004_kpi_dimensions')
GROUP BY bucket, dimension, key;

INSERT INTO kpi_agg_1d
SETTINGS insert_deduplication_token = 'migration_004_kpi_agg_1d', async_insert = 0
SELECT
    toStartOfDay(toDateTime(occurred_at, 'UTC')) AS bucket,
    dimension_key.1 AS dimension,
    dimension_key.2 AS key,
    countState() AS events,
    uniqCombined64State(15)(customer_id) AS customers,
    sumState(toUInt64(outcome = 'started')) AS outcome_started,
    sumState(toUInt64(outcome = 'completed')) AS outcome_completed,
    sumState(toUInt64(outcome = 'failed')) AS outcome_failed,
    sumState(toUInt64(outcome = 'abandoned')) AS outcome_abandoned,
    sumState(toUInt64(outcome = 'escalated')) AS outcome_escalated,
    sumState(toUInt64(outcome = 'transferred')) AS outcome_transferred,
    sumState(toUInt64(outcome = 'resolved')) AS outcome_resolved,
    sumState(toUInt64(outcome = 'unresolved')) AS outcome_unresolved,
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
    uniqCombined64IfState(15)((customer_id, journey), journey != '') AS journeys,
    uniqCombined64IfState(15)((customer_id, journey), journey != '' AND outcome = 'completed') AS journeys_completed
FROM touchpoints
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
WHERE stored_at < (SELECT min(at) FROM migration_marks WHERE name = '004_kpi_dimensions')
GROUP BY bucket, dimension, key;

INSERT INTO fcr_contacts
SETTINGS insert_deduplication_token = 'migration_004_fcr_contacts', async_insert = 0
SELECT cityHash64(customer_id, reason) AS contact_key, customer_id, reason, occurred_at, event_id, channel, touchpoint, journey, stage, stored_at
FROM touchpoints
WHERE initiator = 'customer' AND reason != ''
  AND stored_at < (SELECT min(at) FROM migration_marks WHERE name = '004_kpi_dimensions');
