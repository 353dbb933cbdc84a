//! Provenance (`requests.jsonl`) and completeness (`completeness.json`) records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ContentId;

/// One line of `data/capture/requests.jsonl`: one HTTP exchange or one imported file.
///
/// Whoever builds an entry redacts secrets first; the bundle writer checks again and refuses
/// entries that still carry a known secret-bearing header or query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureLogEntry {
    /// Position in the capture, from 1; assigned by the bundle writer.
    #[serde(default)]
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// `GET`, `POST`, … for HTTP; `IMPORT` for a file taken from an export or a folder.
    pub method: String,
    /// The URL (secrets redacted); empty for imports.
    #[serde(default)]
    pub url: String,
    /// HTTP status; absent for imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response headers (secret-bearing ones redacted), lower-case names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<ContentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// Where the body is stored in the bag, relative to the bag root (`data/original/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_path: Option<String>,
    /// Name and version of the program that made the exchange.
    pub tool: String,
    /// For imports: the file's path inside the export or folder, exactly as it was named there
    /// (may be Arabic; JSON strings carry it, bag paths never do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<ContentId>,
    /// Free-form note (e.g. why a request failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why something could not be captured. A silent gap is a bug: every known one is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The platform caps how far back its API goes (X's 3,200-post timeline).
    PlatformCap,
    /// The platform withholds this media through this route.
    MediaWithheld,
    /// The item was deleted, private or expired before capture.
    Unavailable,
    /// A quota or rate limit stopped the capture.
    RateLimited,
    /// A file an export refers to is not in the export.
    MissingFromExport,
    /// This route cannot get this kind of content (another route can).
    NotSupportedByRoute,
    /// Anything else, explained in `detail`.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub reason: GapReason,
    /// One line for a person: what is missing and where to get it.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How a capture ended: exactly one of four, and the state, reports, summaries and exit codes
/// all say the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the route can reach was captured; no gap.
    Complete,
    /// Content was captured, but something is missing: every failed edge, page or file (and an
    /// early stop) is a gap naming it.
    Partial,
    /// An account-level answer (the profile, channel or page itself) says the account does not
    /// exist, is suspended, deactivated or private; that answer is the evidence in the bundle.
    Unavailable,
    /// Nothing trustworthy was captured; no bundle.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Complete,
        Outcome::Partial,
        Outcome::Unavailable,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::Partial => "partial",
            Outcome::Unavailable => "unavailable",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of a capture that produced a bundle: `unavailable` when the account-level
    /// answer said so, else `complete` exactly when there is no gap (an early stop is a gap).
    pub fn of_bundle(unavailable: Option<Unavailability>, gaps: usize) -> Outcome {
        match (unavailable, gaps) {
            (Some(_), _) => Outcome::Unavailable,
            (None, 0) => Outcome::Complete,
            (None, _) => Outcome::Partial,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown outcome {s:?}"))
    }
}

/// What an account-level answer said about the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailability {
    /// No such account (never existed, deleted, or a typo in the registry).
    NotFound,
    /// Suspended by the platform.
    Suspended,
    /// Private or protected: the account exists but this route may not read it.
    Protected,
    /// Deactivated by its owner (pending deletion).
    Deactivated,
}

impl Unavailability {
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailability::NotFound => "not_found",
            Unavailability::Suspended => "suspended",
            Unavailability::Protected => "protected",
            Unavailability::Deactivated => "deactivated",
        }
    }
}

impl std::fmt::Display for Unavailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unavailability::NotFound => "not found",
            Unavailability::Suspended => "suspended",
            Unavailability::Protected => "private or protected",
            Unavailability::Deactivated => "deactivated",
        })
    }
}

/// `data/derived/completeness.json`: what the platform says exists vs what was captured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    /// How the capture ended (absent in bundles written before outcomes were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// For an `unavailable` outcome: what the account-level answer said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailability>,
    /// Counts the platform reports (e.g. `posts`, `videos`, `followers`), where it reports any.
    pub platform_reported: BTreeMap<String, u64>,
    /// What this bundle holds (e.g. `posts`, `media`, `files`).
    pub captured: BTreeMap<String, u64>,
    pub gaps: Vec<Gap>,
    /// A plain statement for the auditor, e.g. "complete: every file of the folder was packed".
    pub statement: String,
}
