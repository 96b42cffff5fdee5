-- The binary rows are dropped (the version before cannot read them): revert after a graceful
-- stop, whose final flush folds the journal. JSON rows are kept.
DELETE FROM usage_journal WHERE get_byte(body, 0) <> 91;
ALTER TABLE usage_journal ALTER COLUMN body TYPE text USING convert_from(body, 'UTF8');
