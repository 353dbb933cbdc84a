//! The Source contract: one object per platform and route that captures one account and emits
//! capture events into a [`Sink`].
//!
//! A source never owns an HTTP client (it is handed the one [`Transport`](crate::Transport)) and
//! never touches the bundle: the driver that implements [`Sink`] does (the runner pipes events
//! into a `BundleWriter`; tests collect them). Sources parse with plain functions over bytes, so
//! their logic is unit-testable without a network.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use model::{
    AccountId, CaptureLogEntry, ContentId, Gap, GapReason, Item, Platform, Profile, Route,
};

use crate::error::{FetchError, Result};

/// Where the sink stored a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Bag-relative path, e.g. `data/original/media/sha256/ab/ab….jpg`.
    pub path: String,
    pub sha256: ContentId,
    pub size: u64,
    /// Identical bytes were already stored; nothing new was written.
    pub duplicate: bool,
}

/// A body that arrives in chunks (an HTTP response, a file inside a zip).
///
/// An `Err` mid-stream means the transfer failed: the sink must discard what it received of
/// this body (the bundle writer rolls the member back) and return that error.
#[async_trait]
pub trait ByteStream: Send {
    /// The next chunk, `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>>;
}

/// A [`ByteStream`] over bytes already in memory.
pub struct MemoryStream(Option<Bytes>);

impl MemoryStream {
    pub fn new(body: Bytes) -> MemoryStream {
        MemoryStream(Some(body))
    }
}

#[async_trait]
impl ByteStream for MemoryStream {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        Ok(self.0.take().filter(|b| !b.is_empty()))
    }
}

/// The account a capture holds, as the platform's answer or the export names it: what the
/// account named on a command line or registry line is compared with
/// ([`Target::confirm`](crate::sources::Target::confirm)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The account's ids as delivered (X user id, Instagram user id, Page id, channel id);
    /// empty when the source names none (a Download Your Information export has no id).
    pub ids: Vec<String>,
    /// The handle or username as delivered, without `@`.
    pub handle: Option<String>,
}

impl Identity {
    pub fn new(id: Option<&str>, handle: Option<&str>) -> Identity {
        Identity {
            ids: id.into_iter().map(str::to_owned).collect(),
            handle: handle
                .map(|h| h.trim().trim_start_matches('@').to_owned())
                .filter(|h| !h.is_empty()),
        }
    }

    /// Whether the source names its account at all.
    pub fn is_known(&self) -> bool {
        !self.ids.is_empty() || self.handle.is_some()
    }
}

impl std::fmt::Display for Identity {
    /// `1234 (@name)`, `1234`, `@name`, or `an account it does not name`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ids.first(), &self.handle) {
            (Some(id), Some(h)) => write!(f, "{id} (@{h})"),
            (Some(id), None) => f.write_str(id),
            (None, Some(h)) => write!(f, "@{h}"),
            (None, None) => f.write_str("an account it does not name"),
        }
    }
}

/// What a source emits. Implemented by whoever drives a capture.
///
/// Contract for implementers: bodies are stored byte-exact and hashed as they stream; a body
/// whose stream fails is not stored at all; `begin` comes before any store (events before it
/// may be buffered).
///
/// Contract for sources: [`Sink::identify`] is called once, with what the platform or export
/// says about the account, before [`Sink::begin`].
#[async_trait]
pub trait Sink: Send {
    /// The account the capture holds, as soon as the source has read who it is and before
    /// [`Sink::begin`], so that a driver which knows the account that was named can refuse
    /// another one while nothing is stored yet. The default accepts any account.
    async fn identify(&mut self, who: &Identity) -> Result<()> {
        let _ = who;
        Ok(())
    }
    /// The account being captured, as soon as the source knows its stable id.
    async fn begin(&mut self, account: &AccountId) -> Result<()>;
    /// An API document (or web page), byte-exact, as `data/original/api/<seq>-<endpoint>.<ext>`.
    async fn document(&mut self, endpoint: &str, ext: &str, body: Bytes) -> Result<Stored>;
    /// A media file, content-addressed; `ext` `None` lets the sink sniff it.
    async fn media(
        &mut self,
        ext: Option<&str>,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored>;
    /// A file from the owner's export, byte-exact, under its path in the export.
    async fn export_file(
        &mut self,
        path_in_export: &str,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored>;
    /// One line of the capture log (already redacted).
    async fn log(&mut self, entry: CaptureLogEntry) -> Result<()>;
    async fn item(&mut self, item: Item) -> Result<()>;
    async fn profile(&mut self, profile: Profile) -> Result<()>;
    /// Something that could not be captured, and why.
    async fn gap(&mut self, gap: Gap) -> Result<()>;
}

/// What a source says at the end of a capture; the driver adds what it counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Counts the platform reports (`posts`, `videos`, `followers`…).
    pub platform_reported: BTreeMap<String, u64>,
    /// Counts the source captured (`posts`, `media`, `files`…).
    pub captured: BTreeMap<String, u64>,
    /// One sentence for the auditor about how complete this capture is.
    pub statement: String,
}

/// One platform-route: captures one account.
///
/// Contract: a capture is idempotent (running it twice against the same platform state emits the
/// same documents, media and items in the same order); every media URL it records is absolute;
/// every known gap is emitted through [`Sink::gap`]; every secret is kept out of events.
/// On an error after `begin`, what was emitted stays valid evidence of a partial capture.
#[async_trait]
pub trait Source: Send {
    fn platform(&self) -> Platform;
    fn route(&self) -> Route;
    async fn capture(&mut self, sink: &mut dyn Sink) -> Result<Report>;
}

/// `"1 post"`, `"3 posts"`: counts in report statements read as English.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The gap for an edge, page or lookup of the account that the platform refused
/// ([`FetchError::is_refusal`]): it names what could not be read and why, and the capture goes
/// on with the other edges. Never evidence that the account is gone.
pub fn edge_gap(what: &str, url: Option<&str>, e: &FetchError) -> Gap {
    let reason = match e {
        FetchError::NotFound { .. }
        | FetchError::Protected { .. }
        | FetchError::Suspended { .. } => GapReason::Unavailable,
        _ => GapReason::Other,
    };
    Gap {
        reason,
        detail: format!("{what} could not be read: {e}"),
        item_id: None,
        url: url.map(str::to_owned),
    }
}

/// Stops a capture early with a sink error (used by drivers' `Sink` implementations).
pub fn sink_error(e: impl std::fmt::Display) -> FetchError {
    FetchError::Sink(e.to_string())
}
