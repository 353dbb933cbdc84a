-- tawthiq run state, PostgreSQL dialect, version 1.
--
-- The same tables, columns and semantics as the SQLite dialect: times are BIGINT milliseconds
-- since the Unix epoch (UTC), counts and fences are BIGINT. Applied by `state::postgres` in one
-- transaction under an advisory lock, recorded in `schema_migrations` (created by the code, not
-- by this file). Objects are created in the first schema of the connection's `search_path`.

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
    fence           BIGINT NOT NULL DEFAULT 0,
    worker          TEXT,
    lease_until     BIGINT,
    -- When a `retry` or `deferred` account becomes claimable again.
    not_before      BIGINT,
    -- Failed attempts (deferrals are not failures).
    attempts        BIGINT NOT NULL DEFAULT 0,
    claims          BIGINT NOT NULL DEFAULT 0,
    last_error_kind TEXT,
    last_error      TEXT,
    defer_reason    TEXT,
    -- The latest completed bundle, denormalised so that status and report read one table.
    bundle_id       TEXT,
    location        TEXT,
    items           BIGINT NOT NULL DEFAULT 0,
    media           BIGINT NOT NULL DEFAULT 0,
    gaps            BIGINT NOT NULL DEFAULT 0,
    bytes           BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL
);

-- Claims look up pending accounts and due retries per platform, and count running accounts per
-- platform for the concurrency cap; reclaims look up expired leases.
CREATE INDEX accounts_state_platform ON accounts (state, platform, not_before);
CREATE INDEX accounts_state_lease ON accounts (state, lease_until);

-- Every bundle ever recorded as done, one per accepted completion.
CREATE TABLE bundles (
    id                  BIGSERIAL PRIMARY KEY,
    bundle_id           TEXT NOT NULL UNIQUE,
    key                 TEXT NOT NULL REFERENCES accounts (key),
    fence               BIGINT NOT NULL,
    location            TEXT NOT NULL,
    items               BIGINT NOT NULL,
    media               BIGINT NOT NULL,
    gaps                BIGINT NOT NULL,
    bytes               BIGINT NOT NULL,
    tag_manifest_sha256 TEXT,
    previous_bundle     TEXT,
    completed_at        BIGINT NOT NULL,
    -- One completion per claim: the storage-level guard against double archiving.
    UNIQUE (key, fence)
);

-- Shared per-platform limits. Token-bucket and window columns come in a later migration.
CREATE TABLE quotas (
    platform       TEXT PRIMARY KEY NOT NULL,
    max_concurrent BIGINT CHECK (max_concurrent IS NULL OR max_concurrent >= 0),
    blocked_until  BIGINT,
    block_reason   TEXT
);

-- Append-only: every transition, including rejected stale results. Platform-level events
-- (blocks, caps) have no key.
CREATE TABLE audit_events (
    id     BIGSERIAL PRIMARY KEY,
    at     BIGINT NOT NULL,
    key    TEXT,
    worker TEXT,
    event  TEXT NOT NULL,
    fence  BIGINT,
    detail TEXT
);
CREATE INDEX audit_events_key ON audit_events (key, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
