-- 011: churn-risk scores (docs/architecture.md §22): the processor's live score of each customer, as of their latest
-- touchpoint, written by the sink from churn_scores.v1. The newest score per customer is what the analyses split
-- by (GET /v1/kpis?by=churn_risk, the churn_risk filter) and what the journey shows; older rows collapse on merge
-- (ReplacingMergeTree by scored_at), so readers take argMax(…, scored_at) or FINAL. Erasure removes a customer's rows.
CREATE TABLE IF NOT EXISTS churn_scores
(
    customer_id     String,
    score           Float64,
    band            LowCardinality(String),
    event_id        String,
    scored_at       DateTime64(6, 'UTC'),
    model_version   LowCardinality(String),
    rules_version   LowCardinality(String),
    stored_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(scored_at)
ORDER BY customer_id
SETTINGS non_replicated_deduplication_window = 1000;
