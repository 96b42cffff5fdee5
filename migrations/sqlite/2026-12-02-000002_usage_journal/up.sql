-- Uses counted in a busy interval (many distinct tokens) are appended here as one row, and
-- folded into token_usage, token_usage_daily and token_ips every few seconds: a token used
-- several times between two folds costs one upsert per table instead of one per interval, and
-- a crash still loses at most one interval (the rows are durable; any process folds them).
CREATE TABLE usage_journal (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
