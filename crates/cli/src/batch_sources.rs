//! The sources of a batch: each claimed account turned into the adapter that captures it, with
//! its credential looked up by name (environment or secrets file).
//!
//! Everything an account needs travels in its claim (handle, route, credential name, export
//! files: the registry as last fed into the run state), so the runner holds only a 64-bit hash
//! per account (to refuse accounts its registry no longer lists).
//!
//! Route choice for `auto`: the owner's export when the registry lists one (the most
//! complete record), else the API when a credential is named, else the public web page
//! (Snapchat only). An explicit route is honoured or refused with the reason.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use async_trait::async_trait;
use fetcher::Transport;
use fetcher::platforms::facebook::api::{FacebookApi, PageTarget};
use fetcher::platforms::facebook::export::FacebookExport;
use fetcher::platforms::instagram::api::{IgTarget, InstagramApi, Login};
use fetcher::platforms::instagram::export::InstagramExport;
use fetcher::platforms::snapchat::export::SnapchatExport;
use fetcher::platforms::snapchat::web::{SnapTarget, SnapchatWeb};
use fetcher::platforms::x::api::{Target, XApi};
use fetcher::platforms::x::export::XExport;
use fetcher::platforms::youtube::api::{ChannelTarget, YouTubeApi, YtAuth};
use fetcher::platforms::youtube::takeout::YouTubeTakeout;
use fetcher::{FetchError, Secret, Source};
use model::{AccountId, Platform};
use runner::batch::{OpenError, Opened, Sources};
use runner::registry::{KeySet, RoutePreference, credential_env_var, credential_secrets_key};
use runner::state::Claim;

use crate::config::Config;

/// The route an account is captured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    Api,
    Export,
    Web,
}

/// What the route choice looks at.
pub struct Wanted {
    pub platform: Platform,
    pub route: RoutePreference,
    pub has_export: bool,
    pub has_credential: bool,
}

/// Which route captures an account, or why none can.
pub fn choose_route(w: &Wanted) -> Result<Chosen, String> {
    let web = w.platform == Platform::Snapchat;
    match w.route {
        RoutePreference::Auto | RoutePreference::Export if w.has_export => Ok(Chosen::Export),
        // Snapchat public profiles have no API: the public page is their only live route.
        RoutePreference::Auto | RoutePreference::Web if web => Ok(Chosen::Web),
        RoutePreference::Auto if w.has_credential => Ok(Chosen::Api),
        RoutePreference::Auto => Err(
            "no export and no credential: name a credential (API) or the owner's export files in \
             the registry"
                .into(),
        ),
        RoutePreference::Export => Err("route export but no export files listed".into()),
        RoutePreference::Api if web => {
            Err("Snapchat has no API for public profiles: use route web or export".into())
        }
        RoutePreference::Api if w.has_credential => Ok(Chosen::Api),
        RoutePreference::Api => Err("route api needs a credential name in the registry".into()),
        RoutePreference::Web => Err(format!(
            "tawthiq has no public-web route for {}: use api or export",
            w.platform
        )),
    }
}

/// The credentials a run may use (resolved once, up front) and the shared transport.
pub struct RegistrySources {
    transport: Transport,
    /// This run's registry, as key hashes: the run state may hold accounts other registries
    /// (or an older version of this one) listed.
    listed: KeySet,
    credentials: HashMap<String, Secret>,
    yt_dlp: Option<PathBuf>,
    /// Fetch the download links a Snapchat export lists (they expire, so by default yes).
    fetch_links: bool,
}

/// Resolves every credential the registry names, up front: the missing ones are reported
/// (all of them, by name and where to put each) before anything is opened or started.
pub fn resolve_credentials(
    names: &BTreeSet<String>,
    cfg: &Config,
) -> anyhow::Result<HashMap<String, Secret>> {
    let mut credentials = HashMap::new();
    let mut missing: Vec<&str> = Vec::new();
    for name in names {
        // `secret(key)` reads TAWTHIQ_<KEY> = TAWTHIQ_CRED_<NAME>, else `key` in the file.
        match cfg.secret(&credential_secrets_key(name))? {
            Some(secret) => {
                credentials.insert(name.clone(), secret);
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing
            .iter()
            .take(10)
            .map(|name| {
                format!(
                    "{name} (set {}, or {} in the secrets file)",
                    credential_env_var(name),
                    credential_secrets_key(name)
                )
            })
            .collect();
        let more = missing.len().saturating_sub(10);
        anyhow::bail!(
            "{} credential(s) named in the registry are not set: {}{}",
            missing.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(credentials)
}

impl RegistrySources {
    pub fn new(
        transport: Transport,
        listed: KeySet,
        credentials: HashMap<String, Secret>,
        cfg: &Config,
        fetch_links: bool,
    ) -> RegistrySources {
        RegistrySources {
            transport,
            listed,
            credentials,
            yt_dlp: cfg.yt_dlp(),
            fetch_links,
        }
    }

    fn credential(&self, claim: &Claim) -> Result<Secret, FetchError> {
        let name = claim
            .credential_ref
            .as_deref()
            .ok_or_else(|| FetchError::Config("no credential named".into()))?;
        // Another process's registry may have named a credential this one was not given.
        self.credentials.get(name).cloned().ok_or_else(|| {
            FetchError::Config(format!(
                "credential {name} is not set for this run (set {} or {} in the secrets file, \
                 and list it in this run's registry)",
                credential_env_var(name),
                credential_secrets_key(name)
            ))
        })
    }

    fn api<'a>(&'a self, claim: &Claim) -> Result<Box<dyn Source + 'a>, FetchError> {
        let t = &self.transport;
        let secret = self.credential(claim)?;
        let account = &claim.account;
        Ok(match claim.platform {
            Platform::X => Box::new(XApi::new(t, secret, account.parse::<Target>()?)),
            Platform::Instagram => Box::new(InstagramApi::new(
                t,
                secret,
                Login::Instagram,
                account.parse::<IgTarget>()?,
            )),
            Platform::Facebook => {
                Box::new(FacebookApi::new(t, secret, account.parse::<PageTarget>()?))
            }
            Platform::Youtube => {
                let mut source =
                    YouTubeApi::new(t, YtAuth::OAuth(secret), account.parse::<ChannelTarget>()?);
                if let Some(program) = &self.yt_dlp {
                    source = source.with_yt_dlp(program.clone());
                }
                Box::new(source)
            }
            Platform::Snapchat => {
                return Err(FetchError::Config(
                    "Snapchat has no API route for public profiles".into(),
                ));
            }
        })
    }

    async fn export<'a>(
        &'a self,
        platform: Platform,
        files: &[PathBuf],
    ) -> Result<Box<dyn Source + 'a>, FetchError> {
        Ok(match platform {
            Platform::X => {
                let [zip] = files else {
                    return Err(FetchError::Config(format!(
                        "an X archive is one zip; the registry lists {}",
                        files.len()
                    )));
                };
                Box::new(XExport::open(zip).await?)
            }
            Platform::Instagram => Box::new(InstagramExport::open(files).await?),
            Platform::Facebook => Box::new(FacebookExport::open(files).await?),
            Platform::Youtube => Box::new(YouTubeTakeout::open(files).await?),
            Platform::Snapchat => {
                let source = SnapchatExport::open(files).await?;
                if self.fetch_links {
                    Box::new(source.fetch_links(&self.transport))
                } else {
                    Box::new(source)
                }
            }
        })
    }
}

#[async_trait]
impl Sources for RegistrySources {
    async fn open<'a>(&'a self, claim: &Claim) -> Result<Opened<'a>, OpenError> {
        let refuse = |kind: &'static str, message: String, retryable: bool| OpenError {
            kind,
            message: format!("{}: {message}", claim.key),
            retryable,
        };
        if !self.listed.contains(&claim.key) {
            return Err(refuse(
                "not_in_registry",
                "in the run state but not in this run's registry: run with the registry that \
                 lists it, or leave it"
                    .into(),
                false,
            ));
        }
        let route = claim
            .route
            .as_deref()
            .unwrap_or_default()
            .parse::<RoutePreference>()
            .map_err(|message| refuse("route", message, false))?;
        let exports: Vec<PathBuf> = claim.exports.iter().map(PathBuf::from).collect();
        let chosen = choose_route(&Wanted {
            platform: claim.platform,
            route,
            has_export: !exports.is_empty(),
            has_credential: claim.credential_ref.is_some(),
        })
        .map_err(|message| refuse("route", message, false))?;
        let opened = match chosen {
            Chosen::Api => self.api(claim),
            Chosen::Export => self.export(claim.platform, &exports).await,
            Chosen::Web => claim
                .account
                .parse::<SnapTarget>()
                .map(|t| Box::new(SnapchatWeb::new(&self.transport, t)) as Box<dyn Source>),
        };
        let source = opened.map_err(|e| refuse(e.kind(), e.to_string(), e.is_retryable()))?;
        // Exports name their own account; a handle or id names the bundle if the platform
        // answers that the account is gone.
        let fallback_account = (chosen != Chosen::Export)
            .then(|| AccountId::new(claim.account.trim_start_matches('@')).ok())
            .flatten();
        Ok(Opened {
            source,
            fallback_account,
        })
    }
}

/// Export paths as the run state stores them (text: the registry wrote them as text).
pub fn export_paths(exports: &[PathBuf]) -> Vec<String> {
    exports
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}
