CREATE INDEX token_ips_recent_idx ON token_ips (token_id, last_seen_at);
ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP, ADD COLUMN last_used_ip TEXT,
    ADD COLUMN usage_count BIGINT NOT NULL DEFAULT 0;
UPDATE tokens SET last_used_at = u.last_used_at, last_used_ip = u.last_used_ip,
    usage_count = u.usage_count
    FROM token_usage u WHERE u.token_id = tokens.id;
DROP TABLE token_usage;
