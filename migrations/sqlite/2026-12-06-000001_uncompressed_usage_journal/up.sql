-- SQLite never compresses values: nothing changes here (PostgreSQL stops compressing the
-- usage journal's rows). The step keeps both backends' migrations alike.
SELECT 1;
