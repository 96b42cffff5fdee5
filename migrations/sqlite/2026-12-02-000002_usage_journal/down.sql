-- Counts still in the journal are lost: revert after a graceful stop (its final flush folds
-- the journal).
DROP TABLE usage_journal;
