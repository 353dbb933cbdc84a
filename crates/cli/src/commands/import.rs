//! `tawthiq import <platform> <export.zip>...`: bundle an owner's data export, every file
//! byte-exact, with derived posts and media references; hostile zips are refused.

use std::path::PathBuf;

use anyhow::bail;
use fetcher::Transport;
use fetcher::platforms::facebook::export::FacebookExport;
use fetcher::platforms::instagram::export::InstagramExport;
use fetcher::platforms::snapchat::export::SnapchatExport;
use fetcher::platforms::x::export::XExport;
use fetcher::platforms::youtube::takeout::YouTubeTakeout;
use model::{AccountId, Platform};

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
    /// The account id to file the bundle under, when the export does not name its account
    /// (instagram, facebook; default: the username the export holds).
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
    let rt = super::runtime()?;
    let account = a.account.as_deref().map(AccountId::new).transpose()?;
    if a.no_fetch && a.platform != Platform::Snapchat {
        bail!("--no-fetch applies to snapchat only (other imports fetch nothing)");
    }
    match a.platform {
        Platform::X => {
            let [export] = a.exports.as_slice() else {
                bail!("an X archive is one zip; {} were given", a.exports.len());
            };
            if account.is_some() {
                bail!("--account is not needed for X: the archive names its account");
            }
            let mut source = rt.block_on(XExport::open(export))?;
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
        Platform::Instagram => {
            let mut source = rt.block_on(InstagramExport::open(&a.exports))?;
            if let Some(id) = account {
                source = source.with_account(id);
            }
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
        Platform::Facebook => {
            let mut source = rt.block_on(FacebookExport::open(&a.exports))?;
            if let Some(id) = account {
                source = source.with_account(id);
            }
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
        Platform::Youtube => {
            let mut source = rt.block_on(YouTubeTakeout::open(&a.exports))?;
            if let Some(id) = account {
                source = source.with_account(id);
            }
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
        Platform::Snapchat => {
            let transport = Transport::new(cfg.fetch_config()?)?;
            let mut source = rt.block_on(SnapchatExport::open(&a.exports))?;
            if let Some(id) = account {
                source = source.with_account(id);
            }
            if !a.no_fetch {
                source = source.fetch_links(&transport);
            }
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
    }
}
