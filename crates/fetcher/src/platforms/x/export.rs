//! X's owner archive ("Download an archive of your data"): [`XExport`] imports the zip.
//!
//! Every public-content file taken from the zip is stored byte-exact through
//! [`Sink::export_file`] under its name in the zip, and logged as an `IMPORT` entry whose time is
//! the entry's own last-modified time (or the UNIX epoch), so two imports of the same zip are
//! identical. Private files (direct messages, ad data, login IPs, contacts… see [`PRIVATE`]) are
//! never read; they are counted in the report. Files neither public nor private (likes,
//! followers, the archive viewer's assets…) are not imported and are counted in the statement.
//!
//! Posts are derived from `data/tweets.js` (`tweet.js` in old archives, `tweets-partN.js` when
//! split), long posts' full text is joined from `data/note-tweet.js` (by time and text prefix,
//! or by `tweetId`), and each post's media is matched in `data/tweets_media/` (`tweet_media/`)
//! by the documented `<tweet id>-<basename>` naming. The JavaScript is never evaluated: the
//! array after `window.YTD.<name>.partN =` is sliced out and parsed as JSON.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use async_trait::async_trait;
use model::{
    AccountId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile, Rendition, Route,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{FetchError, Result};
use crate::export_zip::{ExportZip, ZipEntry, ZipLimits};
use crate::source::{Identity, Report, Sink, Source, Stored, count};

/// Largest JavaScript data file read into memory (big accounts' `tweets.js` reach hundreds of MB).
const MAX_JS_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// One kind of private file in the archive, never imported. `pattern` is matched against the
/// path under `data/`: a trailing `*` makes it a prefix, otherwise it is the exact name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateRecord {
    pub pattern: &'static str,
    pub what: &'static str,
}

const fn private(pattern: &'static str, what: &'static str) -> PrivateRecord {
    PrivateRecord { pattern, what }
}

/// Files of the archive that are private to the owner and never imported.
pub const PRIVATE: &[PrivateRecord] = &[
    private("direct-message*", "direct messages"),
    private("direct_message*", "direct-message media"),
    private("dm-*", "direct messages"),
    private("audio-video-calls-in-dm*", "direct-message calls"),
    private("grok-*", "Grok conversations"),
    private("ad-*", "advertising data"),
    private("personalization.js", "interests and ad personalisation"),
    private("ip-audit.js", "login IP addresses"),
    private("account-creation-ip.js", "account-creation IP address"),
    private("email-address-change.js", "email addresses"),
    private("phone-number.js", "phone number"),
    private("contact.js", "uploaded address-book contacts"),
    private("ageinfo.js", "age information"),
    private("account-timezone.js", "time zone"),
    private("connected-application.js", "connected applications"),
    private("device-token.js", "device tokens"),
    private("ni-devices.js", "notification devices"),
    private("key-registry.js", "encryption keys"),
    private("sso.js", "single sign-on"),
    private("user-link-clicks.js", "link clicks"),
    private("saved-search.js", "saved searches"),
    private("mute.js", "muted accounts"),
    private("block.js", "blocked accounts"),
    private("smartblock.js", "blocked accounts"),
    private("branch-links.js", "app-install links"),
    private("protected-history.js", "protected-account history"),
    private("periscope-*", "Periscope account data"),
];

/// Public files imported besides posts and their media (paths under `data/`; `*` = prefix).
const PUBLIC: &[&str] = &[
    "manifest.js",
    "profile.js",
    "profile_media/*",
    "deleted-tweets.js",
    "deleted-tweet-headers.js",
    "deleted_tweets_media/*",
    "tweet-headers.js",
    "community-tweet.js",
    "community_tweet_media/*",
    "screen-name-change.js",
    "verified.js",
    "moment.js",
    "moments_media/*",
    "moments_tweets_media/*",
    "lists-created.js",
    "spaces-metadata.js",
    "README.txt",
];

fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == pattern,
    }
}

/// What the importer does with a file of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Account,
    Tweets,
    Notes,
    Media,
    /// Other public content: stored.
    Public,
    /// Never read.
    Private(&'static str),
    /// Not public content of the account (likes, followers, viewer assets): not imported.
    Other,
}

/// The role of `rel`, a path relative to the archive root.
pub fn classify(rel: &str) -> Role {
    if rel == "Your archive.html" {
        return Role::Public;
    }
    let Some(d) = rel.strip_prefix("data/") else {
        return Role::Other;
    };
    if let Some(p) = PRIVATE.iter().find(|p| matches(p.pattern, d)) {
        return Role::Private(p.what);
    }
    if d == "account.js" {
        Role::Account
    } else if tweets_file_order(d).is_some() {
        Role::Tweets
    } else if d == "note-tweet.js" {
        Role::Notes
    } else if d.starts_with("tweets_media/") || d.starts_with("tweet_media/") {
        Role::Media
    } else if PUBLIC.iter().any(|p| matches(p, d)) {
        Role::Public
    } else {
        Role::Other
    }
}

/// `Some(order)` if `d` (under `data/`) is a posts file: `tweets.js`/`tweet.js` first, then
/// `tweets-partN.js` by N.
fn tweets_file_order(d: &str) -> Option<u64> {
    if d == "tweets.js" || d == "tweet.js" {
        return Some(0);
    }
    let n = d
        .strip_prefix("tweets-part")
        .or_else(|| d.strip_prefix("tweet-part"))?
        .strip_suffix(".js")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse::<u64>().ok().map(|n| n.saturating_add(1))
}

/// The owner's X archive, opened and validated.
#[derive(Debug)]
pub struct XExport {
    zip: ExportZip,
    /// `""` or `"<top folder>/"`.
    root: String,
}

impl XExport {
    /// Opens with the default [`ZipLimits`].
    pub async fn open(path: &Path) -> Result<XExport> {
        XExport::open_with(path, ZipLimits::default()).await
    }

    /// Opens and validates the zip and finds the archive root (`data/` at the zip root or under
    /// one top-level folder).
    pub async fn open_with(path: &Path, limits: ZipLimits) -> Result<XExport> {
        let zip = ExportZip::open(path, limits).await?;
        let root = find_root(zip.entries().iter().map(|e| e.name.as_str())).ok_or_else(|| {
            FetchError::Export {
                path: zip.label().to_owned(),
                detail: "not an X archive: no data/ folder at the zip root or under one top-level folder"
                    .into(),
            }
        })?;
        Ok(XExport { zip, root })
    }

    fn refuse(&self, detail: impl Into<String>) -> FetchError {
        FetchError::Export {
            path: self.zip.label().to_owned(),
            detail: detail.into(),
        }
    }

    async fn store(&self, sink: &mut dyn Sink, entry: &ZipEntry) -> Result<Stored> {
        self.zip.store_entry(sink, entry).await
    }
}

/// The archive root among `names`: `""` when `data/` is at the zip root, `"F/"` when every
/// entry (ignoring `__MACOSX/`) is under one folder `F` that holds `data/`.
pub fn find_root<'a>(names: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
    if names.clone().any(|n| n.starts_with("data/")) {
        return Some(String::new());
    }
    let mut tops = names
        .clone()
        .filter(|n| !n.starts_with("__MACOSX/"))
        .map(|n| n.split_once('/').map_or("", |(top, _)| top));
    let first = tops.next()?;
    if first.is_empty() || tops.any(|t| t != first) {
        return None;
    }
    let root = format!("{first}/");
    let data = format!("{root}data/");
    names.clone().any(|n| n.starts_with(&data)).then_some(root)
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure functions over bytes)

fn malformed(file: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform: Platform::X,
        url: file.to_owned(),
        detail: detail.into(),
    }
}

/// The JSON array of an archive data file `window.YTD.<name>.partN = [ … ]`, sliced from the
/// first `[` after the `=`, without a trailing `;`. The JavaScript is never evaluated.
pub fn js_payload<'a>(file: &str, body: &'a [u8]) -> Result<&'a [u8]> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = body.trim_ascii();
    if !text.starts_with(b"window.YTD.") {
        return Err(malformed(
            file,
            "does not start with `window.YTD.<name>.partN = [` (not an X archive data file)",
        ));
    }
    let eq = text
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| malformed(file, "no `=` after `window.YTD.…`"))?;
    let name = &text[..eq].trim_ascii();
    if !name
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
    {
        return Err(malformed(file, "unexpected text before `=`"));
    }
    let rest = text[eq + 1..].trim_ascii_start();
    if !rest.starts_with(b"[") {
        return Err(malformed(
            file,
            "the value after `=` is not an array `[ … ]`",
        ));
    }
    let rest = rest.strip_suffix(b";").unwrap_or(rest).trim_ascii_end();
    Ok(rest)
}

/// The elements of an archive data file.
pub fn parse_js_array(file: &str, body: &[u8]) -> Result<Vec<Value>> {
    serde_json::from_slice(js_payload(file, body)?)
        .map_err(|e| malformed(file, format!("the array is not valid JSON: {e}")))
}

/// `"Wed Oct 10 20:19:24 +0000 2018"` (strftime `%a %b %d %H:%M:%S %z %Y`), as UTC.
pub fn parse_archive_date(s: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute] [year]"
    );
    OffsetDateTime::parse(s, &fmt)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// A count the archive prints as a string (`"favorite_count" : "0"`), or as a number.
pub fn string_number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The account from `account.js`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
}

pub fn parse_account(file: &str, body: &[u8]) -> Result<Account> {
    let arr = parse_js_array(file, body)?;
    let first = arr
        .first()
        .ok_or_else(|| malformed(file, "the account array is empty"))?;
    let a = first.get("account").unwrap_or(first);
    let id = str_at(a, &["accountId"])
        .ok_or_else(|| malformed(file, "no accountId"))?
        .to_owned();
    Ok(Account {
        id,
        username: str_at(a, &["username"]).map(str::to_owned),
        display_name: str_at(a, &["accountDisplayName"]).map(str::to_owned),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Photo,
    Video,
    AnimatedGif,
}

/// One media attachment as the post describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    pub kind: MediaType,
    /// `media_url_https` (for videos, the poster image).
    pub media_url: String,
    /// Video variants (archive field `bitrate`, a string).
    pub offered: Vec<Rendition>,
    /// The highest-bitrate variant.
    pub chosen: Option<Rendition>,
}

impl MediaSpec {
    /// The URL a `MediaRef` records: the chosen variant's for videos, else `media_url_https`.
    pub fn url(&self) -> &str {
        self.chosen.as_ref().map_or(&self.media_url, |r| &r.url)
    }
}

/// One post of `tweets.js`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tweet {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub text: String,
    pub lang: Option<String>,
    pub kind: ItemKind,
    pub metrics: BTreeMap<String, u64>,
    pub references: Vec<String>,
    pub media: Vec<MediaSpec>,
}

/// The highest-bitrate variant; variants without a bitrate (HLS) only if none has one.
pub fn choose_variant(offered: &[Rendition]) -> Option<Rendition> {
    let mut best: Option<&Rendition> = None;
    for r in offered.iter().filter(|r| r.bitrate.is_some()) {
        if best.is_none_or(|b| r.bitrate > b.bitrate) {
            best = Some(r);
        }
    }
    best.or_else(|| {
        offered
            .iter()
            .find(|r| r.content_type.as_deref() == Some("video/mp4"))
    })
    .or(offered.first())
    .cloned()
}

fn parse_media(m: &Value) -> Option<MediaSpec> {
    let kind = match m.get("type").and_then(Value::as_str) {
        Some("video") => MediaType::Video,
        Some("animated_gif") => MediaType::AnimatedGif,
        _ => MediaType::Photo,
    };
    let media_url = str_at(m, &["media_url_https"])
        .or_else(|| str_at(m, &["media_url"]))?
        .to_owned();
    let offered: Vec<Rendition> = m
        .get("video_info")
        .and_then(|v| v.get("variants"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some(Rendition {
                url: str_at(v, &["url"])?.to_owned(),
                content_type: str_at(v, &["content_type"]).map(str::to_owned),
                width: None,
                height: None,
                bitrate: string_number(v.get("bitrate")),
            })
        })
        .collect();
    let chosen = if kind == MediaType::Photo {
        None
    } else {
        choose_variant(&offered)
    };
    Some(MediaSpec {
        kind,
        media_url,
        offered,
        chosen,
    })
}

/// The id in a post permalink (`https://x.com/<user>/status/<id>`, also twitter.com).
fn status_id_in_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.strip_prefix("www.").or(Some(host))?;
    let host = host.strip_prefix("mobile.").unwrap_or(host);
    if host != "x.com" && host != "twitter.com" {
        return None;
    }
    let mut parts = path.split('/');
    let (_, status, id) = (parts.next()?, parts.next()?, parts.next()?);
    let id: String = id.chars().take_while(char::is_ascii_digit).collect();
    (status == "status" && !id.is_empty()).then_some(id)
}

/// One element of a posts file: `{"tweet": {…}}` or a bare post object.
pub fn parse_tweet(file: &str, index: usize, el: &Value) -> Result<Tweet> {
    let t = el.get("tweet").unwrap_or(el);
    let bad = |what: &str| malformed(file, format!("element {index}: {what}"));
    if !t.is_object() {
        return Err(bad("not an object"));
    }
    let id = str_at(t, &["id_str"])
        .or_else(|| str_at(t, &["id"]))
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad("no numeric id_str"))?
        .to_owned();
    let created = str_at(t, &["created_at"]).ok_or_else(|| bad("no created_at"))?;
    let created_at = parse_archive_date(created).ok_or_else(|| {
        bad(&format!(
            "created_at {created:?} is not like \"Wed Oct 10 20:19:24 +0000 2018\""
        ))
    })?;
    let text = t
        .get("full_text")
        .or_else(|| t.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no full_text"))?
        .to_owned();
    let reply_to = str_at(t, &["in_reply_to_status_id_str"]).map(str::to_owned);
    let quoted = str_at(t, &["quoted_status_id_str"])
        .or_else(|| str_at(t, &["quoted_status", "id_str"]))
        .map(str::to_owned);
    let is_quote = quoted.is_some()
        || t.get("is_quote_status")
            .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    // Archives carry no `quoted_status_id_str`: a post whose link is another post's permalink
    // is a quote (X renders it as one).
    let permalink = t
        .get("entities")
        .and_then(|e| e.get("urls"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .rev()
        .find_map(|u| str_at(u, &["expanded_url"]).and_then(status_id_in_url))
        .filter(|q| *q != id);
    let permalink_quote = permalink.is_some();
    let (kind, references) = if text.starts_with("RT @") || t.get("retweeted_status").is_some() {
        let r = str_at(t, &["retweeted_status", "id_str"]).map(str::to_owned);
        (ItemKind::Repost, r.into_iter().collect())
    } else if let Some(r) = reply_to {
        let mut refs = vec![r];
        refs.extend(quoted);
        (ItemKind::Reply, refs)
    } else if is_quote || permalink_quote {
        (ItemKind::Quote, quoted.or(permalink).into_iter().collect())
    } else {
        (ItemKind::Post, Vec::new())
    };
    let mut metrics = BTreeMap::new();
    if let Some(n) = string_number(t.get("favorite_count")) {
        metrics.insert("likes".to_owned(), n);
    }
    if let Some(n) = string_number(t.get("retweet_count")) {
        metrics.insert("reposts".to_owned(), n);
    }
    let media_list = t
        .get("extended_entities")
        .and_then(|e| e.get("media"))
        .or_else(|| t.get("entities").and_then(|e| e.get("media")))
        .and_then(Value::as_array);
    let media = media_list
        .into_iter()
        .flatten()
        .filter_map(parse_media)
        .collect();
    Ok(Tweet {
        id,
        created_at,
        text,
        lang: str_at(t, &["lang"]).map(str::to_owned),
        kind,
        metrics,
        references,
        media,
    })
}

/// One entry of `note-tweet.js`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Only in the `noteTweetResults` shape; `noteTweetId` is not a post id.
    pub tweet_id: Option<String>,
    pub created_at: Option<OffsetDateTime>,
    pub text: String,
}

pub fn parse_notes(file: &str, body: &[u8]) -> Result<Vec<Note>> {
    let mut notes = Vec::new();
    for (i, el) in parse_js_array(file, body)?.iter().enumerate() {
        let n = el.get("noteTweet").unwrap_or(el);
        let text = str_at(n, &["core", "text"])
            .or_else(|| str_at(n, &["noteTweetResults", "text"]))
            .or_else(|| str_at(n, &["noteTweetResults", "result", "text"]))
            .or_else(|| str_at(n, &["text"]))
            .ok_or_else(|| malformed(file, format!("element {i}: no note text")))?;
        let tweet_id = str_at(n, &["tweetId"])
            .or_else(|| str_at(n, &["noteTweetResults", "tweetId"]))
            .or_else(|| str_at(el, &["tweetId"]))
            .map(str::to_owned);
        let created_at = str_at(n, &["createdAt"])
            .or_else(|| str_at(el, &["createdAt"]))
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        notes.push(Note {
            tweet_id,
            created_at,
            text: text.to_owned(),
        });
    }
    Ok(notes)
}

/// The visible part of a post truncated with `…` (trailing t.co links and spaces removed), or
/// `None` if the text is not truncated.
pub fn truncated_prefix(text: &str) -> Option<&str> {
    let mut t = text.trim_end();
    loop {
        match t.rsplit_once(char::is_whitespace) {
            Some((head, last)) if last.starts_with("https://t.co/") => t = head.trim_end(),
            _ => break,
        }
    }
    t.strip_suffix('…').map(str::trim_end)
}

/// The note holding `tweet`'s full text: by `tweetId` when the note has one, else same second
/// of creation and the truncated text a prefix of the note's. Each note joins at most once.
pub fn join_note(tweet: &Tweet, notes: &[Note], used: &mut [bool]) -> Option<usize> {
    if let Some(i) =
        (0..notes.len()).find(|&i| !used[i] && notes[i].tweet_id.as_deref() == Some(&tweet.id))
    {
        used[i] = true;
        return Some(i);
    }
    let prefix = truncated_prefix(&tweet.text).filter(|p| !p.is_empty())?;
    let i = (0..notes.len()).find(|&i| {
        !used[i]
            && notes[i].tweet_id.is_none()
            && notes[i]
                .created_at
                .is_some_and(|c| c.unix_timestamp() == tweet.created_at.unix_timestamp())
            && notes[i].text.starts_with(prefix)
    })?;
    used[i] = true;
    Some(i)
}

/// The archive file of each of `tweet_id`'s media: photos `<id>-<basename of media_url>`,
/// videos and GIFs the first unused `<id>-….mp4`. `files` maps file names (without folder) to
/// their entry names.
pub fn match_media(
    tweet_id: &str,
    specs: &[MediaSpec],
    files: &BTreeMap<String, String>,
) -> Vec<Option<String>> {
    let prefix = format!("{tweet_id}-");
    let mut taken: HashSet<&str> = HashSet::new();
    let mut out = vec![None; specs.len()];
    for (i, m) in specs.iter().enumerate() {
        if m.kind == MediaType::Photo {
            let base = m.media_url.rsplit('/').next().unwrap_or_default();
            let base = base.split(['?', ':']).next().unwrap_or_default();
            if let Some((k, full)) = files.get_key_value(&format!("{prefix}{base}"))
                && taken.insert(k.as_str())
            {
                out[i] = Some(full.clone());
            }
        }
    }
    for (i, m) in specs.iter().enumerate() {
        if m.kind != MediaType::Photo {
            let found = files
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .find(|(k, _)| {
                    k.to_ascii_lowercase().ends_with(".mp4") && !taken.contains(k.as_str())
                });
            if let Some((k, full)) = found {
                taken.insert(k.as_str());
                out[i] = Some(full.clone());
            }
        }
    }
    out
}

/// Sum of the posts counts in `manifest.js` (`window.__THAR_CONFIG = {…}`), if readable.
fn manifest_posts(body: &[u8]) -> Option<u64> {
    let start = body.iter().position(|&b| b == b'{')?;
    let text = body[start..].trim_ascii_end();
    let text = text.strip_suffix(b";").unwrap_or(text);
    let v: Value = serde_json::from_slice(text).ok()?;
    let files = v
        .get("dataTypes")?
        .get("tweets")?
        .get("files")?
        .as_array()?;
    files
        .iter()
        .map(|f| string_number(f.get("count")))
        .sum::<Option<u64>>()
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Source for XExport {
    fn platform(&self) -> Platform {
        Platform::X
    }

    fn route(&self) -> Route {
        Route::Export
    }

    #[allow(clippy::too_many_lines)]
    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        // 1. Plan: classify every entry; nothing is emitted before the required files parsed.
        let entries: Vec<ZipEntry> = self.zip.entries().to_vec();
        let mut roles: Vec<(ZipEntry, Role)> = Vec::new();
        for e in entries {
            let role = e
                .name
                .strip_prefix(self.root.as_str())
                .map_or(Role::Other, classify);
            roles.push((e, role));
        }
        let private: Vec<&'static str> = roles
            .iter()
            .filter_map(|(_, r)| match r {
                Role::Private(w) => Some(*w),
                _ => None,
            })
            .collect();
        let other = roles.iter().filter(|(_, r)| *r == Role::Other).count();
        let account_entry = roles
            .iter()
            .find(|(_, r)| *r == Role::Account)
            .map(|(e, _)| e.clone())
            .ok_or_else(|| {
                self.refuse(format!("not an X archive: no {}data/account.js", self.root))
            })?;
        let mut tweet_files: Vec<(u64, ZipEntry)> = roles
            .iter()
            .filter(|(_, r)| *r == Role::Tweets)
            .filter_map(|(e, _)| {
                let d = e
                    .name
                    .strip_prefix(self.root.as_str())?
                    .strip_prefix("data/")?;
                Some((tweets_file_order(d)?, e.clone()))
            })
            .collect();
        tweet_files.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
        if tweet_files.is_empty() {
            return Err(self.refuse(format!(
                "no {0}data/tweets.js, tweet.js or tweets-partN.js: the archive holds no posts file (incomplete download?); nothing imported",
                self.root
            )));
        }

        // 2. Parse the data files (in memory; never evaluated).
        let account_body = self.zip.read(&account_entry.name, MAX_JS_BYTES).await?;
        let account = parse_account(&account_entry.name, &account_body)?;
        let account_id = AccountId::new(&account.id)
            .map_err(|e| malformed(&account_entry.name, format!("accountId: {e}")))?;
        let mut tweets: Vec<(usize, Tweet)> = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut duplicates = 0u64;
        for (fi, (_, e)) in tweet_files.iter().enumerate() {
            let body = self.zip.read(&e.name, MAX_JS_BYTES).await?;
            for (i, el) in parse_js_array(&e.name, &body)?.iter().enumerate() {
                let t = parse_tweet(&e.name, i, el)?;
                if seen_ids.insert(t.id.clone()) {
                    tweets.push((fi, t));
                } else {
                    duplicates += 1;
                }
            }
        }
        let notes = match roles.iter().find(|(_, r)| *r == Role::Notes) {
            Some((e, _)) => parse_notes(&e.name, &self.zip.read(&e.name, MAX_JS_BYTES).await?)?,
            None => Vec::new(),
        };
        let mut profile_bio = None;
        let mut reported = BTreeMap::new();
        for (e, r) in &roles {
            let rel = e.name.strip_prefix(self.root.as_str()).unwrap_or_default();
            if *r == Role::Public && rel == "data/profile.js" {
                let arr = parse_js_array(&e.name, &self.zip.read(&e.name, MAX_JS_BYTES).await?)?;
                profile_bio = arr.first().and_then(|p| {
                    str_at(p.get("profile").unwrap_or(p), &["description", "bio"])
                        .map(str::to_owned)
                });
            }
            if *r == Role::Public
                && rel == "data/manifest.js"
                && let Some(n) = manifest_posts(&self.zip.read(&e.name, MAX_JS_BYTES).await?)
            {
                reported.insert("posts".to_owned(), n);
            }
        }

        // 3. Emit: begin, account.js, profile, the other data files, then posts with their media.
        let who = Identity::new(Some(&account.id), account.username.as_deref());
        sink.identify(&who).await?;
        sink.begin(&account_id).await?;
        let mut stored_files = 0u64;
        let mut stored: HashMap<String, Stored> = HashMap::new();
        let s = self.store(sink, &account_entry).await?;
        stored_files += 1;
        stored.insert(account_entry.name.clone(), s);
        let username = account.username.clone();
        sink.profile(Profile {
            platform: Platform::X,
            id: account.id.clone(),
            username: username.clone(),
            display_name: account.display_name.clone(),
            description: profile_bio,
            url: username.as_ref().map(|u| format!("https://x.com/{u}")),
            counts: BTreeMap::new(),
            media: Vec::new(),
            route: Route::Export,
        })
        .await?;
        for (e, r) in &roles {
            if matches!(r, Role::Tweets | Role::Notes | Role::Public) {
                let s = self.store(sink, e).await?;
                stored_files += 1;
                stored.insert(e.name.clone(), s);
            }
        }

        let media_files: BTreeMap<String, String> = {
            let mut m = BTreeMap::new();
            for (e, r) in &roles {
                if *r == Role::Media {
                    let base = e.name.rsplit('/').next().unwrap_or_default().to_owned();
                    m.entry(base).or_insert_with(|| e.name.clone());
                }
            }
            m
        };
        let mut used = vec![false; notes.len()];
        let (mut posts, mut media_count, mut photos) = (0u64, 0u64, 0u64);
        for (fi, t) in &tweets {
            let source_path = stored.get(&tweet_files[*fi].1.name).map(|s| s.path.clone());
            let files = match_media(&t.id, &t.media, &media_files);
            let mut refs = Vec::new();
            let mut gaps = Vec::new();
            for (m, file) in t.media.iter().zip(files) {
                if m.kind == MediaType::Photo {
                    photos += 1;
                }
                let sha = if let Some(name) = file {
                    if let Some(s) = stored.get(&name) {
                        Some(s.sha256)
                    } else {
                        let entry = self
                            .zip
                            .entry(&name)
                            .cloned()
                            .ok_or_else(|| self.refuse(format!("entry {name:?} vanished")))?;
                        let s = self.store(sink, &entry).await?;
                        stored_files += 1;
                        media_count += 1;
                        let sha = s.sha256;
                        stored.insert(name, s);
                        Some(sha)
                    }
                } else {
                    let why = if t.kind == ItemKind::Repost {
                        "the archive does not include media of reposted posts"
                    } else {
                        "the media file is not in the archive's tweets_media/ folder"
                    };
                    gaps.push(Gap {
                        reason: GapReason::MissingFromExport,
                        detail: format!(
                            "post {}: {why}; the API route can fetch {}",
                            t.id,
                            m.url()
                        ),
                        item_id: Some(t.id.clone()),
                        url: Some(m.url().to_owned()),
                    });
                    None
                };
                refs.push(MediaRef {
                    sha256: sha,
                    original_url: m.url().to_owned(),
                    chosen: m.chosen.clone(),
                    offered: m.offered.clone(),
                });
            }
            let text = if let Some(i) = join_note(t, &notes, &mut used) {
                notes[i].text.clone()
            } else {
                if truncated_prefix(&t.text).is_some() && !notes.is_empty() {
                    gaps.push(Gap {
                        reason: GapReason::Other,
                        detail: format!(
                            "post {}: text truncated with … in the archive and no matching note-tweet.js entry; the API route returns the full text",
                            t.id
                        ),
                        item_id: Some(t.id.clone()),
                        url: None,
                    });
                }
                t.text.clone()
            };
            sink.item(Item {
                id: t.id.clone(),
                platform: Platform::X,
                kind: t.kind,
                created_at: t.created_at,
                text,
                lang: t.lang.clone(),
                pinned: false,
                metrics: t.metrics.clone(),
                media: refs,
                url: Some(match &username {
                    Some(u) => format!("https://x.com/{u}/status/{}", t.id),
                    None => format!("https://x.com/i/status/{}", t.id),
                }),
                references: t.references.clone(),
                route: Route::Export,
                source_path,
            })
            .await?;
            posts += 1;
            for g in gaps {
                sink.gap(g).await?;
            }
        }
        // Media no post refers to (e.g. of posts since deleted) are still the account's.
        for (e, r) in &roles {
            if *r == Role::Media && !stored.contains_key(&e.name) {
                let s = self.store(sink, e).await?;
                stored_files += 1;
                media_count += 1;
                stored.insert(e.name.clone(), s);
            }
        }
        if photos > 0 {
            sink.gap(Gap {
                reason: GapReason::Other,
                detail: "the archive's images are smaller than the originals; the API route fetches full-size images while the account exists".into(),
                item_id: None,
                url: None,
            })
            .await?;
        }

        // 4. Report.
        let mut captured = BTreeMap::new();
        captured.insert("posts".to_owned(), posts);
        captured.insert("media".to_owned(), media_count);
        captured.insert("files".to_owned(), stored_files);
        captured.insert("private_files_skipped".to_owned(), private.len() as u64);
        let mut kinds: Vec<&str> = Vec::new();
        for w in &private {
            if !kinds.contains(w) {
                kinds.push(w);
            }
        }
        let mut statement = format!(
            "Imported the owner's X archive: {} and {}; {} stored byte-exact.",
            count(posts, "post", "posts"),
            count(media_count, "media file", "media files"),
            count(stored_files, "file", "files")
        );
        if !private.is_empty() {
            let _ = write!(
                statement,
                " {} private files ({}) were deliberately not imported.",
                private.len(),
                kinds.join(", ")
            );
        }
        if other > 0 {
            let (are, were) = if other == 1 {
                ("is", "was")
            } else {
                ("are", "were")
            };
            let _ = write!(
                statement,
                " {} (likes, followers, the archive viewer's assets…) {are} not public content of the account and {were} not imported.",
                count(other as u64, "other file", "other files")
            );
        }
        if duplicates > 0 {
            let _ = write!(
                statement,
                " {duplicates} posts listed twice across the posts files were imported once."
            );
        }
        if let Some(n) = reported.get("posts")
            && *n != posts
        {
            let _ = write!(
                statement,
                " The archive's manifest lists {n} posts, {posts} were found."
            );
        }
        if photos > 0 {
            statement.push_str(
                " Archive images are smaller than the originals: use the API route for full-size images.",
            );
        }
        Ok(Report {
            platform_reported: reported,
            captured,
            statement,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn slices_js_without_evaluating() {
        let body = b"window.YTD.tweets.part0 = [ {\"a\" : \"1\"} ];\n";
        assert_eq!(js_payload("f", body).unwrap(), b"[ {\"a\" : \"1\"} ]");
        let bom = b"\xEF\xBB\xBFwindow.YTD.tweet.part0 = [ ]";
        assert_eq!(parse_js_array("f", bom).unwrap(), Vec::<Value>::new());
        for bad in [
            &b"[1]"[..],
            b"alert(1); window.YTD.x.part0 = [1]",
            b"window.YTD.x.part0 = {}",
            b"window.YTD.x.part0 = [1] ; evil()",
            b"",
        ] {
            let e = parse_js_array("data/tweets.js", bad).unwrap_err();
            assert_eq!(e.kind(), "malformed");
            assert!(e.to_string().contains("data/tweets.js"), "{e}");
        }
    }

    #[test]
    fn parses_archive_dates() {
        assert_eq!(
            parse_archive_date("Wed Oct 10 20:19:24 +0000 2018").unwrap(),
            datetime!(2018-10-10 20:19:24 UTC)
        );
        assert_eq!(
            parse_archive_date("Sun May 12 12:15:00 +0300 2024").unwrap(),
            datetime!(2024-05-12 09:15:00 UTC)
        );
        assert!(parse_archive_date("2018-10-10T20:19:24Z").is_none());
        assert!(parse_archive_date("Wed Oct 10 20:19:24 +0000 2018 x").is_none());
    }

    #[test]
    fn reads_string_numbers() {
        let v: Value =
            serde_json::from_str(r#"{"a" : "12", "b" : 3, "c" : "x", "d" : [ ]}"#).unwrap();
        assert_eq!(string_number(v.get("a")), Some(12));
        assert_eq!(string_number(v.get("b")), Some(3));
        assert_eq!(string_number(v.get("c")), None);
        assert_eq!(string_number(v.get("d")), None);
        assert_eq!(string_number(v.get("e")), None);
    }

    fn tweet(id: &str, text: &str, at: OffsetDateTime) -> Tweet {
        Tweet {
            id: id.into(),
            created_at: at,
            text: text.into(),
            lang: None,
            kind: ItemKind::Post,
            metrics: BTreeMap::new(),
            references: vec![],
            media: vec![],
        }
    }

    #[test]
    fn joins_notes_by_time_and_prefix() {
        let at = datetime!(2024-05-12 09:15:00 UTC);
        let notes = vec![
            Note {
                tweet_id: None,
                created_at: Some(at),
                text: "نص آخر طويل".into(),
            },
            Note {
                tweet_id: None,
                created_at: Some(datetime!(2024-05-12 09:15:00.000 UTC)),
                text: "مرحبا بالعالم ١٢٣ 🎉 هذا نص طويل جدا".into(),
            },
            Note {
                tweet_id: Some("77".into()),
                created_at: None,
                text: "full".into(),
            },
        ];
        let mut used = vec![false; 3];
        let t = tweet("1", "مرحبا بالعالم ١٢٣ 🎉 هذا… https://t.co/AbC", at);
        assert_eq!(join_note(&t, &notes, &mut used), Some(1));
        assert_eq!(join_note(&t, &notes, &mut used), None, "a note joins once");
        let other_second = tweet("2", "نص آخر…", at + time::Duration::seconds(1));
        assert_eq!(join_note(&other_second, &notes, &mut used), None);
        let not_truncated = tweet("3", "نص آخر", at);
        assert_eq!(join_note(&not_truncated, &notes, &mut used), None);
        assert_eq!(join_note(&tweet("77", "x", at), &notes, &mut used), Some(2));
        assert_eq!(
            truncated_prefix("abc …  https://t.co/a https://t.co/b "),
            Some("abc")
        );
        assert_eq!(truncated_prefix("abc https://t.co/a"), None);
    }

    #[test]
    fn matches_media_files() {
        let files: BTreeMap<String, String> = [
            "10-AbC.jpg",
            "10-zz.mp4",
            "100-other.mp4",
            "11-x.mp4",
            "11-y.MP4",
        ]
        .iter()
        .map(|f| ((*f).to_owned(), format!("data/tweets_media/{f}")))
        .collect();
        let photo = |u: &str| MediaSpec {
            kind: MediaType::Photo,
            media_url: u.into(),
            offered: vec![],
            chosen: None,
        };
        let video = MediaSpec {
            kind: MediaType::Video,
            media_url: "https://pbs.twimg.com/thumb.jpg".into(),
            offered: vec![],
            chosen: None,
        };
        assert_eq!(
            match_media(
                "10",
                &[
                    photo("https://pbs.twimg.com/media/AbC.jpg"),
                    video.clone(),
                    photo("https://pbs.twimg.com/media/Gone.jpg")
                ],
                &files
            ),
            vec![
                Some("data/tweets_media/10-AbC.jpg".into()),
                Some("data/tweets_media/10-zz.mp4".into()),
                None
            ]
        );
        assert_eq!(
            match_media("11", &[video.clone(), video.clone(), video.clone()], &files),
            vec![
                Some("data/tweets_media/11-x.mp4".into()),
                Some("data/tweets_media/11-y.MP4".into()),
                None
            ]
        );
        assert_eq!(
            match_media("1", &[video], &files),
            vec![None],
            "100- is not 1-"
        );
    }

    #[test]
    fn chooses_the_highest_bitrate() {
        let r = |b: Option<u64>, ct: &str| Rendition {
            url: format!("https://video.twimg.com/{b:?}"),
            content_type: Some(ct.into()),
            width: None,
            height: None,
            bitrate: b,
        };
        let offered = vec![
            r(Some(832_000), "video/mp4"),
            r(None, "application/x-mpegURL"),
            r(Some(2_176_000), "video/mp4"),
            r(Some(256_000), "video/mp4"),
        ];
        assert_eq!(choose_variant(&offered).unwrap().bitrate, Some(2_176_000));
        assert_eq!(choose_variant(&offered[1..2]).unwrap().bitrate, None);
        assert_eq!(choose_variant(&[]), None);
    }

    #[test]
    fn classifies_files() {
        assert_eq!(classify("data/tweets.js"), Role::Tweets);
        assert_eq!(classify("data/tweet.js"), Role::Tweets);
        assert_eq!(classify("data/tweets-part2.js"), Role::Tweets);
        assert_eq!(classify("data/tweets-partx.js"), Role::Other);
        assert_eq!(
            classify("data/direct-messages.js"),
            Role::Private("direct messages")
        );
        assert_eq!(
            classify("data/direct-messages-group.js"),
            Role::Private("direct messages")
        );
        assert!(matches!(
            classify("data/direct_messages_media/1-a.jpg"),
            Role::Private(_)
        ));
        assert!(matches!(
            classify("data/ad-impressions.js"),
            Role::Private(_)
        ));
        assert!(matches!(classify("data/ip-audit.js"), Role::Private(_)));
        assert_eq!(classify("data/account.js"), Role::Account);
        assert_eq!(classify("data/tweets_media/1-a.jpg"), Role::Media);
        assert_eq!(classify("data/tweet_media/1-a.jpg"), Role::Media);
        assert_eq!(classify("Your archive.html"), Role::Public);
        assert_eq!(classify("data/like.js"), Role::Other);
        assert_eq!(classify("assets/js/main.js"), Role::Other);
    }

    #[test]
    fn finds_the_root() {
        let r = |names: &[&str]| find_root(names.iter().copied());
        assert_eq!(
            r(&["Your archive.html", "data/account.js"]),
            Some(String::new())
        );
        assert_eq!(
            r(&["t/", "t/data/account.js", "__MACOSX/t/._x"]),
            Some("t/".into())
        );
        assert_eq!(r(&["a/data/x", "b/data/y"]), None);
        assert_eq!(r(&["x.txt"]), None);
    }

    #[test]
    fn reads_status_ids_from_permalinks() {
        assert_eq!(
            status_id_in_url("https://twitter.com/a/status/123?s=20"),
            Some("123".into())
        );
        assert_eq!(
            status_id_in_url("https://x.com/a/status/9"),
            Some("9".into())
        );
        assert_eq!(status_id_in_url("https://example.com/a/status/9"), None);
    }
}
