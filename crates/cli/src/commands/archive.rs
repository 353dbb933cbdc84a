//! `tawthiq archive <platform> <account>`: capture one account through the platform's API into
//! a verified bundle. The token comes from `TAWTHIQ_<PLATFORM>_TOKEN` or the secrets file.

use anyhow::bail;
use fetcher::Transport;
use fetcher::platforms::x::api::{Target, XApi};
use model::{AccountId, Platform};

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x (more platforms to come).
    platform: Platform,
    /// `me` (the token's owner) or `@handle`.
    account: String,
    #[command(flatten)]
    bundle: BundleFlags,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let transport = Transport::new(cfg.fetch_config()?)?;
    let token = cfg.token(a.platform)?;
    let rt = super::runtime()?;
    match a.platform {
        Platform::X => {
            let target: Target = a.account.parse()?;
            // A handle names the bundle if the account turns out suspended or gone.
            let fallback = match &target {
                Target::Username(name) => AccountId::new(name).ok(),
                Target::Me => None,
            };
            let mut source = XApi::new(&transport, token, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        other => bail!("archiving {other} through its API is not supported yet"),
    }
}
