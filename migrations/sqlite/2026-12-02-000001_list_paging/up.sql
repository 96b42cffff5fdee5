-- The organization oversight page lists an organization's tokens newest first. The token's
-- creation time (which never changes) is kept next to each authorization, so that one index
-- walks the page in order instead of sorting every token of the organization.
ALTER TABLE token_organizations
    ADD COLUMN token_created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE token_organizations
    SET token_created_at = (SELECT created_at FROM tokens WHERE tokens.id = token_organizations.token_id);
DROP INDEX token_organizations_org_idx;
CREATE INDEX token_organizations_page_idx
    ON token_organizations (organization_id, token_created_at, token_id);

-- Every list reads along an owner's page index, an organization's authorizations, or this
-- small partial index of the service tokens: no list needs the index over every token's
-- creation time, and a token insert no longer writes it.
DROP INDEX tokens_page_idx;
CREATE INDEX tokens_service_page_idx ON tokens (created_at, id) WHERE kind = 'service';
