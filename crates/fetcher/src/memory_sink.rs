//! [`MemorySink`]: a [`Sink`] that keeps every event in memory, in order. Used by adapter tests
//! and the conformance harness, and handy for dry runs of small accounts.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use model::{AccountId, CaptureLogEntry, ContentId, Gap, Item, Profile};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::source::{ByteStream, Identity, Sink, Stored};

#[derive(Debug, Default)]
pub struct MemorySink {
    /// What the source said about the account it holds ([`Sink::identify`]).
    pub identity: Option<Identity>,
    pub account: Option<AccountId>,
    /// `(endpoint, ext, body, where)`, in capture order.
    pub documents: Vec<(String, String, Bytes, Stored)>,
    /// Media by content id, stored once.
    pub media: BTreeMap<ContentId, Bytes>,
    /// Export files by their path in the export.
    pub export_files: BTreeMap<String, (Bytes, Stored)>,
    pub log: Vec<CaptureLogEntry>,
    pub items: Vec<Item>,
    pub profile: Option<Profile>,
    pub gaps: Vec<Gap>,
    /// Bodies whose streams failed (and were discarded).
    pub discarded: u64,
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// Every byte the sink holds that could reach a bundle, for leak checks: bodies, media,
    /// export files, and the JSON of log entries, items, profile and gaps.
    pub fn all_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (_, _, b, _) in &self.documents {
            out.extend_from_slice(b);
        }
        for b in self.media.values() {
            out.extend_from_slice(b);
        }
        for (b, _) in self.export_files.values() {
            out.extend_from_slice(b);
        }
        for e in &self.log {
            out.extend(serde_json::to_vec(e).unwrap_or_default());
        }
        for i in &self.items {
            out.extend(serde_json::to_vec(i).unwrap_or_default());
        }
        out.extend(serde_json::to_vec(&self.profile).unwrap_or_default());
        for g in &self.gaps {
            out.extend(serde_json::to_vec(g).unwrap_or_default());
        }
        out
    }
}

impl MemorySink {
    /// A whole body; a stream that fails is counted as discarded (nothing is kept).
    async fn receive(&mut self, body: &mut dyn ByteStream) -> Result<Bytes> {
        let received = drain(body).await;
        if received.is_err() {
            self.discarded += 1;
        }
        received
    }
}

async fn drain(body: &mut dyn ByteStream) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next_chunk().await? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn stored(path: String, body: &[u8], duplicate: bool) -> Stored {
    Stored {
        path,
        sha256: ContentId(Sha256::digest(body).into()),
        size: body.len() as u64,
        duplicate,
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn identify(&mut self, who: &Identity) -> Result<()> {
        self.identity = Some(who.clone());
        Ok(())
    }

    async fn begin(&mut self, account: &AccountId) -> Result<()> {
        self.account = Some(account.clone());
        Ok(())
    }

    async fn document(&mut self, endpoint: &str, ext: &str, body: Bytes) -> Result<Stored> {
        let path = format!(
            "data/original/api/{:06}-{endpoint}.{ext}",
            self.documents.len() + 1
        );
        let s = stored(path, &body, false);
        self.documents
            .push((endpoint.to_owned(), ext.to_owned(), body, s.clone()));
        Ok(s)
    }

    async fn media(
        &mut self,
        ext: Option<&str>,
        _expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored> {
        let bytes = self.receive(body).await?;
        let mut s = stored(String::new(), &bytes, false);
        let hex = s.sha256.to_string();
        s.path = format!(
            "data/original/media/sha256/{}/{hex}.{}",
            &hex[..2],
            ext.unwrap_or("bin")
        );
        s.duplicate = self.media.insert(s.sha256, bytes).is_some();
        Ok(s)
    }

    async fn export_file(
        &mut self,
        path_in_export: &str,
        _expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored> {
        let bytes = self.receive(body).await?;
        let s = stored(
            format!("data/original/export/{path_in_export}"),
            &bytes,
            false,
        );
        self.export_files
            .insert(path_in_export.to_owned(), (bytes, s.clone()));
        Ok(s)
    }

    async fn log(&mut self, mut entry: CaptureLogEntry) -> Result<()> {
        entry.seq = self.log.len() as u64 + 1;
        self.log.push(entry);
        Ok(())
    }

    async fn item(&mut self, item: Item) -> Result<()> {
        self.items.push(item);
        Ok(())
    }

    async fn profile(&mut self, profile: Profile) -> Result<()> {
        self.profile = Some(profile);
        Ok(())
    }

    async fn gap(&mut self, gap: Gap) -> Result<()> {
        self.gaps.push(gap);
        Ok(())
    }
}
