//! A channel's Google Takeout (`YouTube and YouTube Music`): [`YouTubeTakeout`] imports it,
//! as `.zip` or `.tgz` parts (reference §4.3, §4.4, §4.6). Decisions an integrator should know:
//!
//! - **Parts and formats.** Every part is a `.zip` (read with
//!   [`ExportParts`](crate::export_zip::ExportParts)) or every part a `.tgz`/`.tar.gz` (read with
//!   [`TarParts`](crate::export_tar::TarParts)), recognised by their first bytes; mixing both is
//!   refused. The two sit behind one small internal interface (`Archive`: list, read a metadata
//!   file, store files in archive order), so the importer does not care. A `.tgz` is read in
//!   two sequential passes (validation and metadata, then storage; see `export_tar`), so every
//!   import stores the files in archive order, then derives the items.
//! - **Layout.** The `YouTube` folder is the one holding `channels/channel.csv` or
//!   `video metadata/videos.csv` (names compared ignoring case), at any depth: usually
//!   `Takeout/YouTube and YouTube Music/`, also `YouTube and YouTube Music/` at the root or a
//!   localised product folder name, as long as the sub-folders have their English names. No such
//!   folder, or two, refuses the import with the top-level names found. Takeout's own
//!   `archive_browser.html` (the index of what the export holds) is stored too.
//! - **What is imported.** Stored byte-exact with an `IMPORT` log entry: `videos/`,
//!   `video metadata/`, `channels/`, `playlists/`, `comments/`, `live chats/`, `posts/` and the
//!   older `my-comments/`, `my-live-chat-messages/`. Never stored (personal, not the channel's
//!   publications): `history/` (watch and search history) and `subscriptions/`; counted and named
//!   in the statement. (A `.tgz` cannot skip bytes: they pass through the decompressor, but are
//!   never kept nor stored.) Any other folder (`YouTube` Music library, purchases…) is not
//!   imported and is named in the statement.
//! - **CSV columns** vary by export date: headers are matched after [`normalize_header`]
//!   (case, spacing, punctuation and a trailing `(Original)` ignored, so `Video ID`, `video id`,
//!   `VideoID` and `Video Title (Original)`/`Video Title` match); a UTF-8 BOM is skipped. A
//!   required column missing is a `Malformed` error naming the file and the columns found.
//!   `videos.csv` needs a video id, a title and a create or publish timestamp.
//! - **Times**: RFC 3339 (`2024-09-23T06:05:00+00:00`, `…Z`, with or without fractional
//!   seconds), also `2024-09-23 06:05:00 UTC` and a zone-less `2024-09-23T06:05:00`, read as UTC
//!   ([`parse_time`]). An item's `created_at` is the publish timestamp, else the create one.
//! - **Items.** One `Video` per `videos.csv` row (id = video id; text = the title, then a blank
//!   line and the description when there is one, both exactly as in the CSV; url = the watch
//!   URL; media = the matched file, `original_url` its path in the export). Community posts of
//!   `posts/posts.csv` are `Post` items (`YouTube` calls them posts; `Announcement` is a pinned
//!   post elsewhere), url `https://www.youtube.com/post/<id>`, with the images their row names
//!   (found in `posts/`). The `posts.csv` columns are not documented anywhere we could verify:
//!   when they are not recognised, the file is stored as delivered and a gap says the posts were
//!   not itemised (the videos still import). Playlists, comments and live chats are stored, not
//!   itemised.
//! - **Joining files to videos** ([`match_videos`]): Takeout names a video file after its title
//!   ([`file_name_for_title`]: `/ \ : * ? " < > |` and control characters become `_`, trailing
//!   dots and spaces are dropped; Arabic, diacritics and emoji are kept as is) and numbers
//!   videos sharing a title ` (1)`, ` (2)`… We assume the numbering follows upload order: the
//!   oldest (by `Video Create Timestamp`, then CSV order) gets the plain name. This order is not
//!   documented by Google: with several videos of one title, check the matches. Files the exact
//!   rule leaves unmatched are tried once more ignoring case, punctuation and emoji. Every row and
//!   every file ends up matched or reported: a row without a file is a `MissingFromExport` gap
//!   (the item keeps its watch URL, unstored); a file matching no row is stored and reported in
//!   a gap "video file not matched to any video id".
//! - **Account.** The channel id of `channels/channel.csv` (else the one channel id every
//!   `videos.csv` row names), else [`YouTubeTakeout::with_account`]'s, else an error asking for
//!   `--account`. A `with_account` id that differs from the channel id in the export is refused
//!   (the bundle would be filed under another account). The profile is the channel's id and title.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use model::{AccountId, Gap, GapReason, Item, ItemKind, MediaRef, Platform, Profile, Route};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{FetchError, Result};
use crate::export_tar::TarParts;
use crate::export_zip::{ExportParts, ZipLimits};
use crate::source::{Identity, Report, Sink, Source, Stored, count};

/// Largest CSV read into memory (big channels' `videos.csv` is a few MB).
const MAX_CSV_BYTES: u64 = 512 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The two archive formats behind one interface

enum Archive {
    Zip(ExportParts),
    Tar(TarParts),
}

/// Whether a `.tgz` part's file is kept in memory in pass 1: the CSV metadata, outside the
/// private folders.
fn keep_in_memory(name: &str, size: u64) -> bool {
    let lower = name.to_lowercase();
    size <= MAX_CSV_BYTES
        && Path::new(&lower)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        && !lower
            .split('/')
            .any(|s| PRIVATE.iter().any(|(folder, _)| s == *folder))
}

impl Archive {
    async fn open(paths: &[PathBuf], limits: ZipLimits) -> Result<Archive> {
        if paths.is_empty() {
            return Err(FetchError::Export {
                path: "(none)".into(),
                detail: "no export file given".into(),
            });
        }
        let mut kinds = Vec::new();
        for p in paths {
            let label = p.display().to_string();
            let mut magic = [0u8; 4];
            let n = std::fs::File::open(p)
                .and_then(|mut f| f.read(&mut magic))
                .map_err(|e| FetchError::Export {
                    path: label.clone(),
                    detail: format!("cannot open: {e}"),
                })?;
            let kind = match &magic[..n] {
                [0x50, 0x4b, 3 | 5, 4 | 6] => "zip",
                [0x1f, 0x8b, ..] => "tgz",
                _ => {
                    return Err(FetchError::Export {
                        path: label,
                        detail: "neither a .zip nor a .tgz file (Takeout delivers one of the two)"
                            .into(),
                    });
                }
            };
            kinds.push(kind);
        }
        if kinds.iter().any(|k| *k != kinds[0]) {
            return Err(FetchError::Export {
                path: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" + "),
                detail: "the parts mix .zip and .tgz files: give the parts of one export".into(),
            });
        }
        Ok(if kinds[0] == "zip" {
            Archive::Zip(ExportParts::open(paths, limits).await?)
        } else {
            Archive::Tar(TarParts::open(paths, limits, keep_in_memory).await?)
        })
    }

    fn label(&self) -> &str {
        match self {
            Archive::Zip(z) => z.label(),
            Archive::Tar(t) => t.label(),
        }
    }

    fn format(&self) -> &'static str {
        match self {
            Archive::Zip(_) => "zip",
            Archive::Tar(_) => "tgz",
        }
    }

    /// Every file's name, in archive order.
    fn names(&self) -> Vec<&str> {
        match self {
            Archive::Zip(z) => z.entries().iter().map(|e| e.name.as_str()).collect(),
            Archive::Tar(t) => t.entries().iter().map(|e| e.name.as_str()).collect(),
        }
    }

    async fn read(&self, name: &str) -> Result<Bytes> {
        match self {
            Archive::Zip(z) => z.read(name, MAX_CSV_BYTES).await,
            Archive::Tar(t) => t.kept(name).cloned().ok_or_else(|| FetchError::Export {
                path: t.label().to_owned(),
                detail: format!(
                    "entry {name:?} is larger than the {MAX_CSV_BYTES} bytes allowed for a metadata file"
                ),
            }),
        }
    }

    /// Stores the files named in `wanted`, in archive order.
    async fn store_in_order(
        &self,
        sink: &mut dyn Sink,
        wanted: &HashSet<&str>,
    ) -> Result<HashMap<String, Stored>> {
        match self {
            Archive::Zip(z) => {
                let mut out = HashMap::new();
                for e in z.entries() {
                    if wanted.contains(e.name.as_str()) {
                        let s = z.store_entry(sink, e).await?;
                        out.insert(e.name.clone(), s);
                    }
                }
                Ok(out)
            }
            Archive::Tar(t) => {
                t.store_in_order(sink, |e| wanted.contains(e.name.as_str()))
                    .await
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layout

/// Folders (relative to the `YouTube` folder) that are personal, never imported.
const PRIVATE: &[(&str, &str)] = &[
    ("history", "watch and search history"),
    ("subscriptions", "subscriptions"),
];

/// Folders (relative to the `YouTube` folder) of the channel's published content, stored.
const PUBLIC: &[&str] = &[
    "video metadata",
    "channels",
    "comments",
    "live chats",
    "my-comments",
    "my-live-chat-messages",
];

/// What the importer does with a file of the Takeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `video metadata/videos.csv`.
    Videos,
    /// A file under `videos/`.
    VideoFile,
    /// `channels/channel.csv`.
    Channel,
    /// `posts/posts.csv`.
    Posts,
    /// Another file under `posts/` (post images).
    PostFile,
    Playlist,
    /// Other published content: stored.
    Public,
    /// Never stored.
    Private(&'static str),
    /// Not the channel's content: not imported.
    Other,
}

/// The role of `rel`, a path relative to the `YouTube` folder.
pub fn classify(rel: &str) -> Role {
    let lower = rel.to_lowercase();
    let Some((top, rest)) = lower.split_once('/') else {
        return Role::Other;
    };
    if let Some((_, what)) = PRIVATE.iter().find(|(f, _)| *f == top) {
        return Role::Private(what);
    }
    match (top, rest) {
        ("video metadata", "videos.csv") => Role::Videos,
        ("channels", "channel.csv") => Role::Channel,
        ("posts", "posts.csv") => Role::Posts,
        ("videos", _) => Role::VideoFile,
        ("posts", _) => Role::PostFile,
        ("playlists", _) => Role::Playlist,
        _ if PUBLIC.contains(&top) => Role::Public,
        _ => Role::Other,
    }
}

/// The `YouTube` folder among `names` (`""` or a prefix ending in `/`): the parent of
/// `channels/channel.csv` or `video metadata/videos.csv`. `Err` lists the candidates when
/// there are several, `Ok(None)` when there is none.
fn find_root<'a>(
    names: impl Iterator<Item = &'a str>,
) -> std::result::Result<Option<String>, Vec<String>> {
    let mut roots = BTreeSet::new();
    for n in names {
        for marker in ["channels/channel.csv", "video metadata/videos.csv"] {
            // The markers are ASCII: compare the name's tail ignoring ASCII case.
            let Some(at) = n.len().checked_sub(marker.len()) else {
                continue;
            };
            if n.is_char_boundary(at)
                && n[at..].eq_ignore_ascii_case(marker)
                && (at == 0 || n[..at].ends_with('/'))
            {
                roots.insert(n[..at].to_owned());
            }
        }
    }
    match roots.len() {
        0 => Ok(None),
        1 => Ok(roots.pop_first()),
        _ => Err(roots.into_iter().collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

fn malformed(file: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform: Platform::Youtube,
        url: file.to_owned(),
        detail: detail.into(),
    }
}

/// A header reduced for matching: lowercase, only letters and digits kept (so spacing and
/// punctuation do not matter), a trailing `original` word dropped (`Video Title (Original)` →
/// `videotitle`), a BOM ignored.
pub fn normalize_header(h: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in h.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            cur.push(c);
        } else if !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    if words.len() > 1 && words.last().is_some_and(|w| w == "original") {
        words.pop();
    }
    words.concat()
}

/// A parsed CSV file.
#[derive(Debug)]
pub struct Table {
    file: String,
    headers: Vec<String>,
    keys: Vec<String>,
    /// (line number, fields).
    rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    pub fn parse(file: &str, body: &[u8]) -> Result<Table> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(body);
        let headers: Vec<String> = r
            .headers()
            .map_err(|e| malformed(file, format!("not a readable CSV header: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect();
        let keys = headers.iter().map(|h| normalize_header(h)).collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| malformed(file, format!("not valid CSV: {e}")))?;
            let line = rec.position().map_or(0, csv::Position::line);
            rows.push((line, rec.iter().map(str::to_owned).collect()));
        }
        Ok(Table {
            file: file.to_owned(),
            headers,
            keys,
            rows,
        })
    }

    /// The first column whose normalised header is one of `aliases` (normalised).
    pub fn col(&self, aliases: &[&str]) -> Option<usize> {
        aliases
            .iter()
            .find_map(|a| self.keys.iter().position(|k| k == a))
    }

    fn missing(&self, what: &str) -> String {
        format!(
            "no {what} column (columns found: {})",
            if self.headers.is_empty() {
                "none".to_owned()
            } else {
                self.headers
                    .iter()
                    .map(|h| format!("{:?}", h.trim_start_matches('\u{feff}')))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )
    }

    fn require(&self, what: &str, aliases: &[&str]) -> Result<usize> {
        self.col(aliases)
            .ok_or_else(|| malformed(&self.file, self.missing(what)))
    }

    fn rows(&self) -> impl Iterator<Item = &(u64, Vec<String>)> {
        self.rows.iter()
    }
}

/// The field at `col` of `row`, `""` if the row is short.
fn field(row: &[String], col: Option<usize>) -> &str {
    col.and_then(|c| row.get(c)).map_or("", String::as_str)
}

/// A Takeout timestamp as UTC: RFC 3339 (fractional seconds optional), `YYYY-MM-DD HH:MM:SS
/// UTC`, or a zone-less `YYYY-MM-DD[T ]HH:MM:SS[.f]` read as UTC.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let t = s.replacen(' ', "T", 1);
    let t = t
        .strip_suffix(" UTC")
        .map_or(t.clone(), |x| format!("{x}Z"));
    let has_zone = t.ends_with('Z') || t.ends_with('z') || {
        let tail = t.get(19..).unwrap_or("");
        tail.contains('+') || tail.contains('-')
    };
    let t = if has_zone { t } else { format!("{t}Z") };
    OffsetDateTime::parse(&t, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// One row of `videos.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRow {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Publish time, else create time.
    pub published: OffsetDateTime,
    /// Create time, else publish time: orders videos sharing a title.
    pub created: OffsetDateTime,
    pub channel: Option<String>,
    pub lang: Option<String>,
}

/// The rows of `videos.csv` (a repeated video id is kept once); the second value counts the
/// repeats.
pub fn parse_videos(file: &str, body: &[u8]) -> Result<(Vec<VideoRow>, u64)> {
    let t = Table::parse(file, body)?;
    let id = t.require("`Video ID`", &["videoid", "id"])?;
    let title = t.require("`Video Title (Original)`", &["videotitle", "title"])?;
    let desc = t.col(&["videodescription", "description"]);
    let create = t.col(&[
        "videocreatetimestamp",
        "createtimestamp",
        "videocreatetime",
        "creationtime",
    ]);
    let publish = t.col(&[
        "videopublishtimestamp",
        "publishtimestamp",
        "videopublishtime",
        "publishtime",
    ]);
    if create.is_none() && publish.is_none() {
        return Err(malformed(
            file,
            t.missing("`Video Create Timestamp` or `Video Publish Timestamp`"),
        ));
    }
    let channel = t.col(&["channelid"]);
    let lang = t.col(&["videoaudiolanguage", "audiolanguage"]);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut repeats = 0;
    for (line, row) in t.rows() {
        let bad = |what: String| malformed(file, format!("line {line}: {what}"));
        let vid = field(row, Some(id)).trim();
        if vid.is_empty() {
            return Err(bad("empty video id".into()));
        }
        let time_at = |col: Option<usize>| -> Result<Option<OffsetDateTime>> {
            let s = field(row, col);
            if s.trim().is_empty() {
                return Ok(None);
            }
            parse_time(s).map(Some).ok_or_else(|| {
                bad(format!(
                    "timestamp {s:?} is not like \"2024-09-23T06:05:00+00:00\""
                ))
            })
        };
        let (c, p) = (time_at(create)?, time_at(publish)?);
        let (Some(created), Some(published)) = (c.or(p), p.or(c)) else {
            return Err(bad(format!(
                "video {vid} has neither a create nor a publish timestamp"
            )));
        };
        if !seen.insert(vid.to_owned()) {
            repeats += 1;
            continue;
        }
        let lang_code = field(row, lang).trim();
        out.push(VideoRow {
            id: vid.to_owned(),
            title: field(row, Some(title)).to_owned(),
            description: field(row, desc).to_owned(),
            published,
            created,
            channel: Some(field(row, channel).trim())
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            lang: (lang_code.len() >= 2
                && lang_code.len() <= 12
                && lang_code
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b'-'))
            .then(|| lang_code.to_owned()),
        });
    }
    Ok((out, repeats))
}

/// The channel of `channel.csv`: (id, title) of each row.
pub fn parse_channel(file: &str, body: &[u8]) -> Result<Vec<(String, Option<String>)>> {
    let t = Table::parse(file, body)?;
    let id = t.require("`Channel ID`", &["channelid", "id"])?;
    let title = t.col(&["channeltitle", "title", "channelname", "name"]);
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (_, row) in t.rows() {
        let cid = field(row, Some(id)).trim();
        if cid.is_empty() || out.iter().any(|(o, _)| o == cid) {
            continue;
        }
        let name = Some(field(row, title))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        out.push((cid.to_owned(), name));
    }
    if out.is_empty() {
        return Err(malformed(file, "no row with a channel id"));
    }
    Ok(out)
}

/// One community post of `posts.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRow {
    pub id: String,
    pub text: String,
    pub created: OffsetDateTime,
    /// Image file names the row lists (`;` or newline separated).
    pub images: Vec<String>,
}

/// The posts of `posts.csv`, or why they cannot be itemised (the shape is unverified: the
/// caller reports a gap rather than failing the whole import).
pub fn parse_posts(file: &str, body: &[u8]) -> std::result::Result<Vec<PostRow>, String> {
    let t = Table::parse(file, body).map_err(|e| e.to_string())?;
    let req = |what: &str, aliases: &[&str]| t.col(aliases).ok_or_else(|| t.missing(what));
    let id = req("post id", &["postid", "id"])?;
    let text = req(
        "post text",
        &[
            "posttext",
            "text",
            "postbody",
            "body",
            "postcontent",
            "content",
        ],
    )?;
    let time = req(
        "post timestamp",
        &[
            "postcreatetimestamp",
            "postpublishtimestamp",
            "createtimestamp",
            "publishtimestamp",
            "posttimestamp",
            "timestamp",
            "created",
        ],
    )?;
    let images = t.col(&[
        "postimagefilenames",
        "imagefilenames",
        "postimages",
        "images",
        "postimage",
        "image",
    ]);
    let mut out = Vec::new();
    for (line, row) in t.rows() {
        let pid = field(row, Some(id)).trim();
        if pid.is_empty() {
            return Err(format!("line {line}: empty post id"));
        }
        let s = field(row, Some(time));
        let created =
            parse_time(s).ok_or_else(|| format!("line {line}: timestamp {s:?} not understood"))?;
        out.push(PostRow {
            id: pid.to_owned(),
            text: field(row, Some(text)).to_owned(),
            created,
            images: field(row, images)
                .split([';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Joining video files to rows

/// The file name (without extension) Takeout gives a video titled `title`: `/ \ : * ? " < > |`
/// and control characters become `_`; trailing dots and spaces are dropped. Everything else
/// (Arabic with its diacritics, emoji) is kept as is.
pub fn file_name_for_title(title: &str) -> String {
    let mapped: String = title
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    mapped.trim_end_matches(['.', ' ']).to_owned()
}

/// A looser key for names the exact rule did not match: lowercase letters, digits and
/// combining marks (Arabic diacritics) only, every other run (punctuation, emoji, spaces) one
/// space.
fn loose_key(s: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let mark = matches!(c as u32, 0x0300..=0x036F | 0x064B..=0x065F | 0x0670);
        if c.is_alphanumeric() || mark {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// A file name split into stem and extension (`"a.b.mp4"` → `("a.b", "mp4")`); no extension
/// unless it is 1–5 ASCII letters or digits.
pub fn split_ext(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (stem, ext)
        }
        _ => (name, ""),
    }
}

/// The readings of a file stem: itself (number 0), and `base` with number `n` when it ends in
/// ` (n)` or `(n)`.
fn readings(stem: &str) -> Vec<(&str, usize)> {
    let mut out = vec![(stem, 0)];
    if let Some(inner) = stem.strip_suffix(')')
        && let Some((base, n)) = inner.rsplit_once('(')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = n.parse::<usize>()
        && n >= 1
    {
        let base = base.strip_suffix(' ').unwrap_or(base);
        if !base.is_empty() {
            out.push((base, n));
        }
    }
    out
}

/// For each file stem, the index of the video it is the file of. `videos` are (title, create
/// time). Among videos whose titles give the same name, the oldest (then the first listed) owns
/// the plain name, the next ` (1)`, and so on. Exact names first, then [`loose_key`] for what is
/// left. A stem is first read as a whole (a title may itself end in `(2)`).
pub fn match_videos(videos: &[(&str, OffsetDateTime)], stems: &[&str]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..videos.len()).collect();
    order.sort_by_key(|&i| (videos[i].1, i));
    let mut taken = vec![false; videos.len()];
    let mut out = vec![None; stems.len()];
    let exact = |s: &str| file_name_for_title(s);
    let loose = |s: &str| loose_key(&file_name_for_title(s));
    let tiers: [&dyn Fn(&str) -> String; 2] = [&exact, &loose];
    for key in tiers {
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in &order {
            groups.entry(key(videos[i].0)).or_default().push(i);
        }
        for (fi, stem) in stems.iter().enumerate() {
            if out[fi].is_some() {
                continue;
            }
            for (base, n) in readings(stem) {
                let slot = groups.get(&key(base)).and_then(|g| g.get(n)).copied();
                if let Some(vi) = slot
                    && !taken[vi]
                {
                    taken[vi] = true;
                    out[fi] = Some(vi);
                    break;
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The source

/// A channel's Google Takeout, opened and validated. See the module documentation.
pub struct YouTubeTakeout {
    archive: Archive,
    /// The `YouTube` folder: `""` or a prefix ending in `/`.
    root: String,
    parts: usize,
    account: Option<AccountId>,
}

impl std::fmt::Debug for YouTubeTakeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YouTubeTakeout")
            .field("export", &self.archive.label())
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn watch_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

impl YouTubeTakeout {
    /// Opens with the default [`ZipLimits`].
    pub async fn open(paths: &[PathBuf]) -> Result<YouTubeTakeout> {
        YouTubeTakeout::open_with(paths, ZipLimits::default()).await
    }

    /// Opens and validates every part (each a `.zip`, or each a `.tgz`/`.tar.gz`) and finds the
    /// `YouTube` folder; nothing is emitted.
    pub async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<YouTubeTakeout> {
        let archive = Archive::open(paths, limits).await?;
        let refuse = |detail: String| FetchError::Export {
            path: archive.label().to_owned(),
            detail,
        };
        let root = match find_root(archive.names().into_iter()) {
            Ok(Some(root)) => root,
            Ok(None) => {
                let tops: BTreeSet<&str> = archive
                    .names()
                    .into_iter()
                    .map(|n| n.split_once('/').map_or(n, |(t, _)| t))
                    .collect();
                let mut list = tops.iter().take(12).copied().collect::<Vec<_>>().join(", ");
                if tops.len() > 12 {
                    let _ = write!(list, " and {} more", tops.len() - 12);
                }
                if list.is_empty() {
                    list = "no files".into();
                }
                return Err(refuse(format!(
                    "not a YouTube Takeout (no channels/channel.csv nor video metadata/videos.csv under \"Takeout/YouTube and YouTube Music/\"): found {list}"
                )));
            }
            Err(several) => {
                return Err(refuse(format!(
                    "several YouTube folders in one export ({}): give the parts of one Takeout",
                    several.join(", ")
                )));
            }
        };
        Ok(YouTubeTakeout {
            archive,
            root,
            parts: paths.len(),
            account: None,
        })
    }

    /// The account to file the capture under when the Takeout does not name its channel.
    #[must_use]
    pub fn with_account(mut self, account: AccountId) -> YouTubeTakeout {
        self.account = Some(account);
        self
    }

    fn refuse(&self, detail: impl Into<String>) -> FetchError {
        FetchError::Export {
            path: self.archive.label().to_owned(),
            detail: detail.into(),
        }
    }

    fn role(&self, name: &str) -> Role {
        match name.strip_prefix(self.root.as_str()) {
            Some(rel) => classify(rel),
            // Takeout's index of the export, beside the product folders.
            None if name.rsplit('/').next() == Some("archive_browser.html") => Role::Public,
            None => Role::Other,
        }
    }

    fn resolve_account(
        &self,
        channel: Option<&(String, Option<String>)>,
        videos: &[VideoRow],
        channel_file: &str,
    ) -> Result<AccountId> {
        let found = named_channel(channel, videos);
        match (found, &self.account) {
            (Some(c), Some(given)) if c != given.as_str() => Err(self.refuse(format!(
                "this Takeout is channel {c} ({channel_file}), not {given}: omit --account or give {c}"
            ))),
            (Some(c), _) => AccountId::new(c)
                .map_err(|e| malformed(channel_file, format!("channel id {c:?}: {e}"))),
            (None, Some(given)) => Ok(given.clone()),
            (None, None) => Err(self.refuse(format!(
                "cannot tell which channel this Takeout belongs to (no {channel_file}): pass --account <channel id>"
            ))),
        }
    }
}

/// The channel id the Takeout names: `channels/channel.csv`'s, else the one id every
/// `videos.csv` row names.
fn named_channel<'a>(
    channel: Option<&'a (String, Option<String>)>,
    videos: &'a [VideoRow],
) -> Option<&'a str> {
    let from_videos = || {
        let ids: BTreeSet<&str> = videos.iter().filter_map(|v| v.channel.as_deref()).collect();
        (ids.len() == 1).then(|| ids.into_iter().next().unwrap_or_default())
    };
    channel.map(|(id, _)| id.as_str()).or_else(from_videos)
}

#[async_trait]
impl Source for YouTubeTakeout {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }

    fn route(&self) -> Route {
        Route::Export
    }

    #[allow(clippy::too_many_lines)]
    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        // 1. Plan: classify, parse the metadata; nothing is emitted before it all parsed.
        let names = self.archive.names();
        let roles: Vec<(&str, Role)> = names.iter().map(|n| (*n, self.role(n))).collect();
        let find = |r: Role| roles.iter().find(|(_, x)| *x == r).map(|(n, _)| *n);
        let videos_file = find(Role::Videos);
        let posts_file = find(Role::Posts);
        let channel_file = find(Role::Channel);
        let (videos, repeats) = if let Some(f) = videos_file {
            parse_videos(f, &self.archive.read(f).await?)?
        } else if roles.iter().any(|(_, r)| *r == Role::VideoFile) {
            return Err(self.refuse(format!(
                "video files but no {}video metadata/videos.csv: request the Takeout again with \"video metadata\" selected, so the files can be joined to their video ids",
                self.root
            )));
        } else {
            (Vec::new(), 0)
        };
        let channel_label = format!("{}channels/channel.csv", self.root);
        let mut channel = None;
        if let Some(f) = channel_file {
            let rows = parse_channel(f, &self.archive.read(f).await?)?;
            let pick = match &self.account {
                Some(a) => rows.iter().find(|(id, _)| id == a.as_str()),
                None => None,
            };
            if pick.is_none() && rows.len() > 1 {
                return Err(self.refuse(format!(
                    "{f} lists several channels ({}): pass --account <channel id>",
                    rows.iter()
                        .map(|(i, _)| i.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            channel = pick.or(rows.first()).cloned();
        }
        let post_rows = match posts_file {
            Some(f) => parse_posts(f, &self.archive.read(f).await?),
            None => Ok(Vec::new()),
        };
        let who = Identity::new(named_channel(channel.as_ref(), &videos), None);
        sink.identify(&who).await?;
        let account = self.resolve_account(channel.as_ref(), &videos, &channel_label)?;

        // Join video files to rows.
        let video_files: Vec<&str> = roles
            .iter()
            .filter(|(_, r)| *r == Role::VideoFile)
            .map(|(n, _)| *n)
            .collect();
        let stems: Vec<&str> = video_files
            .iter()
            .map(|n| split_ext(n.rsplit('/').next().unwrap_or_default()).0)
            .collect();
        let rows: Vec<(&str, OffsetDateTime)> = videos
            .iter()
            .map(|v| (v.title.as_str(), v.created))
            .collect();
        let matched = match_videos(&rows, &stems);
        let mut file_of: HashMap<usize, &str> = HashMap::new();
        for (fi, m) in matched.iter().enumerate() {
            if let Some(vi) = m {
                file_of.insert(*vi, video_files[fi]);
            }
        }
        let post_files: Vec<&str> = roles
            .iter()
            .filter(|(_, r)| *r == Role::PostFile)
            .map(|(n, _)| *n)
            .collect();

        // 2. Emit: begin, profile, every imported file in archive order, then the items.
        sink.begin(&account).await?;
        if let Some((id, title)) = &channel {
            sink.profile(Profile {
                platform: Platform::Youtube,
                id: id.clone(),
                username: None,
                display_name: title.clone(),
                description: None,
                url: Some(format!("https://www.youtube.com/channel/{id}")),
                counts: std::collections::BTreeMap::new(),
                media: Vec::new(),
                route: Route::Export,
            })
            .await?;
        }
        let wanted: HashSet<&str> = roles
            .iter()
            .filter(|(_, r)| !matches!(r, Role::Private(_) | Role::Other))
            .map(|(n, _)| *n)
            .collect();
        let stored = self.archive.store_in_order(sink, &wanted).await?;
        let sha = |name: &str| stored.get(name).map(|s| s.sha256);
        let source_path = |f: Option<&str>| f.and_then(|f| stored.get(f)).map(|s| s.path.clone());

        let mut missing = 0u64;
        for (vi, v) in videos.iter().enumerate() {
            let url = watch_url(&v.id);
            let media = match file_of.get(&vi) {
                Some(f) => MediaRef {
                    sha256: sha(f),
                    original_url: (*f).to_owned(),
                    chosen: None,
                    offered: Vec::new(),
                },
                None => MediaRef {
                    sha256: None,
                    original_url: url.clone(),
                    chosen: None,
                    offered: Vec::new(),
                },
            };
            let mut text = v.title.clone();
            if !v.description.is_empty() {
                text.push_str("\n\n");
                text.push_str(&v.description);
            }
            sink.item(Item {
                id: v.id.clone(),
                platform: Platform::Youtube,
                kind: ItemKind::Video,
                created_at: v.published,
                text,
                lang: v.lang.clone(),
                pinned: false,
                metrics: std::collections::BTreeMap::new(),
                media: vec![media],
                url: Some(url.clone()),
                references: Vec::new(),
                route: Route::Export,
                source_path: source_path(videos_file),
            })
            .await?;
            if !file_of.contains_key(&vi) {
                missing += 1;
                sink.gap(Gap {
                    reason: GapReason::MissingFromExport,
                    detail: format!(
                        "video {} ({:?}): its file is not in the Takeout (in a part not given, or videos not selected); the yt-dlp route can fetch {url}",
                        v.id, v.title
                    ),
                    item_id: Some(v.id.clone()),
                    url: Some(url),
                })
                .await?;
            }
        }

        let mut posts = 0u64;
        let mut post_images = 0u64;
        match &post_rows {
            Ok(rows) => {
                let mut seen = HashSet::new();
                for p in rows {
                    if !seen.insert(p.id.as_str()) {
                        continue;
                    }
                    let mut media = Vec::new();
                    let mut gaps = Vec::new();
                    for img in &p.images {
                        let want = format!("{}posts/{img}", self.root);
                        let file = post_files.iter().find(|f| **f == want).or_else(|| {
                            post_files
                                .iter()
                                .find(|f| f.rsplit('/').next() == Some(img.as_str()))
                        });
                        if let Some(f) = file {
                            post_images += 1;
                            media.push(MediaRef {
                                sha256: sha(f),
                                original_url: (*f).to_owned(),
                                chosen: None,
                                offered: Vec::new(),
                            });
                        } else {
                            media.push(MediaRef {
                                sha256: None,
                                original_url: want.clone(),
                                chosen: None,
                                offered: Vec::new(),
                            });
                            gaps.push(Gap {
                                reason: GapReason::MissingFromExport,
                                detail: format!(
                                    "post {}: image {img:?} is not in the Takeout's posts folder",
                                    p.id
                                ),
                                item_id: Some(p.id.clone()),
                                url: Some(want),
                            });
                        }
                    }
                    sink.item(Item {
                        id: p.id.clone(),
                        platform: Platform::Youtube,
                        kind: ItemKind::Post,
                        created_at: p.created,
                        text: p.text.clone(),
                        lang: None,
                        pinned: false,
                        metrics: std::collections::BTreeMap::new(),
                        media,
                        url: Some(format!("https://www.youtube.com/post/{}", p.id)),
                        references: Vec::new(),
                        route: Route::Export,
                        source_path: source_path(posts_file),
                    })
                    .await?;
                    posts += 1;
                    for g in gaps {
                        sink.gap(g).await?;
                    }
                }
            }
            Err(why) => {
                sink.gap(Gap {
                    reason: GapReason::Other,
                    detail: format!(
                        "{}: community posts not itemised ({why}); the file is stored as delivered",
                        posts_file.unwrap_or_default()
                    ),
                    item_id: None,
                    url: None,
                })
                .await?;
            }
        }

        let mut unmatched = 0u64;
        for (fi, f) in video_files.iter().enumerate() {
            if matched[fi].is_none() {
                unmatched += 1;
                sink.gap(Gap {
                    reason: GapReason::Other,
                    detail: format!(
                        "video file not matched to any video id: {f:?} has no row in videos.csv with that title (stored as delivered)"
                    ),
                    item_id: None,
                    url: None,
                })
                .await?;
            }
        }

        // 3. Report.
        let n_videos = videos.len() as u64;
        let video_files_stored = video_files.len() as u64;
        let private: Vec<&str> = roles
            .iter()
            .filter_map(|(_, r)| match r {
                Role::Private(w) => Some(*w),
                _ => None,
            })
            .collect();
        let other: BTreeSet<&str> = roles
            .iter()
            .filter(|(_, r)| *r == Role::Other)
            .map(|(n, _)| {
                let rel = n.strip_prefix(self.root.as_str()).unwrap_or(n);
                rel.split_once('/').map_or(rel, |(t, _)| t)
            })
            .collect();
        let other_files = roles.iter().filter(|(_, r)| *r == Role::Other).count();
        let playlists = roles.iter().filter(|(_, r)| *r == Role::Playlist).count();
        let mut captured = std::collections::BTreeMap::new();
        captured.insert("videos".to_owned(), n_videos);
        captured.insert("video_files".to_owned(), video_files_stored);
        captured.insert("posts".to_owned(), posts);
        captured.insert("media".to_owned(), video_files_stored + post_images);
        captured.insert("files".to_owned(), stored.len() as u64);
        captured.insert("playlist_files".to_owned(), playlists as u64);
        captured.insert("private_files_skipped".to_owned(), private.len() as u64);
        captured.insert("unmatched_video_files".to_owned(), unmatched);
        let mut statement = format!(
            "Imported the channel's Google Takeout ({}): {} ({} with their original file), {}, {} and {} stored byte-exact.",
            count(
                self.parts as u64,
                &format!("{} part", self.archive.format()),
                &format!("{} parts", self.archive.format())
            ),
            count(n_videos, "video", "videos"),
            n_videos - missing,
            count(posts, "community post", "community posts"),
            count(playlists as u64, "playlist file", "playlist files"),
            count(stored.len() as u64, "file", "files"),
        );
        if missing > 0 {
            let _ = write!(
                statement,
                " {} no file in the Takeout (see the gaps).",
                if missing == 1 {
                    "1 video has".to_owned()
                } else {
                    format!("{missing} videos have")
                }
            );
        }
        if unmatched > 0 {
            let _ = write!(
                statement,
                " {} could not be matched to a video id (stored; see the gaps).",
                count(unmatched, "video file", "video files")
            );
        }
        if repeats > 0 {
            let _ = write!(
                statement,
                " {} repeated in videos.csv imported once.",
                count(repeats, "video", "videos")
            );
        }
        if post_rows.is_err() {
            statement.push_str(" posts.csv has columns this version does not know: the posts were stored, not itemised.");
        }
        if !private.is_empty() {
            let kinds: BTreeSet<&str> = private.iter().copied().collect();
            let _ = write!(
                statement,
                " {} ({}) deliberately not imported.",
                count(private.len() as u64, "private file", "private files"),
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        if other_files > 0 {
            let _ = write!(
                statement,
                " {} not the channel's published content and not imported ({}).",
                if other_files == 1 {
                    "1 other file is".to_owned()
                } else {
                    format!("{other_files} other files are")
                },
                other.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(Report {
            platform_reported: std::collections::BTreeMap::new(),
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
    fn normalises_headers() {
        for (h, want) in [
            ("Video ID", "videoid"),
            ("video id", "videoid"),
            ("VideoID", "videoid"),
            ("  Video   ID ", "videoid"),
            ("\u{feff}Video ID", "videoid"),
            ("Video Title (Original)", "videotitle"),
            ("video_title", "videotitle"),
            ("VIDEO DESCRIPTION (ORIGINAL)", "videodescription"),
            ("Approx Duration (ms)", "approxdurationms"),
            ("Video Create Timestamp", "videocreatetimestamp"),
            ("Original", "original"),
        ] {
            assert_eq!(normalize_header(h), want, "{h:?}");
        }
    }

    #[test]
    fn names_files_like_takeout() {
        assert_eq!(
            file_name_for_title("حفل التخرج: الدفعة ١٤ | 2024"),
            "حفل التخرج_ الدفعة ١٤ _ 2024"
        );
        assert_eq!(file_name_for_title(r#"a/b\c*d?e"f<g>h"#), "a_b_c_d_e_f_g_h");
        assert_eq!(file_name_for_title("نهاية العام..."), "نهاية العام");
        assert_eq!(file_name_for_title("trailing . "), "trailing");
        assert_eq!(file_name_for_title("يَوْمُ المُعَلِّم 🎉"), "يَوْمُ المُعَلِّم 🎉");
        assert_eq!(file_name_for_title("tab\there"), "tab_here");
    }

    #[test]
    fn splits_extensions() {
        assert_eq!(split_ext("a.b.mp4"), ("a.b", "mp4"));
        assert_eq!(split_ext("Vol. 2 final"), ("Vol. 2 final", ""));
        assert_eq!(split_ext(".mp4"), (".mp4", ""));
        assert_eq!(split_ext("x (1).webm"), ("x (1)", "webm"));
    }

    #[test]
    fn matches_files_by_title_and_order() {
        let t0 = datetime!(2024-01-01 00:00 UTC);
        let t1 = datetime!(2024-02-01 00:00 UTC);
        let t2 = datetime!(2024-03-01 00:00 UTC);
        let videos = [
            ("حفل", t2),           // 0: newest of three "حفل" → " (2)"
            ("حفل", t0),           // 1: oldest → plain
            ("a: b | c", t0),      // 2
            ("Part (2)", t1),      // 3: a title ending in (2)
            ("حفل", t1),           // 4 → " (1)"
            ("Émoji 🎉 Day!", t0), // 5: only the loose rule matches "emoji day"
            ("Lost", t0),          // 6: no file
        ];
        let stems = [
            "حفل (1)",
            "حفل",
            "a_ b _ c",
            "Part (2)",
            "حفل (2)",
            "émoji day",
            "stranger",
            "حفل (3)",
        ];
        assert_eq!(
            match_videos(&videos, &stems),
            [
                Some(4),
                Some(1),
                Some(2),
                Some(3),
                Some(0),
                Some(5),
                None,
                None
            ]
        );
    }

    #[test]
    fn parses_times() {
        let t = datetime!(2024-09-23 06:05:00 UTC);
        assert_eq!(parse_time("2024-09-23T06:05:00+00:00"), Some(t));
        assert_eq!(parse_time("2024-09-23T06:05:00Z"), Some(t));
        assert_eq!(parse_time("2024-09-23T09:05:00+03:00"), Some(t));
        assert_eq!(
            parse_time("2024-09-23T06:05:00.123456+00:00"),
            Some(t + time::Duration::microseconds(123_456))
        );
        assert_eq!(parse_time("2024-09-23 06:05:00 UTC"), Some(t));
        assert_eq!(parse_time("2024-09-23T06:05:00"), Some(t));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("23/09/2024"), None);
    }

    #[test]
    fn classifies_files() {
        assert_eq!(classify("video metadata/videos.csv"), Role::Videos);
        assert_eq!(classify("Video Metadata/Videos.csv"), Role::Videos);
        assert_eq!(classify("video metadata/video texts.csv"), Role::Public);
        assert_eq!(classify("videos/x.mp4"), Role::VideoFile);
        assert_eq!(classify("channels/channel.csv"), Role::Channel);
        assert_eq!(classify("posts/posts.csv"), Role::Posts);
        assert_eq!(classify("posts/img.jpg"), Role::PostFile);
        assert_eq!(classify("playlists/Uploads.csv"), Role::Playlist);
        assert_eq!(
            classify("history/watch-history.json"),
            Role::Private("watch and search history")
        );
        assert_eq!(
            classify("subscriptions/subscriptions.csv"),
            Role::Private("subscriptions")
        );
        assert_eq!(classify("music (library and songs)/a.csv"), Role::Other);
        assert_eq!(classify("loose.txt"), Role::Other);
    }

    #[test]
    fn finds_the_youtube_folder() {
        let r = |names: &[&str]| find_root(names.iter().copied());
        assert_eq!(
            r(&[
                "Takeout/archive_browser.html",
                "Takeout/YouTube and YouTube Music/channels/channel.csv"
            ]),
            Ok(Some("Takeout/YouTube and YouTube Music/".into()))
        );
        assert_eq!(
            r(&["YouTube and YouTube Music/video metadata/videos.csv"]),
            Ok(Some("YouTube and YouTube Music/".into()))
        );
        assert_eq!(r(&["channels/channel.csv"]), Ok(Some(String::new())));
        assert_eq!(r(&["xchannels/channel.csv", "a.txt"]), Ok(None));
        assert!(r(&["a/channels/channel.csv", "b/channels/channel.csv"]).is_err());
    }

    #[test]
    fn a_missing_column_names_the_file_and_the_columns() {
        let body = "\u{feff}Video ID,Privacy\nabc,public\n";
        let e = parse_videos("Takeout/x/videos.csv", body.as_bytes()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("Takeout/x/videos.csv"), "{msg}");
        assert!(msg.contains("Video Title"), "{msg}");
        assert!(msg.contains(r#""Video ID", "Privacy""#), "{msg}");
    }
}
