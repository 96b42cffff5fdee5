CREATE TABLE token_ips_rowid (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
);
INSERT INTO token_ips_rowid SELECT token_id, ip, last_seen_at, count FROM token_ips;
DROP TABLE token_ips;
ALTER TABLE token_ips_rowid RENAME TO token_ips;
CREATE INDEX token_ips_recent_idx ON token_ips (token_id, last_seen_at);

CREATE TABLE token_usage_daily_rowid (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, day)
);
INSERT INTO token_usage_daily_rowid SELECT token_id, day, count FROM token_usage_daily;
DROP TABLE token_usage_daily;
ALTER TABLE token_usage_daily_rowid RENAME TO token_usage_daily;

ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP;
ALTER TABLE tokens ADD COLUMN last_used_ip TEXT;
ALTER TABLE tokens ADD COLUMN usage_count BIGINT NOT NULL DEFAULT 0;
UPDATE tokens SET
    last_used_at = (SELECT u.last_used_at FROM token_usage u WHERE u.token_id = tokens.id),
    last_used_ip = (SELECT u.last_used_ip FROM token_usage u WHERE u.token_id = tokens.id),
    usage_count = COALESCE((SELECT u.usage_count FROM token_usage u WHERE u.token_id = tokens.id), 0);
DROP TABLE token_usage;
