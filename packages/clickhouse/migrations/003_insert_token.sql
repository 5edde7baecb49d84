-- 003: the deduplication token of the insert that stored each raw row. Materialized views are written one after
-- another, not atomically: a sink killed in the middle of an insert can leave a block in the raw table and some
-- rollups but not in others. When the batch comes again, the sink sees its own token on the stored rows and
-- inserts the batch again unchanged under that token: every table that has the block deduplicates it, a view
-- that missed it gets it (deduplicate_blocks_in_dependent_materialized_views). Rows stored under another token
-- are copies and are dropped, as before. '' for rows stored before this migration.
ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '';
ALTER TABLE signals ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '';
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS insert_token String DEFAULT '';
