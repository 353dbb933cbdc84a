//! The scale-out engine: one PostgreSQL database shared by workers on many machines, through
//! sqlx. Same tables, columns and semantics as [`super::sqlite`] (times are BIGINT Unix
//! milliseconds), same contracts, same conformance suite.
//!
//! # Decisions
//!
//! - **Transactions.** Every write is one `READ COMMITTED` transaction. A rejected stale worker
//!   is an *inner* error: the transaction commits (keeping its `rejected_stale` audit row) and
//!   then the error is returned, exactly as in the SQLite engine.
//! - **Claims** use the standard queue pattern, `SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`:
//!   an expired lease first (oldest first), then, platform by platform from the least loaded, a
//!   due `retry`/`deferred` account, then a `pending` one. Concurrent claimers skip each other's
//!   rows instead of queueing on them, and a row committed by another claimer meanwhile is
//!   re-checked by PostgreSQL against the `WHERE` clause before it is returned.
//! - **Concurrency caps** need a count, and counts do not lock: two claimers could each see
//!   `cap - 1` running and both claim. So a claim of a *capped* platform locks that platform's
//!   `quotas` row (`FOR UPDATE`) after picking its account and re-counts live leases under the
//!   lock; at the cap, the transaction ends without writing and the claim starts over without
//!   that platform. Claims of uncapped platforms take no platform lock. Lock order is always
//!   account row, then one `quotas` row; nothing that holds a `quotas` row waits for an account
//!   row, so these locks cannot deadlock.
//! - **Per-account order.** Every transition locks the account row first (`FOR UPDATE`), so the
//!   audit ids of one account (drawn from a sequence) follow its commit order, and a repeated
//!   completion racing the first one sees it committed and is accepted as the no-op it is.
//! - **Quotas** (`set_platform_quota`, `take_quota`) lock the platform's `quotas` row and reuse
//!   [`Budget`], so both engines share one budget arithmetic.
//! - **Retries.** Serialization failures (SQLSTATE 40001), deadlocks (40P01) and lock timeouts
//!   (55P03, after [`PostgresOptions::lock_timeout`]) roll the transaction back; it is retried
//!   with a growing pause, then surfaces as [`StateError::Busy`].
//! - **Migrations** run at open, one transaction per migration, each under
//!   `pg_advisory_xact_lock(MIGRATION_LOCK)`, so processes opening at once apply each migration
//!   exactly once; a database whose schema is newer than this binary is refused.
//! - **Schemas.** [`PostgresOptions::schema`] sets `search_path` as a connection startup option
//!   (every pooled connection gets it), and the schema is created if missing: tests and separate
//!   deployments can share one database.
//! - **Secrets.** Errors name the location through [`redact_location`]; sqlx's own messages
//!   (refused connection, failed authentication) never contain the password.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use model::Platform;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Connection, Postgres};
use time::{Duration, OffsetDateTime};

use super::quota::{Budget, Quota, describe_quota};
use super::rows::{
    Audit, BUDGET_COLUMNS, Candidate, LEASES, LiveLeases, OPEN_UPLOADS, PlatformLimits, StateRow,
    StateTotals, bind_budget, budget_row, bundle_row, claim_row, claimable, completion_to_column,
    event_row, exports_to_column, failure_outcome, intent_row, lease_end, lease_row,
    open_upload_row, parse_platform, recorded_state, report_row, rfc3339, stale_fence, summarize,
    to_i64,
};
use super::{
    AccountReport, AccountSpec, AccountState, Admission, Adoption, AuditEvent, BundleRecord, Claim,
    Completion, Discard, EventKind, Failure, Fence, Lease, Migration, OpenUpload, Pass, PassStart,
    StateError, StateStore, Summary, UploadIntent, busy_pause, from_millis, pending_migrations,
    redact_location, to_millis,
};

/// Schema migrations of the PostgreSQL dialect, applied in order; see [`PostgresStateStore::open`].
const MIGRATIONS: &[Migration] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "quota budgets",
        include_str!("../../migrations/postgres/0002_quota_budgets.sql"),
    ),
    (
        3,
        "account exports",
        include_str!("../../migrations/postgres/0003_account_exports.sql"),
    ),
    (
        4,
        "outcomes",
        include_str!("../../migrations/postgres/0004_outcomes.sql"),
    ),
    (
        5,
        "upload intents and passes",
        include_str!("../../migrations/postgres/0005_uploads_and_passes.sql"),
    ),
];

/// Advisory lock key serialising migrations of every tawthiq process on one database
/// (`"tawthiq"` in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6177_7468_6971;

/// How a [`PostgresStateStore`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Pooled connections per handle (one per concurrently writing task, plus readers).
    pub max_connections: u32,
    /// How long opening waits for the server to accept the first connection.
    pub connect_timeout: StdDuration,
    /// Schema holding the tables (created if missing); `None` keeps the server's `search_path`.
    /// Lower-case letters, digits and `_`.
    pub schema: Option<String>,
    /// How long a statement waits for a row lock before the transaction is retried.
    pub lock_timeout: StdDuration,
    /// How many times a transaction that hit a deadlock, serialization failure or lock timeout
    /// is retried before [`StateError::Busy`].
    pub busy_retries: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 5,
            connect_timeout: StdDuration::from_secs(10),
            schema: None,
            lock_timeout: StdDuration::from_secs(5),
            busy_retries: 20,
        }
    }
}

/// [`StateStore`] on a PostgreSQL database. Cheap to share (`Arc`); any number of handles, in
/// one process or on many machines, may open the same database.
#[derive(Debug)]
pub struct PostgresStateStore {
    pool: PgPool,
    options: PostgresOptions,
}

/// Runs `$body` (a future over `$conn: &mut PgConnection` yielding
/// `Result<Result<T, StateError>, StateError>`) in a transaction started by `$begin`. An outer
/// error rolls back; an inner one (a rejected stale worker) is committed, so its audit row
/// stays, and then returned. Deadlocks, serialization failures and lock timeouts are retried.
macro_rules! retry_tx {
    ($retries:expr, $begin:expr, |$conn:ident| $body:expr) => {{
        let max_retries: u32 = $retries;
        let mut retries = 0_u32;
        loop {
            let attempt: Result<_, StateError> = async {
                let mut tx = $begin.await.map_err(db)?;
                let outcome = {
                    let $conn: &mut PgConnection = &mut tx;
                    $body.await?
                };
                tx.commit().await.map_err(db)?;
                Ok(outcome)
            }
            .await;
            match attempt {
                Err(StateError::Busy(e)) if retries < max_retries => {
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

/// [`retry_tx!`] on a pooled connection of `$store`.
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let store: &PostgresStateStore = $store;
        retry_tx!(store.options.busy_retries, store.pool.begin(), |$conn| {
            $body
        })
    }};
}

impl PostgresStateStore {
    /// Connects to the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DB?...`) and
    /// brings its schema up to date. Several processes may open the same database at once.
    ///
    /// An unreachable server, refused credentials or a bad URL give [`StateError::Open`] naming
    /// the location with its password redacted.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<Self, StateError> {
        let location = redacted(url);
        let open_error = |source| StateError::Open {
            location: location.clone(),
            source,
        };
        let mut startup = vec![(
            "lock_timeout",
            format!("{}ms", options.lock_timeout.as_millis().max(1)),
        )];
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            startup.push(("search_path", schema.clone()));
        }
        let connect = PgConnectOptions::from_str(url)
            .map_err(open_error)?
            .application_name("tawthiq")
            .options(startup);

        // One connection first, under our own deadline: an unreachable server answers with its
        // real cause (refused, unknown host, bad password) instead of a pool timeout, and the
        // migrations run on it.
        let mut conn = match tokio::time::timeout(options.connect_timeout, connect.connect()).await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(source)) => return Err(open_error(source)),
            Err(_) => {
                return Err(open_error(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer from {}:{} within {} s",
                        connect.get_host(),
                        connect.get_port(),
                        options.connect_timeout.as_secs_f32()
                    ),
                ))));
            }
        };
        let migrated = migrate(&mut conn, options.schema.as_deref(), options.busy_retries).await;
        // The connection is not needed any more; a failure to close it politely changes nothing.
        let _ = conn.close().await;
        migrated?;

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(options.connect_timeout.max(StdDuration::from_secs(30)))
            .connect_lazy_with(connect);
        Ok(PostgresStateStore { pool, options })
    }

    /// Closes the pooled connections (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The underlying pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// `url` for messages, without its password: [`redact_location`] for a well-formed URL, and
/// also a `password=` query parameter (libpq syntax, which sqlx accepts) or the password of a
/// URL that does not parse (a typo in the port must not print the password).
fn redacted(url: &str) -> String {
    if url.contains("://") {
        redact_location(url)
    } else {
        "(an unparseable PostgreSQL URL)".to_owned()
    }
}

/// Schema names go into a startup option and a `CREATE SCHEMA`: plain lower-case identifiers
/// only, so neither needs quoting rules.
fn check_schema_name(schema: &str) -> Result<(), StateError> {
    let mut chars = schema.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(StateError::Location(format!(
            "PostgreSQL schema {schema:?}: use at most 63 lower-case letters, digits and _, \
             not starting with a digit"
        )))
    }
}

/// Serialization failure, deadlock, or lock timeout: the transaction was rolled back and may
/// simply be run again.
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01" | "55P03"))
}

fn db(e: sqlx::Error) -> StateError {
    if is_busy(&e) {
        StateError::Busy(e)
    } else {
        StateError::Database(e)
    }
}

/// Applies the missing migrations, one transaction each, until the schema is current.
async fn migrate(
    conn: &mut PgConnection,
    schema: Option<&str>,
    busy_retries: u32,
) -> Result<(), StateError> {
    while retry_tx!(busy_retries, conn.begin(), |tx| migrate_step(tx, schema))? {}
    Ok(())
}

/// Under the migration lock: refuses a newer schema, else applies the next missing migration.
/// `Ok(Ok(false))` when there was none.
async fn migrate_step(
    conn: &mut PgConnection,
    schema: Option<&str>,
) -> Result<Result<bool, StateError>, StateError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if let Some(schema) = schema {
        // The name was checked by `check_schema_name`.
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY NOT NULL,
             description TEXT NOT NULL,
             applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let current: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let Some(&(version, description, sql)) = pending_migrations(MIGRATIONS, current)?.next() else {
        return Ok(Ok(false));
    };
    let migration_error = |source| StateError::Migration {
        version,
        description: description.to_owned(),
        source,
    };
    // A string without arguments goes through the simple-query protocol, which runs several
    // statements (and `$$` function bodies) in order.
    sqlx::Executor::execute(&mut *conn, sql)
        .await
        .map_err(migration_error)?;
    sqlx::query(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
    )
    .bind(version)
    .bind(description)
    .bind(to_millis(OffsetDateTime::now_utc()))
    .execute(&mut *conn)
    .await
    .map_err(migration_error)?;
    tracing::info!(version, description, "state store migrated");
    Ok(Ok(true))
}

/// `from` accounts of `wanted` back to pending (a failed one with its attempts cleared).
async fn requeue_tx(
    conn: &mut PgConnection,
    from: AccountState,
    wanted: &[String],
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<u64, StateError>, StateError> {
    sqlx::query(
        "INSERT INTO audit_events (at, key, worker, event, fence, detail)
         SELECT $1, key, NULL, 'requeued', fence, $2 FROM accounts
         WHERE state = $3 AND platform = ANY($4) ORDER BY key",
    )
    .bind(to_millis(now))
    .bind(reason)
    .bind(from.as_str())
    .bind(wanted)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let n = sqlx::query(
        "UPDATE accounts SET state = 'pending', updated_at = $1,
             attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
             not_before = CASE WHEN state = 'failed' THEN NULL ELSE not_before END
         WHERE state = $2 AND platform = ANY($3)",
    )
    .bind(to_millis(now))
    .bind(from.as_str())
    .bind(wanted)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(Ok(n))
}

async fn audit(conn: &mut PgConnection, a: Audit<'_>) -> Result<(), StateError> {
    sqlx::query(
        "INSERT INTO audit_events (at, key, worker, event, fence, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
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

/// Locks the account row and returns its current fence and state, or `UnknownAccount`.
async fn lock_account(conn: &mut PgConnection, key: &str) -> Result<(i64, String), StateError> {
    sqlx::query_as::<_, (i64, String)>(
        "SELECT fence, state FROM accounts WHERE key = $1 FOR UPDATE",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .ok_or_else(|| StateError::UnknownAccount {
        key: key.to_owned(),
    })
}

/// Checks that `fence` still holds the running account, whose locked `(fence, state)` is
/// `current`. On a mismatch, audits the rejection and returns the `Fenced` error to
/// commit-then-return.
async fn check_fence(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    current: (i64, String),
    action: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let Some((rejection, error)) = stale_fence(key, fence, &current, action, now)? else {
        return Ok(Ok(()));
    };
    audit(conn, rejection).await?;
    Ok(Err(error))
}

/// Locks the account and checks the fence (see [`check_fence`]).
async fn lock_and_check_fence(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    action: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let current = lock_account(conn, key).await?;
    check_fence(conn, key, fence, current, action, now).await
}

/// A transition of the running account held under `fence`: locks the account and checks the
/// fence (see [`check_fence`]), then runs `update` and audits `event` with its detail.
async fn fenced_update(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    action: &str,
    now: OffsetDateTime,
    update: Query<'_, Postgres, PgArguments>,
    (event, detail): (EventKind, String),
) -> Result<Result<(), StateError>, StateError> {
    if let Err(e) = lock_and_check_fence(conn, key, fence, action, now).await? {
        return Ok(Err(e));
    }
    update.execute(&mut *conn).await.map_err(db)?;
    let fence = to_i64(fence.0, "fence")?;
    audit(conn, Audit::account(now, key, event, fence, detail)).await?;
    Ok(Ok(()))
}

async fn upsert_tx(
    conn: &mut PgConnection,
    accounts: &[AccountSpec],
    now: OffsetDateTime,
) -> Result<Result<u64, StateError>, StateError> {
    // Two statements per chunk, the rows travelling as arrays: known accounts take the
    // registry's current handle, route, credential and exports (state, fence and bundles
    // stay, except that a failed account whose line was edited is tried afresh), then new ones
    // are inserted.
    let keys: Vec<&str> = accounts.iter().map(|a| a.key.as_str()).collect();
    let platforms: Vec<&str> = accounts.iter().map(|a| a.platform.as_str()).collect();
    let names: Vec<&str> = accounts.iter().map(|a| a.account.as_str()).collect();
    let routes: Vec<Option<&str>> = accounts.iter().map(|a| a.route.as_deref()).collect();
    let credentials: Vec<Option<&str>> = accounts
        .iter()
        .map(|a| a.credential_ref.as_deref())
        .collect();
    let exports: Vec<Option<String>> = accounts
        .iter()
        .map(|a| exports_to_column(&a.exports))
        .collect();
    let changed: Vec<String> = sqlx::query_scalar(
        "UPDATE accounts AS a SET account = t.a, route = t.r, credential_ref = t.c, exports = t.e,
             updated_at = $6,
             attempts = CASE WHEN a.state = 'failed' THEN 0 ELSE a.attempts END,
             not_before = CASE WHEN a.state = 'failed' THEN NULL ELSE a.not_before END,
             state = CASE WHEN a.state = 'failed' THEN 'pending' ELSE a.state END
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])
             AS t (k, a, r, c, e)
         WHERE a.key = t.k AND (a.account IS DISTINCT FROM t.a OR a.route IS DISTINCT FROM t.r
             OR a.credential_ref IS DISTINCT FROM t.c OR a.exports IS DISTINCT FROM t.e)
         RETURNING a.key",
    )
    .bind(&keys)
    .bind(&names)
    .bind(&routes)
    .bind(&credentials)
    .bind(&exports)
    .bind(to_millis(now))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for key in &changed {
        if let Some(a) = accounts.iter().find(|a| &a.key == key) {
            audit(conn, Audit::registry_changed(a, now)).await?;
        }
    }
    let added = sqlx::query(
        "INSERT INTO accounts (key, platform, account, route, credential_ref, exports, updated_at)
         SELECT k, p, a, r, c, e, $7
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[])
             AS t (k, p, a, r, c, e)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&keys)
    .bind(&platforms)
    .bind(&names)
    .bind(&routes)
    .bind(&credentials)
    .bind(&exports)
    .bind(to_millis(now))
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(Ok(added))
}

/// Platforms a claim may take from now, least loaded first (`excluded` were found at their cap
/// by an earlier round of the same claim).
async fn claimable_platforms(
    conn: &mut PgConnection,
    wanted: Option<&[Platform]>,
    excluded: &[Platform],
    now_ms: i64,
) -> Result<Vec<Candidate>, StateError> {
    let running: Vec<LiveLeases> = sqlx::query_as(
        "SELECT platform, count(*) FROM accounts
         WHERE state = 'running' AND lease_until > $1 GROUP BY platform",
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
    Ok(claimable(&running, &limits, wanted, excluded, now_ms))
}

/// The account a claim picked (and locked), before any write.
struct Picked {
    key: String,
    platform: Platform,
    /// The state it is claimed from, for the audit detail.
    from: &'static str,
    /// For an expired lease: the lost worker, its fence and lease end.
    expired: Option<(Option<String>, i64, i64)>,
}

/// Locks the next account to claim among `candidates`, in the contract's order.
async fn pick(
    conn: &mut PgConnection,
    candidates: &[Candidate],
    now_ms: i64,
) -> Result<Option<Picked>, StateError> {
    // Expired leases first: their accounts have waited longest, and a crashed worker's account
    // must not wait for the whole queue to drain.
    let names: Vec<&str> = candidates.iter().map(|c| c.platform.as_str()).collect();
    let expired: Option<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT key, platform, worker, fence, lease_until FROM accounts
         WHERE state = 'running' AND lease_until <= $1 AND platform = ANY($2)
         ORDER BY lease_until LIMIT 1
         FOR UPDATE SKIP LOCKED",
    )
    .bind(now_ms)
    .bind(names)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if let Some((key, platform, worker, fence, lease_until)) = expired {
        return Ok(Some(Picked {
            key,
            platform: parse_platform(&platform)?,
            from: "running (expired lease)",
            expired: Some((worker, fence, lease_until)),
        }));
    }

    // Then, platform by platform from the least loaded, a due retry or deferral, else a
    // pending account.
    for c in candidates {
        let due: Option<(String, String)> = sqlx::query_as(
            "SELECT key, state FROM accounts
             WHERE state IN ('retry', 'deferred') AND platform = $1 AND not_before <= $2
             ORDER BY not_before LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(c.platform.as_str())
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
            return Ok(Some(Picked {
                key,
                platform: c.platform,
                from,
                expired: None,
            }));
        }
        let pending: Option<String> = sqlx::query_scalar(
            "SELECT key FROM accounts WHERE state = 'pending' AND platform = $1
             LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(c.platform.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if let Some(key) = pending {
            return Ok(Some(Picked {
                key,
                platform: c.platform,
                from: "pending",
                expired: None,
            }));
        }
    }
    Ok(None)
}

/// What one round of a claim found.
enum ClaimRound {
    Claimed(Claim),
    Nothing,
    /// The picked account's platform turned out to be blocked or at its cap once locked:
    /// nothing was written; claim again without it.
    Full(Platform),
}

/// Whether `platform`, its `quotas` row locked for the rest of the transaction, may take one
/// more live lease at `now_ms`.
async fn lock_platform_slot(
    conn: &mut PgConnection,
    platform: Platform,
    now_ms: i64,
) -> Result<bool, StateError> {
    let limits: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT max_concurrent, blocked_until FROM quotas WHERE platform = $1 FOR UPDATE",
    )
    .bind(platform.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some((cap, blocked)) = limits else {
        return Ok(true);
    };
    if blocked.is_some_and(|until| until > now_ms) {
        return Ok(false);
    }
    let Some(cap) = cap else {
        return Ok(true);
    };
    // A new statement under READ COMMITTED: it sees every claim committed by the transactions
    // that held this lock before us.
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM accounts
         WHERE platform = $1 AND state = 'running' AND lease_until > $2",
    )
    .bind(platform.as_str())
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    Ok(live < cap)
}

async fn claim_tx(
    conn: &mut PgConnection,
    worker: &str,
    wanted: Option<&[Platform]>,
    excluded: &[Platform],
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Result<ClaimRound, StateError>, StateError> {
    let now_ms = to_millis(now);
    let candidates = claimable_platforms(conn, wanted, excluded, now_ms).await?;
    if candidates.is_empty() {
        return Ok(Ok(ClaimRound::Nothing));
    }
    let Some(picked) = pick(conn, &candidates, now_ms).await? else {
        return Ok(Ok(ClaimRound::Nothing));
    };
    let capped = candidates
        .iter()
        .any(|c| c.platform == picked.platform && c.capped);
    if capped && !lock_platform_slot(conn, picked.platform, now_ms).await? {
        return Ok(Ok(ClaimRound::Full(picked.platform)));
    }

    let key = picked.key;
    if let Some((old_worker, old_fence, old_lease)) = picked.expired {
        let reclaimed = Audit::lease_reclaimed(
            now,
            &key,
            old_worker.as_deref(),
            old_fence,
            old_lease,
            worker,
        )?;
        audit(conn, reclaimed).await?;
    }
    let lease_until = lease_end(now, lease);
    let row = sqlx::query(
        "UPDATE accounts SET state = 'running', fence = fence + 1, worker = $1, lease_until = $2,
             claims = claims + 1, updated_at = $3
         WHERE key = $4
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
    audit(conn, Audit::claimed(now, &key, worker, fence, picked.from)).await?;
    Ok(Ok(ClaimRound::Claimed(claim_row(&row, key, lease_until)?)))
}

async fn heartbeat_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Result<OffsetDateTime, StateError>, StateError> {
    let lease_until = lease_end(now, lease);
    let extended = sqlx::query(
        "UPDATE accounts SET lease_until = $1, updated_at = $2
         WHERE key = $3 AND fence = $4 AND state = 'running'",
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
        match lock_and_check_fence(conn, key, fence, "heartbeat", now).await? {
            // A fence never goes back, so this cannot happen; never report success without
            // the update.
            Ok(()) => Err(StateError::Corrupt(format!(
                "heartbeat of {key} updated no row"
            ))),
            Err(e) => Err(e),
        },
    )
}

async fn complete_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    c: &Completion,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    // Lock first: a repeated completion racing the first one then sees it committed.
    let current = lock_account(conn, key).await?;
    let fence_i = to_i64(fence.0, "fence")?;
    // A repeated completion (the worker lost the first answer) is accepted as a no-op.
    let already: Option<i64> = sqlx::query_scalar(
        "SELECT b.id FROM bundles b
         WHERE b.key = $1 AND b.fence = $2 AND b.bundle_id = $3 AND b.fence = $4",
    )
    .bind(key)
    .bind(fence_i)
    .bind(&c.bundle_id)
    .bind(current.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if already.is_some() {
        return Ok(Ok(()));
    }
    if let Err(e) = check_fence(conn, key, fence, current, "completion", now).await? {
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
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        "UPDATE accounts SET state = $9, worker = NULL, lease_until = NULL, not_before = NULL,
             last_error_kind = NULL, last_error = NULL, defer_reason = NULL,
             bundle_id = $1, location = $2, items = $3, media = $4, gaps = $5, bytes = $6,
             updated_at = $7
         WHERE key = $8",
    )
    .bind(&c.bundle_id)
    .bind(&c.location)
    .bind(items)
    .bind(media)
    .bind(gaps)
    .bind(bytes)
    .bind(to_millis(now))
    .bind(key)
    .bind(state.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    audit(conn, Audit::completed(now, key, fence_i, c)).await?;
    delete_intent(conn, key, fence_i).await?;
    Ok(Ok(()))
}

async fn fail_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    f: &Failure,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let (state, not_before, event, detail) = failure_outcome(f);
    let update = sqlx::query(
        "UPDATE accounts SET state = $1, not_before = $2, attempts = attempts + 1,
             last_error_kind = $3, last_error = $4, worker = NULL, lease_until = NULL,
             updated_at = $5
         WHERE key = $6",
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
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    until: OffsetDateTime,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    let update = sqlx::query(
        "UPDATE accounts SET state = 'deferred', not_before = $1, defer_reason = $2,
             worker = NULL, lease_until = NULL, updated_at = $3
         WHERE key = $4",
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
    conn: &mut PgConnection,
    platform: Platform,
    until: OffsetDateTime,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    sqlx::query(
        "INSERT INTO quotas (platform, blocked_until, block_reason) VALUES ($1, $2, $3)
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
    conn: &mut PgConnection,
    platform: Platform,
    max_concurrent: Option<u32>,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    sqlx::query(
        "INSERT INTO quotas (platform, max_concurrent) VALUES ($1, $2)
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
    conn: &mut PgConnection,
    platform: Platform,
    b: &Budget,
) -> Result<(), StateError> {
    bind_budget(
        "INSERT INTO quotas (platform, rate_per_sec, burst, tokens, refilled_at, window_ms,
             window_limit, window_offset_ms, window_start, window_used)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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

/// The platform's budget with its `quotas` row locked until the transaction ends, so that
/// concurrent takers draw from it one after the other.
async fn lock_budget(
    conn: &mut PgConnection,
    platform: Platform,
) -> Result<Option<Budget>, StateError> {
    let sql = format!("SELECT {BUDGET_COLUMNS} FROM quotas WHERE platform = $1 FOR UPDATE");
    let row = sqlx::query(&sql)
        .bind(platform.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(budget_row).transpose()
}

async fn set_quota_tx(
    conn: &mut PgConnection,
    platform: Platform,
    quota: &Quota,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    // Make sure there is a row to lock, so two first-time setters also run one after the other.
    sqlx::query("INSERT INTO quotas (platform) VALUES ($1) ON CONFLICT (platform) DO NOTHING")
        .bind(platform.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let old = lock_budget(conn, platform).await?;
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
    conn: &mut PgConnection,
    platform: Platform,
    cost: u32,
    now: OffsetDateTime,
) -> Result<Result<Admission, StateError>, StateError> {
    let Some(mut budget) = lock_budget(conn, platform).await? else {
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
    conn: &mut PgConnection,
    only: Option<Platform>,
    now: OffsetDateTime,
) -> Result<Vec<Platform>, StateError> {
    let drained: Vec<(String, i64)> = sqlx::query_as(
        "DELETE FROM passes p
         WHERE ($1::TEXT IS NULL OR platform = $1) AND NOT EXISTS (SELECT 1 FROM accounts a
             WHERE a.platform = p.platform
                 AND a.state IN ('pending', 'running', 'retry', 'deferred'))
         RETURNING platform, started_at",
    )
    .bind(only.map(Platform::as_str))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut closed = Vec::new();
    for (platform, started_ms) in drained {
        let detail = format!(
            "{platform} pass from {} finished",
            rfc3339(from_millis(started_ms)?)
        );
        audit(conn, Audit::platform(now, EventKind::PassClosed, detail)).await?;
        closed.push(parse_platform(&platform)?);
    }
    closed.sort();
    Ok(closed)
}

async fn close_drained_tx(
    conn: &mut PgConnection,
    now: OffsetDateTime,
) -> Result<Result<Vec<Platform>, StateError>, StateError> {
    Ok(Ok(close_drained(conn, None, now).await?))
}

async fn begin_pass_tx(
    conn: &mut PgConnection,
    wanted: &[Platform],
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<PassStart, StateError>, StateError> {
    let now_ms = to_millis(now);
    let mut out = PassStart::default();
    for &platform in wanted {
        close_drained(conn, Some(platform), now).await?;
        // Concurrent openers: one inserts, the others continue its pass.
        let opened = sqlx::query(
            "INSERT INTO passes (platform, started_at, reason) VALUES ($1, $2, $3)
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
            sqlx::query_scalar("SELECT started_at FROM passes WHERE platform = $1")
                .bind(platform.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
        if opened > 0 {
            let detail = format!("{platform} pass from {}: {reason}", rfc3339(now));
            audit(conn, Audit::platform(now, EventKind::PassOpened, detail)).await?;
        }
        // Recorded accounts (complete, partial, unavailable) with no bundle from this pass yet;
        // audited from the rows updated, so
        // a concurrent opener that found them requeued already audits nothing.
        let requeued = sqlx::query(
            "WITH r AS (
                 UPDATE accounts a SET state = 'pending', updated_at = $1
                 WHERE a.state IN ('complete', 'partial', 'unavailable') AND a.platform = $2
                     AND NOT EXISTS
                     (SELECT 1 FROM bundles b WHERE b.key = a.key AND b.completed_at >= $3)
                 RETURNING a.key, a.fence)
             INSERT INTO audit_events (at, key, worker, event, fence, detail)
             SELECT $1, key, NULL, 'requeued', fence, $4 FROM r ORDER BY key",
        )
        .bind(now_ms)
        .bind(platform.as_str())
        .bind(started_ms)
        .bind(reason)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        out.requeued += requeued;
        out.passes.push(Pass {
            platform,
            started_at: from_millis(started_ms)?,
            resumed: opened == 0,
        });
    }
    Ok(Ok(out))
}

async fn intend_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    intent: &UploadIntent,
    now: OffsetDateTime,
) -> Result<Result<(), StateError>, StateError> {
    if let Err(e) = lock_and_check_fence(conn, key, fence, "upload intent", now).await? {
        return Ok(Err(e));
    }
    sqlx::query(
        "INSERT INTO upload_intents (key, fence, worker, object, bundle_id, completion,
             discarding, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
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

/// The intent of claim `(key, fence)` and whether it is discarding.
async fn intent_of(
    conn: &mut PgConnection,
    key: &str,
    fence: i64,
) -> Result<Option<(UploadIntent, bool)>, StateError> {
    let row = sqlx::query(
        "SELECT worker, object, completion, discarding FROM upload_intents
         WHERE key = $1 AND fence = $2",
    )
    .bind(key)
    .bind(fence)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(intent_row).transpose()
}

async fn bundle_recorded(conn: &mut PgConnection, bundle_id: &str) -> Result<bool, StateError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM bundles WHERE bundle_id = $1")
        .bind(bundle_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(found.is_some())
}

async fn delete_intent(conn: &mut PgConnection, key: &str, fence: i64) -> Result<(), StateError> {
    sqlx::query("DELETE FROM upload_intents WHERE key = $1 AND fence = $2")
        .bind(key)
        .bind(fence)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

async fn close_upload_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: i64,
) -> Result<Result<(), StateError>, StateError> {
    lock_account(conn, key).await?;
    delete_intent(conn, key, fence).await?;
    Ok(Ok(()))
}

async fn adopt_tx(
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    worker: &str,
    now: OffsetDateTime,
) -> Result<Result<Adoption, StateError>, StateError> {
    // The account row first, as every transition: intents of one account change one at a time.
    let (_, from) = lock_account(conn, key).await?;
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
        sqlx::query_scalar("SELECT bundle_id FROM bundles WHERE key = $1 ORDER BY id DESC LIMIT 1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if latest != c.previous_bundle {
        return Ok(Ok(Adoption::Superseded { latest }));
    }
    // A claim of its own, completed at once: whoever holds the account is fenced out.
    let new_fence: i64 = sqlx::query_scalar(
        "UPDATE accounts SET state = 'running', fence = fence + 1, worker = $1, lease_until = $2,
             updated_at = $2
         WHERE key = $3 RETURNING fence",
    )
    .bind(worker)
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
    conn: &mut PgConnection,
    key: &str,
    fence: Fence,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Result<Discard, StateError>, StateError> {
    lock_account(conn, key).await?;
    let fence_i = to_i64(fence.0, "fence")?;
    let Some((intent, discarding)) = intent_of(conn, key, fence_i).await? else {
        return Ok(Ok(Discard::Gone));
    };
    if bundle_recorded(conn, &intent.completion.bundle_id).await? {
        delete_intent(conn, key, fence_i).await?;
        return Ok(Ok(Discard::Recorded));
    }
    if !discarding {
        sqlx::query("UPDATE upload_intents SET discarding = 1 WHERE key = $1 AND fence = $2")
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
impl StateStore for PostgresStateStore {
    async fn upsert_accounts(
        &self,
        accounts: &[AccountSpec],
        now: OffsetDateTime,
    ) -> Result<u64, StateError> {
        // Registries are large: one transaction per chunk keeps each one short.
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
        // Each `Full` round excludes one more platform, so this ends.
        let mut excluded = Vec::new();
        loop {
            let round = write_tx!(self, |conn| claim_tx(
                conn, worker, platforms, &excluded, now, lease
            ))?;
            match round {
                ClaimRound::Claimed(claim) => return Ok(Some(claim)),
                ClaimRound::Nothing => return Ok(None),
                ClaimRound::Full(platform) => excluded.push(platform),
            }
        }
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
            "SELECT blocked_until FROM quotas WHERE platform = $1 AND blocked_until > $2",
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
             WHERE key = $1 ORDER BY id",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(event_row).collect()
    }

    async fn bundles(&self, key: &str) -> Result<Vec<BundleRecord>, StateError> {
        let rows = sqlx::query("SELECT * FROM bundles WHERE key = $1 ORDER BY id")
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(bundle_row).collect()
    }

    async fn last_bundle(&self, key: &str) -> Result<Option<BundleRecord>, StateError> {
        let row = sqlx::query("SELECT * FROM bundles WHERE key = $1 ORDER BY id DESC LIMIT 1")
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
        let wanted: Vec<String> = platforms
            .map_or_else(|| Platform::ALL.to_vec(), <[_]>::to_vec)
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
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
        let wanted: Vec<&str> = platforms
            .map_or_else(|| Platform::ALL.to_vec(), <[_]>::to_vec)
            .iter()
            .map(|p| p.as_str())
            .collect();
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT min(CASE a.state
                 WHEN 'pending' THEN greatest(coalesce(q.blocked_until, 0), $1)
                 WHEN 'running' THEN a.lease_until
                 ELSE greatest(a.not_before, coalesce(q.blocked_until, 0)) END)
             FROM accounts a LEFT JOIN quotas q ON q.platform = a.platform
             WHERE a.state IN ('pending', 'running', 'retry', 'deferred')
                 AND a.platform = ANY($2)",
        )
        .bind(to_millis(now))
        .bind(wanted)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        due.map(from_millis).transpose()
    }

    async fn summary(&self) -> Result<Summary, StateError> {
        // `sum` of BIGINT is NUMERIC in PostgreSQL: cast back.
        let rows: Vec<StateTotals> = sqlx::query_as(
            "SELECT platform, state, count(*), coalesce(sum(items), 0)::BIGINT,
                 coalesce(sum(media), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT
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
        // Byte order, as SQLite sorts: the database's collation may ignore punctuation.
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY key COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(report_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        assert!(check_schema_name("tawthiq").is_ok());
        assert!(check_schema_name("_t2_x").is_ok());
        for bad in ["", "2x", "Tawthiq", "a b", "a\"b", "a-b", &"x".repeat(64)] {
            let err = check_schema_name(bad).unwrap_err().to_string();
            assert!(err.contains("lower-case"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn passwords_redacted() {
        for (url, want) in [
            (
                "postgres://u:pw@db:5432/x",
                "postgres://u:REDACTED@db:5432/x",
            ),
            (
                "postgres://u:pw@db:notaport/x",
                "postgres://u:REDACTED@db:notaport/x",
            ),
            (
                "postgres://u:p@w@db:x/y?a=1",
                "postgres://u:REDACTED@db:x/y?a=1",
            ),
            (
                "postgres://db/x?user=u&password=pw",
                "postgres://db/x?REDACTED",
            ),
            ("postgres://u@db/x", "postgres://u@db/x"),
            ("postgres//u:pw@db", "(an unparseable PostgreSQL URL)"),
        ] {
            assert_eq!(redacted(url), want, "{url}");
        }
    }

    #[test]
    fn busy_codes() {
        assert!(!is_busy(&sqlx::Error::PoolTimedOut));
        assert_eq!(busy_pause(1), StdDuration::from_millis(10));
        assert_eq!(busy_pause(30), StdDuration::from_millis(640));
    }
}
