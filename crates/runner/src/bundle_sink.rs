//! [`BundleSink`]: the fetcher's [`Sink`] backed by a [`BundleWriter`] on its own thread.
//!
//! The writer is synchronous (it hashes and compresses on the caller's thread and a sink
//! thread); sources are async. Commands cross a bounded channel to a dedicated writer thread;
//! bodies cross as chunks, each with an explicit end or failure marker, so a transfer that
//! breaks (or a task that is cancelled) never stores a truncated file as complete: the writer
//! rolls the member back.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use archive::signing::SecretKey;
use archive::{BundleWriter, Published, StoredFile, TimestampOptions, WriterOptions, layout};
use async_trait::async_trait;
use bytes::Bytes;
use fetcher::source::sink_error;
use fetcher::{ByteStream, FetchError, Sink, Stored};
use model::{AccountId, BundleId, CaptureLogEntry, Completeness, ContentId, Gap, Item, Profile};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Chunk {
    Data(Bytes),
    End,
    Failed,
}

enum Cmd {
    Document {
        endpoint: String,
        ext: String,
        body: Bytes,
        reply: Reply<StoredFile>,
    },
    Media {
        ext: Option<String>,
        len: Option<u64>,
        chunks: mpsc::Receiver<Chunk>,
        reply: Reply<StoredFile>,
    },
    Export {
        path: String,
        len: Option<u64>,
        chunks: mpsc::Receiver<Chunk>,
        reply: Reply<StoredFile>,
    },
    Log(CaptureLogEntry, Reply<()>),
    Item(Box<Item>, Reply<()>),
    Finish {
        profile: Option<Profile>,
        completeness: Completeness,
        key: Arc<SecretKey>,
        timestamp: Option<TimestampOptions>,
        reply: Reply<Published>,
    },
}

/// What the sink counted, for the completeness statement and the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub items: u64,
    pub documents: u64,
    pub media: u64,
    pub media_bytes: u64,
    pub export_files: u64,
    pub export_bytes: u64,
    pub log_entries: u64,
}

/// Events that arrive before [`Sink::begin`] (the request that tells the source the account's
/// id, typically): kept in order and replayed into the writer once it exists.
enum Early {
    Document(String, String, Bytes),
    Log(CaptureLogEntry),
}

pub struct BundleSink {
    options: WriterOptions,
    dir: std::path::PathBuf,
    capture_start: time::OffsetDateTime,
    tx: Option<mpsc::Sender<Cmd>>,
    thread: Option<std::thread::JoinHandle<()>>,
    early: Vec<Early>,
    pub counts: Counts,
    pub gaps: Vec<Gap>,
    pub profile: Option<Profile>,
    /// Bytes of bodies streamed so far (progress bars).
    pub bytes: Arc<AtomicU64>,
    pub account: Option<AccountId>,
}

impl BundleSink {
    /// `options.id` is replaced at [`Sink::begin`] by the id of the account being captured.
    pub fn new(
        dir: &std::path::Path,
        options: WriterOptions,
        capture_start: time::OffsetDateTime,
    ) -> Self {
        BundleSink {
            options,
            dir: dir.to_path_buf(),
            capture_start,
            tx: None,
            thread: None,
            early: Vec::new(),
            counts: Counts::default(),
            gaps: Vec::new(),
            profile: None,
            bytes: Arc::new(AtomicU64::new(0)),
            account: None,
        }
    }

    pub fn has_begun(&self) -> bool {
        self.tx.is_some()
    }

    /// Anything worth publishing beyond the account's own responses.
    pub fn captured_content(&self) -> bool {
        self.counts.items + self.counts.media + self.counts.export_files > 0
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, FetchError> {
        let tx = self.tx.as_ref().ok_or_else(|| {
            sink_error("the bundle was not started (the source never called begin)")
        })?;
        let (reply, answer) = oneshot::channel();
        tx.send(make(reply))
            .await
            .map_err(|_| sink_error("the bundle writer stopped"))?;
        answer
            .await
            .map_err(|_| sink_error("the bundle writer stopped"))?
            .map_err(sink_error)
    }

    async fn stream(
        &mut self,
        body: &mut dyn ByteStream,
        make: impl FnOnce(mpsc::Receiver<Chunk>, Reply<StoredFile>) -> Cmd,
    ) -> Result<StoredFile, FetchError> {
        let (chunk_tx, chunk_rx) = mpsc::channel(16);
        let tx = self.tx.clone().ok_or_else(|| {
            sink_error("the bundle was not started (the source never called begin)")
        })?;
        let (reply, answer) = oneshot::channel();
        tx.send(make(chunk_rx, reply))
            .await
            .map_err(|_| sink_error("the bundle writer stopped"))?;
        let mut failure = None;
        loop {
            match body.next_chunk().await {
                Ok(Some(data)) => {
                    self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                    if chunk_tx.send(Chunk::Data(data)).await.is_err() {
                        break; // the writer failed; its reply says why
                    }
                }
                Ok(None) => {
                    let _ = chunk_tx.send(Chunk::End).await;
                    break;
                }
                Err(e) => {
                    let _ = chunk_tx.send(Chunk::Failed).await;
                    failure = Some(e);
                    break;
                }
            }
        }
        let stored = answer
            .await
            .map_err(|_| sink_error("the bundle writer stopped"))?;
        match (failure, stored) {
            (Some(e), _) => Err(e),
            (None, s) => s.map_err(sink_error),
        }
    }

    /// Finishes and publishes the bundle: signs, timestamps if asked, renames into place.
    pub async fn finish(
        &mut self,
        completeness: Completeness,
        key: Arc<SecretKey>,
        timestamp: Option<TimestampOptions>,
    ) -> Result<Published, FetchError> {
        let profile = self.profile.clone();
        let published = self
            .call(|reply| Cmd::Finish {
                profile,
                completeness,
                key,
                timestamp,
                reply,
            })
            .await;
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        published
    }

    fn stored(s: StoredFile) -> Stored {
        Stored {
            path: s.path,
            sha256: s.sha256,
            size: s.size,
            duplicate: s.duplicate,
        }
    }
}

impl Drop for BundleSink {
    fn drop(&mut self) {
        // Closing the channel makes the writer thread drop the unfinished writer, which
        // removes its hidden partial file: nothing half-written survives under any name.
        // Waiting for it means that is done before the process exits (e.g. after Ctrl-C); a
        // body it was reading fails at once, since its chunk sender is gone too.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[async_trait]
impl Sink for BundleSink {
    async fn begin(&mut self, account: &AccountId) -> Result<(), FetchError> {
        if let Some(existing) = &self.account {
            if existing == account {
                return Ok(());
            }
            return Err(sink_error(format!(
                "the source announced account {account} after {existing}"
            )));
        }
        let mut options = self.options.clone();
        options.id = BundleId::new(options.id.platform, account.clone(), self.capture_start);
        let writer = BundleWriter::create(&self.dir, options).map_err(sink_error)?;
        let (tx, rx) = mpsc::channel(64);
        let thread = std::thread::Builder::new()
            .name("bundle-writer".into())
            .spawn(move || writer_thread(writer, rx))
            .map_err(|e| sink_error(format!("starting the writer thread: {e}")))?;
        self.tx = Some(tx);
        self.thread = Some(thread);
        self.account = Some(account.clone());
        for early in std::mem::take(&mut self.early) {
            match early {
                Early::Document(endpoint, ext, body) => {
                    self.call(|reply| Cmd::Document {
                        endpoint,
                        ext,
                        body,
                        reply,
                    })
                    .await?;
                }
                Early::Log(entry) => {
                    self.call(|reply| Cmd::Log(entry, reply)).await?;
                }
            }
        }
        Ok(())
    }

    async fn document(
        &mut self,
        endpoint: &str,
        ext: &str,
        body: Bytes,
    ) -> Result<Stored, FetchError> {
        self.counts.documents += 1;
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if !self.has_begun() {
            // The writer numbers documents from 1 in arrival order; predict the same path.
            let path = layout::api_path(self.counts.documents, endpoint, ext);
            let stored = Stored {
                path,
                sha256: ContentId(Sha256::digest(&body).into()),
                size: body.len() as u64,
                duplicate: false,
            };
            self.early
                .push(Early::Document(endpoint.to_owned(), ext.to_owned(), body));
            return Ok(stored);
        }
        let (endpoint, ext) = (endpoint.to_owned(), ext.to_owned());
        let s = self
            .call(|reply| Cmd::Document {
                endpoint,
                ext,
                body,
                reply,
            })
            .await?;
        Ok(Self::stored(s))
    }

    async fn media(
        &mut self,
        ext: Option<&str>,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored, FetchError> {
        let ext = ext.map(str::to_owned);
        let s = self
            .stream(body, |chunks, reply| Cmd::Media {
                ext,
                len: expected_len,
                chunks,
                reply,
            })
            .await?;
        if !s.duplicate {
            self.counts.media += 1;
            self.counts.media_bytes += s.size;
        }
        Ok(Self::stored(s))
    }

    async fn export_file(
        &mut self,
        path_in_export: &str,
        expected_len: Option<u64>,
        body: &mut dyn ByteStream,
    ) -> Result<Stored, FetchError> {
        let path = path_in_export.to_owned();
        let s = self
            .stream(body, |chunks, reply| Cmd::Export {
                path,
                len: expected_len,
                chunks,
                reply,
            })
            .await?;
        self.counts.export_files += 1;
        self.counts.export_bytes += s.size;
        Ok(Self::stored(s))
    }

    async fn log(&mut self, entry: CaptureLogEntry) -> Result<(), FetchError> {
        self.counts.log_entries += 1;
        if !self.has_begun() {
            self.early.push(Early::Log(entry));
            return Ok(());
        }
        self.call(|reply| Cmd::Log(entry, reply)).await
    }

    async fn item(&mut self, item: Item) -> Result<(), FetchError> {
        self.counts.items += 1;
        self.call(|reply| Cmd::Item(Box::new(item), reply)).await
    }

    async fn profile(&mut self, profile: Profile) -> Result<(), FetchError> {
        self.profile = Some(profile);
        Ok(())
    }

    async fn gap(&mut self, gap: Gap) -> Result<(), FetchError> {
        self.gaps.push(gap);
        Ok(())
    }
}

/// Reads a body's chunks on the writer thread. A failure marker, or a channel closed without
/// an end marker, is an error: the writer then rolls the member back.
struct ChunkReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Bytes,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.blocking_recv() {
                Some(Chunk::Data(b)) => self.current = b,
                Some(Chunk::End) => self.done = true,
                Some(Chunk::Failed) => {
                    return Err(std::io::Error::other("the transfer failed"));
                }
                None => return Err(std::io::Error::other("the transfer was abandoned")),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

fn reader(chunks: mpsc::Receiver<Chunk>) -> ChunkReader {
    ChunkReader {
        chunks,
        current: Bytes::new(),
        done: false,
    }
}

fn writer_thread(mut writer: BundleWriter, mut rx: mpsc::Receiver<Cmd>) {
    let err = |e: archive::BundleError| e.to_string();
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Cmd::Document {
                endpoint,
                ext,
                body,
                reply,
            } => {
                let len = body.len() as u64;
                let r = writer.add_raw_response(&endpoint, &ext, &mut &body[..], Some(len));
                let _ = reply.send(r.map_err(err));
            }
            Cmd::Media {
                ext,
                len,
                chunks,
                reply,
            } => {
                let r = writer.add_media(ext.as_deref(), &mut reader(chunks), len);
                let _ = reply.send(r.map_err(err));
            }
            Cmd::Export {
                path,
                len,
                chunks,
                reply,
            } => {
                let r = writer.add_export_file(&path, &mut reader(chunks), len);
                let _ = reply.send(r.map_err(err));
            }
            Cmd::Log(entry, reply) => {
                let _ = reply.send(writer.log(entry).map(|_| ()).map_err(err));
            }
            Cmd::Item(item, reply) => {
                let _ = reply.send(writer.add_item(&item).map_err(err));
            }
            Cmd::Finish {
                profile,
                completeness,
                key,
                timestamp,
                reply,
            } => {
                if let Some(p) = &profile {
                    writer.set_profile(p);
                }
                writer.set_completeness(completeness);
                let _ = reply.send(writer.finish(&key, timestamp.as_ref()).map_err(err));
                return;
            }
        }
    }
}
