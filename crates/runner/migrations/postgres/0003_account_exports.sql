-- tawthiq run state, PostgreSQL dialect, version 3: each account's export files (a JSON array of paths,
-- NULL when none), so that a worker builds an account's source from its claim alone.
ALTER TABLE accounts ADD COLUMN exports TEXT;
