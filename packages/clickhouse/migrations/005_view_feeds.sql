-- 005: the rollups are fed from a feed table written after the raw insert succeeded, not from the raw insert.
--
-- Why: an insert into a table with materialized views is not atomic, and ClickHouse does not promise in which order
-- the table's part and the views' parts are committed. A sink killed inside an insert could leave a view holding a
-- block that the raw table does not: the batch is redelivered (maybe with other boundaries, so another token), the
-- raw table has none of it, and that view counted it twice (seen once in the chaos suite: the 1-minute table held
-- 5 events more than raw). The sink's repair reads the raw table to know what a cut-off insert stored; that only
-- holds when a view never has more than raw.
--
-- Now the sink inserts into the raw table first (no views on it), then the same rows under the same deduplication
-- token into `<table>_feed` (engine Null: stores nothing, only runs the views). A view can then only have a block
-- the raw table has, and the repair of a cut-off insert is to insert the raw table's block under its token into the
-- feed again: views that have it deduplicate it (their tokens derive from the feed insert's), the others take it.
-- Everything that stores raw rows goes through storeRows (@touchstream/clickhouse), which does both.
--
-- The view bodies below are the final ones of 001, 002 and 004 with `FROM touchpoints` / `FROM signals` replaced by
-- the feeds; MODIFY QUERY switches each view atomically (no moment without it) and is idempotent. An older sink
-- still running during the upgrade would write raw rows the views never see: upgrade sinks with the schema.
-- A column added to a raw table later must be added to its feed too (the feed copies the structure now).

CREATE TABLE IF NOT EXISTS touchpoints_feed AS touchpoints ENGINE = Null;

CREATE TABLE IF NOT EXISTS signals_feed AS signals ENGINE = Null;

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
FROM touchpoints_feed
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

ALTER TABLE touchpoint_agg_1h_mv MODIFY QUERY
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
FROM touchpoints_feed
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

ALTER TABLE touchpoint_agg_1d_mv MODIFY QUERY
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
FROM touchpoints_feed
GROUP BY bucket, channel, touchpoint, journey, stage, initiator;

ALTER TABLE customer_activity_1d_mv MODIFY QUERY
SELECT customer_id, toDate(occurred_at, 'UTC') AS day, toUInt64(count()) AS events
FROM touchpoints_feed
GROUP BY customer_id, day;

ALTER TABLE kpi_agg_1h_mv MODIFY QUERY
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
FROM touchpoints_feed
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
GROUP BY bucket, dimension, key;

ALTER TABLE kpi_agg_1d_mv MODIFY QUERY
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
FROM touchpoints_feed
ARRAY JOIN [('', ''), ('channel', toString(channel)), ('touchpoint', toString(touchpoint)), ('journey', toString(journey)),
            ('stage', toString(stage)), ('initiator', toString(initiator))] AS dimension_key
GROUP BY bucket, dimension, key;

ALTER TABLE fcr_contacts_mv MODIFY QUERY
SELECT cityHash64(customer_id, reason) AS contact_key, customer_id, reason, occurred_at, event_id, channel, touchpoint, journey, stage, stored_at
FROM touchpoints_feed
WHERE initiator = 'customer' AND reason != '';

ALTER TABLE signal_agg_1m_mv MODIFY QUERY
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
FROM signals_feed
GROUP BY bucket, channel, touchpoint, journey, stage, type;

ALTER TABLE signal_agg_1h_mv MODIFY QUERY
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
FROM signals_feed
GROUP BY bucket, channel, touchpoint, journey, stage, type;

ALTER TABLE signal_agg_1d_mv MODIFY QUERY
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
FROM signals_feed
GROUP BY bucket, channel, touchpoint, journey, stage, type;

