-- A list's `total_count` first skips 10,000 of its entries to see whether there are more. For
-- an owner of 100,000 tokens that walk read about a hundred pages of the page index, and for
-- an organization's oversight list the whole authorization table. PostgreSQL's B-tree stores
-- equal keys once, with the row pointers after them, so these indexes hold an owner's or an
-- organization's entries in a few pages: the walk takes a third to a half of the time
-- (measured with 100,000 tokens).
CREATE INDEX tokens_owner_count_idx ON tokens (owner_type, owner_id);
CREATE INDEX token_organizations_count_idx ON token_organizations (organization_id);
