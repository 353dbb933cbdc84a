//! The one registry of sources: which adapter captures an account, by platform × route, and
//! each platform's grammar for naming an account on a route.
//!
//! Every capture starts here: `tawthiq archive` and `tawthiq import` (a command line), the
//! registry check of `tawthiq run` (every line, before anything starts) and a batch worker's
//! claim. The same [`Plan::new`] decides for each of them whether the request can run and
//! which route takes it, so a registry line is refused at check time exactly when its adapter
//! would refuse it; [`open`] then builds the adapter (one match over platform × route),
//! wrapped so that the account the capture holds is compared with the one named
//! ([`Target::confirm`]) before anything is stored.
//!
//! ```
//! use fetcher::sources::{Plan, RoutePreference, SourceRequest, Target};
//! use model::{Platform, Route};
//!
//! let line = SourceRequest {
//!     platform: Platform::Instagram,
//!     route: RoutePreference::Auto,
//!     account: Some("17841405822304914"),
//!     has_credential: true,
//!     auth: None,
//!     exports: &[],
//! };
//! let plan = Plan::new(&line).unwrap();
//! assert_eq!(plan.route, Route::Api);
//! assert_eq!(plan.target, Target::Id("17841405822304914".into()));
//! // The Instagram API cannot look an account up by username: refused before anything runs.
//! let by_name = SourceRequest { account: Some("@noor.school"), ..line };
//! assert!(Plan::new(&by_name).unwrap_err().to_string().contains("not a username"));
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use async_trait::async_trait;
use bytes::Bytes;
use model::{AccountId, CaptureLogEntry, Gap, Item, Platform, Profile, Route};

use crate::auth::Secret;
use crate::error::{FetchError, IdentityProblem, Result};
use crate::platforms::facebook::api::{FacebookApi, PageTarget};
use crate::platforms::facebook::export::FacebookExport;
use crate::platforms::instagram::api::{IgTarget, InstagramApi, Login};
use crate::platforms::instagram::export::InstagramExport;
use crate::platforms::snapchat::export::SnapchatExport;
use crate::platforms::snapchat::web::{SnapTarget, SnapchatWeb};
use crate::platforms::x;
use crate::platforms::x::export::XExport;
use crate::platforms::youtube::api::{ChannelTarget, YouTubeApi, YtAuth};
use crate::platforms::youtube::takeout::YouTubeTakeout;
use crate::source::{ByteStream, Identity, Report, Sink, Source, Stored};
use crate::transport::Transport;

fn config(message: impl Into<String>) -> FetchError {
    FetchError::Config(message.into())
}

/// How a command or registry line asks for the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RoutePreference {
    /// Let the registry choose: the owner's export when files are listed, else the public page
    /// (Snapchat), else the API with the named credential.
    #[default]
    Auto,
    Api,
    Export,
    Web,
}

impl RoutePreference {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutePreference::Auto => "auto",
            RoutePreference::Api => "api",
            RoutePreference::Export => "export",
            RoutePreference::Web => "web",
        }
    }
}

impl fmt::Display for RoutePreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoutePreference {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(RoutePreference::Auto),
            "api" => Ok(RoutePreference::Api),
            "export" => Ok(RoutePreference::Export),
            "web" => Ok(RoutePreference::Web),
            _ => Err(format!(
                "route {:?} is unknown: use api, export, web or auto (empty means auto)",
                s.trim()
            )),
        }
    }
}

/// How an API credential is used, where a platform offers a choice (`archive`'s choices,
/// which a registry line makes with its `auth` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthChoice {
    /// Instagram: a token from Instagram Login (`graph.instagram.com`; the default).
    InstagramLogin,
    /// Instagram: a token from Facebook Login (`graph.facebook.com`).
    FacebookLogin,
    /// `YouTube`: the owner's OAuth token (private videos, captions; the default).
    OAuth,
    /// `YouTube`: an API key (public data only).
    ApiKey,
}

impl AuthChoice {
    /// The platform the choice belongs to.
    pub fn platform(self) -> Platform {
        match self {
            AuthChoice::InstagramLogin | AuthChoice::FacebookLogin => Platform::Instagram,
            AuthChoice::OAuth | AuthChoice::ApiKey => Platform::Youtube,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthChoice::InstagramLogin => "instagram_login",
            AuthChoice::FacebookLogin => "facebook_login",
            AuthChoice::OAuth => "oauth",
            AuthChoice::ApiKey => "api_key",
        }
    }
}

impl fmt::Display for AuthChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let key = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        match key.as_str() {
            "instagram" | "instagram_login" => Ok(AuthChoice::InstagramLogin),
            "facebook" | "facebook_login" => Ok(AuthChoice::FacebookLogin),
            "oauth" => Ok(AuthChoice::OAuth),
            "api_key" | "apikey" | "key" => Ok(AuthChoice::ApiKey),
            _ => Err(format!(
                "auth {:?} is unknown: use instagram_login or facebook_login (instagram), oauth \
                 or api_key (youtube)",
                s.trim()
            )),
        }
    }
}

/// The account a command or registry line names, in the platform's grammar for its route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Whichever account the credential belongs to (`me`, `mine`), or, for an import that
    /// names none, the account the export belongs to.
    Own,
    /// A handle or username, without `@`, as written.
    Handle(String),
    /// A platform id: numeric (X, Instagram, Facebook) or a `YouTube` channel id (`UC…`).
    Id(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Own => f.write_str("me"),
            Target::Handle(h) => write!(f, "@{h}"),
            Target::Id(id) => f.write_str(id),
        }
    }
}

impl Target {
    /// `text` as the account to capture through `route` on `platform`, or the adapter's own
    /// one-line refusal. API and web routes take exactly what their adapters look accounts up
    /// by; an export route takes what the export names its account by (it is compared with
    /// the export, which always wins the lookup).
    pub fn parse(platform: Platform, route: Route, text: &str) -> Result<Target> {
        match route {
            Route::Api => api_target(platform, text),
            Route::Web => match platform {
                Platform::Snapchat => {
                    let target: SnapTarget = text.parse()?;
                    Ok(Target::Handle(target.username().to_owned()))
                }
                _ => Err(no_web_route(platform)),
            },
            Route::Export => export_target(platform, text),
            Route::Manual => Err(config(
                "manual evidence is packed with tawthiq bundle, not captured",
            )),
        }
    }

    /// The account to file a bundle under when the source cannot name it (an account-state
    /// answer before the account's id was read, an export that names no account); `None` for
    /// [`Target::Own`] and for names that are not valid account ids (an Arabic handle).
    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            Target::Own => None,
            Target::Handle(h) => AccountId::new(h).ok(),
            Target::Id(id) => AccountId::new(id).ok(),
        }
    }

    /// Compares the account named with the one the capture holds (`who`, from the platform's
    /// answer or the export): the one place identities are bound. [`Target::Own`] takes any
    /// account, and so does any target when the source names none (an export filed under the
    /// account named, as `--account` documents). An id is matched against the ids, a handle
    /// against the handle (case-insensitively); a capture that names its account only in the
    /// other form cannot be confirmed and is refused too.
    pub fn confirm(&self, platform: Platform, route: Route, who: &Identity) -> Result<()> {
        if *self == Target::Own || !who.is_known() {
            return Ok(());
        }
        let (matches, comparable) = match self {
            Target::Own => (true, true),
            Target::Id(id) => (who.ids.iter().any(|i| i == id), !who.ids.is_empty()),
            Target::Handle(h) => (
                who.handle
                    .as_deref()
                    .is_some_and(|g| g.to_lowercase() == h.to_lowercase()),
                who.handle.is_some(),
            ),
        };
        if matches {
            return Ok(());
        }
        let holder = match route {
            Route::Export => "the export",
            Route::Web => "the page",
            Route::Api | Route::Manual => "the platform's answer",
        };
        let detail = if comparable {
            format!(
                "{platform} account mismatch: {self} was named, but {holder} belongs to {who}; \
                 nothing was recorded (give {self}'s own export or token, or correct the account \
                 named)"
            )
        } else {
            format!(
                "{platform} account unconfirmed: {self} was named, but {holder} names its account \
                 only as {who}; nothing was recorded (name the account as {who})"
            )
        };
        Err(FetchError::Identity {
            problem: IdentityProblem::Mismatch,
            detail,
        })
    }
}

fn no_web_route(platform: Platform) -> FetchError {
    config(format!(
        "tawthiq has no public-web route for {platform}: use api or export"
    ))
}

/// What each API adapter looks an account up by: its own grammar, made a [`Target`].
fn api_target(platform: Platform, text: &str) -> Result<Target> {
    Ok(match platform {
        Platform::X => match text.parse::<x::api::Target>()? {
            x::api::Target::Me => Target::Own,
            x::api::Target::Username(h) => Target::Handle(h),
            x::api::Target::Id(id) => Target::Id(id),
        },
        Platform::Instagram => match text.parse::<IgTarget>()? {
            IgTarget::Me => Target::Own,
            IgTarget::Id(id) => Target::Id(id),
        },
        Platform::Facebook => match text.parse::<PageTarget>()? {
            PageTarget::Me => Target::Own,
            PageTarget::Id(id) => Target::Id(id),
        },
        Platform::Youtube => match text.parse::<ChannelTarget>()? {
            ChannelTarget::Mine => Target::Own,
            ChannelTarget::Handle(h) => Target::Handle(h),
            ChannelTarget::Id(id) => Target::Id(id),
        },
        Platform::Snapchat => return Err(no_snapchat_api()),
    })
}

/// Why an API adapter cannot look `target` up (a plan made without [`Plan::new`]).
fn api_refusal(platform: Platform, target: &Target) -> FetchError {
    match api_target(platform, &target.to_string()) {
        Err(e) => e,
        Ok(_) => config(format!("{platform} api: cannot look up {target}")),
    }
}

fn no_snapchat_api() -> FetchError {
    config("Snapchat has no API for public profiles: use route web or export")
}

/// What an export can be checked against: the forms in which each platform's export names its
/// account (an X archive: id and username; Meta's DYI: username; Takeout: channel id; Snapchat
/// My Data: username).
fn export_target(platform: Platform, text: &str) -> Result<Target> {
    let s = text.trim();
    if s.eq_ignore_ascii_case("me") || s.eq_ignore_ascii_case("mine") {
        return Err(config(format!(
            "{platform} export: {s:?} names no account; give the account the export must belong \
             to, or none"
        )));
    }
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let name = s.strip_prefix('@').unwrap_or(s);
    let plain_name = !name.is_empty()
        && name.len() <= 50
        && AccountId::new(name).is_ok()
        && name.bytes().all(|b| b != b'-');
    match platform {
        Platform::X => match text.parse::<x::api::Target>()? {
            x::api::Target::Me => Err(config(
                "x export: name the account the archive must belong to",
            )),
            x::api::Target::Username(h) => Ok(Target::Handle(h)),
            x::api::Target::Id(id) => Ok(Target::Id(id)),
        },
        Platform::Instagram | Platform::Facebook if digits => Err(config(format!(
            "{platform} export: {s:?} is a numeric id, but a Download Your Information export \
             names its account only by username: give @username"
        ))),
        Platform::Instagram | Platform::Facebook if plain_name => {
            Ok(Target::Handle(name.to_owned()))
        }
        Platform::Instagram | Platform::Facebook => Err(config(format!(
            "{platform} export: account {s:?}: expected @username (letters, digits, \".\" or \
             \"_\")"
        ))),
        Platform::Youtube => match text.parse::<ChannelTarget>() {
            Ok(ChannelTarget::Id(id)) => Ok(Target::Id(id)),
            _ => Err(config(format!(
                "youtube export: {s:?}: a Google Takeout names its channel only by id: give the \
                 channel id (UC…)"
            ))),
        },
        Platform::Snapchat => {
            let target: SnapTarget = text.parse()?;
            Ok(Target::Handle(target.username().to_owned()))
        }
    }
}

/// What a command or a registry line asks for, before any secret is read.
#[derive(Debug, Clone, Copy)]
pub struct SourceRequest<'a> {
    pub platform: Platform,
    pub route: RoutePreference,
    /// The account as named; `None` lets an export name its own account.
    pub account: Option<&'a str>,
    /// Whether an API credential is named (a registry) or at hand (a command).
    pub has_credential: bool,
    pub auth: Option<AuthChoice>,
    /// The owner's export files.
    pub exports: &'a [PathBuf],
}

/// A request the platform's grammar accepts: what [`open`] builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub platform: Platform,
    pub route: Route,
    pub target: Target,
    pub auth: Option<AuthChoice>,
    pub exports: Vec<PathBuf>,
}

impl Plan {
    /// Checks a request against the route rules and the platform's target grammar; the error
    /// is one line saying what to change.
    pub fn new(r: &SourceRequest) -> Result<Plan> {
        let route = choose_route(r)?;
        if route == Route::Export && r.platform == Platform::X && r.exports.len() != 1 {
            return Err(config(format!(
                "an X archive is one zip; {} were given",
                r.exports.len()
            )));
        }
        if let Some(auth) = r.auth {
            if auth.platform() != r.platform {
                return Err(config(format!(
                    "auth {auth} is a {} choice, not {}'s",
                    auth.platform(),
                    r.platform
                )));
            }
            if route != Route::Api {
                return Err(config(format!(
                    "auth {auth} applies to the api route, but this account is captured from \
                     its {route}: remove the auth or change the route"
                )));
            }
        }
        let target = match r.account {
            Some(text) => Target::parse(r.platform, route, text)?,
            None if route == Route::Export => Target::Own,
            None => {
                return Err(config(format!(
                    "name the {} account to capture",
                    r.platform
                )));
            }
        };
        if r.platform == Platform::Youtube
            && route == Route::Api
            && target == Target::Own
            && r.auth == Some(AuthChoice::ApiKey)
        {
            return Err(config(YOUTUBE_MINE_NEEDS_OAUTH));
        }
        Ok(Plan {
            platform: r.platform,
            route,
            target,
            auth: r.auth,
            exports: r.exports.to_vec(),
        })
    }

    /// The account to file an account-state answer under when the source fails before it
    /// read the account (API and web routes); an export always names or is given its account.
    pub fn fallback_account(&self) -> Option<AccountId> {
        match self.route {
            Route::Api | Route::Web => self.target.account_id(),
            Route::Export | Route::Manual => None,
        }
    }
}

const YOUTUBE_MINE_NEEDS_OAUTH: &str = "YouTube \"mine\" needs the owner's OAuth token; with an API \
                                        key name the channel (@handle or UC… id)";

/// Which route captures the account, or why none can.
fn choose_route(r: &SourceRequest) -> Result<Route> {
    let web = r.platform == Platform::Snapchat;
    let has_export = !r.exports.is_empty();
    match r.route {
        RoutePreference::Api | RoutePreference::Web if has_export => Err(config(format!(
            "export files are given but the route is {}: set the route to export or auto, or \
             remove the exports",
            r.route
        ))),
        RoutePreference::Auto | RoutePreference::Export if has_export => Ok(Route::Export),
        // Snapchat public profiles have no API: the public page is their only live route.
        RoutePreference::Auto | RoutePreference::Web if web => Ok(Route::Web),
        RoutePreference::Auto if r.has_credential => Ok(Route::Api),
        RoutePreference::Auto => Err(config(
            "no export and no credential: name a credential (API) or the owner's export files",
        )),
        RoutePreference::Export => Err(config(
            "route is export but no export file is given: list the owner's export files in \
             exports",
        )),
        RoutePreference::Api if web => Err(no_snapchat_api()),
        RoutePreference::Api if r.has_credential => Ok(Route::Api),
        RoutePreference::Api => Err(config("route api needs a credential name")),
        RoutePreference::Web => Err(no_web_route(r.platform)),
    }
}

/// A further check of the account a capture holds, after it matched the one named and before
/// anything is stored (a batch refuses an account another registry line archives); an error
/// stops the capture.
#[async_trait]
pub trait AccountCheck: Send + Sync {
    async fn check(&self, platform: Platform, who: &Identity) -> Result<()>;
}

/// Everything [`open`] needs: the plan and what only a run has (the secret, local tools).
pub struct SourceSpec<'t> {
    pub plan: Plan,
    /// The API credential (api route).
    pub credential: Option<Secret>,
    /// `YouTube` API: the yt-dlp executable that downloads the video files.
    pub yt_dlp: Option<PathBuf>,
    /// Snapchat export: fetch the memories' download links (they expire, so by default yes).
    pub fetch_links: bool,
    /// Run after the account was confirmed ([`Target::confirm`]).
    pub check: Option<Box<dyn AccountCheck + 't>>,
}

impl SourceSpec<'_> {
    /// A plan with no secret, no yt-dlp, links fetched and no further check.
    pub fn new(plan: Plan) -> Self {
        SourceSpec {
            plan,
            credential: None,
            yt_dlp: None,
            fetch_links: true,
            check: None,
        }
    }
}

/// Builds the adapter of a plan: the one dispatch over platform × route. The source it
/// returns refuses, before storing anything, an account other than the one the plan names.
pub async fn open<'t>(
    spec: SourceSpec<'t>,
    transport: &'t Transport,
) -> Result<Box<dyn Source + 't>> {
    let SourceSpec {
        plan,
        credential,
        yt_dlp,
        fetch_links,
        check,
    } = spec;
    let inner = match plan.route {
        Route::Api => {
            let secret = credential.ok_or_else(|| config("the api route needs a credential"))?;
            api_source(&plan, secret, yt_dlp, transport)?
        }
        Route::Export => export_source(&plan, fetch_links, transport).await?,
        Route::Web if plan.platform == Platform::Snapchat => Box::new(SnapchatWeb::new(
            transport,
            plan.target.to_string().parse()?,
        )),
        Route::Web => return Err(no_web_route(plan.platform)),
        Route::Manual => {
            return Err(config("manual evidence is packed with tawthiq bundle"));
        }
    };
    Ok(Box::new(Bound {
        inner,
        target: plan.target,
        check,
    }))
}

/// The API adapters, each with the platform's own target and auth choice.
fn api_source<'t>(
    plan: &Plan,
    secret: Secret,
    yt_dlp: Option<PathBuf>,
    transport: &'t Transport,
) -> Result<Box<dyn Source + 't>> {
    let t = &plan.target;
    Ok(match plan.platform {
        Platform::X => {
            let target = match t {
                Target::Own => x::api::Target::Me,
                Target::Handle(h) => x::api::Target::Username(h.clone()),
                Target::Id(id) => x::api::Target::Id(id.clone()),
            };
            Box::new(x::api::XApi::new(transport, secret, target))
        }
        Platform::Instagram => {
            let target = match t {
                Target::Own => IgTarget::Me,
                Target::Id(id) => IgTarget::Id(id.clone()),
                Target::Handle(_) => return Err(api_refusal(plan.platform, t)),
            };
            let login = match plan.auth {
                Some(AuthChoice::FacebookLogin) => Login::Facebook,
                _ => Login::Instagram,
            };
            Box::new(InstagramApi::new(transport, secret, login, target))
        }
        Platform::Facebook => {
            let target = match t {
                Target::Own => PageTarget::Me,
                Target::Id(id) => PageTarget::Id(id.clone()),
                Target::Handle(_) => return Err(api_refusal(plan.platform, t)),
            };
            Box::new(FacebookApi::new(transport, secret, target))
        }
        Platform::Youtube => {
            let target = match t {
                Target::Own => ChannelTarget::Mine,
                Target::Handle(h) => ChannelTarget::Handle(h.clone()),
                Target::Id(id) => ChannelTarget::Id(id.clone()),
            };
            let auth = match plan.auth {
                Some(AuthChoice::ApiKey) => YtAuth::ApiKey(secret),
                _ => YtAuth::OAuth(secret),
            };
            let mut source = YouTubeApi::new(transport, auth, target);
            if let Some(program) = yt_dlp {
                source = source.with_yt_dlp(program);
            }
            Box::new(source)
        }
        Platform::Snapchat => return Err(no_snapchat_api()),
    })
}

/// The export adapters. An export that names no account is filed under the one named (and
/// compared with it otherwise).
async fn export_source<'t>(
    plan: &Plan,
    fetch_links: bool,
    transport: &'t Transport,
) -> Result<Box<dyn Source + 't>> {
    let given = plan.target.account_id();
    Ok(match plan.platform {
        Platform::X => {
            let [zip] = plan.exports.as_slice() else {
                return Err(config(format!(
                    "an X archive is one zip; {} were given",
                    plan.exports.len()
                )));
            };
            Box::new(XExport::open(zip).await?)
        }
        Platform::Instagram => {
            let mut source = InstagramExport::open(&plan.exports).await?;
            if let Some(id) = given {
                source = source.with_account(id);
            }
            Box::new(source)
        }
        Platform::Facebook => {
            let mut source = FacebookExport::open(&plan.exports).await?;
            if let Some(id) = given {
                source = source.with_account(id);
            }
            Box::new(source)
        }
        Platform::Youtube => {
            let mut source = YouTubeTakeout::open(&plan.exports).await?;
            if let Some(id) = given {
                source = source.with_account(id);
            }
            Box::new(source)
        }
        Platform::Snapchat => {
            let mut source = SnapchatExport::open(&plan.exports).await?;
            if let Some(id) = given {
                source = source.with_account(id);
            }
            if fetch_links {
                source = source.fetch_links(transport);
            }
            Box::new(source)
        }
    })
}

/// A source whose account is compared with the one named before anything is stored.
struct Bound<'t> {
    inner: Box<dyn Source + 't>,
    target: Target,
    check: Option<Box<dyn AccountCheck + 't>>,
}

#[async_trait]
impl Source for Bound<'_> {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn route(&self) -> Route {
        self.inner.route()
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let mut checked = Checked {
            platform: self.inner.platform(),
            route: self.inner.route(),
            target: &self.target,
            check: self.check.as_deref(),
            sink,
            identified: false,
        };
        self.inner.capture(&mut checked).await
    }
}

/// The sink a bound source writes into: [`Sink::identify`] confirms the account, and
/// [`Sink::begin`] before it is refused (a source that never says who it holds could file a
/// capture under anyone).
struct Checked<'a> {
    platform: Platform,
    route: Route,
    target: &'a Target,
    check: Option<&'a (dyn AccountCheck + 'a)>,
    sink: &'a mut dyn Sink,
    identified: bool,
}

#[async_trait]
impl Sink for Checked<'_> {
    async fn identify(&mut self, who: &Identity) -> Result<()> {
        self.target.confirm(self.platform, self.route, who)?;
        if let Some(check) = self.check {
            check.check(self.platform, who).await?;
        }
        self.identified = true;
        self.sink.identify(who).await
    }

    async fn begin(&mut self, account: &AccountId) -> Result<()> {
        if !self.identified {
            return Err(FetchError::Sink(format!(
                "the {} {} source began account {account} without saying which account it holds",
                self.platform, self.route
            )));
        }
        self.sink.begin(account).await
    }

    async fn document(&mut self, endpoint: &str, ext: &str, body: Bytes) -> Result<Stored> {
        self.sink.document(endpoint, ext, body).await
    }

    async fn media(
        &mut self,
        ext: Option<&str>,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored> {
        self.sink.media(ext, expected_len, body).await
    }

    async fn export_file(
        &mut self,
        path_in_export: &str,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored> {
        self.sink
            .export_file(path_in_export, expected_len, body)
            .await
    }

    async fn log(&mut self, entry: CaptureLogEntry) -> Result<()> {
        self.sink.log(entry).await
    }

    async fn item(&mut self, item: Item) -> Result<()> {
        self.sink.item(item).await
    }

    async fn profile(&mut self, profile: Profile) -> Result<()> {
        self.sink.profile(profile).await
    }

    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.sink.gap(gap).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{FetchConfig, MemorySink};

    fn plan(
        platform: Platform,
        route: RoutePreference,
        account: &str,
        has_credential: bool,
        exports: &[&str],
    ) -> Result<Plan> {
        let exports: Vec<PathBuf> = exports.iter().map(PathBuf::from).collect();
        Plan::new(&SourceRequest {
            platform,
            route,
            account: Some(account),
            has_credential,
            auth: None,
            exports: &exports,
        })
    }

    fn target(platform: Platform, route: RoutePreference, account: &str) -> Target {
        let exports: &[&str] = if route == RoutePreference::Export {
            &["e.zip"]
        } else {
            &[]
        };
        plan(platform, route, account, true, exports)
            .unwrap_or_else(|e| panic!("{platform} {route} {account}: {e}"))
            .target
    }

    fn refusal(platform: Platform, route: RoutePreference, account: &str) -> String {
        let exports: &[&str] = if route == RoutePreference::Export {
            &["e.zip"]
        } else {
            &[]
        };
        plan(platform, route, account, true, exports)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn each_route_takes_what_its_adapter_looks_accounts_up_by() {
        use Platform::{Facebook, Instagram, Snapchat, X, Youtube};
        use RoutePreference::{Api, Export, Web};
        let handle = |h: &str| Target::Handle(h.into());
        let id = |i: &str| Target::Id(i.into());
        assert_eq!(target(X, Api, "me"), Target::Own);
        assert_eq!(target(X, Api, "@Noor_School"), handle("Noor_School"));
        assert_eq!(target(X, Api, "1456789"), id("1456789"));
        assert_eq!(
            target(Instagram, Api, "17841405822304914"),
            id("17841405822304914")
        );
        assert!(refusal(Instagram, Api, "@noor.school").contains("not a username"));
        assert!(refusal(Facebook, Api, "@noorschool").contains("numeric id"));
        assert_eq!(target(Youtube, Api, "@مدرسة_النور"), handle("مدرسة_النور"));
        let channel = "UCa1B2c3D4e5F6g7H8i9J0kL";
        assert_eq!(target(Youtube, Api, channel), id(channel));
        assert!(refusal(Snapchat, Api, "@noor.school").contains("no API"));
        assert_eq!(target(Snapchat, Web, "@Noor.School"), handle("noor.school"));
        assert!(refusal(X, Web, "@noor").contains("no public-web route for x"));
        // An export is compared with what the export names its account by.
        assert_eq!(target(X, Export, "1456789"), id("1456789"));
        assert_eq!(
            target(Instagram, Export, "@noor.school"),
            handle("noor.school")
        );
        assert!(refusal(Facebook, Export, "100064512345678").contains("only by username"));
        assert!(refusal(Youtube, Export, "@noor").contains("only by id"));
        assert_eq!(target(Youtube, Export, channel), id(channel));
        assert!(refusal(Snapchat, Export, "me").contains("names no account"));
    }

    #[test]
    fn routes_and_choices_follow_the_line() {
        use Platform::{Instagram, Snapchat, X, Youtube};
        use RoutePreference::{Api, Auto, Export, Web};
        let route = |p, r, cred, exports: &[&str]| plan(p, r, "@noor_school", cred, exports);
        assert_eq!(
            route(X, Auto, true, &["a.zip"]).unwrap().route,
            Route::Export
        );
        assert_eq!(route(X, Auto, true, &[]).unwrap().route, Route::Api);
        assert_eq!(route(Snapchat, Auto, false, &[]).unwrap().route, Route::Web);
        for (p, r, cred, exports, why) in [
            (X, Auto, false, &[][..], "no export and no credential"),
            (X, Api, false, &[], "route api needs a credential"),
            (X, Export, false, &[], "no export file is given"),
            (
                X,
                Api,
                true,
                &["a.zip"],
                "export files are given but the route is api",
            ),
            (
                X,
                Export,
                false,
                &["a.zip", "b.zip"],
                "an X archive is one zip; 2 were given",
            ),
            (X, Web, false, &[], "no public-web route"),
        ] {
            let e = route(p, r, cred, exports).unwrap_err().to_string();
            assert!(e.contains(why), "{p} {r}: {e}");
        }
        let with_auth = |p, account: &str, exports: &[PathBuf], auth| {
            Plan::new(&SourceRequest {
                platform: p,
                route: Auto,
                account: Some(account),
                has_credential: true,
                auth: Some(auth),
                exports,
            })
        };
        let ig = with_auth(Instagram, "1784", &[], AuthChoice::FacebookLogin).unwrap();
        assert_eq!(ig.auth, Some(AuthChoice::FacebookLogin));
        let e = with_auth(Instagram, "1784", &[], AuthChoice::ApiKey).unwrap_err();
        assert!(
            e.to_string().contains("auth api_key is a youtube choice"),
            "{e}"
        );
        let e = with_auth(
            Instagram,
            "@n",
            &["a.zip".into()],
            AuthChoice::FacebookLogin,
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("applies to the api route")
        );
        let e = with_auth(Youtube, "mine", &[], AuthChoice::ApiKey).unwrap_err();
        assert!(
            e.to_string().contains("needs the owner's OAuth token"),
            "{e}"
        );
        assert_eq!("API-key".parse::<AuthChoice>(), Ok(AuthChoice::ApiKey));
        assert!("bearer".parse::<AuthChoice>().is_err());
    }

    #[test]
    fn the_account_named_is_the_account_captured() {
        let export = Route::Export;
        let who = Identity::new(Some("1234567890123456789"), Some("AlNoor_School"));
        let named = |t: Target| t.confirm(Platform::X, export, &who);
        assert!(named(Target::Own).is_ok());
        assert!(named(Target::Handle("alnoor_school".into())).is_ok());
        assert!(named(Target::Id("1234567890123456789".into())).is_ok());
        let e = named(Target::Handle("other_school".into())).unwrap_err();
        assert_eq!(e.kind(), "identity_mismatch");
        assert!(!e.is_retryable() && !e.is_account_state());
        assert_eq!(
            e.to_string(),
            "x account mismatch: @other_school was named, but the export belongs to \
             1234567890123456789 (@AlNoor_School); nothing was recorded (give @other_school's \
             own export or token, or correct the account named)"
        );
        assert!(named(Target::Id("42".into())).is_err());
        // A DYI export names a username only: an id cannot be confirmed against it.
        let dyi = Identity::new(None, Some("alnoor.school"));
        let e = Target::Id("1784".into())
            .confirm(Platform::Instagram, export, &dyi)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("names its account only as @alnoor.school"),
            "{e}"
        );
        // An export that names no account is filed under the one named.
        let nameless = Identity::default();
        assert!(
            Target::Handle("noor".into())
                .confirm(Platform::Snapchat, export, &nameless)
                .is_ok()
        );
    }

    fn x_archive() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/registry/exports/alnoor-x-archive.zip")
    }

    #[tokio::test]
    async fn an_export_of_another_account_stores_nothing() {
        let transport = Transport::new(FetchConfig::default()).unwrap();
        let exports = [x_archive()];
        let open_as = |account: &'static str| {
            let plan = Plan::new(&SourceRequest {
                platform: Platform::X,
                route: RoutePreference::Export,
                account: Some(account),
                has_credential: false,
                auth: None,
                exports: &exports,
            })
            .unwrap();
            open(SourceSpec::new(plan), &transport)
        };
        let mut sink = MemorySink::new();
        let e = open_as("@other_school")
            .await
            .unwrap()
            .capture(&mut sink)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "identity_mismatch", "{e}");
        assert!(sink.account.is_none() && sink.export_files.is_empty() && sink.items.is_empty());

        let mut sink = MemorySink::new();
        open_as("1234567890123456789")
            .await
            .unwrap()
            .capture(&mut sink)
            .await
            .unwrap();
        assert_eq!(sink.account.unwrap().as_str(), "1234567890123456789");
        assert_eq!(
            sink.identity.unwrap().handle.as_deref(),
            Some("alnoor_school")
        );
    }
}
