-- 009: the touchpoint's text (a chat or email message, a transcript snippet: the optional `text` field of the
-- touchpoint contract) and where its sentiment came from: 'given' (the caller sent the number), 'derived' (the
-- sink scored the text or the survey comment, as the processor did for the signals: docs/architecture.md §20),
-- '' (no sentiment). Rows stored before this migration have '' in both: their sentiment, if any, was given.
ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS text String DEFAULT '';
ALTER TABLE touchpoints ADD COLUMN IF NOT EXISTS sentiment_source LowCardinality(String) DEFAULT '';
