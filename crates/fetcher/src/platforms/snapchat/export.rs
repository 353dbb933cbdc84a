//! Snapchat's "My Data" export (`mydata~<timestamp>.zip`, large ones split into
//! `mydata~<timestamp>-2.zip`, `-3`…): [`SnapchatExport`] imports the owner's Memories.
//! Decisions an integrator should know (reference §5.3, §5.4):
//!
//! - **Parts and layout.** Every part is opened and validated as one export
//!   ([`ExportParts`]: traversal, symlinks, bombs, names clashing across parts are refused before
//!   anything is emitted). The export is recognised by `json/memories_history.json` (at the zip
//!   root, or under one top folder). A My Data export without it (Memories not selected), an
//!   HTML-only export, or anything else is refused with a one-line [`FetchError::Export`] that
//!   says what to request instead: never an empty bundle.
//! - **What is public account content.** The Memories (`memories_history.json` and the files
//!   under `memories/`) and the story view statistics (`story_history.json`) are imported, stored
//!   byte-exact. `account.json` is read for `Basic Information.Username` and `.Name` only and is
//!   **not stored**: it also holds login history, IP addresses, devices, e-mail and phone. Chats,
//!   chat media, snaps, friends, shared (private) stories, locations, searches, account history
//!   and purchases ([`PRIVATE`]) are never read nor stored; every other file (the HTML mirror,
//!   settings, Bitmoji…) is not imported either. The statement counts both by kind.
//! - **Memories → items.** One [`ItemKind::Post`] per element of `"Saved Media"`, in file order:
//!   a memory is a permanent photo or video of the account, not a 24-hour story (whether it was
//!   ever posted is not recorded). `created_at` from `"Date"` (`YYYY-MM-DD HH:MM:SS UTC`; another
//!   format fails the import as `Malformed`). Memories carry no text (captions exist only burnt
//!   into the overlay PNG): the item text is empty, or `📍 <lat>, <lon>` (as written) for a real
//!   `"Location"`; `0.0, 0.0` ("Null Island") is Snapchat's way of writing "no location" and is
//!   dropped. An unreadable location fails the import (the shape changed). `"Media Type"` is
//!   not derived: the stored files' own types speak for themselves.
//! - **Ids.** `memory-<mid>`, the `mid` UUID of the memory's links (lower-cased), so the same
//!   memory gets the same id in every export; without a `mid`, `memory-<Unix seconds>`. A repeat
//!   gets `-2`, `-3`… in file order.
//! - **Media in the export** (`memories/<YYYY-MM-DD>_<uuid>-main.<jpg|mp4>` and
//!   `…-overlay.png`, in any part) are joined to memories by the UUID = `mid`; the date prefix is
//!   not compared (it may be a local date). The main file is the first [`MediaRef`], the overlay
//!   (the caption as drawn) the second; both named by their path in the export. Files under
//!   `memories/` that no memory names are stored too (they are still the account's memories).
//! - **Media not in the export.** With [`SnapchatExport::fetch_links`]: the `"Download Link"`
//!   is sent by POST (its query string as an `application/x-www-form-urlencoded` body, to the link
//!   without its query); the answer body is the signed URL of the file, as plain text (observed
//!   in public downloaders; the answer is stored as a document), which is then downloaded. A
//!   memory with only a `"Media Download Url"` has it downloaded directly; that file may be a ZIP
//!   of main + overlay: it is stored as delivered, never unpacked. Each link is requested once.
//!   A link refused (HTTP 4xx, an HTML page) or answered with anything but an `https` URL is a
//!   [`GapReason::Unavailable`] gap per memory ("download link expired; request a new My Data
//!   export"). Links are only followed to `https://*.snapchat.com`; others are a gap. Without
//!   `fetch_links`, each such memory is a [`GapReason::MissingFromExport`] gap ("not fetched").
//! - **Offline, or a link host in trouble.** The memories are the export's content, the fetched
//!   media an extra: a memory whose media cannot be fetched is still imported, with a gap. A
//!   link host that cannot be reached (refused, unresolved, no route) is tried **once**
//!   ([`Request::reach_once`]), not retried for minutes; its memories' gaps say so and name
//!   `--no-fetch` (record the links without trying). A host that fails otherwise (server
//!   errors, timeouts, rate limits after the transport's retries) gets a gap naming the
//!   failure. Either way the remaining links to that host are not tried in this import. Only a
//!   failure to store (the sink) stops the import.
//! - **Signed links are secrets-ish.** They grant the file for a few days. The export file
//!   holding them is stored byte-exact (it is the evidence); everywhere this importer writes a
//!   link itself (`MediaRef::original_url`, gap URLs, errors) its signature parameters read
//!   `[REDACTED]` (`model::redact`, which also redacts the capture log's URLs; the POST is
//!   logged without its query, which travels in the body).
//! - **Account.** [`SnapchatExport::with_account`] when given (it always wins, as in the other
//!   importers), else `Basic Information.Username` of `json/account.json`. The zip's name holds a
//!   timestamp, not a username, so it cannot help: without either, the import asks for `--account`.
//! - **Not in My Data.** The Public Profile's saved stories and Spotlight videos are not part of
//!   the export: the statement says to capture them with `tawthiq archive snapchat <user>` before
//!   the account closes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;
use model::redact::redact_url;
use model::{AccountId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile, Route};
use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use crate::error::{FetchError, Result};
use crate::export_zip::{ExportParts, ZipEntry, ZipLimits};
// Generic export helpers (root folder, account ids, JSON paths) that happen to live with Meta's.
use crate::platforms::meta::export::{account_id_from, find_root, is_json, str_at};
use crate::source::{Identity, Report, Sink, Source, Stored, count};
use crate::transport::{Request, Transport};

const P: Platform = Platform::Snapchat;

/// Largest JSON document read into memory.
const MAX_JSON_BYTES: u64 = 512 * 1024 * 1024;

const MEMORIES: &str = "json/memories_history.json";
const STORY_HISTORY: &str = "json/story_history.json";
const ACCOUNT: &str = "json/account.json";

/// What the link fetches tell the user to do when a link no longer works.
const EXPIRED: &str = "download link expired; request a new My Data export";

/// What they tell the user when a link's host cannot be reached (an offline import).
const OFFLINE: &str = "import again with a network connection while the links are valid, or pass --no-fetch to record the links without trying to fetch them";

/// One kind of private data, never read nor stored: `name` is a folder (ending in `/`) at the
/// export root, or a file stem under `json/` or `html/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateRecord {
    pub name: &'static str,
    pub what: &'static str,
}

const fn private(name: &'static str, what: &'static str) -> PrivateRecord {
    PrivateRecord { name, what }
}

/// The files of a My Data export that hold the owner's private data.
pub const PRIVATE: &[PrivateRecord] = &[
    private("chat_media/", "chats"),
    private("chat_history", "chats"),
    private("talk_history", "chats"),
    private("snap_history", "snaps sent and received"),
    private("shared_story/", "shared stories"),
    private("shared_story", "shared stories"),
    private("friends", "friends"),
    private("location_history", "locations"),
    private("snap_map_places_history", "locations"),
    private("search_history", "searches"),
    private("account_history", "account and login history"),
    private("login_history", "account and login history"),
    private("purchase_history", "purchases"),
    private("shop_history", "purchases"),
];

/// What the importer does with a file of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Memories,
    StoryHistory,
    /// Read for the username, not stored.
    Account,
    /// A file under `memories/`.
    MemoryMedia,
    /// Never read.
    Private(&'static str),
    /// Not the account's content: not imported.
    Other,
}

/// The role of `rel`, a path relative to the export root.
pub fn classify(rel: &str) -> Role {
    match rel {
        MEMORIES => return Role::Memories,
        STORY_HISTORY => return Role::StoryHistory,
        ACCOUNT => return Role::Account,
        _ => {}
    }
    if rel.starts_with("memories/") {
        return Role::MemoryMedia;
    }
    let stem = ["json/", "html/"]
        .iter()
        .find_map(|d| rel.strip_prefix(d))
        .filter(|f| !f.contains('/'))
        .and_then(|f| f.rsplit_once('.').map(|(s, _)| s));
    PRIVATE
        .iter()
        .find(|p| match p.name.strip_suffix('/') {
            Some(_) => rel.starts_with(p.name),
            None => stem == Some(p.name),
        })
        .map_or(Role::Other, |p| Role::Private(p.what))
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure functions)

/// `"YYYY-MM-DD HH:MM:SS UTC"`, the format of every date in My Data.
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(s.trim().strip_suffix(" UTC")?, fmt).ok()?;
    Some(t.assume_utc())
}

/// A `"Location"` that is not `"Latitude, Longitude: <lat>, <lon>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLocation;

/// `"Latitude, Longitude: 24.7136, 46.6753"` → the two numbers as written; `Ok(None)` when
/// empty or `0.0, 0.0` (Snapchat's "no location"); `Err` when unreadable.
pub fn parse_location(s: &str) -> std::result::Result<Option<(String, String)>, BadLocation> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let rest = s.strip_prefix("Latitude, Longitude:").ok_or(BadLocation)?;
    let (lat, lon) = rest.split_once(',').ok_or(BadLocation)?;
    let (lat, lon) = (lat.trim(), lon.trim());
    let num = |v: &str, max: f64| {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.abs() <= max)
            .ok_or(BadLocation)
    };
    let (la, lo) = (num(lat, 90.0)?, num(lon, 180.0)?);
    if la == 0.0 && lo == 0.0 {
        return Ok(None);
    }
    Ok(Some((lat.to_owned(), lon.to_owned())))
}

/// The `mid` (memory id) query parameter of a link, lower-cased, when it looks like an id.
pub fn mid_of(link: &str) -> Option<String> {
    let url = Url::parse(link).ok()?;
    let mid = url.query_pairs().find(|(k, _)| k == "mid")?.1;
    let ok = !mid.is_empty()
        && mid.len() <= 64
        && mid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| mid.to_ascii_lowercase())
}

/// A file under `memories/` named `<YYYY-MM-DD>_<uuid>-<main|overlay>.<ext>`: its UUID
/// (lower-cased) and whether it is the overlay.
pub fn memory_file(name: &str) -> Option<(String, bool)> {
    let file = name.rsplit('/').next()?;
    let (date, rest) = file.split_once('_')?;
    parse_day(date)?;
    let (stem, _ext) = rest.rsplit_once('.')?;
    let (uuid, part) = stem.rsplit_once('-')?;
    let overlay = match part {
        "main" => false,
        "overlay" => true,
        _ => return None,
    };
    (!uuid.is_empty()).then(|| (uuid.to_ascii_lowercase(), overlay))
}

fn parse_day(s: &str) -> Option<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, fmt).ok()
}

/// One element of `"Saved Media"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    pub created_at: OffsetDateTime,
    /// Latitude and longitude as written; `None` for none or Null Island.
    pub location: Option<(String, String)>,
    pub download_link: Option<String>,
    pub media_url: Option<String>,
    pub mid: Option<String>,
}

impl Memory {
    /// The derived text: the location, if any.
    pub fn text(&self) -> String {
        self.location
            .as_ref()
            .map(|(lat, lon)| format!("📍 {lat}, {lon}"))
            .unwrap_or_default()
    }
}

fn malformed(file: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform: P,
        url: file.to_owned(),
        detail: detail.into(),
    }
}

/// The memories of `{"Saved Media": [ … ]}`.
pub fn parse_memories(file: &str, v: &Value) -> Result<Vec<Memory>> {
    let arr = v
        .get("Saved Media")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(file, "expected {\"Saved Media\": [ … ]}"))?;
    arr.iter()
        .enumerate()
        .map(|(i, el)| {
            let bad = |what: &str| malformed(file, format!("Saved Media[{i}]: {what}"));
            if !el.is_object() {
                return Err(bad("not an object"));
            }
            let date = str_at(el, &["Date"]).ok_or_else(|| bad("no Date"))?;
            let created_at = parse_date(date)
                .ok_or_else(|| bad(&format!("Date {date:?} is not \"YYYY-MM-DD HH:MM:SS UTC\"")))?;
            let location = match el.get("Location") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => parse_location(s).map_err(|BadLocation| {
                    bad(&format!(
                        "Location {s:?} is not \"Latitude, Longitude: <lat>, <lon>\""
                    ))
                })?,
                Some(_) => return Err(bad("Location is not a string")),
            };
            let link = |key: &str| -> Result<Option<String>> {
                let Some(s) = str_at(el, &[key]) else {
                    return Ok(None);
                };
                match Url::parse(s) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(Some(s.to_owned())),
                    // Never echo the link: it is signed.
                    _ => Err(bad(&format!("{key} is not a URL"))),
                }
            };
            let download_link = link("Download Link")?;
            let media_url = link("Media Download Url")?;
            let mid = download_link
                .as_deref()
                .and_then(mid_of)
                .or_else(|| media_url.as_deref().and_then(mid_of));
            Ok(Memory {
                created_at,
                location,
                download_link,
                media_url,
                mid,
            })
        })
        .collect()
}

/// The username and display name in `account.json`.
pub fn parse_account(v: &Value) -> (Option<String>, Option<String>) {
    let basic = v.get("Basic Information").unwrap_or(v);
    let username = str_at(basic, &["Username"]).map(|s| s.trim().to_owned());
    let name = str_at(basic, &["Name"])
        .or_else(|| str_at(basic, &["Display Name"]))
        .map(str::to_owned);
    (username, name)
}

/// How many view records `story_history.json` holds (`"Your Story Views": [ … ]`).
pub fn story_views(v: &Value) -> u64 {
    v.get("Your Story Views")
        .and_then(Value::as_array)
        .map_or(0, |a| a.len() as u64)
}

/// The signed URL a download link answers with: one `https` URL, nothing else.
pub fn signed_url(body: &[u8]) -> Option<Url> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return None;
    }
    Url::parse(text)
        .ok()
        .filter(|u| u.scheme() == "https" && u.host_str().is_some())
}

/// Whether a link from the export may be followed: `https` to Snapchat.
fn is_snapchat_link(url: &Url) -> bool {
    url.scheme() == "https"
        && url.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "snapchat.com" || h.ends_with(".snapchat.com")
        })
}

// ---------------------------------------------------------------------------------------------

/// The owner's Snapchat My Data export, opened and validated.
pub struct SnapchatExport<'t> {
    zip: ExportParts,
    /// `""` or `"<top folder>/"`.
    root: String,
    account: Option<AccountId>,
    transport: Option<&'t Transport>,
}

impl std::fmt::Debug for SnapchatExport<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapchatExport")
            .field("zip", &self.zip)
            .field("account", &self.account)
            .field("fetch_links", &self.transport.is_some())
            .finish_non_exhaustive()
    }
}

impl<'t> SnapchatExport<'t> {
    /// Opens with the default [`ZipLimits`].
    pub async fn open(paths: &[PathBuf]) -> Result<SnapchatExport<'t>> {
        SnapchatExport::open_with(paths, ZipLimits::default()).await
    }

    /// Opens and validates every part and recognises the export; refuses anything that is not
    /// a My Data export with Memories in JSON.
    pub async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<SnapchatExport<'t>> {
        let zip = ExportParts::open(paths, limits).await?;
        let names = zip.entries().iter().map(|e| e.name.as_str());
        let Some(root) = find_root(&names, |rel| rel == MEMORIES) else {
            return Err(not_an_export(&zip));
        };
        Ok(SnapchatExport {
            zip,
            root,
            account: None,
            transport: None,
        })
    }

    /// The account id to file the capture under, overriding the export's username.
    #[must_use]
    pub fn with_account(mut self, account: AccountId) -> SnapchatExport<'t> {
        self.account = Some(account);
        self
    }

    /// Downloads the media of memories the export lacks through their (still valid) download
    /// links. Without it the links are only recorded, each as a gap.
    #[must_use]
    pub fn fetch_links(mut self, transport: &'t Transport) -> SnapchatExport<'t> {
        self.transport = Some(transport);
        self
    }

    fn refuse(&self, detail: impl Into<String>) -> FetchError {
        FetchError::Export {
            path: self.zip.label().to_owned(),
            detail: detail.into(),
        }
    }

    fn file(&self, rel: &str) -> Option<&ZipEntry> {
        self.zip.entry(&format!("{}{rel}", self.root))
    }

    async fn read_json(&self, entry: &ZipEntry) -> Result<Value> {
        let body = self.zip.read(&entry.name, MAX_JSON_BYTES).await?;
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
        serde_json::from_slice(body)
            .map_err(|e| malformed(&entry.name, format!("not valid JSON: {e}")))
    }
}

/// Why the zips are not an importable My Data export, in one line.
fn not_an_export(zip: &ExportParts) -> FetchError {
    let names = zip.entries().iter().map(|e| e.name.as_str());
    let has = |marker: &dyn Fn(&str) -> bool| find_root(&names, marker).is_some();
    let json_export = has(&|rel| {
        rel.strip_prefix("json/")
            .is_some_and(|f| !f.contains('/') && is_json(f))
            && (rel == ACCOUNT || matches!(classify(rel), Role::StoryHistory | Role::Private(_)))
    });
    let html_export = has(&|rel| {
        rel == "html/memories_history.html" || rel == "html/account.html" || rel == "index.html"
    }) && has(&|rel| rel.starts_with("html/"));
    let detail = if json_export {
        "this Snapchat My Data export has no json/memories_history.json (Memories were not included): request it again in Settings → My Data, selecting \"Export your Memories\" and \"Export JSON Files\"".to_owned()
    } else if html_export {
        "this is a Snapchat My Data export in HTML format only, which cannot be imported: request it again in Settings → My Data, selecting \"Export your Memories\" and \"Export JSON Files\"".to_owned()
    } else {
        let found: BTreeSet<&str> = names
            .filter(|n| !n.starts_with("__MACOSX/"))
            .map(|n| n.split_once('/').map_or(n, |(t, _)| t))
            .collect();
        let mut list = found
            .iter()
            .take(12)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if found.len() > 12 {
            let _ = write!(list, " and {} more", found.len() - 12);
        }
        if list.is_empty() {
            list = "no files".into();
        }
        format!("not a Snapchat My Data export (no json/memories_history.json): found {list}")
    };
    FetchError::Export {
        path: zip.label().to_owned(),
        detail,
    }
}

// ---------------------------------------------------------------------------------------------
// Capture

/// What became of one memory's media not in the export.
#[derive(Debug, Clone)]
enum Fetched {
    Stored(Stored),
    /// The link no longer works (or never did): `GapReason::Unavailable`.
    Expired(&'static str),
    /// This file alone failed otherwise (or its host did: see `down`).
    Failed(String, GapReason),
    /// The link's host could not be reached: an offline import.
    Unreachable {
        host: String,
        why: String,
    },
}

/// Hosts that failed as a whole in this import, with what every later link to them becomes.
type Down = HashMap<String, Fetched>;

/// Tallies for the report.
#[derive(Debug, Default)]
struct Tally {
    memories: u64,
    /// Records of `story_history.json`, when the export has one.
    story_views: Option<u64>,
    account_read: bool,
    /// The kind of each private file skipped.
    private: Vec<&'static str>,
    /// Other files not imported.
    other: u64,
    files: u64,
    /// Media files stored from the export, and fetched through links.
    media_export: u64,
    media_fetched: u64,
    media_unreferenced: u64,
    fetched: u64,
    expired: u64,
    failed: u64,
    unreachable: u64,
    /// The hosts that could not be reached, in order.
    unreachable_hosts: Vec<String>,
    not_fetched: u64,
    no_media: u64,
}

/// Per-file refusals of a link: the link is expired or withdrawn.
fn link_refused(e: &FetchError) -> bool {
    match e {
        FetchError::NotFound { .. }
        | FetchError::Protected { .. }
        | FetchError::UnexpectedHtml { .. }
        // No token is sent: a 401 is the link's own refusal, not an expired credential.
        | FetchError::AuthExpired { .. } => true,
        FetchError::Http { status, .. } => (400..500).contains(status),
        _ => false,
    }
}

/// `e` with its URL's signature redacted, for errors that stop the import.
fn hide_signature(e: FetchError) -> FetchError {
    use FetchError as F;
    let h = |url: String| redact_url(&url);
    match e {
        F::UnexpectedHtml { url } => F::UnexpectedHtml { url: h(url) },
        F::Malformed {
            platform,
            url,
            detail,
        } => F::Malformed {
            platform,
            url: h(url),
            detail,
        },
        F::TooLarge { url, limit } => F::TooLarge { url: h(url), limit },
        F::Truncated { url, got, expected } => F::Truncated {
            url: h(url),
            got,
            expected,
        },
        F::Timeout { url, after } => F::Timeout { url: h(url), after },
        F::Connect { url, detail } => F::Connect {
            url: h(url),
            detail,
        },
        F::Server { status, url } => F::Server {
            status,
            url: h(url),
        },
        F::Http {
            status,
            url,
            detail,
        } => F::Http {
            status,
            url: h(url),
            detail,
        },
        other => other,
    }
}

/// A one-line reason for a per-file failure, without the URL.
fn failure_reason(e: &FetchError) -> String {
    match e {
        FetchError::TooLarge { limit, .. } => format!("larger than the cap of {limit} bytes"),
        FetchError::Truncated { got, expected, .. } => {
            format!("cut short ({got} of {expected} bytes)")
        }
        FetchError::Http { status, .. } => format!("HTTP {status}"),
        other => other.kind().replace('_', " "),
    }
}

/// What a failed request for `url` means for this memory (and, when its host failed as a
/// whole, for every later link to that host); `Err` only when storing failed.
fn fetch_failure(
    e: FetchError,
    url: &Url,
    down: &mut Down,
    expired: &'static str,
) -> Result<Fetched> {
    if link_refused(&e) {
        return Ok(Fetched::Expired(expired));
    }
    if crate::media::is_per_file(&e) {
        return Ok(Fetched::Failed(failure_reason(&e), GapReason::Other));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let outcome = match e {
        FetchError::Sink(_) => return Err(hide_signature(e)),
        FetchError::Connect { detail, .. } => Fetched::Unreachable {
            host: host.clone(),
            why: detail,
        },
        FetchError::RateLimited { .. }
        | FetchError::Deferred { .. }
        | FetchError::QuotaExhausted { .. } => {
            Fetched::Failed(hide_signature(e).to_string(), GapReason::RateLimited)
        }
        other => Fetched::Failed(failure_reason(&other), GapReason::Other),
    };
    down.insert(host, outcome.clone());
    Ok(outcome)
}

/// What a link to `url` becomes without a request, when its host already failed.
fn known_down(url: &Url, down: &Down) -> Option<Fetched> {
    down.get(&url.host_str()?.to_ascii_lowercase()).cloned()
}

impl SnapchatExport<'_> {
    /// Downloads the media of `link` (see the module documentation).
    async fn fetch(
        &self,
        t: &Transport,
        sink: &mut dyn Sink,
        link: &Link,
        down: &mut Down,
    ) -> Result<Fetched> {
        let url = match Url::parse(&link.url) {
            Ok(u) if is_snapchat_link(&u) => u,
            _ => {
                return Ok(Fetched::Failed(
                    "the link does not lead to snapchat.com".into(),
                    GapReason::Other,
                ));
            }
        };
        if let Some(known) = known_down(&url, down) {
            return Ok(known);
        }
        let media_url = if link.post {
            let query = url.query().unwrap_or_default().to_owned();
            let mut base = url.clone();
            base.set_query(None);
            base.set_fragment(None);
            let req = Request::new(P, "memory-link", base)
                .post_form(&query)
                .reach_once();
            match t.document(sink, &req).await {
                Ok(doc) => match signed_url(&doc.body) {
                    Some(u) => u,
                    None => return Ok(Fetched::Expired("its answer is not a download URL")),
                },
                Err(e) => return fetch_failure(e, &url, down, "it was refused"),
            }
        } else {
            url
        };
        if let Some(known) = known_down(&media_url, down) {
            return Ok(known);
        }
        // The extension comes from the answer's Content-Type (a ZIP is left to the sink).
        let req = Request::new(P, "memory-media", media_url.clone()).reach_once();
        match t.media(sink, &req, None).await {
            Ok(stored) => Ok(Fetched::Stored(stored)),
            Err(e) => fetch_failure(e, &media_url, down, "the download was refused"),
        }
    }
}

/// The link a memory's media is fetched through.
#[derive(Debug, Clone)]
struct Link {
    url: String,
    /// A `Download Link` (POST, then GET the answer), not a `Media Download Url` (GET).
    post: bool,
}

impl Memory {
    /// The link to fetch: the `Download Link`, else the `Media Download Url`.
    fn link(&self) -> Option<Link> {
        self.download_link
            .as_ref()
            .map(|u| Link {
                url: u.clone(),
                post: true,
            })
            .or_else(|| {
                self.media_url.as_ref().map(|u| Link {
                    url: u.clone(),
                    post: false,
                })
            })
    }
}

/// Deterministic ids (see the module documentation).
#[derive(Debug, Default)]
struct Ids(HashMap<String, u32>);

impl Ids {
    fn next(&mut self, m: &Memory) -> String {
        let base = match &m.mid {
            Some(mid) => format!("memory-{mid}"),
            None => format!("memory-{}", m.created_at.unix_timestamp()),
        };
        let n = self.0.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { base } else { format!("{base}-{n}") }
    }
}

#[async_trait]
impl Source for SnapchatExport<'_> {
    fn platform(&self) -> Platform {
        P
    }

    fn route(&self) -> Route {
        Route::Export
    }

    #[allow(clippy::too_many_lines)]
    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        // 1. Plan and parse: nothing is emitted before the data files parsed and the account is
        //    known.
        let roles: Vec<(ZipEntry, Role)> = self
            .zip
            .entries()
            .iter()
            .map(|e| {
                let role = e
                    .name
                    .strip_prefix(self.root.as_str())
                    .map_or(Role::Other, classify);
                (e.clone(), role)
            })
            .collect();
        let memories_entry = self
            .file(MEMORIES)
            .cloned()
            .ok_or_else(|| self.refuse("json/memories_history.json is gone"))?;
        let memories = parse_memories(
            &memories_entry.name,
            &self.read_json(&memories_entry).await?,
        )?;
        let story_entry = self.file(STORY_HISTORY).cloned();
        let views = match &story_entry {
            // Statistics only: an unexpected shape counts none, the file is stored as is.
            Some(e) => self.read_json(e).await.map_or(0, |v| story_views(&v)),
            None => 0,
        };
        let (username, display_name) = match self.file(ACCOUNT) {
            Some(e) => parse_account(&self.read_json(e).await?),
            None => (None, None),
        };
        // The username the export itself holds, compared with the account named before
        // anything is stored (the one given only files an export that names none).
        sink.identify(&Identity::new(None, username.as_deref()))
            .await?;
        let Some(account) = self
            .account
            .clone()
            .or_else(|| username.as_deref().and_then(account_id_from))
        else {
            return Err(self.refuse(
                "cannot tell which account this export belongs to (no Basic Information.Username in json/account.json, and a My Data zip's name holds only a timestamp): pass --account <id>",
            ));
        };
        // Media files under memories/, by UUID: (main, overlay).
        let mut by_mid: HashMap<String, (Option<&ZipEntry>, Option<&ZipEntry>)> = HashMap::new();
        for (e, r) in &roles {
            if *r == Role::MemoryMedia
                && let Some((uuid, overlay)) = memory_file(&e.name)
            {
                let slot = by_mid.entry(uuid).or_default();
                let side = if overlay { &mut slot.1 } else { &mut slot.0 };
                side.get_or_insert(e);
            }
        }

        // 2. Emit: begin, the data files, the profile, the memories, the other memory files.
        sink.begin(&account).await?;
        let mut tally = Tally::default();
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let memories_stored = self.zip.store_entry(sink, &memories_entry).await?;
        tally.files += 1;
        if let Some(e) = &story_entry {
            self.zip.store_entry(sink, e).await?;
            tally.files += 1;
        }
        sink.profile(Profile {
            platform: P,
            id: account.as_str().to_owned(),
            username: username.clone(),
            display_name,
            description: None,
            url: username
                .as_ref()
                .map(|u| format!("https://www.snapchat.com/add/{u}")),
            counts: BTreeMap::new(),
            media: Vec::new(),
            route: Route::Export,
        })
        .await?;

        let mut ids = Ids::default();
        let mut fetched: HashMap<String, Fetched> = HashMap::new();
        let mut down = Down::new();
        for m in &memories {
            let id = ids.next(m);
            let mut media = Vec::new();
            let mut gaps = Vec::new();
            let files = m.mid.as_ref().and_then(|mid| by_mid.get(mid)).copied();
            if let Some((main, overlay)) = files.filter(|(main, _)| main.is_some()) {
                for e in [main, overlay].into_iter().flatten() {
                    let s = if let Some(s) = stored.get(&e.name) {
                        s.clone()
                    } else {
                        let s = self.zip.store_entry(sink, e).await?;
                        tally.files += 1;
                        tally.media_export += 1;
                        stored.insert(e.name.clone(), s.clone());
                        s
                    };
                    media.push(MediaRef {
                        sha256: Some(s.sha256),
                        original_url: e.name.clone(),
                        chosen: None,
                        offered: Vec::new(),
                    });
                }
            } else if let Some(link) = m.link() {
                let shown = redact_url(&link.url);
                let outcome = match (self.transport, fetched.get(&link.url)) {
                    (_, Some(done)) => Some(done.clone()),
                    (Some(t), None) => {
                        let done = self.fetch(t, sink, &link, &mut down).await?;
                        if matches!(done, Fetched::Stored(_)) {
                            tally.media_fetched += 1;
                        }
                        fetched.insert(link.url.clone(), done.clone());
                        Some(done)
                    }
                    (None, None) => None,
                };
                let which = if link.post {
                    "Download Link"
                } else {
                    "Media Download Url"
                };
                let (sha256, gap) = match outcome {
                    Some(Fetched::Stored(s)) => {
                        tally.fetched += 1;
                        (Some(s.sha256), None)
                    }
                    Some(Fetched::Expired(why)) => {
                        tally.expired += 1;
                        let detail = format!(
                            "memory {id}: the media is not in the export and its {which} no longer works ({why}): {EXPIRED}"
                        );
                        (None, Some((GapReason::Unavailable, detail)))
                    }
                    Some(Fetched::Failed(why, reason)) => {
                        tally.failed += 1;
                        let detail = format!(
                            "memory {id}: the media is not in the export and could not be downloaded through its {which}: {why}"
                        );
                        (None, Some((reason, detail)))
                    }
                    Some(Fetched::Unreachable { host, why }) => {
                        tally.unreachable += 1;
                        if !tally.unreachable_hosts.contains(&host) {
                            tally.unreachable_hosts.push(host.clone());
                        }
                        let detail = format!(
                            "memory {id}: the media is not in the export and {host} could not be reached to fetch it through its {which} ({why}): {OFFLINE}"
                        );
                        (None, Some((GapReason::Other, detail)))
                    }
                    None => {
                        tally.not_fetched += 1;
                        let detail = format!(
                            "memory {id}: the media is not in the export; its {which} was recorded, not fetched (import with link fetching before the links expire, or request a new My Data export including Memories)"
                        );
                        (None, Some((GapReason::MissingFromExport, detail)))
                    }
                };
                media.push(MediaRef {
                    sha256,
                    original_url: shown.clone(),
                    chosen: None,
                    offered: Vec::new(),
                });
                gaps.extend(gap.map(|(reason, detail)| Gap {
                    reason,
                    detail,
                    item_id: Some(id.clone()),
                    url: Some(shown.clone()),
                }));
            } else {
                tally.no_media += 1;
                gaps.push(Gap {
                    reason: GapReason::MissingFromExport,
                    detail: format!(
                        "memory {id}: no media file in the export and no download link"
                    ),
                    item_id: Some(id.clone()),
                    url: None,
                });
            }
            sink.item(Item {
                id,
                platform: P,
                kind: ItemKind::Post,
                created_at: m.created_at,
                text: m.text(),
                lang: None,
                pinned: false,
                metrics: BTreeMap::new(),
                media,
                // Memories have no public permalink.
                url: None,
                references: Vec::new(),
                route: Route::Export,
                source_path: Some(memories_stored.path.clone()),
            })
            .await?;
            for g in gaps {
                sink.gap(g).await?;
            }
        }
        for (e, r) in &roles {
            if *r == Role::MemoryMedia && !stored.contains_key(&e.name) {
                let s = self.zip.store_entry(sink, e).await?;
                tally.files += 1;
                tally.media_export += 1;
                tally.media_unreferenced += 1;
                stored.insert(e.name.clone(), s);
            }
        }

        // 3. Report.
        let private: Vec<&'static str> = roles
            .iter()
            .filter_map(|(_, r)| match r {
                Role::Private(what) => Some(*what),
                _ => None,
            })
            .collect();
        let other = roles.iter().filter(|(_, r)| *r == Role::Other).count() as u64;
        tally.memories = memories.len() as u64;
        tally.story_views = story_entry.is_some().then_some(views);
        tally.account_read = self.file(ACCOUNT).is_some();
        tally.private = private;
        tally.other = other;
        Ok(report(&tally))
    }
}

fn report(t: &Tally) -> Report {
    let captured: BTreeMap<String, u64> = [
        ("memories", t.memories),
        ("media", t.media_export + t.media_fetched),
        ("files", t.files),
        ("links_fetched", t.fetched),
        ("links_expired", t.expired),
        ("links_failed", t.failed),
        ("links_unreachable", t.unreachable),
        ("links_not_fetched", t.not_fetched),
        ("story_views", t.story_views.unwrap_or(0)),
        ("private_files_skipped", t.private.len() as u64),
        ("other_files_skipped", t.other),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut s = format!(
        "Imported the owner's Snapchat My Data export: {} with {} ({} from the export, stored byte-exact",
        count(t.memories, "memory", "memories"),
        count(
            t.media_export + t.media_fetched,
            "media file",
            "media files"
        ),
        t.media_export,
    );
    if t.media_unreferenced > 0 {
        let _ = write!(s, ", {} of them named by no memory", t.media_unreferenced);
    }
    if t.media_fetched > 0 {
        let _ = write!(
            s,
            "; {} fetched through the memories' download links",
            t.media_fetched
        );
    }
    s.push_str(").");
    s.push_str(&links_statement(t));
    if let Some(views) = t.story_views {
        let _ = write!(
            s,
            " Story view statistics ({}) stored byte-exact; they hold no story media.",
            count(views, "record", "records")
        );
    }
    s.push_str(&skipped_statement(t));
    s.push_str(
        " My Data does not contain the Public Profile's saved stories or Spotlight videos: capture them with `tawthiq archive snapchat <user>` before the account is closed.",
    );
    Report {
        platform_reported: BTreeMap::new(),
        captured,
        statement: s,
    }
}

/// What the statement says about the memories whose media are not in the export.
fn links_statement(t: &Tally) -> String {
    let mut s = String::new();
    if t.expired > 0 {
        let _ = write!(
            s,
            " {} no longer {} (see the gaps): request a new My Data export to get {}.",
            count(
                t.expired,
                "memory's download link",
                "memories' download links"
            ),
            if t.expired == 1 { "works" } else { "work" },
            if t.expired == 1 { "it" } else { "them" },
        );
    }
    if t.failed > 0 {
        let _ = write!(
            s,
            " {} could not be downloaded (see the gaps).",
            count(t.failed, "memory's media file", "memories' media files"),
        );
    }
    if t.unreachable > 0 {
        let _ = write!(
            s,
            " {} not in the export and could not be fetched: {} could not be reached (tried once; see the gaps): {OFFLINE}.",
            count(t.unreachable, "memory's media is", "memories' media are"),
            t.unreachable_hosts.join(", "),
        );
    }
    if t.not_fetched > 0 {
        let _ = write!(
            s,
            " {} not in the export: their download links were recorded, not fetched (see the gaps).",
            count(t.not_fetched, "memory's media is", "memories' media are"),
        );
    }
    if t.no_media > 0 {
        let _ = write!(
            s,
            " {} neither a media file in the export nor a download link.",
            count(t.no_media, "memory has", "memories have"),
        );
    }
    s
}

/// The statement's sentences about what was deliberately not imported.
fn skipped_statement(t: &Tally) -> String {
    let mut s = String::new();
    if t.account_read {
        s.push_str(
            " json/account.json was read for the username and display name only and not stored (it holds login history, devices and contact details).",
        );
    }
    if !t.private.is_empty() {
        let mut kinds: Vec<&str> = Vec::new();
        for w in &t.private {
            if !kinds.contains(w) {
                kinds.push(w);
            }
        }
        let n = t.private.len() as u64;
        let _ = write!(
            s,
            " {} ({}) {} deliberately neither read nor imported.",
            count(n, "private file", "private files"),
            kinds.join(", "),
            if n == 1 { "was" } else { "were" }
        );
    }
    if t.other > 0 {
        let _ = write!(
            s,
            " {} (the HTML mirror, settings…) {} not the account's content and {} not imported.",
            count(t.other, "other file", "other files"),
            if t.other == 1 { "is" } else { "are" },
            if t.other == 1 { "was" } else { "were" },
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_my_data_date_format() {
        assert_eq!(
            parse_date("2024-09-01 08:15:30 UTC"),
            Some(time::macros::datetime!(2024-09-01 08:15:30 UTC))
        );
        for bad in [
            "2024-09-01 08:15:30",
            "2024-09-01T08:15:30Z",
            "1725178530",
            "2024-13-01 08:15:30 UTC",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_locations_and_drops_null_island() {
        assert_eq!(
            parse_location("Latitude, Longitude: 24.7136, 46.6753"),
            Ok(Some(("24.7136".into(), "46.6753".into())))
        );
        assert_eq!(
            parse_location("Latitude, Longitude: -33.8688, 151.2093"),
            Ok(Some(("-33.8688".into(), "151.2093".into())))
        );
        assert_eq!(parse_location("Latitude, Longitude: 0.0, 0.0"), Ok(None));
        assert_eq!(parse_location("Latitude, Longitude: 0, -0.0"), Ok(None));
        assert_eq!(parse_location(""), Ok(None));
        // A point on the equator or the meridian is a real place.
        assert_eq!(
            parse_location("Latitude, Longitude: 0.0, 32.5"),
            Ok(Some(("0.0".into(), "32.5".into())))
        );
        for bad in [
            "Riyadh",
            "Latitude, Longitude: 24.7",
            "Latitude, Longitude: 95.0, 10.0",
            "Latitude, Longitude: NaN, 1",
            "24.7136, 46.6753",
        ] {
            assert_eq!(parse_location(bad), Err(BadLocation), "{bad:?}");
        }
    }

    #[test]
    fn finds_the_mid_of_a_link() {
        let link = "https://app.snapchat.com/dmd/memories?uid=u-1&sid=s-2&mid=0F3A6D2E-1B4C-4D5E-8F60-7A8B9C0D1E2F&ts=1725178530000&sig=abc";
        assert_eq!(
            mid_of(link).as_deref(),
            Some("0f3a6d2e-1b4c-4d5e-8f60-7a8b9c0d1e2f")
        );
        assert_eq!(mid_of("https://app.snapchat.com/dmd/memories?uid=u"), None);
        assert_eq!(mid_of("https://x/y?mid="), None);
        assert_eq!(mid_of("https://x/y?mid=a%2F..%2Fb"), None);
        assert_eq!(mid_of("not a url"), None);
    }

    #[test]
    fn names_memory_files() {
        assert_eq!(
            memory_file("memories/2024-09-01_0F3A6D2E-1b4c-4d5e-8f60-7a8b9c0d1e2f-main.jpg"),
            Some(("0f3a6d2e-1b4c-4d5e-8f60-7a8b9c0d1e2f".into(), false))
        );
        assert_eq!(
            memory_file("top/memories/2024-09-01_abc-overlay.png"),
            Some(("abc".into(), true))
        );
        assert_eq!(memory_file("memories/2024-09-01_abc-thumb.jpg"), None);
        assert_eq!(memory_file("memories/notes.txt"), None);
        assert_eq!(memory_file("memories/x_abc-main.jpg"), None);
    }

    #[test]
    fn signatures_are_never_written() {
        let link = "https://app.snapchat.com/dmd/memories?uid=u&mid=m&ts=1&sig=SECRETSIG#f";
        assert_eq!(
            redact_url(link),
            "https://app.snapchat.com/dmd/memories?uid=u&mid=m&ts=1&sig=[REDACTED]#f"
        );
        let s3 = "https://b.s3.amazonaws.com/k.jpg?X-Amz-Credential=C&X-Amz-Signature=S&X-Amz-Expires=60";
        assert_eq!(
            redact_url(s3),
            "https://b.s3.amazonaws.com/k.jpg?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&X-Amz-Expires=60"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
        let e = hide_signature(FetchError::Connect {
            url: "https://cf-st.sc-cdn.net/a.jpg?sig=SECRETSIG".into(),
            detail: "reset".into(),
        });
        assert!(!e.to_string().contains("SECRETSIG"), "{e}");
    }

    #[test]
    fn classifies_files() {
        assert_eq!(classify("json/memories_history.json"), Role::Memories);
        assert_eq!(classify("json/story_history.json"), Role::StoryHistory);
        assert_eq!(classify("json/account.json"), Role::Account);
        assert_eq!(
            classify("memories/2024-09-01_a-main.jpg"),
            Role::MemoryMedia
        );
        assert_eq!(classify("json/chat_history.json"), Role::Private("chats"));
        assert_eq!(classify("html/chat_history.html"), Role::Private("chats"));
        assert_eq!(
            classify("chat_media/2024-09-01_b~x.jpg"),
            Role::Private("chats")
        );
        assert_eq!(
            classify("shared_story/2024-09-01_x.mp4"),
            Role::Private("shared stories")
        );
        assert_eq!(classify("json/friends.json"), Role::Private("friends"));
        assert_eq!(
            classify("json/location_history.json"),
            Role::Private("locations")
        );
        assert_eq!(
            classify("json/search_history.json"),
            Role::Private("searches")
        );
        assert_eq!(classify("html/memories_history.html"), Role::Other);
        assert_eq!(classify("index.html"), Role::Other);
        assert_eq!(classify("json/bitmoji.json"), Role::Other);
    }

    #[test]
    fn a_download_link_answers_with_one_https_url() {
        assert_eq!(
            signed_url(b"https://cf-st.sc-cdn.net/d/a.jpg?sig=x\n")
                .unwrap()
                .host_str(),
            Some("cf-st.sc-cdn.net")
        );
        for bad in [
            &b""[..],
            b"<html>expired</html>",
            b"{\"error\":\"expired\"}",
            b"http://cf-st.sc-cdn.net/a.jpg",
            b"https://a/x https://b/y",
        ] {
            assert!(
                signed_url(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
