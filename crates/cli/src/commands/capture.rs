//! What `archive` and `import` share: bundle flags, running one source into a bundle,
//! verifying the result, and the one-screen summary (or `--json`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use ::archive::WriterOptions;
use ::archive::verify::{self, VerifyOptions};
use anyhow::Context;
use fetcher::Source;
use model::{AccountId, BundleId, Platform};
use runner::{AccountOptions, AccountOutcome};
use serde_json::json;
use time::OffsetDateTime;

use crate::config::Config;
use crate::{CaptureFailed, Outcome, progress};

/// Where and how the bundle is written.
#[derive(clap::Args)]
pub struct BundleFlags {
    /// Output folder for the bundle.
    #[arg(short, long, default_value = ".")]
    output: PathBuf,
    #[command(flatten)]
    writer: super::WriterFlags,
    /// Print the summary as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

/// Runs `source` into a bundle, verifies it, prints the summary.
/// Exit: 0 complete, 3 partial (see gaps), 4 unavailable (the answer is in the bundle),
/// 5 failed (nothing published).
pub fn run(
    rt: &tokio::runtime::Runtime,
    source: &mut dyn Source,
    flags: &BundleFlags,
    cfg: &Config,
    fallback_account: Option<AccountId>,
) -> anyhow::Result<Outcome> {
    // Waits show under the spinner as they happen; their summary prints when this returns.
    let _waits = progress::WaitSummaryAtEnd;
    std::fs::create_dir_all(&flags.output)
        .with_context(|| format!("output folder {}", flags.output.display()))?;
    let key = flags.writer.signing_key(cfg)?;
    let timestamp = flags.writer.timestamp(cfg)?;
    let platform = source.platform();
    let start = OffsetDateTime::now_utc();
    // The account id is a placeholder until the source names the account.
    let placeholder = AccountId::new("pending").expect("valid id");
    let mut writer =
        WriterOptions::new(BundleId::new(platform, placeholder, start), source.route());
    flags.writer.apply(&mut writer, cfg, false);
    let public = key.public_key();
    let opts = AccountOptions {
        output_dir: flags.output.clone(),
        writer,
        key: Arc::new(key),
        timestamp,
        capture_start: start,
        fallback_account,
        publish_partial: true,
    };
    let mut bar = None;
    let label = format!("{platform} {}", source.route().as_str());
    let outcome = rt.block_on(async {
        let capture = runner::capture_account(source, opts, |sink| {
            bar = Some(progress::Bytes::unbounded(&label, sink.bytes.clone()));
        });
        // Ctrl-C or SIGTERM drops the capture: the unfinished bundle is removed before we
        // exit.
        let mut signals = crate::signals::Signals::listen()?;
        tokio::select! {
            outcome = capture => outcome.map_err(|e| anyhow::Error::new(CaptureFailed(format!(
                "{platform} capture failed, nothing was published: {e}"
            )))),
            signal = signals.next() => Err(crate::signals::Interrupted {
                signal,
                message: "nothing was published".into(),
            }
            .into()),
        }
    })?;
    drop(bar);
    let published = outcome
        .published
        .as_ref()
        .context("no bundle was published")?;
    let report = verify::verify_path(
        &published.path,
        &VerifyOptions {
            keys: vec![public],
            ..VerifyOptions::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("verifying {}: {e}", published.path.display()))?;
    print_summary(&outcome, platform, report.valid, flags.json)?;
    if !report.valid {
        anyhow::bail!(
            "the bundle just written does not verify: {}",
            report
                .findings
                .first()
                .map_or_else(String::new, |f| format!(
                    "{} {}",
                    f.code.as_str(),
                    f.message
                ))
        );
    }
    Ok(Outcome::of_capture(outcome.outcome))
}

#[allow(clippy::print_stdout)]
fn print_summary(
    o: &AccountOutcome,
    platform: Platform,
    valid: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    let published = o.published.as_ref().context("no bundle")?;
    let c = &o.counts;
    let statement = o.completeness.as_ref().map_or("", |c| c.statement.as_str());
    if as_json {
        let v = json!({
            "bundle": published.path,
            "bundle_id": published.bundle_id.to_string(),
            "platform": platform.as_str(),
            "account": published.bundle_id.account.as_str(),
            "outcome": o.outcome.as_str(),
            "complete": o.is_complete(),
            "unavailable": o.completeness.as_ref().and_then(|c| c.unavailable),
            "stopped": o.error.as_ref().map(|e| json!({"kind": e.kind(), "message": e.to_string()})),
            "items": c.items,
            "media_files": c.media,
            "media_bytes": c.media_bytes,
            "export_files": c.export_files,
            "api_documents": c.documents,
            "bundle_bytes": published.file_bytes,
            "tagmanifest_sha256": published.tagmanifest_sha256.to_string(),
            "platform_reported": o.report.platform_reported,
            "gaps": o.gaps,
            "statement": statement,
            "verified": valid,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("bundle     {}", published.path.display());
    println!("account    {platform} {}", published.bundle_id.account);
    let mut captured = format!("{} items", c.items);
    if c.media > 0 || c.export_files == 0 {
        let _ = write!(
            captured,
            ", {} media files ({})",
            c.media,
            progress::human_bytes(c.media_bytes)
        );
    }
    if c.export_files > 0 {
        let _ = write!(
            captured,
            ", {} export files ({})",
            c.export_files,
            progress::human_bytes(c.export_bytes)
        );
    }
    if c.documents > 0 {
        let _ = write!(captured, ", {} API documents", c.documents);
    }
    println!("captured   {captured}");
    if !o.report.platform_reported.is_empty() {
        let reported: Vec<String> = o
            .report
            .platform_reported
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("reported   {}", reported.join(", "));
    }
    println!("gaps       {}", o.gaps.len());
    for g in o.gaps.iter().take(8) {
        let reason = serde_json::to_value(&g.reason)?;
        println!("  - {}: {}", reason.as_str().unwrap_or("other"), g.detail);
    }
    if o.gaps.len() > 8 {
        println!(
            "  … {} more in data/derived/completeness.json",
            o.gaps.len() - 8
        );
    }
    println!("outcome    {}", o.outcome);
    println!("status     {statement}");
    println!("verified   {}", if valid { "VALID" } else { "INVALID" });
    Ok(())
}
