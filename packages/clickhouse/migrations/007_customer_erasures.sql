-- Audit log of customer erasures (docs/architecture.md §14): one row per erasure request, the customer named only by
-- the keyed hash that also keys erasures.v1 (never the id in clear). `removed` is the JSON answer's per-store counts.
CREATE TABLE IF NOT EXISTS customer_erasures
(
    erased_at     DateTime64(3, 'UTC'),
    customer_key  String,
    requested_by  LowCardinality(String),
    policy        LowCardinality(String),
    removed       String
)
ENGINE = MergeTree
ORDER BY (customer_key, erased_at);
