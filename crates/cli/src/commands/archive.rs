//! `tawthiq archive <platform> <account>`: capture one account through the platform's API into
//! a verified bundle. The token comes from `TAWTHIQ_<PLATFORM>_TOKEN` or the secrets file.

use anyhow::bail;
use fetcher::Transport;
use fetcher::platforms::facebook::api::{FacebookApi, PageTarget};
use fetcher::platforms::instagram::api::{IgTarget, InstagramApi, Login};
use fetcher::platforms::snapchat::web::{SnapTarget, SnapchatWeb};
use fetcher::platforms::x::api::{Target, XApi};
use fetcher::platforms::youtube::api::{ChannelTarget, YouTubeApi, YtAuth};
use model::{AccountId, Platform};

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x, instagram, facebook, youtube or snapchat.
    platform: Platform,
    /// x: `me` (the token's owner) or `@handle`; instagram: `me` or the Instagram account id;
    /// facebook: `me` (the Page a Page token belongs to) or the Page id; youtube: `mine`,
    /// `@handle` or the channel id (`UC…`); snapchat: the public profile's username.
    account: String,
    /// instagram: which login issued the token: `instagram` (Instagram Login,
    /// graph.instagram.com, the default) or `facebook` (Facebook Login, graph.facebook.com).
    #[arg(long, value_enum)]
    login: Option<LoginArg>,
    /// youtube: the yt-dlp executable that downloads the videos (default: `TAWTHIQ_YT_DLP`,
    /// `[fetch] yt_dlp`, else `yt-dlp` on the PATH; without one each video is a gap).
    #[arg(long)]
    yt_dlp: Option<std::path::PathBuf>,
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
    let rt = super::runtime()?;
    // An explicit id or handle names the bundle if the account turns out suspended or gone.
    let fallback = |named: Option<&str>| named.and_then(|n| AccountId::new(n).ok());
    // A flag meant for another platform is a mistake worth saying, not ignoring.
    if a.login.is_some() && a.platform != Platform::Instagram {
        bail!("--login applies to instagram only");
    }
    if a.yt_dlp.is_some() && a.platform != Platform::Youtube {
        bail!("--yt-dlp applies to youtube only");
    }
    match a.platform {
        Platform::X => {
            let target: Target = a.account.parse()?;
            let named = match &target {
                Target::Username(name) => Some(name.as_str()),
                Target::Me => None,
            };
            let fallback = fallback(named);
            let mut source = XApi::new(&transport, cfg.token(a.platform)?, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Instagram => {
            let target: IgTarget = a.account.parse()?;
            let fallback = fallback(match &target {
                IgTarget::Id(id) => Some(id.as_str()),
                IgTarget::Me => None,
            });
            let login = match a.login {
                None | Some(LoginArg::Instagram) => Login::Instagram,
                Some(LoginArg::Facebook) => Login::Facebook,
            };
            let token = cfg.token(a.platform)?;
            let mut source = InstagramApi::new(&transport, token, login, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Facebook => {
            let target: PageTarget = a.account.parse()?;
            let fallback = fallback(match &target {
                PageTarget::Id(id) => Some(id.as_str()),
                PageTarget::Me => None,
            });
            let mut source = FacebookApi::new(&transport, cfg.token(a.platform)?, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Youtube => {
            let target: ChannelTarget = a.account.parse()?;
            let fallback = fallback(match &target {
                ChannelTarget::Id(id) => Some(id.as_str()),
                ChannelTarget::Handle(h) => Some(h.as_str()),
                ChannelTarget::Mine => None,
            });
            // The owner's OAuth token reads private videos and captions; an API key only
            // public data.
            let auth = match (cfg.secret("youtube_token")?, cfg.secret("youtube_api_key")?) {
                (Some(token), _) => YtAuth::OAuth(token),
                (None, Some(key)) => YtAuth::ApiKey(key),
                (None, None) => bail!(
                    "no youtube credentials: set TAWTHIQ_YOUTUBE_TOKEN (the owner's OAuth token) or TAWTHIQ_YOUTUBE_API_KEY (public data only), or put youtube_token / youtube_api_key in the secrets file"
                ),
            };
            let mut source = YouTubeApi::new(&transport, auth, target);
            if let Some(program) = a.yt_dlp.clone().or_else(|| cfg.yt_dlp()) {
                source = source.with_yt_dlp(program);
            }
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
        Platform::Snapchat => {
            // A public profile page: no token.
            let target: SnapTarget = a.account.parse()?;
            let fallback = AccountId::new(&target.to_string()).ok();
            let mut source = SnapchatWeb::new(&transport, target);
            capture::run(&rt, &mut source, &a.bundle, cfg, fallback)
        }
    }
}
