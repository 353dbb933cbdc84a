//! `YouTube` Data API v3 route: a channel's profile, every upload with its metadata, thumbnail,
//! comments and captions, and (optionally, with yt-dlp) the video files (reference §4.1–§4.6).
//!
//! Flow: `channels.list` (`mine=true`, `forHandle=@h` or `id=UC…`) → [`Sink::begin`] with the
//! channel id → profile with the channel picture and banner → the uploads playlist
//! (`playlistItems.list`, 50 per page, to the end) → `videos.list` in batches of 50 → per video:
//! thumbnail, `commentThreads.list` (+ `comments.list` for threads with more replies than
//! included), `captions.list` + `captions/{id}` downloads, the video file through yt-dlp
//! ([`super::ytdlp`]) → the video item, then the owner's own comments on it.
//!
//! Parsing is plain functions over bytes ([`parse_channel`], [`parse_playlist_page`],
//! [`parse_videos`], [`parse_threads`], [`parse_comments`], [`parse_captions`]) and small pure
//! helpers ([`parse_duration`], [`parse_count`], [`choose_thumbnail`], [`videos_urls`]).
//!
//! Decisions an integrator should know:
//! - A video's `Item::text` is the title, then — when there is a description — a blank line
//!   (`"\n\n"`) and the description, both exactly as delivered. An item has one text and the
//!   title is what people search for; the stored `videos.list` page (`source_path`) holds both
//!   fields verbatim, separately.
//! - A 200 answer to `channels.list` without `items` means the channel is gone or unknown
//!   (deleted and terminated channels answer this way, and so does a channel that never
//!   existed): an unavailable account ([`FetchError::about_account`]), the answer stored as
//!   evidence. A list answer whose `kind` is not the documented one is `Malformed`.
//! - Playlist placeholders (`"Deleted video"` / `"Private video"`: no `videoOwnerChannelId`,
//!   no thumbnails) are recognised by shape, not title (titles may be localised), and become
//!   one `Unavailable` gap each. An id the playlist lists but `videos.list` does not return is
//!   a gap too. A `playlistNotFound` on the first page (a channel without uploads has no
//!   uploads playlist) is an empty channel, with a gap if the channel reports videos.
//! - Counts come as strings (`"1234"`) on channels and videos and as numbers on comments;
//!   both parse, anything else is `Malformed`. A hidden subscriber count is left out.
//!   `duration` (ISO 8601, `PT12M48S`, `P1DT2H`, `PT0S`) becomes `metrics["duration_seconds"]`;
//!   one that does not parse is left out with a warning.
//! - Thumbnails: the best size offered (maxres > standard > high > medium > default) is
//!   downloaded; every size is listed in `offered`. Each URL is fetched once per capture.
//! - Comments are stored (every page) and counted, but they are the audience's words, not the
//!   channel's publications: they do not become items — except the channel's own comments and
//!   replies (author = the channel), which become `Reply` items (`references`: the video id,
//!   then the parent comment id), with `text` = `textOriginal` if delivered (to the author),
//!   else `textDisplay` (`textFormat=plainText`). A video whose comments are disabled
//!   (403 `commentsDisabled`) is counted in the report, not a gap; videos reporting
//!   `commentCount: "0"` are not asked.
//! - Captions: only for videos whose `contentDetails.caption` is `"true"` (owner-provided
//!   tracks; `captions.list` costs 50 units, so it is not spent on every video). With an OAuth
//!   token each listed track is downloaded as `WebVTT` (`captions/{id}?tfmt=vtt`, 200 units) and
//!   stored as media referenced from the video; automatic (`asr`) tracks are listed in the
//!   stored answer but not downloaded (machine transcripts, 200 units each) and counted in the
//!   report. With an API key nothing is listed or downloaded: one gap per video with captions.
//!   A refused download (401/403/404) is a gap for that track.
//! - Quota: units are counted per call as documented (lists 1, `captions.list` 50, a caption
//!   download 200) and reported as `captured["quota_units"]`; retries made inside the
//!   transport are not counted. `quotaExceeded` waits for midnight Pacific or defers the
//!   account (the transport and [`YouTubeSignals`] do this).
//! - Video files: the API has none. With [`YouTubeApi::with_yt_dlp`] each video is downloaded
//!   with yt-dlp, stored by streaming the file, and logged as an `EXEC` entry (url = the watch
//!   URL, tool = `yt-dlp <version>`, note = the exact command line); a failed run is a gap.
//!   Without it every video gets a `NotSupportedByRoute` gap pointing to Google Takeout.
//! - The token goes to the API only (header or `key=` parameter added by the transport), never
//!   to the thumbnail CDN and never to yt-dlp.
//! - With an API key, `mine` cannot work (it needs the owner's sign-in): a `Config` error
//!   before any request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use model::{
    AccountId, CaptureLogEntry, ContentId, Gap, GapReason, Item, ItemKind, MediaRef, Platform,
    Profile, Rendition, Route,
};
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::signals::YouTubeSignals;
use super::ytdlp::{self, FileStream, RunError, YtDlp};
use crate::auth::{Auth, Secret};
use crate::error::{FetchError, Result};
use crate::media::{Missing, download_or_gap, is_per_file};
use crate::source::{Identity, Report, Sink, Source, count};
use crate::transport::{Document, Request, Transport};

const API: &str = "https://www.googleapis.com/youtube/v3/";

/// `videos.list` takes at most 50 ids.
pub const BATCH: usize = 50;

/// A guard against a server that never stops paging (50 videos or 100 comments a page).
const MAX_PAGES: usize = 5_000;

/// Quota costs (reference §4.1).
const LIST_COST: u64 = 1;
const CAPTIONS_LIST_COST: u64 = 50;
const CAPTION_DOWNLOAD_COST: u64 = 200;

pub const CHANNEL_PARTS: &str = "snippet,contentDetails,statistics,brandingSettings";
pub const VIDEO_PARTS: &str = "snippet,contentDetails,status,statistics,liveStreamingDetails";

/// The best thumbnail first.
const THUMBNAIL_ORDER: [&str; 5] = ["maxres", "standard", "high", "medium", "default"];

const TAKEOUT_HINT: &str = "the API cannot download video files; import the channel's Google \
                            Takeout (tawthiq import youtube)";

/// How the API is called.
pub enum YtAuth {
    /// The owner's OAuth 2.0 access token (`youtube.readonly`; caption downloads need
    /// `youtube.force-ssl`), sent as `Authorization: Bearer`.
    OAuth(Secret),
    /// An API key (public data only), sent as `key=`.
    ApiKey(Secret),
}

impl YtAuth {
    fn auth(&self) -> Auth<'_> {
        match self {
            YtAuth::OAuth(s) => Auth::Bearer(s),
            YtAuth::ApiKey(s) => Auth::Query {
                param: "key",
                secret: s,
            },
        }
    }

    fn is_oauth(&self) -> bool {
        matches!(self, YtAuth::OAuth(_))
    }
}

impl fmt::Debug for YtAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YtAuth::OAuth(_) => f.write_str("OAuth([REDACTED])"),
            YtAuth::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}

/// Which channel to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelTarget {
    /// The channel of the account that authorised the token (`mine=true`).
    Mine,
    /// A handle, without `@`.
    Handle(String),
    /// A channel id, `UC` + 22 characters.
    Id(String),
}

fn is_channel_id(s: &str) -> bool {
    s.len() == 24
        && s.starts_with("UC")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl FromStr for ChannelTarget {
    type Err = FetchError;

    /// `mine` or `me` → [`ChannelTarget::Mine`]; `@handle` → [`ChannelTarget::Handle`];
    /// `UC…` (24 characters) → [`ChannelTarget::Id`].
    fn from_str(s: &str) -> Result<ChannelTarget> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("mine") || s.eq_ignore_ascii_case("me") {
            return Ok(ChannelTarget::Mine);
        }
        if let Some(handle) = s.strip_prefix('@') {
            // Handles are 3–30 characters: letters (of any script), digits, `_`, `-`, `.`.
            let n = handle.chars().count();
            let valid = (3..=30).contains(&n)
                && handle
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if valid {
                return Ok(ChannelTarget::Handle(handle.to_owned()));
            }
            return Err(FetchError::Config(format!(
                "YouTube handle {s:?}: expected @ and 3 to 30 letters, digits, \"_\", \"-\" or \".\""
            )));
        }
        if is_channel_id(s) {
            return Ok(ChannelTarget::Id(s.to_owned()));
        }
        Err(FetchError::Config(format!(
            "YouTube channel {s:?}: expected \"mine\", \"@handle\" or a channel id \
             (\"UC\" and 22 letters, digits, \"_\" or \"-\")"
        )))
    }
}

impl fmt::Display for ChannelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelTarget::Mine => f.write_str("mine"),
            ChannelTarget::Handle(h) => write!(f, "@{h}"),
            ChannelTarget::Id(id) => f.write_str(id),
        }
    }
}

/// The `YouTube` Data API source for one channel.
pub struct YouTubeApi<'t> {
    transport: &'t Transport,
    auth: YtAuth,
    target: ChannelTarget,
    yt_dlp: Option<YtDlp>,
    yt_dlp_timeout: Duration,
}

impl<'t> YouTubeApi<'t> {
    pub fn new(transport: &'t Transport, auth: YtAuth, target: ChannelTarget) -> Self {
        YouTubeApi {
            transport,
            auth,
            target,
            yt_dlp: None,
            yt_dlp_timeout: ytdlp::DEFAULT_TIMEOUT,
        }
    }

    /// Downloads the video files with this yt-dlp executable ([`ytdlp::find_on_path`] finds
    /// one).
    #[must_use]
    pub fn with_yt_dlp(mut self, program: std::path::PathBuf) -> Self {
        self.yt_dlp = Some(YtDlp::new(program, self.yt_dlp_timeout));
        self
    }

    /// The time limit of one yt-dlp run (default [`ytdlp::DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_yt_dlp_timeout(mut self, timeout: Duration) -> Self {
        self.yt_dlp_timeout = timeout;
        if let Some(tool) = self.yt_dlp.take() {
            self.yt_dlp = Some(YtDlp::new(tool.program().to_owned(), timeout));
        }
        self
    }
}

#[async_trait::async_trait]
impl Source for YouTubeApi<'_> {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }

    fn route(&self) -> Route {
        Route::Api
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        if self.target == ChannelTarget::Mine && !self.auth.is_oauth() {
            return Err(FetchError::Config(
                "YouTube \"mine\" needs the owner's OAuth token; with an API key name the \
                 channel (@handle or UC… id)"
                    .to_owned(),
            ));
        }
        let mut run = Run {
            transport: self.transport,
            auth: &self.auth,
            sink,
            yt_dlp: self.yt_dlp.as_ref(),
            yt_dlp_version: None,
            channel_id: String::new(),
            thumbnails: HashMap::new(),
            comment_ids: HashSet::new(),
            items: HashSet::new(),
            tally: Tally::default(),
        };
        run.capture(&self.target).await
    }
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (only what is read; everything else stays in the stored documents).

/// A count, delivered as a string (`"1234"`, channels and videos) or a number (comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Count, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Count(n)),
            Raw::Text(s) => parse_count(&s)
                .map(Count)
                .ok_or_else(|| serde::de::Error::custom(format!("count {s:?} is not a number"))),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct List<T> {
    #[serde(default)]
    kind: String,
    items: Option<Vec<T>>,
    next_page_token: Option<String>,
}

/// One size of a thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Thumb {
    pub url: String,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

pub type Thumbnails = BTreeMap<String, Thumb>;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    snippet: ChannelSnippet,
    content_details: Option<ChannelContent>,
    #[serde(default)]
    statistics: ChannelStats,
    branding_settings: Option<Branding>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelSnippet {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    custom_url: Option<String>,
    #[serde(default)]
    thumbnails: Thumbnails,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelContent {
    related_playlists: Option<Related>,
}

#[derive(Debug, Clone, Deserialize)]
struct Related {
    uploads: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names)] // the API's wire names
struct ChannelStats {
    view_count: Option<Count>,
    subscriber_count: Option<Count>,
    #[serde(default)]
    hidden_subscriber_count: bool,
    video_count: Option<Count>,
}

#[derive(Debug, Clone, Deserialize)]
struct Branding {
    image: Option<BrandingImage>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BrandingImage {
    banner_external_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaylistItem {
    #[serde(default)]
    snippet: Option<PlaylistSnippet>,
    #[serde(default)]
    content_details: Option<PlaylistContent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaylistSnippet {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    thumbnails: Thumbnails,
    #[serde(default)]
    video_owner_channel_id: Option<String>,
    #[serde(default)]
    resource_id: Option<ResourceId>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceId {
    video_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlaylistContent {
    video_id: Option<String>,
}

/// One entry of the uploads playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub video_id: String,
    /// `Some(title)` for a placeholder of a deleted or private video.
    pub placeholder: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    pub id: String,
    snippet: VideoSnippet,
    #[serde(default)]
    content_details: VideoContent,
    #[serde(default)]
    statistics: VideoStats,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VideoSnippet {
    published_at: Option<String>,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    thumbnails: Thumbnails,
    #[serde(default)]
    default_language: Option<String>,
    #[serde(default)]
    default_audio_language: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VideoContent {
    duration: Option<String>,
    caption: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::struct_field_names)] // the API's wire names
struct VideoStats {
    view_count: Option<Count>,
    like_count: Option<Count>,
    comment_count: Option<Count>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    snippet: ThreadSnippet,
    #[serde(default)]
    replies: Option<Replies>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    top_level_comment: Comment,
    #[serde(default)]
    total_reply_count: Option<Count>,
}

#[derive(Debug, Clone, Deserialize)]
struct Replies {
    #[serde(default)]
    comments: Vec<Comment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    snippet: CommentSnippet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentSnippet {
    #[serde(default)]
    author_channel_id: Option<AuthorChannel>,
    #[serde(default)]
    text_display: Option<String>,
    #[serde(default)]
    text_original: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    like_count: Option<Count>,
    published_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct AuthorChannel {
    value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Caption {
    pub id: String,
    snippet: CaptionSnippet,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaptionSnippet {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    track_kind: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Pure parsing.

fn malformed(url: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform: Platform::Youtube,
        url: url.to_owned(),
        detail: detail.into(),
    }
}

/// Video, comment and caption ids go into URLs and file names: a strict alphabet.
fn is_safe_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        && !id.starts_with('.')
}

/// `"1234"` → 1234; anything but ASCII digits is `None`.
pub fn parse_count(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Sums `<number><unit>` fields of one part of a duration; units in order, each at most once.
fn duration_fields(part: &str, units: &[(char, u64)]) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut next_unit = 0;
    for c in part.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        // Units must come in order, each at most once, each after a number.
        let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(units[at].1)?)?;
        number.clear();
        next_unit = at + 1;
    }
    number.is_empty().then_some(total)
}

/// An ISO 8601 duration as `YouTube` writes it (`PT12M48S`, `P1DT2H`, `PT0S`, `P0D`, weeks
/// allowed) in seconds. Years and months (ambiguous lengths) and fractions are `None`.
pub fn parse_duration(s: &str) -> Option<u64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    let days = duration_fields(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    let hms = match time {
        Some(t) => duration_fields(t, &[('H', 3_600), ('M', 60), ('S', 1)])?,
        None => 0,
    };
    days.checked_add(hms)
}

/// `publishedAt` as UTC (RFC 3339, fractional seconds allowed).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

fn rendition(t: &Thumb) -> Rendition {
    Rendition {
        url: t.url.clone(),
        content_type: None,
        width: t.width,
        height: t.height,
        bitrate: None,
    }
}

/// The best thumbnail (maxres > standard > high > medium > default; other names after them,
/// largest first) and every size offered, best first. Sizes without an absolute URL are
/// ignored.
pub fn choose_thumbnail(thumbs: &Thumbnails) -> Option<(Rendition, Vec<Rendition>)> {
    let rank = |name: &str| {
        THUMBNAIL_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or(THUMBNAIL_ORDER.len())
    };
    let mut sizes: Vec<(&String, &Thumb)> = thumbs
        .iter()
        .filter(|(_, t)| t.url.starts_with("https://") || t.url.starts_with("http://"))
        .collect();
    sizes.sort_by_key(|(name, t)| {
        (
            rank(name),
            std::cmp::Reverse(t.width.unwrap_or(0)),
            (*name).clone(),
        )
    });
    let offered: Vec<Rendition> = sizes.iter().map(|(_, t)| rendition(t)).collect();
    Some((offered.first()?.clone(), offered))
}

fn parse_list<T: serde::de::DeserializeOwned>(
    body: &[u8],
    url: &str,
    kind: &str,
) -> Result<List<T>> {
    let list: List<T> =
        serde_json::from_slice(body).map_err(|e| malformed(url, format!("{kind}: {e}")))?;
    if list.kind != kind {
        return Err(malformed(
            url,
            format!("expected kind {kind:?}, got {:?}", list.kind),
        ));
    }
    Ok(list)
}

/// The channel and its uploads playlist id. No `items` on a 200 is [`FetchError::NotFound`].
pub fn parse_channel(body: &[u8], url: &str) -> Result<(Channel, String)> {
    let list: List<Channel> = parse_list(body, url, "youtube#channelListResponse")?;
    let Some(channel) = list.items.unwrap_or_default().into_iter().next() else {
        return Err(FetchError::NotFound {
            detail: format!(
                "channel gone or unknown: YouTube answered {url} with no channel (deleted, \
                 terminated or never existed)"
            ),
        });
    };
    if !is_channel_id(&channel.id) {
        return Err(malformed(url, format!("channel id {:?}", channel.id)));
    }
    let uploads = channel
        .content_details
        .as_ref()
        .and_then(|c| c.related_playlists.as_ref())
        .and_then(|r| r.uploads.clone())
        .filter(|u| is_safe_id(u))
        .ok_or_else(|| malformed(url, "channel has no uploads playlist"))?;
    Ok((channel, uploads))
}

/// One page of `playlistItems.list`: its entries in order and the next page token.
pub fn parse_playlist_page(body: &[u8], url: &str) -> Result<(Vec<Entry>, Option<String>)> {
    let list: List<PlaylistItem> = parse_list(body, url, "youtube#playlistItemListResponse")?;
    let mut entries = Vec::new();
    for it in list.items.unwrap_or_default() {
        let id = it
            .content_details
            .as_ref()
            .and_then(|c| c.video_id.clone())
            .or_else(|| {
                it.snippet
                    .as_ref()
                    .and_then(|s| s.resource_id.as_ref())
                    .and_then(|r| r.video_id.clone())
            })
            .ok_or_else(|| malformed(url, "playlist item without a video id"))?;
        if !is_safe_id(&id) {
            return Err(malformed(url, format!("video id {id:?}")));
        }
        let snippet = it
            .snippet
            .as_ref()
            .ok_or_else(|| malformed(url, format!("playlist item {id} has no snippet")))?;
        // Deleted and private uploads stay listed as placeholders without an owner or images.
        let placeholder = (snippet.video_owner_channel_id.is_none()
            && snippet.thumbnails.is_empty())
        .then(|| snippet.title.clone().unwrap_or_default());
        entries.push(Entry {
            video_id: id,
            placeholder,
        });
    }
    Ok((entries, list.next_page_token.filter(|t| !t.is_empty())))
}

/// `videos.list`: the videos returned (a missing id is simply absent).
pub fn parse_videos(body: &[u8], url: &str) -> Result<Vec<Video>> {
    let list: List<Video> = parse_list(body, url, "youtube#videoListResponse")?;
    let videos = list.items.unwrap_or_default();
    if let Some(v) = videos.iter().find(|v| !is_safe_id(&v.id)) {
        return Err(malformed(url, format!("video id {:?}", v.id)));
    }
    Ok(videos)
}

/// `commentThreads.list`: threads and the next page token.
pub fn parse_threads(body: &[u8], url: &str) -> Result<(Vec<Thread>, Option<String>)> {
    let list: List<Thread> = parse_list(body, url, "youtube#commentThreadListResponse")?;
    Ok((
        list.items.unwrap_or_default(),
        list.next_page_token.filter(|t| !t.is_empty()),
    ))
}

/// `comments.list`: replies and the next page token.
pub fn parse_comments(body: &[u8], url: &str) -> Result<(Vec<Comment>, Option<String>)> {
    let list: List<Comment> = parse_list(body, url, "youtube#commentListResponse")?;
    Ok((
        list.items.unwrap_or_default(),
        list.next_page_token.filter(|t| !t.is_empty()),
    ))
}

/// `captions.list`: the tracks of one video.
pub fn parse_captions(body: &[u8], url: &str) -> Result<Vec<Caption>> {
    let list: List<Caption> = parse_list(body, url, "youtube#captionListResponse")?;
    let tracks = list.items.unwrap_or_default();
    if let Some(c) = tracks.iter().find(|c| !is_safe_id(&c.id)) {
        return Err(malformed(url, format!("caption id {:?}", c.id)));
    }
    Ok(tracks)
}

pub fn watch_url(video_id: &str) -> String {
    format!("https://www.youtube.com/watch?v={video_id}")
}

/// The profile record: counts from `statistics` (subscribers left out when hidden).
pub fn profile(channel: &Channel) -> Profile {
    Profile {
        platform: Platform::Youtube,
        id: channel.id.clone(),
        username: channel
            .snippet
            .custom_url
            .as_deref()
            .map(|u| u.strip_prefix('@').unwrap_or(u).to_owned()),
        display_name: Some(channel.snippet.title.clone()),
        description: channel
            .snippet
            .description
            .clone()
            .filter(|d| !d.is_empty()),
        url: Some(format!("https://www.youtube.com/channel/{}", channel.id)),
        counts: reported_counts(channel),
        media: Vec::new(),
        route: Route::Api,
    }
}

fn reported_counts(channel: &Channel) -> BTreeMap<String, u64> {
    let s = &channel.statistics;
    let subscribers = s.subscriber_count.filter(|_| !s.hidden_subscriber_count);
    [
        ("subscribers", subscribers),
        ("videos", s.video_count),
        ("views", s.view_count),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?.0)))
    .collect()
}

/// The video's item, without media: text = title (+ `"\n\n"` + description).
pub fn video_item(v: &Video, source_path: &str, url: &str) -> Result<Item> {
    let published = v
        .snippet
        .published_at
        .as_deref()
        .ok_or_else(|| malformed(url, format!("video {} has no publishedAt", v.id)))?;
    let created_at = parse_time(published)
        .ok_or_else(|| malformed(url, format!("video {} publishedAt {published:?}", v.id)))?;
    let text = if v.snippet.description.is_empty() {
        v.snippet.title.clone()
    } else {
        format!("{}\n\n{}", v.snippet.title, v.snippet.description)
    };
    let s = &v.statistics;
    let mut metrics: BTreeMap<String, u64> = [
        ("views", s.view_count),
        ("likes", s.like_count),
        ("comments", s.comment_count),
    ]
    .into_iter()
    .filter_map(|(k, c)| Some((k.to_owned(), c?.0)))
    .collect();
    if let Some(d) = v.content_details.duration.as_deref() {
        if let Some(secs) = parse_duration(d) {
            metrics.insert("duration_seconds".to_owned(), secs);
        } else {
            tracing::warn!(video = v.id, duration = d, "unreadable duration left out");
        }
    }
    Ok(Item {
        id: v.id.clone(),
        platform: Platform::Youtube,
        kind: ItemKind::Video,
        created_at,
        text,
        lang: v
            .snippet
            .default_language
            .clone()
            .or_else(|| v.snippet.default_audio_language.clone()),
        pinned: false,
        metrics,
        media: Vec::new(),
        url: Some(watch_url(&v.id)),
        references: Vec::new(),
        route: Route::Api,
        source_path: Some(source_path.to_owned()),
    })
}

/// The channel's own comment as a `Reply` item; `None` for anyone else's.
pub fn owner_comment_item(
    c: &Comment,
    channel_id: &str,
    video_id: &str,
    source_path: &str,
    url: &str,
) -> Result<Option<Item>> {
    let author = c
        .snippet
        .author_channel_id
        .as_ref()
        .and_then(|a| a.value.as_deref());
    if author != Some(channel_id) {
        return Ok(None);
    }
    let published = c
        .snippet
        .published_at
        .as_deref()
        .ok_or_else(|| malformed(url, format!("comment {} has no publishedAt", c.id)))?;
    let created_at = parse_time(published)
        .ok_or_else(|| malformed(url, format!("comment {} publishedAt {published:?}", c.id)))?;
    let text = c
        .snippet
        .text_original
        .clone()
        .or_else(|| c.snippet.text_display.clone())
        .ok_or_else(|| malformed(url, format!("comment {} has no text", c.id)))?;
    let mut references = vec![video_id.to_owned()];
    references.extend(c.snippet.parent_id.clone());
    Ok(Some(Item {
        id: c.id.clone(),
        platform: Platform::Youtube,
        kind: ItemKind::Reply,
        created_at,
        text,
        lang: None,
        pinned: false,
        metrics: c
            .snippet
            .like_count
            .map(|n| BTreeMap::from([("likes".to_owned(), n.0)]))
            .unwrap_or_default(),
        media: Vec::new(),
        url: Some(format!("{}&lc={}", watch_url(video_id), c.id)),
        references,
        route: Route::Api,
        source_path: Some(source_path.to_owned()),
    }))
}

// ---------------------------------------------------------------------------------------------
// URLs.

fn api_url(segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut u = Url::parse(API).expect("constant URL");
    u.path_segments_mut()
        .expect("https URL")
        .pop_if_empty()
        .extend(segments);
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    u
}

pub fn channel_url(target: &ChannelTarget) -> Url {
    let handle;
    let by = match target {
        ChannelTarget::Mine => ("mine", "true"),
        ChannelTarget::Handle(h) => {
            handle = format!("@{h}");
            ("forHandle", handle.as_str())
        }
        ChannelTarget::Id(id) => ("id", id.as_str()),
    };
    api_url(&["channels"], &[("part", CHANNEL_PARTS), by])
}

pub fn playlist_url(playlist_id: &str, page_token: Option<&str>) -> Url {
    let mut u = api_url(
        &["playlistItems"],
        &[
            ("part", "snippet,contentDetails,status"),
            ("playlistId", playlist_id),
            ("maxResults", "50"),
        ],
    );
    if let Some(t) = page_token {
        u.query_pairs_mut().append_pair("pageToken", t);
    }
    u
}

/// `videos.list` URLs for `ids`, [`BATCH`] ids each, in order.
pub fn videos_urls(ids: &[String]) -> Vec<Url> {
    ids.chunks(BATCH)
        .map(|batch| {
            api_url(
                &["videos"],
                &[("part", VIDEO_PARTS), ("id", &batch.join(","))],
            )
        })
        .collect()
}

pub fn threads_url(video_id: &str, page_token: Option<&str>) -> Url {
    let mut u = api_url(
        &["commentThreads"],
        &[
            ("part", "snippet,replies"),
            ("videoId", video_id),
            ("maxResults", "100"),
            ("textFormat", "plainText"),
        ],
    );
    if let Some(t) = page_token {
        u.query_pairs_mut().append_pair("pageToken", t);
    }
    u
}

pub fn replies_url(parent_id: &str, page_token: Option<&str>) -> Url {
    let mut u = api_url(
        &["comments"],
        &[
            ("part", "snippet"),
            ("parentId", parent_id),
            ("maxResults", "100"),
            ("textFormat", "plainText"),
        ],
    );
    if let Some(t) = page_token {
        u.query_pairs_mut().append_pair("pageToken", t);
    }
    u
}

pub fn captions_url(video_id: &str) -> Url {
    api_url(&["captions"], &[("part", "snippet"), ("videoId", video_id)])
}

pub fn caption_download_url(caption_id: &str) -> Url {
    api_url(&["captions", caption_id], &[("tfmt", "vtt")])
}

/// Follows `nextPageToken`s: refuses a token seen before and a paging that never ends.
struct Pages {
    seen: HashSet<String>,
    n: usize,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            seen: HashSet::new(),
            n: 0,
        }
    }

    /// The next page number, or an error past the guard.
    fn next_page(&mut self, url: &str) -> Result<usize> {
        self.n += 1;
        if self.n > MAX_PAGES {
            return Err(malformed(
                url,
                format!("still paging after {MAX_PAGES} pages"),
            ));
        }
        Ok(self.n)
    }

    /// `Ok(Some(token))` to go on, `Ok(None)` at the end.
    fn follow(&mut self, token: Option<String>, url: &str) -> Result<Option<String>> {
        match token {
            None => Ok(None),
            Some(t) if !self.seen.insert(t.clone()) => {
                Err(malformed(url, format!("nextPageToken {t:?} repeats")))
            }
            Some(t) => Ok(Some(t)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The capture.

#[derive(Debug, Default)]
struct Tally {
    videos: u64,
    captions: u64,
    captions_asr_skipped: u64,
    comments_disabled: u64,
    owner_comments: u64,
    thumbnails: u64,
    video_files: u64,
    quota_units: u64,
    gaps: u64,
}

struct Run<'r> {
    transport: &'r Transport,
    auth: &'r YtAuth,
    sink: &'r mut dyn Sink,
    yt_dlp: Option<&'r YtDlp>,
    /// `yt-dlp --version`, asked once per capture.
    yt_dlp_version: Option<std::result::Result<String, RunError>>,
    channel_id: String,
    /// Outcome per thumbnail URL: each is requested once per capture.
    thumbnails: HashMap<String, Option<ContentId>>,
    comment_ids: HashSet<String>,
    items: HashSet<String>,
    tally: Tally,
}

impl Run<'_> {
    async fn api(&mut self, endpoint: &str, url: Url, cost: u64) -> Result<Document> {
        // Every request costs its units, even one that fails.
        self.tally.quota_units += cost;
        let req = Request::new(Platform::Youtube, endpoint, url)
            .auth(Some(self.auth.auth()))
            .signals(&YouTubeSignals)
            .cost(u32::try_from(cost).unwrap_or(u32::MAX));
        self.transport.document(self.sink, &req).await
    }

    async fn gap(&mut self, reason: GapReason, detail: String, item: Option<&str>) -> Result<()> {
        self.tally.gaps += 1;
        self.sink
            .gap(Gap {
                reason,
                detail,
                item_id: item.map(str::to_owned),
                url: item.map(watch_url),
            })
            .await
    }

    async fn item(&mut self, item: Item) -> Result<()> {
        if self.items.insert(item.id.clone()) {
            self.sink.item(item).await?;
        }
        Ok(())
    }

    async fn capture(&mut self, target: &ChannelTarget) -> Result<Report> {
        let doc = self
            .api("channels", channel_url(target), LIST_COST)
            .await
            .map_err(FetchError::about_account)?;
        let (channel, uploads) =
            parse_channel(&doc.body, &doc.url).map_err(FetchError::about_account)?;
        let account = AccountId::new(&channel.id)
            .map_err(|e| malformed(&doc.url, format!("channel id: {e}")))?;
        let who = Identity::new(Some(&channel.id), channel.snippet.custom_url.as_deref());
        self.sink.identify(&who).await?;
        self.sink.begin(&account).await?;
        self.channel_id.clone_from(&channel.id);
        let mut prof = profile(&channel);
        if let Some((chosen, offered)) = choose_thumbnail(&channel.snippet.thumbnails) {
            let m = self
                .image(chosen, offered, "the channel picture", None)
                .await?;
            prof.media.push(m);
        }
        let banner = channel
            .branding_settings
            .as_ref()
            .and_then(|b| b.image.as_ref())
            .and_then(|i| i.banner_external_url.clone())
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        if let Some(url) = banner {
            let chosen = Rendition {
                url,
                content_type: None,
                width: None,
                height: None,
                bitrate: None,
            };
            let m = self
                .image(chosen.clone(), vec![chosen], "the channel banner", None)
                .await?;
            prof.media.push(m);
        }
        self.sink.profile(prof).await?;
        let reported = reported_counts(&channel);

        let ids = self
            .uploads(&uploads, reported.get("videos").copied())
            .await?;
        for (n, url) in videos_urls(&ids).into_iter().enumerate() {
            let batch = &ids[n * BATCH..ids.len().min((n + 1) * BATCH)];
            let doc = self
                .api(&format!("videos-b{}", n + 1), url, LIST_COST)
                .await?;
            let videos = parse_videos(&doc.body, &doc.url)?;
            let by_id: HashMap<&str, &Video> = videos.iter().map(|v| (v.id.as_str(), v)).collect();
            for id in batch {
                if let Some(v) = by_id.get(id.as_str()) {
                    self.video(v, &doc).await?;
                } else {
                    let detail = format!(
                        "video {id} is listed in the uploads playlist but videos.list did \
                         not return it (deleted, or not visible to this token)"
                    );
                    self.gap(GapReason::Unavailable, detail, Some(id)).await?;
                }
            }
        }
        Ok(self.report(reported))
    }

    /// Pages the uploads playlist to the end; placeholders become gaps. Returns the video ids
    /// in playlist order, each once.
    async fn uploads(&mut self, playlist: &str, reported: Option<u64>) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut listed = HashSet::new();
        let mut token: Option<String> = None;
        let mut pages = Pages::new();
        loop {
            let url = playlist_url(playlist, token.as_deref());
            let shown = url.to_string();
            let n = pages.next_page(&shown)?;
            let doc = match self
                .api(&format!("playlistItems-p{n}"), url, LIST_COST)
                .await
            {
                // A channel without uploads has no uploads playlist.
                Err(FetchError::NotFound { detail }) if n == 1 => {
                    if reported.is_some_and(|v| v > 0) {
                        let detail = format!(
                            "the uploads playlist {playlist} was not found ({detail}) although \
                             the channel reports videos"
                        );
                        self.gap(GapReason::Unavailable, detail, None).await?;
                    }
                    return Ok(ids);
                }
                r => r?,
            };
            let (entries, next) = parse_playlist_page(&doc.body, &doc.url)?;
            for e in entries {
                if !listed.insert(e.video_id.clone()) {
                    continue;
                }
                match e.placeholder {
                    Some(title) => {
                        let detail = format!(
                            "upload {} is listed only as a placeholder ({title:?}): deleted or \
                             private",
                            e.video_id
                        );
                        self.gap(GapReason::Unavailable, detail, Some(&e.video_id))
                            .await?;
                    }
                    None => ids.push(e.video_id),
                }
            }
            match pages.follow(next, &doc.url)? {
                Some(t) => token = Some(t),
                None => return Ok(ids),
            }
        }
    }

    /// One video: thumbnail, comments, captions, file; then its item and the owner's comments.
    async fn video(&mut self, v: &Video, doc: &Document) -> Result<()> {
        let mut item = video_item(v, &doc.stored.path, &doc.url)?;
        self.tally.videos += 1;
        if let Some((chosen, offered)) = choose_thumbnail(&v.snippet.thumbnails) {
            let what = format!("the thumbnail of video {}", v.id);
            let m = self.image(chosen, offered, &what, Some(&v.id)).await?;
            item.media.push(m);
        }
        let owner_items = self.comments(v).await?;
        self.captions(v, &mut item).await?;
        self.video_file(&mut item).await?;
        self.item(item).await?;
        for it in owner_items {
            self.item(it).await?;
        }
        Ok(())
    }

    /// Downloads an image from the CDN (without the token), once per URL.
    async fn image(
        &mut self,
        chosen: Rendition,
        offered: Vec<Rendition>,
        what: &str,
        item_id: Option<&str>,
    ) -> Result<MediaRef> {
        let sha256 = if let Some(done) = self.thumbnails.get(&chosen.url) {
            *done
        } else {
            let url = Url::parse(&chosen.url)
                .map_err(|e| malformed(&chosen.url, format!("{what}: unusable URL ({e})")))?;
            let req = Request::new(Platform::Youtube, "media", url).signals(&YouTubeSignals);
            let missing = Missing {
                what,
                item_id,
                url: &chosen.url,
            };
            let stored = download_or_gap(self.transport, self.sink, &req, None, missing)
                .await?
                .map(|s| s.sha256);
            match stored {
                None => self.tally.gaps += 1,
                Some(_) if item_id.is_some() => self.tally.thumbnails += 1,
                Some(_) => {}
            }
            self.thumbnails.insert(chosen.url.clone(), stored);
            stored
        };
        Ok(MediaRef {
            sha256,
            original_url: chosen.url.clone(),
            chosen: Some(chosen),
            offered,
        })
    }

    /// Every comment thread of the video (and every reply), stored and counted; returns the
    /// channel's own comments as items.
    async fn comments(&mut self, v: &Video) -> Result<Vec<Item>> {
        let mut owner = Vec::new();
        if v.statistics.comment_count == Some(Count(0)) {
            return Ok(owner);
        }
        let mut token: Option<String> = None;
        let mut pages = Pages::new();
        loop {
            let url = threads_url(&v.id, token.as_deref());
            let n = pages.next_page(url.as_str())?;
            let endpoint = format!("commentThreads-{}-p{n}", v.id);
            let doc = match self.api(&endpoint, url, LIST_COST).await {
                Err(FetchError::Http {
                    status: 403,
                    detail,
                    ..
                }) if detail.contains("commentsDisabled") => {
                    self.tally.comments_disabled += 1;
                    return Ok(owner);
                }
                Err(FetchError::NotFound { detail }) => {
                    let detail = format!("the comments of video {} are gone: {detail}", v.id);
                    self.gap(GapReason::Unavailable, detail, Some(&v.id))
                        .await?;
                    return Ok(owner);
                }
                r => r?,
            };
            let (threads, next) = parse_threads(&doc.body, &doc.url)?;
            for th in &threads {
                let top = &th.snippet.top_level_comment;
                self.comment(top, &v.id, &doc, &mut owner)?;
                let inline = th.replies.as_ref().map_or(&[][..], |r| &r.comments[..]);
                let total = th.snippet.total_reply_count.map_or(0, |c| c.0);
                if total > inline.len() as u64 {
                    // The thread carries only a few replies: page them all from comments.list.
                    self.replies(&th.id, &v.id, &mut owner).await?;
                } else {
                    for r in inline {
                        self.comment(r, &v.id, &doc, &mut owner)?;
                    }
                }
            }
            match pages.follow(next, &doc.url)? {
                Some(t) => token = Some(t),
                None => return Ok(owner),
            }
        }
    }

    async fn replies(&mut self, parent: &str, video: &str, owner: &mut Vec<Item>) -> Result<()> {
        if !is_safe_id(parent) {
            return Err(malformed(parent, "comment thread id"));
        }
        let mut token: Option<String> = None;
        let mut pages = Pages::new();
        loop {
            let url = replies_url(parent, token.as_deref());
            let n = pages.next_page(url.as_str())?;
            let doc = self
                .api(&format!("comments-{video}-p{n}"), url, LIST_COST)
                .await?;
            let (comments, next) = parse_comments(&doc.body, &doc.url)?;
            for c in &comments {
                self.comment(c, video, &doc, owner)?;
            }
            match pages.follow(next, &doc.url)? {
                Some(t) => token = Some(t),
                None => return Ok(()),
            }
        }
    }

    /// Counts a comment once; keeps it as an item if the channel wrote it.
    fn comment(
        &mut self,
        c: &Comment,
        video: &str,
        doc: &Document,
        owner: &mut Vec<Item>,
    ) -> Result<()> {
        if !self.comment_ids.insert(c.id.clone()) {
            return Ok(());
        }
        if !is_safe_id(&c.id) {
            return Err(malformed(&doc.url, format!("comment id {:?}", c.id)));
        }
        if let Some(item) =
            owner_comment_item(c, &self.channel_id, video, &doc.stored.path, &doc.url)?
        {
            self.tally.owner_comments += 1;
            owner.push(item);
        }
        Ok(())
    }

    /// Lists and (with OAuth) downloads the video's caption tracks as `WebVTT`.
    async fn captions(&mut self, v: &Video, item: &mut Item) -> Result<()> {
        if v.content_details.caption.as_deref() != Some("true") {
            return Ok(());
        }
        if !self.auth.is_oauth() {
            let detail = format!(
                "the captions of video {} need the owner's OAuth token (an API key cannot \
                 download captions)",
                v.id
            );
            return self
                .gap(GapReason::NotSupportedByRoute, detail, Some(&v.id))
                .await;
        }
        let doc = match self
            .api(
                &format!("captions-{}", v.id),
                captions_url(&v.id),
                CAPTIONS_LIST_COST,
            )
            .await
        {
            Err(e) if is_per_file(&e) => {
                let detail = format!(
                    "the caption tracks of video {} could not be listed: {e}",
                    v.id
                );
                return self.gap(GapReason::Other, detail, Some(&v.id)).await;
            }
            r => r?,
        };
        for track in parse_captions(&doc.body, &doc.url)? {
            let kind = track.snippet.track_kind.as_deref().unwrap_or_default();
            if kind.eq_ignore_ascii_case("asr") {
                self.tally.captions_asr_skipped += 1;
                continue;
            }
            let url = caption_download_url(&track.id);
            let shown = url.to_string();
            self.tally.quota_units += CAPTION_DOWNLOAD_COST;
            let auth = self.auth.auth();
            let req = Request::new(Platform::Youtube, "caption", url)
                .auth(Some(auth))
                .signals(&YouTubeSignals)
                .cost(u32::try_from(CAPTION_DOWNLOAD_COST).unwrap_or(u32::MAX));
            match self.transport.media(self.sink, &req, Some("vtt")).await {
                Ok(stored) => {
                    self.tally.captions += 1;
                    let chosen = Rendition {
                        url: shown.clone(),
                        content_type: Some("text/vtt".to_owned()),
                        width: None,
                        height: None,
                        bitrate: None,
                    };
                    item.media.push(MediaRef {
                        sha256: Some(stored.sha256),
                        original_url: shown,
                        chosen: Some(chosen),
                        offered: Vec::new(),
                    });
                }
                // A token without the caption scope, or a track of another owner, is refused
                // for this track alone; an expired token shows on the next API call.
                Err(e) if is_per_file(&e) || matches!(e, FetchError::AuthExpired { .. }) => {
                    let lang = track.snippet.language.as_deref().unwrap_or("?");
                    let detail = format!(
                        "caption track {} ({lang}) of video {} could not be downloaded: {e}",
                        track.id, v.id
                    );
                    self.gap(GapReason::Other, detail, Some(&v.id)).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The video file through yt-dlp, or a gap.
    async fn video_file(&mut self, item: &mut Item) -> Result<()> {
        let url = watch_url(&item.id);
        let Some(tool) = self.yt_dlp else {
            let detail = format!("video {}: {TAKEOUT_HINT}", item.id);
            return self
                .gap(GapReason::NotSupportedByRoute, detail, Some(&item.id))
                .await;
        };
        if self.yt_dlp_version.is_none() {
            self.yt_dlp_version = Some(tool.version().await);
        }
        let version = match self.yt_dlp_version.clone().expect("asked above") {
            Ok(v) => v,
            Err(e) => {
                let detail = format!(
                    "video {}: yt-dlp could not run ({e}); {TAKEOUT_HINT}",
                    item.id
                );
                return self.gap(GapReason::Other, detail, Some(&item.id)).await;
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("tawthiq-yt-dlp-")
            .tempdir()
            .map_err(|e| FetchError::Config(format!("a temporary folder for yt-dlp: {e}")))?;
        let started = self.transport.clock().now();
        let outcome = tool.download(&url, dir.path()).await;
        let entry = CaptureLogEntry {
            seq: 0,
            time: started,
            method: "EXEC".to_owned(),
            url: url.clone(),
            status: None,
            headers: BTreeMap::new(),
            body_sha256: None,
            body_bytes: None,
            payload_path: None,
            tool: format!("yt-dlp {version}"),
            source_path: None,
            source_sha256: None,
            note: Some(outcome.command.clone()),
        };
        let files = match outcome.result {
            Ok(files) => files,
            Err(e) => {
                let mut failed = entry;
                failed.note = Some(format!("{e}; command: {}", outcome.command));
                self.sink.log(failed).await?;
                let detail = format!("video {}: {e}; {TAKEOUT_HINT}", item.id);
                return self.gap(GapReason::Other, detail, Some(&item.id)).await;
            }
        };
        for path in files {
            let ext = ytdlp::file_ext(&path);
            let stored = self.store_file(&path, &url, ext.as_deref()).await;
            match stored {
                Ok(stored) => {
                    let mut logged = entry.clone();
                    logged.body_sha256 = Some(stored.sha256);
                    logged.body_bytes = Some(stored.size);
                    logged.payload_path = Some(stored.path.clone());
                    self.sink.log(logged).await?;
                    self.tally.video_files += 1;
                    let chosen = Rendition {
                        url: url.clone(),
                        content_type: ext.as_deref().and_then(content_type),
                        width: None,
                        height: None,
                        bitrate: None,
                    };
                    item.media.push(MediaRef {
                        sha256: Some(stored.sha256),
                        original_url: url.clone(),
                        chosen: Some(chosen),
                        offered: Vec::new(),
                    });
                }
                Err(e) if is_per_file(&e) => {
                    let mut failed = entry.clone();
                    failed.note = Some(format!("{e}; command: {}", outcome.command));
                    self.sink.log(failed).await?;
                    let detail = format!(
                        "video {}: the downloaded file could not be stored: {e}",
                        item.id
                    );
                    self.gap(GapReason::Other, detail, Some(&item.id)).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn store_file(
        &mut self,
        path: &std::path::Path,
        url: &str,
        ext: Option<&str>,
    ) -> Result<crate::source::Stored> {
        let mut stream = FileStream::open(path, url)
            .await
            .map_err(|e| FetchError::Truncated {
                url: format!("{url} ({e})"),
                got: 0,
                expected: 0,
            })?;
        let limit = self.transport.config().max_media_bytes;
        if stream.len() > limit {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let len = stream.len();
        self.sink.media(ext, Some(len), &mut stream).await
    }

    fn report(&self, reported: BTreeMap<String, u64>) -> Report {
        let t = &self.tally;
        let comments = self.comment_ids.len() as u64;
        let captured = BTreeMap::from([
            ("videos".to_owned(), t.videos),
            ("comments".to_owned(), comments),
            ("owner_comments".to_owned(), t.owner_comments),
            ("comments_disabled_videos".to_owned(), t.comments_disabled),
            ("captions".to_owned(), t.captions),
            ("captions_asr_skipped".to_owned(), t.captions_asr_skipped),
            ("thumbnails".to_owned(), t.thumbnails),
            ("video_files".to_owned(), t.video_files),
            ("quota_units".to_owned(), t.quota_units),
        ]);
        let what = format!(
            "{}, {}, {}, {} and {} ({} quota units)",
            count(t.videos, "video", "videos"),
            count(comments, "comment", "comments"),
            count(t.captions, "caption track", "caption tracks"),
            count(t.thumbnails, "thumbnail", "thumbnails"),
            count(t.video_files, "video file", "video files"),
            t.quota_units
        );
        let mut statement = if t.gaps == 0 {
            format!("complete: {what}")
        } else {
            let of = reported
                .get("videos")
                .map_or_else(String::new, |n| format!(" (YouTube reports {n} videos)"));
            format!(
                "incomplete: {what} captured{of}; {} listed",
                count(t.gaps, "gap", "gaps")
            )
        };
        if self.yt_dlp.is_none() && t.videos > 0 {
            statement.push_str("; the video files need the channel's Google Takeout");
        }
        if t.comments_disabled > 0 {
            let disabled = count(t.comments_disabled, "video", "videos");
            statement = format!("{statement}; comments are disabled on {disabled}");
        }
        Report {
            platform_reported: reported,
            captured,
            statement,
        }
    }
}

fn content_type(ext: &str) -> Option<String> {
    let t = match ext {
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "m4a" => "audio/mp4",
        "mov" => "video/quicktime",
        _ => return None,
    };
    Some(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://www.googleapis.com/youtube/v3/test";

    #[test]
    fn durations_in_seconds() {
        assert_eq!(parse_duration("PT12M48S"), Some(768));
        assert_eq!(parse_duration("P1DT2H"), Some(93_600));
        assert_eq!(parse_duration("PT0S"), Some(0));
        assert_eq!(parse_duration("P0D"), Some(0));
        assert_eq!(parse_duration("PT1H2M3S"), Some(3_723));
        assert_eq!(parse_duration("P1W"), Some(604_800));
        assert_eq!(parse_duration("PT45S"), Some(45));
        for bad in [
            "", "P", "PT", "T1S", "PT1.5S", "P1M", "P1Y", "PT1S1M", "PT1H1H", "PTS", "12",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn counts_come_as_strings_or_numbers() {
        assert_eq!(parse_count("1234"), Some(1234));
        assert_eq!(parse_count("0"), Some(0));
        for bad in ["", "-1", "1,234", " 1", "1e3", "١٢"] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
        let c: Vec<Count> = serde_json::from_str(r#"["42", 7]"#).unwrap();
        assert_eq!(c, [Count(42), Count(7)]);
        assert!(serde_json::from_str::<Count>(r#""many""#).is_err());
    }

    fn thumb(url: &str, w: u32) -> Thumb {
        Thumb {
            url: url.into(),
            width: Some(w),
            height: Some(w * 9 / 16),
        }
    }

    #[test]
    fn the_best_thumbnail_wins_and_every_size_is_offered() {
        let mut t = Thumbnails::new();
        t.insert(
            "default".into(),
            thumb("https://i.ytimg.com/vi/a/default.jpg", 120),
        );
        t.insert(
            "high".into(),
            thumb("https://i.ytimg.com/vi/a/hqdefault.jpg", 480),
        );
        t.insert(
            "medium".into(),
            thumb("https://i.ytimg.com/vi/a/mqdefault.jpg", 320),
        );
        let (chosen, offered) = choose_thumbnail(&t).unwrap();
        assert_eq!(chosen.url, "https://i.ytimg.com/vi/a/hqdefault.jpg");
        let widths: Vec<_> = offered.iter().map(|r| r.width.unwrap()).collect();
        assert_eq!(widths, [480, 320, 120]);
        t.insert(
            "maxres".into(),
            thumb("https://i.ytimg.com/vi/a/maxresdefault.jpg", 1280),
        );
        t.insert(
            "standard".into(),
            thumb("https://i.ytimg.com/vi/a/sddefault.jpg", 640),
        );
        let (chosen, offered) = choose_thumbnail(&t).unwrap();
        assert_eq!(chosen.url, "https://i.ytimg.com/vi/a/maxresdefault.jpg");
        assert_eq!(offered.len(), 5);
        assert_eq!(offered[1].width, Some(640));
        assert!(choose_thumbnail(&Thumbnails::new()).is_none());
        let mut relative = Thumbnails::new();
        relative.insert("high".into(), thumb("//i.ytimg.com/x.jpg", 480));
        assert!(choose_thumbnail(&relative).is_none());
    }

    #[test]
    fn targets_parse_and_print() {
        assert_eq!(
            "mine".parse::<ChannelTarget>().unwrap(),
            ChannelTarget::Mine
        );
        assert_eq!(
            " ME ".parse::<ChannelTarget>().unwrap(),
            ChannelTarget::Mine
        );
        let h = "@madrasat.alnoor".parse::<ChannelTarget>().unwrap();
        assert_eq!(h, ChannelTarget::Handle("madrasat.alnoor".into()));
        assert_eq!(h.to_string(), "@madrasat.alnoor");
        let ar = "@مدرسة_النور".parse::<ChannelTarget>().unwrap();
        assert_eq!(ar.to_string(), "@مدرسة_النور");
        let id = "UCa1B2c3D4e5F6g7H8i9J0_-".parse::<ChannelTarget>().unwrap();
        assert_eq!(id, ChannelTarget::Id("UCa1B2c3D4e5F6g7H8i9J0_-".into()));
        assert_eq!(id.to_string(), "UCa1B2c3D4e5F6g7H8i9J0_-");
        for bad in [
            "",
            "@",
            "@ab",
            "@a b c",
            "@a/b/c",
            "madrasat",
            "UCa1B2c3D4e5F6g7H8i9J0",
            "UCa1B2c3D4e5F6g7H8i9J0_-x",
            "UCa1B2c3D4e5F6g7H8i9J0/.",
            "UUa1B2c3D4e5F6g7H8i9J0_-",
        ] {
            let e = bad.parse::<ChannelTarget>().unwrap_err();
            assert_eq!(e.kind(), "config", "{bad:?}");
        }
    }

    #[test]
    fn video_batches_hold_fifty_ids() {
        let ids: Vec<String> = (0..120).map(|i| format!("vid{i:08}")).collect();
        let urls = videos_urls(&ids);
        assert_eq!(urls.len(), 3);
        let sizes: Vec<usize> = urls
            .iter()
            .map(|u| {
                let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
                assert_eq!(q["part"], VIDEO_PARTS);
                q["id"].split(',').count()
            })
            .collect();
        assert_eq!(sizes, [50, 50, 20]);
        let first: HashMap<String, String> = urls[0].query_pairs().into_owned().collect();
        assert!(first["id"].starts_with("vid00000000,vid00000001,"));
        let last: HashMap<String, String> = urls[2].query_pairs().into_owned().collect();
        assert!(last["id"].ends_with("vid00000119"));
        assert!(videos_urls(&[]).is_empty());
        assert_eq!(videos_urls(&ids[..50]).len(), 1);
    }

    #[test]
    fn urls_are_the_documented_ones() {
        let u = channel_url(&ChannelTarget::Handle("مدرسة".into()));
        assert_eq!(u.path(), "/youtube/v3/channels");
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["forHandle"], "@مدرسة");
        assert_eq!(q["part"], CHANNEL_PARTS);
        assert!(
            channel_url(&ChannelTarget::Mine)
                .as_str()
                .ends_with("&mine=true")
        );
        let p = playlist_url("UUx", Some("EAAaBlBUOkNESQ+/="));
        let q: HashMap<String, String> = p.query_pairs().into_owned().collect();
        assert_eq!(q["pageToken"], "EAAaBlBUOkNESQ+/=");
        assert_eq!(q["maxResults"], "50");
        assert_eq!(
            caption_download_url("AUieDaZ").as_str(),
            "https://www.googleapis.com/youtube/v3/captions/AUieDaZ?tfmt=vtt"
        );
    }

    #[test]
    fn a_channel_answer_without_items_is_not_found_and_a_strange_one_malformed() {
        let gone = br#"{"kind":"youtube#channelListResponse","etag":"x","pageInfo":{"totalResults":0,"resultsPerPage":5}}"#;
        assert_eq!(parse_channel(gone, URL).unwrap_err().kind(), "not_found");
        let empty = br#"{"kind":"youtube#channelListResponse","items":[]}"#;
        assert_eq!(parse_channel(empty, URL).unwrap_err().kind(), "not_found");
        for bad in [
            &br#"{"items":[]}"#[..],
            br#"{"kind":"youtube#videoListResponse","items":[]}"#,
            br"[]",
            br#"{"kind":"youtube#channelListResponse","items":[{"id":"UCa1B2c3D4e5F6g7H8i9J0_-","snippet":{"title":"x"}}]}"#,
            br#"{"kind":"youtube#channelListResponse","items":[{"id":"../x","snippet":{"title":"x"},"contentDetails":{"relatedPlaylists":{"uploads":"UUx"}}}]}"#,
            br#"{"kind":"youtube#channelListResponse","items":[{"id":"UCa1B2c3D4e5F6g7H8i9J0_-","snippet":{"title":"x"},"statistics":{"videoCount":"lots"},"contentDetails":{"relatedPlaylists":{"uploads":"UUx"}}}]}"#,
        ] {
            let e = parse_channel(bad, URL).unwrap_err();
            assert_eq!(e.kind(), "malformed", "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn placeholders_are_recognised_by_shape() {
        let body = r#"{"kind":"youtube#playlistItemListResponse","nextPageToken":"T2","items":[
          {"snippet":{"title":"Deleted video","thumbnails":{},"resourceId":{"kind":"youtube#video","videoId":"aaaaaaaaaaa"}},"contentDetails":{"videoId":"aaaaaaaaaaa"}},
          {"snippet":{"title":"فيديو خاص","resourceId":{"videoId":"bbbbbbbbbbb"}}},
          {"snippet":{"title":"درس","videoOwnerChannelId":"UCa1B2c3D4e5F6g7H8i9J0_-","thumbnails":{"default":{"url":"https://i.ytimg.com/vi/c/default.jpg"}}},"contentDetails":{"videoId":"ccccccccccc"}}
        ]}"#;
        let (entries, next) = parse_playlist_page(body.as_bytes(), URL).unwrap();
        assert_eq!(next.as_deref(), Some("T2"));
        assert_eq!(entries[0].placeholder.as_deref(), Some("Deleted video"));
        assert_eq!(entries[1].video_id, "bbbbbbbbbbb");
        assert_eq!(entries[1].placeholder.as_deref(), Some("فيديو خاص"));
        assert_eq!(entries[2].placeholder, None);
        let no_id =
            br#"{"kind":"youtube#playlistItemListResponse","items":[{"snippet":{"title":"x"}}]}"#;
        assert_eq!(
            parse_playlist_page(no_id, URL).unwrap_err().kind(),
            "malformed"
        );
    }

    #[test]
    fn video_items_keep_the_delivered_texts() {
        let body = r#"{"kind":"youtube#videoListResponse","items":[
          {"id":"aaaaaaaaaaa","snippet":{"publishedAt":"2024-09-01T05:30:12.123456Z","title":"حفل التخرج 🎓","description":"وصف\nالسطر الثاني","defaultAudioLanguage":"ar"},
           "contentDetails":{"duration":"PT12M48S"},"statistics":{"viewCount":"1500","likeCount":"20","commentCount":"3"}},
          {"id":"bbbbbbbbbbb","snippet":{"publishedAt":"2024-09-02T00:00:00Z","title":"بدون وصف","defaultLanguage":"ar-SA","defaultAudioLanguage":"ar"},
           "contentDetails":{"duration":"P1M"}}
        ]}"#;
        let videos = parse_videos(body.as_bytes(), URL).unwrap();
        let a = video_item(&videos[0], "p", URL).unwrap();
        assert_eq!(a.text, "حفل التخرج 🎓\n\nوصف\nالسطر الثاني");
        assert_eq!(a.lang.as_deref(), Some("ar"));
        assert_eq!(a.metrics["duration_seconds"], 768);
        assert_eq!(a.metrics["views"], 1500);
        assert_eq!(a.created_at.unix_timestamp(), 1_725_168_612);
        let b = video_item(&videos[1], "p", URL).unwrap();
        assert_eq!(b.text, "بدون وصف");
        assert_eq!(b.lang.as_deref(), Some("ar-SA"));
        assert!(b.metrics.is_empty(), "unreadable duration left out");
        let no_time =
            br#"{"kind":"youtube#videoListResponse","items":[{"id":"a","snippet":{"title":"x"}}]}"#;
        let v = parse_videos(no_time, URL).unwrap();
        assert_eq!(video_item(&v[0], "p", URL).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn only_the_channels_own_comments_become_items() {
        let body = r#"{"kind":"youtube#commentListResponse","items":[
          {"id":"Ugx1.r1","snippet":{"authorChannelId":{"value":"UCother0000000000000000a"},"textDisplay":"شكراً","parentId":"Ugx1","likeCount":2,"publishedAt":"2024-09-03T10:00:00Z"}},
          {"id":"Ugx1.r2","snippet":{"authorChannelId":{"value":"UCa1B2c3D4e5F6g7H8i9J0_-"},"textDisplay":"عفواً","textOriginal":"عفواً 🌷","parentId":"Ugx1","likeCount":5,"publishedAt":"2024-09-03T11:00:00Z"}}
        ]}"#;
        let (comments, next) = parse_comments(body.as_bytes(), URL).unwrap();
        assert!(next.is_none());
        let own = "UCa1B2c3D4e5F6g7H8i9J0_-";
        assert!(
            owner_comment_item(&comments[0], own, "vvvvvvvvvvv", "p", URL)
                .unwrap()
                .is_none()
        );
        let it = owner_comment_item(&comments[1], own, "vvvvvvvvvvv", "p", URL)
            .unwrap()
            .unwrap();
        assert_eq!(it.kind, ItemKind::Reply);
        assert_eq!(it.text, "عفواً 🌷");
        assert_eq!(it.references, ["vvvvvvvvvvv", "Ugx1"]);
        assert_eq!(it.metrics["likes"], 5);
        assert_eq!(
            it.url.as_deref(),
            Some("https://www.youtube.com/watch?v=vvvvvvvvvvv&lc=Ugx1.r2")
        );
    }
}
