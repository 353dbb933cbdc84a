//! Instagram API route: a professional account's profile, every post, reel and carousel with
//! its media, and the current stories (reference §2.1–§2.4, §2.7, §6).
//!
//! Flow: resolve the account (Instagram Login: `/me` or `/{id}`; Facebook Login: `/{id}`, or
//! for `me` the one Instagram account linked to the token's Pages via `/me/accounts`), refuse
//! a personal account, call [`Sink::begin`] with the Instagram user id, emit the profile with
//! its picture, page `/{id}/media` to the end (fetching `/{media-id}/children` when a
//! carousel's inline children are missing or paged), page `/{id}/stories`, download every
//! media file once, and report what Instagram counts against what was captured.
//!
//! Parsing is plain functions over bytes and values ([`parse_account`], [`check_professional`],
//! [`linked_accounts`], [`choose_linked`], [`parse_media`], [`parse_child`], [`derive()`],
//! [`personal_account_error`], [`count_gap`]); the private `Run` only moves bytes.
//!
//! Decisions an integrator should know:
//! - The account id is the Instagram user id: `user_id` when Instagram Login gives it (its `id`
//!   is app-scoped), else `id`. Every edge is requested under that id.
//! - Personal accounts: an `account_type` other than `BUSINESS` or `MEDIA_CREATOR` (Instagram
//!   Login) stops before [`Sink::begin`] with [`FetchError::WrongRoute`] naming both ways out
//!   (switch to professional, or `tawthiq import instagram <export.zip>`). A missing
//!   `account_type` (Facebook Login never gives it: only professional accounts can be linked to
//!   a Page) is taken as professional. A Graph error with code 10 or 100 whose message says the
//!   account is not a business/creator/professional one is mapped to the same `WrongRoute`
//!   ([`personal_account_error`]); other code-10 errors stay "the token lacks a permission".
//! - Facebook Login with `me`: exactly one linked Instagram account is used; none is a
//!   `WrongRoute`; several is a `Config` error listing their ids so the user passes one.
//! - `Item::text` is `caption` exactly as delivered (empty when there is none); API text is
//!   proper UTF-8 and is never "repaired". Kind: `media_product_type` `REELS` → `Reel`,
//!   `STORY` (and anything from the stories edge) → `Story`, else `Post`. Metrics: `likes`,
//!   `comments` when Instagram gives them (hidden like counts are simply absent).
//! - Media: one [`MediaRef`] per downloaded file, in order. A carousel lists its children's
//!   files (never the parent's `media_url`, which repeats the first child), unless no children
//!   could be listed, in which case the parent's own file is kept. A video or reel gives two
//!   files: the video (`media_url`), then its poster frame (`thumbnail_url`) as its own
//!   `MediaRef`, so each has its own digest and its own gap if it fails. Instagram offers one
//!   rendition per file, so `chosen` is that URL and `offered` is empty.
//! - `media_url` absent (copyrighted audio, flagged media) is not an error: the item is
//!   emitted, its `MediaRef` has `sha256: None` and the post's permalink (else the thumbnail)
//!   as `original_url`, and a `MediaWithheld` gap says the DYI export has the file.
//! - A carousel whose children edge answers "does not exist" (deleted mid-capture) is a gap
//!   (`Unavailable`) and keeps what the media page gave; the account itself missing, an
//!   expired token or a quota stop the capture with their error.
//! - Media are fetched from the CDN without the token, each URL once per capture; a file that
//!   fails alone is a gap ([`download_or_gap`]).
//! - Stories: only the current 24 hours exist in the API; the report statement says older
//!   stories are only in the DYI export.
//! - When `media_count` is larger than the posts the media edge returned, an `Other` gap says
//!   how many are missing and that the DYI export has them (Instagram documents no depth cap
//!   on the media edge, so this is not a `PlatformCap`).
//! - Paging links carry the token: [`graph::parse_page`] strips it, the transport adds it on
//!   the wire only, and any echo in a stored body is replaced by `[REDACTED]`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use model::redact::redact_url;
use model::{AccountId, ContentId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile};
use model::{Rendition, Route};
use serde::Deserialize;
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};
use url::Url;

use crate::auth::Secret;
use crate::error::{FetchError, Result};
use crate::media::{Missing, download_or_gap};
use crate::platforms::meta::graph::{self, Graph, Pager, count_field, malformed, str_field};
use crate::platforms::meta::signals::MetaSignals;
use crate::source::{Identity, Report, Sink, Source};
use crate::source::{count, edge_gap};
use crate::transport::{Document, Request, Transport};

/// The profile with Instagram Login (`user_id` is the Instagram id, `id` is app-scoped).
pub const IG_PROFILE_FIELDS: &str = "user_id,username,name,account_type,profile_picture_url,\
followers_count,follows_count,media_count,biography,website";
/// The profile with Facebook Login (the IG User node has no `user_id` or `account_type`).
pub const FB_PROFILE_FIELDS: &str = "id,username,name,profile_picture_url,followers_count,\
follows_count,media_count,biography,website";
/// The Pages a Facebook Login token reaches, with their linked Instagram account.
pub const ACCOUNTS_FIELDS: &str = "name,instagram_business_account{id,username}";
/// Every documented IG Media field useful for archiving (§2.2), children expanded inline.
pub const MEDIA_FIELDS: &str = "id,caption,media_type,media_product_type,media_url,\
thumbnail_url,permalink,shortcode,timestamp,username,like_count,comments_count,\
is_comment_enabled,children{id,media_type,media_url,thumbnail_url,timestamp}";
/// A carousel child (`permalink` cannot be requested on children).
pub const CHILD_FIELDS: &str = "id,media_type,media_url,thumbnail_url,timestamp";
pub const STORY_FIELDS: &str =
    "id,media_type,media_product_type,media_url,thumbnail_url,permalink,timestamp";

const DYI_HINT: &str = "tawthiq import instagram <export.zip>";

/// Which login the token comes from, hence which Graph host serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Instagram API with Instagram Login: `graph.instagram.com`.
    Instagram,
    /// Instagram API with Facebook Login: `graph.facebook.com`.
    Facebook,
}

impl Login {
    pub fn host(self) -> &'static str {
        match self {
            Login::Instagram => graph::INSTAGRAM_HOST,
            Login::Facebook => graph::FACEBOOK_HOST,
        }
    }
}

impl FromStr for Login {
    type Err = FetchError;

    /// `instagram` or `facebook`.
    fn from_str(s: &str) -> Result<Login> {
        match s.trim().to_ascii_lowercase().as_str() {
            "instagram" => Ok(Login::Instagram),
            "facebook" => Ok(Login::Facebook),
            _ => Err(FetchError::Config(format!(
                "Instagram login {s:?}: expected \"instagram\" (Instagram Login) or \"facebook\" \
                 (Facebook Login)"
            ))),
        }
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Login::Instagram => "instagram",
            Login::Facebook => "facebook",
        })
    }
}

/// Which Instagram account to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgTarget {
    /// The account the token belongs to (with Facebook Login: the one linked to its Pages).
    Me,
    /// An Instagram user id (digits), e.g. `17841405822304914`.
    Id(String),
}

fn is_graph_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for IgTarget {
    type Err = FetchError;

    /// `me` → [`IgTarget::Me`]; digits → [`IgTarget::Id`].
    fn from_str(s: &str) -> Result<IgTarget> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("me") {
            Ok(IgTarget::Me)
        } else if is_graph_id(s) {
            Ok(IgTarget::Id(s.to_owned()))
        } else {
            Err(FetchError::Config(format!(
                "Instagram account {s:?}: expected \"me\" or the numeric Instagram user id \
                 (e.g. 17841405822304914), not a username"
            )))
        }
    }
}

impl fmt::Display for IgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgTarget::Me => f.write_str("me"),
            IgTarget::Id(id) => f.write_str(id),
        }
    }
}

/// The Instagram API source for one professional account.
pub struct InstagramApi<'t> {
    transport: &'t Transport,
    token: Secret,
    login: Login,
    target: IgTarget,
}

impl<'t> InstagramApi<'t> {
    pub fn new(
        transport: &'t Transport,
        token: Secret,
        login: Login,
        target: IgTarget,
    ) -> InstagramApi<'t> {
        InstagramApi {
            transport,
            token,
            login,
            target,
        }
    }
}

#[async_trait::async_trait]
impl Source for InstagramApi<'_> {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn route(&self) -> Route {
        Route::Api
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let mut run = Run {
            graph: Graph::new(self.transport, &self.token, Platform::Instagram),
            host: self.login.host(),
            sink,
            seen: HashSet::new(),
            downloads: HashMap::new(),
            stored: HashSet::new(),
            gaps: 0,
        };
        run.capture(self.login, &self.target).await
    }
}

// ---------------------------------------------------------------------------------------------
// Pure parsing.

fn bad(url: &str, detail: impl Into<String>) -> FetchError {
    malformed(Platform::Instagram, url, detail)
}

/// The account as `/me` or `/{ig-user-id}` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgAccount {
    /// The Instagram user id (`user_id` when given, else `id`).
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub account_type: Option<String>,
    pub biography: Option<String>,
    pub picture: Option<String>,
    pub followers: Option<u64>,
    pub follows: Option<u64>,
    pub media_count: Option<u64>,
}

/// An id field, which Graph gives as a string (and, for `user_id`, sometimes as a number).
fn id_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// Parses `/me` or `/{ig-user-id}`.
pub fn parse_account(body: &[u8], url: &str) -> Result<IgAccount> {
    let v = graph::parse_object(Platform::Instagram, body, url)?;
    let id = id_field(&v, "user_id")
        .or_else(|| id_field(&v, "id"))
        .ok_or_else(|| bad(url, "the account has neither user_id nor id"))?;
    if !is_graph_id(&id) {
        return Err(bad(url, format!("account id {id:?} is not numeric")));
    }
    let text = |k: &str| str_field(&v, k).map(str::to_owned);
    let picture = text("profile_picture_url");
    if let Some(p) = &picture {
        check_url(p, "profile_picture_url", url)?;
    }
    Ok(IgAccount {
        id,
        username: text("username"),
        name: text("name"),
        account_type: text("account_type"),
        biography: text("biography"),
        picture,
        followers: count_field(&v, "followers_count"),
        follows: count_field(&v, "follows_count"),
        media_count: count_field(&v, "media_count"),
    })
}

/// Who `/me` or `/{ig-user-id}` says the account is: the Instagram user id and, when the
/// answer also carries the app-scoped `id` (Instagram Login's `/me`), that one too, since a
/// registry may name the account by either.
fn identity(body: &[u8], account: &IgAccount) -> Identity {
    let mut who = Identity::new(Some(&account.id), account.username.as_deref());
    let scoped = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| id_field(&v, "id"));
    if let Some(id) = scoped.filter(|id| *id != account.id) {
        who.ids.push(id);
    }
    who
}

/// A personal account has no API: say what to do instead.
pub fn check_professional(account: &IgAccount) -> Result<()> {
    let Some(kind) = account.account_type.as_deref() else {
        return Ok(());
    };
    if ["BUSINESS", "MEDIA_CREATOR", "CREATOR"]
        .iter()
        .any(|k| kind.eq_ignore_ascii_case(k))
    {
        return Ok(());
    }
    let who = account
        .username
        .as_deref()
        .map_or_else(|| account.id.clone(), |u| format!("@{u}"));
    Err(FetchError::WrongRoute {
        platform: Platform::Instagram,
        detail: personal_detail(&format!("{who} is a {kind} account")),
    })
}

fn personal_detail(what: &str) -> String {
    format!(
        "{what}, and Instagram's API serves only professional (Business or Creator) accounts; \
         switch it to a professional account (free, and reversible, in the Instagram app: \
         Settings → Account type and tools) and run again, or archive the owner's \"Download \
         Your Information\" export (JSON, all time) with `{DYI_HINT}`"
    )
}

/// The Graph error a personal account gets where a professional one is required (code 10 or
/// 100 saying "not a business account" or similar), as the `WrongRoute` it really is. `None`
/// for every other error, which keeps its own meaning.
pub fn personal_account_error(e: &FetchError) -> Option<FetchError> {
    let (FetchError::AuthExpired { detail, .. } | FetchError::Http { detail, .. }) = e else {
        return None;
    };
    // MetaSignals writes "Graph API error {code}: {message}".
    let rest = &detail[detail.find("Graph API error ")? + "Graph API error ".len()..];
    let (code, message) = rest.split_once(": ")?;
    if !matches!(code, "10" | "100") {
        return None;
    }
    let m = message.to_ascii_lowercase();
    let says_personal = [
        "not a business",
        "not an instagram business",
        "not a professional",
        "not a creator",
        "business or creator",
        "professional account",
        "personal account",
    ]
    .iter()
    .any(|p| m.contains(p));
    // "Media posted before business account conversion" is about old media, not the account.
    (says_personal && !m.contains("posted before")).then(|| FetchError::WrongRoute {
        platform: Platform::Instagram,
        detail: personal_detail(&format!(
            "Instagram says this is not a professional account ({})",
            message.trim_end_matches(')')
        )),
    })
}

/// One Instagram account linked to a Facebook Page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub ig_id: String,
    pub username: Option<String>,
    pub page: Option<String>,
}

/// The Instagram accounts linked to the Pages of one `/me/accounts` page (each once).
pub fn linked_accounts(data: &[Value], url: &str) -> Result<Vec<Linked>> {
    let mut out: Vec<Linked> = Vec::new();
    for page in data {
        let Some(ig) = page.get("instagram_business_account") else {
            continue;
        };
        let id = id_field(ig, "id")
            .ok_or_else(|| bad(url, "instagram_business_account without an id"))?;
        if !is_graph_id(&id) {
            return Err(bad(
                url,
                format!("Instagram account id {id:?} is not numeric"),
            ));
        }
        if out.iter().all(|l| l.ig_id != id) {
            out.push(Linked {
                ig_id: id,
                username: str_field(ig, "username").map(str::to_owned),
                page: str_field(page, "name").map(str::to_owned),
            });
        }
    }
    Ok(out)
}

/// The one linked account to capture.
pub fn choose_linked(linked: &[Linked]) -> Result<String> {
    match linked {
        [one] => Ok(one.ig_id.clone()),
        [] => Err(FetchError::WrongRoute {
            platform: Platform::Instagram,
            detail: format!(
                "no Instagram professional account is linked to a Facebook Page this token can \
                 read; link the account to the school's Page (Instagram app → Accounts Center) \
                 and grant instagram_basic and pages_show_list, use Instagram Login instead, or \
                 archive the owner's export with `{DYI_HINT}`"
            ),
        }),
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|l| match &l.username {
                    Some(u) => format!("{} (@{u})", l.ig_id),
                    None => l.ig_id.clone(),
                })
                .collect();
            Err(FetchError::Config(format!(
                "this token reaches {} Instagram accounts: {}; pass the id of the one to capture",
                several.len(),
                list.join(", ")
            )))
        }
    }
}

fn check_url(s: &str, field: &str, url: &str) -> Result<()> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(()),
        _ => Err(bad(url, format!("{field} {s:?} is not an http(s) URL"))),
    }
}

#[derive(Debug, Clone, Deserialize)]
struct WireMedia {
    id: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    media_product_type: Option<String>,
    #[serde(default)]
    media_url: Option<String>,
    #[serde(default)]
    thumbnail_url: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    comments_count: Option<u64>,
    #[serde(default)]
    children: Option<WireChildren>,
}

#[derive(Debug, Clone, Deserialize)]
struct WireChildren {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    paging: Option<WirePaging>,
}

#[derive(Debug, Clone, Deserialize)]
struct WirePaging {
    #[serde(default)]
    next: Option<String>,
}

/// One carousel child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IgChild {
    pub id: String,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub media_url: Option<String>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
}

/// One IG Media object (a post, reel, carousel or story).
#[derive(Debug, Clone, PartialEq)]
pub struct IgMedia {
    pub id: String,
    pub caption: Option<String>,
    pub media_type: Option<String>,
    pub product_type: Option<String>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub permalink: Option<String>,
    pub created_at: OffsetDateTime,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    /// The children known so far (inline, or from the children edge).
    pub children: Vec<IgChild>,
    /// The inline children are the whole list (present and without a next page).
    pub children_complete: bool,
}

impl IgMedia {
    pub fn is_carousel(&self) -> bool {
        self.media_type.as_deref() == Some("CAROUSEL_ALBUM")
    }

    /// A carousel whose children must be read from `/{media-id}/children`.
    pub fn needs_children(&self) -> bool {
        self.is_carousel() && !self.children_complete
    }
}

/// Parses one carousel child.
pub fn parse_child(v: &Value, url: &str) -> Result<IgChild> {
    let c: IgChild =
        serde_json::from_value(v.clone()).map_err(|e| bad(url, format!("carousel child: {e}")))?;
    if !is_graph_id(&c.id) {
        return Err(bad(url, format!("child id {:?} is not numeric", c.id)));
    }
    for (field, value) in [
        ("media_url", &c.media_url),
        ("thumbnail_url", &c.thumbnail_url),
    ] {
        if let Some(s) = value {
            check_url(s, field, url)?;
        }
    }
    Ok(c)
}

/// Parses one element of a media or stories page. An id, a `+0000` timestamp and http(s)
/// URLs are required; everything else may be absent.
pub fn parse_media(v: &Value, url: &str) -> Result<IgMedia> {
    let w: WireMedia =
        serde_json::from_value(v.clone()).map_err(|e| bad(url, format!("media: {e}")))?;
    if !is_graph_id(&w.id) {
        return Err(bad(url, format!("media id {:?} is not numeric", w.id)));
    }
    let raw = w
        .timestamp
        .as_deref()
        .ok_or_else(|| bad(url, format!("media {} has no timestamp", w.id)))?;
    let created_at = graph::parse_time(raw)
        .ok_or_else(|| bad(url, format!("media {} timestamp {raw:?}", w.id)))?
        .to_offset(UtcOffset::UTC);
    for (field, value) in [
        ("media_url", &w.media_url),
        ("thumbnail_url", &w.thumbnail_url),
        ("permalink", &w.permalink),
    ] {
        if let Some(s) = value {
            check_url(s, field, url)?;
        }
    }
    let (children, children_complete) = match &w.children {
        None => (Vec::new(), false),
        Some(c) => (
            c.data
                .iter()
                .map(|v| parse_child(v, url))
                .collect::<Result<Vec<_>>>()?,
            c.paging.as_ref().and_then(|p| p.next.as_ref()).is_none(),
        ),
    };
    Ok(IgMedia {
        id: w.id,
        caption: w.caption,
        media_type: w.media_type,
        product_type: w.media_product_type,
        media_url: w.media_url,
        thumbnail_url: w.thumbnail_url,
        permalink: w.permalink,
        created_at,
        likes: w.like_count,
        comments: w.comments_count,
        children,
        children_complete,
    })
}

/// Which edge an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Media,
    Stories,
}

impl Edge {
    fn name(self) -> &'static str {
        match self {
            Edge::Media => "media",
            Edge::Stories => "stories",
        }
    }
}

/// One file of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePlan {
    /// Download `url`; `what` names it in a gap.
    Fetch { url: String, what: String },
    /// Instagram gave no URL for this file: a `MediaWithheld` gap, and a `MediaRef` without a
    /// digest when there is a page to point at.
    Withheld {
        original_url: Option<String>,
        detail: String,
    },
}

/// One item with the files it needs.
#[derive(Debug, Clone)]
pub struct Planned {
    pub item: Item,
    pub files: Vec<FilePlan>,
}

fn is_video(media_type: Option<&str>, product: Option<&str>) -> bool {
    media_type == Some("VIDEO") || product == Some("REELS")
}

/// The files of one media object or child: its `media_url`, and for a video its thumbnail.
fn plan_files(
    id: &str,
    media_type: Option<&str>,
    product: Option<&str>,
    media_url: Option<&str>,
    thumbnail_url: Option<&str>,
    page: Option<&str>,
    out: &mut Vec<FilePlan>,
) {
    let video = is_video(media_type, product);
    let noun = if video { "video" } else { "media" };
    match media_url {
        Some(u) => out.push(FilePlan::Fetch {
            url: u.to_owned(),
            what: format!("{noun} {id}"),
        }),
        None => out.push(FilePlan::Withheld {
            original_url: page.or(thumbnail_url).map(str::to_owned),
            detail: format!(
                "{noun} {id}: not downloadable via the API (Instagram omits media_url for \
                 copyrighted or flagged media, e.g. reels with licensed audio); the DYI export \
                 has it ({DYI_HINT})"
            ),
        }),
    }
    if video && let Some(t) = thumbnail_url {
        out.push(FilePlan::Fetch {
            url: t.to_owned(),
            what: format!("the thumbnail of video {id}"),
        });
    }
}

/// The item for one media object, with its files (carousel children in order).
pub fn derive(m: &IgMedia, edge: Edge, source_path: &str) -> Planned {
    let product = m.product_type.as_deref();
    let kind = match (edge, product) {
        (Edge::Stories, _) | (_, Some("STORY")) => ItemKind::Story,
        (_, Some("REELS")) => ItemKind::Reel,
        _ => ItemKind::Post,
    };
    let mut files = Vec::new();
    if m.is_carousel() && !m.children.is_empty() {
        for c in &m.children {
            plan_files(
                &c.id,
                c.media_type.as_deref(),
                None,
                c.media_url.as_deref(),
                c.thumbnail_url.as_deref(),
                m.permalink.as_deref(),
                &mut files,
            );
        }
    } else {
        plan_files(
            &m.id,
            m.media_type.as_deref(),
            product,
            m.media_url.as_deref(),
            m.thumbnail_url.as_deref(),
            m.permalink.as_deref(),
            &mut files,
        );
    }
    let metrics = [("likes", m.likes), ("comments", m.comments)]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?)))
        .collect();
    let item = Item {
        id: m.id.clone(),
        platform: Platform::Instagram,
        kind,
        created_at: m.created_at,
        text: m.caption.clone().unwrap_or_default(),
        lang: None,
        pinned: false,
        metrics,
        media: Vec::new(),
        url: m.permalink.clone(),
        references: Vec::new(),
        route: Route::Api,
        source_path: Some(source_path.to_owned()),
    };
    Planned { item, files }
}

/// The profile record (its picture is added by the capture).
pub fn profile(account: &IgAccount) -> Profile {
    Profile {
        platform: Platform::Instagram,
        id: account.id.clone(),
        username: account.username.clone(),
        display_name: account.name.clone(),
        description: account.biography.clone(),
        url: account
            .username
            .as_ref()
            .map(|u| format!("https://www.instagram.com/{u}/")),
        counts: reported_counts(account),
        media: Vec::new(),
        route: Route::Api,
    }
}

fn reported_counts(a: &IgAccount) -> BTreeMap<String, u64> {
    [
        ("followers", a.followers),
        ("follows", a.follows),
        ("posts", a.media_count),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect()
}

/// The gap when Instagram counts more posts than its media edge returned.
pub fn count_gap(reported: Option<u64>, captured: u64) -> Option<Gap> {
    let reported = reported?;
    let missing = reported.checked_sub(captured).filter(|n| *n > 0)?;
    Some(Gap {
        reason: GapReason::Other,
        detail: format!(
            "Instagram reports {reported} posts but its media edge returned {captured}; the \
             {missing} missing (archived, hidden or not served by the API) are in the owner's \
             DYI export ({DYI_HINT})"
        ),
        item_id: None,
        url: None,
    })
}

fn media_url(host: &str, ig_id: &str) -> Url {
    graph::url(
        host,
        &[ig_id, "media"],
        &[("fields", MEDIA_FIELDS), ("limit", "100")],
    )
}

fn profile_url(login: Login, id: &str) -> Url {
    let fields = match login {
        Login::Instagram => IG_PROFILE_FIELDS,
        Login::Facebook => FB_PROFILE_FIELDS,
    };
    graph::url(login.host(), &[id], &[("fields", fields)])
}

// ---------------------------------------------------------------------------------------------
// The capture.

struct Run<'r> {
    graph: Graph<'r>,
    host: &'static str,
    sink: &'r mut dyn Sink,
    /// Item ids emitted: pages can overlap when posts arrive mid-capture.
    seen: HashSet<String>,
    /// Outcome per media URL: each file is requested once per capture.
    downloads: HashMap<String, Option<ContentId>>,
    stored: HashSet<ContentId>,
    gaps: u64,
}

/// What the edges gave.
#[derive(Debug, Default)]
struct Counts {
    posts: u64,
    stories: u64,
}

impl Run<'_> {
    /// One Graph document; a personal-account error becomes the `WrongRoute` it means.
    async fn get(&mut self, endpoint: &str, url: &Url) -> Result<Document> {
        self.graph
            .get(self.sink, endpoint, url)
            .await
            .map_err(|e| personal_account_error(&e).unwrap_or(e))
    }

    /// One page of an edge and the URL of the next, if any.
    async fn page(
        &mut self,
        endpoint: &str,
        url: &Url,
        pager: &mut Pager,
    ) -> Result<(Vec<Value>, Document, Option<Url>)> {
        let doc = self.get(endpoint, url).await?;
        let page = graph::parse_page(Platform::Instagram, &doc.body, &doc.url)?;
        let next = pager.advance(Platform::Instagram, page.next.as_ref(), &doc.url)?;
        Ok((page.data, doc, next))
    }

    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps += 1;
        self.sink.gap(gap).await
    }

    async fn capture(&mut self, login: Login, target: &IgTarget) -> Result<Report> {
        let id = match (login, target) {
            (_, IgTarget::Id(id)) => id.clone(),
            (Login::Instagram, IgTarget::Me) => "me".to_owned(),
            (Login::Facebook, IgTarget::Me) => self.linked_account().await?,
        };
        let endpoint = if id == "me" { "ig-me" } else { "ig-user" };
        let doc = self
            .get(endpoint, &profile_url(login, &id))
            .await
            .map_err(FetchError::about_account)?;
        let account = parse_account(&doc.body, &doc.url)?;
        check_professional(&account)?;
        let account_id =
            AccountId::new(&account.id).map_err(|e| bad(&doc.url, format!("account id: {e}")))?;
        self.sink.identify(&identity(&doc.body, &account)).await?;
        self.sink.begin(&account_id).await?;
        let mut prof = profile(&account);
        if let Some(pic) = &account.picture {
            let sha256 = self.download(pic, "the profile picture", None).await?;
            prof.media.push(media_ref(pic, sha256));
        }
        self.sink.profile(prof).await?;

        let mut counts = Counts::default();
        let stories = graph::url(
            self.host,
            &[&account.id, "stories"],
            &[("fields", STORY_FIELDS)],
        );
        // An edge the Graph API refuses loses that edge only: a gap naming it, never evidence
        // that the account is gone.
        for (edge, url) in [
            (Edge::Media, media_url(self.host, &account.id)),
            (Edge::Stories, stories),
        ] {
            match self.edge(edge, url.clone(), &mut counts).await {
                Err(e) if e.is_refusal() => {
                    let what = format!("the account's /{} edge", edge.name());
                    self.gap(edge_gap(&what, Some(&redact_url(url.as_str())), &e))
                        .await?;
                }
                other => other?,
            }
        }

        if let Some(gap) = count_gap(account.media_count, counts.posts) {
            self.gap(gap).await?;
        }
        Ok(self.report(&account, &counts))
    }

    fn report(&self, account: &IgAccount, counts: &Counts) -> Report {
        let media = self.stored.len() as u64;
        let Counts { posts, stories } = *counts;
        let older = "stories older than 24 hours are only in the DYI export";
        let statement = if self.gaps == 0 {
            format!(
                "complete: {}, {} and {}; {older}",
                count(posts, "post", "posts"),
                count(stories, "current story", "current stories"),
                count(media, "media file", "media files")
            )
        } else {
            let of = account
                .media_count
                .map_or_else(String::new, |n| format!(" of the {n} Instagram reports"));
            format!(
                "incomplete: {}{of}, {} and {} captured; {} listed; {older}",
                count(posts, "post", "posts"),
                count(stories, "current story", "current stories"),
                count(media, "media file", "media files"),
                count(self.gaps, "gap", "gaps")
            )
        };
        Report {
            platform_reported: reported_counts(account),
            captured: BTreeMap::from([
                ("posts".to_owned(), posts),
                ("stories".to_owned(), stories),
                ("media".to_owned(), media),
            ]),
            statement,
        }
    }

    /// Facebook Login with `me`: the Instagram account linked to the token's Pages.
    async fn linked_account(&mut self) -> Result<String> {
        let mut pager = Pager::new();
        let mut next = Some(graph::url(
            graph::FACEBOOK_HOST,
            &["me", "accounts"],
            &[("fields", ACCOUNTS_FIELDS)],
        ));
        let mut linked: Vec<Linked> = Vec::new();
        while let Some(url) = next.take() {
            let endpoint = format!("fb-accounts-p{}", pager.pages() + 1);
            let (data, doc, after) = self.page(&endpoint, &url, &mut pager).await?;
            for l in linked_accounts(&data, &doc.url)? {
                if linked.iter().all(|k| k.ig_id != l.ig_id) {
                    linked.push(l);
                }
            }
            next = after;
        }
        choose_linked(&linked)
    }

    /// Pages a media or stories edge to the end, emitting each item once.
    async fn edge(&mut self, edge: Edge, first: Url, counts: &mut Counts) -> Result<()> {
        let name = edge.name();
        let mut pager = Pager::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let endpoint = format!("{name}-p{}", pager.pages() + 1);
            let (data, doc, after) = self.page(&endpoint, &url, &mut pager).await?;
            for v in &data {
                let mut m = parse_media(v, &doc.url)?;
                if !self.seen.insert(m.id.clone()) {
                    continue;
                }
                if m.needs_children() {
                    self.children(&mut m).await?;
                }
                self.emit(derive(&m, edge, &doc.stored.path)).await?;
                match edge {
                    Edge::Media => counts.posts += 1,
                    Edge::Stories => counts.stories += 1,
                }
            }
            next = after;
        }
        Ok(())
    }

    /// Reads a carousel's children from its edge, to the end. A carousel gone meanwhile is a
    /// gap: the item keeps what the media page said.
    async fn children(&mut self, m: &mut IgMedia) -> Result<()> {
        let mut pager = Pager::new();
        let mut next = Some(graph::url(
            self.host,
            &[&m.id, "children"],
            &[("fields", CHILD_FIELDS)],
        ));
        let mut children: Vec<IgChild> = Vec::new();
        while let Some(url) = next.take() {
            let endpoint = format!("children-{}-p{}", m.id, pager.pages() + 1);
            let (data, doc, after) = match self.page(&endpoint, &url, &mut pager).await {
                Ok(p) => p,
                Err(e) if e.is_refusal() => {
                    return self
                        .gap(Gap {
                            reason: GapReason::Unavailable,
                            detail: format!(
                                "the items of carousel {} could not be listed ({e}); only what \
                                 the media page gave is kept",
                                m.id
                            ),
                            item_id: Some(m.id.clone()),
                            url: m.permalink.clone(),
                        })
                        .await;
                }
                Err(e) => return Err(e),
            };
            for v in &data {
                let c = parse_child(v, &doc.url)?;
                if children.iter().all(|k| k.id != c.id) {
                    children.push(c);
                }
            }
            next = after;
        }
        // The edge is the full list; keep any inline child it somehow lacks.
        for c in m.children.drain(..) {
            if children.iter().all(|k| k.id != c.id) {
                children.push(c);
            }
        }
        m.children = children;
        m.children_complete = true;
        Ok(())
    }

    async fn emit(&mut self, planned: Planned) -> Result<()> {
        let Planned { mut item, files } = planned;
        for f in files {
            match f {
                FilePlan::Fetch { url, what } => {
                    let sha256 = self.download(&url, &what, Some(&item.id)).await?;
                    item.media.push(media_ref(&url, sha256));
                }
                FilePlan::Withheld {
                    original_url,
                    detail,
                } => {
                    self.gap(Gap {
                        reason: GapReason::MediaWithheld,
                        detail,
                        item_id: Some(item.id.clone()),
                        url: original_url.clone().or_else(|| item.url.clone()),
                    })
                    .await?;
                    if let Some(original_url) = original_url {
                        item.media.push(MediaRef {
                            sha256: None,
                            original_url,
                            chosen: None,
                            offered: Vec::new(),
                        });
                    }
                }
            }
        }
        self.sink.item(item).await
    }

    /// Downloads one CDN file (without the token), once per capture; a failure of this file
    /// alone is a gap and `None`.
    async fn download(
        &mut self,
        url: &str,
        what: &str,
        item_id: Option<&str>,
    ) -> Result<Option<ContentId>> {
        if let Some(outcome) = self.downloads.get(url) {
            return Ok(*outcome);
        }
        // The URL was checked when parsed.
        let parsed = Url::parse(url).map_err(|e| bad(url, format!("media URL: {e}")))?;
        let signals = MetaSignals(Platform::Instagram);
        let req = Request::new(Platform::Instagram, "media", parsed).signals(&signals);
        let missing = Missing { what, item_id, url };
        let stored =
            download_or_gap(self.graph.transport(), self.sink, &req, None, missing).await?;
        let outcome = stored.map(|s| s.sha256);
        match outcome {
            Some(sha) => {
                self.stored.insert(sha);
            }
            None => self.gaps += 1,
        }
        self.downloads.insert(url.to_owned(), outcome);
        Ok(outcome)
    }
}

fn media_ref(url: &str, sha256: Option<ContentId>) -> MediaRef {
    MediaRef {
        sha256,
        original_url: url.to_owned(),
        chosen: Some(Rendition {
            url: url.to_owned(),
            content_type: None,
            width: None,
            height: None,
            bitrate: None,
        }),
        offered: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://graph.instagram.com/v23.0/17841/media";

    #[test]
    fn targets_and_logins_parse() {
        assert_eq!("me".parse::<IgTarget>().unwrap(), IgTarget::Me);
        assert_eq!(" ME ".parse::<IgTarget>().unwrap(), IgTarget::Me);
        assert_eq!(
            "17841405822304914".parse::<IgTarget>().unwrap(),
            IgTarget::Id("17841405822304914".into())
        );
        assert_eq!(IgTarget::Id("1".into()).to_string(), "1");
        assert_eq!(IgTarget::Me.to_string(), "me");
        for bad in [
            "",
            "@alnoor",
            "alnoor",
            "12a",
            "1/2",
            "١٢٣",
            &"9".repeat(40),
        ] {
            let e = bad.parse::<IgTarget>().unwrap_err();
            assert_eq!(e.kind(), "config", "{bad:?}");
        }
        assert_eq!("Facebook".parse::<Login>().unwrap(), Login::Facebook);
        assert_eq!(Login::Instagram.host(), graph::INSTAGRAM_HOST);
        assert!("threads".parse::<Login>().is_err());
    }

    #[test]
    fn the_instagram_id_is_user_id_when_given() {
        let body = br#"{"user_id":"17841405822304914","username":"alnoor","id":"7812345",
            "account_type":"BUSINESS","media_count":12,"followers_count":"30"}"#;
        let a = parse_account(body, URL).unwrap();
        assert_eq!(a.id, "17841405822304914");
        assert_eq!(a.media_count, Some(12));
        assert_eq!(a.followers, Some(30));
        assert!(check_professional(&a).is_ok());
        let numeric = br#"{"user_id":17841405822304914,"id":"7812345"}"#;
        assert_eq!(parse_account(numeric, URL).unwrap().id, "17841405822304914");
        let fb = br#"{"id":"17841405822304914","username":"alnoor"}"#;
        let a = parse_account(fb, URL).unwrap();
        assert_eq!(a.id, "17841405822304914");
        assert!(
            check_professional(&a).is_ok(),
            "no account_type: professional"
        );
        for bad in [
            &br#"{"username":"x"}"#[..],
            br#"{"id":"abc"}"#,
            b"[]",
            br#"{"id":"1","profile_picture_url":"javascript:x"}"#,
        ] {
            assert_eq!(
                parse_account(bad, URL).unwrap_err().kind(),
                "malformed",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn personal_accounts_are_sent_to_the_export() {
        let body = br#"{"user_id":"1","username":"alnoor","account_type":"PERSONAL"}"#;
        let e = check_professional(&parse_account(body, URL).unwrap()).unwrap_err();
        assert_eq!(e.kind(), "wrong_route");
        let text = e.to_string();
        assert!(text.contains("@alnoor is a PERSONAL account"), "{text}");
        assert!(text.contains("professional") && text.contains("reversible"));
        assert!(text.contains("tawthiq import instagram <export.zip>"));
        let creator = br#"{"user_id":"1","account_type":"MEDIA_CREATOR"}"#;
        assert!(check_professional(&parse_account(creator, URL).unwrap()).is_ok());
    }

    #[test]
    fn a_not_business_graph_error_is_a_wrong_route_and_others_are_kept() {
        let perm = |code: i64, msg: &str| FetchError::AuthExpired {
            platform: Platform::Instagram,
            detail: format!("the token lacks a permission (Graph API error {code}: {msg})"),
        };
        let http = |code: i64, msg: &str| FetchError::Http {
            status: 400,
            url: URL.into(),
            detail: format!("Graph API error {code}: {msg}"),
        };
        let mapped =
            personal_account_error(&http(100, "The user is not an Instagram Business Account"))
                .unwrap();
        assert_eq!(mapped.kind(), "wrong_route");
        assert!(mapped.to_string().contains("tawthiq import instagram"));
        assert!(
            personal_account_error(&perm(
                10,
                "(#10) This endpoint requires a business or creator account"
            ))
            .is_some()
        );
        for kept in [
            perm(
                10,
                "(#10) Application does not have permission for this action",
            ),
            perm(200, "(#200) The user is not a business account"),
            http(100, "Media posted before business account conversion"),
            http(100, "(#100) Tried accessing nonexisting field (username)"),
        ] {
            assert!(personal_account_error(&kept).is_none(), "{kept}");
        }
        let gone = FetchError::NotFound {
            detail: "Graph API error 100: not a business account".into(),
        };
        assert!(personal_account_error(&gone).is_none());
    }

    #[test]
    fn one_linked_account_is_chosen_and_otherwise_the_user_is_asked() {
        let data = vec![
            json!({"name":"مدرسة النور","id":"1001",
                   "instagram_business_account":{"id":"17841400000000001","username":"alnoor"}}),
            json!({"name":"Parents council","id":"1002"}),
            json!({"name":"Same again","id":"1003",
                   "instagram_business_account":{"id":"17841400000000001"}}),
        ];
        let linked = linked_accounts(&data, URL).unwrap();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].page.as_deref(), Some("مدرسة النور"));
        assert_eq!(choose_linked(&linked).unwrap(), "17841400000000001");
        assert_eq!(choose_linked(&[]).unwrap_err().kind(), "wrong_route");
        let two = [
            linked[0].clone(),
            Linked {
                ig_id: "17841400000000002".into(),
                username: None,
                page: None,
            },
        ];
        let e = choose_linked(&two).unwrap_err();
        assert_eq!(e.kind(), "config");
        let text = e.to_string();
        assert!(text.contains("17841400000000001 (@alnoor)") && text.contains("17841400000000002"));
        let bad = vec![json!({"instagram_business_account":{"username":"x"}})];
        assert_eq!(linked_accounts(&bad, URL).unwrap_err().kind(), "malformed");
    }

    fn media(v: &Value) -> IgMedia {
        parse_media(v, URL).unwrap()
    }

    #[test]
    fn media_parse_with_graph_times_and_fail_loudly() {
        let m = media(&json!({"id":"179","timestamp":"2024-09-01T06:05:00+0000",
            "caption":"حفل 🎓","media_type":"IMAGE","like_count":3}));
        assert_eq!(m.created_at.unix_timestamp(), 1_725_170_700);
        assert_eq!(m.created_at.offset(), UtcOffset::UTC);
        assert!(!m.needs_children());
        for bad in [
            json!({"id":"179"}),
            json!({"id":"179","timestamp":"yesterday"}),
            json!({"id":"x","timestamp":"2024-09-01T06:05:00+0000"}),
            json!({"timestamp":"2024-09-01T06:05:00+0000"}),
            json!({"id":"1","timestamp":"2024-09-01T06:05:00+0000","media_url":"/relative.jpg"}),
            json!({"id":"1","timestamp":"2024-09-01T06:05:00+0000","media_type":"CAROUSEL_ALBUM",
                   "children":{"data":[{"media_type":"IMAGE"}]}}),
        ] {
            assert_eq!(
                parse_media(&bad, URL).unwrap_err().kind(),
                "malformed",
                "{bad}"
            );
        }
    }

    #[test]
    fn carousels_need_their_edge_when_children_are_missing_or_paged() {
        let base = json!({"id":"1","timestamp":"2024-09-01T06:05:00+0000",
            "media_type":"CAROUSEL_ALBUM"});
        assert!(media(&base).needs_children());
        let mut inline = base.clone();
        inline["children"] = json!({"data":[{"id":"2","media_type":"IMAGE",
            "media_url":"https://scontent.cdninstagram.com/2.jpg"}]});
        assert!(!media(&inline).needs_children());
        inline["children"]["paging"] =
            json!({"next":"https://graph.instagram.com/v23.0/1/children?after=Q"});
        assert!(media(&inline).needs_children());
    }

    #[test]
    fn items_kinds_texts_and_files() {
        let carousel = media(&json!({"id":"10","timestamp":"2024-09-01T06:05:00+0000",
            "media_type":"CAROUSEL_ALBUM","media_product_type":"FEED","caption":"",
            "permalink":"https://www.instagram.com/p/C1/",
            "media_url":"https://scontent.cdninstagram.com/cover.jpg",
            "like_count":5,"comments_count":1,
            "children":{"data":[
                {"id":"11","media_type":"IMAGE","media_url":"https://scontent.cdninstagram.com/11.jpg"},
                {"id":"12","media_type":"VIDEO","media_url":"https://scontent.cdninstagram.com/12.mp4",
                 "thumbnail_url":"https://scontent.cdninstagram.com/12.jpg"}]}}));
        let p = derive(
            &carousel,
            Edge::Media,
            "data/original/api/000002-media-p1.json",
        );
        assert_eq!(p.item.kind, ItemKind::Post);
        assert_eq!(p.item.text, "");
        assert_eq!(p.item.metrics["likes"], 5);
        assert_eq!(p.item.metrics["comments"], 1);
        assert_eq!(
            p.item.url.as_deref(),
            Some("https://www.instagram.com/p/C1/")
        );
        assert_eq!(
            p.item.source_path.as_deref(),
            Some("data/original/api/000002-media-p1.json")
        );
        let urls: Vec<&str> = p
            .files
            .iter()
            .map(|f| match f {
                FilePlan::Fetch { url, .. } => url.as_str(),
                FilePlan::Withheld { .. } => "withheld",
            })
            .collect();
        assert_eq!(
            urls,
            [
                "https://scontent.cdninstagram.com/11.jpg",
                "https://scontent.cdninstagram.com/12.mp4",
                "https://scontent.cdninstagram.com/12.jpg"
            ],
            "children, never the cover; a video's thumbnail after it"
        );

        let reel = media(&json!({"id":"20","timestamp":"2024-09-02T06:05:00+0000",
            "media_type":"VIDEO","media_product_type":"REELS","caption":"نشيد 🎶",
            "permalink":"https://www.instagram.com/reel/C2/",
            "thumbnail_url":"https://scontent.cdninstagram.com/20.jpg"}));
        let p = derive(&reel, Edge::Media, "p");
        assert_eq!(p.item.kind, ItemKind::Reel);
        assert_eq!(p.item.text, "نشيد 🎶");
        assert!(p.item.metrics.is_empty());
        let FilePlan::Withheld {
            original_url,
            detail,
        } = &p.files[0]
        else {
            panic!("no media_url: withheld")
        };
        assert_eq!(
            original_url.as_deref(),
            Some("https://www.instagram.com/reel/C2/")
        );
        assert!(detail.contains("not downloadable via the API"));
        assert!(detail.contains("the DYI export has it"));
        assert_eq!(
            p.files[1],
            FilePlan::Fetch {
                url: "https://scontent.cdninstagram.com/20.jpg".into(),
                what: "the thumbnail of video 20".into()
            }
        );

        let story = media(&json!({"id":"30","timestamp":"2024-09-03T06:05:00+0000",
            "media_type":"IMAGE","media_url":"https://scontent.cdninstagram.com/30.jpg"}));
        assert_eq!(
            derive(&story, Edge::Stories, "p").item.kind,
            ItemKind::Story
        );
        assert_eq!(derive(&story, Edge::Media, "p").item.kind, ItemKind::Post);

        // A carousel whose children could not be listed keeps its cover.
        let mut bare = carousel.clone();
        bare.children.clear();
        let p = derive(&bare, Edge::Media, "p");
        assert_eq!(p.files.len(), 1);
    }

    #[test]
    fn the_count_gap_names_what_is_missing() {
        let g = count_gap(Some(9), 5).unwrap();
        assert_eq!(g.reason, GapReason::Other);
        assert!(g.detail.contains("reports 9 posts") && g.detail.contains("4 missing"));
        assert!(g.detail.contains("tawthiq import instagram"));
        assert!(count_gap(Some(5), 5).is_none());
        assert!(count_gap(Some(4), 5).is_none());
        assert!(count_gap(None, 5).is_none());
    }

    #[test]
    fn urls_name_the_fields_and_the_id() {
        let u = media_url(graph::FACEBOOK_HOST, "17841");
        assert_eq!(u.path(), "/v23.0/17841/media");
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["fields"], MEDIA_FIELDS);
        assert_eq!(q["limit"], "100");
        let p = profile_url(Login::Instagram, "me");
        assert!(
            p.as_str()
                .starts_with("https://graph.instagram.com/v23.0/me?fields=user_id%2C")
        );
        let p = profile_url(Login::Facebook, "17841");
        assert!(
            p.as_str()
                .starts_with("https://graph.facebook.com/v23.0/17841?fields=id%2C")
        );
    }
}
