-- Usage lives in narrow tables of its own, clustered on their keys (WITHOUT ROWID): a usage
-- flush rewrites small rows and never the wide tokens rows that introspection reads.
CREATE TABLE token_usage (
    token_id TEXT PRIMARY KEY NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    usage_count BIGINT NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    last_used_ip TEXT
) WITHOUT ROWID;
INSERT INTO token_usage (token_id, usage_count, last_used_at, last_used_ip)
    SELECT id, usage_count, last_used_at, last_used_ip FROM tokens WHERE last_used_at IS NOT NULL;
ALTER TABLE tokens DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN last_used_ip;
ALTER TABLE tokens DROP COLUMN usage_count;

CREATE TABLE token_usage_daily_clustered (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, day)
) WITHOUT ROWID;
INSERT INTO token_usage_daily_clustered SELECT token_id, day, count FROM token_usage_daily;
DROP TABLE token_usage_daily;
ALTER TABLE token_usage_daily_clustered RENAME TO token_usage_daily;

-- The most recent addresses of a token are few enough to sort; an index on last_seen_at
-- would be rewritten by every flush.
CREATE TABLE token_ips_clustered (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
) WITHOUT ROWID;
INSERT INTO token_ips_clustered SELECT token_id, ip, last_seen_at, count FROM token_ips;
DROP TABLE token_ips;
ALTER TABLE token_ips_clustered RENAME TO token_ips;
