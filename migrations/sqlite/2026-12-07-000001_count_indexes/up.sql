-- SQLite's indexes keep every key in full, so such indexes would be no smaller than the page
-- indexes its counts already walk: nothing changes here (PostgreSQL gains two indexes for
-- counting an owner's tokens and an organization's authorizations). The step keeps both
-- backends' migrations alike.
SELECT 1;
