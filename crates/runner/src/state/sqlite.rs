//! The embedded engine: one SQLite file (`state.db`) through sqlx, no server.
//!
//! # Write locking
//!
//! SQLite has one writer at a time per file. Every write here is one transaction opened with
//! `BEGIN IMMEDIATE` (sqlx `Pool::begin_with`), so it takes the file's write lock before its
//! first read. A deferred `BEGIN` would read first and then try to upgrade to a writer; if
//! another connection committed in between, the upgrade fails with `SQLITE_BUSY` *without*
//! waiting on the busy handler (the snapshot is stale: the conflict is logical, not a lock
//! wait). With `BEGIN IMMEDIATE` the only place a writer waits is the `BEGIN` itself, where
//! `busy_timeout` applies, and a claim's read-then-update is serialised against every other
//! writer, in this process or another one.
//!
//! Within one store handle, writes also pass through an async mutex (one writer per handle):
//! tasks sharing a handle queue in tokio instead of polling the file lock through SQLite's
//! sleeping busy handler, while reads (`summary`, `report`, `events`) use the other pooled
//! connections and, under WAL, never wait for a writer. Several handles or processes on the
//! same file contend through `busy_timeout`; a `SQLITE_BUSY` that outlasts it is retried by
//! [`SqliteStateStore`] with a growing pause (the transaction rolled back, so a retry is safe),
//! and only then surfaces as [`StateError::Busy`].
//!
//! Connections run `journal_mode=WAL` (readers do not block the writer), `synchronous=FULL`
//! (a committed transition survives a power cut, not only a crash), and `foreign_keys=ON`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use model::Platform;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

use super::quota::{Budget, Quota, describe_quota};
use super::rows::{
    Audit, BUDGET_COLUMNS, LEASES, LiveLeases, OPEN_UPLOADS, PlatformLimits, StateRow, StateTotals,
    bind_budget, budget_row, bundle_row, claim_row, claimable, completion_to_column, event_row,
    exports_to_column, failure_outcome, intent_row, lease_end, lease_row, open_upload_row,
    parse_platform, recorded_state, report_row, rfc3339, stale_fence, summarize, to_i64,
};
use super::{
    AccountReport, AccountSpec, AccountState, Admission, Adoption, AuditEvent, BundleRecord, Claim,
    Completion, Discard, EventKind, Failure, Fence, Lease, Migration, OpenUpload, Pass, PassStart,
    StateError, StateStore, Summary, UploadIntent, busy_pause, from_millis, pending_migrations,
    to_millis,
};

/// Schema migrations of the SQLite dialect, applied in order; see [`SqliteStateStore::open`].
const MIGRATIONS: &[Migration] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "quota budgets",
        include_str!("../../migrations/sqlite/0002_quota_budgets.sql"),
    ),
    (
        3,
        "account exports",
        include_str!("../../migrations/sqlite/0003_account_exports.sql"),
    ),
    (
        4,
        "outcomes",
        include_str!("../../migrations/sqlite/0004_outcomes.sql"),
    ),
    (
        5,
        "upload intents and passes",
        include_str!("../../migrations/sqlite/0005_uploads_and_passes.sql"),
    ),
];

/// How a [`SqliteStateStore`] connects.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long SQLite itself waits for another writer before answering `SQLITE_BUSY`.
    pub busy_timeout: StdDuration,
    /// How many more times a busy transaction is retried after that.
    pub busy_retries: u32,
    /// Pooled connections per handle (one writes at a time; the others read).
    pub max_connections: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: StdDuration::from_secs(5),
            busy_retries: 20,
            max_connections: 4,
        }
    }
}

/// [`StateStore`] on one SQLite file. Cheap to share (`Arc`); several handles, in one process
/// or many, may open the same file.
#[derive(Debug)]
pub struct SqliteStateStore {
    pool: SqlitePool,
    write_gate: Mutex<()>,
    options: SqliteOptions,
}

/// Runs `$body` (a future over `$conn: &mut SqliteConnection` yielding
/// `Result<Result<T, StateError>, StateError>`) in a `BEGIN IMMEDIATE` transaction. An outer
/// error rolls back; an inner one (a rejected stale worker) is committed, so its audit row
/// stays, and then returned. Busy databases are retried.
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let store: &SqliteStateStore = $store;
        let _gate = store.write_gate.lock().await;
        let mut retries = 0_u32;
        loop {
            let attempt: Result<_, StateError> = async {
                let mut tx = store
                    .pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(db)?;
                let outcome = {
                    let $conn: &mut SqliteConnection = &mut tx;
                    $body.await?
                };
                tx.commit().await.map_err(db)?;
                Ok(outcome)
            }
            .await;
            match attempt {
                Err(StateError::Busy(e)) if retries < store.options.busy_retries => {
                    retries += 1;
                    tracing::debug!(retries, error = %e, "state store busy, retrying");
                    tokio::time::sleep(busy_pause(retries)).await;
                }
                Err(e) => break Err(e),
                Ok(outcome) => break outcome,
            }
        }
    }};
}

impl SqliteStateStore {
    /// Opens (creating if missing) the state database at `path` and brings its schema up to
    /// date. Several handles may open the same file at once.
    pub async fn open(path: &Path, options: SqliteOptions) -> Result<Self, StateError> {
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_with(connect, &path.display().to_string(), options).await
    }

    /// Opens a `sqlite://path` URL (as given to `--state`).
    pub async fn open_url(url: &str, options: SqliteOptions) -> Result<Self, StateError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|source| StateError::Open {
                location: url.to_owned(),
                source,
            })?
            .create_if_missing(true);
        Self::open_with(connect, url, options).await
    }

    async fn open_with(
        connect: SqliteConnectOptions,
        location: &str,
        options: SqliteOptions,
    ) -> Result<Self, StateError> {
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let mut retries = 0_u32;
        // The first connection of a new file switches it to WAL, which needs the file to
        // itself: handles opened at the same moment may see SQLITE_BUSY here.
        let pool = loop {
            match SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(2))
                .min_connections(0)
                .connect_with(connect.clone())
                .await
            {
                Ok(pool) => break pool,
                Err(e) if is_busy(&e) && retries < options.busy_retries => {
                    retries += 1;
                    tokio::time::sleep(busy_pause(retries)).await;
                }
                Err(source) => {
                    return Err(StateError::Open {
                        location: location.to_owned(),
                        source,
                    });
                }
            }
        };
        let store = SqliteStateStore {
            pool,
            write_gate: Mutex::new(()),
            options,
        };
        write_tx!(&store, |conn| migrate(conn))?;
        Ok(store)
    }

    /// Closes the pooled connections (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The underlying pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`, with any extended code.
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

fn db(e: sqlx::Error) -> StateError {
    if is_busy(&e) {
        StateError::Busy(e)
    } else {
        StateError::Database(e)
    }
}

async fn migrate(conn: &mut SqliteConnection) -> Result<Result<(), StateError>, StateError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY NOT NULL,
             description TEXT NOT NULL,
             applied_at INTEGER NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let current: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    for &(version, description, sql) in pending_migrations(MIGRATIONS, current)? {
        let migration_error = |source| StateError::Migration {
            version,
            description: description.to_owned(),
            source,
        };
        // One string of several statements: SQLite's executor runs them all in order.
        // (`sqlx::raw_sql` would too, but its future is not provably `Send` here.)
        sqlx::Executor::execute(&mut *conn, sql)
            .await
            .map_err(migration_error)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
        )
        .bind(version)
        .bind(description)
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&mut *conn)
        .await
        .map_err(migration_error)?;
        tracing::info!(version, description, "state store migrated");
    }
    Ok(Ok(()))
}

async fn audit(conn: &mut SqliteConnection, a: Audit<'_>) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO audit_events (at, key, worker, event, fence, detail) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(to_millis(a.at))
    .bind(a.key)
    .bind(a.worker)
    .bind(a.event.as_str())
    .bind(a.fence)
    .bind(a.detail)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The account's current fence and state, or `UnknownAccount`.
async fn current(conn: &mut SqliteConnection, key: &str) -> Result<(i64, String), StateError> {
    sqlx::query_as::<_, (i64, String)>("SELECT fence, state FROM accounts WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or_else(|| StateError::UnknownAccount {
            key: key.to_owned(),
        })
}

/// Checks that `fence` still holds the running account. On a mismatch, audits the rejection
/// and returns the `Fenced` error to commit-then-return.
async fn check_fence(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    action: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let current = current(conn, key).await?;
    let Some((rejection, error)) = stale_fence(key, fence, &current, action, now)? else {
        return Ok(Ok(()));
    };
    audit(conn, rejection).await?;
    Ok(Err(error))
}

/// A transition of the running account held under `fence`: checks the fence (see
/// [`check_fence`]), then runs `update` and audits `event` with its detail.
async fn fenced_update<'q>(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    action: &str,
    now: OffsetDateTime,
    update: Query<'q, sqlx::Sqlite, SqliteArguments<'q>>,
    (event, detail): (EventKind, String),
) -> Result<Result<(), StateError>, StateError> {
    if let Err(e) = check_fence(conn, key, fence, action, now).await? {
        return Ok(Err(e));
    }
    update.execute(&mut *conn).await.map_err(db)?;
    let fence = to_i64(fence.0, "fence")?;
    audit(conn, Audit::account(now, key, event, fence, detail)).await?;
    Ok(Ok(()))
}

async fn upsert_tx(
    conn: &mut SqliteConnection,
    accounts: &[AccountSpec],
    now: OffsetDateTime,
) -> Result<Result<u64, StateError>, StateError> {
    let now_ms = to_millis(now);
    let mut added = 0;
    for a in accounts {
        let exports = exports_to_column(&a.exports);
        // A known account takes the registry's current route, credential and exports; its
        // state, fence, attempts and bundles stay, except that a failed account whose line
        // was edited (a credential fixed, an export added) is tried afresh.
        let changed = sqlx::query(
            "UPDATE accounts SET account = ?, route = ?, credential_ref = ?, exports = ?,
                 updated_at = ?,
                 attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
                 not_before = CASE WHEN state = 'failed' THEN NULL ELSE not_before END,
                 state = CASE WHEN state = 'failed' THEN 'pending' ELSE state END
             WHERE key = ? AND (account IS NOT ? OR route IS NOT ? OR credential_ref IS NOT ?
                 OR exports IS NOT ?)",
        )
        .bind(&a.account)
        .bind(&a.route)
        .bind(&a.credential_ref)
        .bind(&exports)
        .bind(now_ms)
        .bind(&a.key)
        .bind(&a.account)
        .bind(&a.route)
        .bind(&a.credential_ref)
        .bind(&exports)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        if changed > 0 {
            audit(conn, Audit::registry_changed(a, now)).await?;
            continue;
        }
        added += sqlx::query(
            "INSERT INTO accounts (key, platform, account, route, credential_ref, exports,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&a.key)
        .bind(a.platform.as_str())
        .bind(&a.account)
        .bind(&a.route)
        .bind(&a.credential_ref)
        .bind(&exports)
        .bind(now_ms)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
    }
    Ok(Ok(added))
}

fn placeholders(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(if i == 0 { "?" } else { ", ?" });
    }
    s
}

/// Platforms a claim may take from now, least loaded first.
async fn claimable_platforms(
    conn: &mut SqliteConnection,
    wanted: Option<&[Platform]>,
    now_ms: i64,
) -> Result<Vec<Platform>, StateError> {
    let running: Vec<LiveLeases> = sqlx::query_as(
        "SELECT platform, count(*) FROM accounts
         WHERE state = 'running' AND lease_until > ? GROUP BY platform",
    )
    .bind(now_ms)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let limits: Vec<PlatformLimits> =
        sqlx::query_as("SELECT platform, max_concurrent, blocked_until FROM quotas")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    let candidates = claimable(&running, &limits, wanted, &[], now_ms);
    Ok(candidates.into_iter().map(|c| c.platform).collect())
}

/// An account of `platforms` whose lease expired, audited as reclaimed by `worker`.
async fn reclaim_expired(
    conn: &mut SqliteConnection,
    worker: &str,
    platforms: &[Platform],
    now: OffsetDateTime,
) -> Result<Option<String>, StateError> {
    let sql = format!(
        "SELECT key, worker, fence, lease_until FROM accounts
         WHERE state = 'running' AND lease_until <= ? AND platform IN ({})
         ORDER BY lease_until LIMIT 1",
        placeholders(platforms.len())
    );
    let mut query =
        sqlx::query_as::<_, (String, Option<String>, i64, i64)>(&sql).bind(to_millis(now));
    for p in platforms {
        query = query.bind(p.as_str());
    }
    let Some((key, old_worker, old_fence, old_lease)) =
        query.fetch_optional(&mut *conn).await.map_err(db)?
    else {
        return Ok(None);
    };
    let reclaimed = Audit::lease_reclaimed(
        now,
        &key,
        old_worker.as_deref(),
        old_fence,
        old_lease,
        worker,
    )?;
    audit(conn, reclaimed).await?;
    Ok(Some(key))
}

async fn claim_tx(
    conn: &mut SqliteConnection,
    worker: &str,
    wanted: Option<&[Platform]>,
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Result<Option<Claim>, StateError>, StateError> {
    let now_ms = to_millis(now);
    let platforms = claimable_platforms(conn, wanted, now_ms).await?;
    if platforms.is_empty() {
        return Ok(Ok(None));
    }

    // Expired leases first: their accounts have waited longest, and a crashed worker's account
    // must not wait for the whole queue to drain.
    let mut picked = reclaim_expired(conn, worker, &platforms, now)
        .await?
        .map(|key| (key, "running (expired lease)"));

    // Then, platform by platform from the least loaded, a due retry or deferral, else a
    // pending account.
    for platform in &platforms {
        if picked.is_some() {
            break;
        }
        let due: Option<(String, String)> = sqlx::query_as(
            "SELECT key, state FROM accounts
             WHERE state IN ('retry', 'deferred') AND platform = ? AND not_before <= ? LIMIT 1",
        )
        .bind(platform.as_str())
        .bind(now_ms)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if let Some((key, state)) = due {
            let from = if state == "retry" {
                "retry"
            } else {
                "deferred"
            };
            picked = Some((key, from));
            break;
        }
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT key FROM accounts WHERE state = 'pending' AND platform = ? LIMIT 1",
        )
        .bind(platform.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if let Some(key) = pending {
            picked = Some((key, "pending"));
        }
    }
    let Some((key, from)) = picked else {
        return Ok(Ok(None));
    };

    let lease_until = lease_end(now, lease);
    let row = sqlx::query(
        "UPDATE accounts SET state = 'running', fence = fence + 1, worker = ?, lease_until = ?,
             claims = claims + 1, updated_at = ?
         WHERE key = ?
         RETURNING fence, attempts, platform, account, route, credential_ref, exports",
    )
    .bind(worker)
    .bind(lease_until)
    .bind(now_ms)
    .bind(&key)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let fence = row.int("fence")?;
    audit(conn, Audit::claimed(now, &key, worker, fence, from)).await?;
    Ok(Ok(Some(claim_row(&row, key, lease_until)?)))
}

async fn heartbeat_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Result<OffsetDateTime, StateError>, StateError> {
    let lease_until = lease_end(now, lease);
    let extended = sqlx::query(
        "UPDATE accounts SET lease_until = ?, updated_at = ?
         WHERE key = ? AND fence = ? AND state = 'running'",
    )
    .bind(lease_until)
    .bind(to_millis(now))
    .bind(key)
    .bind(to_i64(fence.0, "fence")?)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    if extended == 1 {
        return Ok(Ok(from_millis(lease_until)?));
    }
    Ok(
        match check_fence(conn, key, fence, "heartbeat", now).await? {
            // Unreachable in a serialised transaction, but never report success without the update.
            Ok(()) => Err(StateError::Corrupt(format!(
                "heartbeat of {key} updated no row"
            ))),
            Err(e) => Err(e),
        },
    )
}

async fn complete_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    c: &Completion,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let fence_i = to_i64(fence.0, "fence")?;
    // A repeated completion (the worker lost the first answer) is accepted as a no-op.
    let already: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM bundles b JOIN accounts a ON a.key = b.key
         WHERE b.key = ? AND b.fence = ? AND b.bundle_id = ? AND a.fence = b.fence",
    )
    .bind(key)
    .bind(fence_i)
    .bind(&c.bundle_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if already.is_some() {
        return Ok(Ok(()));
    }
    if let Err(e) = check_fence(conn, key, fence, "completion", now).await? {
        return Ok(Err(e));
    }
    let state = recorded_state(c)?;
    let (items, media, gaps, bytes) = (
        to_i64(c.items, "items")?,
        to_i64(c.media, "media")?,
        to_i64(c.gaps, "gaps")?,
        to_i64(c.bytes, "bytes")?,
    );
    sqlx::query(
        "INSERT INTO bundles (bundle_id, key, fence, location, items, media, gaps, bytes,
             tag_manifest_sha256, previous_bundle, completed_at, outcome)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.bundle_id)
    .bind(key)
    .bind(fence_i)
    .bind(&c.location)
    .bind(items)
    .bind(media)
    .bind(gaps)
    .bind(bytes)
    .bind(&c.tag_manifest_sha256)
    .bind(&c.previous_bundle)
    .bind(to_millis(now))
    .bind(state.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    sqlx::query(
        "UPDATE accounts SET state = ?, worker = NULL, lease_until = NULL, not_before = NULL,
             last_error_kind = NULL, last_error = NULL, defer_reason = NULL,
             bundle_id = ?, location = ?, items = ?, media = ?, gaps = ?, bytes = ?,
             updated_at = ?
         WHERE key = ?",
    )
    .bind(state.as_str())
    .bind(&c.bundle_id)
    .bind(&c.location)
    .bind(items)
    .bind(media)
    .bind(gaps)
    .bind(bytes)
    .bind(to_millis(now))
    .bind(key)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit(conn, Audit::completed(now, key, fence_i, c)).await?;
    sqlx::query("DELETE FROM upload_intents WHERE key = ? AND fence = ?")
        .bind(key)
        .bind(fence_i)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(Ok(()))
}

async fn fail_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    f: &Failure,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let (state, not_before, event, detail) = failure_outcome(f);
    let update = sqlx::query(
        "UPDATE accounts SET state = ?, not_before = ?, attempts = attempts + 1,
             last_error_kind = ?, last_error = ?, worker = NULL, lease_until = NULL,
             updated_at = ?
         WHERE key = ?",
    )
    .bind(state.as_str())
    .bind(not_before)
    .bind(&f.kind)
    .bind(&f.message)
    .bind(to_millis(now))
    .bind(key);
    fenced_update(conn, key, fence, "failure", now, update, (event, detail)).await
}

async fn defer_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    until: OffsetDateTime,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let update = sqlx::query(
        "UPDATE accounts SET state = 'deferred', not_before = ?, defer_reason = ?,
             worker = NULL, lease_until = NULL, updated_at = ?
         WHERE key = ?",
    )
    .bind(to_millis(until))
    .bind(reason)
    .bind(to_millis(now))
    .bind(key);
    let deferred = (
        EventKind::Deferred,
        format!("until {}: {reason}", rfc3339(until)),
    );
    fenced_update(conn, key, fence, "deferral", now, update, deferred).await
}

async fn block_tx(
    conn: &mut SqliteConnection,
    platform: Platform,
    until: OffsetDateTime,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    sqlx::query(
        "INSERT INTO quotas (platform, blocked_until, block_reason) VALUES (?, ?, ?)
         ON CONFLICT (platform) DO UPDATE
             SET blocked_until = excluded.blocked_until, block_reason = excluded.block_reason
             WHERE quotas.blocked_until IS NULL OR quotas.blocked_until < excluded.blocked_until",
    )
    .bind(platform.as_str())
    .bind(to_millis(until))
    .bind(reason)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let detail = format!("{platform} until {}: {reason}", rfc3339(until));
    audit(
        conn,
        Audit::platform(now, EventKind::PlatformBlocked, detail),
    )
    .await?;
    Ok(Ok(()))
}

async fn cap_tx(
    conn: &mut SqliteConnection,
    platform: Platform,
    max_concurrent: Option<u32>,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    sqlx::query(
        "INSERT INTO quotas (platform, max_concurrent) VALUES (?, ?)
         ON CONFLICT (platform) DO UPDATE SET max_concurrent = excluded.max_concurrent",
    )
    .bind(platform.as_str())
    .bind(max_concurrent.map(i64::from))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let cap = max_concurrent.map_or_else(|| "none".to_owned(), |n| n.to_string());
    let detail = format!("{platform} max_concurrent {cap}");
    audit(
        conn,
        Audit::platform(now, EventKind::PlatformCapSet, detail),
    )
    .await?;
    Ok(Ok(()))
}

async fn save_budget(
    conn: &mut SqliteConnection,
    platform: Platform,
    b: &Budget,
) -> Result<(), StateError> {
    bind_budget(
        "INSERT INTO quotas (platform, rate_per_sec, burst, tokens, refilled_at, window_ms,
             window_limit, window_offset_ms, window_start, window_used)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (platform) DO UPDATE SET rate_per_sec = excluded.rate_per_sec,
             burst = excluded.burst, tokens = excluded.tokens, refilled_at = excluded.refilled_at,
             window_ms = excluded.window_ms, window_limit = excluded.window_limit,
             window_offset_ms = excluded.window_offset_ms, window_start = excluded.window_start,
             window_used = excluded.window_used",
        platform,
        b,
    )?
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn load_budget(
    conn: &mut SqliteConnection,
    platform: Platform,
) -> Result<Option<Budget>, StateError> {
    let sql = format!("SELECT {BUDGET_COLUMNS} FROM quotas WHERE platform = ?");
    let row = sqlx::query(&sql)
        .bind(platform.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(budget_row).transpose()
}

/// `from` accounts of `wanted` back to pending (a failed one with its attempts cleared).
async fn requeue_tx(
    conn: &mut SqliteConnection,
    from: AccountState,
    wanted: &[Platform],
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<u64, StateError>, StateError> {
    let filter = format!("state = ? AND platform IN ({})", placeholders(wanted.len()));
    let sql = format!(
        "INSERT INTO audit_events (at, key, worker, event, fence, detail)
         SELECT ?, key, NULL, 'requeued', fence, ? FROM accounts WHERE {filter} ORDER BY key"
    );
    let mut query = sqlx::query(&sql)
        .bind(to_millis(now))
        .bind(reason)
        .bind(from.as_str());
    for p in wanted {
        query = query.bind(p.as_str());
    }
    query.execute(&mut *conn).await.map_err(db)?;
    let sql = format!(
        "UPDATE accounts SET state = 'pending', updated_at = ?,
             attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
             not_before = CASE WHEN state = 'failed' THEN NULL ELSE not_before END
         WHERE {filter}"
    );
    let mut query = sqlx::query(&sql).bind(to_millis(now)).bind(from.as_str());
    for p in wanted {
        query = query.bind(p.as_str());
    }
    let n = query.execute(&mut *conn).await.map_err(db)?.rows_affected();
    Ok(Ok(n))
}

async fn set_quota_tx(
    conn: &mut SqliteConnection,
    platform: Platform,
    quota: &Quota,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let old = load_budget(conn, platform).await?;
    let budget = Budget::reconfigured(*quota, old.as_ref(), now);
    save_budget(conn, platform, &budget).await?;
    let detail = format!("{platform} {}", describe_quota(quota));
    audit(
        conn,
        Audit::platform(now, EventKind::PlatformQuotaSet, detail),
    )
    .await?;
    Ok(Ok(()))
}

async fn take_quota_tx(
    conn: &mut SqliteConnection,
    platform: Platform,
    cost: u32,
    now: OffsetDateTime,
) -> Result<Result<Admission, StateError>, StateError> {
    let Some(mut budget) = load_budget(conn, platform).await? else {
        return Ok(Ok(Admission::Granted));
    };
    let admission = budget.take(cost, now)?;
    if admission == Admission::Granted {
        save_budget(conn, platform, &budget).await?;
    }
    Ok(Ok(admission))
}

/// Closes the passes (of `only`, or all) whose platform has no account left to capture.
async fn close_drained(
    conn: &mut SqliteConnection,
    only: Option<Platform>,
    now: OffsetDateTime,
) -> Result<Vec<Platform>, StateError> {
    let drained: Vec<(String, i64)> = sqlx::query_as(
        "SELECT platform, started_at FROM passes p
         WHERE (? IS NULL OR platform = ?) AND NOT EXISTS (SELECT 1 FROM accounts a
             WHERE a.platform = p.platform
                 AND a.state IN ('pending', 'running', 'retry', 'deferred'))
         ORDER BY platform",
    )
    .bind(only.map(Platform::as_str))
    .bind(only.map(Platform::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut closed = Vec::new();
    for (platform, started_ms) in drained {
        sqlx::query("DELETE FROM passes WHERE platform = ?")
            .bind(&platform)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let detail = format!(
            "{platform} pass from {} finished",
            rfc3339(from_millis(started_ms)?)
        );
        audit(conn, Audit::platform(now, EventKind::PassClosed, detail)).await?;
        closed.push(parse_platform(&platform)?);
    }
    Ok(closed)
}

async fn close_drained_tx(
    conn: &mut SqliteConnection,
    now: OffsetDateTime,
) -> Result<Result<Vec<Platform>, StateError>, StateError> {
    Ok(Ok(close_drained(conn, None, now).await?))
}

async fn close_upload_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: i64,
) -> Result<Result<(), StateError>, StateError> {
    delete_intent(conn, key, fence).await?;
    Ok(Ok(()))
}

async fn begin_pass_tx(
    conn: &mut SqliteConnection,
    wanted: &[Platform],
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<PassStart, StateError>, StateError> {
    let now_ms = to_millis(now);
    let mut out = PassStart::default();
    for &platform in wanted {
        close_drained(conn, Some(platform), now).await?;
        let opened = sqlx::query(
            "INSERT INTO passes (platform, started_at, reason) VALUES (?, ?, ?)
             ON CONFLICT (platform) DO NOTHING",
        )
        .bind(platform.as_str())
        .bind(now_ms)
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        let started_ms: i64 =
            sqlx::query_scalar("SELECT started_at FROM passes WHERE platform = ?")
                .bind(platform.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
        if opened > 0 {
            let detail = format!("{platform} pass from {}: {reason}", rfc3339(now));
            audit(conn, Audit::platform(now, EventKind::PassOpened, detail)).await?;
        }
        // Recorded accounts (complete, partial, unavailable) with no bundle from this pass yet.
        let filter =
            "state IN ('complete', 'partial', 'unavailable') AND platform = ? AND NOT EXISTS
            (SELECT 1 FROM bundles b WHERE b.key = accounts.key AND b.completed_at >= ?)";
        let sql = format!(
            "INSERT INTO audit_events (at, key, worker, event, fence, detail)
             SELECT ?, key, NULL, 'requeued', fence, ? FROM accounts WHERE {filter} ORDER BY key"
        );
        sqlx::query(&sql)
            .bind(now_ms)
            .bind(reason)
            .bind(platform.as_str())
            .bind(started_ms)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let sql = format!("UPDATE accounts SET state = 'pending', updated_at = ? WHERE {filter}");
        out.requeued += sqlx::query(&sql)
            .bind(now_ms)
            .bind(platform.as_str())
            .bind(started_ms)
            .execute(&mut *conn)
            .await
            .map_err(db)?
            .rows_affected();
        out.passes.push(Pass {
            platform,
            started_at: from_millis(started_ms)?,
            resumed: opened == 0,
        });
    }
    Ok(Ok(out))
}

async fn intend_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    intent: &UploadIntent,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    if let Err(e) = check_fence(conn, key, fence, "upload intent", now).await? {
        return Ok(Err(e));
    }
    sqlx::query(
        "INSERT INTO upload_intents (key, fence, worker, object, bundle_id, completion,
             discarding, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?)
         ON CONFLICT (key, fence) DO UPDATE SET worker = excluded.worker,
             object = excluded.object, bundle_id = excluded.bundle_id,
             completion = excluded.completion, discarding = 0, created_at = excluded.created_at",
    )
    .bind(key)
    .bind(to_i64(fence.0, "fence")?)
    .bind(&intent.worker)
    .bind(&intent.object)
    .bind(&intent.completion.bundle_id)
    .bind(completion_to_column(&intent.completion)?)
    .bind(to_millis(now))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(Ok(()))
}

/// The intent of claim `(key, fence)`: `(worker, object, completion, discarding)`.
async fn intent_of(
    conn: &mut SqliteConnection,
    key: &str,
    fence: i64,
) -> Result<Option<(UploadIntent, bool)>, StateError> {
    let row = sqlx::query(
        "SELECT worker, object, completion, discarding FROM upload_intents
         WHERE key = ? AND fence = ?",
    )
    .bind(key)
    .bind(fence)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(intent_row).transpose()
}

async fn bundle_recorded(conn: &mut SqliteConnection, bundle_id: &str) -> Result<bool, StateError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM bundles WHERE bundle_id = ?")
        .bind(bundle_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(found.is_some())
}

async fn delete_intent(
    conn: &mut SqliteConnection,
    key: &str,
    fence: i64,
) -> Result<(), StateError> {
    sqlx::query("DELETE FROM upload_intents WHERE key = ? AND fence = ?")
        .bind(key)
        .bind(fence)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

async fn adopt_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    worker: &str,
    now: OffsetDateTime,
) -> Result<Result<Adoption, StateError>, StateError> {
    let fence_i = to_i64(fence.0, "fence")?;
    let Some((intent, discarding)) = intent_of(conn, key, fence_i).await? else {
        return Ok(Ok(Adoption::Gone));
    };
    if discarding {
        return Ok(Ok(Adoption::Gone));
    }
    let c = &intent.completion;
    if bundle_recorded(conn, &c.bundle_id).await? {
        delete_intent(conn, key, fence_i).await?;
        return Ok(Ok(Adoption::AlreadyRecorded));
    }
    let latest: Option<String> =
        sqlx::query_scalar("SELECT bundle_id FROM bundles WHERE key = ? ORDER BY id DESC LIMIT 1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if latest != c.previous_bundle {
        return Ok(Ok(Adoption::Superseded { latest }));
    }
    // A claim of its own, completed at once: whoever holds the account is fenced out.
    let (_, from) = current(conn, key).await?;
    let new_fence: i64 = sqlx::query_scalar(
        "UPDATE accounts SET state = 'running', fence = fence + 1, worker = ?, lease_until = ?,
             updated_at = ?
         WHERE key = ? RETURNING fence",
    )
    .bind(worker)
    .bind(to_millis(now))
    .bind(to_millis(now))
    .bind(key)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let recovered = Audit::upload_recovered(now, key, &intent, fence_i, new_fence, &from);
    audit(conn, recovered).await?;
    let new_fence = Fence(u64::try_from(new_fence).unwrap_or_default());
    if let Err(e) = complete_tx(conn, key, new_fence, c, now).await? {
        return Ok(Err(e));
    }
    delete_intent(conn, key, fence_i).await?;
    Ok(Ok(Adoption::Recorded))
}

async fn discard_tx(
    conn: &mut SqliteConnection,
    key: &str,
    fence: Fence,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<Discard, StateError>, StateError> {
    let fence_i = to_i64(fence.0, "fence")?;
    let Some((intent, discarding)) = intent_of(conn, key, fence_i).await? else {
        return Ok(Ok(Discard::Gone));
    };
    if bundle_recorded(conn, &intent.completion.bundle_id).await? {
        delete_intent(conn, key, fence_i).await?;
        return Ok(Ok(Discard::Recorded));
    }
    if !discarding {
        sqlx::query("UPDATE upload_intents SET discarding = 1 WHERE key = ? AND fence = ?")
            .bind(key)
            .bind(fence_i)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        let discarded = Audit::upload_discarded(now, key, fence_i, &intent.object, reason);
        audit(conn, discarded).await?;
    }
    Ok(Ok(Discard::Proceed))
}

#[async_trait]
impl StateStore for SqliteStateStore {
    async fn upsert_accounts(
        &self,
        accounts: &[AccountSpec],
        now: OffsetDateTime,
    ) -> Result<u64, StateError> {
        // Registries are large: one transaction per chunk keeps each write lock short.
        let mut added = 0;
        for chunk in accounts.chunks(1000) {
            added += write_tx!(self, |conn| upsert_tx(conn, chunk, now))?;
        }
        Ok(added)
    }

    async fn claim(
        &self,
        worker: &str,
        platforms: Option<&[Platform]>,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<Claim>, StateError> {
        write_tx!(self, |conn| claim_tx(conn, worker, platforms, now, lease))
    }

    async fn heartbeat(
        &self,
        key: &str,
        fence: Fence,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<OffsetDateTime, StateError> {
        write_tx!(self, |conn| heartbeat_tx(conn, key, fence, now, lease))
    }

    async fn complete(
        &self,
        key: &str,
        fence: Fence,
        completion: &Completion,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| complete_tx(conn, key, fence, completion, now))
    }

    async fn fail(
        &self,
        key: &str,
        fence: Fence,
        failure: &Failure,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| fail_tx(conn, key, fence, failure, now))
    }

    async fn defer(
        &self,
        key: &str,
        fence: Fence,
        until: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| defer_tx(conn, key, fence, until, reason, now))
    }

    async fn block_platform(
        &self,
        platform: Platform,
        until: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| block_tx(conn, platform, until, reason, now))
    }

    async fn platform_blocked_until(
        &self,
        platform: Platform,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StateError> {
        let until: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT blocked_until FROM quotas WHERE platform = ? AND blocked_until > ?",
        )
        .bind(platform.as_str())
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        until.flatten().map(from_millis).transpose()
    }

    async fn set_platform_cap(
        &self,
        platform: Platform,
        max_concurrent: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| cap_tx(conn, platform, max_concurrent, now))
    }

    async fn set_platform_quota(
        &self,
        platform: Platform,
        quota: &Quota,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| set_quota_tx(conn, platform, quota, now))
    }

    async fn take_quota(
        &self,
        platform: Platform,
        cost: u32,
        now: OffsetDateTime,
    ) -> Result<Admission, StateError> {
        write_tx!(self, |conn| take_quota_tx(conn, platform, cost, now))
    }

    async fn events(&self, key: &str) -> Result<Vec<AuditEvent>, StateError> {
        let rows = sqlx::query(
            "SELECT id, at, key, worker, event, fence, detail FROM audit_events
             WHERE key = ? ORDER BY id",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event_row).collect()
    }

    async fn bundles(&self, key: &str) -> Result<Vec<BundleRecord>, StateError> {
        let rows = sqlx::query("SELECT * FROM bundles WHERE key = ? ORDER BY id")
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(bundle_row).collect()
    }

    async fn last_bundle(&self, key: &str) -> Result<Option<BundleRecord>, StateError> {
        let row = sqlx::query("SELECT * FROM bundles WHERE key = ? ORDER BY id DESC LIMIT 1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(bundle_row).transpose()
    }

    async fn requeue(
        &self,
        from: AccountState,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StateError> {
        if !from.is_final() {
            return Ok(0);
        }
        let wanted: Vec<Platform> = platforms.map_or_else(|| Platform::ALL.to_vec(), <[_]>::to_vec);
        if wanted.is_empty() {
            return Ok(0);
        }
        write_tx!(self, |conn| requeue_tx(conn, from, &wanted, reason, now))
    }

    async fn begin_pass(
        &self,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<PassStart, StateError> {
        let wanted: Vec<Platform> = platforms.map_or_else(|| Platform::ALL.to_vec(), <[_]>::to_vec);
        write_tx!(self, |conn| begin_pass_tx(conn, &wanted, reason, now))
    }

    async fn close_drained_passes(&self, now: OffsetDateTime) -> Result<Vec<Platform>, StateError> {
        write_tx!(self, |conn| close_drained_tx(conn, now))
    }

    async fn intend_upload(
        &self,
        key: &str,
        fence: Fence,
        intent: &UploadIntent,
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        write_tx!(self, |conn| intend_tx(conn, key, fence, intent, now))
    }

    async fn open_uploads(&self) -> Result<Vec<OpenUpload>, StateError> {
        let rows = sqlx::query(OPEN_UPLOADS)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(open_upload_row).collect()
    }

    async fn adopt_upload(
        &self,
        key: &str,
        fence: Fence,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<Adoption, StateError> {
        write_tx!(self, |conn| adopt_tx(conn, key, fence, worker, now))
    }

    async fn discard_upload(
        &self,
        key: &str,
        fence: Fence,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Discard, StateError> {
        write_tx!(self, |conn| discard_tx(conn, key, fence, reason, now))
    }

    async fn close_upload(&self, key: &str, fence: Fence) -> Result<(), StateError> {
        let fence = to_i64(fence.0, "fence")?;
        write_tx!(self, |conn| close_upload_tx(conn, key, fence))
    }

    async fn leases(&self) -> Result<Vec<Lease>, StateError> {
        let rows = sqlx::query(LEASES)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(lease_row).collect()
    }

    async fn next_due(
        &self,
        platforms: Option<&[Platform]>,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StateError> {
        let wanted: Vec<Platform> = platforms.map_or_else(|| Platform::ALL.to_vec(), <[_]>::to_vec);
        if wanted.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT min(CASE a.state
                 WHEN 'pending' THEN max(coalesce(q.blocked_until, 0), ?)
                 WHEN 'running' THEN a.lease_until
                 ELSE max(a.not_before, coalesce(q.blocked_until, 0)) END)
             FROM accounts a LEFT JOIN quotas q ON q.platform = a.platform
             WHERE a.state IN ('pending', 'running', 'retry', 'deferred')
                 AND a.platform IN ({})",
            placeholders(wanted.len())
        );
        let mut query = sqlx::query_scalar::<_, Option<i64>>(&sql).bind(to_millis(now));
        for p in &wanted {
            query = query.bind(p.as_str());
        }
        let due = query.fetch_one(&self.pool).await.map_err(db)?;
        due.map(from_millis).transpose()
    }

    async fn summary(&self) -> Result<Summary, StateError> {
        let rows: Vec<StateTotals> = sqlx::query_as(
            "SELECT platform, state, count(*), coalesce(sum(items), 0), coalesce(sum(media), 0),
                 coalesce(sum(bytes), 0)
             FROM accounts GROUP BY state, platform",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let limits: Vec<PlatformLimits> =
            sqlx::query_as("SELECT platform, max_concurrent, blocked_until FROM quotas")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        summarize(&rows, &limits)
    }

    async fn report(&self) -> Result<Vec<AccountReport>, StateError> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(report_row).collect()
    }
}
