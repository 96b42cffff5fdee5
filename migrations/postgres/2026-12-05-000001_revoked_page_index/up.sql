-- `status=revoked` on a list of an owner's tokens: the revoked ones, newest first, along a
-- small partial index instead of a walk over every token of the owner. A token enters it when
-- it is revoked, so creating a token writes no more than before.
CREATE INDEX tokens_owner_revoked_page_idx
    ON tokens (owner_type, owner_id, created_at, id) WHERE revoked_at IS NOT NULL;
