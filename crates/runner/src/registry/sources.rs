//! The sources of a batch: each claimed account opened through the one registry of sources
//! ([`fetcher::sources`]) with its credential looked up by name, and the account the capture
//! turns out to hold checked against the registry's other lines.
//!
//! Everything an account needs travels in its claim (handle, route and auth choice, credential
//! name, export files: the registry as last fed into the run state), so the runner holds only a
//! 64-bit hash per account (to refuse accounts its registry no longer lists).
//!
//! **One account, one line.** A registry may name one account on two lines (`@name` on one,
//! its numeric id on another; an API line and an export line), which no check can see before
//! the platform or the export says who the account is. When a capture learns its account, the
//! keys every other line naming that account would have (`x:@name`, `x:<id>`) are looked up:
//! - none is listed in this registry: the capture goes on (the usual case, no lookup);
//! - another line's capture of the same account runs in this process: this one waits for its
//!   result (two captures of one account in the same second would make the same bundle id);
//! - another line has recorded a bundle of it (and this line none older): this line is refused
//!   as a duplicate naming that line ([`FetchError::Identity`], kind `duplicate_account`), and
//!   the account is not archived twice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fetcher::sources::{AccountCheck, Plan, SourceRequest, SourceSpec};
use fetcher::{FetchError, Identity, IdentityProblem, Secret, Transport};
use model::{Platform, Route};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::handle::canonical_account;
use super::{KeySet, Registry, credential_env_var, credential_secrets_key, parse_route_text};
use crate::batch::{OpenError, Opened, Sources};
use crate::state::{Claim, StateStore};

/// What a batch's sources share besides credentials.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// `YouTube` API: the yt-dlp executable that downloads the video files.
    pub yt_dlp: Option<PathBuf>,
    /// Snapchat exports: fetch the memories' download links (they expire, so by default yes).
    pub fetch_links: bool,
}

/// Opens the source of each claimed account of a registry.
pub struct RegistrySources {
    transport: Transport,
    /// The registry file, read again only to name the line of a duplicate account.
    registry: PathBuf,
    /// This run's registry, as key hashes: the run state may hold accounts other registries
    /// (or an older version of this one) listed.
    listed: KeySet,
    credentials: HashMap<String, Secret>,
    options: SourceOptions,
    state: Arc<dyn StateStore>,
    busy: Arc<Busy>,
}

impl RegistrySources {
    /// `credentials`: every credential the registry names, resolved up front.
    pub fn new(
        transport: Transport,
        registry: PathBuf,
        listed: KeySet,
        credentials: HashMap<String, Secret>,
        state: Arc<dyn StateStore>,
        options: SourceOptions,
    ) -> RegistrySources {
        RegistrySources {
            transport,
            registry,
            listed,
            credentials,
            options,
            state,
            busy: Arc::default(),
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

    /// Refuses the account `who` for the line `own` when another listed line archived it
    /// first; waits while another line's capture of it runs in this process. The lock taken
    /// is put in `hold`, which the batch keeps until this claim's result is recorded.
    async fn one_line_per_account(
        &self,
        platform: Platform,
        own: &str,
        who: &Identity,
        hold: &Mutex<Option<Held>>,
    ) -> Result<(), FetchError> {
        let keys = identity_keys(platform, who);
        let others: Vec<&String> = keys
            .iter()
            .filter(|k| k.as_str() != own && self.listed.contains(k))
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let lock = Busy::acquire(&self.busy, keys.iter().cloned().collect()).await;
        *hold
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(lock);
        let first =
            |bundles: &[crate::state::BundleRecord]| bundles.iter().map(|b| b.completed_at).min();
        let ours = first(&self.state.bundles(own).await.map_err(|e| state_error(&e))?);
        for other in others {
            let theirs = self
                .state
                .bundles(other)
                .await
                .map_err(|e| state_error(&e))?;
            let Some(since) = first(&theirs) else {
                continue;
            };
            // Two lines that both archived the account before (an older tawthiq did): the
            // line that archived it first keeps it.
            if ours.is_some_and(|ours: OffsetDateTime| ours < since) {
                continue;
            }
            let latest = theirs
                .iter()
                .max_by_key(|b| b.completed_at)
                .map_or_else(String::new, |b| format!(" as {}", b.bundle_id));
            let line = Registry::line_of(&self.registry, other)
                .ok()
                .flatten()
                .map_or_else(|| "another line".to_owned(), |n| format!("line {n}"));
            return Err(FetchError::Identity {
                problem: IdentityProblem::Duplicate,
                detail: format!(
                    "{platform} account {who} is also named on {line} ({other}), which archived \
                     it{latest}: not archived again from this line (remove one of the two lines)"
                ),
            });
        }
        Ok(())
    }
}

fn state_error(e: &crate::state::StateError) -> FetchError {
    // A sink error: the batch retries it, as it does a full disk.
    FetchError::Sink(format!("run state: {e}"))
}

/// The registry keys that name the account `who` (`x:<id>`, `x:@<name>`), in their canonical
/// form ([`canonical_account`]).
fn identity_keys(platform: Platform, who: &Identity) -> BTreeSet<String> {
    let handle = who.handle.as_ref().map(|h| format!("@{h}"));
    who.ids
        .iter()
        .chain(handle.as_ref())
        .filter_map(|name| canonical_account(platform, name).ok())
        .map(|account| format!("{platform}:{account}"))
        .collect()
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
        let (route, auth) = parse_route_text(claim.route.as_deref().unwrap_or_default())
            .map_err(|message| refuse("route", message, false))?;
        let exports: Vec<PathBuf> = claim.exports.iter().map(PathBuf::from).collect();
        let fetch_error = |e: FetchError| refuse(e.kind(), e.to_string(), e.is_retryable());
        // The registry check ran the same plan; an older run state may hold another line.
        let plan = Plan::new(&SourceRequest {
            platform: claim.platform,
            route,
            account: Some(&claim.account),
            has_credential: claim.credential_ref.is_some(),
            auth,
            exports: &exports,
        })
        .map_err(fetch_error)?;
        let credential = if plan.route == Route::Api {
            Some(self.credential(claim).map_err(fetch_error)?)
        } else {
            None
        };
        let fallback_account = plan.fallback_account();
        let hold = Arc::new(Mutex::new(None));
        let check = OneLine {
            sources: self,
            key: claim.key.clone(),
            hold: Arc::clone(&hold),
        };
        let spec = SourceSpec {
            plan,
            credential,
            yt_dlp: self.options.yt_dlp.clone(),
            fetch_links: self.options.fetch_links,
            check: Some(Box::new(check)),
        };
        let source = fetcher::sources::open(spec, &self.transport)
            .await
            .map_err(fetch_error)?;
        Ok(Opened {
            source,
            fallback_account,
            hold: Some(Box::new(hold)),
        })
    }
}

/// The batch's [`AccountCheck`] for one claim.
struct OneLine<'a> {
    sources: &'a RegistrySources,
    key: String,
    hold: Arc<Mutex<Option<Held>>>,
}

#[async_trait]
impl AccountCheck for OneLine<'_> {
    async fn check(&self, platform: Platform, who: &Identity) -> Result<(), FetchError> {
        self.sources
            .one_line_per_account(platform, &self.key, who, &self.hold)
            .await
    }
}

/// The registry keys of accounts being captured in this process.
#[derive(Default)]
struct Busy {
    keys: Mutex<HashSet<String>>,
    released: Notify,
}

impl Busy {
    /// Waits until none of `keys` is busy, then marks them all busy until the [`Held`] drops.
    async fn acquire(busy: &Arc<Busy>, keys: Vec<String>) -> Held {
        loop {
            // Registered before looking, so a release in between is not missed.
            let released = busy.released.notified();
            {
                let mut taken = busy
                    .keys
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.iter().all(|k| !taken.contains(k)) {
                    taken.extend(keys.iter().cloned());
                    return Held {
                        busy: Arc::clone(busy),
                        keys,
                    };
                }
            }
            released.await;
        }
    }
}

/// Keys marked busy; released (and waiters woken) on drop.
struct Held {
    busy: Arc<Busy>,
    keys: Vec<String>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut taken = self
            .busy
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for k in &self.keys {
            taken.remove(k);
        }
        drop(taken);
        self.busy.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_names_the_keys_of_every_spelling() {
        let who = Identity::new(Some("1456"), Some("AlNoor_School"));
        assert_eq!(
            identity_keys(Platform::X, &who)
                .into_iter()
                .collect::<Vec<_>>(),
            ["x:1456", "x:@alnoor_school"]
        );
        let channel = Identity::new(Some("UCa1B2c3D4e5F6g7H8i9J0kL"), Some("@NoorSchool"));
        assert_eq!(
            identity_keys(Platform::Youtube, &channel)
                .into_iter()
                .collect::<Vec<_>>(),
            ["youtube:@noorschool", "youtube:UCa1B2c3D4e5F6g7H8i9J0kL"]
        );
    }

    #[tokio::test]
    async fn a_busy_account_waits_for_the_other_capture() {
        let busy = Arc::new(Busy::default());
        let first = Busy::acquire(&busy, vec!["x:1".into(), "x:@a".into()]).await;
        let waiting = tokio::spawn({
            let busy = Arc::clone(&busy);
            async move { Busy::acquire(&busy, vec!["x:@a".into()]).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(second.keys, ["x:@a"]);
    }
}
