DROP INDEX tokens_service_page_idx;
CREATE INDEX tokens_page_idx ON tokens (created_at, id);
DROP INDEX token_organizations_page_idx;
ALTER TABLE token_organizations DROP COLUMN token_created_at;
CREATE INDEX token_organizations_org_idx ON token_organizations (organization_id, token_id);
