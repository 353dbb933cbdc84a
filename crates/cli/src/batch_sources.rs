//! The sources of a batch: each claimed account's registry row turned into the adapter that
//! captures it, with its credential looked up by name (environment or secrets file).
//!
//! Route choice for `auto`: the owner's export when the registry lists one (the most
//! complete record), else the API when a credential is named, else the public web page
//! (Snapchat only). An explicit route is honoured or refused with the reason.

use std::collections::HashMap;
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
use runner::registry::{RegistryAccount, RoutePreference};
use runner::state::Claim;

use crate::config::Config;

/// The route an account is captured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    Api,
    Export,
    Web,
}

/// Which route captures `account`, or why none can.
pub fn choose_route(account: &RegistryAccount) -> Result<Chosen, String> {
    let has_export = !account.exports.is_empty();
    let has_credential = account.credential.is_some();
    let web = account.platform == Platform::Snapchat;
    match account.route {
        RoutePreference::Auto if has_export => Ok(Chosen::Export),
        // Snapchat public profiles have no API: the public page is their only live route.
        RoutePreference::Auto | RoutePreference::Web if web => Ok(Chosen::Web),
        RoutePreference::Auto if has_credential => Ok(Chosen::Api),
        RoutePreference::Auto => Err(format!(
            "{}: no export and no credential: name a credential (API) or the owner's export files in the registry",
            account.key()
        )),
        RoutePreference::Export if has_export => Ok(Chosen::Export),
        RoutePreference::Export => Err(format!(
            "{}: route export but no export files listed",
            account.key()
        )),
        RoutePreference::Api if account.platform == Platform::Snapchat => Err(format!(
            "{}: Snapchat has no API for public profiles: use route web or export",
            account.key()
        )),
        RoutePreference::Api if has_credential => Ok(Chosen::Api),
        RoutePreference::Api => Err(format!(
            "{}: route api needs a credential name in the registry",
            account.key()
        )),
        RoutePreference::Web => Err(format!(
            "{}: tawthiq has no public-web route for {}: use api or export",
            account.key(),
            account.platform
        )),
    }
}

/// The registry's accounts with their resolved credentials, and the shared transport.
///
/// Only what opening a source needs is kept per account (not the entity's names), so that a
/// registry of 130,000 accounts costs the runner a few tens of MB.
pub struct RegistrySources {
    transport: Transport,
    accounts: HashMap<String, RegistryAccount>,
    credentials: HashMap<String, Secret>,
    yt_dlp: Option<PathBuf>,
    /// Fetch the download links a Snapchat export lists (they expire, so by default yes).
    fetch_links: bool,
}

/// Resolves every credential the registry names, up front: the missing ones are reported
/// (all of them, by name and where to put each) before anything is opened or started.
pub fn resolve_credentials(
    accounts: &[RegistryAccount],
    cfg: &Config,
) -> anyhow::Result<HashMap<String, Secret>> {
    let mut credentials = HashMap::new();
    let mut missing: Vec<(String, String, String)> = Vec::new();
    for a in accounts {
        let (Some(name), Some(var), Some(key)) = (
            a.credential.as_ref(),
            a.credential_env_var(),
            a.credential_secrets_key(),
        ) else {
            continue;
        };
        if credentials.contains_key(name) || missing.iter().any(|(n, _, _)| n == name) {
            continue;
        }
        // `secret(key)` reads TAWTHIQ_<KEY> = TAWTHIQ_CRED_<NAME>, else `key` in the file.
        match cfg.secret(&key)? {
            Some(secret) => {
                credentials.insert(name.clone(), secret);
            }
            None => missing.push((name.clone(), var, key)),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing
            .iter()
            .take(10)
            .map(|(name, var, key)| format!("{name} (set {var}, or {key} in the secrets file)"))
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
        accounts: Vec<RegistryAccount>,
        credentials: HashMap<String, Secret>,
        cfg: &Config,
        fetch_links: bool,
    ) -> RegistrySources {
        RegistrySources {
            transport,
            accounts: accounts
                .into_iter()
                .map(|mut a| {
                    // The entity is the report's business, not the capture's.
                    a.entity.name = String::new();
                    a.entity.region = None;
                    a.exports.shrink_to_fit();
                    (a.key(), a)
                })
                .collect(),
            credentials,
            yt_dlp: cfg.yt_dlp(),
            fetch_links,
        }
    }

    fn credential(&self, account: &RegistryAccount) -> Result<Secret, OpenError> {
        account
            .credential
            .as_ref()
            .and_then(|name| self.credentials.get(name))
            .cloned()
            .ok_or_else(|| OpenError {
                kind: "credential",
                message: format!("{}: no credential", account.key()),
                retryable: false,
            })
    }

    fn api<'a>(&'a self, a: &RegistryAccount) -> Result<Box<dyn Source + 'a>, FetchError> {
        let t = &self.transport;
        let secret = self
            .credential(a)
            .map_err(|e| FetchError::Config(e.message))?;
        Ok(match a.platform {
            Platform::X => Box::new(XApi::new(t, secret, a.account.parse::<Target>()?)),
            Platform::Instagram => Box::new(InstagramApi::new(
                t,
                secret,
                Login::Instagram,
                a.account.parse::<IgTarget>()?,
            )),
            Platform::Facebook => Box::new(FacebookApi::new(
                t,
                secret,
                a.account.parse::<PageTarget>()?,
            )),
            Platform::Youtube => {
                let mut source = YouTubeApi::new(
                    t,
                    YtAuth::OAuth(secret),
                    a.account.parse::<ChannelTarget>()?,
                );
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

    async fn export<'a>(&'a self, a: &RegistryAccount) -> Result<Box<dyn Source + 'a>, FetchError> {
        let files = &a.exports;
        Ok(match a.platform {
            Platform::X => {
                let [zip] = files.as_slice() else {
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
        let Some(account) = self.accounts.get(&claim.key) else {
            return Err(OpenError {
                kind: "not_in_registry",
                message: format!(
                    "{} is in the run state but not in this registry: run with the registry that listed it",
                    claim.key
                ),
                retryable: false,
            });
        };
        let route = choose_route(account).map_err(|message| OpenError {
            kind: "route",
            message,
            retryable: false,
        })?;
        let opened = match route {
            Chosen::Api => self.api(account),
            Chosen::Export => self.export(account).await,
            Chosen::Web => account
                .account
                .parse::<SnapTarget>()
                .map(|t| Box::new(SnapchatWeb::new(&self.transport, t)) as Box<dyn Source>),
        };
        let source = opened.map_err(|e| OpenError {
            kind: e.kind(),
            message: format!("{}: {e}", claim.key),
            retryable: e.is_retryable(),
        })?;
        // Exports name their own account; a handle or id names the bundle if the platform
        // answers that the account is gone.
        let fallback_account = (route != Chosen::Export)
            .then(|| AccountId::new(account.account.trim_start_matches('@')).ok())
            .flatten();
        Ok(Opened {
            source,
            fallback_account,
        })
    }
}
