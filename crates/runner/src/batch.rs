//! Batches: workers draining the accounts of a [`StateStore`] into a bundle store.
//!
//! Each worker loops: claim an account under a lease, open its source, capture it into a local
//! scratch bundle (heartbeating the lease meanwhile), verify the bundle, upload it, and only
//! then record it as done under the claim's fence. Whatever happens in between is recorded as
//! a retry, a deferral or a permanent failure, or (for a killed process) left to the lease to
//! expire, after which another worker takes the account over. Decisions:
//!
//! - **Nothing is recorded before it is stored.** `complete` is called after the upload was
//!   verified; a worker killed before that leaves at most an unrecorded object, never an
//!   account marked done without its bundle. Before uploading, the worker records an upload
//!   intent naming the object; the next run's start ([`crate::reconcile`]) follows it and
//!   records the object if it verifies (or removes it), so a bundle is never archived twice
//!   because its worker died between the upload and the completion.
//! - **A stale worker loses.** A heartbeat answered `Fenced` (the lease was taken over)
//!   cancels the capture at once; a completion answered `Fenced` is dropped and counted as
//!   stale, and its uploaded object removed (unless the account's new holder recorded it).
//! - **Stopping.** See [`Stop`]: captures in flight are dropped and put back; uploads under
//!   way finish first unless told `Now`. Each worker removes its scratch folder when it stops.
//! - **Outcomes.** A recorded bundle puts its account in the state of its outcome: `complete`
//!   (no gap), `partial` (gaps, each named in the bundle) or `unavailable` (the account-level
//!   answer says the account does not exist, is suspended or private: that answer is the
//!   evidence, published at once). A capture stopped by a quota is discarded and the account
//!   deferred to the announced time: the next attempt captures it whole. A stop that may clear
//!   up (the network) is retried with backoff, and on the last attempt whatever was captured is
//!   published as `partial` rather than lost; a stop that cannot (a refused request, an expired
//!   token) publishes the partial capture at once. Nothing captured is `failed`.
//! - **The previous bundle.** Each new bundle names the account's last recorded one
//!   (`Previous-Bundle-Tagmanifest-SHA256` in `bag-info.txt`), and the state records it.
//! - **When to stop.** A worker with nothing to claim waits for work due within
//!   [`BatchOptions::linger`] (retries, deferrals, other workers' leases, a platform block);
//!   beyond that it stops and [`run_batch`] reports what is still waiting.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use archive::signing::SecretKey;
use archive::verify::{self, VerifyOptions};
use archive::{TimestampOptions, WriterOptions};
use async_trait::async_trait;
use fetcher::{FetchError, Source};
use model::{AccountId, BundleId, ContentId, Outcome, Platform};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

use crate::account::{AccountOptions, capture_account};
use crate::state::{
    Backoff, Claim, Completion, Discard, Disposition, Failure, StateError, StateStore, UploadIntent,
};

/// Where finished bundles go: the bundle store (a local folder or object storage).
#[async_trait]
pub trait BundleTarget: Send + Sync {
    /// Uploads the finished bundle at `local` as `name`, idempotently, and returns once the
    /// stored object has been verified.
    async fn publish(&self, local: &Path, name: &str) -> Result<Uploaded, String>;

    /// Where an object of this name is (or would be) stored, as the state records it.
    fn location_of(&self, name: &str) -> Result<String, String>;

    /// Downloads `name` to `dest`; `false` when there is no such object.
    async fn fetch(&self, name: &str, dest: &Path) -> Result<bool, String>;

    /// Removes the object `name` (one that is not there is not an error).
    async fn remove(&self, name: &str) -> Result<(), String>;

    /// What killed uploads and checks left behind (see [`crate::store::BundleStore::leftovers`]).
    async fn leftovers(&self) -> Result<Vec<String>, String>;

    /// Removes one of [`BundleTarget::leftovers`].
    async fn remove_leftover(&self, name: &str) -> Result<(), String>;
}

#[async_trait]
impl BundleTarget for crate::store::BundleStore {
    async fn publish(&self, local: &Path, name: &str) -> Result<Uploaded, String> {
        let published = crate::store::BundleStore::publish(self, local, name)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Uploaded {
            location: published.location,
            bytes: published.bytes,
        })
    }

    fn location_of(&self, name: &str) -> Result<String, String> {
        crate::store::BundleStore::location_of(self, name).map_err(|e| e.to_string())
    }

    async fn fetch(&self, name: &str, dest: &Path) -> Result<bool, String> {
        match self.get_to_file(name, dest).await {
            Ok(_) => Ok(true),
            Err(crate::store::StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn remove(&self, name: &str) -> Result<(), String> {
        crate::store::BundleStore::remove(self, name)
            .await
            .map_err(|e| e.to_string())
    }

    async fn leftovers(&self) -> Result<Vec<String>, String> {
        crate::store::BundleStore::leftovers(self).map_err(|e| e.to_string())
    }

    async fn remove_leftover(&self, name: &str) -> Result<(), String> {
        crate::store::BundleStore::remove_leftover(self, name).map_err(|e| e.to_string())
    }
}

/// A verified, stored bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// URL or path of the stored object, as recorded in the state.
    pub location: String,
    pub bytes: u64,
}

/// A claimed account's source, ready to capture.
pub struct Opened<'a> {
    pub source: Box<dyn Source + 'a>,
    /// The account as the registry names it, to file an account-state answer under when the
    /// source fails before learning the account's id.
    pub fallback_account: Option<AccountId>,
    /// Kept until the account's result is recorded, then dropped (the registry's sources hold
    /// the account's identity busy this way, so another line naming the same account waits).
    pub hold: Option<Box<dyn Send + Sync + 'a>>,
}

/// Why a claimed account's source could not be opened (a missing credential, an unreadable
/// export): recorded as a failure, permanent unless `retryable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    pub kind: &'static str,
    pub message: String,
    pub retryable: bool,
}

/// Builds the source of a claimed account (from the registry, the configuration and the
/// secrets, which the runner itself never sees).
#[async_trait]
pub trait Sources: Send + Sync {
    async fn open<'a>(&'a self, claim: &Claim) -> Result<Opened<'a>, OpenError>;
}

/// What every bundle of the batch shares.
#[derive(Clone)]
pub struct BundleTemplate {
    /// Organization, run id, container, SHA-512 choice; the id, route and previous bundle are
    /// set per account.
    pub writer: WriterOptions,
    pub key: Arc<SecretKey>,
    pub timestamp: Option<TimestampOptions>,
}

/// How a batch runs.
#[derive(Clone)]
pub struct BatchOptions {
    /// Concurrent accounts in this process.
    pub workers: usize,
    /// Names this process's workers in leases and the audit trail (`<prefix>-w<n>`).
    pub worker_prefix: String,
    pub lease: Duration,
    pub heartbeat_every: StdDuration,
    /// How often an idle worker looks for work again.
    pub idle_poll: StdDuration,
    /// An idle worker waits for work due within this long, then stops.
    pub linger: Duration,
    pub backoff: Backoff,
    /// Only these platforms (all when `None`).
    pub platforms: Option<Vec<Platform>>,
    /// Local folder for bundles being written (hidden partial files) before upload.
    pub scratch: PathBuf,
    pub bundle: BundleTemplate,
}

impl BatchOptions {
    pub fn new(scratch: PathBuf, bundle: BundleTemplate) -> BatchOptions {
        BatchOptions {
            workers: 4,
            worker_prefix: default_worker_prefix(),
            lease: Duration::minutes(5),
            heartbeat_every: StdDuration::from_mins(1),
            idle_poll: StdDuration::from_secs(2),
            linger: Duration::minutes(15),
            backoff: Backoff::default(),
            platforms: None,
            scratch,
            bundle,
        }
    }
}

/// `<host>-<pid>`: distinct for every process of a scale-out run, and how the next run's start
/// tells whether the process that left a lease, an upload or a scratch folder is gone
/// ([`crate::liveness`]).
pub fn default_worker_prefix() -> String {
    crate::liveness::process_tag()
}

/// How far a request to stop goes (the CLI sends [`Stop::Finish`] on the first SIGINT or
/// SIGTERM, [`Stop::Now`] on the second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Keep working.
    #[default]
    Run,
    /// Claim nothing more; captures in flight are dropped (their partial files removed) and
    /// their accounts put back; uploads already under way finish and are recorded.
    Finish,
    /// Like `Finish`, but uploads under way are abandoned too: their accounts are put back and
    /// their upload intents left for the next run's start to resolve.
    Now,
}

/// Live figures of one platform in this process, for progress bars.
#[derive(Debug, Default)]
pub struct PlatformProgress {
    pub started: AtomicU64,
    pub complete: AtomicU64,
    pub partial: AtomicU64,
    pub unavailable: AtomicU64,
    pub failed: AtomicU64,
    pub retry: AtomicU64,
    pub deferred: AtomicU64,
    /// Results rejected because the lease had been taken over.
    pub stale: AtomicU64,
    /// Bytes of the bundles uploaded.
    pub bytes: AtomicU64,
    pub items: AtomicU64,
}

/// Live figures of this process's workers, read by the CLI's progress bars.
#[derive(Debug, Default)]
pub struct Progress {
    platforms: [PlatformProgress; 5],
    /// Bytes written so far by each capture in flight.
    live: Mutex<HashMap<String, (Platform, Arc<AtomicU64>)>>,
}

impl Progress {
    pub fn platform(&self, platform: Platform) -> &PlatformProgress {
        let i = Platform::ALL
            .iter()
            .position(|p| *p == platform)
            .unwrap_or(0);
        &self.platforms[i]
    }

    /// Bytes written by the platform's captures still in flight.
    pub fn live_bytes(&self, platform: Platform) -> u64 {
        let live = self.live.lock().expect("progress lock");
        live.values()
            .filter(|(p, _)| *p == platform)
            .map(|(_, b)| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Captures in flight per platform.
    pub fn running(&self, platform: Platform) -> usize {
        let live = self.live.lock().expect("progress lock");
        live.values().filter(|(p, _)| *p == platform).count()
    }

    fn track(&self, key: &str, platform: Platform, bytes: Arc<AtomicU64>) {
        let mut live = self.live.lock().expect("progress lock");
        live.insert(key.to_owned(), (platform, bytes));
    }

    fn untrack(&self, key: &str) {
        self.live.lock().expect("progress lock").remove(key);
    }
}

/// What one process's batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: u64,
    pub complete: u64,
    pub partial: u64,
    pub unavailable: u64,
    pub failed: u64,
    pub retry: u64,
    pub deferred: u64,
    pub stale: u64,
    /// Set when the workers stopped with accounts still waiting (retries, deferrals, blocked
    /// platforms, other workers' leases): when the next of them is due.
    pub next_due: Option<OffsetDateTime>,
    pub interrupted: bool,
}

/// A batch could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    State(#[from] StateError),
    /// The bundle store failed while cleaning up after a crash.
    #[error("bundle store: {0}")]
    Store(String),
    #[error("scratch folder {path}: {source}")]
    Scratch {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Everything a worker shares with the others.
struct Shared {
    store: Arc<dyn StateStore>,
    target: Arc<dyn BundleTarget>,
    sources: Arc<dyn Sources>,
    opts: BatchOptions,
    progress: Arc<Progress>,
    stop: watch::Receiver<Stop>,
}

/// How one claimed account ended, in this worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// A bundle was recorded with this outcome (complete, partial or unavailable).
    Recorded(Outcome),
    Retry,
    Failed,
    Deferred,
    Stale,
    Interrupted,
}

/// Runs `opts.workers` workers until nothing is left to do (or nothing due within
/// `opts.linger`), or until `stop` asks them to stop (see [`Stop`]: accounts in flight are
/// then put back, claimable at once, and their partial bundles removed). Each worker removes
/// its scratch folder when it stops. Run [`crate::reconcile::reconcile`] first.
pub async fn run_batch(
    store: Arc<dyn StateStore>,
    target: Arc<dyn BundleTarget>,
    sources: Arc<dyn Sources>,
    opts: BatchOptions,
    progress: Arc<Progress>,
    stop: watch::Receiver<Stop>,
) -> Result<BatchReport, BatchError> {
    std::fs::create_dir_all(&opts.scratch).map_err(|source| BatchError::Scratch {
        path: opts.scratch.display().to_string(),
        source,
    })?;
    let shared = Arc::new(Shared {
        store,
        target,
        sources,
        opts,
        progress,
        stop,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..shared.opts.workers.max(1) {
        let shared = Arc::clone(&shared);
        tasks.spawn(async move {
            let name = format!("{}-w{n}", shared.opts.worker_prefix);
            let result = worker(&shared, &name).await;
            // Nothing in it is needed once the worker stops: a bundle not yet uploaded is
            // captured again by whoever takes its account.
            let folder = shared.opts.scratch.join(&name);
            if let Err(e) = std::fs::remove_dir_all(&folder)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(folder = %folder.display(), error = %e, "could not remove a scratch folder");
            }
            result
        });
    }
    let mut report = BatchReport::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(r)) => {
                report.claimed += r.claimed;
                report.complete += r.complete;
                report.partial += r.partial;
                report.unavailable += r.unavailable;
                report.failed += r.failed;
                report.retry += r.retry;
                report.deferred += r.deferred;
                report.stale += r.stale;
                report.interrupted |= r.interrupted;
                report.next_due = match (report.next_due, r.next_due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Ok(Err(e)) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
            Err(e) => tracing::error!(error = %e, "a batch worker panicked"),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // What still waits, now that every worker has stopped (a worker that stopped early may
    // have seen its siblings' leases, since released).
    report.next_due = shared
        .store
        .next_due(shared.opts.platforms.as_deref(), OffsetDateTime::now_utc())
        .await?;
    Ok(report)
}

async fn worker(shared: &Shared, name: &str) -> Result<BatchReport, BatchError> {
    let mut report = BatchReport::default();
    let platforms = shared.opts.platforms.as_deref();
    let mut stop = shared.stop.clone();
    loop {
        if *stop.borrow() != Stop::Run {
            report.interrupted = true;
            break;
        }
        let now = OffsetDateTime::now_utc();
        let claim =
            retry_state(|| shared.store.claim(name, platforms, now, shared.opts.lease)).await?;
        let Some(claim) = claim else {
            let next = shared.store.next_due(platforms, now).await?;
            match next {
                None => break,
                Some(due) if due > now + shared.opts.linger => {
                    report.next_due = Some(due);
                    break;
                }
                Some(due) => {
                    let wait = (due - now)
                        .try_into()
                        .unwrap_or(StdDuration::ZERO)
                        .clamp(StdDuration::from_millis(50), shared.opts.idle_poll);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        };
        report.claimed += 1;
        let ended = process(shared, name, &claim).await?;
        let p = shared.progress.platform(claim.platform);
        match ended {
            Ended::Recorded(outcome) => {
                let (mine, theirs) = match outcome {
                    Outcome::Partial => (&mut report.partial, &p.partial),
                    Outcome::Unavailable => (&mut report.unavailable, &p.unavailable),
                    Outcome::Complete | Outcome::Failed => (&mut report.complete, &p.complete),
                };
                *mine += 1;
                theirs.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Retry => {
                report.retry += 1;
                p.retry.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Failed => {
                report.failed += 1;
                p.failed.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Deferred => {
                report.deferred += 1;
                p.deferred.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Stale => {
                report.stale += 1;
                p.stale.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Interrupted => {
                report.interrupted = true;
                break;
            }
        }
    }
    Ok(report)
}

/// Repeats a state call a few times while the store answers with a retryable error (a busy
/// database, a dropped connection), so a short outage does not end the batch.
async fn retry_state<T, F, Fut>(mut call: F) -> Result<T, StateError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StateError>>,
{
    let mut attempt = 0_u32;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < 5 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "state store call failed; retrying");
                tokio::time::sleep(StdDuration::from_millis(200 << attempt)).await;
            }
            other => return other,
        }
    }
}

/// One claimed account, from opening its source to recording the result.
async fn process(shared: &Shared, worker: &str, claim: &Claim) -> Result<Ended, BatchError> {
    shared
        .progress
        .platform(claim.platform)
        .started
        .fetch_add(1, Ordering::Relaxed);
    let uploading = AtomicBool::new(false);
    let work = capture_and_store(shared, worker, claim, &uploading);
    let heartbeat = keep_lease(shared, claim);
    let result = tokio::select! {
        r = work => r,
        lost = heartbeat => {
            tracing::warn!(key = claim.key, worker, "lease lost ({lost}); capture abandoned");
            Ok(Ended::Stale)
        }
        // The capture is dropped here, and its partial bundle with it; an upload cut short
        // keeps its intent, which the next run's start resolves.
        () = interruption(shared.stop.clone(), &uploading) => Ok(Ended::Interrupted),
    };
    if matches!(result, Ok(Ended::Interrupted)) {
        // Put the account back at once.
        let now = OffsetDateTime::now_utc();
        match shared
            .store
            .defer(&claim.key, claim.fence, now, "interrupted", now)
            .await
        {
            Ok(()) | Err(StateError::Fenced { .. }) => {}
            Err(e) => tracing::warn!(key = claim.key, error = %e, "could not release the account"),
        }
    }
    shared.progress.untrack(&claim.key);
    result
}

/// Resolves when a stop request covers the account: [`Stop::Finish`] while it is still being
/// captured, [`Stop::Now`] at any point.
async fn interruption(mut stop: watch::Receiver<Stop>, uploading: &AtomicBool) {
    loop {
        let asked = *stop.borrow_and_update();
        if asked == Stop::Now || (asked == Stop::Finish && !uploading.load(Ordering::SeqCst)) {
            return;
        }
        if stop.changed().await.is_err() {
            // The sender is gone: no stop request can come any more.
            std::future::pending::<()>().await;
        }
    }
}

/// Heartbeats the lease until it is lost; returns why.
async fn keep_lease(shared: &Shared, claim: &Claim) -> String {
    loop {
        tokio::time::sleep(shared.opts.heartbeat_every).await;
        let now = OffsetDateTime::now_utc();
        match shared
            .store
            .heartbeat(&claim.key, claim.fence, now, shared.opts.lease)
            .await
        {
            Ok(_) => {}
            Err(e @ (StateError::Fenced { .. } | StateError::UnknownAccount { .. })) => {
                return e.to_string();
            }
            // A busy or unreachable store: keep capturing; the completion will tell.
            Err(e) => tracing::warn!(key = claim.key, error = %e, "heartbeat failed"),
        }
    }
}

#[allow(clippy::too_many_lines)] // one account's whole path, kept in one readable sequence
async fn capture_and_store(
    shared: &Shared,
    worker: &str,
    claim: &Claim,
    uploading: &AtomicBool,
) -> Result<Ended, BatchError> {
    let store = shared.store.as_ref();
    let opts = &shared.opts;
    let previous = retry_state(|| store.last_bundle(&claim.key)).await?;

    let opened = match shared.sources.open(claim).await {
        Ok(o) => o,
        Err(e) => {
            let failure = Failure {
                kind: e.kind.to_owned(),
                message: e.message,
                disposition: opts.backoff.disposition(
                    claim.attempt,
                    e.retryable,
                    OffsetDateTime::now_utc(),
                ),
            };
            return record_failure(shared, claim, &failure).await;
        }
    };
    let Opened {
        mut source,
        fallback_account,
        hold: _hold,
    } = opened;

    let start = OffsetDateTime::now_utc();
    let placeholder = AccountId::new("pending").expect("valid id");
    let mut writer = opts.bundle.writer.clone();
    writer.id = BundleId::new(claim.platform, placeholder, start);
    writer.route = source.route();
    writer.previous = previous
        .as_ref()
        .and_then(|b| b.tag_manifest_sha256.as_deref())
        .and_then(|hex| hex.parse::<ContentId>().ok());
    let scratch = opts.scratch.join(worker);
    if let Err(source) = std::fs::create_dir_all(&scratch) {
        return Err(BatchError::Scratch {
            path: scratch.display().to_string(),
            source,
        });
    }
    let account_opts = AccountOptions {
        output_dir: scratch,
        writer,
        key: Arc::clone(&opts.bundle.key),
        timestamp: opts.bundle.timestamp.clone(),
        capture_start: start,
        fallback_account,
        publish_partial: claim.attempt >= opts.backoff.max_attempts,
    };
    let progress = &shared.progress;
    let outcome = capture_account(source.as_mut(), account_opts, |sink| {
        progress.track(&claim.key, claim.platform, Arc::clone(&sink.bytes));
    })
    .await;
    drop(source);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return record_fetch_error(shared, claim, &e).await,
    };
    let Some(published) = outcome.published else {
        let e = FetchError::Sink("the capture published no bundle".into());
        return record_fetch_error(shared, claim, &e).await;
    };

    // The bundle as written must verify before it leaves this machine.
    let verify_opts = VerifyOptions {
        keys: vec![opts.bundle.key.public_key()],
        hash_threads: 1,
        ..VerifyOptions::default()
    };
    let path = published.path.clone();
    let verified = tokio::task::spawn_blocking(move || verify::verify_path(&path, &verify_opts))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match verified {
        Ok(report) if report.valid => {}
        Ok(report) => {
            let detail = report.findings.first().map_or_else(String::new, |f| {
                format!(": {} {}", f.code.as_str(), f.message)
            });
            let _ = std::fs::remove_file(&published.path);
            let failure = Failure {
                kind: "bundle_invalid".into(),
                message: format!("the bundle just written does not verify{detail}"),
                disposition: opts.backoff.disposition(claim.attempt, true, start),
            };
            return record_failure(shared, claim, &failure).await;
        }
        Err(e) => {
            let _ = std::fs::remove_file(&published.path);
            let failure = Failure {
                kind: "bundle_invalid".into(),
                message: format!("verifying the bundle: {e}"),
                disposition: opts.backoff.disposition(claim.attempt, true, start),
            };
            return record_failure(shared, claim, &failure).await;
        }
    }

    let name = published.path.file_name().map_or_else(
        || format!("{}.tar.zst", published.bundle_id),
        |n| n.to_string_lossy().into_owned(),
    );
    // From here on a stop request lets the upload finish (unless it says `Now`); one that
    // came during the capture puts the account back instead.
    if *shared.stop.borrow() != Stop::Run {
        let _ = std::fs::remove_file(&published.path);
        return Ok(Ended::Interrupted);
    }
    uploading.store(true, Ordering::SeqCst);
    let file_bytes = std::fs::metadata(&published.path).map_or(0, |m| m.len());
    let location = match shared.target.location_of(&name) {
        Ok(l) => l,
        Err(message) => {
            let _ = std::fs::remove_file(&published.path);
            return store_failure(shared, claim, message).await;
        }
    };
    let completion = Completion {
        outcome: outcome.outcome,
        bundle_id: published.bundle_id.to_string(),
        location,
        items: outcome.counts.items,
        media: outcome.counts.media,
        gaps: outcome.gaps.len() as u64,
        bytes: file_bytes,
        tag_manifest_sha256: Some(published.tagmanifest_sha256.to_hex()),
        previous_bundle: previous.map(|b| b.bundle_id),
    };
    // Before the upload, so that a worker killed after it leaves a trace the next run's start
    // follows to the object (see `crate::reconcile`).
    let intent = UploadIntent {
        worker: worker.to_owned(),
        object: name.clone(),
        completion: completion.clone(),
    };
    let intended = retry_state(|| {
        store.intend_upload(&claim.key, claim.fence, &intent, OffsetDateTime::now_utc())
    })
    .await;
    match intended {
        Ok(()) => {}
        Err(StateError::Fenced { .. }) => {
            let _ = std::fs::remove_file(&published.path);
            return Ok(Ended::Stale);
        }
        Err(e) => return Err(e.into()),
    }
    let uploaded = shared.target.publish(&published.path, &name).await;
    let _ = std::fs::remove_file(&published.path);
    let uploaded = match uploaded {
        Ok(u) => u,
        Err(message) => {
            // A failed upload leaves nothing under the name (or, read back wrong, an object
            // kept for inspection): nothing of this claim is left to record.
            retry_state(|| store.close_upload(&claim.key, claim.fence)).await?;
            return store_failure(shared, claim, message).await;
        }
    };
    if uploaded.bytes != completion.bytes {
        tracing::warn!(
            key = claim.key,
            stored = uploaded.bytes,
            written = completion.bytes,
            "the stored bundle's size differs from the file written"
        );
    }
    let recorded = retry_state(|| {
        store.complete(
            &claim.key,
            claim.fence,
            &completion,
            OffsetDateTime::now_utc(),
        )
    })
    .await;
    match recorded {
        Ok(()) => {
            let p = shared.progress.platform(claim.platform);
            p.bytes.fetch_add(completion.bytes, Ordering::Relaxed);
            p.items.fetch_add(completion.items, Ordering::Relaxed);
            Ok(Ended::Recorded(completion.outcome))
        }
        Err(StateError::Fenced { .. }) => {
            tracing::warn!(
                key = claim.key,
                worker,
                "the lease was taken over: this bundle is not recorded"
            );
            drop_stale_upload(shared, claim, &name, &completion.bundle_id).await?;
            Ok(Ended::Stale)
        }
        // A bundle of this name is recorded already: the same account captured in the same
        // second by another registry line (another process's: this one's wait for each
        // other) or by an earlier pass. This account's outcome, not the run's end: the next
        // attempt gets a new second, or finds the other line's bundle and records the
        // duplicate.
        Err(StateError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
            let _ = std::fs::remove_file(&published.path);
            let failure = Failure {
                kind: "bundle_id_taken".into(),
                message: format!(
                    "{}: bundle {} is recorded already (the same account, captured in the same \
                     second); tried again",
                    claim.key, completion.bundle_id
                ),
                disposition: opts.backoff.disposition(
                    claim.attempt,
                    true,
                    OffsetDateTime::now_utc(),
                ),
            };
            record_failure(shared, claim, &failure).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The upload of a claim that lost its lease: the object is removed unless someone recorded
/// it meanwhile (the next run's start may have, from the intent).
async fn drop_stale_upload(
    shared: &Shared,
    claim: &Claim,
    object: &str,
    bundle_id: &str,
) -> Result<(), BatchError> {
    let store = shared.store.as_ref();
    let now = OffsetDateTime::now_utc();
    let reason = "its claim lost the lease before recording it";
    let remove =
        match retry_state(|| store.discard_upload(&claim.key, claim.fence, reason, now)).await? {
            Discard::Proceed => true,
            Discard::Recorded => false,
            // Resolved by someone else: it can no longer be recorded, so it stays only if it was.
            Discard::Gone => !retry_state(|| store.bundles(&claim.key))
                .await?
                .iter()
                .any(|b| b.bundle_id == bundle_id),
        };
    if remove {
        shared
            .target
            .remove(object)
            .await
            .map_err(BatchError::Store)?;
        retry_state(|| store.close_upload(&claim.key, claim.fence)).await?;
    }
    Ok(())
}

/// The bundle store refused or failed an upload: retried with backoff.
async fn store_failure(
    shared: &Shared,
    claim: &Claim,
    message: String,
) -> Result<Ended, BatchError> {
    let failure = Failure {
        kind: "store".into(),
        message,
        disposition: shared.opts.backoff.disposition(
            claim.attempt,
            true,
            OffsetDateTime::now_utc(),
        ),
    };
    record_failure(shared, claim, &failure).await
}

/// What a capture error means for the account.
async fn record_fetch_error(
    shared: &Shared,
    claim: &Claim,
    e: &FetchError,
) -> Result<Ended, BatchError> {
    let now = OffsetDateTime::now_utc();
    let until = match e {
        FetchError::Deferred { until, .. }
        | FetchError::RateLimited {
            until: Some(until), ..
        } => Some(*until),
        // A spent quota with no announced reset: look again in an hour.
        FetchError::QuotaExhausted { until, .. } => Some(until.unwrap_or(now + Duration::hours(1))),
        _ => None,
    };
    if let Some(until) = until {
        let reason = e.to_string();
        let deferred = retry_state(|| {
            shared
                .store
                .defer(&claim.key, claim.fence, until.max(now), &reason, now)
        })
        .await;
        return match deferred {
            Ok(()) => Ok(Ended::Deferred),
            Err(StateError::Fenced { .. }) => Ok(Ended::Stale),
            Err(e) => Err(e.into()),
        };
    }
    // Storage trouble (a full disk) may clear up; so may the network.
    let retryable = e.is_retryable() || matches!(e, FetchError::Sink(_));
    let failure = Failure {
        kind: e.kind().to_owned(),
        message: e.to_string(),
        disposition: shared
            .opts
            .backoff
            .disposition(claim.attempt, retryable, now),
    };
    record_failure(shared, claim, &failure).await
}

async fn record_failure(
    shared: &Shared,
    claim: &Claim,
    failure: &Failure,
) -> Result<Ended, BatchError> {
    let recorded = retry_state(|| {
        shared
            .store
            .fail(&claim.key, claim.fence, failure, OffsetDateTime::now_utc())
    })
    .await;
    match recorded {
        Ok(()) => Ok(match failure.disposition {
            Disposition::RetryAt(_) => Ended::Retry,
            Disposition::Permanent => Ended::Failed,
        }),
        Err(StateError::Fenced { .. }) => Ok(Ended::Stale),
        Err(e) => Err(e.into()),
    }
}
