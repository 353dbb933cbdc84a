//! [`BundleWriter`]: streams originals into a bundle, hashing as bytes arrive, then finalises
//! the bag (manifests, signature, optional timestamp) and publishes it atomically.
//!
//! Members appear in the tar in capture order (originals), then the fixed tail (capture log,
//! derived records, tag files, signatures): the layout that lets every byte be written once,
//! as it arrives, with content-addressed names known only after hashing. See
//! `docs/bundle-format.md`, "Member order".

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use model::{BundleId, CaptureLogEntry, Completeness, ContentId, Item, Profile, Route};
use sha2::{Digest, Sha256, Sha512};
use time::{Date, OffsetDateTime};

use crate::bag::{self, BagInfo};
use crate::error::{BundleError, Result};
use crate::frames::{self, FRAME_TARGET, IndexEntry};
use crate::layout;
use crate::output::{AtomicFile, Output};
use crate::redact;
use crate::signing::SecretKey;
use crate::sink::{Container, Mode, Sink};
use crate::tar;
use crate::timestamp;

/// The largest manifest a verifier accepts (see `verify::tag_limit`).
const MANIFEST_LIMIT: u64 = 96 << 20;

/// What a bundle is and how to write it.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub id: BundleId,
    pub source_organization: String,
    /// Groups the bundles of one batch run (`Bag-Group-Identifier`).
    pub run_id: String,
    pub route: Route,
    /// `Capture-Tool`, e.g. `tawthiq 0.1.0`.
    pub tool: String,
    /// Tag manifest digest of this account's previous bundle, if any.
    pub previous: Option<ContentId>,
    /// Defaults to the capture start's date. Every member's mtime is midnight UTC of this day.
    pub bagging_date: Option<Date>,
    /// Defaults to the time `finish` is called.
    pub capture_end: Option<OffsetDateTime>,
    /// Also write SHA-512 manifests (roughly halves writing and verifying speed).
    pub sha512: bool,
    pub container: Container,
}

impl WriterOptions {
    pub fn new(id: BundleId, route: Route) -> WriterOptions {
        WriterOptions {
            id,
            source_organization: "unspecified".into(),
            run_id: "single".into(),
            route,
            tool: concat!("tawthiq ", env!("CARGO_PKG_VERSION")).into(),
            previous: None,
            bagging_date: None,
            capture_end: None,
            sha512: false,
            container: Container::TarZst,
        }
    }

    /// `<bundle-id>.tar.zst` or `<bundle-id>.tar`.
    pub fn file_name(&self) -> String {
        match self.container {
            Container::TarZst => format!("{}.tar.zst", self.id),
            Container::Tar => format!("{}.tar", self.id),
        }
    }
}

/// Where to get an RFC 3161 timestamp, and whether the bundle may be published without one.
#[derive(Debug, Clone)]
pub struct TimestampOptions {
    pub url: String,
    pub required: bool,
    pub timeout: Duration,
}

/// A file stored in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Path relative to the bag root, e.g. `data/original/media/sha256/ab/ab….jpg`.
    pub path: String,
    pub sha256: ContentId,
    pub size: u64,
    /// True when identical media was already stored: nothing new was written.
    pub duplicate: bool,
}

/// What `finish` produced.
#[derive(Debug, Clone)]
pub struct Published {
    pub path: PathBuf,
    pub bundle_id: BundleId,
    pub tagmanifest_sha256: ContentId,
    pub payload_files: u64,
    pub payload_bytes: u64,
    /// Bytes of the bundle file.
    pub file_bytes: u64,
    pub timestamp: Option<OffsetDateTime>,
    /// Why an optional timestamp is missing.
    pub timestamp_error: Option<String>,
}

struct Member {
    path: String,
    size: u64,
    sha256: ContentId,
    sha512: Option<[u8; 64]>,
    header_offset: u64,
    data_offset: u64,
}

enum Target<'a> {
    Path(String),
    Media(Option<&'a str>),
}

/// Streams one account's capture into a bundle. Not thread-safe by design: members are written
/// one after another, each hashed as it streams; use one writer per account.
pub struct BundleWriter {
    opts: WriterOptions,
    root: String,
    mtime: u64,
    sink: Option<Sink>,
    pending: Vec<u8>,
    mode: Mode,
    offset: u64,
    members: Vec<Member>,
    paths: HashSet<String>,
    media: HashMap<ContentId, String>,
    api_seq: u64,
    log_seq: u64,
    requests: Spool,
    posts: Spool,
    profile: Option<Vec<u8>>,
    completeness: Option<Completeness>,
    progress: Arc<AtomicU64>,
}

/// A growing record kept in an unlinked temporary file until the bundle is finished.
struct Spool {
    file: Option<BufWriter<std::fs::File>>,
    lines: u64,
}

impl Spool {
    fn new() -> Spool {
        Spool {
            file: None,
            lines: 0,
        }
    }
    fn append(&mut self, line: &[u8]) -> Result<()> {
        if self.file.is_none() {
            let f = tempfile::tempfile().map_err(BundleError::io("creating a spool file"))?;
            self.file = Some(BufWriter::new(f));
        }
        let f = self.file.as_mut().expect("just created");
        f.write_all(line)
            .and_then(|()| f.write_all(b"\n"))
            .map_err(BundleError::io("writing a spool file"))?;
        self.lines += 1;
        Ok(())
    }
    fn into_reader(self) -> Result<Option<(std::fs::File, u64)>> {
        let Some(w) = self.file else { return Ok(None) };
        let mut f = w.into_inner().map_err(|e| BundleError::Io {
            context: "flushing a spool file".into(),
            source: e.into_error(),
        })?;
        let len = f
            .stream_position()
            .map_err(BundleError::io("reading a spool file"))?;
        f.rewind()
            .map_err(BundleError::io("reading a spool file"))?;
        Ok(Some((f, len)))
    }
}

fn read_up_to(r: &mut dyn Read, buf: &mut Vec<u8>, limit: usize) -> std::io::Result<usize> {
    buf.reserve(limit);
    r.take(limit as u64).read_to_end(buf)
}

struct Hashers {
    sha256: Sha256,
    sha512: Option<Sha512>,
    size: u64,
}

impl Hashers {
    fn update(&mut self, b: &[u8]) {
        self.sha256.update(b);
        if let Some(h) = &mut self.sha512 {
            h.update(b);
        }
        self.size += b.len() as u64;
    }
}

impl BundleWriter {
    /// Starts `<dir>/<bundle-id>.tar.zst` (or `.tar`) under a temporary name.
    pub fn create(dir: &Path, opts: WriterOptions) -> Result<BundleWriter> {
        Self::create_at(&dir.join(opts.file_name()), opts)
    }

    /// Starts a bundle at an explicit file path (still published atomically, never overwriting).
    pub fn create_at(target: &Path, opts: WriterOptions) -> Result<BundleWriter> {
        let target = target.to_path_buf();
        let out = AtomicFile::create(&target)
            .map_err(BundleError::io(format!("creating {}", target.display())))?;
        Self::with_output(Box::new(out), opts)
    }

    /// Writes into any [`Output`] (object storage staging, tests that simulate a full disk).
    pub fn with_output(out: Box<dyn Output>, opts: WriterOptions) -> Result<BundleWriter> {
        for (name, v) in [
            ("source organization", &opts.source_organization),
            ("run id", &opts.run_id),
            ("tool", &opts.tool),
        ] {
            if !bag::is_tag_value(v) || v.len() > 1024 {
                return Err(BundleError::InvalidOption(format!(
                    "{name} must be one line of text (at most 1024 bytes) without leading or trailing spaces"
                )));
            }
        }
        let date = opts.bagging_date.unwrap_or(opts.id.capture_start.date());
        let sink = Sink::start(out, opts.container)
            .map_err(BundleError::io("starting the bundle writer"))?;
        Ok(BundleWriter {
            root: format!("{}/", opts.id),
            mtime: bag::mtime_of(date),
            opts,
            sink: Some(sink),
            pending: Vec::with_capacity(FRAME_TARGET),
            mode: Mode::Text,
            offset: 0,
            members: Vec::new(),
            paths: HashSet::new(),
            media: HashMap::new(),
            api_seq: 0,
            log_seq: 0,
            requests: Spool::new(),
            posts: Spool::new(),
            profile: None,
            completeness: None,
            progress: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn bundle_id(&self) -> &BundleId {
        &self.opts.id
    }

    /// Bytes of originals consumed so far (for progress bars).
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.progress)
    }

    /// A raw API response body, byte-exact: `data/original/api/<seq>-<endpoint>.<ext>`.
    pub fn add_raw_response(
        &mut self,
        endpoint: &str,
        ext: &str,
        body: &mut dyn Read,
        expected_len: Option<u64>,
    ) -> Result<StoredFile> {
        self.api_seq += 1;
        let path = layout::api_path(self.api_seq, endpoint, ext);
        self.store(Target::Path(path), body, expected_len)
    }

    /// Media bytes as downloaded, stored once under their SHA-256. `ext` defaults to what the
    /// first bytes say (`jpg`, `mp4`, …) or `bin`.
    pub fn add_media(
        &mut self,
        ext: Option<&str>,
        body: &mut dyn Read,
        expected_len: Option<u64>,
    ) -> Result<StoredFile> {
        self.store(Target::Media(ext), body, expected_len)
    }

    /// A file from an owner's export (or a folder), byte-exact, at
    /// `data/original/export/<path, each component escaped>` (see `layout::encode_component`).
    pub fn add_export_file(
        &mut self,
        path_in_export: &str,
        body: &mut dyn Read,
        expected_len: Option<u64>,
    ) -> Result<StoredFile> {
        self.store(
            Target::Path(layout::export_path(path_in_export)),
            body,
            expected_len,
        )
    }

    /// Appends a line to `requests.jsonl`; assigns and returns its sequence number.
    pub fn log(&mut self, mut entry: CaptureLogEntry) -> Result<u64> {
        self.log_seq += 1;
        entry.seq = self.log_seq;
        if let Some(what) = redact::find_secret(&entry) {
            return Err(BundleError::SecretInLog {
                seq: entry.seq,
                what,
            });
        }
        let line = serde_json::to_vec(&entry).expect("log entries always serialise");
        self.requests.append(&line)?;
        Ok(entry.seq)
    }

    /// Appends a derived item to `posts.jsonl`.
    pub fn add_item(&mut self, item: &Item) -> Result<()> {
        let line = serde_json::to_vec(item).expect("items always serialise");
        self.posts.append(&line)
    }

    /// The profile snapshot, `account.json`.
    pub fn set_profile(&mut self, profile: &Profile) {
        let mut json = serde_json::to_vec_pretty(profile).expect("profiles always serialise");
        json.push(b'\n');
        self.profile = Some(json);
    }

    pub fn set_completeness(&mut self, c: Completeness) {
        self.completeness = Some(c);
    }

    fn sink(&self) -> Result<&Sink> {
        self.sink
            .as_ref()
            .ok_or_else(|| BundleError::InvalidOption("writer already finished".into()))
    }

    fn sink_err(e: std::io::Error) -> BundleError {
        BundleError::Io {
            context: "writing the bundle".into(),
            source: e,
        }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let fresh = self.sink()?.buffer();
            let buf = std::mem::replace(&mut self.pending, fresh);
            self.sink()?.data(buf, self.mode).map_err(Self::sink_err)?;
        }
        Ok(())
    }

    fn emit(&mut self, mut bytes: &[u8], mode: Mode) -> Result<()> {
        if mode != self.mode {
            self.flush()?;
            self.mode = mode;
        }
        self.offset += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (FRAME_TARGET - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == FRAME_TARGET {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn claim_path(&mut self, rel: &str) -> Result<()> {
        if !rel.is_ascii()
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(BundleError::InvalidPath(rel.to_owned()));
        }
        // Case-insensitive filesystems would merge these on extraction.
        if !self.paths.insert(rel.to_ascii_lowercase()) {
            return Err(BundleError::DuplicatePath(rel.to_owned()));
        }
        Ok(())
    }

    /// Stores one member; on failure nothing of it remains (its path can be used again).
    fn store(
        &mut self,
        target: Target<'_>,
        body: &mut dyn Read,
        expected: Option<u64>,
    ) -> Result<StoredFile> {
        let claimed = match &target {
            Target::Path(p) => {
                self.claim_path(p)?;
                Some(p.to_ascii_lowercase())
            }
            Target::Media(_) => None,
        };
        let result = self.store_inner(target, body, expected);
        if let (Err(_), Some(c)) = (&result, claimed) {
            self.paths.remove(&c);
        }
        result
    }

    fn store_inner(
        &mut self,
        target: Target<'_>,
        body: &mut dyn Read,
        expected: Option<u64>,
    ) -> Result<StoredFile> {
        let what = match &target {
            Target::Path(p) => p.clone(),
            Target::Media(_) => "media stream".to_owned(),
        };
        let input_err = |source| BundleError::Input {
            what: what.clone(),
            source,
        };
        let mut head = Vec::new();
        read_up_to(body, &mut head, FRAME_TARGET).map_err(input_err)?;
        let sniffed = layout::sniff(&head);
        let mode = if sniffed.is_some() {
            Mode::Raw
        } else {
            Mode::Text
        };
        let mut h = Hashers {
            sha256: Sha256::new(),
            sha512: self.opts.sha512.then(Sha512::new),
            size: 0,
        };
        let ext = match &target {
            Target::Media(e) => {
                Some(e.map_or_else(|| sniffed.unwrap_or("bin").to_owned(), str::to_owned))
            }
            Target::Path(_) => None,
        };
        // The path a content-addressed member will have, with a stand-in digest: its length,
        // and so its header's length, does not depend on the digest.
        let path_for = |id: &ContentId, target: &Target<'_>| match target {
            Target::Path(p) => p.clone(),
            Target::Media(_) => layout::media_path(id, ext.as_deref().unwrap_or("bin")),
        };
        let check_len = |got: u64| match expected {
            Some(e) if e != got => Err(BundleError::SizeMismatch {
                what: what.clone(),
                expected: e,
                got,
            }),
            _ => Ok(()),
        };

        if head.len() < FRAME_TARGET {
            // Small: everything is in memory, so it is emitted whole or not at all.
            h.update(&head);
            self.progress
                .fetch_add(head.len() as u64, Ordering::Relaxed);
            check_len(h.size)?;
            let sha256 = ContentId(h.sha256.finalize().into());
            let path = path_for(&sha256, &target);
            if matches!(target, Target::Media(_)) {
                if let Some(existing) = self.media.get(&sha256) {
                    return Ok(StoredFile {
                        path: existing.clone(),
                        sha256,
                        size: h.size,
                        duplicate: true,
                    });
                }
                self.claim_path(&path)?;
                self.media.insert(sha256, path.clone());
            }
            let header = tar::encode_header(&format!("{}{path}", self.root), h.size, self.mtime)?;
            let header_offset = self.offset;
            self.emit(&header, Mode::Text)?;
            let data_offset = self.offset;
            self.emit(&head, mode)?;
            self.emit(&vec![0; tar::padding(h.size)], mode)?;
            return Ok(self.record(
                path,
                sha256,
                h.sha512.map(|s| s.finalize().into()),
                h.size,
                header_offset,
                data_offset,
            ));
        }

        // Large: reserve the header, stream the content, then fill the header in.
        let stand_in = path_for(&ContentId([0; 32]), &target);
        let header_len = tar::header_len(&format!("{}{stand_in}", self.root))?;
        self.flush()?;
        self.sink()?.reserve(header_len).map_err(Self::sink_err)?;
        let header_offset = self.offset;
        self.offset += header_len as u64;
        let data_offset = self.offset;
        self.mode = mode;
        let streamed = self.stream_body(body, head, mode, &mut h);
        let outcome = streamed.map_err(input_err).and_then(|()| check_len(h.size));
        if let Err(e) = outcome {
            self.roll_back(header_offset)?;
            return Err(e);
        }
        let size = h.size;
        let sha256 = ContentId(h.sha256.finalize().into());
        let path = path_for(&sha256, &target);
        if matches!(target, Target::Media(_)) {
            if let Some(existing) = self.media.get(&sha256).cloned() {
                self.roll_back(header_offset)?;
                return Ok(StoredFile {
                    path: existing,
                    sha256,
                    size,
                    duplicate: true,
                });
            }
            if let Err(e) = self.claim_path(&path) {
                self.roll_back(header_offset)?;
                return Err(e);
            }
            self.media.insert(sha256, path.clone());
        }
        self.emit(&vec![0; tar::padding(size)], mode)?;
        let header = tar::encode_header(&format!("{}{path}", self.root), size, self.mtime)?;
        debug_assert_eq!(header.len(), header_len);
        self.sink()?.patch(header).map_err(Self::sink_err)?;
        Ok(self.record(
            path,
            sha256,
            h.sha512.map(|s| s.finalize().into()),
            size,
            header_offset,
            data_offset,
        ))
    }

    /// Streams `head` and the rest of `body` as content, reading straight into frame buffers.
    fn stream_body(
        &mut self,
        body: &mut dyn Read,
        head: Vec<u8>,
        mode: Mode,
        h: &mut Hashers,
    ) -> std::io::Result<()> {
        h.update(&head);
        self.progress
            .fetch_add(head.len() as u64, Ordering::Relaxed);
        self.offset += head.len() as u64;
        self.pending = head;
        loop {
            if self.pending.len() == FRAME_TARGET {
                let sink = self
                    .sink
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("writer finished"))?;
                let buf = std::mem::replace(&mut self.pending, sink.buffer());
                sink.data(buf, mode)?;
            }
            let start = self.pending.len();
            let n = read_up_to(body, &mut self.pending, FRAME_TARGET - start)?;
            if n == 0 {
                return Ok(());
            }
            h.update(&self.pending[start..]);
            self.progress.fetch_add(n as u64, Ordering::Relaxed);
            self.offset += n as u64;
        }
    }

    fn roll_back(&mut self, header_offset: u64) -> Result<()> {
        self.pending.clear();
        self.offset = header_offset;
        self.sink()?.rollback().map_err(Self::sink_err)
    }

    fn record(
        &mut self,
        path: String,
        sha256: ContentId,
        sha512: Option<[u8; 64]>,
        size: u64,
        header_offset: u64,
        data_offset: u64,
    ) -> StoredFile {
        self.members.push(Member {
            path: path.clone(),
            size,
            sha256,
            sha512,
            header_offset,
            data_offset,
        });
        StoredFile {
            path,
            sha256,
            size,
            duplicate: false,
        }
    }

    fn store_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<StoredFile> {
        self.store(
            Target::Path(path.to_owned()),
            &mut &bytes[..],
            Some(bytes.len() as u64),
        )
    }

    /// Writes the capture log, derived records and tag files, signs, timestamps (if asked),
    /// and publishes. On any error nothing appears under the final name.
    pub fn finish(mut self, key: &SecretKey, ts: Option<&TimestampOptions>) -> Result<Published> {
        let completeness = self
            .completeness
            .take()
            .ok_or(BundleError::NoCompleteness)?;
        let requests = std::mem::replace(&mut self.requests, Spool::new());
        match requests.into_reader()? {
            Some((mut f, len)) => self
                .store(Target::Path(layout::REQUESTS.into()), &mut f, Some(len))
                .map(drop)?,
            None => self.store_bytes(layout::REQUESTS, b"").map(drop)?,
        }
        if let Some(profile) = self.profile.take() {
            self.store_bytes(layout::ACCOUNT, &profile)?;
        }
        let posts = std::mem::replace(&mut self.posts, Spool::new());
        if let Some((mut f, len)) = posts.into_reader()? {
            self.store(Target::Path(layout::POSTS.into()), &mut f, Some(len))?;
        }
        let mut json = serde_json::to_vec_pretty(&completeness).expect("completeness serialises");
        json.push(b'\n');
        self.store_bytes(layout::COMPLETENESS, &json)?;

        let payload_files = self.members.len() as u64;
        let payload_bytes = self.members.iter().map(|m| m.size).sum();
        let capture_end = self
            .opts
            .capture_end
            .unwrap_or_else(OffsetDateTime::now_utc);
        let info = BagInfo {
            source_organization: self.opts.source_organization.clone(),
            bagging_date: self
                .opts
                .bagging_date
                .unwrap_or(self.opts.id.capture_start.date()),
            payload_bytes,
            payload_files,
            group: self.opts.run_id.clone(),
            bundle_id: self.opts.id.clone(),
            capture_start: self.opts.id.capture_start,
            capture_end: capture_end.max(self.opts.id.capture_start),
            tool: self.opts.tool.clone(),
            route: self.opts.route,
            previous: self.opts.previous,
        };
        let manifest256 = bag::render_manifest(
            self.members
                .iter()
                .map(|m| (m.path.as_str(), m.sha256.to_hex())),
        );
        let manifest512 = self.opts.sha512.then(|| {
            bag::render_manifest(
                self.members
                    .iter()
                    .map(|m| (m.path.as_str(), hex(&m.sha512.unwrap_or([0; 64])))),
            )
        });
        // The verifier holds manifests in memory up to a limit: never write one it would refuse.
        if manifest256.len() as u64 > MANIFEST_LIMIT {
            return Err(BundleError::InvalidOption(format!(
                "{} files make a manifest larger than {MANIFEST_LIMIT} bytes; split the capture into several bundles",
                self.members.len()
            )));
        }
        let mut tag_files: Vec<(&str, Vec<u8>)> = vec![
            (layout::BAGIT, layout::BAGIT_TXT.as_bytes().to_vec()),
            (layout::BAG_INFO, info.render().into_bytes()),
            (layout::MANIFEST_SHA256, manifest256.into_bytes()),
        ];
        if let Some(m) = manifest512 {
            tag_files.push((layout::MANIFEST_SHA512, m.into_bytes()));
        }
        let tagmanifest256 =
            bag::render_manifest(tag_files.iter().map(|(p, b)| (*p, hex(&Sha256::digest(b)))));
        let tagmanifest512 = self.opts.sha512.then(|| {
            bag::render_manifest(tag_files.iter().map(|(p, b)| (*p, hex(&Sha512::digest(b)))))
        });
        let tag_digest: [u8; 32] = Sha256::digest(tagmanifest256.as_bytes()).into();
        let tagmanifest_sha256 = ContentId(tag_digest);
        tag_files.push((
            layout::TAGMANIFEST_SHA256,
            tagmanifest256.clone().into_bytes(),
        ));
        if let Some(t) = tagmanifest512 {
            tag_files.push((layout::TAGMANIFEST_SHA512, t.into_bytes()));
        }
        let comment = trusted_comment(&self.opts.id, &tagmanifest_sha256);
        tag_files.push((
            layout::SIGNATURE,
            key.sign(tagmanifest256.as_bytes(), &comment),
        ));

        let mut timestamp_error = None;
        let mut stamped = None;
        if let Some(ts) = ts {
            match timestamp::request(&ts.url, &tag_digest, ts.timeout) {
                Ok(t) => {
                    stamped = Some(t.gen_time);
                    tag_files.push((layout::TIMESTAMP, t.response_der));
                    tag_files.push((layout::TSA_CHAIN, t.chain_pem.into_bytes()));
                }
                Err(e) if ts.required => return Err(BundleError::TimestampRequired(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "timestamp not obtained; publishing without one");
                    timestamp_error = Some(e.to_string());
                }
            }
        }
        for (path, bytes) in &tag_files {
            self.store_bytes(path, bytes)?;
        }
        let end = vec![0; tar::end_len(self.offset) as usize];
        self.emit(&end, Mode::Text)?;
        self.flush()?;

        let index: Vec<IndexEntry> = self
            .members
            .iter()
            .map(|m| IndexEntry {
                header_offset: m.header_offset,
                data_offset: m.data_offset,
                size: m.size,
                path: format!("{}{}", self.root, m.path),
            })
            .collect();
        let sink = self.sink.take().expect("finished once");
        let (out, _frames) = sink
            .finish(frames::encode_index_members(&index))
            .map_err(Self::sink_err)?;
        let path = out
            .publish()
            .map_err(BundleError::io("publishing the bundle"))?;
        let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        Ok(Published {
            path,
            bundle_id: self.opts.id.clone(),
            tagmanifest_sha256,
            payload_files,
            payload_bytes,
            file_bytes,
            timestamp: stamped,
            timestamp_error,
        })
    }
}

/// The signature's trusted comment binds it to one bundle, one account and one tag manifest.
pub fn trusted_comment(id: &BundleId, tagmanifest: &ContentId) -> String {
    format!(
        "bundle={id} account={} tagmanifest-sha256={tagmanifest}",
        id.external_identifier()
    )
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
