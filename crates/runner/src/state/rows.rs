//! The dialect-independent half of reading and writing the state tables, shared by both engines.
//!
//! Both dialects store the same columns as the same three types (text, 64-bit integers,
//! doubles; times as Unix milliseconds), so turning a row into a record, a record into column
//! values, and the decisions taken between two statements (which platforms a claim may take
//! from, whether a fence holds, what an audit row says) are written once, here. Each engine
//! keeps its own SQL (placeholders, locking and upserts differ) and its own mapping of
//! statement errors ([`StateError::Busy`] codes differ).

use std::fmt::Write as _;

use model::{Outcome, Platform};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type};
use time::{Duration, OffsetDateTime};

use super::quota::{Budget, Quota, TokenBucket, WindowQuota};
use super::{
    AccountReport, AccountSpec, AccountState, AuditEvent, BundleRecord, Claim, Completion,
    Disposition, EventKind, Failure, Fence, Lease, OpenUpload, PlatformSummary, StateCounts,
    StateError, Summary, UploadIntent, from_millis, to_millis,
};

/// An audit row as both engines write it.
pub(crate) struct Audit<'a> {
    pub at: OffsetDateTime,
    pub key: Option<&'a str>,
    pub worker: Option<&'a str>,
    pub event: EventKind,
    pub fence: Option<i64>,
    pub detail: Option<String>,
}

impl<'a> Audit<'a> {
    /// An event of one account under `fence`, with no worker named.
    pub fn account(
        at: OffsetDateTime,
        key: &'a str,
        event: EventKind,
        fence: i64,
        detail: String,
    ) -> Audit<'a> {
        Audit {
            at,
            key: Some(key),
            worker: None,
            event,
            fence: Some(fence),
            detail: Some(detail),
        }
    }

    /// An event of a whole platform (a block, a cap, a quota).
    pub fn platform(at: OffsetDateTime, event: EventKind, detail: String) -> Audit<'static> {
        Audit {
            at,
            key: None,
            worker: None,
            event,
            fence: None,
            detail: Some(detail),
        }
    }

    /// A known account fed again with other registry values.
    pub fn registry_changed(a: &'a AccountSpec, at: OffsetDateTime) -> Audit<'a> {
        let detail = format!(
            "account {}, route {}, credential {}, {} export file(s)",
            a.account,
            a.route.as_deref().unwrap_or("-"),
            a.credential_ref.as_deref().unwrap_or("-"),
            a.exports.len()
        );
        Audit {
            at,
            key: Some(&a.key),
            worker: None,
            event: EventKind::RegistryChanged,
            fence: None,
            detail: Some(detail),
        }
    }

    /// `worker` claimed the account (now at `fence`) from state `from`.
    pub fn claimed(
        at: OffsetDateTime,
        key: &'a str,
        worker: &'a str,
        fence: i64,
        from: &str,
    ) -> Audit<'a> {
        Audit {
            worker: Some(worker),
            ..Audit::account(at, key, EventKind::Claimed, fence, format!("from {from}"))
        }
    }

    /// `old_worker`'s lease (under `old_fence`, ending at `old_lease_ms`) expired and `worker`
    /// reclaims the account; recorded before the new claim.
    pub fn lease_reclaimed(
        at: OffsetDateTime,
        key: &'a str,
        old_worker: Option<&'a str>,
        old_fence: i64,
        old_lease_ms: i64,
        worker: &str,
    ) -> Result<Audit<'a>, StateError> {
        let detail = format!(
            "lease expired at {}, reclaimed by {worker}",
            rfc3339(from_millis(old_lease_ms)?)
        );
        Ok(Audit {
            worker: old_worker,
            ..Audit::account(at, key, EventKind::LeaseExpiredReclaimed, old_fence, detail)
        })
    }

    /// The account's bundle `c` was recorded under `fence`.
    pub fn completed(at: OffsetDateTime, key: &'a str, fence: i64, c: &Completion) -> Audit<'a> {
        let mut detail = format!(
            "{} bundle {} at {}: {} items, {} media, {} gaps, {} bytes",
            c.outcome, c.bundle_id, c.location, c.items, c.media, c.gaps, c.bytes
        );
        if let Some(previous) = &c.previous_bundle {
            let _ = write!(detail, "; previous {previous}");
        }
        Audit::account(at, key, EventKind::Completed, fence, detail)
    }

    /// The bundle of a dead claim's upload (`old_fence`, by `old_worker`) is recorded as a
    /// claim of its own at `fence`; `from` is the account's state before.
    pub fn upload_recovered(
        at: OffsetDateTime,
        key: &'a str,
        intent: &'a UploadIntent,
        old_fence: i64,
        fence: i64,
        from: &str,
    ) -> Audit<'a> {
        let detail = format!(
            "bundle {} ({}) uploaded under fence {old_fence} by {} and never recorded; recorded from {from}",
            intent.completion.bundle_id, intent.object, intent.worker
        );
        Audit {
            worker: Some(&intent.worker),
            ..Audit::account(at, key, EventKind::UploadRecovered, fence, detail)
        }
    }

    /// The object of the upload under `fence` is to be removed, because of `reason`.
    pub fn upload_discarded(
        at: OffsetDateTime,
        key: &'a str,
        fence: i64,
        object: &str,
        reason: &str,
    ) -> Audit<'a> {
        let detail = format!("{object}: {reason}");
        Audit::account(at, key, EventKind::UploadDiscarded, fence, detail)
    }
}

/// An upload intent's completion as stored.
pub(crate) fn completion_to_column(c: &Completion) -> Result<String, StateError> {
    serde_json::to_string(c).map_err(|e| StateError::Corrupt(format!("completion: {e}")))
}

/// An `upload_intents` row joined with its account's `state`, `account_fence`, `holder` and
/// `lease_until`.
pub(crate) fn open_upload_row(row: &impl StateRow) -> Result<OpenUpload, StateError> {
    let (intent, discarding) = intent_row(row)?;
    Ok(OpenUpload {
        key: row.text("key")?,
        fence: Fence(row.count("fence")?),
        intent,
        discarding,
        created_at: row.time("created_at")?,
        account_state: row.text("state")?.parse()?,
        account_fence: Fence(row.count("account_fence")?),
        holder: row.opt_text("holder")?,
        lease_until: row.opt_time("lease_until")?,
    })
}

/// An `upload_intents` row's `worker, object, completion, discarding`.
pub(crate) fn intent_row(row: &impl StateRow) -> Result<(UploadIntent, bool), StateError> {
    let json = row.text("completion")?;
    let completion: Completion = serde_json::from_str(&json)
        .map_err(|e| StateError::Corrupt(format!("upload intent completion {json:?}: {e}")))?;
    let intent = UploadIntent {
        worker: row.text("worker")?,
        object: row.text("object")?,
        completion,
    };
    Ok((intent, row.int("discarding")? != 0))
}

/// The query of [`open_upload_row`]'s columns, oldest intent first.
pub(crate) const OPEN_UPLOADS: &str = "SELECT u.key, u.fence, u.worker, u.object, u.completion,
        u.discarding, u.created_at, a.state, a.fence AS account_fence, a.worker AS holder,
        a.lease_until
    FROM upload_intents u JOIN accounts a ON a.key = u.key
    ORDER BY u.created_at, u.key, u.fence";

/// A running account's `key, worker, fence, lease_until`.
pub(crate) fn lease_row(row: &impl StateRow) -> Result<Lease, StateError> {
    Ok(Lease {
        key: row.text("key")?,
        worker: row.opt_text("worker")?,
        fence: Fence(row.count("fence")?),
        lease_until: row.opt_time("lease_until")?,
    })
}

/// Running accounts, as [`lease_row`] reads them.
pub(crate) const LEASES: &str =
    "SELECT key, worker, fence, lease_until FROM accounts WHERE state = 'running' ORDER BY key";

/// Checks a fence presented for `action` against the account's current `(fence, state)`:
/// `None` when it still holds the running account, else the rejection to audit (in the same
/// transaction, which commits) and the [`StateError::Fenced`] to return then.
pub(crate) fn stale_fence<'a>(
    key: &'a str,
    fence: Fence,
    current: &(i64, String),
    action: &str,
    now: OffsetDateTime,
) -> Result<Option<(Audit<'a>, StateError)>, StateError> {
    let (current_fence, state) = current;
    let presented = to_i64(fence.0, "fence")?;
    if *current_fence == presented && state == AccountState::Running.as_str() {
        return Ok(None);
    }
    tracing::warn!(key, %fence, current_fence, action, "stale worker rejected");
    let rejection = Audit::account(
        now,
        key,
        EventKind::RejectedStale,
        presented,
        format!("{action} rejected: account is {state} at fence {current_fence}"),
    );
    let error = StateError::Fenced {
        key: key.to_owned(),
        presented: fence,
        current: Fence(to_u64(*current_fence, "fence")?),
    };
    Ok(Some((rejection, error)))
}

/// What a failed attempt does to the account: its next state, when it may be claimed again
/// (Unix ms), and its audit event and detail.
pub(crate) fn failure_outcome(f: &Failure) -> (AccountState, Option<i64>, EventKind, String) {
    match f.disposition {
        Disposition::RetryAt(at) => (
            AccountState::Retry,
            Some(to_millis(at)),
            EventKind::RetryScheduled,
            format!("{}: {}; retry at {}", f.kind, f.message, rfc3339(at)),
        ),
        Disposition::Permanent => (
            AccountState::Failed,
            None,
            EventKind::Failed,
            format!("{}: {}; permanent", f.kind, f.message),
        ),
    }
}

/// Export paths as stored: a JSON array, `NULL` when there are none.
pub(crate) fn exports_to_column(exports: &[String]) -> Option<String> {
    (!exports.is_empty()).then(|| serde_json::to_string(exports).unwrap_or_default())
}

pub(crate) fn exports_from_column(stored: Option<String>) -> Result<Vec<String>, StateError> {
    stored.map_or_else(
        || Ok(Vec::new()),
        |json| {
            serde_json::from_str(&json)
                .map_err(|e| StateError::Corrupt(format!("exports column {json:?}: {e}")))
        },
    )
}

pub(crate) fn to_i64(n: u64, what: &str) -> Result<i64, StateError> {
    i64::try_from(n).map_err(|_| StateError::Corrupt(format!("{what} {n} is out of range")))
}

pub(crate) fn to_u64(n: i64, what: &str) -> Result<u64, StateError> {
    u64::try_from(n).map_err(|_| StateError::Corrupt(format!("{what} {n} is negative")))
}

/// The end of a lease of `lease` taken at `now`, in Unix ms.
pub(crate) fn lease_end(now: OffsetDateTime, lease: Duration) -> i64 {
    to_millis(now).saturating_add(i64::try_from(lease.whole_milliseconds()).unwrap_or(i64::MAX))
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

pub(crate) fn parse_platform(s: &str) -> Result<Platform, StateError> {
    s.parse()
        .map_err(|e| StateError::Corrupt(format!("account platform: {e}")))
}

/// Typed reads of a row of either engine (`SqliteRow`, `PgRow`). The state tables hold only
/// text, 64-bit integers and doubles, so these cover every column. A decoding error (a missing
/// column, an unexpected NULL or type) is never a busy database: it is a plain
/// [`StateError::Database`] in both engines.
pub(crate) trait StateRow {
    fn text(&self, col: &str) -> Result<String, StateError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StateError>;
    fn int(&self, col: &str) -> Result<i64, StateError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StateError>;
    fn real(&self, col: &str) -> Result<f64, StateError>;
    fn opt_real(&self, col: &str) -> Result<Option<f64>, StateError>;

    /// A count or size, refused when negative.
    fn count(&self, col: &str) -> Result<u64, StateError> {
        to_u64(self.int(col)?, col)
    }

    fn time(&self, col: &str) -> Result<OffsetDateTime, StateError> {
        from_millis(self.int(col)?)
    }

    fn opt_time(&self, col: &str) -> Result<Option<OffsetDateTime>, StateError> {
        self.opt_int(col)?.map(from_millis).transpose()
    }

    fn platform(&self) -> Result<Platform, StateError> {
        parse_platform(&self.text("platform")?)
    }
}

impl<R> StateRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }

    fn opt_text(&self, col: &str) -> Result<Option<String>, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }

    fn int(&self, col: &str) -> Result<i64, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }

    fn real(&self, col: &str) -> Result<f64, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }

    fn opt_real(&self, col: &str) -> Result<Option<f64>, StateError> {
        self.try_get(col).map_err(StateError::Database)
    }
}

/// The state a completion puts its account in; a completion never records a failure.
pub(crate) fn recorded_state(c: &Completion) -> Result<AccountState, StateError> {
    let state = AccountState::of_outcome(c.outcome);
    if state.is_recorded() {
        Ok(state)
    } else {
        Err(StateError::Corrupt(format!(
            "bundle {} cannot be recorded with the outcome {}",
            c.bundle_id, c.outcome
        )))
    }
}

/// A `bundles` row.
pub(crate) fn bundle_row(row: &impl StateRow) -> Result<BundleRecord, StateError> {
    let outcome = row
        .opt_text("outcome")?
        .map(|o| o.parse::<Outcome>().map_err(StateError::Corrupt))
        .transpose()?;
    Ok(BundleRecord {
        outcome,
        bundle_id: row.text("bundle_id")?,
        key: row.text("key")?,
        fence: Fence(row.count("fence")?),
        location: row.text("location")?,
        items: row.count("items")?,
        media: row.count("media")?,
        gaps: row.count("gaps")?,
        bytes: row.count("bytes")?,
        tag_manifest_sha256: row.opt_text("tag_manifest_sha256")?,
        previous_bundle: row.opt_text("previous_bundle")?,
        completed_at: row.time("completed_at")?,
    })
}

/// An `accounts` row.
pub(crate) fn report_row(row: &impl StateRow) -> Result<AccountReport, StateError> {
    let kind = row.opt_text("last_error_kind")?;
    let message = row.opt_text("last_error")?;
    let last_error = match (kind, message) {
        (Some(k), Some(m)) => Some(format!("{k}: {m}")),
        (k, m) => k.or(m),
    };
    let state = row.text("state")?;
    Ok(AccountReport {
        key: row.text("key")?,
        platform: row.platform()?,
        account: row.text("account")?,
        state: state.parse()?,
        bundle_id: row.opt_text("bundle_id")?,
        location: row.opt_text("location")?,
        items: row.count("items")?,
        media: row.count("media")?,
        gaps: row.count("gaps")?,
        bytes: row.count("bytes")?,
        attempts: u32::try_from(row.count("attempts")?).unwrap_or(u32::MAX),
        last_error,
        not_before: row.opt_time("not_before")?,
        updated_at: row.time("updated_at")?,
    })
}

/// An `audit_events` row.
pub(crate) fn event_row(row: &impl StateRow) -> Result<AuditEvent, StateError> {
    let event = row.text("event")?;
    Ok(AuditEvent {
        id: row.int("id")?,
        at: row.time("at")?,
        key: row.opt_text("key")?,
        worker: row.opt_text("worker")?,
        event: event.parse()?,
        fence: row
            .opt_int("fence")?
            .map(|f| to_u64(f, "fence").map(Fence))
            .transpose()?,
        detail: row.opt_text("detail")?,
    })
}

/// The claim of account `key`, leased until `lease_until_ms`, from the claiming update's
/// `RETURNING fence, attempts, platform, account, route, credential_ref, exports`.
pub(crate) fn claim_row(
    row: &impl StateRow,
    key: String,
    lease_until_ms: i64,
) -> Result<Claim, StateError> {
    let attempts = row.count("attempts")?;
    Ok(Claim {
        platform: row.platform()?,
        account: row.text("account")?,
        route: row.opt_text("route")?,
        credential_ref: row.opt_text("credential_ref")?,
        exports: exports_from_column(row.opt_text("exports")?)?,
        attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
        fence: Fence(row.count("fence")?),
        lease_until: from_millis(lease_until_ms)?,
        key,
    })
}

/// The `quotas` columns [`budget_row`] reads.
pub(crate) const BUDGET_COLUMNS: &str = "rate_per_sec, burst, tokens, refilled_at, window_ms,
    window_limit, window_offset_ms, window_start, window_used, blocked_until, block_reason";

/// A `quotas` row, read through [`BUDGET_COLUMNS`].
pub(crate) fn budget_row(row: &impl StateRow) -> Result<Budget, StateError> {
    let rate = row.opt_real("rate_per_sec")?;
    let burst = row.opt_int("burst")?;
    let window_ms = row.opt_int("window_ms")?;
    let window_limit = row.opt_int("window_limit")?;
    let bucket = match (rate, burst) {
        (Some(per_second), Some(burst)) => Some(TokenBucket {
            per_second,
            burst: u32::try_from(burst).unwrap_or(u32::MAX),
        }),
        _ => None,
    };
    let window = match (window_ms, window_limit) {
        (Some(ms), Some(limit)) => Some(WindowQuota {
            length: Duration::milliseconds(ms),
            limit: to_u64(limit, "window_limit")?,
            offset: Duration::milliseconds(row.int("window_offset_ms")?),
        }),
        _ => None,
    };
    Ok(Budget {
        quota: Quota { bucket, window },
        tokens: row.real("tokens")?,
        refilled_at_ms: row.int("refilled_at")?,
        window_start_ms: row.int("window_start")?,
        window_used: to_u64(row.int("window_used")?, "window_used")?,
        blocked_until_ms: row.opt_int("blocked_until")?,
        block_reason: row.opt_text("block_reason")?,
    })
}

/// The budget upsert `sql` of the engine's dialect with the budget bound. `sql` lists its ten
/// parameters in this order: `platform, rate_per_sec, burst, tokens, refilled_at, window_ms,
/// window_limit, window_offset_ms, window_start, window_used` (`blocked_until` and
/// `block_reason` belong to `block_platform`).
pub(crate) fn bind_budget<'q, DB>(
    sql: &'q str,
    platform: Platform,
    b: &Budget,
) -> Result<Query<'q, DB, DB::Arguments<'q>>, StateError>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    f64: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB>,
    Option<i64>: Encode<'q, DB>,
{
    let window = b.quota.window;
    let platform: &'q str = platform.as_str();
    Ok(sqlx::query(sql)
        .bind(platform)
        .bind(b.quota.bucket.map(|q| q.per_second))
        .bind(b.quota.bucket.map(|q| i64::from(q.burst.max(1))))
        .bind(b.tokens)
        .bind(b.refilled_at_ms)
        .bind(window.map(|w| i64::try_from(w.length.whole_milliseconds()).unwrap_or(i64::MAX)))
        .bind(window.map(|w| i64::try_from(w.limit).unwrap_or(i64::MAX)))
        .bind(window.map_or(0, |w| {
            i64::try_from(w.offset.whole_milliseconds()).unwrap_or(0)
        }))
        .bind(b.window_start_ms)
        .bind(to_i64(b.window_used, "window_used")?))
}

/// `(platform, live leases)` per platform with running accounts.
pub(crate) type LiveLeases = (String, i64);

/// `(platform, max_concurrent, blocked_until)`: a `quotas` row's limits.
pub(crate) type PlatformLimits = (String, Option<i64>, Option<i64>);

/// `(platform, state, accounts, items, media, bytes)`: the accounts of one platform and state.
pub(crate) type StateTotals = (String, String, i64, i64, i64, i64);

/// A platform a claim may take from, as seen before any platform lock.
pub(crate) struct Candidate {
    pub platform: Platform,
    /// Whether it has a concurrency cap.
    pub capped: bool,
}

/// Platforms a claim may take from at `now_ms`, least loaded first: those of `wanted` (all
/// when `None`) not `excluded`, neither blocked nor at their cap.
pub(crate) fn claimable(
    running: &[LiveLeases],
    limits: &[PlatformLimits],
    wanted: Option<&[Platform]>,
    excluded: &[Platform],
    now_ms: i64,
) -> Vec<Candidate> {
    let mut out: Vec<(i64, Candidate)> = Vec::new();
    for platform in Platform::ALL {
        if wanted.is_some_and(|w| !w.contains(&platform)) || excluded.contains(&platform) {
            continue;
        }
        let live = running
            .iter()
            .find(|(p, _)| p == platform.as_str())
            .map_or(0, |r| r.1);
        let (cap, blocked) = limits
            .iter()
            .find(|(p, _, _)| p == platform.as_str())
            .map_or((None, None), |l| (l.1, l.2));
        if blocked.is_some_and(|until| until > now_ms) || cap.is_some_and(|cap| live >= cap) {
            continue;
        }
        out.push((
            live,
            Candidate {
                platform,
                capped: cap.is_some(),
            },
        ));
    }
    out.sort_by_key(|(live, c)| (*live, c.platform));
    out.into_iter().map(|(_, c)| c).collect()
}

/// The summary from the per-platform-and-state totals and the platforms' limits.
pub(crate) fn summarize(
    rows: &[StateTotals],
    limits: &[PlatformLimits],
) -> Result<Summary, StateError> {
    let mut summary = Summary::default();
    for platform in Platform::ALL {
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == platform.as_str()).collect();
        if mine.is_empty() {
            continue;
        }
        let mut p = PlatformSummary {
            platform,
            counts: StateCounts::default(),
            items: 0,
            media: 0,
            bytes: 0,
            blocked_until: None,
            max_concurrent: None,
        };
        for (_, state, count, items, media, bytes) in mine {
            p.counts
                .add(state.parse()?, to_u64(*count, "account count")?);
            p.items += to_u64(*items, "items")?;
            p.media += to_u64(*media, "media")?;
            p.bytes += to_u64(*bytes, "bytes")?;
        }
        if let Some((_, cap, blocked)) = limits.iter().find(|l| l.0 == platform.as_str()) {
            p.max_concurrent = cap.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
            p.blocked_until = blocked.map(from_millis).transpose()?;
        }
        summary.platforms.push(p);
    }
    Ok(summary)
}
