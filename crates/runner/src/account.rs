//! Capture one account: run a [`Source`] into a [`BundleSink`], then write the completeness
//! statement and publish a signed bundle whose [`Outcome`] is recorded in it.
//!
//! What gets published, and its outcome:
//! - a capture that ran to the end: `complete` when it has no gap, else `partial`;
//! - a capture stopped early after content was stored (a broken response, an expired token,
//!   a refused request): `partial`, with the stop recorded as a gap, so nothing already
//!   captured is lost — at once when trying again cannot help, and for a stop that may clear
//!   up (network, quota) only when `publish_partial` says so (a batch's last attempt);
//! - an account-level answer (the profile, channel or page says the account does not exist,
//!   is suspended, deactivated or private): `unavailable`, a bundle holding that answer, since
//!   it is the evidence an auditor needs;
//! - anything else (nothing captured, bad token, unreachable host): nothing, and the caller
//!   records the account as `failed`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use archive::signing::SecretKey;
use archive::{Published, TimestampOptions, WriterOptions};
use fetcher::{FetchError, Report, Sink, Source};
use model::{AccountId, BundleId, Completeness, Gap, GapReason, Outcome};
use time::OffsetDateTime;

use crate::bundle_sink::{BundleSink, Counts};

pub struct AccountOptions {
    pub output_dir: PathBuf,
    /// Template for the bundle (organization, run id, container…); its id is replaced by the
    /// captured account's.
    pub writer: WriterOptions,
    pub key: Arc<SecretKey>,
    pub timestamp: Option<TimestampOptions>,
    pub capture_start: OffsetDateTime,
    /// The account named on the command line (a handle), used to publish an account-state
    /// answer when the source failed before learning the account's id.
    pub fallback_account: Option<AccountId>,
    /// Publish what was captured when the capture stops early for a reason other than the
    /// account's state (`archive`/`import`: always; a batch: only on an account's last
    /// attempt, since an earlier one will be captured again whole).
    pub publish_partial: bool,
}

/// The result of one account's capture.
#[derive(Debug)]
pub struct AccountOutcome {
    /// `complete`, `partial` or `unavailable` (a failure is an `Err`, with nothing published).
    pub outcome: Outcome,
    pub published: Option<Published>,
    pub bundle_id: Option<BundleId>,
    pub report: Report,
    /// Why the capture stopped early, if it did.
    pub error: Option<FetchError>,
    pub counts: Counts,
    pub gaps: Vec<Gap>,
    pub completeness: Option<Completeness>,
}

impl AccountOutcome {
    pub fn is_complete(&self) -> bool {
        self.outcome == Outcome::Complete
    }
}

/// Runs `source` to the end (or to its first terminal error) and publishes what it captured.
/// `progress` receives the sink right after it is made (for progress bars).
pub async fn capture_account(
    source: &mut dyn Source,
    opts: AccountOptions,
    progress: impl FnOnce(&BundleSink),
) -> Result<AccountOutcome, FetchError> {
    let mut sink = BundleSink::new(&opts.output_dir, opts.writer.clone(), opts.capture_start);
    progress(&sink);
    let result = source.capture(&mut sink).await;
    let (report, error) = match result {
        Ok(r) => (r, None),
        Err(e) => (Report::default(), Some(e)),
    };
    if let Some(e) = &error {
        // A stop that may clear up is worth a new attempt rather than a partial bundle, unless
        // this is the last attempt; one that cannot (a refusal, a changed format, an expired
        // token) keeps what was captured at once.
        let worth_publishing = e.is_account_state()
            || (sink.captured_content() && (opts.publish_partial || !e.is_transient()));
        if !worth_publishing {
            return Err(e.clone());
        }
        if !sink.has_begun() {
            match &opts.fallback_account {
                Some(account) if e.is_account_state() => sink.begin(account).await?,
                _ => return Err(e.clone()),
            }
        }
        if !e.is_account_state() {
            sink.gap(stop_gap(e)).await?;
        }
    }
    if !sink.has_begun() {
        return Err(FetchError::Sink(
            "the source finished without naming the account".into(),
        ));
    }
    let unavailable = error.as_ref().and_then(FetchError::unavailability);
    let outcome = Outcome::of_bundle(unavailable, sink.gaps.len());
    let completeness = completeness(&report, &sink, error.as_ref(), outcome);
    let published = sink
        .finish(
            completeness.clone(),
            opts.key.clone(),
            opts.timestamp.clone(),
        )
        .await?;
    Ok(AccountOutcome {
        outcome,
        bundle_id: Some(published.bundle_id.clone()),
        published: Some(published),
        report,
        error,
        counts: sink.counts.clone(),
        gaps: sink.gaps.clone(),
        completeness: Some(completeness),
    })
}

/// The gap that records why a capture stopped (never for an account-level answer, which is
/// the `unavailable` outcome itself).
fn stop_gap(e: &FetchError) -> Gap {
    let reason = match e {
        FetchError::QuotaExhausted { .. }
        | FetchError::RateLimited { .. }
        | FetchError::Deferred { .. } => GapReason::RateLimited,
        FetchError::NotFound { .. }
        | FetchError::Suspended { .. }
        | FetchError::Protected { .. } => GapReason::Unavailable,
        _ => GapReason::Other,
    };
    Gap {
        reason,
        detail: format!("capture stopped early: {e}; everything after this point is missing"),
        item_id: None,
        url: None,
    }
}

fn completeness(
    report: &Report,
    sink: &BundleSink,
    error: Option<&FetchError>,
    outcome: Outcome,
) -> Completeness {
    let mut captured: BTreeMap<String, u64> = report.captured.clone();
    let c = &sink.counts;
    captured.insert("items".into(), c.items);
    captured.insert("media_files".into(), c.media);
    captured.insert("media_bytes".into(), c.media_bytes);
    captured.insert("api_documents".into(), c.documents);
    if c.export_files > 0 {
        captured.insert("export_files".into(), c.export_files);
        captured.insert("export_bytes".into(), c.export_bytes);
    }
    let gaps = sink.gaps.len();
    let listed = match gaps {
        0 => "no gap".to_owned(),
        1 => "1 gap listed".to_owned(),
        n => format!("{n} gaps listed"),
    };
    // The statement opens with the outcome, so that it never says more than the outcome does.
    let said = report
        .statement
        .trim_start_matches("complete: ")
        .trim_start_matches("incomplete: ");
    let statement = match (outcome, error) {
        (Outcome::Unavailable, Some(e)) => format!(
            "unavailable: the account-level answer says so ({e}); that answer is stored in this \
             bundle as the evidence"
        ),
        (_, Some(e)) => format!(
            "partial: the capture stopped early ({e}); {} items and {} media files were \
             captured before it; {listed}",
            c.items, c.media
        ),
        (_, None) if said.is_empty() => format!(
            "{outcome}: {} items, {} media files; {listed}",
            c.items, c.media
        ),
        (_, None) => format!("{outcome}: {said}"),
    };
    let unavailable = error.and_then(FetchError::unavailability);
    Completeness {
        outcome: Some(outcome),
        unavailable,
        platform_reported: report.platform_reported.clone(),
        captured,
        gaps: sink.gaps.clone(),
        statement,
    }
}
