-- tawthiq run state, SQLite dialect, version 2: shared request budgets per platform
-- (see `state::quota`). A row with neither a rate nor a window is unlimited.

-- Token bucket: sustained requests per second, bucket size, and its level at `refilled_at`.
ALTER TABLE quotas ADD COLUMN rate_per_sec REAL CHECK (rate_per_sec IS NULL OR rate_per_sec > 0);
ALTER TABLE quotas ADD COLUMN burst INTEGER CHECK (burst IS NULL OR burst >= 1);
ALTER TABLE quotas ADD COLUMN tokens REAL NOT NULL DEFAULT 0;
ALTER TABLE quotas ADD COLUMN refilled_at INTEGER NOT NULL DEFAULT 0;
-- Window quota: `window_limit` units per `window_ms`, windows aligned to epoch + offset;
-- `window_used` counts the window that starts at `window_start`.
ALTER TABLE quotas ADD COLUMN window_ms INTEGER CHECK (window_ms IS NULL OR window_ms > 0);
ALTER TABLE quotas ADD COLUMN window_limit INTEGER CHECK (window_limit IS NULL OR window_limit >= 0);
ALTER TABLE quotas ADD COLUMN window_offset_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE quotas ADD COLUMN window_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE quotas ADD COLUMN window_used INTEGER NOT NULL DEFAULT 0;
