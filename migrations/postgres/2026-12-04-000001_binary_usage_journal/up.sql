-- Journal rows become bytes: a leading format byte, then the counts in a compact binary form
-- (cheaper to write and to read back than JSON). Rows already here keep their JSON text,
-- which starts with '[' and is still read.
ALTER TABLE usage_journal ALTER COLUMN body TYPE bytea USING convert_to(body, 'UTF8');
