//! Run state shared by every worker: which accounts are pending, leased, retried, deferred, done
//! or failed; which bundle each produced; per-platform limits; and an append-only audit trail.
//!
//! [`StateStore`] is the one contract; [`sqlite::SqliteStateStore`] is the embedded engine (one
//! `state.db`, no server). A PostgreSQL engine implements the same trait and runs the same
//! conformance suite (`tests/it/state_conformance.rs`).
//!
//! A worker's life with one account:
//!
//! ```no_run
//! # async fn demo(store: &dyn runner::state::StateStore) -> Result<(), runner::state::StateError> {
//! use runner::state::{Completion, StateStore};
//! use time::{Duration, OffsetDateTime};
//!
//! let now = OffsetDateTime::now_utc();
//! if let Some(claim) = store.claim("worker-1", None, now, Duration::minutes(5)).await? {
//!     // ... capture, heartbeating every minute under the claim's fence ...
//!     store.heartbeat(&claim.key, claim.fence, OffsetDateTime::now_utc(), Duration::minutes(5)).await?;
//!     let done = Completion {
//!         outcome: model::Outcome::Complete,
//!         bundle_id: "x-school1-20250101T000000Z".into(),
//!         location: "file:///bundles/x-school1-20250101T000000Z.tawthiq".into(),
//!         items: 10, media: 3, gaps: 0, bytes: 4096,
//!         tag_manifest_sha256: None,
//!         previous_bundle: store.last_bundle(&claim.key).await?.map(|b| b.bundle_id),
//!     };
//!     store.complete(&claim.key, claim.fence, &done, OffsetDateTime::now_utc()).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Every time is passed in by the caller, so lease expiry, backoff and quota blocks are tested
//! without sleeping.

pub mod postgres;
pub mod quota;
mod rows;
pub mod sqlite;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use model::{Outcome, Platform};
use time::{Duration, OffsetDateTime};

pub use postgres::{PostgresOptions, PostgresStateStore};
pub use quota::{Admission, Quota, TokenBucket, WindowQuota};
pub use sqlite::{SqliteOptions, SqliteStateStore};

/// Opens the state store named by `--state`: `sqlite://PATH` or a plain file path (the embedded
/// default), or `postgres://USER@HOST/DB` (the scale-out engine). The schema is created or
/// brought up to date.
pub async fn open(location: &str) -> Result<Arc<dyn StateStore>, StateError> {
    match Location::parse(location)? {
        Location::Sqlite(path) => Ok(Arc::new(
            SqliteStateStore::open(std::path::Path::new(&path), SqliteOptions::default()).await?,
        )),
        Location::Postgres(url) => Ok(Arc::new(
            PostgresStateStore::open(&url, PostgresOptions::default()).await?,
        )),
    }
}

/// Where `--state` points, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file path (from `sqlite://PATH`, `sqlite:PATH` or the path itself).
    Sqlite(String),
    /// A `postgres://` or `postgresql://` URL, as given.
    Postgres(String),
}

impl Location {
    pub fn parse(location: &str) -> Result<Location, StateError> {
        let trimmed = location.trim();
        if trimmed.is_empty() {
            return Err(StateError::Location(
                "empty state location: give sqlite://PATH, a file path, or postgres://...".into(),
            ));
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            return Ok(Location::Postgres(trimmed.to_owned()));
        }
        if let Some(path) = trimmed
            .strip_prefix("sqlite://")
            .or_else(|| trimmed.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StateError::Location(format!(
                    "{trimmed}: no file path after sqlite://"
                )));
            }
            return Ok(Location::Sqlite(path.to_owned()));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(StateError::Location(format!(
                "{scheme}:// is not a state store: give sqlite://PATH, a file path, or postgres://..."
            )));
        }
        Ok(Location::Sqlite(trimmed.to_owned()))
    }
}

/// A state location with any password replaced, for messages (`postgres://u:pw@h/db` →
/// `postgres://u:REDACTED@h/db`), also when the URL does not parse (a bad port) and when the
/// password is a query parameter (`?password=`, which PostgreSQL accepts).
pub fn redact_location(location: &str) -> String {
    let hide_query = |s: &str| match s.split_once('?') {
        Some((before, query)) if query.to_ascii_lowercase().contains("password") => {
            format!("{before}?REDACTED")
        }
        _ => s.to_owned(),
    };
    if let Ok(mut url) = url::Url::parse(location) {
        if url.password().is_some() {
            let _ = url.set_password(Some("REDACTED"));
        }
        return hide_query(url.as_str());
    }
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:REDACTED@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    hide_query(&format!("{scheme}://{authority}{tail}"))
}

/// A fencing token: the value of an account's claim counter when a worker claimed it. Every
/// claim increments it, so a worker whose lease was taken over holds a smaller value and its
/// heartbeats and results are rejected ([`StateError::Fenced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fence(pub u64);

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One registry account as the registry feeds it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// Stable, unique key chosen by the registry (e.g. `x:school_123`); every other call names
    /// the account by it.
    pub key: String,
    pub platform: Platform,
    /// Handle, URL or platform id, as the registry holds it.
    pub account: String,
    /// Route preference as the registry wrote it (e.g. `api`, `export,web`).
    pub route: Option<String>,
    /// Name of the credential (looked up in the environment or a secrets file), never the secret.
    pub credential_ref: Option<String>,
    /// The owner's export files (paths as the registry resolved them), for the export route.
    pub exports: Vec<String>,
}

/// Where an account is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountState {
    /// Never claimed.
    Pending,
    /// Leased by a worker (possibly a crashed one whose lease has expired).
    Running,
    /// Failed, to be retried once its `not_before` time has come.
    Retry,
    /// Put off by a quota, claimable again once its `not_before` time has come.
    Deferred,
    /// A bundle was recorded and it has no gap.
    Complete,
    /// A bundle was recorded with content and gaps (each named in the bundle).
    Partial,
    /// A bundle was recorded holding the account-level answer that the account does not exist,
    /// is suspended, deactivated or private.
    Unavailable,
    /// Failed permanently: nothing trustworthy was captured.
    Failed,
}

impl AccountState {
    pub const ALL: [AccountState; 8] = [
        AccountState::Pending,
        AccountState::Running,
        AccountState::Retry,
        AccountState::Deferred,
        AccountState::Complete,
        AccountState::Partial,
        AccountState::Unavailable,
        AccountState::Failed,
    ];

    /// The states of an account whose capture was recorded with a bundle.
    pub const RECORDED: [AccountState; 3] = [
        AccountState::Complete,
        AccountState::Partial,
        AccountState::Unavailable,
    ];

    /// The state of an account whose capture ended with `outcome`.
    pub fn of_outcome(outcome: Outcome) -> AccountState {
        match outcome {
            Outcome::Complete => AccountState::Complete,
            Outcome::Partial => AccountState::Partial,
            Outcome::Unavailable => AccountState::Unavailable,
            Outcome::Failed => AccountState::Failed,
        }
    }

    /// Whether a bundle was recorded (complete, partial or unavailable).
    pub fn is_recorded(self) -> bool {
        AccountState::RECORDED.contains(&self)
    }

    /// Whether the account is settled: recorded, or failed for good.
    pub fn is_final(self) -> bool {
        self.is_recorded() || self == AccountState::Failed
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Pending => "pending",
            AccountState::Running => "running",
            AccountState::Retry => "retry",
            AccountState::Deferred => "deferred",
            AccountState::Complete => "complete",
            AccountState::Partial => "partial",
            AccountState::Unavailable => "unavailable",
            AccountState::Failed => "failed",
        }
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountState {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, StateError> {
        AccountState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StateError::Corrupt(format!("unknown account state {s:?}")))
    }
}

/// A lease on one account, granted by [`StateStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub key: String,
    pub platform: Platform,
    pub account: String,
    pub route: Option<String>,
    pub credential_ref: Option<String>,
    /// The owner's export files, as the registry last listed them.
    pub exports: Vec<String>,
    /// 1 for the first try, then one more per recorded failure (deferrals and lease takeovers
    /// do not count).
    pub attempt: u32,
    pub fence: Fence,
    pub lease_until: OffsetDateTime,
}

/// What a worker reports when an account's bundle has been published and verified. Also kept,
/// as JSON, in an [`UploadIntent`] until the bundle is recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Completion {
    /// `complete`, `partial` or `unavailable`: the account's new state (`failed` is refused).
    pub outcome: Outcome,
    pub bundle_id: String,
    /// Path or URL of the published bundle.
    pub location: String,
    pub items: u64,
    pub media: u64,
    pub gaps: u64,
    pub bytes: u64,
    pub tag_manifest_sha256: Option<String>,
    /// The account's previous bundle, named in the new one (`Previous-Bundle-...`).
    pub previous_bundle: Option<String>,
}

/// A recorded bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRecord {
    /// `None` for bundles recorded before outcomes were.
    pub outcome: Option<Outcome>,
    pub bundle_id: String,
    pub key: String,
    pub fence: Fence,
    pub location: String,
    pub items: u64,
    pub media: u64,
    pub gaps: u64,
    pub bytes: u64,
    pub tag_manifest_sha256: Option<String>,
    pub previous_bundle: Option<String>,
    pub completed_at: OffsetDateTime,
}

/// A bundle a worker is about to upload ([`StateStore::intend_upload`]): if the worker dies
/// between the upload and the completion, the next run's start finds the object by this and
/// records it ([`StateStore::adopt_upload`]) or removes it ([`StateStore::discard_upload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadIntent {
    pub worker: String,
    /// The object's name in the bundle store.
    pub object: String,
    /// What to record once the object is stored (its location is where the object will be).
    pub completion: Completion,
}

/// An upload intent still in the state, with the account as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    pub key: String,
    /// The claim the upload was made under.
    pub fence: Fence,
    pub intent: UploadIntent,
    /// Someone decided to remove the object: it can no longer be recorded, only removed.
    pub discarding: bool,
    pub created_at: OffsetDateTime,
    pub account_state: AccountState,
    pub account_fence: Fence,
    /// Who holds the account now (running accounts).
    pub holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
}

/// What [`StateStore::adopt_upload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// The intent's completion is recorded: the account is done with that bundle.
    Recorded,
    /// The bundle was already recorded; the intent is closed.
    AlreadyRecorded,
    /// Another bundle was recorded for the account since the upload started: recording this
    /// one would fork the account's chain. Nothing changed; discard the object.
    Superseded { latest: Option<String> },
    /// No such intent, or it is being discarded.
    Gone,
}

/// What [`StateStore::discard_upload`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// The intent is marked discarding: remove the object, then [`StateStore::close_upload`].
    Proceed,
    /// Its bundle is recorded: the object must stay; the intent is closed.
    Recorded,
    /// No such intent.
    Gone,
}

/// A running account's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub worker: Option<String>,
    pub fence: Fence,
    pub lease_until: Option<OffsetDateTime>,
}

/// A platform's `--again` pass, as [`StateStore::begin_pass`] found or opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub platform: Platform,
    pub started_at: OffsetDateTime,
    /// An open pass was continued (an earlier `--again` had not finished it).
    pub resumed: bool,
}

/// What [`StateStore::begin_pass`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassStart {
    pub passes: Vec<Pass>,
    /// Done accounts put back to pending.
    pub requeued: u64,
}

/// What happens to an account after a failed attempt; [`Backoff::disposition`] computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Claimable again from this time.
    RetryAt(OffsetDateTime),
    /// Never retried automatically.
    Permanent,
}

/// A failed attempt, as [`StateStore::fail`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Short machine-readable class (`not_found`, `auth_required`, `transport`, ...).
    pub kind: String,
    pub message: String,
    pub disposition: Disposition,
}

/// Exponential backoff with a cap on attempts: the retry policy lives with the caller, the store
/// only records its decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Upper bound on any delay.
    pub max_delay: Duration,
    /// Attempts (including the first) after which a failure is permanent.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::minutes(1),
            max_delay: Duration::hours(2),
            max_attempts: 5,
        }
    }
}

impl Backoff {
    /// The disposition of failed attempt number `attempt` (1-based, as in [`Claim::attempt`]):
    /// permanent when the error is not retryable or the attempts are used up, else a retry after
    /// `base * 2^(attempt-1)`, capped at `max_delay`.
    pub fn disposition(&self, attempt: u32, retryable: bool, now: OffsetDateTime) -> Disposition {
        if !retryable || attempt >= self.max_attempts {
            return Disposition::Permanent;
        }
        let factor = 1_i32 << attempt.saturating_sub(1).min(20);
        let delay = self
            .base
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        Disposition::RetryAt(now + delay)
    }
}

/// Kinds of audit event. Successful heartbeats are not audited (one per minute per worker
/// would dwarf everything else); rejected ones are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Claimed,
    /// A running account whose lease had expired (a crashed or stalled worker) was claimed
    /// again; recorded before the new `Claimed`.
    LeaseExpiredReclaimed,
    Completed,
    /// A heartbeat or result from a worker that no longer holds the account.
    RejectedStale,
    /// A failure that will be retried.
    RetryScheduled,
    /// A permanent failure.
    Failed,
    Deferred,
    PlatformBlocked,
    PlatformCapSet,
    PlatformQuotaSet,
    /// A recorded account put back to pending for a new capture pass.
    Requeued,
    /// The registry now gives a known account another handle, route, credential or exports
    /// (a failed account goes back to pending).
    RegistryChanged,
    /// A bundle uploaded by a worker that stopped before recording it was recorded.
    UploadRecovered,
    /// A bundle uploaded (or being uploaded) under a claim that will never record it is to be
    /// removed from the store.
    UploadDiscarded,
    /// A platform's `--again` pass was opened.
    PassOpened,
    /// A platform's `--again` pass drained and was closed.
    PassClosed,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::Claimed,
        EventKind::LeaseExpiredReclaimed,
        EventKind::Completed,
        EventKind::RejectedStale,
        EventKind::RetryScheduled,
        EventKind::Failed,
        EventKind::Deferred,
        EventKind::PlatformBlocked,
        EventKind::PlatformCapSet,
        EventKind::PlatformQuotaSet,
        EventKind::Requeued,
        EventKind::RegistryChanged,
        EventKind::UploadRecovered,
        EventKind::UploadDiscarded,
        EventKind::PassOpened,
        EventKind::PassClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Claimed => "claimed",
            EventKind::LeaseExpiredReclaimed => "lease_expired_reclaimed",
            EventKind::Completed => "completed",
            EventKind::RejectedStale => "rejected_stale",
            EventKind::RetryScheduled => "retry_scheduled",
            EventKind::Failed => "failed",
            EventKind::Deferred => "deferred",
            EventKind::PlatformBlocked => "platform_blocked",
            EventKind::PlatformCapSet => "platform_cap_set",
            EventKind::PlatformQuotaSet => "platform_quota_set",
            EventKind::Requeued => "requeued",
            EventKind::RegistryChanged => "registry_changed",
            EventKind::UploadRecovered => "upload_recovered",
            EventKind::UploadDiscarded => "upload_discarded",
            EventKind::PassOpened => "pass_opened",
            EventKind::PassClosed => "pass_closed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, StateError> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| StateError::Corrupt(format!("unknown audit event {s:?}")))
    }
}

/// One row of the append-only audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Increasing in commit order: the trail's order.
    pub id: i64,
    pub at: OffsetDateTime,
    pub key: Option<String>,
    pub worker: Option<String>,
    pub event: EventKind,
    pub fence: Option<Fence>,
    pub detail: Option<String>,
}

/// Accounts per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub pending: u64,
    pub running: u64,
    pub retry: u64,
    pub deferred: u64,
    pub complete: u64,
    pub partial: u64,
    pub unavailable: u64,
    pub failed: u64,
}

impl StateCounts {
    pub fn get(&self, state: AccountState) -> u64 {
        match state {
            AccountState::Pending => self.pending,
            AccountState::Running => self.running,
            AccountState::Retry => self.retry,
            AccountState::Deferred => self.deferred,
            AccountState::Complete => self.complete,
            AccountState::Partial => self.partial,
            AccountState::Unavailable => self.unavailable,
            AccountState::Failed => self.failed,
        }
    }

    pub fn add(&mut self, state: AccountState, n: u64) {
        let slot = match state {
            AccountState::Pending => &mut self.pending,
            AccountState::Running => &mut self.running,
            AccountState::Retry => &mut self.retry,
            AccountState::Deferred => &mut self.deferred,
            AccountState::Complete => &mut self.complete,
            AccountState::Partial => &mut self.partial,
            AccountState::Unavailable => &mut self.unavailable,
            AccountState::Failed => &mut self.failed,
        };
        *slot += n;
    }

    pub fn total(&self) -> u64 {
        AccountState::ALL.into_iter().map(|s| self.get(s)).sum()
    }

    /// Accounts with a recorded bundle (complete, partial or unavailable).
    pub fn recorded(&self) -> u64 {
        self.complete + self.partial + self.unavailable
    }
}

/// Progress figures of one platform (what `tawthiq status` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSummary {
    pub platform: Platform,
    pub counts: StateCounts,
    /// Totals over the latest bundle of each recorded account.
    pub items: u64,
    pub media: u64,
    pub bytes: u64,
    pub blocked_until: Option<OffsetDateTime>,
    pub max_concurrent: Option<u32>,
}

/// Progress figures per platform, in [`Platform`] order; platforms without accounts are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub platforms: Vec<PlatformSummary>,
}

impl Summary {
    pub fn platform(&self, platform: Platform) -> Option<&PlatformSummary> {
        self.platforms.iter().find(|p| p.platform == platform)
    }

    pub fn counts(&self) -> StateCounts {
        let mut all = StateCounts::default();
        for p in &self.platforms {
            for state in AccountState::ALL {
                all.add(state, p.counts.get(state));
            }
        }
        all
    }
}

/// One line of the per-account report (`tawthiq report`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReport {
    pub key: String,
    pub platform: Platform,
    pub account: String,
    pub state: AccountState,
    /// The latest bundle, if any (an account keeps it while a later run is retried).
    pub bundle_id: Option<String>,
    pub location: Option<String>,
    pub items: u64,
    pub media: u64,
    pub gaps: u64,
    pub bytes: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// `kind: message` of the latest failure, cleared by a completion.
    pub last_error: Option<String>,
    /// When a `retry` or `deferred` account becomes claimable.
    pub not_before: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// State-store errors.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The account is not in the store: feed the registry with `upsert_accounts` first.
    /// Not retryable.
    #[error("account {key:?} is not in the state store")]
    UnknownAccount { key: String },
    /// The caller's lease was taken over (or the account is no longer running): its heartbeat
    /// or result is rejected and audited. Not retryable: the worker must drop the account.
    #[error("account {key:?}: stale fence {presented} (the account is now at fence {current})")]
    Fenced {
        key: String,
        presented: Fence,
        current: Fence,
    },
    /// The database stayed locked by other writers past the busy timeout and our own retries.
    /// Retryable.
    #[error("state store busy: {0}")]
    Busy(#[source] sqlx::Error),
    /// The store could not be opened (bad path or URL, unreachable server, permissions).
    /// Not retryable without fixing the location.
    #[error("cannot open state store {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    /// A schema migration failed. Not retryable.
    #[error("state store migration {version} ({description}) failed: {source}")]
    Migration {
        version: i64,
        description: String,
        #[source]
        source: sqlx::Error,
    },
    /// The database holds a value this version does not understand (an unknown state or
    /// platform, a negative count, or a schema newer than this binary). Not retryable.
    #[error("state store holds unexpected data: {0}")]
    Corrupt(String),
    /// `--state` names no store this binary can open. Not retryable.
    #[error("{0}")]
    Location(String),
    /// Any other database error. Retryable only when it is an I/O or pool-timeout error.
    #[error("state store: {0}")]
    Database(#[source] sqlx::Error),
}

impl StateError {
    /// Whether the same call may succeed if repeated later.
    pub fn is_retryable(&self) -> bool {
        match self {
            StateError::Busy(_) => true,
            StateError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed
            ),
            StateError::UnknownAccount { .. }
            | StateError::Fenced { .. }
            | StateError::Open { .. }
            | StateError::Location(_)
            | StateError::Migration { .. }
            | StateError::Corrupt(_) => false,
        }
    }
}

/// The run state shared by all workers of a batch.
///
/// Contracts every engine honours (and the conformance suite checks):
///
/// - `upsert_accounts` is idempotent: a known key keeps its state, fence, attempts and bundles,
///   and takes the registry's current handle, route, credential and exports (a change is
///   audited as `registry_changed`; the next claim carries it). A `failed` account whose
///   registry line changed goes back to `pending` with no attempts: fixing the line and running
///   again retries it.
/// - `claim` never hands out an account another worker holds under an unexpired lease. It picks
///   an expired lease first, then a due `retry`/`deferred` account, then a `pending` one; skips
///   platforms that are blocked or at their concurrency cap; and increments the account's fence.
/// - `heartbeat`, `complete`, `fail` and `defer` succeed only with the account's current fence
///   while it is `running`; otherwise they fail with [`StateError::Fenced`] and the rejection is
///   audited. A lease that expired but was not yet taken over is still honoured.
/// - `complete` is idempotent for the same fence and bundle id (a worker that lost the answer
///   may repeat it), and closes the claim's upload intent in the same transaction.
/// - An upload intent is resolved exactly once: recorded (`adopt_upload`, only while the
///   account's latest bundle is still the one it names as previous) or discarded
///   (`discard_upload`, never once its bundle is recorded); a discarding intent cannot be
///   recorded any more.
/// - Every transition appends to the audit trail in the same transaction.
/// - Busy databases are retried inside the engine; an error that escapes is final for that call.
#[async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Adds accounts not yet known; known keys are left untouched. Returns how many were added.
    async fn upsert_accounts(
        &self,
        accounts: &[AccountSpec],
        now: OffsetDateTime,
    ) -> Result<u64, StateError>;

    /// Leases one claimable account to `worker` until `now + lease`, restricted to `platforms`
    /// when given. `None` when nothing is claimable now.
    async fn claim(
        &self,
        worker: &str,
        platforms: Option<&[Platform]>,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<Claim>, StateError>;

    /// Extends the lease to `now + lease`; returns the new expiry.
    async fn heartbeat(
        &self,
        key: &str,
        fence: Fence,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<OffsetDateTime, StateError>;

    /// Records the account's bundle and puts the account in the state of its outcome
    /// (`complete`, `partial` or `unavailable`).
    async fn complete(
        &self,
        key: &str,
        fence: Fence,
        completion: &Completion,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Records a failed attempt: `retry` until its time, or `failed` for good.
    async fn fail(
        &self,
        key: &str,
        fence: Fence,
        failure: &Failure,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Puts the account off until `until` (a quota wait) without counting a failure.
    async fn defer(
        &self,
        key: &str,
        fence: Fence,
        until: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Blocks claims of `platform` until `until` (a 429 with a reset, a usage header). A block
    /// is only ever extended: an earlier `until` than the current one changes nothing.
    async fn block_platform(
        &self,
        platform: Platform,
        until: OffsetDateTime,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// The end of the platform's block, if it is blocked at `now`.
    async fn platform_blocked_until(
        &self,
        platform: Platform,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StateError>;

    /// Caps the platform's concurrently running accounts (`None`: no cap).
    async fn set_platform_cap(
        &self,
        platform: Platform,
        max_concurrent: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Sets the platform's shared request budget (`Quota::default()` removes it). A changed
    /// quota starts with a full bucket; usage of the current window is kept.
    async fn set_platform_quota(
        &self,
        platform: Platform,
        quota: &Quota,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Takes `cost` units of the platform's shared budget for one request: granted, or nothing
    /// taken and the time to try again (a block from [`StateStore::block_platform`], an empty
    /// bucket, a spent window). A platform without a quota is always granted unless blocked.
    async fn take_quota(
        &self,
        platform: Platform,
        cost: u32,
        now: OffsetDateTime,
    ) -> Result<Admission, StateError>;

    /// The account's audit trail, oldest first.
    async fn events(&self, key: &str) -> Result<Vec<AuditEvent>, StateError>;

    /// Every bundle recorded for the account, oldest first.
    async fn bundles(&self, key: &str) -> Result<Vec<BundleRecord>, StateError>;

    /// The account's latest bundle: the one its next bundle names as previous.
    async fn last_bundle(&self, key: &str) -> Result<Option<BundleRecord>, StateError> {
        Ok(self.bundles(key).await?.pop())
    }

    /// Puts every account of `platforms` (all when `None`) that is in state `from` (a
    /// recorded state or `Failed`; any other state puts nothing back) to `pending`, a failed
    /// one with its attempts cleared. Audited per account with `reason`. Returns how many were
    /// put back.
    async fn requeue(
        &self,
        from: AccountState,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StateError>;

    /// Recorded accounts (complete, partial, unavailable) back to `pending` for a new capture
    /// pass (`tawthiq run --again`); each next bundle names the account's previous one.
    async fn requeue_done(
        &self,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StateError> {
        let mut n = 0;
        for from in AccountState::RECORDED {
            n += self.requeue(from, platforms, reason, now).await?;
        }
        Ok(n)
    }

    /// `failed` accounts back to `pending` with no attempts, for a run that tries them again
    /// (`tawthiq run --retry-failed`).
    async fn requeue_failed(
        &self,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StateError> {
        self.requeue(AccountState::Failed, platforms, reason, now)
            .await
    }

    /// Opens a capture pass (`tawthiq run --again`) for each platform of `platforms` (all when
    /// `None`), or continues the platform's open one, and puts back to `pending` every `done`
    /// account of it whose latest bundle was recorded before the pass started. A continued
    /// pass therefore requeues nothing done during it. A pass with no account left pending,
    /// running, retried or deferred is closed first, so a finished pass is never continued.
    async fn begin_pass(
        &self,
        platforms: Option<&[Platform]>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<PassStart, StateError>;

    /// Closes the passes of platforms with no account left pending, running, retried or
    /// deferred; returns their platforms.
    async fn close_drained_passes(&self, now: OffsetDateTime) -> Result<Vec<Platform>, StateError>;

    /// Records, under the running claim `fence`, what is about to be uploaded. Fenced like
    /// [`StateStore::complete`]; a repeated intent for the same claim replaces the first.
    async fn intend_upload(
        &self,
        key: &str,
        fence: Fence,
        intent: &UploadIntent,
        now: OffsetDateTime,
    ) -> Result<(), StateError>;

    /// Every intent still in the state (its bundle not recorded, nor its object removed),
    /// oldest first.
    async fn open_uploads(&self) -> Result<Vec<OpenUpload>, StateError>;

    /// Records the intent's completion as the account's bundle, as a claim of its own (the
    /// account's fence moves on, so a worker still holding it is fenced out), provided the
    /// account's latest bundle is still the one the intent names as previous. The caller has
    /// checked that the object is stored and verifies. Audited as `upload_recovered` then
    /// `completed`.
    async fn adopt_upload(
        &self,
        key: &str,
        fence: Fence,
        worker: &str,
        now: OffsetDateTime,
    ) -> Result<Adoption, StateError>;

    /// Marks the intent as discarding (audited with `reason`), unless its bundle is recorded.
    /// From then on it can only be removed: remove the object, then call
    /// [`StateStore::close_upload`].
    async fn discard_upload(
        &self,
        key: &str,
        fence: Fence,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Discard, StateError>;

    /// Removes the intent (after its object was removed, or when the upload left nothing).
    async fn close_upload(&self, key: &str, fence: Fence) -> Result<(), StateError>;

    /// The leases of every running account.
    async fn leases(&self) -> Result<Vec<Lease>, StateError>;

    /// When the next account of `platforms` (all when `None`) may be claimable: `now` or
    /// earlier for a pending account of an unblocked platform, else the earliest of a retry's
    /// or deferral's time, a running account's lease end, and a blocked platform's block end.
    /// `None` when every account is done or failed: nothing is left to wait for.
    async fn next_due(
        &self,
        platforms: Option<&[Platform]>,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StateError>;

    /// Counts per platform and state, with captured totals.
    async fn summary(&self) -> Result<Summary, StateError>;

    /// One row per account, ordered by key.
    async fn report(&self) -> Result<Vec<AccountReport>, StateError>;
}

/// Milliseconds since the epoch, the storage form of times in both dialects.
pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> Result<OffsetDateTime, StateError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StateError::Corrupt(format!("time {ms} ms: {e}")))
}

/// A schema migration of one dialect: version, description, SQL.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// The migrations of `all` still to apply, in order, to a schema at version `current` (`None`:
/// none applied yet); a schema newer than this binary is refused.
pub(crate) fn pending_migrations(
    all: &'static [Migration],
    current: Option<i64>,
) -> Result<impl Iterator<Item = &'static Migration>, StateError> {
    let current = current.unwrap_or(0);
    let latest = all.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StateError::Corrupt(format!(
            "schema version {current} is newer than this tawthiq understands ({latest})"
        )));
    }
    Ok(all.iter().filter(move |m| m.0 > current))
}

/// Pause before busy retry `n` of either engine: 10 ms doubling to 640 ms.
pub(crate) fn busy_pause(n: u32) -> std::time::Duration {
    std::time::Duration::from_millis(10 << n.min(7).saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn backoff_doubles_caps_and_gives_up() {
        let now = datetime!(2025-01-01 00:00 UTC);
        let b = Backoff {
            base: Duration::minutes(1),
            max_delay: Duration::minutes(5),
            max_attempts: 5,
        };
        assert_eq!(
            b.disposition(1, true, now),
            Disposition::RetryAt(now + Duration::minutes(1))
        );
        assert_eq!(
            b.disposition(3, true, now),
            Disposition::RetryAt(now + Duration::minutes(4))
        );
        assert_eq!(
            b.disposition(4, true, now),
            Disposition::RetryAt(now + Duration::minutes(5))
        );
        assert_eq!(b.disposition(5, true, now), Disposition::Permanent);
        assert_eq!(b.disposition(1, false, now), Disposition::Permanent);
    }

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("sqlite://run/state.db").unwrap(),
            Location::Sqlite("run/state.db".into())
        );
        assert_eq!(
            Location::parse("state.db").unwrap(),
            Location::Sqlite("state.db".into())
        );
        assert!(matches!(
            Location::parse("postgresql://u@db/tawthiq").unwrap(),
            Location::Postgres(_)
        ));
        let err = Location::parse("mysql://db/x").unwrap_err().to_string();
        assert!(err.contains("mysql:// is not a state store"), "{err}");
        assert_eq!(
            redact_location("postgres://u:hunter2@db/x"),
            "postgres://u:REDACTED@db/x"
        );
    }

    #[test]
    fn millis_round_trip() {
        let t = datetime!(2025-03-04 05:06:07.123 UTC);
        assert_eq!(from_millis(to_millis(t)).unwrap(), t);
    }

    #[test]
    fn names_round_trip() {
        for s in AccountState::ALL {
            assert_eq!(s.as_str().parse::<AccountState>().unwrap(), s);
        }
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
        }
    }
}
