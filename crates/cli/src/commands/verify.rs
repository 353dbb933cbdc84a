//! `tawthiq verify <bundle>...`: the strict verifier, human or `--json` report.
//! Exit 0 when every bundle is valid, 2 when any is not, 1 when verification could not run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use archive::verify::{self, Report, Severity, VerifyOptions};

use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Bundle files; `-` reads one bundle from stdin.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// Public key(s) whose signatures are accepted (default: $`TAWTHIQ_PUBKEY`, then the config).
    #[arg(long)]
    pubkey: Vec<PathBuf>,
    /// Print one JSON report per bundle (a JSON array).
    #[arg(long)]
    json: bool,
    /// A bundle without an RFC 3161 timestamp is invalid.
    #[arg(long)]
    require_timestamp: bool,
    /// PEM file of the TSA root certificate, to check the timestamp's chain.
    #[arg(long)]
    tsa_root: Option<PathBuf>,
    /// Check that every bundle's previous-bundle link names another of the bundles given,
    /// and that no two bundles of one account name the same previous one (a fork, TQ-E091).
    #[arg(long)]
    chain: bool,
    /// With stdin: also compute SHA-512 (needed if the bundle has SHA-512 manifests).
    #[arg(long)]
    sha512: bool,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let keys = super::public_keys(&a.pubkey, cfg)?;
    if keys.is_empty() {
        return Err(verify::VerifyError::NoKey.into());
    }
    let tsa_root = a
        .tsa_root
        .clone()
        .or_else(|| cfg.timestamp.root.clone())
        .map(|p| std::fs::read(&p).with_context(|| format!("reading TSA root {}", p.display())))
        .transpose()?;
    let opts = VerifyOptions {
        keys,
        require_timestamp: a.require_timestamp || cfg.verify.require_timestamp,
        tsa_root,
        hash_threads: 0,
        check_chain: a.chain,
    };
    let spinner = (a.bundles.len() > 1 || std::io::stderr().is_terminal())
        .then(|| crate::progress::spinner("verifying"));
    let results: Vec<Result<Report, verify::VerifyError>> =
        if a.bundles.iter().any(|p| p.as_os_str() == "-") {
            anyhow::ensure!(
                a.bundles.len() == 1,
                "stdin (-) can only be verified on its own"
            );
            let stdin = std::io::stdin();
            vec![
                verify::verify_reader(stdin, "-", &opts, a.sha512).map_err(|source| {
                    verify::VerifyError::Io {
                        path: "-".into(),
                        source,
                    }
                }),
            ]
        } else {
            verify::verify_many(&a.bundles, &opts)
        };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    // A bundle that could not be read at all means the run is incomplete: exit 1.
    let mut reports = Vec::new();
    for r in results {
        reports.push(r?);
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &reports)?;
        writeln!(out)?;
    } else {
        for r in &reports {
            render(&mut out, r)?;
        }
    }
    Ok(if reports.iter().all(|r| r.valid) {
        Outcome::Ok
    } else {
        Outcome::Invalid
    })
}

fn render(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let verdict = if r.valid { "VALID" } else { "INVALID" };
    writeln!(
        out,
        "{verdict}  {}  ({})",
        r.source,
        r.bundle_id.as_deref().unwrap_or("unknown bundle")
    )?;
    if r.valid {
        writeln!(
            out,
            "  {} payload files, {} bytes; signed by {}{}",
            r.payload_files,
            r.payload_bytes,
            r.signed_by.as_deref().unwrap_or("-"),
            r.timestamp
                .as_deref()
                .map(|t| format!("; timestamped {t}"))
                .unwrap_or_default()
        )?;
    }
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let member = f
            .member
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {sev}: {}{member}: {}",
            f.code.as_str(),
            f.code.meaning(),
            f.message
        )?;
    }
    if r.findings_dropped > 0 {
        writeln!(out, "  ... and {} more findings", r.findings_dropped)?;
    }
    Ok(())
}
