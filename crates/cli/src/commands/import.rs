//! `tawthiq import <platform> <export.zip>`: bundle an owner's data export, every file
//! byte-exact, with derived posts and media references; hostile zips are refused.

use std::path::PathBuf;

use anyhow::bail;
use fetcher::platforms::x::export::XExport;
use model::Platform;

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x (more platforms to come).
    platform: Platform,
    /// The export as downloaded from the platform (e.g. `twitter-2025-05-04-….zip`).
    export: PathBuf,
    #[command(flatten)]
    bundle: BundleFlags,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let rt = super::runtime()?;
    match a.platform {
        Platform::X => {
            let mut source = rt.block_on(XExport::open(&a.export))?;
            capture::run(&rt, &mut source, &a.bundle, cfg, None)
        }
        other => bail!("importing {other} exports is not supported yet"),
    }
}
