-- The binary rows are dropped (the version before cannot read them): revert after a graceful
-- stop, whose final flush folds the journal. JSON rows are kept.
CREATE TABLE usage_journal_text (
    id INTEGER PRIMARY KEY,
    part INTEGER NOT NULL,
    body TEXT NOT NULL
);
INSERT INTO usage_journal_text (id, part, body)
    SELECT id, part, CAST(body AS TEXT) FROM usage_journal WHERE hex(substr(body, 1, 1)) = '5B';
DROP TABLE usage_journal;
ALTER TABLE usage_journal_text RENAME TO usage_journal;
CREATE INDEX usage_journal_part_idx ON usage_journal (part, id);
