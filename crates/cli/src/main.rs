//! `tawthiq`: archive official social-media accounts into signed evidence bundles, and verify them.
//!
//! Each command is a short module under `commands/`: an args struct, one library call, rendering.
//! Exit codes (one table, in the README): 0 complete (for `verify`: every bundle valid), 1 the
//! command could not run, 2 `verify` found an invalid bundle, 3 partial (a bundle with gaps),
//! 4 unavailable (the account-level answer says the account is gone, suspended or private),
//! 5 failed (nothing trustworthy captured, nothing published), 6 `run` stopped with accounts
//! still waiting (retries, deferrals), 130 / 143 stopped by SIGINT / SIGTERM (after cleaning up:
//! see `signals`). A batch exits with the most serious of its accounts' outcomes.

mod batch_sources;
mod commands;
mod config;
mod prefetch;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tawthiq",
    version,
    about = "Evidence bundles of official social-media accounts: capture, sign, verify"
)]
struct Cli {
    /// Config file (default: $`TAWTHIQ_CONFIG`, else ./tawthiq.toml if present).
    #[arg(long, global = true, env = "TAWTHIQ_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a signing key pair (public key in minisign format).
    Keygen(commands::keygen::Args),
    /// Archive one account through the platform's API (token from the environment).
    Archive(commands::archive::Args),
    /// Bundle an owner's data export (e.g. the X archive zip).
    Import(commands::import::Args),
    /// Pack a folder of files into a signed bundle (manual evidence, demos, tests).
    Bundle(commands::bundle::Args),
    /// Strictly verify bundles; exit 0 if all are valid, 2 if any is not, 1 if it could not run.
    Verify(commands::verify::Args),
    /// List a bundle's files with sizes and digests.
    Ls(commands::ls::Args),
    /// Write one file of a bundle to stdout, after checking it against the signed manifests.
    Cat(commands::cat::Args),
    /// Archive every account of a registry: resumable, within shared quotas, on one machine
    /// (SQLite + a folder) or many (PostgreSQL + object storage).
    Run(commands::run::Args),
    /// A batch run's figures per platform, from its state store.
    Status(commands::status::Args),
    /// One row per account of a batch run (table, CSV, JSON or HTML), joined with a registry.
    Report(commands::report::Args),
}

/// Outcome of a command that ran, as its exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 0: complete; for `verify`, every bundle valid.
    Ok,
    /// 3: a bundle was published with gaps (each named in it).
    Partial,
    /// 4: the account-level answer says the account does not exist, is suspended or private.
    Unavailable,
    /// 6: `run` stopped with accounts still waiting (retries, deferrals).
    Waiting,
    /// 5: a capture failed: nothing trustworthy was captured, nothing published.
    Failed,
    /// 2: `verify` found an invalid bundle.
    Invalid,
}

impl Outcome {
    /// The outcome of one capture.
    pub fn of_capture(outcome: model::Outcome) -> Outcome {
        match outcome {
            model::Outcome::Complete => Outcome::Ok,
            model::Outcome::Partial => Outcome::Partial,
            model::Outcome::Unavailable => Outcome::Unavailable,
            model::Outcome::Failed => Outcome::Failed,
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Invalid => 2,
            Outcome::Partial => 3,
            Outcome::Unavailable => 4,
            Outcome::Failed => 5,
            Outcome::Waiting => 6,
        }
    }
}

/// A capture that failed with nothing published: printed as an error line, exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CaptureFailed(pub String);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TAWTHIQ_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
    let cli = Cli::parse();
    let result = config::Config::load(cli.config.as_deref()).and_then(|cfg| match cli.command {
        Command::Keygen(a) => commands::keygen::run(&a, &cfg),
        Command::Archive(a) => commands::archive::run(&a, &cfg),
        Command::Import(a) => commands::import::run(&a, &cfg),
        Command::Bundle(a) => commands::bundle::run(&a, &cfg),
        Command::Verify(a) => commands::verify::run(&a, &cfg),
        Command::Ls(a) => commands::ls::run(&a, &cfg),
        Command::Cat(a) => commands::cat::run(&a, &cfg),
        Command::Run(a) => commands::run::run(&a, &cfg),
        Command::Status(a) => commands::status::run(&a, &cfg),
        Command::Report(a) => commands::report::run(&a, &cfg),
    });
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            // One line: the error and its causes, outermost first.
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            #[allow(clippy::print_stderr)]
            {
                eprintln!("tawthiq: error: {}", dedup_chain(&chain));
            }
            // Stopped by SIGINT or SIGTERM: 128 + the signal's number (see `signals`); a
            // capture that failed with nothing published: 5; anything else could not run: 1.
            let failed = e
                .chain()
                .any(|c| c.downcast_ref::<CaptureFailed>().is_some());
            let code = e
                .downcast_ref::<signals::Interrupted>()
                .map_or(if failed { Outcome::Failed.code() } else { 1 }, |i| {
                    i.signal.exit_code()
                });
            ExitCode::from(code)
        }
    }
}

/// Joins an error chain, skipping causes whose text the outer message already includes.
fn dedup_chain(chain: &[String]) -> String {
    let mut out = String::new();
    for part in chain {
        if !out.contains(part.as_str()) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(part);
        }
    }
    out.replace('\n', " ")
}
