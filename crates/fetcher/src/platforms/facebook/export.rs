//! Facebook's "Download Your Information" export (JSON) of a Page or a personal profile:
//! [`FacebookExport`] imports the zip (or the several zips of a split export). The shared DYI
//! decisions (parts, root folder, mojibake repair, private folders, media URLs, item ids,
//! account id) are documented in [`crate::platforms::meta::export`]; Facebook specifics:
//!
//! - **Layouts** (reference §3.5), recognised by the posts files: Page (New Pages Experience)
//!   `this_profile's_activity_across_facebook/posts/profile_posts_N.json`; person 2024+
//!   `your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_N.json`; person
//!   2022–23 the same under `your_activity_across_facebook/posts/`; older `posts/your_posts_N.json`
//!   with `photos_and_videos/`. Split posts files (`_1`, `_2`…) are read in number order.
//! - **Posts** → `Post` items: `timestamp`; text from `data[*].post` (absent on photo-only
//!   posts: then the first medium's `description`, which Facebook fills with the post text);
//!   media from every `attachments[*].data[*].media.uri` (both groupings occur); a shared link
//!   (`external_context.url`) not already in the text and a place (`place`: name, address,
//!   coordinates as given) are appended as lines of the derived text, only when present.
//!   People tags are not derived (they stay in the stored file).
//! - **Videos** (`videos.json` of a Page, `your_videos.json` of a person: `{"videos_v2": […]}`)
//!   → `Video` items: text from `description`, else `title`. A video also attached to a post
//!   is stored once and referenced by both items.
//! - **Albums** (`album/N.json`: `{name, photos[], cover_photo, …}`) are stored and their
//!   photos stored; a photo missing from the export is a gap naming the album. Albums are not
//!   items (their photos are the posts' media).
//! - **Other public JSON** of the posts folders (`posts_on_other_pages_and_profiles.json`,
//!   `your_uncategorized_photos.json`…) is stored but not derived; every file under the media
//!   folders is stored, referenced or not.
//! - **Account**: `profile_v2.username` of `profile_information.json` (else the name in
//!   `profile_v2.profile_uri`), else the zip's name `facebook-<name>-…`, else
//!   [`FacebookExport::with_account`]'s (which always wins).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;
use model::{AccountId, ItemKind, Platform, Profile, Route};
use serde_json::Value;

use crate::error::Result;
use crate::export_zip::{ZipEntry, ZipLimits};
use crate::platforms::meta::export::{
    Dyi, Entry, FileStore, Skipped, emit_entries, export_identity, import_report, is_json,
    malformed, private_kind, resolve_account, store_unreferenced, str_at, unix_time,
};
use crate::source::{Report, Sink, Source};

const P: Platform = Platform::Facebook;

/// Folders of the posts files (and of videos, albums and media), Page first.
const POSTS_DIRS: &[&str] = &[
    "this_profile's_activity_across_facebook/posts/",
    "your_facebook_activity/posts/",
    "your_activity_across_facebook/posts/",
    "posts/",
];

/// The older exports' folder of albums, videos and media.
const PHOTOS_DIR: &str = "photos_and_videos/";

/// Names of posts files before the optional `_N` and `.json`.
const POSTS_FILES: &[&str] = &[
    "profile_posts",
    "your_posts__check_ins__photos_and_videos",
    "your_posts",
];

const VIDEOS_FILES: &[&str] = &["videos.json", "your_videos.json"];

const PROFILE_FILES: &[&str] = &[
    "personal_information/profile_information/profile_information.json",
    "profile_information/profile_information.json",
];

/// What the importer does with a file of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Profile,
    /// A posts file (N; unnumbered is 0).
    Posts(u64),
    Videos,
    Album,
    /// Other JSON of a posts folder: stored, not derived.
    Public,
    Media,
    /// Never read.
    Private(&'static str),
    /// Not the account's published content (comments, reactions, friends…): not imported.
    Other,
}

impl Role {
    fn private(&self) -> Option<&'static str> {
        match self {
            Role::Private(what) => Some(*what),
            _ => None,
        }
    }
}

/// The role of `rel`, a path relative to the export root.
pub fn classify(rel: &str) -> Role {
    if let Some(what) = private_kind(rel) {
        return Role::Private(what);
    }
    if PROFILE_FILES.contains(&rel) {
        return Role::Profile;
    }
    let dirs = POSTS_DIRS.iter().copied().chain([PHOTOS_DIR]);
    for dir in dirs {
        let Some(sub) = rel.strip_prefix(dir) else {
            continue;
        };
        let is_json = is_json(sub);
        if let Some(file) = sub.strip_prefix("album/") {
            if is_json && !file.contains('/') {
                return Role::Album;
            }
        } else if !sub.contains('/') && is_json {
            if VIDEOS_FILES.contains(&sub) {
                return Role::Videos;
            }
            if let Some(n) = posts_number(sub).filter(|_| dir != PHOTOS_DIR) {
                return Role::Posts(n);
            }
            return Role::Public;
        }
        if !is_json && (sub.starts_with("media/") || dir == PHOTOS_DIR) {
            return Role::Media;
        }
        return Role::Other;
    }
    Role::Other
}

fn posts_number(file: &str) -> Option<u64> {
    let stem = file.strip_suffix(".json")?;
    POSTS_FILES.iter().find_map(|p| {
        let rest = stem.strip_prefix(p)?;
        if rest.is_empty() {
            return Some(0);
        }
        let n = rest.strip_prefix('_')?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok()
    })
}

/// The owner's Facebook DYI export (Page or personal profile), opened and validated.
#[derive(Debug)]
pub struct FacebookExport {
    dyi: Dyi,
    account: Option<AccountId>,
}

impl FacebookExport {
    /// Opens with the default [`ZipLimits`].
    pub async fn open(paths: &[PathBuf]) -> Result<FacebookExport> {
        FacebookExport::open_with(paths, ZipLimits::default()).await
    }

    /// Opens and validates every part and recognises the layout; refuses an export in no known
    /// layout, or in HTML format.
    pub async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<FacebookExport> {
        let dyi = Dyi::open(P, "a Facebook export", paths, limits, |rel| {
            matches!(classify(rel), Role::Posts(_))
        })
        .await?;
        Ok(FacebookExport { dyi, account: None })
    }

    /// The account id to file the capture under, overriding the one found in the export.
    #[must_use]
    pub fn with_account(mut self, account: AccountId) -> FacebookExport {
        self.account = Some(account);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure functions over repaired JSON)

/// The profile as `profile_information.json` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInfo {
    pub username: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub bio: Option<String>,
}

pub fn parse_profile(v: &Value) -> ProfileInfo {
    let p = v
        .get("profile_v2")
        .or_else(|| v.get("profile"))
        .unwrap_or(v);
    let url = str_at(p, &["profile_uri"])
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_owned);
    // `https://www.facebook.com/<username>`; `profile.php?id=` carries no username.
    let from_url = url.as_deref().and_then(|u| {
        let path = u.split_once("facebook.com/")?.1;
        let name = path.split(['/', '?', '#']).next()?;
        (!name.is_empty() && name != "profile.php").then(|| name.to_owned())
    });
    ProfileInfo {
        username: str_at(p, &["username"]).map(str::to_owned).or(from_url),
        name: str_at(p, &["name", "full_name"])
            .or_else(|| str_at(p, &["name"]))
            .map(str::to_owned),
        url,
        bio: str_at(p, &["intro_bio"]).map(str::to_owned),
    }
}

/// `name, address (latitude, longitude)` of a place, each part only when present.
fn place_line(place: &Value) -> Option<String> {
    let mut s = String::new();
    if let Some(name) = str_at(place, &["name"]) {
        s.push_str(name);
    }
    if let Some(addr) = str_at(place, &["address"]) {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(addr);
    }
    let c = place.get("coordinate");
    if let (Some(lat), Some(lon)) = (
        c.and_then(|c| c.get("latitude")).filter(|v| v.is_number()),
        c.and_then(|c| c.get("longitude")).filter(|v| v.is_number()),
    ) {
        if !s.is_empty() {
            s.push(' ');
        }
        let _ = write!(s, "({lat}, {lon})");
    }
    (!s.is_empty()).then(|| format!("📍 {s}"))
}

/// One element of a posts file.
pub fn parse_post(file: &str, index: usize, el: &Value) -> Result<Entry> {
    let bad = |what: &str| malformed(P, file, format!("element {index}: {what}"));
    if !el.is_object() {
        return Err(bad("not an object"));
    }
    let created_at = unix_time(el.get("timestamp")).ok_or_else(|| bad("no timestamp"))?;
    let post = el
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|d| str_at(d, &["post"]));
    let mut uris = Vec::new();
    let mut description = None;
    let mut links: Vec<&str> = Vec::new();
    let mut places: Vec<String> = Vec::new();
    let attachments = el.get("attachments").and_then(Value::as_array);
    for a in attachments.into_iter().flatten() {
        for d in a
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(m) = d.get("media") {
                let uri = str_at(m, &["uri"]).ok_or_else(|| bad("an attached media has no uri"))?;
                uris.push(uri.to_owned());
                description = description.or_else(|| str_at(m, &["description"]));
            }
            if let Some(url) = str_at(d, &["external_context", "url"]) {
                links.push(url);
            }
            if let Some(line) = d.get("place").and_then(place_line) {
                places.push(line);
            }
        }
    }
    let mut text = post.or(description).unwrap_or_default().to_owned();
    let extra: Vec<String> = links
        .into_iter()
        .filter(|l| !text.contains(l))
        .map(str::to_owned)
        .chain(places)
        .collect();
    for line in extra {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line);
    }
    Ok(Entry {
        kind: ItemKind::Post,
        id_kind: "post",
        created_at,
        text,
        uris,
    })
}

/// The videos of `{"videos_v2": [{uri, creation_timestamp, title, description}]}`.
pub fn parse_videos(file: &str, v: &Value) -> Result<Vec<Entry>> {
    let arr = v
        .get("videos_v2")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(P, file, "expected {\"videos_v2\": [ … ]}"))?;
    arr.iter()
        .enumerate()
        .map(|(i, el)| {
            let bad = |what: &str| malformed(P, file, format!("videos_v2[{i}]: {what}"));
            Ok(Entry {
                kind: ItemKind::Video,
                id_kind: "video",
                created_at: unix_time(el.get("creation_timestamp"))
                    .ok_or_else(|| bad("no creation_timestamp"))?,
                text: str_at(el, &["description"])
                    .or_else(|| str_at(el, &["title"]))
                    .unwrap_or_default()
                    .to_owned(),
                uris: vec![
                    str_at(el, &["uri"])
                        .ok_or_else(|| bad("no uri"))?
                        .to_owned(),
                ],
            })
        })
        .collect()
}

/// An album's name and its photos' `uri`s (the cover first if it is not among them).
pub fn parse_album(file: &str, v: &Value) -> Result<(String, Vec<String>)> {
    let photos = v
        .get("photos")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(P, file, "expected {\"name\", \"photos\": [ … ]}"))?;
    let mut uris: Vec<String> = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let uri = str_at(p, &["uri"])
            .ok_or_else(|| malformed(P, file, format!("photos[{i}]: no uri")))?;
        uris.push(uri.to_owned());
    }
    if let Some(cover) = str_at(v, &["cover_photo", "uri"])
        && !uris.iter().any(|u| u == cover)
    {
        uris.insert(0, cover.to_owned());
    }
    let name = str_at(v, &["name"]).unwrap_or(file).to_owned();
    Ok((name, uris))
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Source for FacebookExport {
    fn platform(&self) -> Platform {
        P
    }

    fn route(&self) -> Route {
        Route::Export
    }

    #[allow(clippy::too_many_lines)]
    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report> {
        let dyi = &self.dyi;
        // 1. Plan: classify every file; nothing is emitted before every data file parsed.
        let roles: Vec<(ZipEntry, Role)> = dyi
            .files()
            .map(|(e, rel)| (e.clone(), rel.map_or(Role::Other, classify)))
            .collect();
        let skipped = Skipped::tally(&roles, Role::private, |r| *r == Role::Other);
        let profile_entry = PROFILE_FILES.iter().find_map(|f| dyi.file(f)).cloned();
        let mut posts_files: Vec<(u64, &ZipEntry)> = roles
            .iter()
            .filter_map(|(e, r)| match r {
                Role::Posts(n) => Some((*n, e)),
                _ => None,
            })
            .collect();
        posts_files.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));

        // 2. Parse.
        let profile = match &profile_entry {
            Some(e) => parse_profile(&dyi.read_json(e).await?),
            None => ProfileInfo::default(),
        };
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for (_, e) in &posts_files {
            let v = dyi.read_json(e).await?;
            let arr = v
                .as_array()
                .ok_or_else(|| malformed(P, &e.name, "expected a top-level array of posts"))?;
            for (i, el) in arr.iter().enumerate() {
                entries.push((e.name.clone(), parse_post(&e.name, i, el)?));
            }
        }
        let mut albums: Vec<(String, Vec<String>)> = Vec::new();
        for (e, r) in &roles {
            match r {
                Role::Videos => {
                    let v = dyi.read_json(e).await?;
                    entries.extend(
                        parse_videos(&e.name, &v)?
                            .into_iter()
                            .map(|x| (e.name.clone(), x)),
                    );
                }
                Role::Album => albums.push(parse_album(&e.name, &dyi.read_json(e).await?)?),
                _ => {}
            }
        }
        let who = export_identity(dyi, profile.username.as_deref(), "facebook-");
        sink.identify(&who).await?;
        let account = resolve_account(
            dyi,
            self.account.as_ref(),
            profile.username.as_deref(),
            "facebook-",
            "profile_information.json",
        )?;

        // 3. Emit: begin, the profile, the data files, the items with their media, albums.
        sink.begin(&account).await?;
        let mut files = FileStore::default();
        if let Some(e) = &profile_entry {
            files.store(dyi, sink, e, false).await?;
        }
        sink.profile(Profile {
            platform: P,
            id: account.as_str().to_owned(),
            username: profile.username.clone(),
            display_name: profile.name.clone(),
            description: profile.bio.clone(),
            url: profile.url.clone().or_else(|| {
                profile
                    .username
                    .as_ref()
                    .map(|u| format!("https://www.facebook.com/{u}"))
            }),
            counts: BTreeMap::new(),
            media: Vec::new(),
            route: Route::Export,
        })
        .await?;
        for (e, r) in &roles {
            if matches!(
                r,
                Role::Posts(_) | Role::Videos | Role::Album | Role::Public
            ) {
                files.store(dyi, sink, e, false).await?;
            }
        }
        let mut missing = emit_entries(dyi, sink, &mut files, &entries).await?;
        for (name, uris) in &albums {
            let owner = format!("album {name:?}");
            for uri in uris {
                let (_, gap) = files.media_ref(dyi, sink, uri, &owner, None).await?;
                if let Some(g) = gap {
                    missing += 1;
                    sink.gap(g).await?;
                }
            }
        }
        let media = roles.iter().filter(|(_, r)| *r == Role::Media);
        store_unreferenced(dyi, sink, &mut files, media.map(|(e, _)| e)).await?;

        // 4. Report.
        let of_kind = |k: ItemKind| entries.iter().filter(|(_, x)| x.kind == k).count() as u64;
        Ok(import_report(
            "Facebook",
            &[
                ("posts", of_kind(ItemKind::Post), "post", "posts"),
                ("videos", of_kind(ItemKind::Video), "video", "videos"),
                ("albums", albums.len() as u64, "album", "albums"),
            ],
            &files,
            missing,
            &skipped,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_layout() {
        let page = "this_profile's_activity_across_facebook/posts/";
        assert_eq!(
            classify(&format!("{page}profile_posts_1.json")),
            Role::Posts(1)
        );
        assert_eq!(
            classify(&format!("{page}profile_posts_2.json")),
            Role::Posts(2)
        );
        assert_eq!(classify(&format!("{page}videos.json")), Role::Videos);
        assert_eq!(classify(&format!("{page}album/0.json")), Role::Album);
        assert_eq!(
            classify(&format!("{page}media/Timeline_1/2.jpg")),
            Role::Media
        );
        for dir in [
            "your_facebook_activity/posts/",
            "your_activity_across_facebook/posts/",
        ] {
            assert_eq!(
                classify(&format!(
                    "{dir}your_posts__check_ins__photos_and_videos_1.json"
                )),
                Role::Posts(1)
            );
            assert_eq!(classify(&format!("{dir}your_videos.json")), Role::Videos);
            assert_eq!(
                classify(&format!("{dir}your_uncategorized_photos.json")),
                Role::Public
            );
        }
        assert_eq!(classify("posts/your_posts_1.json"), Role::Posts(1));
        assert_eq!(classify("posts/your_posts.json"), Role::Posts(0));
        assert_eq!(classify("photos_and_videos/album/3.json"), Role::Album);
        assert_eq!(classify("photos_and_videos/your_videos.json"), Role::Videos);
        assert_eq!(classify("photos_and_videos/Album_1/1.jpg"), Role::Media);
        assert_eq!(
            classify("profile_information/profile_information.json"),
            Role::Profile
        );
        assert_eq!(
            classify("your_facebook_activity/messages/inbox/a/message_1.json"),
            Role::Private("messages")
        );
        assert_eq!(
            classify("your_facebook_activity/comments_and_reactions/comments.json"),
            Role::Other
        );
        assert_eq!(classify("posts/your_posts_x.json"), Role::Public);
    }

    #[test]
    fn walks_every_attachment_grouping() {
        let v: Value = serde_json::from_str(
            r#"{"timestamp": 1725165900,
                "attachments": [
                  {"data": [{"media": {"uri": "a.jpg", "description": "d"}}, {"media": {"uri": "b.jpg"}}]},
                  {"data": [{"media": {"uri": "c.jpg"}}]},
                  {"data": [{"external_context": {"url": "https://example.org/x"}}]},
                  {"data": [{"place": {"name": "School", "coordinate": {"latitude": 24.7136, "longitude": 46.6753}, "address": "Riyadh"}}]}
                ],
                "data": [{"update_timestamp": 1725165999}, {"post": "hello"}],
                "title": "School updated their status."}"#,
        )
        .unwrap();
        let e = parse_post("f", 0, &v).unwrap();
        assert_eq!(e.uris, ["a.jpg", "b.jpg", "c.jpg"]);
        assert_eq!(
            e.text,
            "hello\nhttps://example.org/x\n📍 School, Riyadh (24.7136, 46.6753)"
        );
        // Photo-only: no post text, the media description stands in; no title.
        let v: Value = serde_json::from_str(
            r#"{"timestamp": 1, "attachments": [{"data": [{"media": {"uri": "a.jpg", "description": "caption"}}]}], "title": ""}"#,
        )
        .unwrap();
        assert_eq!(parse_post("f", 0, &v).unwrap().text, "caption");
        let v: Value = serde_json::from_str(r#"{"timestamp": 1}"#).unwrap();
        assert_eq!(parse_post("f", 0, &v).unwrap().text, "");
        let v: Value = serde_json::from_str(r#"{"data": [{"post": "x"}]}"#).unwrap();
        assert_eq!(parse_post("f", 0, &v).unwrap_err().kind(), "malformed");
    }

    #[test]
    fn reads_the_profile() {
        let v: Value = serde_json::from_str(
            r#"{"profile_v2": {"name": {"full_name": "N"}, "profile_uri": "https://www.facebook.com/alnoor.school"}}"#,
        )
        .unwrap();
        let p = parse_profile(&v);
        assert_eq!(p.username.as_deref(), Some("alnoor.school"));
        assert_eq!(p.name.as_deref(), Some("N"));
    }
}
