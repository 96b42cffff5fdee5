DROP INDEX token_organizations_count_idx;
DROP INDEX tokens_owner_count_idx;
