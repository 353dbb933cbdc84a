-- tawthiq run state, PostgreSQL dialect, version 2: shared request budgets per platform
-- (see `state::quota`). A row with neither a rate nor a window is unlimited.

ALTER TABLE quotas
    -- Token bucket: sustained requests per second, bucket size, and its level at `refilled_at`.
    ADD COLUMN rate_per_sec DOUBLE PRECISION CHECK (rate_per_sec IS NULL OR rate_per_sec > 0),
    ADD COLUMN burst BIGINT CHECK (burst IS NULL OR burst >= 1),
    ADD COLUMN tokens DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN refilled_at BIGINT NOT NULL DEFAULT 0,
    -- Window quota: `window_limit` units per `window_ms`, windows aligned to epoch + offset;
    -- `window_used` counts the window that starts at `window_start`.
    ADD COLUMN window_ms BIGINT CHECK (window_ms IS NULL OR window_ms > 0),
    ADD COLUMN window_limit BIGINT CHECK (window_limit IS NULL OR window_limit >= 0),
    ADD COLUMN window_offset_ms BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN window_start BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN window_used BIGINT NOT NULL DEFAULT 0;
