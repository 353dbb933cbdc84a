//! `tawthiq archive <platform> <account>`: capture one account through the platform's API (or
//! Snapchat's public page) into a verified bundle. The token comes from
//! `TAWTHIQ_<PLATFORM>_TOKEN` or the secrets file; the adapter, and what it accepts as an
//! account, are the source registry's ([`fetcher::sources`]).

use anyhow::bail;
use fetcher::Transport;
use fetcher::sources::{self, AuthChoice, Plan, RoutePreference, SourceRequest, SourceSpec};
use model::Platform;

use super::capture::{self, BundleFlags};
use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// x, instagram, facebook, youtube or snapchat.
    platform: Platform,
    /// x: `me` (the token's owner), `@handle` or the numeric user id; instagram: `me` or the
    /// Instagram account id; facebook: `me` (the Page a Page token belongs to) or the Page id;
    /// youtube: `mine`, `@handle` or the channel id (`UC…`); snapchat: the public profile's
    /// username. The account the platform answers with must be this one.
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
    // A flag meant for another platform is a mistake worth saying, not ignoring.
    if a.login.is_some() && a.platform != Platform::Instagram {
        bail!("--login applies to instagram only");
    }
    if a.yt_dlp.is_some() && a.platform != Platform::Youtube {
        bail!("--yt-dlp applies to youtube only");
    }
    // YouTube: the owner's OAuth token reads private videos and captions, an API key only
    // public data; whichever is set decides.
    let youtube = if a.platform == Platform::Youtube {
        match (cfg.secret("youtube_token")?, cfg.secret("youtube_api_key")?) {
            (Some(token), _) => Some((AuthChoice::OAuth, token)),
            (None, Some(key)) => Some((AuthChoice::ApiKey, key)),
            (None, None) => None,
        }
    } else {
        None
    };
    let auth = match (a.platform, a.login, &youtube) {
        (Platform::Instagram, Some(LoginArg::Facebook), _) => Some(AuthChoice::FacebookLogin),
        (Platform::Instagram, _, _) => Some(AuthChoice::InstagramLogin),
        (Platform::Youtube, _, Some((auth, _))) => Some(*auth),
        _ => None,
    };
    // Snapchat profiles are public pages; every other platform is read through its API.
    let web = a.platform == Platform::Snapchat;
    let plan = Plan::new(&SourceRequest {
        platform: a.platform,
        route: if web {
            RoutePreference::Web
        } else {
            RoutePreference::Api
        },
        account: Some(&a.account),
        has_credential: !web,
        auth,
        exports: &[],
    })?;
    let credential = match (a.platform, youtube) {
        (Platform::Snapchat, _) => None,
        (Platform::Youtube, Some((_, secret))) => Some(secret),
        (Platform::Youtube, None) => bail!(
            "no youtube credentials: set TAWTHIQ_YOUTUBE_TOKEN (the owner's OAuth token) or TAWTHIQ_YOUTUBE_API_KEY (public data only), or put youtube_token / youtube_api_key in the secrets file"
        ),
        (platform, _) => Some(cfg.token(platform)?),
    };
    let transport = Transport::new(cfg.fetch_config()?)?;
    let rt = super::runtime()?;
    // The account named files the bundle if the platform answers that it is suspended or gone.
    let fallback = plan.fallback_account();
    let yt_dlp = if a.platform == Platform::Youtube {
        a.yt_dlp.clone().or_else(|| cfg.yt_dlp())
    } else {
        None
    };
    let spec = SourceSpec {
        credential,
        yt_dlp,
        ..SourceSpec::new(plan)
    };
    let mut source = rt.block_on(sources::open(spec, &transport))?;
    capture::run(&rt, source.as_mut(), &a.bundle, cfg, fallback)
}
