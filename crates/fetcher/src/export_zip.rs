//! [`ExportZip`]: safe, read-only access to a platform's export zip (X archive, Meta DYI,
//! Google Takeout), shared by every platform's `export` route.
//!
//! Nothing is ever extracted to the filesystem: entries are streamed straight into the sink,
//! so no entry name can write anywhere. Names are still validated, because they end up in the
//! capture log and in bag paths, and because a hostile name says the export is not what it claims.
//!
//! - [`ExportZip::open`] validates the whole central directory before any entry is read and
//!   refuses the export ([`FetchError::Export`], one line naming the entry) on: absolute paths,
//!   drive letters, `..` components (with `/` or `\` as separator), NUL or control characters,
//!   names that are not valid UTF-8 although flagged so, symlinks and other special files,
//!   duplicate names (also ignoring case), encrypted entries, unsupported compression, more
//!   entries than [`ZipLimits::max_entries`], an entry declaring more than
//!   [`ZipLimits::max_entry_bytes`], a total over [`ZipLimits::max_total_bytes`], and a
//!   compression ratio above [`ZipLimits::max_ratio`] for entries over
//!   [`ZipLimits::ratio_floor_bytes`] (zip bombs).
//! - While streaming, an entry that decompresses to more (or fewer) bytes than its header
//!   declares, or whose CRC-32 does not match, fails mid-stream with an error, so the sink
//!   discards what it received.
//!
//! - [`ExportParts`] reads the several zips of one split export as one.
//!
//! Design: `zip`'s entry readers are not `Send`, a [`ByteStream`] must be. A worker thread owns
//! the `ZipArchive<File>`; [`ExportZip`] sends it jobs over a channel, and each
//! [`ExportZip::stream`] gets a bounded channel of ~1 MiB chunks that the worker fills with
//! `blocking_send`. The worker serves one stream at a time: drain (or drop) a stream before
//! starting the next. Dropping the [`ExportZip`] ends the worker.
//!
//! Names: the name's bytes as UTF-8 when they are valid UTF-8 (whether or not the entry's UTF-8
//! flag is set: many tools omit it), else `zip`'s CP437 decoding, kept
//! as a `String` exactly (bag writers escape non-ASCII themselves).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use zip::{CompressionMethod, ZipArchive};

use crate::error::{FetchError, Result};
use crate::source::{ByteStream, Sink, Stored};
use model::CaptureLogEntry;

/// The tool named in the capture log of imported files.
pub const IMPORT_TOOL: &str = concat!("tawthiq ", env!("CARGO_PKG_VERSION"));

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Caps applied when opening an export. The defaults fit the largest real exports (Takeout
/// splits at 50 GB); tests lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most entries (files and folders) an export may list.
    pub max_entries: usize,
    /// Largest declared uncompressed size of one entry.
    pub max_entry_bytes: u64,
    /// Largest declared uncompressed size of all entries together.
    pub max_total_bytes: u64,
    /// Highest uncompressed/compressed ratio allowed for entries above `ratio_floor_bytes`.
    pub max_ratio: u64,
    /// Entries up to this size are not ratio-checked (small text files compress very well).
    pub ratio_floor_bytes: u64,
    /// Size of the chunks a stream delivers.
    pub chunk_bytes: usize,
}

impl ZipLimits {
    /// Admits an entry declaring `size` bytes, adding it to the running `total`: why not, if
    /// it is over the per-entry or the total limit (shared by every export format's reader).
    pub fn admit(&self, size: u64, total: &mut u64) -> std::result::Result<(), String> {
        if size > self.max_entry_bytes {
            return Err(format!(
                "declares {size} bytes, more than the {} allowed per entry",
                self.max_entry_bytes
            ));
        }
        *total = total.saturating_add(size);
        if *total > self.max_total_bytes {
            return Err(format!(
                "brings the declared total to {total} bytes, more than the {} allowed",
                self.max_total_bytes
            ));
        }
        Ok(())
    }
}

impl Default for ZipLimits {
    fn default() -> ZipLimits {
        ZipLimits {
            max_entries: 1_000_000,
            max_entry_bytes: 16 * GIB,
            max_total_bytes: 256 * GIB,
            max_ratio: 1000,
            ratio_floor_bytes: MIB,
            chunk_bytes: MIB as usize,
        }
    }
}

/// One file of the export (folders are validated but not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// The name exactly as the zip gives it (UTF-8 when its bytes are, else CP437-decoded).
    pub name: String,
    /// Declared uncompressed size (enforced while streaming).
    pub size: u64,
    pub compressed_size: u64,
    pub crc32: u32,
    /// Last-modified time: the extended-timestamp field (UTC) if present, else the DOS time
    /// read as UTC (DOS times carry no zone); `None` if absent or invalid.
    pub modified: Option<OffsetDateTime>,
    index: usize,
}

enum Job {
    Stream {
        index: usize,
        tx: mpsc::Sender<Result<Option<Bytes>>>,
    },
}

/// An open, validated export zip. See the module documentation.
pub struct ExportZip {
    label: String,
    entries: Vec<ZipEntry>,
    by_name: HashMap<String, usize>,
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for ExportZip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportZip")
            .field("path", &self.label)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

fn refuse(label: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Export {
        path: label.to_owned(),
        detail: detail.into(),
    }
}

impl ExportZip {
    /// Opens and validates `path`; nothing is read from any entry before every entry passed.
    pub async fn open(path: &Path, limits: ZipLimits) -> Result<ExportZip> {
        let label = path.display().to_string();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (jobs_tx, jobs_rx) = std::sync::mpsc::channel::<Job>();
        let owned: PathBuf = path.to_owned();
        let worker_label = label.clone();
        std::thread::Builder::new()
            .name("tawthiq-export-zip".into())
            .spawn(move || worker(owned, worker_label, limits, ready_tx, jobs_rx))
            .map_err(|e| refuse(&label, format!("cannot start the zip reader: {e}")))?;
        let entries = ready_rx
            .await
            .map_err(|_| refuse(&label, "the zip reader stopped unexpectedly"))??;
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Ok(ExportZip {
            label,
            entries,
            by_name,
            jobs: jobs_tx,
        })
    }

    /// The zip file's path, as given to [`ExportZip::open`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Every file entry, in central-directory order.
    pub fn entries(&self) -> &[ZipEntry] {
        &self.entries
    }

    pub fn entry(&self, name: &str) -> Option<&ZipEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// A stream of the entry's bytes. Fails mid-stream if the entry is damaged or is not the
    /// size it declares. Drain or drop it before starting another stream.
    pub fn stream(&self, name: &str) -> Result<ZipStream> {
        let entry = self
            .entry(name)
            .ok_or_else(|| refuse(&self.label, format!("no entry named {name:?}")))?;
        let (tx, rx) = mpsc::channel(4);
        self.jobs
            .send(Job::Stream {
                index: entry.index,
                tx,
            })
            .map_err(|_| refuse(&self.label, "the zip reader stopped unexpectedly"))?;
        Ok(ZipStream {
            rx,
            label: self.label.clone(),
            done: false,
        })
    }

    /// Stores one entry byte-exact under its name in the export and logs it as an `IMPORT`
    /// timed by the entry (so a re-import is identical). The sink hashes the bytes as they
    /// stream (once: this is the hot path of multi-gigabyte exports); the reader checks the
    /// entry's CRC-32 and declared size on the way.
    pub async fn store_entry(&self, sink: &mut dyn Sink, entry: &ZipEntry) -> Result<Stored> {
        let mut stream = self.stream(&entry.name)?;
        let stored = sink
            .export_file(&entry.name, Some(entry.size), &mut stream)
            .await?;
        sink.log(CaptureLogEntry {
            seq: 0,
            time: entry.modified.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            method: "IMPORT".into(),
            url: String::new(),
            status: None,
            headers: BTreeMap::new(),
            body_sha256: Some(stored.sha256),
            body_bytes: Some(stored.size),
            payload_path: Some(stored.path.clone()),
            tool: IMPORT_TOOL.into(),
            source_path: Some(entry.name.clone()),
            source_sha256: Some(stored.sha256),
            note: None,
        })
        .await?;
        Ok(stored)
    }

    /// The whole entry in memory; refused if it declares more than `cap` bytes.
    pub async fn read(&self, name: &str, cap: u64) -> Result<Bytes> {
        let entry = self
            .entry(name)
            .ok_or_else(|| refuse(&self.label, format!("no entry named {name:?}")))?;
        if entry.size > cap {
            return Err(refuse(
                &self.label,
                format!(
                    "entry {name:?} declares {} bytes, more than the {cap} bytes allowed for it",
                    entry.size
                ),
            ));
        }
        let mut stream = self.stream(name)?;
        let mut buf = BytesMut::with_capacity(entry.size as usize);
        while let Some(chunk) = stream.next_chunk().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

/// The bytes of one entry, fed by the worker thread.
pub struct ZipStream {
    rx: mpsc::Receiver<Result<Option<Bytes>>>,
    label: String,
    done: bool,
}

#[async_trait]
impl ByteStream for ZipStream {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Ok(Some(chunk))) => Ok(Some(chunk)),
            Some(Ok(None)) => {
                self.done = true;
                Ok(None)
            }
            Some(Err(e)) => {
                self.done = true;
                Err(e)
            }
            None => {
                self.done = true;
                Err(refuse(&self.label, "the zip reader stopped mid-entry"))
            }
        }
    }
}

/// Several zips of one export read as one (Meta and Google Takeout split large exports into
/// parts that must be merged).
///
/// Each part is opened and validated like an [`ExportZip`] (the [`ZipLimits`] apply per part).
/// Entries are listed part by part, each part in central-directory order. A name present in
/// two parts is listed once when both copies declare the same size and CRC-32 (exporters repeat
/// some files in every part); different content under one name, or names that differ only by
/// case across parts, refuse the export, as inside one zip.
#[derive(Debug)]
pub struct ExportParts {
    parts: Vec<ExportZip>,
    label: String,
    entries: Vec<ZipEntry>,
    /// Entry name → (index in `entries`, part holding it).
    by_name: HashMap<String, (usize, usize)>,
}

impl ExportParts {
    /// Opens and validates every part; nothing is read from any entry before all passed.
    pub async fn open(paths: &[PathBuf], limits: ZipLimits) -> Result<ExportParts> {
        if paths.is_empty() {
            return Err(refuse("(none)", "no export file given"));
        }
        let mut parts = Vec::with_capacity(paths.len());
        for p in paths {
            parts.push(ExportZip::open(p, limits).await?);
        }
        let label = parts
            .iter()
            .map(ExportZip::label)
            .collect::<Vec<_>>()
            .join(" + ");
        let mut entries: Vec<ZipEntry> = Vec::new();
        let mut by_name: HashMap<String, (usize, usize)> = HashMap::new();
        let mut folded: HashMap<String, String> = HashMap::new();
        for (pi, part) in parts.iter().enumerate() {
            for e in part.entries() {
                if let Some(&(i, other)) = by_name.get(&e.name) {
                    let first = &entries[i];
                    if first.size == e.size && first.crc32 == e.crc32 {
                        continue;
                    }
                    return Err(refuse(
                        &label,
                        format!(
                            "entry {:?} is in {} and in {} with different content",
                            e.name,
                            parts[other].label(),
                            part.label()
                        ),
                    ));
                }
                if let Some(other) = folded.insert(e.name.to_lowercase(), e.name.clone()) {
                    return Err(refuse(
                        &label,
                        format!(
                            "entry {:?} in {}: duplicate of {other:?} in another part (names differ only by case)",
                            e.name,
                            part.label()
                        ),
                    ));
                }
                by_name.insert(e.name.clone(), (entries.len(), pi));
                entries.push(e.clone());
            }
        }
        Ok(ExportParts {
            parts,
            label,
            entries,
            by_name,
        })
    }

    /// The parts' paths joined with ` + `.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Each part's path, in the order given.
    pub fn part_labels(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(ExportZip::label)
    }

    /// Every file entry of every part, each name once.
    pub fn entries(&self) -> &[ZipEntry] {
        &self.entries
    }

    pub fn entry(&self, name: &str) -> Option<&ZipEntry> {
        self.by_name.get(name).map(|&(i, _)| &self.entries[i])
    }

    fn part_of(&self, name: &str) -> Result<&ExportZip> {
        self.by_name
            .get(name)
            .map(|&(_, p)| &self.parts[p])
            .ok_or_else(|| refuse(&self.label, format!("no entry named {name:?}")))
    }

    /// See [`ExportZip::stream`].
    pub fn stream(&self, name: &str) -> Result<ZipStream> {
        self.part_of(name)?.stream(name)
    }

    /// See [`ExportZip::store_entry`]; the entry is stored under its name, whichever part holds it.
    pub async fn store_entry(&self, sink: &mut dyn Sink, entry: &ZipEntry) -> Result<Stored> {
        self.part_of(&entry.name)?.store_entry(sink, entry).await
    }

    /// See [`ExportZip::read`].
    pub async fn read(&self, name: &str, cap: u64) -> Result<Bytes> {
        self.part_of(name)?.read(name, cap).await
    }
}

#[allow(clippy::needless_pass_by_value)] // owned by the worker thread
fn worker(
    path: PathBuf,
    label: String,
    limits: ZipLimits,
    ready: oneshot::Sender<Result<Vec<ZipEntry>>>,
    jobs: std::sync::mpsc::Receiver<Job>,
) {
    let mut archive = match open_validated(&path, &label, &limits) {
        Ok((archive, entries)) => {
            if ready.send(Ok(entries)).is_err() {
                return;
            }
            archive
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Stream { index, tx } => stream_entry(&mut archive, &label, &limits, index, &tx),
        }
    }
}

fn stream_entry(
    archive: &mut ZipArchive<File>,
    label: &str,
    limits: &ZipLimits,
    index: usize,
    tx: &mpsc::Sender<Result<Option<Bytes>>>,
) {
    let fail = |tx: &mpsc::Sender<Result<Option<Bytes>>>, detail: String| {
        let _ = tx.blocking_send(Err(refuse(label, detail)));
    };
    let mut file = match archive.by_index(index) {
        Ok(f) => f,
        Err(e) => return fail(tx, format!("cannot read entry #{index}: {e}")),
    };
    let name = file.name().to_owned();
    let declared = file.size();
    let chunk = limits.chunk_bytes.max(4096);
    let mut total: u64 = 0;
    loop {
        let mut buf = vec![0u8; chunk];
        let mut filled = 0;
        let mut eof = false;
        while filled < chunk {
            match file.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    total += n as u64;
                    if total > declared {
                        return fail(
                            tx,
                            format!(
                                "entry {name:?} decompresses to more than the {declared} bytes its header declares (lying header or zip bomb)"
                            ),
                        );
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let what = if e.to_string().contains("checksum") {
                        "CRC-32 mismatch: the entry is damaged".to_owned()
                    } else {
                        format!("the entry is damaged: {e}")
                    };
                    return fail(tx, format!("entry {name:?}: {what}"));
                }
            }
        }
        buf.truncate(filled);
        if filled > 0 && tx.blocking_send(Ok(Some(Bytes::from(buf)))).is_err() {
            return; // the consumer dropped the stream
        }
        if eof {
            break;
        }
    }
    if total != declared {
        return fail(
            tx,
            format!("entry {name:?} holds {total} bytes but its header declares {declared}"),
        );
    }
    let _ = tx.blocking_send(Ok(None));
}

/// Why a name is refused, if it is.
pub fn check_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty name");
    }
    if name.chars().any(|c| c == '\0') {
        return Some("NUL character in the name");
    }
    if name.chars().any(char::is_control) {
        return Some("control character in the name");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Some("drive letter (absolute Windows path)");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("`..` component: the path escapes the archive root");
    }
    None
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

#[allow(clippy::too_many_lines)]
fn open_validated(
    path: &Path,
    label: &str,
    limits: &ZipLimits,
) -> Result<(ZipArchive<File>, Vec<ZipEntry>)> {
    let file = File::open(path).map_err(|e| refuse(label, format!("cannot open: {e}")))?;
    let scan = file
        .try_clone()
        .map_err(|e| refuse(label, format!("cannot open: {e}")))?;
    let mut archive = ZipArchive::new(file)
        .map_err(|e| refuse(label, format!("not a zip archive, or a damaged one: {e}")))?;

    // The zip crate keeps one entry per name: count the central directory's records ourselves,
    // so an exact duplicate (which would hide one of the two files) is seen.
    let raw_names = scan_central_directory(scan, archive.central_directory_start(), limits)
        .map_err(|detail| refuse(label, detail))?;
    if raw_names.len() > limits.max_entries {
        return Err(refuse(
            label,
            format!(
                "{} entries, more than the {} allowed",
                raw_names.len(),
                limits.max_entries
            ),
        ));
    }
    if raw_names.len() != archive.len() {
        let mut seen = std::collections::HashSet::new();
        let dup = raw_names
            .iter()
            .find(|n| !seen.insert(n.as_slice()))
            .map(|n| String::from_utf8_lossy(n).into_owned());
        return Err(refuse(
            label,
            match dup {
                Some(n) => format!("entry {n:?} appears twice (duplicate name)"),
                None => format!(
                    "the central directory lists {} entries but {} distinct names (duplicate names)",
                    raw_names.len(),
                    archive.len()
                ),
            },
        ));
    }

    let mut entries = Vec::new();
    let mut folded: HashMap<String, String> = HashMap::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let f = archive
            .by_index_raw(index)
            .map_err(|e| refuse(label, format!("entry #{index} is damaged: {e}")))?;
        let name = entry_name(&f);
        let bad = |detail: String| refuse(label, format!("entry {name:?}: {detail}"));
        if name.contains('\u{FFFD}') && std::str::from_utf8(f.name_raw()).is_err() {
            return Err(bad("name flagged UTF-8 but not valid UTF-8".into()));
        }
        if let Some(why) = check_name(&name) {
            return Err(bad(why.into()));
        }
        if let Some(mode) = f.unix_mode() {
            let kind = mode & S_IFMT;
            if kind == S_IFLNK {
                return Err(bad("symbolic link".into()));
            }
            if kind != 0 && kind != S_IFREG && kind != S_IFDIR {
                return Err(bad(format!("special file (mode {mode:o})")));
            }
        }
        if f.encrypted() {
            return Err(bad("encrypted entry".into()));
        }
        if !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(bad(format!(
                "unsupported compression method {:?}",
                f.compression()
            )));
        }
        let key = name.trim_end_matches('/').to_lowercase();
        if let Some(other) = folded.insert(key, name.clone()) {
            return Err(bad(format!(
                "duplicate of {other:?} (names differ only by case or a trailing slash)"
            )));
        }
        let size = f.size();
        let compressed = f.compressed_size();
        limits.admit(size, &mut total).map_err(bad)?;
        if size > limits.ratio_floor_bytes
            && (compressed == 0 || size / compressed.max(1) > limits.max_ratio)
        {
            return Err(bad(format!(
                "compression ratio {}:1 ({size} bytes from {compressed}) is above {}:1 (zip bomb)",
                size / compressed.max(1),
                limits.max_ratio
            )));
        }
        if f.is_dir() {
            continue;
        }
        let modified = f
            .extra_data_fields()
            .find_map(|x| match x {
                zip::extra_fields::ExtraField::ExtendedTimestamp(t) => t.mod_time(),
                zip::extra_fields::ExtraField::Ntfs(_) => None,
            })
            .and_then(|t| OffsetDateTime::from_unix_timestamp(i64::from(t)).ok())
            .or_else(|| f.last_modified().and_then(dos_time));
        entries.push(ZipEntry {
            name,
            size,
            compressed_size: compressed,
            crc32: f.crc32(),
            modified,
            index,
        });
    }
    Ok((archive, entries))
}

/// The entry's name: its bytes as UTF-8 whenever they are valid UTF-8, flag or not (Info-ZIP
/// on Linux and many other tools write UTF-8 names without setting the flag, and Arabic folder
/// names must match the paths the export's JSON gives), else `zip`'s CP437 decoding.
fn entry_name<R: Read>(f: &zip::read::ZipFile<'_, R>) -> String {
    std::str::from_utf8(f.name_raw()).map_or_else(|_| f.name().to_owned(), str::to_owned)
}

fn dos_time(d: zip::DateTime) -> Option<OffsetDateTime> {
    let month = time::Month::try_from(d.month()).ok()?;
    let date = time::Date::from_calendar_date(i32::from(d.year()), month, d.day()).ok()?;
    let t = time::Time::from_hms(d.hour(), d.minute(), d.second()).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

/// The raw names of the central directory's records, read sequentially from `start`.
fn scan_central_directory(
    file: File,
    start: u64,
    limits: &ZipLimits,
) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut r = BufReader::new(file);
    r.seek(SeekFrom::Start(start))
        .map_err(|e| format!("cannot read the central directory: {e}"))?;
    let mut names = Vec::new();
    loop {
        let mut head = [0u8; 46];
        let mut got = 0;
        while got < 4 {
            match r.read(&mut head[got..4]) {
                Ok(0) => return Ok(names),
                Ok(n) => got += n,
                Err(e) => return Err(format!("cannot read the central directory: {e}")),
            }
        }
        if head[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Ok(names);
        }
        r.read_exact(&mut head[4..])
            .map_err(|e| format!("central directory cut short: {e}"))?;
        let u16_at = |i: usize| u64::from(u16::from_le_bytes([head[i], head[i + 1]]));
        let (name_len, extra_len, comment_len) = (u16_at(28), u16_at(30), u16_at(32));
        let mut name = vec![0u8; name_len as usize];
        r.read_exact(&mut name)
            .map_err(|e| format!("central directory cut short: {e}"))?;
        r.seek_relative((extra_len + comment_len) as i64)
            .map_err(|e| format!("central directory cut short: {e}"))?;
        names.push(name);
        if names.len() > limits.max_entries {
            return Ok(names);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip whose one entry has a UTF-8 name but not the UTF-8 flag, as Info-ZIP writes it.
    fn flagless_utf8_zip(path: &Path, name: &str) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, b"photo").unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        // Clear bit 11 of the general-purpose flags in the local header (offset 6) and the
        // central directory record (offset 8).
        for (sig, at) in [
            ([0x50u8, 0x4b, 0x03, 0x04], 6usize),
            ([0x50, 0x4b, 0x01, 0x02], 8),
        ] {
            let pos = bytes.windows(4).position(|w| w == sig).unwrap();
            bytes[pos + at + 1] &= !0x08;
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[tokio::test]
    async fn utf8_names_without_the_flag_are_read_as_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fb.zip");
        let name = "posts/media/صور الحفل_1234567890/111.jpg";
        flagless_utf8_zip(&path, name);
        let zip = ExportZip::open(&path, ZipLimits::default()).await.unwrap();
        assert_eq!(zip.entries()[0].name, name);
        assert_eq!(&zip.read(name, 100).await.unwrap()[..], b"photo");
    }

    #[test]
    fn names_are_checked() {
        for ok in [
            "data/tweets.js",
            "twitter-2024/data/tweets_media/1-a.jpg",
            "Takeout/YouTube/فيديو ١٢٣ 🎉.mp4",
            "a..b/c",
            "dir/",
        ] {
            assert_eq!(check_name(ok), None, "{ok}");
        }
        for bad in [
            "",
            "../evil.txt",
            "a/../../b",
            "/etc/passwd",
            "\\windows",
            "data\\..\\..\\x",
            "C:/x",
            "c:x",
            "a\0b",
            "a\nb",
            "a/..",
        ] {
            assert!(check_name(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn dos_times_convert() {
        let d = zip::DateTime::from_date_and_time(2024, 5, 12, 9, 15, 0).unwrap();
        assert_eq!(
            dos_time(d).unwrap(),
            time::macros::datetime!(2024-05-12 09:15:00 UTC)
        );
    }
}
