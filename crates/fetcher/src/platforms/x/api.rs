//! X API v2 route: the owner's profile and user timeline, with media (reference §1.1–§1.8).
//!
//! Flow: resolve the account (`/2/users/me`, `/2/users/by/username/{name}` or
//! `/2/users/{id}`), announce it ([`Sink::identify`]), call [`Sink::begin`] with its id, emit the profile, page `/2/users/{id}/tweets` to the end, fetch
//! the pinned post separately if the timeline did not hold it, download each media file once,
//! and report what X says exists against what was captured (the 3,200-post cap is a gap).
//!
//! Parsing is plain functions over bytes ([`parse_user`], [`parse_page`], [`derive_items`],
//! [`choose_video_variant`], [`photo_download_url`]); [`XApi::capture`] only moves bytes.
//!
//! Decisions an integrator should know:
//! - `Item::text` is exactly a text X delivered: `note_tweet.text` when present (long posts,
//!   whose `text` is truncated), else `text`. For a repost it is the reposted post's full text
//!   from `includes.tweets` (the repost's own `text` is a truncated `RT @user: …`); if X did not
//!   include the original (e.g. its author is suspended), the delivered `RT @user: …` is kept.
//!   Nothing is stripped (t.co links stay); the stored pages hold everything verbatim.
//! - Kind: `Repost` if it reposts, else `Reply` if it replies, else `Quote` if it quotes, else
//!   `Post`; the pinned post is `Announcement` with `pinned: true`. `references` always lists
//!   every referenced id, so nothing is lost by the precedence.
//! - `MediaRef::original_url` is the URL X delivered for the media (a photo's plain `url`, a
//!   video's chosen MP4 variant); `chosen.url` is the URL actually downloaded (for photos the
//!   `?name=orig` form). Photos offer one rendition (the original); videos list every variant,
//!   HLS included, but only MP4s are ever downloaded.
//! - Media on the CDN are fetched without the token. A file that is gone or refused
//!   (404, 403, too large, HTML, cut short) leaves `sha256: None` and a gap; quota, token,
//!   deferral, network and storage failures stop the capture with their error.
//! - A pinned post outside the timeline is looked up with `/2/tweets/{id}`: the `users/me`
//!   expansion would give its text but not its media.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use model::{AccountId, ContentId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile};
use model::{Rendition, Route};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::signals::XSignals;
use crate::auth::{Auth, Secret};
use crate::error::{FetchError, Result};
use crate::media::{Missing, download_or_gap};
use crate::source::{Identity, Report, Sink, Source};
use crate::transport::{Document, Request, Transport};

const API: &str = "https://api.x.com/2/";

/// The documented useful set for archiving (reference §1.2), plus `author_id` so the stored
/// pages say who wrote every included post.
pub const TWEET_FIELDS: &str = "created_at,lang,attachments,entities,public_metrics,\
referenced_tweets,note_tweet,conversation_id,in_reply_to_user_id,edit_history_tweet_ids,\
possibly_sensitive,reply_settings,author_id";
pub const TWEET_EXPANSIONS: &str =
    "attachments.media_keys,author_id,referenced_tweets.id,referenced_tweets.id.author_id";
pub const MEDIA_FIELDS: &str =
    "url,variants,preview_image_url,duration_ms,width,height,alt_text,type,public_metrics";
pub const USER_FIELDS: &str = "created_at,description,profile_image_url,protected,\
public_metrics,verified,pinned_tweet_id,url,username,name";

/// X documents 3,200 as the depth of the user timeline.
pub const TIMELINE_CAP: u64 = 3_200;

/// A guard against a server that never stops paging (3,200 posts need 32 full pages).
const MAX_PAGES: usize = 1_000;

/// Whose timeline to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The account that owns the token.
    Me,
    /// A handle, without `@`.
    Username(String),
    /// A numeric user id (`/2/users/{id}`).
    Id(String),
}

impl FromStr for Target {
    type Err = FetchError;

    /// `me` → [`Target::Me`]; digits → [`Target::Id`]; `@handle` or `handle` →
    /// [`Target::Username`] (an all-digit handle is written `@123`, as in a registry).
    fn from_str(s: &str) -> Result<Target> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("me") {
            return Ok(Target::Me);
        }
        if !s.is_empty() && s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Target::Id(s.to_owned()));
        }
        let name = s.strip_prefix('@').unwrap_or(s);
        // Handles are at most 15 characters today; older accounts may be longer, so allow more
        // but keep the alphabet strict: the name goes into a URL path.
        let valid = !name.is_empty()
            && name.len() <= 50
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Target::Username(name.to_owned()))
        } else {
            Err(FetchError::Config(format!(
                "X account {s:?}: expected \"me\", \"@handle\" (letters, digits, _) or the numeric user id"
            )))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Me => f.write_str("me"),
            Target::Username(n) => write!(f, "@{n}"),
            Target::Id(id) => f.write_str(id),
        }
    }
}

/// The X API v2 source for one account.
pub struct XApi<'t> {
    transport: &'t Transport,
    token: Secret,
    target: Target,
}

impl<'t> XApi<'t> {
    pub fn new(transport: &'t Transport, token: Secret, target: Target) -> XApi<'t> {
        XApi {
            transport,
            token,
            target,
        }
    }
}

#[async_trait::async_trait]
impl Source for XApi<'_> {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn route(&self) -> Route {
        Route::Api
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let mut run = Run {
            transport: self.transport,
            token: &self.token,
            sink,
            seen: HashSet::new(),
            media: HashMap::new(),
            stored_media: HashSet::new(),
            gaps: 0,
        };
        run.capture(&self.target).await
    }
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (only what is read; everything else stays in the stored documents).

#[derive(Debug, Deserialize)]
struct Envelope<D> {
    data: Option<D>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    errors: Vec<PartialError>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    media: Vec<Media>,
    #[serde(default)]
    tweets: Vec<Tweet>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    result_count: Option<u64>,
    #[serde(default)]
    next_token: Option<String>,
}

/// One element of `errors[]` next to `data`: a warning about one resource.
pub use super::signals::Problem as PartialError;

/// The account as `/2/users/…` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub pinned_tweet_id: Option<String>,
    #[serde(default)]
    pub profile_image_url: Option<String>,
    #[serde(default)]
    pub public_metrics: Option<UserMetrics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserMetrics {
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    pub following_count: Option<u64>,
    #[serde(default)]
    pub tweet_count: Option<u64>,
    #[serde(default)]
    pub listed_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[allow(clippy::struct_field_names)] // X's wire names
struct Tweet {
    id: String,
    text: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    attachments: Option<Attachments>,
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
    #[serde(default)]
    referenced_tweets: Vec<Referenced>,
    #[serde(default)]
    public_metrics: Option<TweetMetrics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Attachments {
    #[serde(default)]
    media_keys: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct NoteTweet {
    text: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Referenced {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[allow(clippy::struct_field_names)] // X's wire names
struct TweetMetrics {
    retweet_count: Option<u64>,
    reply_count: Option<u64>,
    like_count: Option<u64>,
    quote_count: Option<u64>,
    bookmark_count: Option<u64>,
    impression_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[allow(clippy::struct_field_names)] // X's wire names
struct Media {
    media_key: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    preview_image_url: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    variants: Vec<Variant>,
}

/// One entry of a video's `variants[]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Variant {
    #[serde(default)]
    pub bit_rate: Option<u64>,
    #[serde(default)]
    pub content_type: String,
    pub url: String,
}

// ---------------------------------------------------------------------------------------------
// Pure parsing.

fn malformed(url: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform: Platform::X,
        url: url.to_owned(),
        detail: detail.into(),
    }
}

fn is_snowflake(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The resolved account and any warnings that came with it.
#[derive(Debug, Clone)]
pub struct UserDoc {
    pub user: User,
    pub warnings: Vec<PartialError>,
}

/// Parses `/2/users/me` or `/2/users/by/username/{name}`.
pub fn parse_user(body: &[u8], url: &str) -> Result<UserDoc> {
    let env: Envelope<User> =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("user: {e}")))?;
    let user = env
        .data
        .ok_or_else(|| malformed(url, "user response has no data"))?;
    if !is_snowflake(&user.id) {
        return Err(malformed(
            url,
            format!("user id {:?} is not numeric", user.id),
        ));
    }
    if let Some(p) = &user.pinned_tweet_id
        && !is_snowflake(p)
    {
        return Err(malformed(
            url,
            format!("pinned_tweet_id {p:?} is not numeric"),
        ));
    }
    Ok(UserDoc {
        user,
        warnings: env.errors,
    })
}

/// One timeline page (or a single-post lookup), parsed.
#[derive(Debug)]
pub struct Page {
    tweets: Vec<Tweet>,
    includes: Includes,
    pub warnings: Vec<PartialError>,
    pub next_token: Option<String>,
}

impl Page {
    pub fn len(&self) -> usize {
        self.tweets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tweets.is_empty()
    }
}

/// Parses a `/2/users/{id}/tweets` page. A page without `data` must say `result_count: 0`:
/// an empty archive is never produced from a body that merely lacks the expected keys.
pub fn parse_page(body: &[u8], url: &str) -> Result<Page> {
    let env: Envelope<Vec<Tweet>> =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("timeline page: {e}")))?;
    let meta = env
        .meta
        .ok_or_else(|| malformed(url, "timeline page has no meta"))?;
    let tweets = match env.data {
        Some(t) => t,
        None if meta.result_count == Some(0) => Vec::new(),
        None => {
            return Err(malformed(
                url,
                "timeline page has neither data nor result_count 0",
            ));
        }
    };
    page(tweets, env.includes, env.errors, meta.next_token, url)
}

/// Parses `/2/tweets/{id}`, whose `data` is one object.
pub fn parse_single(body: &[u8], url: &str) -> Result<Page> {
    let env: Envelope<Tweet> =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("post: {e}")))?;
    let tweet = env
        .data
        .ok_or_else(|| malformed(url, "post response has no data"))?;
    page(vec![tweet], env.includes, env.errors, None, url)
}

fn page(
    tweets: Vec<Tweet>,
    includes: Includes,
    warnings: Vec<PartialError>,
    next_token: Option<String>,
    url: &str,
) -> Result<Page> {
    for t in tweets.iter().chain(&includes.tweets) {
        if !is_snowflake(&t.id) {
            return Err(malformed(url, format!("post id {:?} is not numeric", t.id)));
        }
    }
    Ok(Page {
        tweets,
        includes,
        warnings,
        next_token: next_token.filter(|t| !t.is_empty()),
    })
}

/// `created_at` as UTC (`2024-09-01T05:30:12.000Z`).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// The MP4 with the highest bit rate; HLS playlists and other types are never chosen. An MP4
/// without `bit_rate` is taken only if no MP4 states one.
pub fn choose_video_variant(variants: &[Variant]) -> Option<&Variant> {
    variants
        .iter()
        .filter(|v| v.content_type.eq_ignore_ascii_case("video/mp4"))
        .max_by_key(|v| v.bit_rate.map_or(0, |b| b.saturating_add(1)))
}

/// `https://pbs.twimg.com/media/XYZ.jpg` → `…/XYZ.jpg?name=orig` (the original resolution),
/// replacing any size already asked for.
pub fn photo_download_url(url: &str) -> Option<Url> {
    let mut u = Url::parse(url).ok()?;
    if !matches!(u.scheme(), "https" | "http") {
        return None;
    }
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "name")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.set_query(None);
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("name", "orig");
    }
    Some(u)
}

/// A file extension from the URL path (`.jpg`) or a `format=` query (`?format=png`).
fn photo_ext(url: &Url) -> Option<&'static str> {
    let from_path = url
        .path()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    let from_query = url
        .query_pairs()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.to_ascii_lowercase());
    let ext = from_path.or(from_query)?;
    ["jpg", "jpeg", "png", "webp", "gif"]
        .into_iter()
        .find(|e| *e == ext)
        .map(|e| if e == "jpeg" { "jpg" } else { e })
}

/// `…/vid/avc1/1280x720/abc.mp4` → `(1280, 720)`: X variants carry their size only in the path.
pub fn dimensions_from_url(url: &str) -> Option<(u32, u32)> {
    let u = Url::parse(url).ok()?;
    u.path_segments()?.rev().skip(1).find_map(|seg| {
        let (w, h) = seg.split_once('x')?;
        let num = |s: &str| {
            (!s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        Some((num(w)?, num(h)?))
    })
}

fn variant_rendition(v: &Variant) -> Rendition {
    let dims = dimensions_from_url(&v.url);
    Rendition {
        url: v.url.clone(),
        content_type: (!v.content_type.is_empty()).then(|| v.content_type.clone()),
        width: dims.map(|d| d.0),
        height: dims.map(|d| d.1),
        bitrate: v.bit_rate,
    }
}

/// How to get one media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaPlan {
    /// Download `download` and store it as `ext`.
    Fetch {
        key: String,
        download: Url,
        ext: &'static str,
        original_url: String,
        chosen: Rendition,
        offered: Vec<Rendition>,
    },
    /// X offers nothing this route can download; the media is recorded without a file.
    Unusable {
        key: String,
        original_url: Option<String>,
        offered: Vec<Rendition>,
        detail: String,
    },
}

impl MediaPlan {
    fn key(&self) -> &str {
        match self {
            MediaPlan::Fetch { key, .. } | MediaPlan::Unusable { key, .. } => key,
        }
    }
}

fn plan_media(m: &Media) -> MediaPlan {
    let unusable = |original_url: Option<String>, offered: Vec<Rendition>, detail: String| {
        MediaPlan::Unusable {
            key: m.media_key.clone(),
            original_url: original_url.filter(|u| u.starts_with("http")),
            offered,
            detail,
        }
    };
    if m.kind == "photo" {
        let Some(url) = m.url.as_deref() else {
            return unusable(
                None,
                Vec::new(),
                format!("photo {} has no url", m.media_key),
            );
        };
        let Some(download) = photo_download_url(url) else {
            return unusable(
                None,
                Vec::new(),
                format!("photo {} has no usable url", m.media_key),
            );
        };
        let chosen = Rendition {
            url: download.to_string(),
            content_type: None,
            width: m.width,
            height: m.height,
            bitrate: None,
        };
        return MediaPlan::Fetch {
            key: m.media_key.clone(),
            ext: photo_ext(&download).unwrap_or("jpg"),
            download,
            original_url: url.to_owned(),
            offered: vec![chosen.clone()],
            chosen,
        };
    }
    let offered: Vec<Rendition> = m.variants.iter().map(variant_rendition).collect();
    let fallback = m
        .preview_image_url
        .clone()
        .or_else(|| m.variants.first().map(|v| v.url.clone()));
    let Some(best) = choose_video_variant(&m.variants) else {
        return unusable(
            fallback,
            offered,
            format!("{} {} offers no MP4 variant", m.kind, m.media_key),
        );
    };
    let Some(download) = Url::parse(&best.url)
        .ok()
        .filter(|u| u.scheme().starts_with("http"))
    else {
        return unusable(
            fallback,
            offered,
            format!("{} {} has no usable MP4 url", m.kind, m.media_key),
        );
    };
    let mut chosen = variant_rendition(best);
    if chosen.width.is_none() && m.kind == "animated_gif" {
        chosen.width = m.width;
        chosen.height = m.height;
    }
    MediaPlan::Fetch {
        key: m.media_key.clone(),
        download,
        ext: "mp4",
        original_url: best.url.clone(),
        chosen,
        offered,
    }
}

/// One derived item with what its media need.
#[derive(Debug, Clone)]
pub struct Planned {
    pub item: Item,
    pub media: Vec<MediaPlan>,
    /// Media keys the post names that `includes.media` does not describe.
    pub missing_media: Vec<String>,
}

/// What [`derive_items`] needs to know about the capture.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub username: &'a str,
    pub pinned_id: Option<&'a str>,
    pub source_path: &'a str,
    pub url: &'a str,
}

fn full_text(t: &Tweet) -> &str {
    t.note_tweet
        .as_ref()
        .map_or(t.text.as_str(), |n| n.text.as_str())
}

fn metrics(m: Option<&TweetMetrics>) -> BTreeMap<String, u64> {
    let Some(m) = m else {
        return BTreeMap::new();
    };
    [
        ("reposts", m.retweet_count),
        ("replies", m.reply_count),
        ("likes", m.like_count),
        ("quotes", m.quote_count),
        ("bookmarks", m.bookmark_count),
        ("impressions", m.impression_count),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect()
}

/// Turns a page's posts into items (in page order) with their media plans.
pub fn derive_items(page: &Page, ctx: Context<'_>) -> Result<Vec<Planned>> {
    let included: HashMap<&str, &Tweet> = page
        .includes
        .tweets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let media: HashMap<&str, &Media> = page
        .includes
        .media
        .iter()
        .map(|m| (m.media_key.as_str(), m))
        .collect();
    page.tweets
        .iter()
        .map(|t| derive_one(t, &included, &media, ctx))
        .collect()
}

fn derive_one(
    t: &Tweet,
    included: &HashMap<&str, &Tweet>,
    media: &HashMap<&str, &Media>,
    ctx: Context<'_>,
) -> Result<Planned> {
    let created = t
        .created_at
        .as_deref()
        .ok_or_else(|| malformed(ctx.url, format!("post {} has no created_at", t.id)))?;
    let created_at = parse_time(created)
        .ok_or_else(|| malformed(ctx.url, format!("post {} created_at {created:?}", t.id)))?;
    let of = |kind: &str| t.referenced_tweets.iter().find(|r| r.kind == kind);
    let reposted = of("retweeted");
    let pinned = ctx.pinned_id == Some(t.id.as_str());
    let kind = if pinned {
        ItemKind::Announcement
    } else if reposted.is_some() {
        ItemKind::Repost
    } else if of("replied_to").is_some() {
        ItemKind::Reply
    } else if of("quoted").is_some() {
        ItemKind::Quote
    } else {
        ItemKind::Post
    };
    let original = reposted.and_then(|r| included.get(r.id.as_str()).copied());
    let text = original.map_or_else(|| full_text(t), full_text).to_owned();
    // A repost's own attachments normally repeat the original's; fall back to them if not.
    let keys = t
        .attachments
        .as_ref()
        .filter(|a| !a.media_keys.is_empty())
        .or_else(|| original.and_then(|o| o.attachments.as_ref()))
        .map(|a| a.media_keys.clone())
        .unwrap_or_default();
    let mut plans = Vec::new();
    let mut missing = Vec::new();
    for key in keys {
        match media.get(key.as_str()) {
            Some(m) => plans.push(plan_media(m)),
            None => missing.push(key),
        }
    }
    let item = Item {
        id: t.id.clone(),
        platform: Platform::X,
        kind,
        created_at,
        text,
        lang: t
            .lang
            .clone()
            .or_else(|| original.and_then(|o| o.lang.clone())),
        pinned,
        metrics: metrics(t.public_metrics.as_ref()),
        media: Vec::new(),
        url: Some(format!("https://x.com/{}/status/{}", ctx.username, t.id)),
        references: t.referenced_tweets.iter().map(|r| r.id.clone()).collect(),
        route: Route::Api,
        source_path: Some(ctx.source_path.to_owned()),
    };
    Ok(Planned {
        item,
        media: plans,
        missing_media: missing,
    })
}

/// The profile record; counts from `public_metrics`.
pub fn profile(user: &User) -> Profile {
    Profile {
        platform: Platform::X,
        id: user.id.clone(),
        username: Some(user.username.clone()),
        display_name: user.name.clone(),
        description: user.description.clone(),
        url: Some(format!("https://x.com/{}", user.username)),
        counts: reported_counts(user),
        media: Vec::new(),
        route: Route::Api,
    }
}

/// The original upload of a profile picture: X serves `…/NAME_normal.jpg` (48 px); without the
/// size suffix (`_normal`, `_bigger`, `_mini`, `_200x200`, `_400x400`) is the original.
pub fn profile_image_original(url: &str) -> String {
    let (dir, file) = url.rsplit_once('/').unwrap_or(("", url));
    let (stem, ext) = file
        .rsplit_once('.')
        .map_or((file, None), |(s, e)| (s, Some(e)));
    let bare = ["_normal", "_bigger", "_mini", "_200x200", "_400x400"]
        .iter()
        .find_map(|suffix| stem.strip_suffix(suffix))
        .unwrap_or(stem);
    let file = ext.map_or_else(|| bare.to_owned(), |e| format!("{bare}.{e}"));
    if dir.is_empty() {
        file
    } else {
        format!("{dir}/{file}")
    }
}

fn reported_counts(user: &User) -> BTreeMap<String, u64> {
    let m = user.public_metrics.clone().unwrap_or_default();
    [
        ("followers", m.followers_count),
        ("following", m.following_count),
        ("posts", m.tweet_count),
        ("listed", m.listed_count),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect()
}

/// The gap left by X's timeline depth, if the profile counts more posts than were captured.
pub fn cap_gap(reported: Option<u64>, captured: u64) -> Option<Gap> {
    let reported = reported?;
    let missing = reported.checked_sub(captured).filter(|n| *n > 0)?;
    let detail = if captured >= TIMELINE_CAP {
        format!(
            "X's user timeline returns only the newest 3,200 posts; {missing} older posts need \
             the owner's archive (tawthiq import x)"
        )
    } else {
        format!(
            "X reports {reported} posts but its user timeline returned {captured} (it returns \
             only the newest 3,200 posts, fewer when posts were deleted or withheld); \
             {missing} posts need the owner's archive (tawthiq import x)"
        )
    };
    Some(Gap {
        reason: GapReason::PlatformCap,
        detail,
        item_id: None,
        url: None,
    })
}

fn with_fields(u: &mut Url, expansions: &str) {
    u.query_pairs_mut()
        .append_pair("tweet.fields", TWEET_FIELDS)
        .append_pair("expansions", expansions)
        .append_pair("media.fields", MEDIA_FIELDS)
        .append_pair("user.fields", USER_FIELDS);
}

fn api_url(segments: &[&str]) -> Url {
    let mut u = Url::parse(API).expect("constant URL");
    u.path_segments_mut()
        .expect("https URL")
        .pop_if_empty()
        .extend(segments);
    u
}

/// `/2/users/me` or `/2/users/by/username/{name}` with the pinned post expanded.
pub fn user_url(target: &Target) -> Url {
    let mut u = match target {
        Target::Me => api_url(&["users", "me"]),
        Target::Username(n) => api_url(&["users", "by", "username", n]),
        Target::Id(id) => api_url(&["users", id]),
    };
    u.query_pairs_mut()
        .append_pair("user.fields", USER_FIELDS)
        .append_pair("expansions", "pinned_tweet_id")
        .append_pair("tweet.fields", TWEET_FIELDS);
    u
}

/// `/2/users/{id}/tweets`, 100 per page, from `pagination_token` if given.
pub fn timeline_url(user_id: &str, pagination_token: Option<&str>) -> Url {
    let mut u = api_url(&["users", user_id, "tweets"]);
    u.query_pairs_mut().append_pair("max_results", "100");
    with_fields(&mut u, TWEET_EXPANSIONS);
    if let Some(t) = pagination_token {
        u.query_pairs_mut().append_pair("pagination_token", t);
    }
    u
}

/// `/2/tweets/{id}` with the timeline's fields.
pub fn tweet_url(id: &str) -> Url {
    let mut u = api_url(&["tweets", id]);
    with_fields(&mut u, TWEET_EXPANSIONS);
    u
}

fn warning_gap(w: &PartialError, referenced_by: Option<&str>) -> Gap {
    let resource = w.resource();
    let what = match (&w.resource_type, &resource) {
        (Some(t), Some(id)) => format!(" ({t} {id})"),
        (None, Some(id)) => format!(" ({id})"),
        _ => String::new(),
    };
    let url = match (w.resource_type.as_deref(), &resource) {
        (Some("tweet"), Some(id)) if is_snowflake(id) => {
            Some(format!("https://x.com/i/status/{id}"))
        }
        _ => None,
    };
    Gap {
        reason: GapReason::Unavailable,
        detail: format!("X withheld a referenced resource{what}: {}", w.text()),
        item_id: referenced_by.map(str::to_owned),
        url,
    }
}

// ---------------------------------------------------------------------------------------------
// The capture.

struct Run<'r> {
    transport: &'r Transport,
    token: &'r Secret,
    sink: &'r mut dyn Sink,
    seen: HashSet<String>,
    /// Outcome per media key: each file is requested once per capture.
    media: HashMap<String, Option<ContentId>>,
    stored_media: HashSet<ContentId>,
    gaps: u64,
}

impl Run<'_> {
    async fn api(&mut self, endpoint: &str, url: Url) -> Result<Document> {
        let req = Request::new(Platform::X, endpoint, url)
            .auth(Some(Auth::Bearer(self.token)))
            .signals(&XSignals);
        self.transport.document(self.sink, &req).await
    }

    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps += 1;
        self.sink.gap(gap).await
    }

    async fn capture(&mut self, target: &Target) -> Result<Report> {
        let endpoint = match target {
            Target::Me => "users-me",
            Target::Username(_) => "users-by-username",
            Target::Id(_) => "users-by-id",
        };
        let doc = self
            .api(endpoint, user_url(target))
            .await
            .map_err(FetchError::about_account)?;
        let UserDoc { user, warnings } = parse_user(&doc.body, &doc.url)?;
        let account =
            AccountId::new(&user.id).map_err(|e| malformed(&doc.url, format!("user id: {e}")))?;
        let who = Identity::new(Some(&user.id), Some(&user.username));
        self.sink.identify(&who).await?;
        self.sink.begin(&account).await?;
        let mut prof = profile(&user);
        if let Some(url) = user.profile_image_url.as_deref() {
            prof.media.push(self.profile_image(url, &doc.url).await?);
        }
        self.sink.profile(prof).await?;
        // The only expansion here is the pinned post: a warning about it is its gap already.
        let mut withheld = HashSet::new();
        for w in &warnings {
            withheld.extend(w.resource());
            self.gap(warning_gap(w, None)).await?;
        }
        let pinned = user.pinned_tweet_id.as_deref();

        let mut token: Option<String> = None;
        let mut tokens_seen = HashSet::new();
        for n in 1..=MAX_PAGES {
            let url = timeline_url(&user.id, token.as_deref());
            let doc = self.api(&format!("tweets-p{n}"), url).await?;
            let page = parse_page(&doc.body, &doc.url)?;
            self.emit_page(&page, &user.username, pinned, &doc).await?;
            match page.next_token {
                None => break,
                Some(t) if !tokens_seen.insert(t.clone()) => {
                    return Err(malformed(&doc.url, format!("next_token {t:?} repeats")));
                }
                Some(t) if n == MAX_PAGES => {
                    return Err(malformed(
                        &doc.url,
                        format!("still paging after {n} pages ({t})"),
                    ));
                }
                Some(t) => token = Some(t),
            }
        }

        if let Some(id) = pinned
            && !self.seen.contains(id)
            && !withheld.contains(id)
        {
            self.pinned_outside_timeline(id, &user.username).await?;
        }

        let captured = self.seen.len() as u64;
        let reported = reported_counts(&user);
        if let Some(gap) = cap_gap(reported.get("posts").copied(), captured) {
            self.gap(gap).await?;
        }
        let media = self.stored_media.len() as u64;
        let statement = if self.gaps == 0 {
            format!("complete: {captured} posts and {media} media files")
        } else {
            let of = reported
                .get("posts")
                .map_or_else(String::new, |p| format!(" of the {p} X reports"));
            format!(
                "incomplete: {captured} posts{of} and {media} media files captured; {} gaps \
                 listed",
                self.gaps
            )
        };
        Ok(Report {
            platform_reported: reported,
            captured: BTreeMap::from([("posts".to_owned(), captured), ("media".to_owned(), media)]),
            statement,
        })
    }

    /// Downloads one media file into the sink; a failure of this file alone is a gap
    /// ([`download_or_gap`]) and `None`.
    async fn download(
        &mut self,
        url: Url,
        ext: &str,
        what: &str,
        item_id: Option<&str>,
        gap_url: &str,
    ) -> Result<Option<ContentId>> {
        let req = Request::new(Platform::X, "media", url).signals(&XSignals);
        let missing = Missing {
            what,
            item_id,
            url: gap_url,
        };
        let stored = download_or_gap(self.transport, self.sink, &req, Some(ext), missing).await?;
        if stored.is_none() {
            self.gaps += 1;
        }
        Ok(stored.map(|s| s.sha256))
    }

    /// The profile picture at its original size; a per-file failure is a gap, not a stop.
    async fn profile_image(&mut self, url: &str, doc_url: &str) -> Result<MediaRef> {
        let original = profile_image_original(url);
        let download = Url::parse(&original)
            .map_err(|e| malformed(doc_url, format!("profile_image_url {url:?}: {e}")))?;
        // X profile pictures are JPEG, PNG or GIF; the extension is all the URL says.
        let ext = match original
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => "png",
            Some("gif") => "gif",
            Some("webp") => "webp",
            _ => "jpg",
        };
        let sha256 = self
            .download(download, ext, "the profile picture", None, url)
            .await?;
        Ok(MediaRef {
            sha256,
            original_url: url.to_owned(),
            chosen: Some(Rendition {
                url: original,
                content_type: None,
                width: None,
                height: None,
                bitrate: None,
            }),
            offered: Vec::new(),
        })
    }

    /// The timeline did not hold the pinned post (older than its depth): look it up alone.
    async fn pinned_outside_timeline(&mut self, id: &str, username: &str) -> Result<()> {
        let doc = match self.api("tweet-pinned", tweet_url(id)).await {
            Ok(d) => d,
            Err(e) if e.is_refusal() => {
                return self
                    .gap(Gap {
                        reason: GapReason::Unavailable,
                        detail: format!("the pinned post could not be read: {e}"),
                        item_id: Some(id.to_owned()),
                        url: Some(format!("https://x.com/{username}/status/{id}")),
                    })
                    .await;
            }
            Err(e) => return Err(e),
        };
        let page = parse_single(&doc.body, &doc.url)?;
        self.emit_page(&page, username, Some(id), &doc).await
    }

    async fn emit_page(
        &mut self,
        page: &Page,
        username: &str,
        pinned: Option<&str>,
        doc: &Document,
    ) -> Result<()> {
        let ctx = Context {
            username,
            pinned_id: pinned,
            source_path: &doc.stored.path,
            url: &doc.url,
        };
        let planned = derive_items(page, ctx)?;
        for w in &page.warnings {
            let by = w.resource().and_then(|r| {
                planned
                    .iter()
                    .find(|p| p.item.references.contains(&r))
                    .map(|p| p.item.id.clone())
            });
            self.gap(warning_gap(w, by.as_deref())).await?;
        }
        for p in planned {
            if !self.seen.insert(p.item.id.clone()) {
                // Pages can overlap when posts arrive mid-capture; the first copy stands.
                continue;
            }
            self.emit_item(p).await?;
        }
        Ok(())
    }

    async fn emit_item(&mut self, p: Planned) -> Result<()> {
        let Planned {
            mut item,
            media,
            missing_media,
        } = p;
        for key in missing_media {
            self.gap(Gap {
                reason: GapReason::Other,
                detail: format!("X named media {key} for this post but did not describe it"),
                item_id: Some(item.id.clone()),
                url: item.url.clone(),
            })
            .await?;
        }
        for plan in media {
            if let Some(r) = self.media_ref(&item.id, plan).await? {
                item.media.push(r);
            }
        }
        self.sink.item(item).await
    }

    async fn media_ref(&mut self, item_id: &str, plan: MediaPlan) -> Result<Option<MediaRef>> {
        let key = plan.key().to_owned();
        let (download, ext, original_url, chosen, offered) = match plan {
            MediaPlan::Fetch {
                download,
                ext,
                original_url,
                chosen,
                offered,
                ..
            } => (download, ext, original_url, chosen, offered),
            MediaPlan::Unusable {
                original_url,
                offered,
                detail,
                ..
            } => {
                self.gap(Gap {
                    reason: GapReason::MediaWithheld,
                    detail,
                    item_id: Some(item_id.to_owned()),
                    url: original_url.clone(),
                })
                .await?;
                return Ok(original_url.map(|original_url| MediaRef {
                    sha256: None,
                    original_url,
                    chosen: None,
                    offered,
                }));
            }
        };
        let sha = if let Some(outcome) = self.media.get(&key) {
            *outcome
        } else {
            let what = format!("media {key}");
            let outcome = self
                .download(download, ext, &what, Some(item_id), &original_url)
                .await?;
            if let Some(sha256) = outcome {
                self.stored_media.insert(sha256);
            }
            self.media.insert(key, outcome);
            outcome
        };
        Ok(Some(MediaRef {
            sha256: sha,
            original_url,
            chosen: Some(chosen),
            offered,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://api.x.com/2/users/1/tweets";

    fn ctx(pinned: Option<&str>) -> Context<'_> {
        Context {
            username: "madrasat_alnoor",
            pinned_id: pinned,
            source_path: "data/original/api/000002-tweets-p1.json",
            url: URL,
        }
    }

    #[test]
    fn profile_pictures_are_fetched_at_original_size() {
        assert_eq!(
            profile_image_original(
                "https://pbs.twimg.com/profile_images/1456790123456789012/Xk3mPq9R_normal.jpg"
            ),
            "https://pbs.twimg.com/profile_images/1456790123456789012/Xk3mPq9R.jpg"
        );
        assert_eq!(
            profile_image_original("https://pbs.twimg.com/profile_images/1/a_b_400x400.png"),
            "https://pbs.twimg.com/profile_images/1/a_b.png"
        );
        assert_eq!(
            profile_image_original("https://pbs.twimg.com/profile_images/1/plain.jpg"),
            "https://pbs.twimg.com/profile_images/1/plain.jpg"
        );
    }

    #[test]
    fn targets_parse() {
        assert_eq!("me".parse::<Target>().unwrap(), Target::Me);
        assert_eq!(" ME ".parse::<Target>().unwrap(), Target::Me);
        assert_eq!(
            "@madrasat_alnoor".parse::<Target>().unwrap(),
            Target::Username("madrasat_alnoor".into())
        );
        assert_eq!(
            "abc".parse::<Target>().unwrap(),
            Target::Username("abc".into())
        );
        assert_eq!(
            "1456789012345678901".parse::<Target>().unwrap(),
            Target::Id("1456789012345678901".into())
        );
        assert_eq!(
            "@123".parse::<Target>().unwrap(),
            Target::Username("123".into())
        );
        for bad in ["", "@", "a b", "../x", "مدرسة", "a/b"] {
            assert!(bad.parse::<Target>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_encoded() {
        let u = timeline_url(
            "42",
            Some("7140dibdnow9c7btw3z2vwzx8yv0okvbuf5y5u0x2qsw9+/="),
        );
        assert_eq!(u.path(), "/2/users/42/tweets");
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["max_results"], "100");
        assert_eq!(
            q["pagination_token"],
            "7140dibdnow9c7btw3z2vwzx8yv0okvbuf5y5u0x2qsw9+/="
        );
        assert_eq!(q["tweet.fields"], TWEET_FIELDS);
        assert!(q["tweet.fields"].contains("note_tweet"));
        assert!(u.as_str().contains("qsw9%2B%2F%3D"));
        assert_eq!(user_url(&Target::Me).path(), "/2/users/me");
        let by = user_url(&Target::Username("a_b".into()));
        assert_eq!(by.path(), "/2/users/by/username/a_b");
        assert_eq!(user_url(&Target::Id("42".into())).path(), "/2/users/42");
        assert!(
            by.query_pairs()
                .any(|(k, v)| k == "expansions" && v == "pinned_tweet_id")
        );
        assert_eq!(tweet_url("9").path(), "/2/tweets/9");
    }

    #[test]
    fn the_best_mp4_wins_and_hls_never_does() {
        let v = |b: Option<u64>, t: &str, u: &str| Variant {
            bit_rate: b,
            content_type: t.into(),
            url: u.into(),
        };
        let variants = vec![
            v(
                Some(832_000),
                "video/mp4",
                "https://video.twimg.com/v/640x360/a.mp4",
            ),
            v(
                None,
                "application/x-mpegURL",
                "https://video.twimg.com/v/pl/a.m3u8",
            ),
            v(
                Some(2_176_000),
                "video/mp4",
                "https://video.twimg.com/v/1280x720/b.mp4",
            ),
            v(
                Some(256_000),
                "video/mp4",
                "https://video.twimg.com/v/480x270/c.mp4",
            ),
        ];
        assert_eq!(
            choose_video_variant(&variants).unwrap().bit_rate,
            Some(2_176_000)
        );
        assert!(choose_video_variant(&variants[1..2]).is_none());
        // An animated GIF's only MP4 says bit_rate 0.
        let gif = [v(
            Some(0),
            "video/mp4",
            "https://video.twimg.com/tweet_video/G.mp4",
        )];
        assert_eq!(choose_video_variant(&gif).unwrap().url, gif[0].url);
        let unknown = [
            v(None, "video/mp4", "https://x/a.mp4"),
            v(Some(0), "video/mp4", "https://x/b.mp4"),
        ];
        assert_eq!(
            choose_video_variant(&unknown).unwrap().url,
            "https://x/b.mp4"
        );
    }

    #[test]
    fn photos_are_fetched_at_original_size() {
        let u = photo_download_url("https://pbs.twimg.com/media/GWa1bC2XsAAq9Zk.jpg").unwrap();
        assert_eq!(
            u.as_str(),
            "https://pbs.twimg.com/media/GWa1bC2XsAAq9Zk.jpg?name=orig"
        );
        let u =
            photo_download_url("https://pbs.twimg.com/media/GWa?format=png&name=small").unwrap();
        assert_eq!(
            u.as_str(),
            "https://pbs.twimg.com/media/GWa?format=png&name=orig"
        );
        assert_eq!(photo_ext(&u), Some("png"));
        assert!(photo_download_url("not a url").is_none());
    }

    #[test]
    fn variant_sizes_come_from_the_path() {
        assert_eq!(
            dimensions_from_url(
                "https://video.twimg.com/ext_tw_video/1/pu/vid/avc1/1280x720/Xy.mp4?tag=12"
            ),
            Some((1280, 720))
        );
        assert_eq!(
            dimensions_from_url("https://video.twimg.com/tweet_video/G.mp4"),
            None
        );
        assert_eq!(
            dimensions_from_url("https://video.twimg.com/a/1280x720.mp4"),
            None
        );
    }

    #[test]
    fn times_are_utc_with_fractions() {
        let t = parse_time("2024-09-01T05:30:12.000Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_725_168_612);
        assert_eq!(t.offset(), time::UtcOffset::UTC);
        assert_eq!(
            parse_time("2024-09-01T08:30:12.250+03:00").unwrap().hour(),
            5
        );
        assert!(parse_time("01/09/2024").is_none());
    }

    #[test]
    fn empty_pages_need_result_count_zero() {
        let p = parse_page(br#"{"meta":{"result_count":0}}"#, URL).unwrap();
        assert!(p.is_empty() && p.next_token.is_none());
        for bad in [
            &b"{}"[..],
            b"{\"data\":[]",
            b"[]",
            b"{\"meta\":{\"result_count\":3}}",
        ] {
            let e = parse_page(bad, URL).unwrap_err();
            assert_eq!(e.kind(), "malformed", "{}", String::from_utf8_lossy(bad));
        }
        // A post without text or with a non-numeric id is malformed too.
        let no_text = br#"{"data":[{"id":"1","created_at":"2024-09-01T05:30:12.000Z"}],"meta":{}}"#;
        assert_eq!(parse_page(no_text, URL).unwrap_err().kind(), "malformed");
        let bad_id = br#"{"data":[{"id":"1/../2","text":"x"}],"meta":{}}"#;
        assert_eq!(parse_page(bad_id, URL).unwrap_err().kind(), "malformed");
        let no_time = br#"{"data":[{"id":"1","text":"x"}],"meta":{}}"#;
        let p = parse_page(no_time, URL).unwrap();
        assert_eq!(derive_items(&p, ctx(None)).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn kinds_texts_and_references() {
        let body = r#"{
          "data": [
            {"id":"10","text":"RT @moe: قصير…","created_at":"2024-09-03T00:00:00.000Z",
             "referenced_tweets":[{"type":"retweeted","id":"5"}],"attachments":{"media_keys":[]}},
            {"id":"11","text":"رد","created_at":"2024-09-02T00:00:00.000Z",
             "referenced_tweets":[{"type":"replied_to","id":"6"},{"type":"quoted","id":"7"}]},
            {"id":"12","text":"مقتطع… https://t.co/x","note_tweet":{"text":"النص الكامل الطويل"},
             "created_at":"2024-09-01T00:00:00.000Z","public_metrics":{"retweet_count":1,
             "reply_count":2,"like_count":3,"quote_count":4,"bookmark_count":5,"impression_count":6}},
            {"id":"13","text":"مثبت","created_at":"2024-08-01T00:00:00.000Z",
             "referenced_tweets":[{"type":"quoted","id":"7"}]},
            {"id":"14","text":"RT @gone: …","created_at":"2024-07-01T00:00:00.000Z",
             "referenced_tweets":[{"type":"retweeted","id":"8"}]}
          ],
          "includes": {"tweets":[{"id":"5","text":"مقتطع","note_tweet":{"text":"الأصل كاملاً 🌙"},
             "attachments":{"media_keys":["3_1"]}}],
            "media":[{"media_key":"3_1","type":"photo","url":"https://pbs.twimg.com/media/A.png"}]},
          "meta": {"result_count": 5}
        }"#;
        let page = parse_page(body.as_bytes(), URL).unwrap();
        let items = derive_items(&page, ctx(Some("13"))).unwrap();
        let kinds: Vec<_> = items.iter().map(|p| p.item.kind).collect();
        assert_eq!(
            kinds,
            [
                ItemKind::Repost,
                ItemKind::Reply,
                ItemKind::Post,
                ItemKind::Announcement,
                ItemKind::Repost
            ]
        );
        assert_eq!(items[0].item.text, "الأصل كاملاً 🌙");
        assert_eq!(items[0].item.references, ["5"]);
        assert_eq!(
            items[0].media.len(),
            1,
            "a repost falls back to the original's media"
        );
        assert_eq!(items[1].item.references, ["6", "7"]);
        assert_eq!(items[2].item.text, "النص الكامل الطويل");
        assert_eq!(items[2].item.metrics["reposts"], 1);
        assert_eq!(items[2].item.metrics["impressions"], 6);
        assert_eq!(items[2].item.metrics.len(), 6);
        assert!(items[3].item.pinned && !items[2].item.pinned);
        assert_eq!(
            items[4].item.text, "RT @gone: …",
            "no original: the delivered text stays"
        );
        assert_eq!(
            items[3].item.url.as_deref(),
            Some("https://x.com/madrasat_alnoor/status/13")
        );
        let MediaPlan::Fetch {
            download,
            ext,
            original_url,
            ..
        } = &items[0].media[0]
        else {
            panic!("photo is fetchable")
        };
        assert_eq!(
            download.as_str(),
            "https://pbs.twimg.com/media/A.png?name=orig"
        );
        assert_eq!(*ext, "png");
        assert_eq!(original_url, "https://pbs.twimg.com/media/A.png");
    }

    #[test]
    fn videos_without_mp4_are_unusable_and_missing_keys_are_reported() {
        let body = r#"{"data":[{"id":"1","text":"x","created_at":"2024-09-01T00:00:00Z",
            "attachments":{"media_keys":["7_1","3_9"]}}],
          "includes":{"media":[{"media_key":"7_1","type":"video",
            "preview_image_url":"https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/p.jpg",
            "variants":[{"content_type":"application/x-mpegURL","url":"https://video.twimg.com/p.m3u8"}]}]},
          "meta":{"result_count":1}}"#;
        let page = parse_page(body.as_bytes(), URL).unwrap();
        let items = derive_items(&page, ctx(None)).unwrap();
        assert_eq!(items[0].missing_media, ["3_9"]);
        let MediaPlan::Unusable {
            offered,
            original_url,
            ..
        } = &items[0].media[0]
        else {
            panic!("HLS only is not downloadable")
        };
        assert_eq!(offered.len(), 1);
        assert!(original_url.as_deref().unwrap().ends_with("p.jpg"));
    }

    #[test]
    fn the_cap_gap_counts_what_is_missing() {
        let g = cap_gap(Some(5000), 3200).unwrap();
        assert_eq!(g.reason, GapReason::PlatformCap);
        assert!(g.detail.contains("1800 older posts"), "{}", g.detail);
        assert!(
            cap_gap(Some(5000), 120)
                .unwrap()
                .detail
                .contains("4880 posts")
        );
        assert!(cap_gap(Some(8), 8).is_none());
        assert!(cap_gap(None, 8).is_none());
    }

    #[test]
    fn user_documents_are_checked() {
        let ok = br#"{"data":{"id":"123","username":"a","pinned_tweet_id":"9"},
            "errors":[{"title":"Not Found Error","detail":"Could not find tweet with id: [9].",
            "resource_type":"tweet","resource_id":"9"}]}"#;
        let doc = parse_user(ok, URL).unwrap();
        assert_eq!(doc.user.id, "123");
        assert_eq!(doc.warnings[0].resource().as_deref(), Some("9"));
        assert_eq!(
            parse_user(br#"{"data":{"id":"x1","username":"a"}}"#, URL)
                .unwrap_err()
                .kind(),
            "malformed"
        );
        assert_eq!(parse_user(b"{}", URL).unwrap_err().kind(), "malformed");
    }
}
