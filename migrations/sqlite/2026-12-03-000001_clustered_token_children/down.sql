-- Back to rowid tables with an index on the key.
CREATE TABLE token_scopes_rowid (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    PRIMARY KEY (token_id, scope)
);
INSERT INTO token_scopes_rowid (token_id, scope) SELECT token_id, scope FROM token_scopes;
DROP TABLE token_scopes;
ALTER TABLE token_scopes_rowid RENAME TO token_scopes;
CREATE INDEX token_scopes_scope_idx ON token_scopes (scope, token_id);

CREATE TABLE token_projects_rowid (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (token_id, project_id)
);
INSERT INTO token_projects_rowid (token_id, project_id)
    SELECT token_id, project_id FROM token_projects;
DROP TABLE token_projects;
ALTER TABLE token_projects_rowid RENAME TO token_projects;

CREATE TABLE token_organizations_rowid (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sso_authorized_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    token_created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, organization_id)
);
INSERT INTO token_organizations_rowid
        (token_id, organization_id, sso_authorized_at, created_at, token_created_at)
    SELECT token_id, organization_id, sso_authorized_at, created_at, token_created_at
    FROM token_organizations;
DROP TABLE token_organizations;
ALTER TABLE token_organizations_rowid RENAME TO token_organizations;
CREATE INDEX token_organizations_page_idx
    ON token_organizations (organization_id, token_created_at, token_id);

CREATE TABLE memberships_rowid (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
INSERT INTO memberships_rowid (organization_id, user_id, role, created_at, updated_at)
    SELECT organization_id, user_id, role, created_at, updated_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_rowid RENAME TO memberships;
CREATE INDEX memberships_user_idx ON memberships (user_id);
