-- The SQLite migration of this name clusters the narrow tables that a cold introspection reads
-- on their keys (WITHOUT ROWID). PostgreSQL has no table that stays clustered on a key (CLUSTER
-- reorders once): nothing changes here. The migration exists so that both backends keep the
-- same list.
SELECT 1;
