-- Uses counted in a busy interval (many distinct tokens) are appended here, in rows of 500
-- tokens, and folded into token_usage, token_usage_daily and token_ips every few seconds: a
-- token used several times between two folds costs one upsert per table instead of one per
-- interval, and a crash still loses at most one interval (the rows are durable; any process
-- folds them). A row holds tokens of one part (a fixed hash of the token id): a fold merges
-- one part at a time.
CREATE TABLE usage_journal (
    id BIGSERIAL PRIMARY KEY,
    part INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX usage_journal_part_idx ON usage_journal (part, id);
