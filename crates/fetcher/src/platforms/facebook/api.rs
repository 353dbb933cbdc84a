//! Facebook Page route: the Graph API with a Page access token (reference §3.1–§3.4, §2.4).
//!
//! Flow: read the Page (`/{page}` or, with a Page token, `/me`), call [`Sink::begin`] with its
//! id, emit the profile with its picture and cover, page `/{page}/published_posts` to the end,
//! look up the full-resolution files of the photos and videos those posts attach, then page
//! `/{page}/photos?type=uploaded`, `/{page}/videos` and `/{page}/video_reels` to the end for
//! uploads and Reels that no post carries (`published_posts` never returns Reels). Every media file is downloaded in the same run (signed CDN URLs expire).
//!
//! Parsing is plain functions over bytes and values ([`parse_page_info`], [`derive_post`],
//! [`parse_images`], [`parse_lookup`], [`photo_plan`], [`video_plan`], [`edge_photo`],
//! [`edge_video`], [`cap_gap`]); [`FacebookApi::capture`] only moves bytes.
//!
//! Decisions an integrator should know:
//! - **Never complete.** Feed edges return "approximately 600 ranked, published posts per
//!   year"; the report's statement always says the Graph route may omit posts and that the
//!   Page's "Download Your Information" export is the complete record. A calendar year with
//!   550 or more captured posts also gets a `PlatformCap` gap (probable truncation).
//! - **Paging** follows `paging.next` until it is absent; an empty `data` page with a next link
//!   is not the end (Facebook documents such pages). Links lose their token before they are
//!   stored or logged ([`graph::without_token`]); the transport adds it back on the wire only.
//! - **Pinned posts** cannot be seen through this route: the Graph API accepts `is_pinned` only
//!   as a parameter when *updating* a post, it is not a readable field of a Page post, and the
//!   ranked order of the edge says nothing reliable either. Every post is `ItemKind::Post` with
//!   `pinned: false`; the DYI export is where a pin could be recovered.
//! - `Item::text` is `message`, else `story` ("… updated their cover photo."), else empty,
//!   exactly as delivered. `url` is `permalink_url`; `metrics.shares` is `shares.count`.
//! - **Attachments**: an attachment with `subattachments` (albums, multi-photo posts) yields
//!   every sub-item, never the cover alone. Photos (`photo`, `profile_media`, `cover_photo`
//!   with a `target.id`) are looked up for their `images[]` and the largest is downloaded;
//!   videos (`video_*` types but `video_share_*`, which are link shares) are looked up for
//!   their `source` MP4. Lookups are batched, `GET /?ids=<≤50 ids>&fields=…`: one call per 50
//!   objects instead of one each (every call counts against the Page's budget). If a batch
//!   fails because one object is gone (code 100/33, which fails the whole batch), its ids are
//!   looked up one by one so only the gone ones lose their full resolution.
//! - `MediaRef::original_url` is the URL the post gave (`media.image.src`, the ≤720 px
//!   rendition, or the attachment's `media.source`); `chosen` is the file downloaded;
//!   `offered` lists every rendition known (the photo's `images[]`). A photo whose lookup
//!   failed keeps the ≤720 px rendition, with a gap saying so. A video without `source` (only
//!   Page admins get it) is recorded without a file and a `MediaWithheld` gap.
//! - Attachments of other types (events, polls…) keep the image they show; shares record
//!   their target link (`unshimmed_url`, else `url`) in `Item::references` (the item model has
//!   no link field) and download nothing.
//! - **Uploads outside posts**: items from `/photos?type=uploaded` are `Post`s (text = the
//!   photo's `name`), items from `/videos` are `Video`s (text = `description`, else `title`),
//!   their relative `permalink_url` made absolute on `https://www.facebook.com`; items from
//!   `/video_reels` are `Reel`s, built like videos. An object a post or an earlier edge
//!   already gave is skipped (each object is captured once). A Page on which the Reels edge
//!   answers with an error (older Pages, missing feature) gets a gap, not a failed capture.
//! - CDN files (`*.fbcdn.net`) are fetched without the token; a file that is gone or refused
//!   is a gap ([`download_or_gap`]); token, quota, deferral, network and storage failures stop
//!   the capture. Each URL is requested once per capture.
//! - The profile asks `picture.width(1080).height(1080)` (Graph answers with the largest it
//!   has up to that size; `type(large)` is only about 200 px) and `cover{source}`.
//! - A person's token used with `me` reads a User, which has no Page fields: reported as an
//!   `AuthExpired` error asking for a Page access token.

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
use crate::platforms::meta::graph::{self, FACEBOOK_HOST, Graph, Pager, parse_page, parse_time};
use crate::platforms::meta::signals::MetaSignals;
use crate::source::{Identity, Report, Sink, Source};
use crate::source::{count, edge_gap};
use crate::transport::{Document, Request, Transport};

const PLATFORM: Platform = Platform::Facebook;

/// The Page profile (Page reference fields).
pub const PAGE_FIELDS: &str = "id,name,username,about,description,link,category,fan_count,\
followers_count,picture.width(1080).height(1080){url,width,height},cover{source}";
/// Reference §3.2: the useful set for archiving (the v3.3-deprecated fields left out).
pub const POST_FIELDS: &str = "id,created_time,updated_time,message,story,permalink_url,\
status_type,is_published,full_picture,shares,attachments{description,media,media_type,target,\
title,type,url,unshimmed_url,subattachments}";
pub const PHOTO_FIELDS: &str = "id,created_time,name,link,images";
pub const VIDEO_FIELDS: &str =
    "id,created_time,title,description,source,permalink_url,length,picture";
/// A video looked up by id (its id is the key of the `ids=` answer).
pub const VIDEO_LOOKUP_FIELDS: &str =
    "source,permalink_url,length,title,description,created_time,picture";
/// The Graph API's maximum for `ids=`.
pub const LOOKUP_BATCH: usize = 50;
/// A calendar year with this many captured posts is probably cut by the ~600-a-year cap.
pub const YEAR_CAP_WARNING: u64 = 550;
const WEB: &str = "https://www.facebook.com";

/// Which Page to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageTarget {
    /// The Page that owns the token (a Page token's `/me` is the Page).
    Me,
    /// A numeric Page id.
    Id(String),
}

impl FromStr for PageTarget {
    type Err = FetchError;

    /// `me` → [`PageTarget::Me`]; digits → [`PageTarget::Id`].
    fn from_str(s: &str) -> Result<PageTarget> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("me") {
            return Ok(PageTarget::Me);
        }
        if is_numeric_id(s) {
            return Ok(PageTarget::Id(s.to_owned()));
        }
        Err(FetchError::Config(format!(
            "Facebook Page {s:?}: expected \"me\" (with the Page's access token) or the Page's \
             numeric id"
        )))
    }
}

impl fmt::Display for PageTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageTarget::Me => f.write_str("me"),
            PageTarget::Id(id) => f.write_str(id),
        }
    }
}

/// The Graph API source for one Facebook Page.
pub struct FacebookApi<'t> {
    transport: &'t Transport,
    token: Secret,
    target: PageTarget,
}

impl<'t> FacebookApi<'t> {
    pub fn new(transport: &'t Transport, token: Secret, target: PageTarget) -> FacebookApi<'t> {
        FacebookApi {
            transport,
            token,
            target,
        }
    }
}

#[async_trait::async_trait]
impl Source for FacebookApi<'_> {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn route(&self) -> Route {
        Route::Api
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let mut run = Run {
            graph: Graph::new(self.transport, &self.token, PLATFORM),
            transport: self.transport,
            sink,
            photos: HashMap::new(),
            videos: HashMap::new(),
            downloads: HashMap::new(),
            in_posts: HashSet::new(),
            items: HashSet::new(),
            stored_media: HashSet::new(),
            per_year: BTreeMap::new(),
            lookups: 0,
            gaps: 0,
            counts: Counts::default(),
        };
        run.capture(&self.target).await
    }
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (only what is read; everything else stays in the stored documents).

/// The Page as `/{page}?fields=…` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct PageInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub about: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub fan_count: Option<u64>,
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    picture: Option<Picture>,
    #[serde(default)]
    cover: Option<Cover>,
}

#[derive(Debug, Clone, Deserialize)]
struct Picture {
    #[serde(default)]
    data: Option<PictureData>,
}

#[derive(Debug, Clone, Deserialize)]
struct PictureData {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
struct Cover {
    #[serde(default)]
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Post {
    id: String,
    #[serde(default)]
    created_time: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    story: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
    #[serde(default)]
    shares: Option<Shares>,
    #[serde(default)]
    attachments: Option<Attachments>,
}

#[derive(Debug, Deserialize)]
struct Shares {
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Attachments {
    #[serde(default)]
    data: Vec<Attachment>,
}

#[derive(Debug, Deserialize)]
struct Attachment {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    media: Option<AttachedMedia>,
    #[serde(default)]
    target: Option<AttachedTarget>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    unshimmed_url: Option<String>,
    #[serde(default)]
    subattachments: Option<Attachments>,
}

#[derive(Debug, Deserialize)]
struct AttachedMedia {
    #[serde(default)]
    image: Option<ShownImage>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShownImage {
    src: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct AttachedTarget {
    #[serde(default)]
    id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Pure parsing.

fn malformed(url: &str, detail: impl Into<String>) -> FetchError {
    graph::malformed(PLATFORM, url, detail)
}

fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 25 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Post ids are `{page-id}_{post-id}`.
fn is_post_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 60 && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

fn http_url(s: &str) -> Option<Url> {
    Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
}

fn utc(s: &str) -> Option<OffsetDateTime> {
    parse_time(s).map(|t| t.to_offset(UtcOffset::UTC))
}

fn rendition(url: &str, width: Option<u32>, height: Option<u32>) -> Rendition {
    Rendition {
        url: url.to_owned(),
        content_type: None,
        width,
        height,
        bitrate: None,
    }
}

fn mp4(url: &str) -> Rendition {
    Rendition {
        content_type: Some("video/mp4".to_owned()),
        ..rendition(url, None, None)
    }
}

/// Parses the Page profile; the id must be numeric (it names the account and every edge).
pub fn parse_page_info(body: &[u8], url: &str) -> Result<PageInfo> {
    let info: PageInfo =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("Page: {e}")))?;
    if !is_numeric_id(&info.id) {
        return Err(malformed(
            url,
            format!("Page id {:?} is not numeric", info.id),
        ));
    }
    Ok(info)
}

/// Counts the Page reports.
pub fn reported_counts(info: &PageInfo) -> BTreeMap<String, u64> {
    [
        ("followers", info.followers_count),
        ("fans", info.fan_count),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect()
}

/// The profile record (media added by the capture). `description` is the long description,
/// else the short `about`.
pub fn profile(info: &PageInfo) -> Profile {
    Profile {
        platform: PLATFORM,
        id: info.id.clone(),
        username: info.username.clone(),
        display_name: info.name.clone(),
        description: info.description.clone().or_else(|| info.about.clone()),
        url: Some(
            info.link
                .clone()
                .unwrap_or_else(|| format!("{WEB}/{}", info.id)),
        ),
        counts: reported_counts(info),
        media: Vec::new(),
        route: Route::Api,
    }
}

/// The profile picture and cover photo URLs, with what the Page says of their size.
fn profile_images(info: &PageInfo) -> Vec<Rendition> {
    let picture = info
        .picture
        .as_ref()
        .and_then(|p| p.data.as_ref())
        .and_then(|d| Some(rendition(d.url.as_deref()?, d.width, d.height)));
    let cover = info
        .cover
        .as_ref()
        .and_then(|c| Some(rendition(c.source.as_deref()?, None, None)));
    picture.into_iter().chain(cover).collect()
}

/// What one post attaches, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// A photo object: full resolution comes from its `images`.
    Photo {
        id: String,
        shown: Option<Rendition>,
    },
    /// A video object: the file is its `source`.
    Video {
        id: String,
        /// The attachment's `media.source`, if given.
        given: Option<String>,
        thumb: Option<Rendition>,
    },
    /// An image with no object behind it to look up (event cover, poll…): kept as shown.
    Image { shown: Rendition },
}

/// A post made into an item, with what its media need.
#[derive(Debug, Clone)]
pub struct PlannedPost {
    pub item: Item,
    pub attached: Vec<Attached>,
}

/// Where the derived items come from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub source_path: &'a str,
    pub url: &'a str,
}

fn is_link_share(kind: &str) -> bool {
    kind == "share" || kind.starts_with("video_share")
}

fn is_video(kind: &str) -> bool {
    kind.starts_with("video") && !is_link_share(kind)
}

fn is_photo(kind: &str) -> bool {
    matches!(kind, "photo" | "profile_media" | "cover_photo")
}

/// Walks an attachment: sub-attachments replace their parent (an album's `media` is only its
/// cover); depth is bounded as a guard against a hostile body.
fn collect(a: &Attachment, depth: u8, out: &mut Vec<Attached>, links: &mut Vec<String>) {
    if let Some(subs) = a.subattachments.as_ref().filter(|s| !s.data.is_empty())
        && depth < 3
    {
        for s in &subs.data {
            collect(s, depth + 1, out, links);
        }
        return;
    }
    let kind = a.kind.as_deref().unwrap_or_default();
    let shown = a
        .media
        .as_ref()
        .and_then(|m| m.image.as_ref())
        .filter(|i| http_url(&i.src).is_some())
        .map(|i| rendition(&i.src, i.width, i.height));
    let object = a
        .target
        .as_ref()
        .and_then(|t| t.id.clone())
        .filter(|id| is_numeric_id(id));
    if is_link_share(kind) {
        if let Some(link) = a.unshimmed_url.clone().or_else(|| a.url.clone()) {
            links.push(link);
        }
        return;
    }
    match object {
        Some(id) if is_video(kind) => out.push(Attached::Video {
            id,
            given: a
                .media
                .as_ref()
                .and_then(|m| m.source.clone())
                .filter(|s| http_url(s).is_some()),
            thumb: shown,
        }),
        Some(id) if is_photo(kind) => out.push(Attached::Photo { id, shown }),
        _ => {
            if let Some(shown) = shown {
                out.push(Attached::Image { shown });
            }
        }
    }
}

/// Turns one element of `published_posts` into an item and its attachments.
pub fn derive_post(v: &Value, ctx: Context<'_>) -> Result<PlannedPost> {
    let post: Post =
        serde_json::from_value(v.clone()).map_err(|e| malformed(ctx.url, format!("post: {e}")))?;
    if !is_post_id(&post.id) {
        return Err(malformed(
            ctx.url,
            format!("post id {:?} is not a Page post id", post.id),
        ));
    }
    let created = post
        .created_time
        .as_deref()
        .ok_or_else(|| malformed(ctx.url, format!("post {} has no created_time", post.id)))?;
    let created_at = utc(created).ok_or_else(|| {
        malformed(
            ctx.url,
            format!("post {} created_time {created:?}", post.id),
        )
    })?;
    let mut attached = Vec::new();
    let mut links = Vec::new();
    for a in post.attachments.iter().flat_map(|a| &a.data) {
        collect(a, 0, &mut attached, &mut links);
    }
    let metrics = post
        .shares
        .and_then(|s| s.count)
        .map(|n| BTreeMap::from([("shares".to_owned(), n)]))
        .unwrap_or_default();
    let item = Item {
        id: post.id,
        platform: PLATFORM,
        kind: ItemKind::Post,
        created_at,
        text: post.message.or(post.story).unwrap_or_default(),
        lang: None,
        pinned: false,
        metrics,
        media: Vec::new(),
        url: post.permalink_url,
        references: links,
        route: Route::Api,
        source_path: Some(ctx.source_path.to_owned()),
    };
    Ok(PlannedPost { item, attached })
}

/// A photo's `images[]` (`{height, width, source}`), largest first whatever order they came in.
pub fn parse_images(v: &Value) -> Vec<Rendition> {
    let mut out: Vec<Rendition> = v
        .get("images")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let source = graph::str_field(i, "source").filter(|s| http_url(s).is_some())?;
            let dim = |k| graph::count_field(i, k).and_then(|n| u32::try_from(n).ok());
            Some(rendition(source, dim("width"), dim("height")))
        })
        .collect();
    out.sort_by_key(|r| {
        std::cmp::Reverse(u64::from(r.width.unwrap_or(0)) * u64::from(r.height.unwrap_or(0)))
    });
    out
}

/// An `ids=` lookup: `{"<id>": {…}, …}`.
pub fn parse_lookup(body: &[u8], url: &str) -> Result<HashMap<String, Value>> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("lookup: {e}")))?;
    match v {
        Value::Object(map) => Ok(map.into_iter().collect()),
        _ => Err(malformed(url, "lookup answer is not an object")),
    }
}

/// A video object as looked up or listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInfo {
    pub source: Option<String>,
    pub thumb: Option<String>,
}

fn video_info(v: &Value) -> VideoInfo {
    let url = |k| {
        graph::str_field(v, k)
            .filter(|s| http_url(s).is_some())
            .map(str::to_owned)
    };
    VideoInfo {
        source: url("source"),
        thumb: url("picture"),
    }
}

/// How to get one media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaPlan {
    /// Download `chosen.url`.
    Fetch {
        original_url: String,
        chosen: Rendition,
        offered: Vec<Rendition>,
        /// Why a lesser rendition is downloaded, for a gap.
        downgraded: Option<String>,
    },
    /// Nothing this route can download; recorded without a file.
    Withheld {
        original_url: Option<String>,
        detail: String,
    },
}

/// A photo: the largest of its `images`, else (lookup failed: `failure`) the rendition the
/// post showed.
pub fn photo_plan(
    id: &str,
    shown: Option<&Rendition>,
    images: std::result::Result<&[Rendition], &str>,
) -> MediaPlan {
    match (images, shown) {
        (Ok(images), _) if !images.is_empty() => MediaPlan::Fetch {
            original_url: shown.map_or_else(|| images[0].url.clone(), |s| s.url.clone()),
            chosen: images[0].clone(),
            offered: images.to_vec(),
            downgraded: None,
        },
        (images, Some(shown)) => MediaPlan::Fetch {
            original_url: shown.url.clone(),
            chosen: shown.clone(),
            offered: vec![shown.clone()],
            downgraded: Some(format!(
                "photo {id}: full resolution unavailable ({}); the rendition shown in the post \
                 was kept",
                images.err().unwrap_or("no images listed")
            )),
        },
        (images, None) => MediaPlan::Withheld {
            original_url: None,
            detail: format!(
                "photo {id} could not be read ({}) and the post shows no image",
                images.err().unwrap_or("no images listed")
            ),
        },
    }
}

/// A video: the object's `source`, else the attachment's `media.source`, else nothing (only
/// Page admins get `source`).
pub fn video_plan(
    id: &str,
    given: Option<&str>,
    thumb: Option<&str>,
    info: std::result::Result<&VideoInfo, &str>,
) -> MediaPlan {
    let object_source = info.ok().and_then(|i| i.source.as_deref());
    if let Some(source) = object_source {
        let chosen = mp4(source);
        let mut offered = vec![chosen.clone()];
        if let Some(g) = given.filter(|g| *g != source) {
            offered.push(mp4(g));
        }
        return MediaPlan::Fetch {
            original_url: given.unwrap_or(source).to_owned(),
            chosen,
            offered,
            downgraded: None,
        };
    }
    let why = match info {
        Ok(_) => "Facebook gave no source for it".to_owned(),
        Err(e) => e.to_owned(),
    };
    if let Some(g) = given {
        return MediaPlan::Fetch {
            original_url: g.to_owned(),
            chosen: mp4(g),
            offered: vec![mp4(g)],
            downgraded: Some(format!(
                "video {id}: the video object could not be read ({why}); the file the post \
                 links was kept"
            )),
        };
    }
    MediaPlan::Withheld {
        original_url: thumb
            .or_else(|| info.ok().and_then(|i| i.thumb.as_deref()))
            .map(str::to_owned),
        detail: format!(
            "video {id} has no downloadable file through the Graph API ({why}; only the Page's \
             admins get `source`); the Page's Download Your Information export holds it"
        ),
    }
}

/// `/{page}/videos/{id}/` → `https://www.facebook.com/{page}/videos/{id}/`.
pub fn absolute_permalink(p: &str) -> Option<String> {
    if http_url(p).is_some() {
        return Some(p.to_owned());
    }
    let path = p.strip_prefix('/')?;
    Url::parse(WEB).ok()?.join(path).ok().map(String::from)
}

/// An uploaded photo (`/{page}/photos?type=uploaded`): a `Post` whose text is the photo's
/// `name`.
pub fn edge_photo(v: &Value, ctx: Context<'_>) -> Result<(Item, MediaPlan)> {
    let (id, created_at) = object_head(v, "photo", ctx)?;
    let images = parse_images(v);
    let plan = photo_plan(&id, None, Ok(&images));
    let item = Item {
        text: graph::str_field(v, "name").unwrap_or_default().to_owned(),
        url: graph::str_field(v, "link").and_then(absolute_permalink),
        ..object_item(id, ItemKind::Post, created_at, ctx)
    };
    Ok((item, plan))
}

/// An uploaded video (`/{page}/videos`): a `Video` whose text is its `description`, else its
/// `title`.
pub fn edge_video(v: &Value, ctx: Context<'_>) -> Result<(Item, MediaPlan)> {
    let (id, created_at) = object_head(v, "video", ctx)?;
    let info = video_info(v);
    let plan = video_plan(&id, None, None, Ok(&info));
    let text = graph::str_field(v, "description")
        .or_else(|| graph::str_field(v, "title"))
        .unwrap_or_default()
        .to_owned();
    let item = Item {
        text,
        url: graph::str_field(v, "permalink_url").and_then(absolute_permalink),
        ..object_item(id, ItemKind::Video, created_at, ctx)
    };
    Ok((item, plan))
}

fn object_head(v: &Value, what: &str, ctx: Context<'_>) -> Result<(String, OffsetDateTime)> {
    let id = graph::str_field(v, "id")
        .filter(|id| is_numeric_id(id))
        .ok_or_else(|| malformed(ctx.url, format!("a {what} without a numeric id")))?;
    let created = graph::str_field(v, "created_time")
        .ok_or_else(|| malformed(ctx.url, format!("{what} {id} has no created_time")))?;
    let created_at = utc(created)
        .ok_or_else(|| malformed(ctx.url, format!("{what} {id} created_time {created:?}")))?;
    Ok((id.to_owned(), created_at))
}

fn object_item(id: String, kind: ItemKind, created_at: OffsetDateTime, ctx: Context<'_>) -> Item {
    Item {
        id,
        platform: PLATFORM,
        kind,
        created_at,
        text: String::new(),
        lang: None,
        pinned: false,
        metrics: BTreeMap::new(),
        media: Vec::new(),
        url: None,
        references: Vec::new(),
        route: Route::Api,
        source_path: Some(ctx.source_path.to_owned()),
    }
}

/// The ~600-ranked-posts-a-year cap: a gap naming every year whose captured posts reach
/// [`YEAR_CAP_WARNING`].
pub fn cap_gap(per_year: &BTreeMap<i32, u64>) -> Option<Gap> {
    let full: Vec<String> = per_year
        .iter()
        .filter(|(_, n)| **n >= YEAR_CAP_WARNING)
        .map(|(y, n)| format!("{y} ({n} posts)"))
        .collect();
    if full.is_empty() {
        return None;
    }
    Some(Gap {
        reason: GapReason::PlatformCap,
        detail: format!(
            "the Graph API returns about 600 ranked posts a year and {} reached that cap, so \
             posts of that period are probably missing; the Page's Download Your Information \
             export has them all",
            full.join(", ")
        ),
        item_id: None,
        url: None,
    })
}

/// `/{page}` or `/me` with the profile fields.
pub fn page_url(target: &PageTarget) -> Url {
    let node = match target {
        PageTarget::Me => "me",
        PageTarget::Id(id) => id,
    };
    graph::url(FACEBOOK_HOST, &[node], &[("fields", PAGE_FIELDS)])
}

pub fn posts_url(page_id: &str) -> Url {
    graph::url(
        FACEBOOK_HOST,
        &[page_id, "published_posts"],
        &[("fields", POST_FIELDS), ("limit", "100")],
    )
}

pub fn photos_url(page_id: &str) -> Url {
    graph::url(
        FACEBOOK_HOST,
        &[page_id, "photos"],
        &[
            ("type", "uploaded"),
            ("fields", PHOTO_FIELDS),
            ("limit", "100"),
        ],
    )
}

/// `/{page}/video_reels`: Reels, which `published_posts` does not return.
pub fn reels_url(page_id: &str) -> Url {
    graph::url(
        FACEBOOK_HOST,
        &[page_id, "video_reels"],
        &[("fields", VIDEO_FIELDS), ("limit", "100")],
    )
}

pub fn videos_url(page_id: &str) -> Url {
    graph::url(
        FACEBOOK_HOST,
        &[page_id, "videos"],
        &[("fields", VIDEO_FIELDS), ("limit", "100")],
    )
}

/// `/?ids=a,b,c&fields=…` (the trailing slash is the root node).
pub fn lookup_url(ids: &[String], fields: &str) -> Url {
    graph::url(
        FACEBOOK_HOST,
        &[""],
        &[("ids", &ids.join(",")), ("fields", fields)],
    )
}

/// A person's token read with `me` answers for a User, which has none of the Page fields.
fn user_token_error(e: FetchError) -> FetchError {
    match e {
        FetchError::Http { detail, .. } if detail.contains("node type (User)") => {
            FetchError::AuthExpired {
                platform: PLATFORM,
                detail: format!(
                    "this is a person's access token, not a Page access token; get the Page's \
                     token (GET /me/accounts) ({detail})"
                ),
            }
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The capture.

#[derive(Debug, Default)]
struct Counts {
    posts: u64,
    photos: u64,
    videos: u64,
    reels: u64,
}

/// The edges paged to the end, in capture order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Posts,
    Photos,
    Videos,
    Reels,
}

impl Edge {
    fn name(self) -> &'static str {
        match self {
            Edge::Posts => "posts",
            Edge::Photos => "photos",
            Edge::Videos => "videos",
            Edge::Reels => "reels",
        }
    }

    fn url(self, page_id: &str) -> Url {
        match self {
            Edge::Posts => posts_url(page_id),
            Edge::Photos => photos_url(page_id),
            Edge::Videos => videos_url(page_id),
            Edge::Reels => reels_url(page_id),
        }
    }
}

/// Which kind of object an `ids=` lookup asks for.
#[derive(Debug, Clone, Copy)]
enum Lookup {
    Photos,
    Videos,
}

struct Run<'r> {
    graph: Graph<'r>,
    transport: &'r Transport,
    sink: &'r mut dyn Sink,
    /// Photo id → its `images`, or why they could not be read.
    photos: HashMap<String, std::result::Result<Vec<Rendition>, String>>,
    /// Video id → its object, or why it could not be read.
    videos: HashMap<String, std::result::Result<VideoInfo, String>>,
    /// Outcome per downloaded URL: each file is requested once per capture.
    downloads: HashMap<String, Option<ContentId>>,
    /// Photo and video ids already captured through a post.
    in_posts: HashSet<String>,
    items: HashSet<String>,
    stored_media: HashSet<ContentId>,
    per_year: BTreeMap<i32, u64>,
    lookups: usize,
    gaps: u64,
    counts: Counts,
}

impl Run<'_> {
    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps += 1;
        self.sink.gap(gap).await
    }

    async fn get(&mut self, endpoint: &str, url: &Url) -> Result<Document> {
        self.graph.get(self.sink, endpoint, url).await
    }

    async fn capture(&mut self, target: &PageTarget) -> Result<Report> {
        let doc = self
            .get("page", &page_url(target))
            .await
            .map_err(|e| user_token_error(e).about_account())?;
        let info = parse_page_info(&doc.body, &doc.url)?;
        let account =
            AccountId::new(&info.id).map_err(|e| malformed(&doc.url, format!("Page id: {e}")))?;
        let who = Identity::new(Some(&info.id), info.username.as_deref());
        self.sink.identify(&who).await?;
        self.sink.begin(&account).await?;
        let mut prof = profile(&info);
        for (what, r) in ["the profile picture", "the cover photo"]
            .into_iter()
            .zip(profile_images(&info))
        {
            prof.media.push(self.profile_image(what, r).await?);
        }
        self.sink.profile(prof).await?;

        // An edge the Graph API refuses (error 100/33 on `/photos`, a bare 404) loses that edge
        // only: it is a gap naming the edge, never evidence that the Page is gone.
        for edge in [Edge::Posts, Edge::Photos, Edge::Videos] {
            let url = edge.url(&info.id);
            match self.walk(edge, url.clone()).await {
                Err(e) if e.is_refusal() => {
                    let what = format!("the Page's /{} edge", edge.name());
                    self.gap(edge_gap(&what, Some(&redact_url(url.as_str())), &e))
                        .await?;
                }
                other => other?,
            }
        }
        // Reels are newer than the other edges; a Page that cannot list them loses only them.
        match self.walk(Edge::Reels, Edge::Reels.url(&info.id)).await {
            Err(e) if e.is_refusal() => {
                self.gap(Gap {
                    reason: GapReason::NotSupportedByRoute,
                    detail: format!(
                        "the Page's Reels could not be listed ({e}); the Download Your \
                         Information export has them"
                    ),
                    item_id: None,
                    url: None,
                })
                .await?;
            }
            other => other?,
        }

        if let Some(g) = cap_gap(&self.per_year) {
            self.gap(g).await?;
        }
        let media = self.stored_media.len() as u64;
        let Counts {
            posts,
            photos,
            videos,
            reels,
        } = self.counts;
        let gaps = match self.gaps {
            0 => String::new(),
            1 => "; 1 gap listed".to_owned(),
            n => format!("; {n} gaps listed"),
        };
        let statement = format!(
            "Graph API view: {}, {}, {} and {} outside posts, {}{gaps}. The Graph API returns about 600 \
             ranked posts a year and may omit posts: the Page's Download Your Information \
             export is the complete record",
            count(posts, "post", "posts"),
            count(photos, "uploaded photo", "uploaded photos"),
            count(videos, "uploaded video", "uploaded videos"),
            count(reels, "reel", "reels"),
            count(media, "media file", "media files"),
        );
        Ok(Report {
            platform_reported: reported_counts(&info),
            captured: BTreeMap::from([
                ("posts".to_owned(), posts),
                ("photos".to_owned(), photos),
                ("videos".to_owned(), videos),
                ("reels".to_owned(), reels),
                ("media".to_owned(), media),
            ]),
            statement,
        })
    }

    /// Pages an edge to the end: only an absent `paging.next` ends it, never an empty page.
    async fn walk(&mut self, edge: Edge, first: Url) -> Result<()> {
        let mut pager = Pager::new();
        let mut next = Some(first);
        while let Some(url) = next {
            let endpoint = format!("{}-p{}", edge.name(), pager.pages() + 1);
            let doc = self.get(&endpoint, &url).await?;
            let page = parse_page(PLATFORM, &doc.body, &doc.url)?;
            let ctx = Context {
                source_path: &doc.stored.path,
                url: &doc.url,
            };
            match edge {
                Edge::Posts => self.posts_page(&page.data, ctx).await?,
                Edge::Photos | Edge::Videos | Edge::Reels => {
                    self.uploads_page(edge, &page.data, ctx).await?;
                }
            }
            next = pager.advance(PLATFORM, page.next.as_ref(), &doc.url)?;
        }
        Ok(())
    }

    async fn posts_page(&mut self, data: &[Value], ctx: Context<'_>) -> Result<()> {
        let planned = data
            .iter()
            .map(|v| derive_post(v, ctx))
            .collect::<Result<Vec<_>>>()?;
        let (mut photo_ids, mut video_ids) = (Vec::new(), Vec::new());
        for a in planned.iter().flat_map(|p| &p.attached) {
            match a {
                Attached::Photo { id, .. } if !self.photos.contains_key(id) => {
                    photo_ids.push(id.clone());
                }
                Attached::Video { id, .. } if !self.videos.contains_key(id) => {
                    video_ids.push(id.clone());
                }
                _ => {}
            }
        }
        dedup(&mut photo_ids);
        dedup(&mut video_ids);
        self.resolve(Lookup::Photos, &photo_ids).await?;
        self.resolve(Lookup::Videos, &video_ids).await?;
        for PlannedPost { mut item, attached } in planned {
            if !self.items.insert(item.id.clone()) {
                // Ranked pages can repeat a post; the first copy stands.
                continue;
            }
            for a in attached {
                let plan = match &a {
                    Attached::Photo { id, shown } => {
                        self.in_posts.insert(id.clone());
                        let images = match self.photos.get(id) {
                            Some(Ok(i)) => Ok(i.as_slice()),
                            Some(Err(e)) => Err(e.as_str()),
                            None => Err("not looked up"),
                        };
                        photo_plan(id, shown.as_ref(), images)
                    }
                    Attached::Video { id, given, thumb } => {
                        self.in_posts.insert(id.clone());
                        let info = match self.videos.get(id) {
                            Some(Ok(i)) => Ok(i),
                            Some(Err(e)) => Err(e.as_str()),
                            None => Err("not looked up"),
                        };
                        video_plan(
                            id,
                            given.as_deref(),
                            thumb.as_ref().map(|t| t.url.as_str()),
                            info,
                        )
                    }
                    Attached::Image { shown } => MediaPlan::Fetch {
                        original_url: shown.url.clone(),
                        chosen: shown.clone(),
                        offered: vec![shown.clone()],
                        downgraded: None,
                    },
                };
                if let Some(r) = self.media_ref(&item.id, plan).await? {
                    item.media.push(r);
                }
            }
            *self.per_year.entry(item.created_at.year()).or_default() += 1;
            self.counts.posts += 1;
            self.sink.item(item).await?;
        }
        Ok(())
    }

    async fn uploads_page(&mut self, edge: Edge, data: &[Value], ctx: Context<'_>) -> Result<()> {
        for v in data {
            let (mut item, plan) = if edge == Edge::Photos {
                edge_photo(v, ctx)?
            } else {
                edge_video(v, ctx)?
            };
            if edge == Edge::Reels {
                item.kind = ItemKind::Reel;
            }
            if self.in_posts.contains(&item.id) || !self.items.insert(item.id.clone()) {
                continue;
            }
            if let Some(r) = self.media_ref(&item.id, plan).await? {
                item.media.push(r);
            }
            match item.kind {
                ItemKind::Video => self.counts.videos += 1,
                ItemKind::Reel => self.counts.reels += 1,
                _ => self.counts.photos += 1,
            }
            self.sink.item(item).await?;
        }
        Ok(())
    }

    /// Looks up objects in batches of [`LOOKUP_BATCH`]. A batch that fails because an object
    /// is gone is retried id by id, so only the gone ones are marked unreadable.
    async fn resolve(&mut self, kind: Lookup, ids: &[String]) -> Result<()> {
        for chunk in ids.chunks(LOOKUP_BATCH) {
            match self.lookup(kind, chunk).await {
                Ok(()) => {}
                Err(e) if e.is_refusal() && chunk.len() > 1 => {
                    for id in chunk {
                        match self.lookup(kind, std::slice::from_ref(id)).await {
                            Ok(()) => {}
                            Err(e) if e.is_refusal() => self.unreadable(kind, id, &e),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) if e.is_refusal() => self.unreadable(kind, &chunk[0], &e),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn unreadable(&mut self, kind: Lookup, id: &str, e: &FetchError) {
        let why = e.to_string();
        match kind {
            Lookup::Photos => {
                self.photos.insert(id.to_owned(), Err(why));
            }
            Lookup::Videos => {
                self.videos.insert(id.to_owned(), Err(why));
            }
        }
    }

    async fn lookup(&mut self, kind: Lookup, ids: &[String]) -> Result<()> {
        self.lookups += 1;
        let (name, fields) = match kind {
            Lookup::Photos => ("photos", "images"),
            Lookup::Videos => ("videos", VIDEO_LOOKUP_FIELDS),
        };
        let endpoint = format!("{name}-lookup-{}", self.lookups);
        let doc = self.get(&endpoint, &lookup_url(ids, fields)).await?;
        let found = parse_lookup(&doc.body, &doc.url)?;
        for id in ids {
            let obj = found.get(id);
            match kind {
                Lookup::Photos => {
                    let images = obj
                        .map(parse_images)
                        .filter(|i| !i.is_empty())
                        .ok_or_else(|| "Facebook listed no images for it".to_owned());
                    self.photos.insert(id.clone(), images);
                }
                Lookup::Videos => {
                    let info = obj
                        .map(video_info)
                        .ok_or_else(|| "Facebook did not return it".to_owned());
                    self.videos.insert(id.clone(), info);
                }
            }
        }
        Ok(())
    }

    /// Downloads a plan's file once per URL; failures of this file alone are gaps.
    async fn media_ref(&mut self, item_id: &str, plan: MediaPlan) -> Result<Option<MediaRef>> {
        let (original_url, chosen, offered, downgraded) = match plan {
            MediaPlan::Fetch {
                original_url,
                chosen,
                offered,
                downgraded,
            } => (original_url, chosen, offered, downgraded),
            MediaPlan::Withheld {
                original_url,
                detail,
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
                    offered: Vec::new(),
                }));
            }
        };
        if let Some(detail) = downgraded {
            self.gap(Gap {
                reason: GapReason::Unavailable,
                detail,
                item_id: Some(item_id.to_owned()),
                url: Some(original_url.clone()),
            })
            .await?;
        }
        let sha256 = self
            .download(&chosen.url, "a media file of this item", Some(item_id))
            .await?;
        Ok(Some(MediaRef {
            sha256,
            original_url,
            chosen: Some(chosen),
            offered,
        }))
    }

    /// One file into the sink, once per URL. A failure of this file alone is a gap naming the
    /// item and the URL that failed (again for every item that shares the failed file).
    async fn download(
        &mut self,
        url: &str,
        what: &str,
        item_id: Option<&str>,
    ) -> Result<Option<ContentId>> {
        if let Some(outcome) = self.downloads.get(url).copied() {
            if outcome.is_none() {
                self.gap(Gap {
                    reason: GapReason::Unavailable,
                    detail: format!("{what} could not be downloaded (failed earlier in this run)"),
                    item_id: item_id.map(str::to_owned),
                    url: Some(url.to_owned()),
                })
                .await?;
            }
            return Ok(outcome);
        }
        let outcome = if let Some(u) = http_url(url) {
            let signals = MetaSignals(PLATFORM);
            let req = Request::new(PLATFORM, "media", u).signals(&signals);
            let missing = Missing { what, item_id, url };
            let stored = download_or_gap(self.transport, self.sink, &req, None, missing).await?;
            if stored.is_none() {
                self.gaps += 1;
            }
            stored.map(|s| s.sha256)
        } else {
            self.gap(Gap {
                reason: GapReason::Other,
                detail: format!("{what} has no usable URL ({url:?})"),
                item_id: item_id.map(str::to_owned),
                url: Some(url.to_owned()),
            })
            .await?;
            None
        };
        if let Some(sha) = outcome {
            self.stored_media.insert(sha);
        }
        self.downloads.insert(url.to_owned(), outcome);
        Ok(outcome)
    }

    async fn profile_image(&mut self, what: &str, r: Rendition) -> Result<MediaRef> {
        let sha256 = self.download(&r.url, what, None).await?;
        Ok(MediaRef {
            sha256,
            original_url: r.url.clone(),
            offered: vec![r.clone()],
            chosen: Some(r),
        })
    }
}

fn dedup(ids: &mut Vec<String>) {
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://graph.facebook.com/v23.0/1/published_posts";
    const CTX: Context<'static> = Context {
        source_path: "data/original/api/000002-posts-p1.json",
        url: URL,
    };

    fn cdn(name: &str) -> String {
        format!("https://scontent.xx.fbcdn.net/v/t39.30808-6/{name}?oh=00_A&oe=6823A1B2")
    }

    #[test]
    fn targets_parse() {
        assert_eq!("me".parse::<PageTarget>().unwrap(), PageTarget::Me);
        assert_eq!(" ME ".parse::<PageTarget>().unwrap(), PageTarget::Me);
        assert_eq!(
            "104523456789012".parse::<PageTarget>().unwrap(),
            PageTarget::Id("104523456789012".into())
        );
        assert_eq!(PageTarget::Id("7".into()).to_string(), "7");
        assert_eq!(PageTarget::Me.to_string(), "me");
        for bad in [
            "",
            "alamal.school",
            "12a",
            "../1",
            "١٢٣",
            "1/2",
            "12345678901234567890123456",
        ] {
            let e = bad.parse::<PageTarget>().unwrap_err();
            assert_eq!(e.kind(), "config", "{bad:?}");
        }
    }

    #[test]
    fn urls_name_the_edges_and_fields() {
        let u = posts_url("42");
        assert_eq!(u.path(), "/v23.0/42/published_posts");
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["limit"], "100");
        assert!(q["fields"].contains("subattachments") && q["fields"].contains("permalink_url"));
        assert!(!q["fields"].contains("object_id"), "deprecated since v3.3");
        let p = photos_url("42");
        assert!(p.query_pairs().any(|(k, v)| k == "type" && v == "uploaded"));
        assert_eq!(videos_url("42").path(), "/v23.0/42/videos");
        let l = lookup_url(&["1".into(), "2".into()], "images");
        assert_eq!(
            l.as_str(),
            "https://graph.facebook.com/v23.0/?ids=1%2C2&fields=images"
        );
        assert_eq!(page_url(&PageTarget::Me).path(), "/v23.0/me");
    }

    #[test]
    fn albums_yield_every_sub_item_and_shares_only_their_link() {
        let post = json!({
            "id": "1_2", "created_time": "2025-03-10T07:15:00+0000",
            "story": "مدرسة الأمل added 3 new photos.",
            "shares": {"count": 7},
            "attachments": {"data": [
                {"type": "album", "target": {"id": "900"},
                 "media": {"image": {"src": cdn("cover.jpg"), "width": 720, "height": 480}},
                 "subattachments": {"data": [
                    {"type": "photo", "target": {"id": "101"},
                     "media": {"image": {"src": cdn("a.jpg"), "width": 720, "height": 480}}},
                    {"type": "video_autoplay", "target": {"id": "201"},
                     "media": {"image": {"src": cdn("t.jpg")}, "source": "https://video.xx.fbcdn.net/v.mp4?oe=1"}},
                    {"type": "photo", "target": {"id": "not-a-number"},
                     "media": {"image": {"src": cdn("c.jpg")}}}
                 ]}},
                {"type": "share", "url": "https://l.facebook.com/l.php?u=x",
                 "unshimmed_url": "https://moe.gov.sa/a", "media": {"image": {"src": cdn("p.jpg")}}},
                {"type": "video_share_youtube", "url": "https://www.youtube.com/watch?v=abc"},
                {"type": "event", "target": {"id": "77"}, "media": {"image": {"src": cdn("e.jpg")}}}
            ]}
        });
        let p = derive_post(&post, CTX).unwrap();
        assert_eq!(
            p.item.text, "مدرسة الأمل added 3 new photos.",
            "story when no message"
        );
        assert_eq!(p.item.metrics["shares"], 7);
        assert_eq!(
            p.item.references,
            [
                "https://moe.gov.sa/a",
                "https://www.youtube.com/watch?v=abc"
            ]
        );
        assert_eq!(p.attached.len(), 4, "{:?}", p.attached);
        assert!(
            matches!(&p.attached[0], Attached::Photo { id, shown: Some(s) } if id == "101" && s.width == Some(720))
        );
        assert!(
            matches!(&p.attached[1], Attached::Video { id, given: Some(_), .. } if id == "201")
        );
        assert!(matches!(&p.attached[2], Attached::Image { shown } if shown.url.contains("c.jpg")));
        assert!(matches!(&p.attached[3], Attached::Image { shown } if shown.url.contains("e.jpg")));
        assert!(
            !p.attached
                .iter()
                .any(|a| matches!(a, Attached::Image { shown } if shown.url.contains("cover"))),
            "never the album cover"
        );
    }

    /// The Graph API has no readable pin marker: the first post of a ranked page, even one
    /// older than the next, is an ordinary post.
    #[test]
    fn no_post_is_taken_for_pinned() {
        let older_first = [
            json!({"id": "1_1", "created_time": "2023-01-01T00:00:00+0000", "message": "مثبت؟"}),
            json!({"id": "1_2", "created_time": "2025-01-01T00:00:00+0000", "message": "جديد"}),
        ];
        for v in &older_first {
            let p = derive_post(v, CTX).unwrap();
            assert_eq!(p.item.kind, ItemKind::Post);
            assert!(!p.item.pinned);
        }
    }

    #[test]
    fn posts_without_id_or_time_are_malformed() {
        for bad in [
            json!({"created_time": "2025-01-01T00:00:00+0000"}),
            json!({"id": "1_2"}),
            json!({"id": "1_2", "created_time": "yesterday"}),
            json!({"id": "../2", "created_time": "2025-01-01T00:00:00+0000"}),
            json!({"id": "1_2", "created_time": "2025-01-01T00:00:00+0000", "message": 5}),
        ] {
            assert_eq!(
                derive_post(&bad, CTX).unwrap_err().kind(),
                "malformed",
                "{bad}"
            );
        }
        let ok = json!({"id": "1_2", "created_time": "2025-01-01T03:00:00+0300"});
        let p = derive_post(&ok, CTX).unwrap();
        assert_eq!(p.item.created_at.offset(), UtcOffset::UTC);
        assert_eq!(p.item.created_at.hour(), 0);
        assert_eq!(p.item.text, "");
        assert!(p.item.metrics.is_empty());
    }

    #[test]
    fn images_are_sorted_largest_first_and_the_largest_is_chosen() {
        let v = json!({"images": [
            {"height": 480, "width": 720, "source": cdn("720.jpg")},
            {"height": 1365, "width": 2048, "source": cdn("2048.jpg")},
            {"height": 720, "width": 1080, "source": cdn("1080.jpg")},
            {"height": 10, "width": 10, "source": "not a url"}
        ]});
        let images = parse_images(&v);
        let widths: Vec<_> = images.iter().map(|r| r.width).collect();
        assert_eq!(widths, [Some(2048), Some(1080), Some(720)]);
        let shown = rendition(&cdn("720.jpg"), Some(720), Some(480));
        let MediaPlan::Fetch {
            original_url,
            chosen,
            offered,
            downgraded,
        } = photo_plan("9", Some(&shown), Ok(&images))
        else {
            panic!("fetchable")
        };
        assert_eq!(original_url, shown.url, "the URL the post gave");
        assert_eq!(chosen.width, Some(2048));
        assert_eq!(offered.len(), 3);
        assert!(downgraded.is_none());
    }

    #[test]
    fn photos_fall_back_to_the_shown_rendition_and_say_so() {
        let shown = rendition(&cdn("720.jpg"), Some(720), Some(480));
        let MediaPlan::Fetch {
            chosen, downgraded, ..
        } = photo_plan("9", Some(&shown), Err("not found: gone"))
        else {
            panic!("the shown rendition is kept")
        };
        assert_eq!(chosen, shown);
        assert!(downgraded.unwrap().contains("photo 9"));
        assert!(matches!(
            photo_plan("9", None, Ok(&[])),
            MediaPlan::Withheld {
                original_url: None,
                ..
            }
        ));
    }

    #[test]
    fn videos_prefer_the_object_source_then_the_attachment() {
        let info = VideoInfo {
            source: Some("https://video.xx.fbcdn.net/hd.mp4?oe=1".into()),
            thumb: None,
        };
        let given = "https://video.xx.fbcdn.net/sd.mp4?oe=1";
        let MediaPlan::Fetch {
            original_url,
            chosen,
            offered,
            ..
        } = video_plan("5", Some(given), None, Ok(&info))
        else {
            panic!("fetchable")
        };
        assert_eq!(original_url, given);
        assert!(chosen.url.contains("hd.mp4"));
        assert_eq!(chosen.content_type.as_deref(), Some("video/mp4"));
        assert_eq!(offered.len(), 2);
        let MediaPlan::Fetch {
            chosen, downgraded, ..
        } = video_plan("5", Some(given), None, Err("gone"))
        else {
            panic!("the attachment's file is kept")
        };
        assert_eq!(chosen.url, given);
        assert!(downgraded.is_some());
        let no_source = VideoInfo {
            source: None,
            thumb: Some(cdn("thumb.jpg")),
        };
        let MediaPlan::Withheld {
            original_url,
            detail,
        } = video_plan("5", None, None, Ok(&no_source))
        else {
            panic!("nothing to download")
        };
        assert_eq!(original_url, Some(cdn("thumb.jpg")));
        assert!(detail.contains("Download Your Information"));
    }

    #[test]
    fn uploaded_videos_get_absolute_permalinks() {
        assert_eq!(
            absolute_permalink("/104523456789012/videos/881100000000501/").as_deref(),
            Some("https://www.facebook.com/104523456789012/videos/881100000000501/")
        );
        assert_eq!(
            absolute_permalink("https://www.facebook.com/reel/1").as_deref(),
            Some("https://www.facebook.com/reel/1")
        );
        assert_eq!(absolute_permalink("videos/1"), None);
        let v = json!({"id": "501", "created_time": "2024-10-01T09:00:00+0000",
            "title": "النشيد", "permalink_url": "/1/videos/501/",
            "source": "https://video.xx.fbcdn.net/v.mp4"});
        let (item, plan) = edge_video(&v, CTX).unwrap();
        assert_eq!(item.kind, ItemKind::Video);
        assert_eq!(
            item.text, "النشيد",
            "the title when there is no description"
        );
        assert_eq!(
            item.url.as_deref(),
            Some("https://www.facebook.com/1/videos/501/")
        );
        assert!(matches!(plan, MediaPlan::Fetch { .. }));
        assert_eq!(
            edge_photo(
                &json!({"id": "x", "created_time": "2024-10-01T09:00:00+0000"}),
                CTX
            )
            .unwrap_err()
            .kind(),
            "malformed"
        );
    }

    #[test]
    fn a_year_near_six_hundred_posts_is_a_platform_cap_gap() {
        let mut per_year = BTreeMap::from([(2023, 549), (2024, 120)]);
        assert!(cap_gap(&per_year).is_none());
        per_year.insert(2025, 550);
        per_year.insert(2022, 601);
        let g = cap_gap(&per_year).unwrap();
        assert_eq!(g.reason, GapReason::PlatformCap);
        assert!(
            g.detail.contains("2022 (601 posts), 2025 (550 posts)"),
            "{}",
            g.detail
        );
        assert!(!g.detail.contains("2023"));
        assert!(g.detail.contains("Download Your Information"));
    }

    #[test]
    fn the_page_profile_is_checked_and_mapped() {
        let body = br#"{"id":"42","name":"\u0645\u062f\u0631\u0633\u0629 \ud83c\udfeb","about":"short",
            "fan_count":10,"followers_count":12,
            "picture":{"data":{"url":"https:\/\/scontent.xx.fbcdn.net\/p.jpg","width":960,"height":960}}}"#;
        let info = parse_page_info(body, URL).unwrap();
        let p = profile(&info);
        assert_eq!(p.display_name.as_deref(), Some("مدرسة 🏫"));
        assert_eq!(p.description.as_deref(), Some("short"));
        assert_eq!(p.url.as_deref(), Some("https://www.facebook.com/42"));
        assert_eq!(p.counts["followers"], 12);
        assert_eq!(p.counts["fans"], 10);
        let imgs = profile_images(&info);
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].url, "https://scontent.xx.fbcdn.net/p.jpg");
        for bad in [&br#"{"id":"alamal"}"#[..], b"{}", b"[]", b"<html>"] {
            assert_eq!(parse_page_info(bad, URL).unwrap_err().kind(), "malformed");
        }
        assert_eq!(parse_lookup(b"[1]", URL).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn a_person_token_error_asks_for_a_page_token() {
        let e = user_token_error(FetchError::Http {
            status: 400,
            url: URL.into(),
            detail: "Graph API error 100: (#100) Tried accessing nonexisting field (fan_count) \
                     on node type (User)"
                .into(),
        });
        assert_eq!(e.kind(), "auth_expired");
        assert!(e.to_string().contains("Page access token"));
        let other = user_token_error(FetchError::NotFound { detail: "x".into() });
        assert_eq!(other.kind(), "not_found");
    }
}
