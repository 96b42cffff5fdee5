-- Journal rows become bytes: a leading format byte, then the counts in a compact binary form
-- (cheaper to write and to read back than JSON). Rows already here keep their JSON text,
-- which starts with '[' and is still read.
CREATE TABLE usage_journal_bytes (
    id INTEGER PRIMARY KEY,
    part INTEGER NOT NULL,
    body BLOB NOT NULL
);
INSERT INTO usage_journal_bytes (id, part, body)
    SELECT id, part, CAST(body AS BLOB) FROM usage_journal;
DROP TABLE usage_journal;
ALTER TABLE usage_journal_bytes RENAME TO usage_journal;
CREATE INDEX usage_journal_part_idx ON usage_journal (part, id);
