-- tawthiq run state, SQLite dialect, version 4: outcomes. A recorded capture is `complete`,
-- `partial` (with gaps) or `unavailable` (an account-level answer said the account is gone,
-- suspended or private), never one `done` for all three; each bundle records its outcome.
--
-- SQLite cannot change a CHECK constraint in place: the accounts table is rebuilt (same columns,
-- same indexes). `bundles` refers to it by name: its rows are set aside while the old table is
-- dropped (dropping a parent that still has children would count as a violation that no later
-- insert clears) and put back, with their ids, once the new table has taken the old one's name.
CREATE TEMP TABLE bundles_v3 AS SELECT * FROM bundles;
DELETE FROM bundles;

CREATE TABLE accounts_v4 (
    key             TEXT PRIMARY KEY NOT NULL,
    platform        TEXT NOT NULL,
    account         TEXT NOT NULL,
    route           TEXT,
    credential_ref  TEXT,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'retry', 'deferred',
                                     'complete', 'partial', 'unavailable', 'failed')),
    fence           INTEGER NOT NULL DEFAULT 0,
    worker          TEXT,
    lease_until     INTEGER,
    not_before      INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claims          INTEGER NOT NULL DEFAULT 0,
    last_error_kind TEXT,
    last_error      TEXT,
    defer_reason    TEXT,
    bundle_id       TEXT,
    location        TEXT,
    items           INTEGER NOT NULL DEFAULT 0,
    media           INTEGER NOT NULL DEFAULT 0,
    gaps            INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    exports         TEXT
);

-- A `done` account of an older run: `complete` only if its bundle listed no gap.
INSERT INTO accounts_v4 (key, platform, account, route, credential_ref, state, fence, worker,
        lease_until, not_before, attempts, claims, last_error_kind, last_error, defer_reason,
        bundle_id, location, items, media, gaps, bytes, updated_at, exports)
    SELECT key, platform, account, route, credential_ref,
        CASE WHEN state <> 'done' THEN state WHEN gaps > 0 THEN 'partial' ELSE 'complete' END,
        fence, worker, lease_until, not_before, attempts, claims, last_error_kind, last_error,
        defer_reason, bundle_id, location, items, media, gaps, bytes, updated_at, exports
    FROM accounts;

DROP TABLE accounts;
ALTER TABLE accounts_v4 RENAME TO accounts;
CREATE INDEX accounts_state_platform ON accounts (state, platform, not_before);
CREATE INDEX accounts_state_lease ON accounts (state, lease_until);
INSERT INTO bundles SELECT * FROM bundles_v3;
DROP TABLE bundles_v3;

ALTER TABLE bundles ADD COLUMN outcome TEXT
    CHECK (outcome IS NULL OR outcome IN ('complete', 'partial', 'unavailable'));
UPDATE bundles SET outcome = CASE WHEN gaps > 0 THEN 'partial' ELSE 'complete' END;
