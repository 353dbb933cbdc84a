//! `tawthiq archive <platform> <account>`: capture one account through the platform's API into
//! a verified bundle. The token comes from `TAWTHIQ_<PLATFORM>_TOKEN` or the secrets file.

use anyhow::bail;
use fetcher::Transport;
use fetcher::platforms::facebook::api::{FacebookApi, PageTarget};
use fetcher::platforms::instagram::api::{IgTarget, InstagramApi, Login};
use fetcher::platforms::x::api::{Target, XApi};
use model::{AccountId, Platform};

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x, instagram or facebook.
    platform: Platform,
    /// x: `me` (the token's owner) or `@handle`; instagram: `me` or the Instagram account id;
    /// facebook: `me` (the Page a Page token belongs to) or the Page id.
    account: String,
    /// instagram: which login issued the token: `instagram` (Instagram Login,
    /// graph.instagram.com) or `facebook` (Facebook Login, graph.facebook.com).
    #[arg(long, value_enum, default_value_t = LoginArg::Instagram)]
    login: LoginArg,
    #[command(flatten)]
    bundle: BundleFlags,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LoginArg {
    Instagram,
    Facebook,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let transport = Transport::new(cfg.fetch_config()?)?;
    let token = cfg.token(a.platform)?;
    let rt = super::runtime()?;
    // An explicit id or handle names the bundle if the account turns out suspended or gone.
    let fallback = |named: Option<&str>| named.and_then(|n| AccountId::new(n).ok());
    match a.platform {
        Platform::X => {
            let target: Target = a.account.parse()?;
            let named = match &target {
                Target::Username(name) => Some(name.as_str()),
                Target::Me => None,
            };
            let fallback = fallback(named);
            let mut source = XApi::new(&transport, token, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Instagram => {
            let target: IgTarget = a.account.parse()?;
            let fallback = fallback(match &target {
                IgTarget::Id(id) => Some(id.as_str()),
                IgTarget::Me => None,
            });
            let login = match a.login {
                LoginArg::Instagram => Login::Instagram,
                LoginArg::Facebook => Login::Facebook,
            };
            let mut source = InstagramApi::new(&transport, token, login, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Facebook => {
            let target: PageTarget = a.account.parse()?;
            let fallback = fallback(match &target {
                PageTarget::Id(id) => Some(id.as_str()),
                PageTarget::Me => None,
            });
            let mut source = FacebookApi::new(&transport, token, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        other => bail!("archiving {other} through its API is not supported yet"),
    }
}
