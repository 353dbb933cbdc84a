//! `tawthiq bundle <folder>`: packs every regular file under a folder, byte-exact, into a signed
//! bundle (manual evidence, demos, tests). File names may be Arabic: inside the bundle they are
//! escaped (`=D8=B5…`), and `requests.jsonl` keeps each original name.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use archive::{BundleWriter, WriterOptions};
use model::{AccountId, BundleId, CaptureLogEntry, Completeness, Platform, Route};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;
use crate::prefetch::Prefetch;
use crate::{Outcome, progress};

#[derive(clap::Args)]
pub struct Args {
    /// Folder whose files are packed.
    folder: PathBuf,
    /// x, instagram, facebook, youtube or snapchat.
    #[arg(long)]
    platform: Platform,
    /// The platform's id or handle of the account (ASCII letters, digits, '.', '_', '-').
    #[arg(long)]
    account: String,
    /// Output file (`.tar.zst` or `.tar`) or directory (default: current directory).
    #[arg(short, long, default_value = ".")]
    output: PathBuf,
    /// Capture time (RFC 3339); fixes the bundle id and dates, for reproducible bundles.
    #[arg(long)]
    captured_at: Option<String>,
    #[command(flatten)]
    writer: super::WriterFlags,
}

/// Regular files under `root`, sorted by path, as (relative path, absolute path, size).
fn walk(root: &Path) -> anyhow::Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading folder {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading folder {}", dir.display()))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel
                    .to_str()
                    .with_context(|| format!("{} has a name that is not UTF-8", path.display()))?;
                out.push((rel.to_owned(), path, meta.len()));
            } else {
                bail!(
                    "{} is not a regular file (symbolic link or device); bundles hold regular files only",
                    path.display()
                );
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let meta =
        std::fs::metadata(&a.folder).with_context(|| format!("folder {}", a.folder.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", a.folder.display());
    }
    let account = AccountId::new(&a.account)?;
    let key = a.writer.signing_key(cfg)?;
    let files = walk(&a.folder)?;
    if files.is_empty() {
        bail!("{} holds no files", a.folder.display());
    }
    let captured_at = match &a.captured_at {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339)
            .with_context(|| format!("--captured-at {t:?} is not RFC 3339"))?,
        None => OffsetDateTime::now_utc(),
    };
    let id = BundleId::new(a.platform, account, captured_at);
    let mut opts = WriterOptions::new(id.clone(), Route::Manual);
    a.writer.apply(
        &mut opts,
        cfg,
        a.output.extension().is_some_and(|e| e == "tar"),
    );
    let tsa_url = a
        .writer
        .tsa_url
        .clone()
        .or_else(|| cfg.timestamp.url.clone());
    // A fixed capture time makes the bundle reproducible; a timestamp is taken now, so with a TSA
    // the capture window must reach the present for the token's time to fall inside it.
    if a.captured_at.is_some() && tsa_url.is_none() {
        opts.capture_end = Some(id.capture_start);
    }
    let name = a.output.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let target = if name.ends_with(".tar.zst") || name.ends_with(".tar") {
        a.output.clone()
    } else {
        a.output.join(opts.file_name())
    };
    let mut w = BundleWriter::create_at(&target, opts)?;
    let total: u64 = files.iter().map(|f| f.2).sum();
    let bar = progress::Bytes::start("bundling", total, w.progress());
    let tool = concat!("tawthiq bundle ", env!("CARGO_PKG_VERSION"));
    let prefetch = Prefetch::start(files.iter().map(|f| f.1.clone()).collect());
    for (rel, path, size) in &files {
        let mut f = prefetch.next_file();
        let stored = w
            .add_export_file(rel, &mut f, Some(*size))
            .with_context(|| format!("packing {}", path.display()))?;
        w.log(CaptureLogEntry {
            seq: 0,
            time: id.capture_start,
            method: "IMPORT".into(),
            url: String::new(),
            status: None,
            headers: Default::default(),
            body_sha256: Some(stored.sha256),
            body_bytes: Some(stored.size),
            payload_path: Some(stored.path),
            tool: tool.into(),
            source_path: Some(rel.clone()),
            source_sha256: Some(stored.sha256),
            note: None,
        })?;
    }
    w.set_completeness(Completeness {
        // Every regular file of the folder is packed: nothing the route can reach is missing.
        outcome: Some(model::Outcome::Complete),
        unavailable: None,
        platform_reported: Default::default(),
        captured: [
            ("files".to_string(), files.len() as u64),
            ("bytes".to_string(), total),
        ]
        .into(),
        gaps: vec![],
        statement: format!(
            "manual bundle: every regular file of the folder was packed ({} files, {total} bytes)",
            files.len()
        ),
    });
    let ts = a.writer.timestamp(cfg)?;
    let published = w.finish(&key, ts.as_ref())?;
    drop(bar);
    #[allow(clippy::print_stdout)]
    {
        println!("{}", published.path.display());
    }
    tracing::info!(
        bundle = %published.bundle_id,
        files = published.payload_files,
        bytes = published.payload_bytes,
        tagmanifest_sha256 = %published.tagmanifest_sha256,
        "bundle published"
    );
    if let Some(e) = &published.timestamp_error {
        tracing::warn!("published without a timestamp: {e}");
    }
    Ok(Outcome::Ok)
}
