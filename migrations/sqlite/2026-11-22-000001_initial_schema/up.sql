-- The whole storage model of DESIGN §6. SQLite flavour; the PostgreSQL folder has the same tables.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    sso_enforced BOOLEAN NOT NULL DEFAULT FALSE,
    api_tokens_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    require_expiry BOOLEAN NOT NULL DEFAULT FALSE,
    max_token_lifetime_days BIGINT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE projects (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, id)
);

-- Owners are not foreign keys: a token outlives the deletion of its user or organization
-- (it is revoked, and stays listed for audit).
CREATE TABLE tokens (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'agent', 'api', 'service')),
    name TEXT NOT NULL,
    description TEXT,
    hint TEXT NOT NULL,
    digest BLOB NOT NULL,
    pepper_id TEXT NOT NULL,
    owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'organization', 'service')),
    owner_id TEXT NOT NULL,
    created_by TEXT,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by TEXT,
    revoked_reason TEXT,
    last_used_at TIMESTAMP,
    last_used_ip TEXT,
    usage_count BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tokens_digest_idx ON tokens (digest);
-- Names are unique per owner among tokens that are not revoked.
CREATE UNIQUE INDEX tokens_owner_name_idx ON tokens (owner_type, owner_id, name) WHERE revoked_at IS NULL;
-- Keyset pagination, newest first, per owner and over all.
CREATE INDEX tokens_owner_page_idx ON tokens (owner_type, owner_id, created_at, id);
CREATE INDEX tokens_page_idx ON tokens (created_at, id);

-- Scopes of user tokens; permissions of service tokens.
CREATE TABLE token_scopes (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    PRIMARY KEY (token_id, scope)
);
CREATE INDEX token_scopes_scope_idx ON token_scopes (scope, token_id);

-- Organizations a token may be used in (the one org of agent and api tokens, 1..n for PATs),
-- with the time its owner authorized it for SSO there.
CREATE TABLE token_organizations (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sso_authorized_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, organization_id)
);
CREATE INDEX token_organizations_org_idx ON token_organizations (organization_id, token_id);

-- Project restriction. Not a foreign key: deleting a project must never widen a restriction.
CREATE TABLE token_projects (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (token_id, project_id)
);

CREATE TABLE token_usage_daily (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, day)
);

CREATE TABLE token_ips (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (token_id, ip)
);
CREATE INDEX token_ips_recent_idx ON token_ips (token_id, last_seen_at);

-- Not foreign keys: events outlive what they describe.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    type TEXT NOT NULL,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('user', 'service', 'system')),
    actor_id TEXT NOT NULL,
    token_id TEXT,
    organization_id TEXT,
    client_ip TEXT,
    request_id TEXT NOT NULL,
    detail TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_page_idx ON audit_events (created_at, id);
CREATE INDEX audit_events_token_idx ON audit_events (token_id, created_at, id);
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, created_at, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_type, actor_id, created_at, id);
