//! Capture one account: run a [`Source`] into a [`BundleSink`], then write the completeness
//! statement and publish a signed bundle.
//!
//! What gets published:
//! - a complete capture: always;
//! - a capture stopped early (quota, deferral, a broken response after content was stored):
//!   the partial bundle, with the stop recorded as a gap and an "incomplete" statement, so
//!   nothing already captured is lost;
//! - an account-state answer (suspended, deleted, protected): a bundle holding that answer,
//!   since it is the evidence an auditor needs;
//! - a failure before anything was captured (bad token, unreachable host): nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use archive::signing::SecretKey;
use archive::{Published, TimestampOptions, WriterOptions};
use fetcher::{FetchError, Report, Sink, Source};
use model::{AccountId, BundleId, Completeness, Gap, GapReason};
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
        self.error.is_none() && self.published.is_some()
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
        let worth_publishing =
            e.is_account_state() || (opts.publish_partial && sink.captured_content());
        if !worth_publishing {
            return Err(e.clone());
        }
        if !sink.has_begun() {
            match &opts.fallback_account {
                Some(account) if e.is_account_state() => sink.begin(account).await?,
                _ => return Err(e.clone()),
            }
        }
        sink.gap(stop_gap(e)).await?;
    }
    if !sink.has_begun() {
        return Err(FetchError::Sink(
            "the source finished without naming the account".into(),
        ));
    }
    let completeness = completeness(&report, &sink, error.as_ref());
    let published = sink
        .finish(
            completeness.clone(),
            opts.key.clone(),
            opts.timestamp.clone(),
        )
        .await?;
    Ok(AccountOutcome {
        bundle_id: Some(published.bundle_id.clone()),
        published: Some(published),
        report,
        error,
        counts: sink.counts.clone(),
        gaps: sink.gaps.clone(),
        completeness: Some(completeness),
    })
}

/// The gap that records why a capture stopped.
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
        detail: format!("capture stopped: {e}"),
        item_id: None,
        url: None,
    }
}

fn completeness(report: &Report, sink: &BundleSink, error: Option<&FetchError>) -> Completeness {
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
    let statement = match error {
        None if report.statement.is_empty() => format!(
            "complete: {} items, {} media files; {} known gaps listed",
            c.items,
            c.media,
            sink.gaps.len()
        ),
        None => report.statement.clone(),
        Some(e) if e.is_account_state() => format!("account unavailable at capture time: {e}"),
        Some(e) => format!(
            "incomplete: the capture stopped early ({}); {} items and {} media files were captured before it",
            e, c.items, c.media
        ),
    };
    Completeness {
        platform_reported: report.platform_reported.clone(),
        captured,
        gaps: sink.gaps.clone(),
        statement,
    }
}
