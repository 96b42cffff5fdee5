-- Journal rows are written once and read back once or twice, and their binary counts compress
-- poorly: PostgreSQL's default compression of large values (pglz) was about a third of the
-- server's CPU while many distinct tokens were in use. They are kept out of line, uncompressed.
-- Rows already stored keep their form; both are read alike.
ALTER TABLE usage_journal ALTER COLUMN body SET STORAGE EXTERNAL;
