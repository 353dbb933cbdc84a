//! Snapchat public profile route: `https://www.snapchat.com/add/<username>`, read without a
//! token (reference §5.1, §5.2, §5.4).
//!
//! Flow: call [`Sink::begin`] with the username, GET the profile page (stored byte-exact as
//! `.html`), extract the `<script id="__NEXT_DATA__">` JSON ([`next_data`]), read
//! `props.pageProps` ([`parse_page`]), emit the profile with its pictures, then one item per
//! snap of the current story, the saved stories and Spotlight ([`plan_items`]), downloading
//! every snap's media in the same run (the CDN links are signed and expire).
//!
//! Parsing is plain functions over bytes ([`next_data`], [`parse_page`], [`plan_items`]);
//! [`SnapchatWeb::capture`] only moves bytes.
//!
//! Decisions an integrator should know:
//! - The account id is the username, lower-cased (Snapchat usernames are case-insensitive and
//!   the page is the same for any casing). [`Sink::begin`] is called before the page is
//!   requested, so an account-state answer (no such user, a private account) is published with
//!   the page that says so, whatever fallback the runner was given.
//! - User agent: the request carries the transport's configured user agent
//!   ([`FetchConfig::user_agent`](crate::FetchConfig), `[fetch] user_agent` in the config file);
//!   nothing is hard-coded here. Snapchat is reported to serve reduced pages to clients that
//!   do not look like a desktop browser, so when the configured agent does not start with
//!   `Mozilla/` a warning is logged and the "no user named" and "no `__NEXT_DATA__`" errors say
//!   which setting to change.
//! - Account states (all [`FetchError::Unavailable`], the page kept as evidence): HTTP 404, or
//!   no `userProfile` with Snapchat's not-found marker in the page data → not found;
//!   `userProfile.$case == "userInfo"` (a person without a public profile: only a display name
//!   and a Snapcode are shown) → the profile record with that display name, then protected.
//!   A page with no `userProfile` and no marker (the reduced page non-browser agents get)
//!   proves nothing: [`FetchError::Malformed`], naming the user-agent setting. Any other
//!   `$case` → [`FetchError::Malformed`].
//! - Fail loudly: a page without `__NEXT_DATA__` (a changed page, or a block/captcha page:
//!   the error quotes the page's `<title>`), JSON that does not parse, or a missing or
//!   mistyped field is [`FetchError::Malformed`] whose detail starts with
//!   "Snapchat page format changed" and names the path (e.g.
//!   `pageProps.curatedHighlights[1].snapList[0].snapId.value`). Never an empty capture.
//! - Empty versus changed: `pageProps.story` may be absent (no story now, as documented), but
//!   `curatedHighlights` and `spotlightHighlights` must be arrays unless the profile's own
//!   `hasCuratedHighlights` / `hasSpotlightHighlights` says `false`; and a section whose
//!   `has…` flag is `true` must hold snaps. A profile whose flags all say "nothing" and whose
//!   sections are empty is a legitimate empty capture, and its statement says nothing else is
//!   public.
//! - Items: one per snap, id = `snapId.value`. Current story snaps are `Story`; saved stories
//!   (`curatedHighlights`, permanent on the profile) are `Post`; Spotlight snaps are `Reel`.
//!   `Item::text` is the saved story's or Spotlight's `storyTitle.value` exactly as delivered
//!   (empty for the current story): Snapchat burns captions into the media. A snap listed in
//!   several sections (a story snap also saved to a saved story) is one item: the first
//!   listing (story, then saved stories, then Spotlight, in page order) fixes its kind and
//!   position, its text is the first non-empty title, and its media are downloaded once.
//!   `created_at` is `timestampInSec.value` (string seconds); `url` is the profile page, the
//!   only public address the page gives for a snap.
//! - Media: each snap's `snapUrls.mediaUrl` is downloaded (`chosen`; `offered` lists it and the
//!   preview). For a video (`snapMediaType` other than 0: 1 is video) the preview image
//!   (`mediaPreviewUrl.value`) is downloaded too, as a second [`MediaRef`], so the archive
//!   shows a still without playing the video; an image's preview is a smaller copy and is
//!   not fetched. The profile's `profilePictureUrl`, `squareHeroImageUrl` and
//!   `snapcodeImageUrl` are profile media. Every URL is requested once per capture; a file
//!   that fails alone (an expired link's 403, a 404) is a gap ([`download_or_gap`]).
//! - Not mapped to items (kept in the stored page): `spotlightStoryMetadata` (view counts,
//!   descriptions: the page gives no documented key joining it to `spotlightHighlights`),
//!   highlight thumbnails, lenses, related accounts.
//! - A non-empty `curatedHighlightsCursor` or `spotlightHighlightsCursor` means the page may
//!   list only the first saved stories or Spotlight snaps: a `PlatformCap` gap says so (the
//!   page route cannot follow the cursor).
//! - `captured` counts items by the section that first lists them (`stories`,
//!   `saved_stories`, `spotlight`: a snap listed twice counts once) and the media files stored.
//! - The report counts the subscribers Snapchat shows (`subscriberCount`, a string; `0` when
//!   hidden) and says that stories expire after 24 hours and cannot be recovered later, and
//!   that Memories are only in the owner's "My Data" export (`tawthiq import snapchat`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use model::{AccountId, ContentId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile};
use model::{Rendition, Route, Unavailability};
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use crate::error::{FetchError, Result};
use crate::media::{Missing, download_or_gap};
use crate::source::{Identity, Report, Sink, Source, count};
use crate::transport::{Request, Transport};

/// Where a profile page lives; `www.snapchat.com` is rewritable through the `HostMap`.
pub const PAGE_BASE: &str = "https://www.snapchat.com/add/";

/// What every "changed format" error starts with: scripts and people search for it.
pub const FORMAT_CHANGED: &str = "Snapchat page format changed";

const MY_DATA_HINT: &str = "tawthiq import snapchat";

/// The Snapchat account whose public profile page is captured: a validated, lower-cased
/// username. Displays as the bare username (which is also the account id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapTarget(String);

impl SnapTarget {
    pub fn username(&self) -> &str {
        &self.0
    }

    /// `https://www.snapchat.com/add/<username>`.
    pub fn page_url(&self) -> Url {
        Url::parse(&format!("{PAGE_BASE}{}", self.0)).expect("a validated username makes a URL")
    }

    /// The bundle's account id: the username.
    pub fn account_id(&self) -> AccountId {
        AccountId::new(&self.0).expect("a validated username is a valid account id")
    }
}

impl FromStr for SnapTarget {
    type Err = FetchError;

    /// `username`, `@username`, or a profile URL: `snapchat.com/add/<u>`,
    /// `https://www.snapchat.com/add/<u>`, `https://www.snapchat.com/@<u>`,
    /// `https://story.snapchat.com/@<u>` (query and fragment ignored).
    ///
    /// Snapchat usernames are 3 to 15 characters, begin with a letter, and hold letters,
    /// digits and `.`, `_`, `-`; they are case-insensitive, so the name is lower-cased.
    fn from_str(s: &str) -> Result<SnapTarget> {
        let s = s.trim();
        let name = if s.contains('/') {
            username_from_url(s).ok_or_else(|| {
                FetchError::Config(format!(
                    "Snapchat account {s:?}: expected a username, @username, or a profile URL \
                     such as https://www.snapchat.com/add/<username>"
                ))
            })?
        } else {
            s.strip_prefix('@').unwrap_or(s).to_owned()
        };
        let valid = (3..=15).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if valid {
            Ok(SnapTarget(name.to_ascii_lowercase()))
        } else {
            Err(FetchError::Config(format!(
                "Snapchat username {name:?}: expected 3 to 15 characters, beginning with a \
                 letter, of letters, digits, '.', '_' or '-'"
            )))
        }
    }
}

impl fmt::Display for SnapTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The username in a profile URL, if it is one of Snapchat's profile addresses.
fn username_from_url(s: &str) -> Option<String> {
    let with_scheme = if s.contains("://") {
        s.to_owned()
    } else {
        format!("https://{s}")
    };
    let url = Url::parse(&with_scheme).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?;
    if !matches!(
        host,
        "snapchat.com" | "www.snapchat.com" | "story.snapchat.com"
    ) {
        return None;
    }
    let segments: Vec<&str> = url.path_segments()?.filter(|p| !p.is_empty()).collect();
    match segments.as_slice() {
        ["add", name] => Some((*name).to_owned()),
        [at] => at.strip_prefix('@').map(str::to_owned),
        _ => None,
    }
}

/// The Snapchat public profile page source for one account.
pub struct SnapchatWeb<'t> {
    transport: &'t Transport,
    target: SnapTarget,
}

impl<'t> SnapchatWeb<'t> {
    pub fn new(transport: &'t Transport, target: SnapTarget) -> SnapchatWeb<'t> {
        SnapchatWeb { transport, target }
    }
}

#[async_trait::async_trait]
impl Source for SnapchatWeb<'_> {
    fn platform(&self) -> Platform {
        Platform::Snapchat
    }

    fn route(&self) -> Route {
        Route::Web
    }

    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let mut run = Run {
            transport: self.transport,
            sink,
            media: HashMap::new(),
            stored_media: HashSet::new(),
            gaps: 0,
        };
        run.capture(&self.target).await
    }
}

// ---------------------------------------------------------------------------------------------
// Pure parsing.

/// The JSON text of `<script id="__NEXT_DATA__" …>…</script>`, whatever the attribute order,
/// quoting or case of the tag. `None` when the page has no such script.
pub fn next_data(html: &str) -> Option<&str> {
    // ASCII lower-casing keeps every byte offset, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<script") {
        let name_end = from + found + "<script".len();
        let next = lower.as_bytes().get(name_end).copied()?;
        if !(next.is_ascii_whitespace() || next == b'>' || next == b'/') {
            from = name_end; // `<scripts…`, not a script tag
            continue;
        }
        let tag_end = tag_end(html, name_end)?;
        let body_start = tag_end + 1;
        let body_end = body_start + lower[body_start..].find("</script")?;
        if attributes(&html[name_end..tag_end])
            .any(|(k, v)| k.eq_ignore_ascii_case("id") && v == "__NEXT_DATA__")
        {
            return Some(html[body_start..body_end].trim());
        }
        from = body_end;
    }
    None
}

/// The index of the `>` closing a start tag whose attributes begin at `from` (quotes honoured).
fn tag_end(html: &str, from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, b) in html.bytes().enumerate().skip(from) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `name="value"`, `name='value'`, `name=value` and bare `name` pairs of a start tag.
fn attributes(mut s: &str) -> impl Iterator<Item = (&str, &str)> {
    std::iter::from_fn(move || {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if s.is_empty() {
            return None;
        }
        let name_len = s
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(s.len());
        let name = &s[..name_len];
        s = s[name_len..].trim_start();
        let Some(rest) = s.strip_prefix('=') else {
            return Some((name, ""));
        };
        let rest = rest.trim_start();
        let value;
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let inner = &rest[1..];
            let end = inner.find(q).unwrap_or(inner.len());
            value = &inner[..end];
            s = inner.get(end + 1..).unwrap_or("");
        } else {
            let end = rest
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            value = &rest[..end];
            s = &rest[end..];
        }
        Some((name, value))
    })
}

/// The page's `<title>`, on one line and short, to say what a page without data was.
fn page_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title: String = html[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(80)
        .collect();
    (!title.is_empty()).then_some(title)
}

/// Who the page is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// `publicProfileInfo`: a public profile.
    Public(PublicProfile),
    /// `userInfo`: a person without a public profile (display name and Snapcode only).
    Private {
        username: Option<String>,
        display_name: Option<String>,
    },
    /// No `userProfile`, and the page data carries Snapchat's not-found marker (`NOT_FOUND`,
    /// `notFound: true` or `statusCode: 404`): Snapchat knows no such user.
    NotFound,
    /// No `userProfile` and no not-found marker: a reduced page (Snapchat serves these to
    /// non-browser user agents) or a changed format. It proves nothing about the account.
    Unnamed,
}

/// The fields of `publicProfileInfo` that are read (everything stays in the stored page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicProfile {
    pub username: String,
    /// `title`: the display name.
    pub title: Option<String>,
    pub bio: Option<String>,
    /// `subscriberCount`, delivered as a string.
    pub subscribers: Option<u64>,
    pub picture_url: Option<String>,
    pub hero_url: Option<String>,
    pub snapcode_url: Option<String>,
}

/// Where on the profile a snap is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// `story`: the current story (the last 24 hours).
    Story,
    /// `curatedHighlights`: saved stories, permanent on the profile.
    SavedStory,
    /// `spotlightHighlights`: Spotlight.
    Spotlight,
}

impl Section {
    fn kind(self) -> ItemKind {
        match self {
            Section::Story => ItemKind::Story,
            Section::SavedStory => ItemKind::Post,
            Section::Spotlight => ItemKind::Reel,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Section::Story => "story",
            Section::SavedStory => "curatedHighlights",
            Section::Spotlight => "spotlightHighlights",
        }
    }
}

/// One snap as listed (`snapList[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snap {
    pub id: String,
    /// `snapMediaType`: 0 image, 1 video.
    pub media_type: i64,
    pub media_url: String,
    pub preview_url: Option<String>,
    pub taken_at: OffsetDateTime,
}

impl Snap {
    pub fn is_image(&self) -> bool {
        self.media_type == 0
    }
}

/// The current story, one saved story, or one Spotlight entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub section: Section,
    /// `storyTitle.value` as delivered; empty for the current story or when there is none.
    pub title: String,
    pub snaps: Vec<Snap>,
}

/// What the profile page says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePage {
    pub account: Account,
    /// In page order: the story, then saved stories, then Spotlight.
    pub collections: Vec<Collection>,
    /// Sections with a non-empty paging cursor: the page may list only their first entries.
    pub more: Vec<Section>,
}

fn changed(url: &str, detail: impl fmt::Display) -> FetchError {
    FetchError::Malformed {
        platform: Platform::Snapchat,
        url: url.to_owned(),
        detail: format!("{FORMAT_CHANGED}: {detail}"),
    }
}

/// A JSON value and its path from `pageProps`, so errors name what is missing.
struct Node<'v> {
    v: &'v Value,
    path: String,
}

impl<'v> Node<'v> {
    fn root(v: &'v Value, path: &str) -> Node<'v> {
        Node {
            v,
            path: path.to_owned(),
        }
    }

    /// The field, or `None` when absent or `null`.
    fn get(&self, key: &str) -> Option<Node<'v>> {
        self.v.get(key).filter(|v| !v.is_null()).map(|v| Node {
            v,
            path: format!("{}.{key}", self.path),
        })
    }

    fn req(&self, key: &str) -> Result<Node<'v>, String> {
        if !self.v.is_object() {
            return Err(format!("{} is not an object", self.path));
        }
        self.get(key)
            .ok_or_else(|| format!("{}.{key} is missing", self.path))
    }

    fn array(&self) -> Result<Vec<Node<'v>>, String> {
        let items = self
            .v
            .as_array()
            .ok_or_else(|| format!("{} is not an array", self.path))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| Node {
                v,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    fn string(&self) -> Result<&'v str, String> {
        self.v
            .as_str()
            .ok_or_else(|| format!("{} is not a string", self.path))
    }

    /// An optional string field; `""` counts as absent (Snapchat sends empty strings).
    fn opt_string(&self, key: &str) -> Result<Option<&'v str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => n.string().map(|s| Some(s).filter(|s| !s.is_empty())),
        }
    }

    /// An optional absolute http(s) URL field.
    fn opt_url(&self, key: &str) -> Result<Option<&'v str>, String> {
        let Some(s) = self.opt_string(key)? else {
            return Ok(None);
        };
        check_url(s, &format!("{}.{key}", self.path))?;
        Ok(Some(s))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => {
                n.v.as_bool()
                    .map(Some)
                    .ok_or_else(|| format!("{} is not true or false", n.path))
            }
        }
    }
}

impl Node<'_> {
    /// A count delivered as a string of digits (Snapchat's protobuf int64), or as a number.
    fn count(&self) -> Result<u64, String> {
        match self.v {
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse()
                .map_err(|_| format!("{} {s:?} is out of range", self.path)),
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| format!("{} {n} is not a count", self.path)),
            other => Err(format!("{} {other} is not a number", self.path)),
        }
    }
}

fn check_url(s: &str, path: &str) -> Result<(), String> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(()),
        _ => Err(format!("{path} {s:?} is not an absolute http(s) URL")),
    }
}

/// Parses the profile page: `__NEXT_DATA__` → `props.pageProps` → the account and its snaps.
/// Any shape it does not recognise is [`FetchError::Malformed`] starting with
/// [`FORMAT_CHANGED`]; `user_agent_hint` is appended to the "no `__NEXT_DATA__`" error.
pub fn parse_page(body: &[u8], url: &str, user_agent_hint: &str) -> Result<ProfilePage> {
    let html = std::str::from_utf8(body)
        .map_err(|e| changed(url, format!("the page is not UTF-8 ({e})")))?;
    let Some(json) = next_data(html) else {
        let title =
            page_title(html).map_or_else(String::new, |t| format!(" (the page's title is {t:?})"));
        return Err(changed(
            url,
            format!(
                "the page has no <script id=\"__NEXT_DATA__\"> JSON{title}; a block or \
                 captcha page looks like this too; the page is stored{user_agent_hint}"
            ),
        ));
    };
    let data: Value = serde_json::from_str(json)
        .map_err(|e| changed(url, format!("__NEXT_DATA__ is not JSON: {e}")))?;
    page_props(&data).map_err(|detail| changed(url, detail))
}

/// Whether the page data says "no such user" in one of the forms Snapchat's pages use: a
/// `NOT_FOUND` value, Next.js's `notFound: true`, or `statusCode: 404`.
fn has_not_found_marker(v: &Value) -> bool {
    match v {
        Value::String(s) => s == "NOT_FOUND",
        Value::Array(a) => a.iter().any(has_not_found_marker),
        Value::Object(o) => o.iter().any(|(k, v)| {
            (k == "notFound" && v.as_bool() == Some(true))
                || (k == "statusCode" && v.as_u64() == Some(404))
                || has_not_found_marker(v)
        }),
        _ => false,
    }
}

fn page_props(data: &Value) -> Result<ProfilePage, String> {
    let root = Node::root(data, "__NEXT_DATA__");
    let props = root.req("props")?.req("pageProps")?;
    if !props.v.is_object() {
        return Err("props.pageProps is not an object".into());
    }
    let props = Node::root(props.v, "pageProps");
    let Some(user) = props.get("userProfile") else {
        let account = if has_not_found_marker(props.v) {
            Account::NotFound
        } else {
            Account::Unnamed
        };
        return Ok(ProfilePage {
            account,
            collections: Vec::new(),
            more: Vec::new(),
        });
    };
    let case = user.req("$case")?.string()?;
    match case {
        "publicProfileInfo" => public_page(&props, &user.req("publicProfileInfo")?),
        "userInfo" => {
            let info = user.req("userInfo")?;
            Ok(ProfilePage {
                account: Account::Private {
                    username: info.opt_string("username")?.map(str::to_owned),
                    display_name: info.opt_string("displayName")?.map(str::to_owned),
                },
                collections: Vec::new(),
                more: Vec::new(),
            })
        }
        other => Err(format!(
            "pageProps.userProfile.$case is {other:?}, expected \"publicProfileInfo\" or \
             \"userInfo\""
        )),
    }
}

fn public_page(props: &Node<'_>, info: &Node<'_>) -> Result<ProfilePage, String> {
    let username = info.req("username")?.string()?;
    if username.is_empty() {
        return Err(format!("{}.username is empty", info.path));
    }
    let subscribers = match info.get("subscriberCount") {
        None => None,
        Some(n) => Some(n.count()?),
    };
    let profile = PublicProfile {
        username: username.to_owned(),
        title: info.opt_string("title")?.map(str::to_owned),
        bio: info.opt_string("bio")?.map(str::to_owned),
        subscribers,
        picture_url: info.opt_url("profilePictureUrl")?.map(str::to_owned),
        hero_url: info.opt_url("squareHeroImageUrl")?.map(str::to_owned),
        snapcode_url: info.opt_url("snapcodeImageUrl")?.map(str::to_owned),
    };

    let mut collections = Vec::new();
    // The current story: documented as absent when there is none.
    let has_story = info.opt_bool("hasStory")?;
    let story_snaps = match props.get("story") {
        Some(story) => snaps(&story.req("snapList")?)?,
        None => Vec::new(),
    };
    if has_story == Some(true) && story_snaps.is_empty() {
        return Err(format!(
            "{}.hasStory is true but pageProps.story.snapList holds no snaps",
            info.path
        ));
    }
    if !story_snaps.is_empty() {
        collections.push(Collection {
            section: Section::Story,
            title: String::new(),
            snaps: story_snaps,
        });
    }
    // Saved stories and Spotlight: arrays, unless the profile says it has none.
    let mut more = Vec::new();
    for (section, flag, cursor) in [
        (
            Section::SavedStory,
            "hasCuratedHighlights",
            "curatedHighlightsCursor",
        ),
        (
            Section::Spotlight,
            "hasSpotlightHighlights",
            "spotlightHighlightsCursor",
        ),
    ] {
        let has = info.opt_bool(flag)?;
        let listed = match props.get(section.key()) {
            Some(list) => list.array()?,
            None if has == Some(false) => Vec::new(),
            None => {
                return Err(format!(
                    "pageProps.{} is missing (and {}.{flag} is {})",
                    section.key(),
                    info.path,
                    has.map_or("absent", |_| "true")
                ));
            }
        };
        let before = collections.len();
        for entry in &listed {
            let title = match entry.get("storyTitle") {
                None => "",
                Some(t) => t.opt_string("value")?.unwrap_or(""),
            };
            collections.push(Collection {
                section,
                title: title.to_owned(),
                snaps: snaps(&entry.req("snapList")?)?,
            });
        }
        let holds_snaps = collections[before..].iter().any(|c| !c.snaps.is_empty());
        if has == Some(true) && !holds_snaps {
            return Err(format!(
                "{}.{flag} is true but pageProps.{} holds no snaps",
                info.path,
                section.key()
            ));
        }
        if props.opt_string(cursor)?.is_some() {
            more.push(section);
        }
    }
    Ok(ProfilePage {
        account: Account::Public(profile),
        collections,
        more,
    })
}

fn snaps(list: &Node<'_>) -> Result<Vec<Snap>, String> {
    list.array()?.iter().map(snap).collect()
}

fn snap(n: &Node<'_>) -> Result<Snap, String> {
    let id_node = n.req("snapId")?.req("value")?;
    let id = id_node.string()?;
    if id.is_empty() {
        return Err(format!("{} is empty", id_node.path));
    }
    let kind = n.req("snapMediaType")?;
    let media_type = kind
        .v
        .as_i64()
        .ok_or_else(|| format!("{} is {}, not an integer", kind.path, kind.v))?;
    let urls = n.req("snapUrls")?;
    let media = urls.req("mediaUrl")?;
    let media_url = media.string()?;
    check_url(media_url, &media.path)?;
    let preview_url = match urls.get("mediaPreviewUrl") {
        None => None,
        Some(p) => p.opt_url("value")?,
    };
    let ts = n.req("timestampInSec")?.req("value")?;
    let secs = ts.count()?;
    let taken_at = i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| format!("{} {secs} is not a time", ts.path))?;
    Ok(Snap {
        id: id.to_owned(),
        media_type,
        media_url: media_url.to_owned(),
        preview_url: preview_url.map(str::to_owned),
        taken_at,
    })
}

/// One item to emit and the snap whose media it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub item: Item,
    pub section: Section,
    pub snap: Snap,
}

/// The items of a page, one per snap id, in page order (see the module doc for how a snap
/// listed twice is merged). `item.media` is left empty: media are added as they download.
pub fn plan_items(page: &ProfilePage, page_url: &str, source_path: &str) -> Vec<Planned> {
    let mut planned: Vec<Planned> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for c in &page.collections {
        for snap in &c.snaps {
            if let Some(&i) = index.get(snap.id.as_str()) {
                if planned[i].item.text.is_empty() {
                    planned[i].item.text.clone_from(&c.title);
                }
                continue;
            }
            index.insert(&snap.id, planned.len());
            planned.push(Planned {
                item: Item {
                    id: snap.id.clone(),
                    platform: Platform::Snapchat,
                    kind: c.section.kind(),
                    created_at: snap.taken_at,
                    text: c.title.clone(),
                    lang: None,
                    pinned: false,
                    metrics: BTreeMap::new(),
                    media: Vec::new(),
                    url: Some(page_url.to_owned()),
                    references: Vec::new(),
                    route: Route::Web,
                    source_path: Some(source_path.to_owned()),
                },
                section: c.section,
                snap: snap.clone(),
            });
        }
    }
    planned
}

/// A rendition known only by its URL: the page gives no type or size for snaps.
fn rendition(url: &str) -> Rendition {
    Rendition {
        url: url.to_owned(),
        content_type: None,
        width: None,
        height: None,
        bitrate: None,
    }
}

/// Whether the user agent looks like a browser's; Snapchat is reported to serve reduced pages
/// to others.
fn browser_like(user_agent: &str) -> bool {
    user_agent.starts_with("Mozilla/")
}

// ---------------------------------------------------------------------------------------------
// The capture.

struct Run<'r> {
    transport: &'r Transport,
    sink: &'r mut dyn Sink,
    /// Outcome per URL: each file is requested once per capture.
    media: HashMap<String, Option<ContentId>>,
    stored_media: HashSet<ContentId>,
    gaps: u64,
}

impl Run<'_> {
    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps += 1;
        self.sink.gap(gap).await
    }

    #[allow(clippy::too_many_lines)]
    async fn capture(&mut self, target: &SnapTarget) -> Result<Report> {
        let username = target.username();
        // The page is asked for by username and is that username's page: the name is the
        // identity (an account-state answer is published with the page that says so).
        let who = Identity::new(None, Some(target.username()));
        self.sink.identify(&who).await?;
        self.sink.begin(&target.account_id()).await?;
        let ua_hint = if browser_like(&self.transport.config().user_agent) {
            String::new()
        } else {
            // Once per process: a batch of thousands of accounts needs the advice once.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "Snapchat may serve reduced pages to non-browser user agents; set [fetch] \
                     user_agent to a desktop browser's"
                );
            });
            format!(
                " (the user agent {:?} is not a browser's; Snapchat may serve it a reduced \
                 page: set [fetch] user_agent to a desktop browser's and run again)",
                self.transport.config().user_agent
            )
        };

        let req = Request::new(Platform::Snapchat, "profile", target.page_url()).web_page();
        let doc = match self.transport.document(self.sink, &req).await {
            Ok(doc) => doc,
            Err(FetchError::NotFound { detail }) => {
                return Err(FetchError::Unavailable {
                    state: Unavailability::NotFound,
                    detail: format!("Snapchat has no public page for @{username} ({detail})"),
                });
            }
            Err(e) => return Err(e),
        };
        let page = parse_page(&doc.body, &doc.url, &ua_hint)?;
        let page_url = doc.url.clone();
        let info = match &page.account {
            Account::Public(info) => info,
            Account::NotFound => {
                return Err(FetchError::Unavailable {
                    state: Unavailability::NotFound,
                    detail: format!(
                        "Snapchat knows no user @{username}: the page at {page_url} has no \
                         userProfile and carries Snapchat's not-found marker"
                    ),
                });
            }
            Account::Unnamed => {
                // A reduced page proves nothing about the account: a failure, not "gone".
                return Err(FetchError::Malformed {
                    platform: Platform::Snapchat,
                    url: page_url,
                    detail: format!(
                        "the page names no user (no userProfile and no not-found marker), so \
                         it says nothing about whether @{username} exists; Snapchat serves such \
                         reduced pages to non-browser user agents: set [fetch] user_agent to a \
                         desktop browser's and run again{}",
                        if ua_hint.is_empty() {
                            String::new()
                        } else {
                            format!(" (now {:?})", self.transport.config().user_agent)
                        }
                    ),
                });
            }
            Account::Private {
                username: shown,
                display_name,
            } => {
                self.sink
                    .profile(Profile {
                        platform: Platform::Snapchat,
                        id: username.to_owned(),
                        username: Some(shown.clone().unwrap_or_else(|| username.to_owned())),
                        display_name: display_name.clone(),
                        description: None,
                        url: Some(page_url.clone()),
                        counts: BTreeMap::new(),
                        media: Vec::new(),
                        route: Route::Web,
                    })
                    .await?;
                return Err(FetchError::Unavailable {
                    state: Unavailability::Protected,
                    detail: format!(
                        "@{username} has no public Snapchat profile (the page shows only a \
                         display name and a Snapcode), so nothing is public to archive; the \
                         owner's \"My Data\" export can be imported with `{MY_DATA_HINT}`"
                    ),
                });
            }
        };
        if !info.username.eq_ignore_ascii_case(username) {
            return Err(FetchError::Malformed {
                platform: Platform::Snapchat,
                url: page_url,
                detail: format!(
                    "the page for @{username} describes @{} instead",
                    info.username
                ),
            });
        }

        let mut profile = Profile {
            platform: Platform::Snapchat,
            id: username.to_owned(),
            username: Some(info.username.clone()),
            display_name: info.title.clone(),
            description: info.bio.clone(),
            url: Some(page_url.clone()),
            counts: info
                .subscribers
                .map(|n| BTreeMap::from([("subscribers".to_owned(), n)]))
                .unwrap_or_default(),
            media: Vec::new(),
            route: Route::Web,
        };
        for (url, what) in [
            (&info.picture_url, "the profile picture"),
            (&info.hero_url, "the profile's hero image"),
            (&info.snapcode_url, "the Snapcode"),
        ] {
            if let Some(url) = url {
                profile
                    .media
                    .push(self.media_ref(url, what, None, &[]).await?);
            }
        }
        self.sink.profile(profile).await?;

        let planned = plan_items(&page, &page_url, &doc.stored.path);
        let mut captured: BTreeMap<Section, u64> = BTreeMap::new();
        for Planned {
            mut item,
            section,
            snap,
        } in planned
        {
            let offered: Vec<Rendition> = std::iter::once(&snap.media_url)
                .chain(&snap.preview_url)
                .map(|u| rendition(u))
                .collect();
            let what = format!("the media of snap {}", snap.id);
            let r = self
                .media_ref(&snap.media_url, &what, Some(&snap.id), &offered)
                .await?;
            item.media.push(r);
            if let (false, Some(p)) = (snap.is_image(), &snap.preview_url) {
                let what = format!("the preview image of snap {}", snap.id);
                let r = self.media_ref(p, &what, Some(&snap.id), &[]).await?;
                item.media.push(r);
            }
            *captured.entry(section).or_default() += 1;
            self.sink.item(item).await?;
        }

        for section in &page.more {
            let listed = page
                .collections
                .iter()
                .filter(|c| c.section == *section)
                .count() as u64;
            let (one, many) = match section {
                Section::SavedStory => ("saved story", "saved stories"),
                _ => ("Spotlight entry", "Spotlight entries"),
            };
            self.gap(Gap {
                reason: GapReason::PlatformCap,
                detail: format!(
                    "the profile page lists {} and a cursor to more; the public page route \
                     cannot follow it, so any further {many} were not captured",
                    count(listed, one, many)
                ),
                item_id: None,
                url: Some(page_url.clone()),
            })
            .await?;
        }

        Ok(self.report(info, &page, &captured))
    }

    fn report(
        &self,
        info: &PublicProfile,
        page: &ProfilePage,
        captured: &BTreeMap<Section, u64>,
    ) -> Report {
        let n = |s: Section| captured.get(&s).copied().unwrap_or(0);
        let (story, saved, spotlight) = (
            n(Section::Story),
            n(Section::SavedStory),
            n(Section::Spotlight),
        );
        let saved_groups = page
            .collections
            .iter()
            .filter(|c| c.section == Section::SavedStory)
            .count() as u64;
        let media = self.stored_media.len() as u64;
        let what = if story + saved + spotlight == 0 {
            format!(
                "the public profile of @{} shows no current story, no saved stories and no \
                 Spotlight: nothing beyond the profile itself is public; {} captured",
                info.username,
                count(media, "profile image", "profile images")
            )
        } else {
            format!(
                "{} in the current story, {} in {}, {} in Spotlight, and {}",
                count(story, "snap", "snaps"),
                count(saved, "snap", "snaps"),
                count(saved_groups, "saved story", "saved stories"),
                count(spotlight, "snap", "snaps"),
                count(media, "media file", "media files"),
            )
        };
        let head = if self.gaps == 0 {
            format!("complete: {what}")
        } else {
            format!(
                "incomplete: {what}; {} listed",
                count(self.gaps, "gap", "gaps")
            )
        };
        let statement = format!(
            "{head}. Stories disappear after 24 hours: earlier ones cannot be recovered from the \
             public page; Memories are only in the owner's \"My Data\" export \
             (`{MY_DATA_HINT}`)"
        );
        Report {
            platform_reported: info
                .subscribers
                .map(|n| BTreeMap::from([("subscribers".to_owned(), n)]))
                .unwrap_or_default(),
            captured: BTreeMap::from([
                ("stories".to_owned(), story),
                ("saved_stories".to_owned(), saved),
                ("spotlight".to_owned(), spotlight),
                ("media".to_owned(), media),
            ]),
            statement,
        }
    }

    /// The media reference for `url`, downloading it unless this capture already did; a
    /// failure of this file alone is a gap ([`download_or_gap`]).
    async fn media_ref(
        &mut self,
        url: &str,
        what: &str,
        item_id: Option<&str>,
        offered: &[Rendition],
    ) -> Result<MediaRef> {
        let sha = if let Some(outcome) = self.media.get(url) {
            *outcome
        } else {
            let parsed = Url::parse(url).map_err(|e| FetchError::Malformed {
                platform: Platform::Snapchat,
                url: url.to_owned(),
                detail: format!("{FORMAT_CHANGED}: media URL: {e}"),
            })?;
            let req = Request::new(Platform::Snapchat, "media", parsed);
            let missing = Missing { what, item_id, url };
            let stored = download_or_gap(self.transport, self.sink, &req, None, missing).await?;
            let outcome = stored.map(|s| s.sha256);
            if let Some(sha) = outcome {
                self.stored_media.insert(sha);
            } else {
                self.gaps += 1;
            }
            self.media.insert(url.to_owned(), outcome);
            outcome
        };
        Ok(MediaRef {
            sha256: sha,
            original_url: url.to_owned(),
            chosen: Some(rendition(url)),
            offered: offered.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://www.snapchat.com/add/madrasat.alnoor";

    fn page(props: &Value) -> String {
        format!(
            "<!DOCTYPE html><html><head><title>مدرسة النور</title></head><body>\
             <script id=\"__NEXT_DATA__\" type=\"application/json\">{}</script></body></html>",
            serde_json::json!({"props": {"pageProps": props}, "page": "/add/[username]"})
        )
    }

    fn snap_json(id: &str, kind: &Value, ts: &Value) -> Value {
        serde_json::json!({
            "snapIndex": 0,
            "snapId": {"value": id},
            "snapMediaType": kind,
            "snapUrls": {
                "mediaUrl": format!("https://cf-st.sc-cdn.net/d/{id}?mo=x"),
                "mediaPreviewUrl": {"value": format!("https://cf-st.sc-cdn.net/d/{id}-p?mo=x")}
            },
            "timestampInSec": {"value": ts}
        })
    }

    fn public(extra: &Value) -> Value {
        let mut props = serde_json::json!({
            "userProfile": {"$case": "publicProfileInfo", "publicProfileInfo": {
                "username": "madrasat.alnoor", "title": "مدرسة النور", "bio": "نبني المستقبل",
                "subscriberCount": "1250", "hasStory": false,
                "hasCuratedHighlights": false, "hasSpotlightHighlights": false,
                "profilePictureUrl": "", "snapcodeImageUrl":
                "https://app.snapchat.com/web/deeplink/snapcode?username=madrasat.alnoor&type=SVG"
            }},
            "curatedHighlights": [], "spotlightHighlights": []
        });
        for (k, v) in extra.as_object().unwrap() {
            props[k] = v.clone();
        }
        props
    }

    fn parse(props: &Value) -> Result<ProfilePage> {
        parse_page(page(props).as_bytes(), URL, "")
    }

    fn changed_detail(props: &Value) -> String {
        match parse(props) {
            Err(FetchError::Malformed { detail, .. }) => {
                assert!(detail.starts_with(FORMAT_CHANGED), "{detail}");
                detail
            }
            other => panic!("expected a changed format, got {other:?}"),
        }
    }

    #[test]
    fn targets_parse_from_names_and_urls() {
        let name = |s: &str| s.parse::<SnapTarget>().map(|t| t.username().to_owned());
        for ok in [
            "madrasat.alnoor",
            "@madrasat.alnoor",
            " Madrasat.AlNoor ",
            "https://www.snapchat.com/add/madrasat.alnoor",
            "https://www.snapchat.com/add/Madrasat.Alnoor/?share_id=abc&locale=ar-SA",
            "snapchat.com/add/madrasat.alnoor",
            "https://www.snapchat.com/@madrasat.alnoor",
            "https://story.snapchat.com/@madrasat.alnoor#x",
        ] {
            assert_eq!(name(ok).unwrap(), "madrasat.alnoor", "{ok}");
        }
        assert_eq!(name("a_b-c").unwrap(), "a_b-c");
        for bad in [
            "",
            "@",
            "ab",
            "abcdefghijklmnop",
            "1school",
            "_school",
            "a b c",
            "مدرسة",
            "../etc",
            "https://evil.example/add/school",
            "https://www.snapchat.com/spotlight/school",
            "https://www.snapchat.com/add/school/extra",
            "ftp://www.snapchat.com/add/school",
        ] {
            assert!(bad.parse::<SnapTarget>().is_err(), "{bad:?}");
        }
        let t: SnapTarget = "@School.Name".parse().unwrap();
        assert_eq!(t.to_string(), "school.name");
        assert_eq!(
            t.page_url().as_str(),
            "https://www.snapchat.com/add/school.name"
        );
        assert_eq!(t.account_id().as_str(), "school.name");
    }

    #[test]
    fn next_data_is_found_whatever_the_attributes() {
        let json = r#"{"props":{"pageProps":{}}}"#;
        for html in [
            format!(r#"<script id="__NEXT_DATA__" type="application/json">{json}</script>"#),
            format!(r"<SCRIPT type='application/json'   ID='__NEXT_DATA__' >{json}</Script>"),
            format!(
                "<script\n  type=\"application/json\"\n  id=__NEXT_DATA__\n  crossorigin>\n{json}\n</script>"
            ),
            format!(
                r#"<script src="/_next/a.js" data-x="a>b"></script><scripts></scripts>
                <script id="other">{{"x":1}}</script>
                <script data-note="id=__NEXT_DATA__" id="__NEXT_DATA__">{json}</script>"#
            ),
        ] {
            assert_eq!(next_data(&html), Some(json), "{html}");
        }
        assert_eq!(
            next_data(r#"<script id="__NEXT_DATA__x">{}</script>"#),
            None
        );
        assert_eq!(
            next_data("<html><body>Please verify you are human</body></html>"),
            None
        );
        assert_eq!(next_data(r#"<script id="__NEXT_DATA__">{"#), None);
    }

    #[test]
    fn titles_are_read_for_error_messages() {
        assert_eq!(
            page_title("<html><head><TITLE>\n Access   Denied </title>").as_deref(),
            Some("Access Denied")
        );
        assert_eq!(page_title("<html></html>"), None);
    }

    #[test]
    fn a_public_page_gives_profile_and_collections() {
        let props = public(&serde_json::json!({
            "story": {"storyId": {"value": "s"}, "snapList": [
                snap_json("S1", &serde_json::json!(0), &serde_json::json!("1746300000")),
                snap_json("S2", &serde_json::json!(1), &serde_json::json!("1746300060")),
            ]},
            "curatedHighlights": [
                {"storyTitle": {"value": "اليوم الوطني"}, "snapList": [
                    snap_json("S2", &serde_json::json!(1), &serde_json::json!("1746300060")),
                    snap_json("H1", &serde_json::json!(0), &serde_json::json!(1_746_000_000)),
                ]},
                {"snapList": [snap_json("H2", &serde_json::json!(0), &serde_json::json!("1745000000"))]}
            ],
            "spotlightHighlights": [
                {"storyTitle": {"value": ""}, "snapList": [
                    snap_json("P1", &serde_json::json!(1), &serde_json::json!("1744000000"))]}
            ],
            "curatedHighlightsCursor": "", "spotlightHighlightsCursor": "CAE="
        }));
        let mut props = props;
        let info = &mut props["userProfile"]["publicProfileInfo"];
        info["hasStory"] = true.into();
        info["hasCuratedHighlights"] = true.into();
        info["hasSpotlightHighlights"] = true.into();
        let p = parse(&props).unwrap();
        let Account::Public(info) = &p.account else {
            panic!("public")
        };
        assert_eq!(info.title.as_deref(), Some("مدرسة النور"));
        assert_eq!(info.subscribers, Some(1250));
        assert_eq!(info.picture_url, None, "an empty URL is no URL");
        assert!(info.snapcode_url.is_some());
        assert_eq!(p.collections.len(), 4);
        assert_eq!(p.collections[1].title, "اليوم الوطني");
        assert_eq!(p.collections[2].title, "");
        assert_eq!(p.more, [Section::Spotlight]);
        assert_eq!(
            p.collections[1].snaps[1].taken_at.unix_timestamp(),
            1_746_000_000
        );

        let items = plan_items(&p, URL, "data/original/api/000001-profile.html");
        let ids: Vec<_> = items.iter().map(|p| p.item.id.as_str()).collect();
        assert_eq!(ids, ["S1", "S2", "H1", "H2", "P1"]);
        let kinds: Vec<_> = items.iter().map(|p| p.item.kind).collect();
        assert_eq!(
            kinds,
            [
                ItemKind::Story,
                ItemKind::Story,
                ItemKind::Post,
                ItemKind::Post,
                ItemKind::Reel
            ]
        );
        assert_eq!(items[0].item.text, "");
        assert_eq!(
            items[1].item.text, "اليوم الوطني",
            "a story snap also saved takes the saved story's title"
        );
        assert_eq!(items[2].item.text, "اليوم الوطني");
        assert_eq!(
            items[1].snap.media_url,
            "https://cf-st.sc-cdn.net/d/S2?mo=x"
        );
        assert!(!items[1].snap.is_image());
    }

    #[test]
    fn account_states() {
        let reduced = serde_json::json!({"pageLinks": {}, "viewerInfo": {"country": "sa"}});
        assert_eq!(parse(&reduced).unwrap().account, Account::Unnamed);
        let missing = serde_json::json!({"pageLinks": {}, "pageType": "NOT_FOUND"});
        assert_eq!(parse(&missing).unwrap().account, Account::NotFound);
        let next_404 = serde_json::json!({"statusCode": 404});
        assert_eq!(parse(&next_404).unwrap().account, Account::NotFound);
        let private = serde_json::json!({"userProfile": {"$case": "userInfo", "userInfo": {
            "username": "ahmad.k", "displayName": "أحمد", "snapcodeImageUrl": "https://x/y"}}});
        assert_eq!(
            parse(&private).unwrap().account,
            Account::Private {
                username: Some("ahmad.k".into()),
                display_name: Some("أحمد".into())
            }
        );
    }

    #[test]
    fn changed_shapes_fail_loudly_and_name_the_path() {
        let d = changed_detail(&serde_json::json!({"userProfile": {"$case": "creatorInfo"}}));
        assert!(d.contains("creatorInfo"), "{d}");
        let d = changed_detail(&serde_json::json!({"userProfile": {"$case": "publicProfileInfo"}}));
        assert!(d.contains("publicProfileInfo is missing"), "{d}");

        let bad_snaps = [
            (
                serde_json::json!("0"),
                serde_json::json!("1746300000"),
                "snapMediaType",
            ),
            (
                serde_json::json!(0),
                serde_json::json!("soon"),
                "timestampInSec.value",
            ),
        ];
        for (kind, ts, needle) in bad_snaps {
            let props = public(&serde_json::json!({
                "curatedHighlights": [{"snapList": [snap_json("H1", &kind, &ts)]}]
            }));
            let d = changed_detail(&props);
            assert!(
                d.contains(&format!(
                    "pageProps.curatedHighlights[0].snapList[0].{needle}"
                )),
                "{d}"
            );
        }
        let mut no_id = snap_json("H1", &serde_json::json!(0), &serde_json::json!("1"));
        no_id.as_object_mut().unwrap().remove("snapId");
        let d = changed_detail(&public(
            &serde_json::json!({"spotlightHighlights": [{"snapList": [no_id]}]}),
        ));
        assert!(
            d.contains("spotlightHighlights[0].snapList[0].snapId is missing"),
            "{d}"
        );
        let mut bad_url = snap_json("H1", &serde_json::json!(0), &serde_json::json!("1"));
        bad_url["snapUrls"]["mediaUrl"] = "/d/relative".into();
        let d = changed_detail(&public(
            &serde_json::json!({"story": {"snapList": [bad_url]}}),
        ));
        assert!(d.contains("mediaUrl"), "{d}");

        // Sections renamed away: the flags say content exists, or say nothing at all.
        let mut props = public(&serde_json::json!({}));
        props["userProfile"]["publicProfileInfo"]["hasStory"] = true.into();
        assert!(changed_detail(&props).contains("hasStory is true"));
        let mut props = public(&serde_json::json!({}));
        props.as_object_mut().unwrap().remove("spotlightHighlights");
        props["userProfile"]["publicProfileInfo"]
            .as_object_mut()
            .unwrap()
            .remove("hasSpotlightHighlights");
        assert!(changed_detail(&props).contains("pageProps.spotlightHighlights is missing"));
        let mut props = public(&serde_json::json!({}));
        props["userProfile"]["publicProfileInfo"]["hasCuratedHighlights"] = true.into();
        assert!(changed_detail(&props).contains("hasCuratedHighlights is true"));
        let props = public(&serde_json::json!({"curatedHighlights": {"0": {}}}));
        assert!(changed_detail(&props).contains("curatedHighlights is not an array"));
        let mut props = public(&serde_json::json!({}));
        props["userProfile"]["publicProfileInfo"]["subscriberCount"] = "1.2K".into();
        assert!(changed_detail(&props).contains("subscriberCount"));

        for body in [
            &b"<html><title>Just a moment...</title><body>captcha</body></html>"[..],
            b"<script id=\"__NEXT_DATA__\">{not json</script>",
            b"<script id=\"__NEXT_DATA__\">{\"props\":{}}</script>",
            b"\xff\xfe<html>",
        ] {
            match parse_page(body, URL, "") {
                Err(FetchError::Malformed { detail, .. }) => {
                    assert!(detail.starts_with(FORMAT_CHANGED), "{detail}");
                }
                other => panic!("{other:?}"),
            }
        }
        let Err(FetchError::Malformed { detail, .. }) = parse_page(
            b"<html><title>Just a moment...</title></html>",
            URL,
            " (hint)",
        ) else {
            panic!("malformed")
        };
        assert!(
            detail.contains("\"Just a moment...\"") && detail.ends_with("(hint)"),
            "{detail}"
        );
    }

    #[test]
    fn an_empty_profile_is_legitimate() {
        let p = parse(&public(&serde_json::json!({}))).unwrap();
        assert!(p.collections.is_empty() && p.more.is_empty());
        // Flags saying "none" also cover absent arrays, and an absent story is no story.
        let mut props = public(&serde_json::json!({}));
        props.as_object_mut().unwrap().remove("curatedHighlights");
        assert!(parse(&props).unwrap().collections.is_empty());
    }
}
