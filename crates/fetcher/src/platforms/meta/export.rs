//! Shared machinery of Meta's "Download Your Information" (DYI) imports: Instagram's and
//! Facebook's `export` routes ([`crate::platforms::instagram::export`],
//! [`crate::platforms::facebook::export`]) differ in file names and shapes, not in how an
//! export is opened, read and stored. Decisions an integrator should know:
//!
//! - **Parts.** An export may come as several zips; they are read as one ([`ExportParts`]).
//!   A single top-level folder wrapping everything (an unzipped-and-rezipped export) is
//!   tolerated ([`find_root`]).
//! - **Layouts** are recognised by file names (Meta moves them between years). An export in no
//!   known layout is refused with the top-level names found, never imported as an empty
//!   bundle; an HTML-format export (DYI's default) is refused with the advice to request JSON.
//! - **Text.** Every JSON document is parsed, then every string is repaired
//!   ([`repair_value`], reference §6.1) before anything is derived from it; the files
//!   themselves are stored byte-exact with [`ExportParts::store_entry`].
//! - **Privacy.** Files under the folders of [`PRIVATE`] (messages, contacts, login and
//!   security data, ads, search and other logged activity…) are never read nor stored, even
//!   when a post refers to one; the report counts them by kind.
//! - **Media references.** DYI gives no media URL, only a `uri` relative to the export root:
//!   `MediaRef::original_url` is the file's path inside the export (the name it is stored
//!   under in `data/original/export/`), or the `uri` as written when the file is missing. A
//!   `uri` that is already an `http(s)` URL is kept as is.
//! - **Missing files.** A `uri` absent from every part is a [`GapReason::MissingFromExport`]
//!   gap naming the item, never an error.
//! - **Ids.** DYI has no post ids: items are named `<kind>-<creation Unix seconds>`, with
//!   `-2`, `-3`… for later items of the same kind and second in file order ([`ItemIds`]), so a
//!   re-import of the same export gives the same ids, and a later export of the same account
//!   gives the same id to the same post (unless two posts share their second).
//! - **Account.** DYI has no numeric account id: the username from the profile file, else the
//!   one in the zip's file name (`instagram-<username>-<date>-<rand>.zip`), made a valid
//!   [`AccountId`]; else the import asks for `--account`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use model::{AccountId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Route};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{FetchError, Result};
use crate::export_zip::{ExportParts, ZipEntry, ZipLimits};
use crate::platforms::meta::mojibake::repair_value;
use crate::source::count;
use crate::source::{Identity, Report, Sink, Stored};

/// Largest JSON document read into memory (big accounts' posts files reach hundreds of MB).
const MAX_JSON_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// One kind of private data, never read nor stored. `segment` is a folder name: a file whose
/// path (relative to the export root) has that folder anywhere is private. A `segment` with a
/// `.` (`messages.json`) is a file name instead (Meta's folder names have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivateRecord {
    pub segment: &'static str,
    pub what: &'static str,
}

const fn private(segment: &'static str, what: &'static str) -> PrivateRecord {
    PrivateRecord { segment, what }
}

/// Folders (and files) of Instagram and Facebook exports that hold the owner's private data.
pub const PRIVATE: &[PrivateRecord] = &[
    private("messages", "messages"),
    private("inbox", "messages"),
    private("message_requests", "messages"),
    private("archived_threads", "messages"),
    private("filtered_threads", "messages"),
    private("e2ee_cutover", "messages"),
    private("contacts", "contacts"),
    private("synced_contacts.json", "contacts"),
    private(
        "security_and_login_information",
        "login and security information",
    ),
    private(
        "login_and_account_creation",
        "login and security information",
    ),
    private(
        "login_and_profile_creation",
        "login and security information",
    ),
    private("ads_information", "ads information"),
    private("ads_and_businesses", "ads information"),
    private("ads_and_topics", "ads information"),
    private("logged_information", "search history and logged activity"),
    private("search", "search history and logged activity"),
    private("recent_searches", "search history and logged activity"),
    private("searches", "search history and logged activity"),
    private("location", "location history"),
    private("device_information", "devices"),
    private("apps_and_websites_off_of_instagram", "activity off Meta"),
    private("apps_and_websites_off_of_facebook", "activity off Meta"),
    private("your_activity_off_meta_technologies", "activity off Meta"),
    private("information_about_you", "inferred information"),
    private("monetization", "payments"),
    private("payments", "payments"),
    private("meta_pay", "payments"),
    private("other_personal_information", "other personal information"),
    // Instagram exports up to 2020 keep everything in files at the root.
    private("messages.json", "messages"),
    private("contacts.json", "contacts"),
    private("searches.json", "search history and logged activity"),
    private("devices.json", "devices"),
    private("account_history.json", "login and security information"),
];

/// The kind of private data `rel` (a path relative to the export root) holds, if any.
pub fn private_kind(rel: &str) -> Option<&'static str> {
    let file = rel.rsplit('/').next().unwrap_or_default();
    PRIVATE
        .iter()
        .find(|p| {
            if p.segment.contains('.') {
                file == p.segment
            } else {
                rel.split('/').rev().skip(1).any(|s| s == p.segment)
            }
        })
        .map(|p| p.what)
}

/// The export root among `names`: `""` when a file `is_marker` accepts is at the zip root,
/// `"F/"` when every entry (ignoring `__MACOSX/`) is under one folder `F` holding such a file.
pub fn find_root<'a, I>(names: &I, is_marker: impl Fn(&str) -> bool) -> Option<String>
where
    I: Iterator<Item = &'a str> + Clone,
{
    if names.clone().any(&is_marker) {
        return Some(String::new());
    }
    let top = single_top(names.clone())?;
    names
        .clone()
        .filter_map(|n| n.strip_prefix(top.as_str()))
        .any(&is_marker)
        .then_some(top)
}

/// `"F/"` when every entry (ignoring `__MACOSX/`) is under the one folder `F`.
fn single_top<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut tops = names
        .filter(|n| !n.starts_with("__MACOSX/"))
        .map(|n| n.split_once('/').map_or("", |(top, _)| top));
    let first = tops.next()?;
    if first.is_empty() || tops.any(|t| t != first) {
        return None;
    }
    Some(format!("{first}/"))
}

/// `s` written the way Meta's exporter garbles it (each UTF-8 byte as the code point of the
/// same value): the inverse of the repair, to find a file whose name was stored garbled.
fn garble(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

/// Whether `name` ends in `.json` (any case).
pub fn is_json(name: &str) -> bool {
    name.len() > 5
        && name.is_char_boundary(name.len() - 5)
        && name[name.len() - 5..].eq_ignore_ascii_case(".json")
}

/// A DYI export opened and validated, its root found.
#[derive(Debug)]
pub struct Dyi {
    platform: Platform,
    zip: ExportParts,
    /// `""` or `"<top folder>/"`.
    root: String,
    paths: Vec<PathBuf>,
}

impl Dyi {
    /// Opens every part and finds the root from the files `is_marker` accepts (paths relative
    /// to the root). `what` names the export in errors ("an Instagram export").
    pub async fn open(
        platform: Platform,
        what: &str,
        paths: &[PathBuf],
        limits: ZipLimits,
        is_marker: impl Fn(&str) -> bool,
    ) -> Result<Dyi> {
        let zip = ExportParts::open(paths, limits).await?;
        let names = zip.entries().iter().map(|e| e.name.as_str());
        let Some(root) = find_root(&names, &is_marker) else {
            let refuse = |detail: String| FetchError::Export {
                path: zip.label().to_owned(),
                detail,
            };
            // DYI's default format is HTML: the same names, `.html` instead of `.json`.
            let top = single_top(names.clone()).unwrap_or_default();
            let html = names.clone().any(|n| {
                let rel = n.strip_prefix(top.as_str()).unwrap_or(n);
                let json = rel.strip_suffix(".html").map(|r| format!("{r}.json"));
                rel == "start_here.html"
                    || rel == "index.html"
                    || json.is_some_and(|j| is_marker(&j))
            });
            if html {
                return Err(refuse(format!(
                    "this is {what} in HTML format, which cannot be imported: request it again in Accounts Center → Download your information, choosing Format: JSON (and Date range: All time, Media quality: High)"
                )));
            }
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
            return Err(refuse(format!(
                "not {what} (or a layout this version does not know): found {list}"
            )));
        };
        Ok(Dyi {
            platform,
            zip,
            root,
            paths: paths.to_vec(),
        })
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn label(&self) -> &str {
        self.zip.label()
    }

    /// The paths of the zips, as given.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn refuse(&self, detail: impl Into<String>) -> FetchError {
        FetchError::Export {
            path: self.zip.label().to_owned(),
            detail: detail.into(),
        }
    }

    /// Every file with its path relative to the export root (files outside the root, like
    /// `__MACOSX/` debris, have none).
    pub fn files(&self) -> impl Iterator<Item = (&ZipEntry, Option<&str>)> {
        self.zip
            .entries()
            .iter()
            .map(|e| (e, e.name.strip_prefix(self.root.as_str())))
    }

    /// The file at `rel` (relative to the root).
    pub fn file(&self, rel: &str) -> Option<&ZipEntry> {
        self.zip.entry(&format!("{}{rel}", self.root))
    }

    /// The file a JSON `uri` refers to (relative to the root; looked up as repaired, then as
    /// Meta garbles it, since folder names carry the same mojibake as the JSON).
    pub fn resolve(&self, uri: &str) -> Option<&ZipEntry> {
        let rel = uri.trim_start_matches('/');
        self.file(rel).or_else(|| self.file(&garble(rel)))
    }

    /// A JSON document, parsed, with every string repaired.
    pub async fn read_json(&self, entry: &ZipEntry) -> Result<Value> {
        let body = self.zip.read(&entry.name, MAX_JSON_BYTES).await?;
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&body);
        let mut v: Value = serde_json::from_slice(body)
            .map_err(|e| malformed(self.platform, &entry.name, format!("not valid JSON: {e}")))?;
        repair_value(&mut v);
        Ok(v)
    }

    /// Stores a file byte-exact under its name in the export.
    pub async fn store(&self, sink: &mut dyn Sink, entry: &ZipEntry) -> Result<Stored> {
        self.zip.store_entry(sink, entry).await
    }
}

pub fn malformed(platform: Platform, file: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform,
        url: file.to_owned(),
        detail: detail.into(),
    }
}

/// Unix seconds (a number, or a string of digits) as UTC.
pub fn unix_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    let secs = match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    if secs <= 0 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// A non-empty string at `path`.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// `name` as an [`AccountId`]: characters outside ASCII letters, digits and `._-` become `_`
/// (runs collapsed, ends trimmed); `None` if no letter or digit remains.
pub fn account_id_from(name: &str) -> Option<AccountId> {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches(|c| matches!(c, '_' | '.' | '-'));
    if !out.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let out: String = out.chars().take(128).collect();
    AccountId::new(&out).ok()
}

/// The username in a zip's file name `<prefix><username>-<date>-<rand>.zip` (the username
/// stops at the first `-`; Instagram and Facebook usernames have none).
pub fn account_from_file_names(paths: &[PathBuf], prefix: &str) -> Option<AccountId> {
    paths.iter().find_map(|p| {
        let name = p.file_name()?.to_str()?;
        let rest = name.strip_prefix(prefix)?;
        let user = rest.split('-').next()?;
        let user = user.strip_suffix(".zip").unwrap_or(user);
        if user.is_empty() || user.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        account_id_from(user)
    })
}

/// Who an export says it belongs to: the username its profile file holds, else the one in the
/// zip's file name (the same places [`resolve_account`] looks when no account is given).
pub fn export_identity(dyi: &Dyi, username: Option<&str>, zip_prefix: &str) -> Identity {
    let from_file = || account_from_file_names(dyi.paths(), zip_prefix).map(String::from);
    Identity {
        ids: Vec::new(),
        handle: username.map(str::to_owned).or_else(from_file),
    }
}

/// The account an export belongs to: the one given (`--account`), else the `username` its
/// profile file holds, else the one in the zip's file name (`<zip_prefix><username>-…`); else
/// an error asking for `--account`, naming the file looked in.
pub fn resolve_account(
    dyi: &Dyi,
    given: Option<&AccountId>,
    username: Option<&str>,
    zip_prefix: &str,
    profile_file: &str,
) -> Result<AccountId> {
    if let Some(a) = given {
        return Ok(a.clone());
    }
    username
        .and_then(account_id_from)
        .or_else(|| account_from_file_names(dyi.paths(), zip_prefix))
        .ok_or_else(|| {
            dyi.refuse(format!(
                "cannot tell which account this export belongs to (no username in {profile_file}, nor in the zip's file name): pass --account <id>"
            ))
        })
}

/// What an import deliberately leaves out: the private kinds met (one per file) and how many
/// other files are not the account's published content.
#[derive(Debug, Default)]
pub struct Skipped {
    pub private: Vec<&'static str>,
    pub other: usize,
}

impl Skipped {
    /// Tallies the files' roles with the importer's reading of them.
    pub fn tally<R>(
        roles: &[(ZipEntry, R)],
        private: impl Fn(&R) -> Option<&'static str>,
        is_other: impl Fn(&R) -> bool,
    ) -> Skipped {
        Skipped {
            private: roles.iter().filter_map(|(_, r)| private(r)).collect(),
            other: roles.iter().filter(|(_, r)| is_other(r)).count(),
        }
    }
}

/// Stores the media files no item referred to (of deleted posts, old profile pictures,
/// covers…): they are still the account's.
pub async fn store_unreferenced<'e>(
    dyi: &Dyi,
    sink: &mut dyn Sink,
    files: &mut FileStore,
    media: impl Iterator<Item = &'e ZipEntry>,
) -> Result<()> {
    for e in media {
        if !files.contains(&e.name) {
            files.store(dyi, sink, e, true).await?;
        }
    }
    Ok(())
}

/// The import's report: `counted` are `(key, n, singular, plural)` in statement order.
pub fn import_report(
    platform: &str,
    counted: &[(&str, u64, &str, &str)],
    files: &FileStore,
    missing: u64,
    skipped: &Skipped,
) -> Report {
    let mut captured: BTreeMap<String, u64> = counted
        .iter()
        .map(|(k, n, _, _)| ((*k).to_owned(), *n))
        .collect();
    captured.insert("media".to_owned(), files.media);
    captured.insert("files".to_owned(), files.files);
    captured.insert(
        "private_files_skipped".to_owned(),
        skipped.private.len() as u64,
    );
    let mut parts: Vec<String> = counted
        .iter()
        .map(|(_, n, one, many)| count(*n, one, many))
        .collect();
    let last = parts.pop().unwrap_or_default();
    let listed = if parts.is_empty() {
        last
    } else {
        format!("{} and {last}", parts.join(", "))
    };
    let mut statement = format!(
        "Imported the owner's {platform} export (Download Your Information, JSON): {listed} with {}; {} stored byte-exact; text repaired from Meta's mojibake.",
        count(files.media, "media file", "media files"),
        count(files.files, "file", "files"),
    );
    statement.push_str(&missing_statement(missing));
    statement.push_str(&skipped_statement(&skipped.private, skipped.other));
    Report {
        platform_reported: BTreeMap::new(),
        captured,
        statement,
    }
}

/// Deterministic item ids: `<kind>-<unix seconds>`, then `-2`, `-3`… for the same kind and
/// second (see the module documentation).
#[derive(Debug, Default)]
pub struct ItemIds {
    seen: HashMap<String, u32>,
}

impl ItemIds {
    pub fn next(&mut self, kind: &str, at: OffsetDateTime) -> String {
        let base = format!("{kind}-{}", at.unix_timestamp());
        let n = self.seen.entry(base.clone()).or_insert(0);
        *n += 1;
        if *n == 1 { base } else { format!("{base}-{n}") }
    }
}

/// Stores each file of the export at most once and turns `uri`s into [`MediaRef`]s.
#[derive(Debug, Default)]
pub struct FileStore {
    stored: HashMap<String, Stored>,
    /// Files stored.
    pub files: u64,
    /// Of which media (not JSON documents).
    pub media: u64,
}

impl FileStore {
    pub fn get(&self, name: &str) -> Option<&Stored> {
        self.stored.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.stored.contains_key(name)
    }

    /// Stores `entry` unless it already was; `is_media` counts it as a media file.
    pub async fn store(
        &mut self,
        dyi: &Dyi,
        sink: &mut dyn Sink,
        entry: &ZipEntry,
        is_media: bool,
    ) -> Result<Stored> {
        if let Some(s) = self.stored.get(&entry.name) {
            return Ok(s.clone());
        }
        let s = dyi.store(sink, entry).await?;
        self.files += 1;
        if is_media {
            self.media += 1;
        }
        self.stored.insert(entry.name.clone(), s.clone());
        Ok(s)
    }

    /// The [`MediaRef`] of `uri`, storing its file; a gap naming `owner` (and `item_id`) when
    /// the file is not in the export or lies in a private folder.
    pub async fn media_ref(
        &mut self,
        dyi: &Dyi,
        sink: &mut dyn Sink,
        uri: &str,
        owner: &str,
        item_id: Option<&str>,
    ) -> Result<(MediaRef, Option<Gap>)> {
        let entry = dyi.resolve(uri).cloned();
        let original_url = entry
            .as_ref()
            .map_or_else(|| uri.to_owned(), |e| e.name.clone());
        let private = private_kind(uri.trim_start_matches('/'));
        let (sha256, gap) = match (entry, private) {
            (Some(e), None) => (Some(self.store(dyi, sink, &e, true).await?.sha256), None),
            (found, private) => {
                let (reason, why) = match private {
                    Some(what) => (
                        GapReason::Other,
                        format!("is in a private folder ({what}) and was not imported"),
                    ),
                    None if uri.starts_with("http") => (
                        GapReason::MissingFromExport,
                        "is a link, not a file of the export".to_owned(),
                    ),
                    None => {
                        debug_assert!(found.is_none());
                        (
                            GapReason::MissingFromExport,
                            "is referenced but not in the export (a missing part, or an incomplete download?)".to_owned(),
                        )
                    }
                };
                let gap = Gap {
                    reason,
                    detail: format!("{owner}: media {uri} {why}"),
                    item_id: item_id.map(str::to_owned),
                    url: Some(original_url.clone()),
                };
                (None, Some(gap))
            }
        };
        Ok((
            MediaRef {
                sha256,
                original_url,
                chosen: None,
                offered: Vec::new(),
            },
            gap,
        ))
    }
}

/// One post, reel, story or video as an export file describes it, before ids and media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: ItemKind,
    /// The id prefix (`post`, `reel`, `story`, `video`, `archived`).
    pub id_kind: &'static str,
    pub created_at: OffsetDateTime,
    /// Repaired text, exactly as the owner wrote it.
    pub text: String,
    /// The media files, relative to the export root.
    pub uris: Vec<String>,
}

/// Emits `entries` (each with the name of the file it came from, already stored) as items,
/// storing each medium once; returns how many media were missing from the export.
pub async fn emit_entries(
    dyi: &Dyi,
    sink: &mut dyn Sink,
    files: &mut FileStore,
    entries: &[(String, Entry)],
) -> Result<u64> {
    let mut ids = ItemIds::default();
    let mut missing = 0u64;
    for (file, x) in entries {
        let id = ids.next(x.id_kind, x.created_at);
        let mut media = Vec::with_capacity(x.uris.len());
        let mut gaps = Vec::new();
        for uri in &x.uris {
            let (m, gap) = files.media_ref(dyi, sink, uri, &id, Some(&id)).await?;
            media.push(m);
            missing += u64::from(gap.is_some());
            gaps.extend(gap);
        }
        sink.item(Item {
            platform: dyi.platform(),
            kind: x.kind,
            created_at: x.created_at,
            text: x.text.clone(),
            lang: None,
            pinned: false,
            metrics: BTreeMap::new(),
            media,
            // DYI has no permalinks.
            url: None,
            references: Vec::new(),
            route: Route::Export,
            source_path: files.get(file).map(|s| s.path.clone()),
            id,
        })
        .await?;
        for g in gaps {
            sink.gap(g).await?;
        }
    }
    Ok(missing)
}

/// What the statement says about referenced media the export lacks (nothing when none).
fn missing_statement(missing: u64) -> String {
    if missing == 0 {
        return String::new();
    }
    format!(
        " {} not in the export (see the gaps).",
        count(
            missing,
            "referenced media file is",
            "referenced media files are"
        )
    )
}

/// The statement's sentences about what was deliberately not imported.
fn skipped_statement(private: &[&'static str], other: usize) -> String {
    let mut s = String::new();
    if !private.is_empty() {
        let mut kinds: Vec<&str> = Vec::new();
        for w in private {
            if !kinds.contains(w) {
                kinds.push(w);
            }
        }
        let n = private.len() as u64;
        let _ = write!(
            s,
            " {} ({}) {} deliberately neither read nor imported.",
            count(n, "private file", "private files"),
            kinds.join(", "),
            if n == 1 { "was" } else { "were" }
        );
    }
    if other > 0 {
        let (is, was) = if other == 1 {
            ("is", "was")
        } else {
            ("are", "were")
        };
        let _ = write!(
            s,
            " {} (likes, comments, followers, settings…) {is} not the account's published \
             content and {was} not imported.",
            count(other as u64, "other file", "other files"),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_folders_are_recognised_anywhere() {
        for p in [
            "your_instagram_activity/messages/inbox/x_1/message_1.json",
            "messages/inbox/a/photos/1.jpg",
            "your_activity_across_facebook/messages/inbox/a/message_1.json",
            "connections/contacts/synced_contacts.json",
            "security_and_login_information/login_and_account_creation/login_activity.json",
            "ads_information/ads_and_topics/ads_viewed.json",
            "logged_information/recent_searches/account_searches.json",
            "your_facebook_activity/search/your_search_history.json",
        ] {
            assert!(private_kind(p).is_some(), "{p}");
        }
        for p in [
            "your_instagram_activity/media/posts_1.json",
            "media/posts/202409/1.jpg",
            "this_profile's_activity_across_facebook/posts/profile_posts_1.json",
            "personal_information/personal_information/personal_information.json",
            "media/messages.jpg",
        ] {
            assert_eq!(private_kind(p), None, "{p}");
        }
        assert_eq!(private_kind("messages/inbox/a.json"), Some("messages"));
    }

    #[test]
    fn finds_the_root() {
        let m = |n: &str| n == "content/posts_1.json";
        let r = |names: &[&str]| find_root(&names.iter().copied(), m);
        assert_eq!(
            r(&["content/posts_1.json", "media/x.jpg"]),
            Some(String::new())
        );
        assert_eq!(
            r(&[
                "ig/content/posts_1.json",
                "ig/media/x.jpg",
                "__MACOSX/ig/._x"
            ]),
            Some("ig/".into())
        );
        assert_eq!(r(&["a/content/posts_1.json", "b/x"]), None);
        assert_eq!(r(&["x.txt"]), None);
    }

    #[test]
    fn account_ids_are_made_valid() {
        assert_eq!(
            account_id_from("alnoor.school_1").unwrap().as_str(),
            "alnoor.school_1"
        );
        assert_eq!(
            account_id_from("Al Noor School").unwrap().as_str(),
            "Al_Noor_School"
        );
        assert_eq!(account_id_from("مدرسة"), None);
        assert_eq!(account_id_from(".x."), Some(AccountId::new("x").unwrap()));
        let paths = [PathBuf::from(
            "/tmp/instagram-alnoor.school-20250101-abc123.zip",
        )];
        assert_eq!(
            account_from_file_names(&paths, "instagram-")
                .unwrap()
                .as_str(),
            "alnoor.school"
        );
        assert_eq!(account_from_file_names(&paths, "facebook-"), None);
    }

    #[test]
    fn ids_are_deterministic() {
        let at = OffsetDateTime::from_unix_timestamp(1_725_165_900).unwrap();
        let mut ids = ItemIds::default();
        assert_eq!(ids.next("post", at), "post-1725165900");
        assert_eq!(ids.next("post", at), "post-1725165900-2");
        assert_eq!(ids.next("reel", at), "reel-1725165900");
    }

    #[test]
    fn garbles_like_meta() {
        assert_eq!(garble("م"), "\u{d9}\u{85}");
        assert_eq!(garble("a/b"), "a/b");
    }
}
