-- 010: customer profiles (docs/architecture.md §20.6). Profile updates arrive on profiles.v1 (schemas/profile.avsc):
-- `profile_updates` keeps each update as it came (the sink's raw table: deduplicated by insert token and by
-- (customer_id, profile_id) like the touchpoints, §5.3), and `customer_profiles` holds one row per customer and
-- attribute, written by the sink as a rollup of the raw table under the same token. It is a ReplacingMergeTree by
-- updated_at, so a partial update replaces only the attributes it names and a late, older update loses to a newer one;
-- readers take argMax by (updated_at, stored_at), which is what the merges converge to. kind 'unset' is an
-- attribute removed by a null value. No TTL: a profile is state, not an event; erasure removes both tables' rows.
CREATE TABLE IF NOT EXISTS profile_updates
(
    profile_id        String,
    customer_id       String,
    updated_at        DateTime64(6, 'UTC'),
    received_at       DateTime64(6, 'UTC'),
    attribute_names   Array(String),
    attribute_values  Array(String),
    attribute_kinds   Array(LowCardinality(String)),
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    insert_token      String DEFAULT '',
    stored_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (customer_id, profile_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS customer_profiles
(
    customer_id   String,
    attribute     String,
    value         String,
    kind          LowCardinality(String),
    updated_at    DateTime64(6, 'UTC'),
    profile_id    String,
    stored_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (customer_id, attribute)
SETTINGS non_replicated_deduplication_window = 1000;
