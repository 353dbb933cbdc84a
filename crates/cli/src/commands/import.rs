//! `tawthiq import <platform> <export.zip>...`: bundle an owner's data export, every file
//! byte-exact, with derived posts and media references; hostile zips are refused. The adapter
//! is the source registry's ([`fetcher::sources`]).

use std::path::PathBuf;

use anyhow::bail;
use fetcher::Transport;
use fetcher::sources::{self, Plan, RoutePreference, SourceRequest, SourceSpec};
use model::Platform;

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x, instagram, facebook, youtube (Google Takeout, zip or tgz) or snapchat (My Data).
    platform: Platform,
    /// The export as downloaded from the platform (e.g. `twitter-2025-05-04-….zip`); Meta
    /// splits large exports: give every part of one export.
    #[arg(required = true, num_args = 1..)]
    exports: Vec<PathBuf>,
    /// The account the export must belong to: compared with the account the export names
    /// (another account publishes nothing), and the account the bundle is filed under when the
    /// export names none. x: `@handle` or the numeric id; instagram, facebook, snapchat:
    /// `@username`; youtube: the channel id (`UC…`).
    #[arg(long)]
    account: Option<String>,
    /// snapchat: do not fetch the memories' download links (they are recorded either way;
    /// fetched by default while still valid).
    #[arg(long)]
    no_fetch: bool,
    #[command(flatten)]
    bundle: BundleFlags,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    if a.no_fetch && a.platform != Platform::Snapchat {
        bail!("--no-fetch applies to snapchat only (other imports fetch nothing)");
    }
    let plan = Plan::new(&SourceRequest {
        platform: a.platform,
        route: RoutePreference::Export,
        account: a.account.as_deref(),
        has_credential: false,
        auth: None,
        exports: &a.exports,
    })?;
    let rt = super::runtime()?;
    // Only a Snapchat import fetches (the memories' download links).
    let transport = Transport::new(cfg.fetch_config()?)?;
    let spec = SourceSpec {
        fetch_links: !a.no_fetch,
        ..SourceSpec::new(plan)
    };
    let mut source = rt.block_on(sources::open(spec, &transport))?;
    capture::run(&rt, source.as_mut(), &a.bundle, cfg, None)
}
