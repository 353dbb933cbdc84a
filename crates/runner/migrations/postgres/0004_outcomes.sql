-- tawthiq run state, PostgreSQL dialect, version 4: outcomes. A recorded capture is `complete`,
-- `partial` (with gaps) or `unavailable` (an account-level answer said the account is gone,
-- suspended or private), never one `done` for all three; each bundle records its outcome.
ALTER TABLE accounts DROP CONSTRAINT accounts_state_check;
-- A `done` account of an older run: `complete` only if its bundle listed no gap.
UPDATE accounts SET state = CASE WHEN gaps > 0 THEN 'partial' ELSE 'complete' END
    WHERE state = 'done';
ALTER TABLE accounts ADD CONSTRAINT accounts_state_check
    CHECK (state IN ('pending', 'running', 'retry', 'deferred',
                     'complete', 'partial', 'unavailable', 'failed'));

ALTER TABLE bundles ADD COLUMN outcome TEXT
    CHECK (outcome IS NULL OR outcome IN ('complete', 'partial', 'unavailable'));
UPDATE bundles SET outcome = CASE WHEN gaps > 0 THEN 'partial' ELSE 'complete' END;
