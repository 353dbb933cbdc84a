//! Crash hygiene: what a run does at its start, before any worker claims an account, so that a
//! process killed at any moment (SIGKILL, a power cut) leaves nothing that confuses the next
//! run or an audit.
//!
//! A worker records an upload intent ([`StateStore::intend_upload`]) before it uploads a
//! bundle, and the completion closes it. [`reconcile`] then:
//!
//! 1. resolves every intent whose claim is over (its worker's process is gone from this host,
//!    its lease ended, or the account moved on): an object that is in the store, verifies with
//!    the run's key and is the bundle the intent names is **recorded** as the account's bundle
//!    ([`StateStore::adopt_upload`]) — unless another bundle was recorded for the account
//!    since, which would fork its chain: then, as for a missing or unverifiable object, the
//!    object is **removed** ([`StateStore::discard_upload`], then
//!    [`StateStore::close_upload`]). Intents of claims that may still be uploading are left
//!    alone;
//! 2. removes what killed uploads and store checks left in a local store (`NAME#N` staging
//!    files, `.tawthiq-probe-…` objects), except the staging files of uploads still running;
//! 3. puts back at once the accounts leased by workers of processes gone from this host
//!    (instead of waiting for their leases to end);
//! 4. removes the scratch folders (`<host>-<pid>-w<N>`) of processes gone from this host.
//!
//! Only names of this host are judged (see [`crate::liveness`]): another machine's workers
//! are left to their leases. Whatever this finds is returned, for the run's log.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use archive::signing::PublicKey;
use archive::verify::{self, VerifyOptions};
use time::OffsetDateTime;

use crate::batch::{BatchError, BundleTarget};
use crate::liveness::Judge;
use crate::state::{AccountState, Adoption, Discard, OpenUpload, StateError, StateStore};

/// How [`reconcile`] judges and verifies.
pub struct ReconcileOptions {
    /// The run's scratch folder (workers' folders are `<host>-<pid>-w<N>` inside).
    pub scratch: PathBuf,
    /// The run's key: a recovered bundle must verify with it.
    pub key: PublicKey,
    /// Names this process in leases and the audit trail (`<host>-<pid>-w0`); its scratch
    /// folder holds the downloads being verified.
    pub worker: String,
    pub judge: Judge,
}

/// What [`reconcile`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Bundles uploaded but never recorded, now recorded.
    pub recorded: Vec<String>,
    /// Unrecorded objects removed from the store (a later bundle was recorded, or they do not
    /// verify).
    pub removed: Vec<String>,
    /// Intents whose upload never completed, closed.
    pub abandoned: u64,
    /// Intents of claims that may still be uploading, left alone.
    pub live: u64,
    /// Staging files and probe objects removed from a local store.
    pub leftovers: Vec<String>,
    /// Accounts put back from workers of processes gone from this host.
    pub released: Vec<String>,
    /// Scratch folders of processes gone from this host, removed.
    pub scratch: Vec<PathBuf>,
}

/// What a stored object turned out to be.
enum Checked {
    /// Verifies with the key and is the intent's bundle.
    Good,
    Missing,
    Bad(String),
}

/// Cleans up after killed processes; see the module docs. Call before any worker starts.
pub async fn reconcile(
    store: &dyn StateStore,
    target: &dyn BundleTarget,
    opts: &ReconcileOptions,
) -> Result<Reconciled, BatchError> {
    let mut done = Reconciled::default();
    // Leftovers are listed before the intents: a staging file seen now belongs to an upload
    // whose intent was recorded before it, so the intents listed next include every live one.
    let leftovers = target.leftovers().await.map_err(BatchError::Store)?;
    let now = OffsetDateTime::now_utc();
    let mut live_objects = HashSet::new();
    let work = opts.scratch.join(&opts.worker);
    for open in store.open_uploads().await? {
        if claim_may_be_live(&open, &opts.judge, now) {
            done.live += 1;
            live_objects.insert(open.intent.object.clone());
            continue;
        }
        resolve(store, target, opts, &work, &open, &mut done).await?;
    }
    let _ = std::fs::remove_dir_all(&work);

    for name in leftovers {
        let keep = match crate::store::staged_object(&name) {
            Some(object) => live_objects.contains(object),
            None => !opts.judge.probe_gone(&name),
        };
        if !keep {
            target
                .remove_leftover(&name)
                .await
                .map_err(BatchError::Store)?;
            done.leftovers.push(name);
        }
    }

    let now = OffsetDateTime::now_utc();
    for lease in store.leases().await? {
        let Some(worker) = lease.worker.as_deref() else {
            continue;
        };
        if !opts.judge.worker_gone(worker) {
            continue;
        }
        let reason = format!("its worker {worker} stopped (the process is gone)");
        match store
            .defer(&lease.key, lease.fence, now, &reason, now)
            .await
        {
            Ok(()) => done.released.push(lease.key),
            // Taken over meanwhile: nothing to put back.
            Err(StateError::Fenced { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }

    if let Ok(entries) = std::fs::read_dir(&opts.scratch) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_dir()) && opts.judge.worker_gone(&name) {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(|source| BatchError::Scratch {
                    path: path.display().to_string(),
                    source,
                })?;
                done.scratch.push(path);
            }
        }
    }
    Ok(done)
}

/// Whether the worker that made the intent may still be uploading: it still holds the account
/// under the intent's claim, with a live lease, and is not a gone process of this host.
fn claim_may_be_live(open: &OpenUpload, judge: &Judge, now: OffsetDateTime) -> bool {
    !open.discarding
        && open.account_state == AccountState::Running
        && open.account_fence == open.fence
        && open.lease_until.is_some_and(|until| until > now)
        && !open
            .holder
            .as_deref()
            .is_some_and(|holder| judge.worker_gone(holder))
}

async fn resolve(
    store: &dyn StateStore,
    target: &dyn BundleTarget,
    opts: &ReconcileOptions,
    work: &Path,
    open: &OpenUpload,
    done: &mut Reconciled,
) -> Result<(), BatchError> {
    let object = &open.intent.object;
    let checked = if open.discarding {
        Checked::Bad("already being removed".into())
    } else {
        check_object(target, opts, work, open).await?
    };
    let reason = match checked {
        Checked::Good => {
            let now = OffsetDateTime::now_utc();
            match store
                .adopt_upload(&open.key, open.fence, &opts.worker, now)
                .await?
            {
                Adoption::Recorded => {
                    tracing::warn!(
                        key = open.key,
                        object,
                        "a bundle uploaded before a crash was recorded"
                    );
                    done.recorded.push(open.intent.completion.bundle_id.clone());
                    return Ok(());
                }
                Adoption::AlreadyRecorded | Adoption::Gone => return Ok(()),
                Adoption::Superseded { latest } => format!(
                    "bundle {} was recorded for the account since this upload started",
                    latest.as_deref().unwrap_or("-")
                ),
            }
        }
        Checked::Missing => {
            let now = OffsetDateTime::now_utc();
            let reason = "the upload never completed";
            if store
                .discard_upload(&open.key, open.fence, reason, now)
                .await?
                == Discard::Proceed
            {
                store.close_upload(&open.key, open.fence).await?;
                done.abandoned += 1;
            }
            return Ok(());
        }
        Checked::Bad(why) => why,
    };
    let now = OffsetDateTime::now_utc();
    if store
        .discard_upload(&open.key, open.fence, &reason, now)
        .await?
        != Discard::Proceed
    {
        return Ok(());
    }
    target.remove(object).await.map_err(BatchError::Store)?;
    store.close_upload(&open.key, open.fence).await?;
    tracing::warn!(
        key = open.key,
        object,
        reason,
        "an unrecorded bundle was removed from the store"
    );
    done.removed.push(object.clone());
    Ok(())
}

/// Downloads the intent's object into `work` and verifies it with the run's key.
async fn check_object(
    target: &dyn BundleTarget,
    opts: &ReconcileOptions,
    work: &Path,
    open: &OpenUpload,
) -> Result<Checked, BatchError> {
    std::fs::create_dir_all(work).map_err(|source| BatchError::Scratch {
        path: work.display().to_string(),
        source,
    })?;
    let local = work.join(format!("recovered-{}", open.fence));
    let _ = std::fs::remove_file(&local);
    if !target
        .fetch(&open.intent.object, &local)
        .await
        .map_err(BatchError::Store)?
    {
        return Ok(Checked::Missing);
    }
    let verify_opts = VerifyOptions {
        keys: vec![opts.key.clone()],
        hash_threads: 1,
        ..VerifyOptions::default()
    };
    let path = local.clone();
    let verified = tokio::task::spawn_blocking(move || verify::verify_path(&path, &verify_opts))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let _ = std::fs::remove_file(&local);
    let expected = &open.intent.completion;
    Ok(match verified {
        Ok(report) if !report.valid => Checked::Bad(format!(
            "it does not verify with the run's key{}",
            report
                .findings
                .first()
                .map_or_else(String::new, |f| format!(
                    ": {} {}",
                    f.code.as_str(),
                    f.message
                ))
        )),
        Ok(report)
            if report.bundle_id.as_deref() != Some(expected.bundle_id.as_str())
                || report.tagmanifest_sha256 != expected.tag_manifest_sha256 =>
        {
            Checked::Bad(format!(
                "it holds bundle {} (tag manifest {}), not the one the upload named",
                report.bundle_id.as_deref().unwrap_or("-"),
                report.tagmanifest_sha256.as_deref().unwrap_or("-")
            ))
        }
        Ok(_) => Checked::Good,
        Err(e) => Checked::Bad(format!("it cannot be verified: {e}")),
    })
}
