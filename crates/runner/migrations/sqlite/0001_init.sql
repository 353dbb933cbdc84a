-- tawthiq run state, SQLite dialect, version 1.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC): they compare correctly, and the
-- PostgreSQL dialect keeps the same columns so both engines share one set of semantics.
-- Applied by `state::sqlite` inside one BEGIN IMMEDIATE transaction, recorded in
-- `schema_migrations` (created by the code, not by this file).

-- One row per registry account: where it is in its life cycle and who holds it.
CREATE TABLE accounts (
    key             TEXT PRIMARY KEY NOT NULL,
    platform        TEXT NOT NULL,
    account         TEXT NOT NULL,
    route           TEXT,
    credential_ref  TEXT,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'retry', 'deferred', 'done', 'failed')),
    -- Fencing counter: incremented by every claim; a heartbeat or result carrying an older
    -- value comes from a worker whose lease was taken over and is rejected.
    fence           INTEGER NOT NULL DEFAULT 0,
    worker          TEXT,
    lease_until     INTEGER,
    -- When a `retry` or `deferred` account becomes claimable again.
    not_before      INTEGER,
    -- Failed attempts (deferrals are not failures).
    attempts        INTEGER NOT NULL DEFAULT 0,
    claims          INTEGER NOT NULL DEFAULT 0,
    last_error_kind TEXT,
    last_error      TEXT,
    defer_reason    TEXT,
    -- The latest completed bundle, denormalised so that status and report read one table.
    bundle_id       TEXT,
    location        TEXT,
    items           INTEGER NOT NULL DEFAULT 0,
    media           INTEGER NOT NULL DEFAULT 0,
    gaps            INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
);

-- Claims look up pending accounts and due retries per platform, and count running accounts per
-- platform for the concurrency cap; reclaims look up expired leases.
CREATE INDEX accounts_state_platform ON accounts (state, platform, not_before);
CREATE INDEX accounts_state_lease ON accounts (state, lease_until);

-- Every bundle ever recorded as done, one per accepted completion.
CREATE TABLE bundles (
    id                  INTEGER PRIMARY KEY,
    bundle_id           TEXT NOT NULL UNIQUE,
    key                 TEXT NOT NULL REFERENCES accounts (key),
    fence               INTEGER NOT NULL,
    location            TEXT NOT NULL,
    items               INTEGER NOT NULL,
    media               INTEGER NOT NULL,
    gaps                INTEGER NOT NULL,
    bytes               INTEGER NOT NULL,
    tag_manifest_sha256 TEXT,
    previous_bundle     TEXT,
    completed_at        INTEGER NOT NULL,
    -- One completion per claim: the storage-level guard against double archiving.
    UNIQUE (key, fence)
);

-- Shared per-platform limits. Token-bucket and window columns come in a later migration.
CREATE TABLE quotas (
    platform       TEXT PRIMARY KEY NOT NULL,
    max_concurrent INTEGER CHECK (max_concurrent IS NULL OR max_concurrent >= 0),
    blocked_until  INTEGER,
    block_reason   TEXT
);

-- Append-only: every transition, including rejected stale results. Platform-level events
-- (blocks, caps) have no key.
CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    key    TEXT,
    worker TEXT,
    event  TEXT NOT NULL,
    fence  INTEGER,
    detail TEXT
);
CREATE INDEX audit_events_key ON audit_events (key, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
