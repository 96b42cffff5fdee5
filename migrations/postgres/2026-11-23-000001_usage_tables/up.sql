-- Usage lives in a narrow table of its own: a usage flush rewrites small rows and never the
-- wide tokens rows that introspection reads.
CREATE TABLE token_usage (
    token_id TEXT PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    usage_count BIGINT NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    last_used_ip TEXT
);
INSERT INTO token_usage (token_id, usage_count, last_used_at, last_used_ip)
    SELECT id, usage_count, last_used_at, last_used_ip FROM tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE tokens DROP COLUMN last_used_at, DROP COLUMN last_used_ip, DROP COLUMN usage_count;

-- The most recent addresses of a token are few enough to sort; an index on last_seen_at would
-- be rewritten by every flush (and prevent heap-only updates).
DROP INDEX token_ips_recent_idx;
