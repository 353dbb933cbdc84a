//! Derived records: the normalised view of what was captured. Rebuilt from the originals and
//! labelled as derived; media are referenced by their content id, never embedded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ContentId, Platform, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Post,
    Reply,
    Repost,
    Quote,
    Story,
    Reel,
    Video,
    Announcement,
}

/// One rendition a platform offered for a media item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u64>,
}

/// A media file referenced by an item: stored once, by content id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    /// `None` when the media could not be stored (a gap says why).
    pub sha256: Option<ContentId>,
    /// The URL the platform gave for the media; for a file of an owner's export that carries
    /// no URL (Meta's DYI), its path inside the export.
    pub original_url: String,
    /// The rendition that was downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Rendition>,
    /// Every rendition the platform offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<Rendition>,
}

/// One post, reply, story, reel, video or announcement, as one line of `posts.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub platform: Platform,
    pub kind: ItemKind,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Exactly as delivered (after the documented repair of Meta export mojibake, if any).
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default)]
    pub pinned: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ids of items this one replies to, quotes or reposts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    pub route: Route,
    /// Where in the bundle the original this was derived from lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

/// `data/derived/account.json`: the profile at capture time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub platform: Platform,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// The profile picture (and banner, where a platform offers one), stored like post media.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
    pub route: Route,
}
