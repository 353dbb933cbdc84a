//! Instagram's "Download Your Information" export (JSON): [`InstagramExport`] imports the zip
//! (or the several zips of a split export). The shared DYI decisions (parts, root folder,
//! mojibake repair, private folders, media URLs, item ids, account id) are documented in
//! [`crate::platforms::meta::export`]; Instagram specifics:
//!
//! - **Layouts** (reference §2.5), recognised by where the posts/reels/stories JSON is:
//!   2025 `your_instagram_activity/media/`, 2024 `your_instagram_activity/content/`, 2022–23
//!   `content/` (each `posts_1.json`, `posts_2.json`…, `reels.json`, `stories.json`,
//!   `archived_posts.json`), ≤2020 `media.json` (`photos[]`, `videos[]`, `stories[]` of
//!   `{caption, taken_at, path}`). Media files are under `media/` (≤2020: `photos/`,
//!   `videos/`, `stories/`, `profile/`).
//! - **Items.** Posts (also archived posts, id prefix `archived`) → `Post`, reels → `Reel`,
//!   stories → `Story`. A carousel's caption and time are the element's top-level `title` and
//!   `creation_timestamp` (its media titles are `""`); a single-item post has neither, so its
//!   first medium's are used. DYI has no permalinks: items carry no `url`.
//! - **Other public JSON** of the content folder (`other_content.json`,
//!   `recently_deleted_content.json`, `profile_photos.json`…) is stored byte-exact but not
//!   derived; every file under the media folders is stored, referenced or not.
//! - **Account**: `Username` of `personal_information.json` (`profile_user[0].string_map_data`;
//!   ≤2020 `profile.json` `username`), else the zip's name `instagram-<username>-…`, else
//!   [`InstagramExport::with_account`]'s (which always wins). The profile file is stored like
//!   the X archive's `account.js`: it is the evidence for the account id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use model::{AccountId, ItemKind, Platform, Profile, Route};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Result;
use crate::export_zip::{ZipEntry, ZipLimits};
use crate::platforms::meta::export::{
    Dyi, Entry, FileStore, Skipped, emit_entries, export_identity, import_report, is_json,
    malformed, private_kind, resolve_account, store_unreferenced, str_at, unix_time,
};
use crate::source::{Report, Sink, Source};

const P: Platform = Platform::Instagram;

/// The folders of the posts/reels/stories JSON, newest layout first.
const CONTENT_DIRS: &[&str] = &[
    "your_instagram_activity/media/",
    "your_instagram_activity/content/",
    "content/",
];

/// The profile file, newest layout first.
const PROFILE_FILES: &[&str] = &[
    "personal_information/personal_information/personal_information.json",
    "personal_information/personal_information.json",
    "profile.json",
];

/// Folders of media files (≤2020 exports keep theirs at the root by kind).
const MEDIA_DIRS: &[&str] = &["media/", "photos/", "videos/", "stories/", "profile/"];

/// What the importer does with a file of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Profile,
    /// `posts_N.json` (N; `posts.json` is 0).
    Posts(u64),
    Archived,
    Reels,
    Stories,
    /// `media.json` of exports up to 2020.
    Legacy,
    /// Other JSON of the content folder: stored, not derived.
    Public,
    Media,
    /// Never read.
    Private(&'static str),
    /// Not the account's published content (likes, comments, followers…): not imported.
    Other,
}

impl Role {
    fn private(&self) -> Option<&'static str> {
        match self {
            Role::Private(what) => Some(*what),
            _ => None,
        }
    }

    fn is_data(self) -> bool {
        matches!(
            self,
            Role::Posts(_) | Role::Archived | Role::Reels | Role::Stories | Role::Legacy
        )
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
    if rel == "media.json" {
        return Role::Legacy;
    }
    for dir in CONTENT_DIRS {
        if let Some(file) = rel.strip_prefix(dir).filter(|f| !f.contains('/')) {
            return match file {
                "reels.json" => Role::Reels,
                "stories.json" => Role::Stories,
                "archived_posts.json" => Role::Archived,
                "posts.json" => Role::Posts(0),
                f => match posts_number(f) {
                    Some(n) => Role::Posts(n),
                    None if is_json(f) => Role::Public,
                    None => Role::Other,
                },
            };
        }
    }
    if MEDIA_DIRS.iter().any(|d| rel.starts_with(d)) {
        return Role::Media;
    }
    Role::Other
}

fn posts_number(file: &str) -> Option<u64> {
    let n = file.strip_prefix("posts_")?.strip_suffix(".json")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// The owner's Instagram DYI export, opened and validated.
#[derive(Debug)]
pub struct InstagramExport {
    dyi: Dyi,
    account: Option<AccountId>,
}

impl InstagramExport {
    /// Opens with the default [`ZipLimits`].
    pub async fn open(paths: &[PathBuf]) -> Result<InstagramExport> {
        InstagramExport::open_with(paths, ZipLimits::default()).await
    }

    /// Opens and validates every part and recognises the layout; refuses an export in no known
    /// layout, or in HTML format.
    pub async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<InstagramExport> {
        let dyi = Dyi::open(P, "an Instagram export", paths, limits, |rel| {
            classify(rel).is_data()
        })
        .await?;
        Ok(InstagramExport { dyi, account: None })
    }

    /// The account id to file the capture under, overriding the one found in the export.
    #[must_use]
    pub fn with_account(mut self, account: AccountId) -> InstagramExport {
        self.account = Some(account);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure functions over repaired JSON)

/// The profile as `personal_information.json` (or ≤2020 `profile.json`) gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInfo {
    pub username: Option<String>,
    pub name: Option<String>,
    pub bio: Option<String>,
    pub photo_uri: Option<String>,
}

pub fn parse_profile(v: &Value) -> ProfileInfo {
    if let Some(user) = v
        .get("profile_user")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let field = |k: &str| str_at(user, &["string_map_data", k, "value"]).map(str::to_owned);
        return ProfileInfo {
            username: field("Username"),
            name: field("Name"),
            bio: field("Bio"),
            photo_uri: str_at(user, &["media_map_data", "Profile Photo", "uri"]).map(str::to_owned),
        };
    }
    ProfileInfo {
        username: str_at(v, &["username"]).map(str::to_owned),
        name: str_at(v, &["name"]).map(str::to_owned),
        bio: str_at(v, &["biography"]).map(str::to_owned),
        photo_uri: str_at(v, &["profile_pic_url"])
            .filter(|u| !u.starts_with("http"))
            .map(str::to_owned),
    }
}

/// `{media:[{uri, creation_timestamp, title…}], title?, creation_timestamp?}`: a post,
/// archived post or reel. A carousel has the caption and time at the top level (media titles
/// `""`), a single-item post only in `media[0]`.
pub fn parse_group(
    file: &str,
    index: usize,
    el: &Value,
    kind: ItemKind,
    id_kind: &'static str,
) -> Result<Entry> {
    let bad = |what: &str| malformed(P, file, format!("element {index}: {what}"));
    let media = el
        .get("media")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no media array"))?;
    let mut uris = Vec::with_capacity(media.len());
    for (i, m) in media.iter().enumerate() {
        let uri = str_at(m, &["uri"]).ok_or_else(|| bad(&format!("media {i} has no uri")))?;
        uris.push(uri.to_owned());
    }
    let first = media.first();
    let created_at = unix_time(el.get("creation_timestamp"))
        .or_else(|| first.and_then(|m| unix_time(m.get("creation_timestamp"))))
        .ok_or_else(|| bad("no creation_timestamp"))?;
    let text = str_at(el, &["title"])
        .or_else(|| first.and_then(|m| str_at(m, &["title"])))
        .unwrap_or_default()
        .to_owned();
    Ok(Entry {
        kind,
        id_kind,
        created_at,
        text,
        uris,
    })
}

/// One flat story `{uri, creation_timestamp, title}`.
pub fn parse_story(file: &str, index: usize, el: &Value) -> Result<Entry> {
    let bad = |what: &str| malformed(P, file, format!("element {index}: {what}"));
    let uri = str_at(el, &["uri"]).ok_or_else(|| bad("no uri"))?;
    Ok(Entry {
        kind: ItemKind::Story,
        id_kind: "story",
        created_at: unix_time(el.get("creation_timestamp"))
            .ok_or_else(|| bad("no creation_timestamp"))?,
        text: str_at(el, &["title"]).unwrap_or_default().to_owned(),
        uris: vec![uri.to_owned()],
    })
}

/// The array under `key` of a `{key: [...]}` document.
fn array_under<'a>(file: &str, v: &'a Value, key: &str) -> Result<&'a Vec<Value>> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(P, file, format!("expected {{\"{key}\": [ … ]}}")))
}

/// `taken_at` of ≤2020 exports: RFC 3339, the same without an offset (UTC), or Unix seconds.
fn legacy_time(v: Option<&Value>) -> Option<OffsetDateTime> {
    if let Some(s) = v.and_then(Value::as_str) {
        if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
            return Some(t.to_offset(time::UtcOffset::UTC));
        }
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        return time::PrimitiveDateTime::parse(s, &fmt)
            .ok()
            .map(time::PrimitiveDateTime::assume_utc);
    }
    unix_time(v)
}

/// The entries of a data file, by role.
pub fn parse_data(file: &str, role: Role, v: &Value) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    match role {
        Role::Posts(_) => {
            let arr = v
                .as_array()
                .ok_or_else(|| malformed(P, file, "expected a top-level array of posts"))?;
            for (i, el) in arr.iter().enumerate() {
                out.push(parse_group(file, i, el, ItemKind::Post, "post")?);
            }
        }
        Role::Archived => {
            for (i, el) in array_under(file, v, "ig_archived_post_media")?
                .iter()
                .enumerate()
            {
                out.push(parse_group(file, i, el, ItemKind::Post, "archived")?);
            }
        }
        Role::Reels => {
            for (i, el) in array_under(file, v, "ig_reels_media")?.iter().enumerate() {
                out.push(parse_group(file, i, el, ItemKind::Reel, "reel")?);
            }
        }
        Role::Stories => {
            for (i, el) in array_under(file, v, "ig_stories")?.iter().enumerate() {
                out.push(parse_story(file, i, el)?);
            }
        }
        Role::Legacy => {
            let mut any = false;
            for (key, kind, id_kind) in [
                ("photos", ItemKind::Post, "post"),
                ("videos", ItemKind::Post, "post"),
                ("stories", ItemKind::Story, "story"),
            ] {
                let Some(arr) = v.get(key).and_then(Value::as_array) else {
                    continue;
                };
                any = true;
                for (i, el) in arr.iter().enumerate() {
                    let bad = |what: &str| malformed(P, file, format!("{key}[{i}]: {what}"));
                    let path = str_at(el, &["path"]).ok_or_else(|| bad("no path"))?;
                    out.push(Entry {
                        kind,
                        id_kind,
                        created_at: legacy_time(el.get("taken_at"))
                            .ok_or_else(|| bad("no readable taken_at"))?,
                        text: str_at(el, &["caption"]).unwrap_or_default().to_owned(),
                        uris: vec![path.to_owned()],
                    });
                }
            }
            if !any {
                return Err(malformed(
                    P,
                    file,
                    "expected {\"photos\": [ … ], \"videos\": [ … ], \"stories\": [ … ]}",
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Source for InstagramExport {
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
        let mut roles: Vec<(ZipEntry, Role)> = Vec::new();
        for (e, rel) in dyi.files() {
            roles.push((e.clone(), rel.map_or(Role::Other, classify)));
        }
        let skipped = Skipped::tally(&roles, Role::private, |r| *r == Role::Other);
        let profile_entry = PROFILE_FILES.iter().find_map(|f| dyi.file(f)).cloned();
        // Posts files in number order, then the others in zip order.
        let mut data: Vec<(ZipEntry, Role)> =
            roles.iter().filter(|(_, r)| r.is_data()).cloned().collect();
        data.sort_by_key(|(e, r)| match r {
            Role::Posts(n) => (0, *n, e.name.clone()),
            _ => (1, 0, String::new()),
        });

        // 2. Parse.
        let profile = match &profile_entry {
            Some(e) => parse_profile(&dyi.read_json(e).await?),
            None => ProfileInfo::default(),
        };
        let mut entries: Vec<(String, Entry)> = Vec::new();
        for (e, role) in &data {
            let v = dyi.read_json(e).await?;
            entries.extend(
                parse_data(&e.name, *role, &v)?
                    .into_iter()
                    .map(|x| (e.name.clone(), x)),
            );
        }
        let who = export_identity(dyi, profile.username.as_deref(), "instagram-");
        sink.identify(&who).await?;
        let account = resolve_account(
            dyi,
            self.account.as_ref(),
            profile.username.as_deref(),
            "instagram-",
            "personal_information.json",
        )?;

        // 3. Emit: begin, the profile, the data files, the items with their media.
        sink.begin(&account).await?;
        let mut files = FileStore::default();
        if let Some(e) = &profile_entry {
            files.store(dyi, sink, e, false).await?;
        }
        let mut picture = Vec::new();
        if let Some(uri) = &profile.photo_uri {
            let (media, gap) = files
                .media_ref(dyi, sink, uri, "profile picture", None)
                .await?;
            picture.push(media);
            if let Some(g) = gap {
                sink.gap(g).await?;
            }
        }
        let username = profile.username.clone();
        sink.profile(Profile {
            platform: P,
            id: account.as_str().to_owned(),
            username: username.clone(),
            display_name: profile.name.clone(),
            description: profile.bio.clone(),
            url: username
                .as_ref()
                .map(|u| format!("https://www.instagram.com/{u}/")),
            counts: BTreeMap::new(),
            media: picture,
            route: Route::Export,
        })
        .await?;
        for (e, r) in &roles {
            if r.is_data() || *r == Role::Public {
                files.store(dyi, sink, e, false).await?;
            }
        }

        let missing = emit_entries(dyi, sink, &mut files, &entries).await?;
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (_, x) in &entries {
            *counts
                .entry(match x.kind {
                    ItemKind::Reel => "reels",
                    ItemKind::Story => "stories",
                    _ => "posts",
                })
                .or_default() += 1;
        }
        let media = roles.iter().filter(|(_, r)| *r == Role::Media);
        store_unreferenced(dyi, sink, &mut files, media.map(|(e, _)| e)).await?;

        // 4. Report.
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        Ok(import_report(
            "Instagram",
            &[
                ("posts", n("posts"), "post", "posts"),
                ("reels", n("reels"), "reel", "reels"),
                ("stories", n("stories"), "story", "stories"),
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
        for dir in CONTENT_DIRS {
            assert_eq!(classify(&format!("{dir}posts_1.json")), Role::Posts(1));
            assert_eq!(classify(&format!("{dir}posts_12.json")), Role::Posts(12));
            assert_eq!(classify(&format!("{dir}reels.json")), Role::Reels);
            assert_eq!(classify(&format!("{dir}stories.json")), Role::Stories);
            assert_eq!(
                classify(&format!("{dir}archived_posts.json")),
                Role::Archived
            );
            assert_eq!(classify(&format!("{dir}other_content.json")), Role::Public);
            assert_eq!(classify(&format!("{dir}posts_x.json")), Role::Public);
        }
        assert_eq!(classify("media.json"), Role::Legacy);
        assert_eq!(classify("media/posts/202409/1.jpg"), Role::Media);
        assert_eq!(classify("photos/201905/a.jpg"), Role::Media);
        assert_eq!(
            classify("personal_information/personal_information/personal_information.json"),
            Role::Profile
        );
        assert_eq!(
            classify("your_instagram_activity/messages/inbox/a_1/message_1.json"),
            Role::Private("messages")
        );
        assert_eq!(classify("messages.json"), Role::Private("messages"));
        assert_eq!(
            classify("your_instagram_activity/likes/liked_posts.json"),
            Role::Other
        );
        assert_eq!(
            classify("your_instagram_activity/content/sub/posts_1.json"),
            Role::Other
        );
    }

    #[test]
    fn single_and_carousel_captions() {
        let single: Value = serde_json::from_str(
            r#"{"media":[{"uri":"media/posts/1.jpg","creation_timestamp":1725165900,"title":"single"}]}"#,
        )
        .unwrap();
        let e = parse_group("f", 0, &single, ItemKind::Post, "post").unwrap();
        assert_eq!(e.text, "single");
        assert_eq!(e.created_at.unix_timestamp(), 1_725_165_900);
        let carousel: Value = serde_json::from_str(
            r#"{"media":[{"uri":"a.jpg","creation_timestamp":5,"title":""},{"uri":"b.jpg","creation_timestamp":6,"title":""}],
                "title":"carousel","creation_timestamp":7}"#,
        )
        .unwrap();
        let e = parse_group("f", 0, &carousel, ItemKind::Post, "post").unwrap();
        assert_eq!(e.text, "carousel");
        assert_eq!(e.created_at.unix_timestamp(), 7);
        assert_eq!(e.uris, ["a.jpg", "b.jpg"]);
        let bad: Value = serde_json::from_str(r#"{"title":"x"}"#).unwrap();
        let err = parse_group("posts_1.json", 3, &bad, ItemKind::Post, "post").unwrap_err();
        assert_eq!(err.kind(), "malformed");
        assert!(err.to_string().contains("element 3"), "{err}");
    }

    #[test]
    fn legacy_times() {
        let t = |s: &str| {
            legacy_time(Some(&Value::String(s.into()))).map(OffsetDateTime::unix_timestamp)
        };
        assert_eq!(t("2019-05-01T10:00:00+00:00"), Some(1_556_704_800));
        assert_eq!(t("2019-05-01T13:00:00+03:00"), Some(1_556_704_800));
        assert_eq!(t("2019-05-01T10:00:00"), Some(1_556_704_800));
        assert_eq!(t("yesterday"), None);
    }
}
