-- tawthiq run state, PostgreSQL dialect, version 5: upload intents and capture passes.

-- A bundle a worker is about to upload, recorded under its claim before the upload starts and
-- removed when the bundle is recorded. One left behind names an object that may be in the
-- store without being recorded (the worker died in between): the next run's start records it
-- if it verifies and nothing was recorded for the account since, else removes it.
CREATE TABLE upload_intents (
    key        TEXT NOT NULL REFERENCES accounts (key),
    fence      BIGINT NOT NULL,
    worker     TEXT NOT NULL,
    -- Name of the object in the bundle store.
    object     TEXT NOT NULL,
    bundle_id  TEXT NOT NULL,
    -- The completion to record (JSON of `state::Completion`).
    completion TEXT NOT NULL,
    -- 1 once someone has decided to remove the object: it can no longer be recorded.
    discarding BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key, fence)
);

-- The open `tawthiq run --again` pass of each platform: accounts whose latest bundle is older
-- than `started_at` are archived again; a resumed pass requeues nothing done since. Closed
-- (the row removed) once no account of the platform is pending, running, retried or deferred.
CREATE TABLE passes (
    platform   TEXT PRIMARY KEY NOT NULL,
    started_at BIGINT NOT NULL,
    reason     TEXT
);
