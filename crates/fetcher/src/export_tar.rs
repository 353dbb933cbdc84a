//! [`TarParts`]: safe, read-only access to an export delivered as gzip-compressed tar files
//! (Google Takeout's `.tgz` format), with the same hostility rules as
//! [`ExportZip`](crate::export_zip::ExportZip).
//!
//! Nothing is ever extracted to the filesystem: entries are streamed into the sink. A `.tgz`
//! has no central directory and no random access, so an import reads it in **two sequential
//! passes**:
//!
//! 1. [`TarParts::open`] reads every part from start to end: it validates every header,
//!    computes each file's CRC-32 and length, keeps in memory the (small) files a predicate
//!    asks for (the importer's CSV metadata), and checks the gzip trailer (CRC-32 and length of
//!    the whole stream). Nothing is emitted; any refusal happens here.
//! 2. [`TarParts::store_in_order`] reads the parts again and streams the chosen files, in
//!    archive order, into [`Sink::export_file`]. Each file must have the name, length and
//!    CRC-32 pass 1 saw, or its stream fails at its end (before the sink sees `None`), so the
//!    sink discards it: a file changed between the passes, or a lying/corrupt stream, is never
//!    stored.
//!
//! Refused in pass 1 ([`FetchError::Export`], one line naming the entry): every name
//! [`check_name`] refuses (absolute paths, drive letters, `..` with `/` or `\`, NUL and control
//! characters), names that are not UTF-8, non-canonical names (`a//b`, `a/./b`; one leading
//! `./`, which GNU tar writes, is dropped), symbolic links, hard links, devices, FIFOs and sparse
//! files, duplicate names (also ignoring case or a trailing slash; across parts as in
//! [`ExportParts`](crate::export_zip::ExportParts): the same name with the same length and
//! CRC-32 is listed once, anything else refuses the export), more entries than
//! [`ZipLimits::max_entries`], a file declaring more than [`ZipLimits::max_entry_bytes`], a
//! declared total over [`ZipLimits::max_total_bytes`], and a gzip bomb: once more than
//! [`ZipLimits::ratio_floor_bytes`] are decompressed, the decompressed bytes may not exceed
//! [`ZipLimits::max_ratio`] times the part's compressed size (tar has no per-entry compressed
//! size: the ratio is the whole stream's, checked while decompressing, so a bomb is stopped
//! early). Tar headers (long names, pax records) are capped at 1 MiB per entry, since
//! the `tar` crate reads them into memory. A damaged stream (bad header checksum, bad deflate
//! data, wrong gzip CRC-32, truncated file) refuses the export.
//!
//! Names: the path as the tar gives it (GNU long names and pax `path` records applied), as
//! UTF-8. Times: the header's mtime (UTC), used for the `IMPORT` log entry.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use async_trait::async_trait;
use bytes::Bytes;
use flate2::Crc;
use flate2::read::MultiGzDecoder;
use model::CaptureLogEntry;
use tar::EntryType;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::error::{FetchError, Result};
use crate::export_zip::{IMPORT_TOOL, ZipLimits, check_name};
use crate::source::{ByteStream, Sink, Stored};

/// Most header bytes (long names, pax records, padding) allowed before one entry.
const MAX_HEADER_BYTES: u64 = 1024 * 1024;

/// One file of a tar export (folders are validated but not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// The name as the tar gives it (without a leading `./`).
    pub name: String,
    /// Length in bytes (checked against the content in both passes).
    pub size: u64,
    /// CRC-32 of the content, computed in pass 1.
    pub crc32: u32,
    /// The header's modification time, UTC.
    pub modified: Option<OffsetDateTime>,
    part: usize,
    /// Position among the entries the `tar` crate yields for its part.
    ordinal: usize,
}

fn refuse(label: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Export {
        path: label.to_owned(),
        detail: detail.into(),
    }
}

/// One or several `.tgz` parts of one export, validated (pass 1 done). See the module doc.
#[derive(Debug)]
pub struct TarParts {
    paths: Vec<PathBuf>,
    labels: Vec<String>,
    label: String,
    limits: ZipLimits,
    entries: Vec<TarEntry>,
    by_name: HashMap<String, usize>,
    kept: HashMap<String, Bytes>,
}

/// What pass 1 found in one part.
struct Scan {
    entries: Vec<TarEntry>,
    kept: Vec<(String, Bytes)>,
}

type Keep = dyn Fn(&str, u64) -> bool + Send + Sync;

impl TarParts {
    /// Pass 1 over every part (in the order given). `keep(name, size)` chooses the files whose
    /// bytes are kept in memory for [`TarParts::kept`]; keep only small ones.
    pub async fn open(
        paths: &[PathBuf],
        limits: ZipLimits,
        keep: impl Fn(&str, u64) -> bool + Send + Sync + 'static,
    ) -> Result<TarParts> {
        if paths.is_empty() {
            return Err(refuse("(none)", "no export file given"));
        }
        let keep: std::sync::Arc<Keep> = std::sync::Arc::new(keep);
        let labels: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let label = labels.join(" + ");
        let mut entries: Vec<TarEntry> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut folded: HashMap<String, String> = HashMap::new();
        let mut kept: HashMap<String, Bytes> = HashMap::new();
        let mut total: u64 = 0;
        for (pi, path) in paths.iter().enumerate() {
            let (p, l, k) = (path.clone(), labels[pi].clone(), keep.clone());
            let scan = tokio::task::spawn_blocking(move || scan(&p, &l, pi, &limits, &*k))
                .await
                .map_err(|e| refuse(&labels[pi], format!("the tar reader failed: {e}")))??;
            for e in scan.entries {
                if let Some(&i) = by_name.get(&e.name) {
                    let first = &entries[i];
                    if first.size == e.size && first.crc32 == e.crc32 {
                        continue;
                    }
                    return Err(refuse(
                        &label,
                        format!(
                            "entry {:?} is in {} and in {} with different content",
                            e.name, labels[first.part], labels[pi]
                        ),
                    ));
                }
                if let Some(other) = folded.insert(e.name.to_lowercase(), e.name.clone()) {
                    return Err(refuse(
                        &label,
                        format!(
                            "entry {:?} in {}: duplicate of {other:?} in another part (names differ only by case)",
                            e.name, labels[pi]
                        ),
                    ));
                }
                total = total.saturating_add(e.size);
                if total > limits.max_total_bytes {
                    return Err(refuse(
                        &label,
                        format!(
                            "entry {:?} brings the total to {total} bytes, more than the {} allowed",
                            e.name, limits.max_total_bytes
                        ),
                    ));
                }
                by_name.insert(e.name.clone(), entries.len());
                entries.push(e);
            }
            for (name, body) in scan.kept {
                kept.entry(name).or_insert(body);
            }
        }
        Ok(TarParts {
            paths: paths.to_vec(),
            labels,
            label,
            limits,
            entries,
            by_name,
            kept,
        })
    }

    /// The parts' paths joined with ` + `.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Every file of every part, each name once, in archive order (part by part).
    pub fn entries(&self) -> &[TarEntry] {
        &self.entries
    }

    pub fn entry(&self, name: &str) -> Option<&TarEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// The bytes of a file pass 1 kept (see [`TarParts::open`]).
    pub fn kept(&self, name: &str) -> Option<&Bytes> {
        self.kept.get(name)
    }

    /// Pass 2: stores every entry `wanted` accepts byte-exact under its name, in archive order,
    /// each followed by an `IMPORT` log entry timed by the entry (so a re-import is identical).
    /// Returns what was stored, by name.
    pub async fn store_in_order(
        &self,
        sink: &mut dyn Sink,
        wanted: impl Fn(&TarEntry) -> bool,
    ) -> Result<HashMap<String, Stored>> {
        let mut out = HashMap::new();
        for (pi, path) in self.paths.iter().enumerate() {
            // Ordinal in this part → index in `entries`, for the files to store.
            let plan: BTreeMap<usize, usize> = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.part == pi && wanted(e))
                .map(|(i, e)| (e.ordinal, i))
                .collect();
            if plan.is_empty() {
                continue;
            }
            let label = self.labels[pi].clone();
            let expected: BTreeMap<usize, TarEntry> = plan
                .iter()
                .map(|(&o, &i)| (o, self.entries[i].clone()))
                .collect();
            let (tx, mut rx) = mpsc::channel::<Msg>(1);
            let (p, l, limits) = (path.clone(), label.clone(), self.limits);
            std::thread::Builder::new()
                .name("tawthiq-export-tar".into())
                .spawn(move || replay(&p, &l, &limits, &expected, &tx))
                .map_err(|e| refuse(&label, format!("cannot start the tar reader: {e}")))?;
            let mut done = false;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Entry { ordinal, body } => {
                        let entry = &self.entries[plan[&ordinal]];
                        let mut stream = TarStream {
                            rx: body,
                            label: label.clone(),
                            done: false,
                        };
                        let stored = sink
                            .export_file(&entry.name, Some(entry.size), &mut stream)
                            .await?;
                        log_import(sink, &entry.name, entry.modified, &stored).await?;
                        out.insert(entry.name.clone(), stored);
                    }
                    Msg::Failed(e) => return Err(e),
                    Msg::Done => {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                return Err(refuse(&label, "the tar reader stopped unexpectedly"));
            }
        }
        Ok(out)
    }
}

/// The `IMPORT` capture-log entry of a stored export file (as `ExportZip::store_entry` writes).
pub(crate) async fn log_import(
    sink: &mut dyn Sink,
    name: &str,
    modified: Option<OffsetDateTime>,
    stored: &Stored,
) -> Result<()> {
    sink.log(CaptureLogEntry {
        seq: 0,
        time: modified.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        method: "IMPORT".into(),
        url: String::new(),
        status: None,
        headers: BTreeMap::new(),
        body_sha256: Some(stored.sha256),
        body_bytes: Some(stored.size),
        payload_path: Some(stored.path.clone()),
        tool: IMPORT_TOOL.into(),
        source_path: Some(name.to_owned()),
        source_sha256: Some(stored.sha256),
        note: None,
    })
    .await
}

enum Msg {
    Entry {
        ordinal: usize,
        body: mpsc::Receiver<Result<Option<Bytes>>>,
    },
    Failed(FetchError),
    Done,
}

/// The bytes of one file, fed by the pass-2 thread.
struct TarStream {
    rx: mpsc::Receiver<Result<Option<Bytes>>>,
    label: String,
    done: bool,
}

#[async_trait]
impl ByteStream for TarStream {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let next = self.rx.recv().await;
        if !matches!(next, Some(Ok(Some(_)))) {
            self.done = true;
        }
        match next {
            Some(r) => r,
            None => Err(refuse(&self.label, "the tar reader stopped mid-entry")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The blocking side

/// Decompressed-byte accounting shared between the reader and the entry loop.
#[derive(Default)]
struct Budget {
    /// Decompressed bytes so far.
    total: Cell<u64>,
    /// Header bytes read since the last entry was yielded.
    overhead: Cell<u64>,
    /// Whether the loop is reading a file's content (or draining the end of the stream).
    in_body: Cell<bool>,
    /// Why the reader refused, if it did (the `tar` crate rewords I/O errors).
    refusal: Cell<Option<String>>,
}

/// Counts decompressed bytes: refuses a gzip bomb, oversized headers, or more than the total.
struct Counted<R> {
    inner: R,
    budget: Rc<Budget>,
    /// Largest decompressed length allowed.
    cap: u64,
    floor: u64,
    ratio: u64,
    compressed: u64,
    check_headers: bool,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let b = &self.budget;
        let total = b.total.get() + n as u64;
        b.total.set(total);
        let why = if total > self.floor && total / self.compressed.max(1) > self.ratio {
            Some(format!(
                "decompresses to more than {}:1 of its {} compressed bytes (gzip bomb)",
                self.ratio, self.compressed
            ))
        } else if total > self.cap {
            Some(format!(
                "decompresses to more than the {} bytes allowed",
                self.cap
            ))
        } else if self.check_headers && !b.in_body.get() {
            b.overhead.set(b.overhead.get() + n as u64);
            (b.overhead.get() > MAX_HEADER_BYTES).then(|| {
                format!("tar headers larger than {MAX_HEADER_BYTES} bytes (oversized long name or pax record)")
            })
        } else {
            None
        };
        if let Some(why) = why {
            b.refusal.set(Some(why.clone()));
            return Err(io::Error::other(why));
        }
        Ok(n)
    }
}

/// The decompressed stream of one part.
type Stream = Counted<MultiGzDecoder<BufReader<File>>>;

fn open_stream(
    path: &Path,
    label: &str,
    limits: &ZipLimits,
    check_headers: bool,
) -> Result<(Stream, Rc<Budget>)> {
    let mut file = File::open(path).map_err(|e| refuse(label, format!("cannot open: {e}")))?;
    let compressed = file
        .metadata()
        .map_err(|e| refuse(label, format!("cannot open: {e}")))?
        .len();
    let mut magic = [0u8; 2];
    if file.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err(refuse(label, "not a gzip-compressed tar (.tgz) file"));
    }
    let file = File::open(path).map_err(|e| refuse(label, format!("cannot open: {e}")))?;
    let budget = Rc::new(Budget::default());
    let counted = Counted {
        inner: MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file)),
        budget: budget.clone(),
        // Tar adds a 512-byte header per entry and pads to 512 bytes: allow for it.
        cap: limits
            .max_total_bytes
            .saturating_add((limits.max_entries as u64).saturating_mul(1536))
            .saturating_add(1 << 20),
        floor: limits.ratio_floor_bytes,
        ratio: limits.max_ratio,
        compressed,
        check_headers,
    };
    Ok((counted, budget))
}

/// An I/O error while reading the stream, as a refusal (the reader's own reason first).
fn damaged(label: &str, budget: &Budget, what: &str, e: &io::Error) -> FetchError {
    match budget.refusal.take() {
        Some(why) => refuse(label, why),
        None => refuse(
            label,
            format!("{what}: the archive is damaged or truncated: {e}"),
        ),
    }
}

/// The entry's name without a leading `./`, or why it is refused.
fn entry_name(raw: &[u8], is_dir: bool) -> std::result::Result<String, String> {
    let name = std::str::from_utf8(raw).map_err(|_| {
        format!(
            "name {:?} is not valid UTF-8",
            String::from_utf8_lossy(raw).into_owned()
        )
    })?;
    let mut name = name;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    let bad = |why: &str| format!("entry {name:?}: {why}");
    if let Some(why) = check_name(name) {
        return Err(bad(why));
    }
    let body = if is_dir {
        name.strip_suffix('/').unwrap_or(name)
    } else {
        name
    };
    if body.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(bad("non-canonical path (empty or `.` component)"));
    }
    Ok(name.to_owned())
}

/// What an entry type means for the import: `Ok(true)` a file, `Ok(false)` skipped (folder,
/// pax global header), `Err` refused.
fn admit(kind: EntryType) -> std::result::Result<bool, String> {
    match kind {
        EntryType::Regular | EntryType::Continuous => Ok(true),
        EntryType::Directory | EntryType::XGlobalHeader => Ok(false),
        EntryType::Symlink => Err("symbolic link".into()),
        EntryType::Link => Err("hard link".into()),
        EntryType::Char | EntryType::Block => Err("device file".into()),
        EntryType::Fifo => Err("special file (FIFO)".into()),
        EntryType::GNUSparse => Err("sparse file".into()),
        other => Err(format!("unsupported tar entry type {:?}", other.as_byte())),
    }
}

fn mtime(h: &tar::Header) -> Option<OffsetDateTime> {
    let t = i64::try_from(h.mtime().ok()?).ok()?;
    OffsetDateTime::from_unix_timestamp(t).ok()
}

/// The error `read_body` returns when its consumer stops taking chunks (the sink dropped the
/// stream): not a fault of the archive.
const CONSUMER_STOPPED: &str = "the consumer stopped";

/// Reads `r` to its end in chunks, handing each to `each`; returns the length and CRC-32.
fn read_body(
    r: &mut impl Read,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> bool,
) -> io::Result<(u64, u32)> {
    let mut crc = Crc::new();
    let mut len = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok((len, crc.sum()));
        }
        crc.update(&buf[..filled]);
        len += filled as u64;
        if !each(&buf[..filled]) {
            return Err(io::Error::other(CONSUMER_STOPPED));
        }
    }
}

/// Pass 1 over one part.
#[allow(clippy::too_many_lines)]
fn scan(path: &Path, label: &str, part: usize, limits: &ZipLimits, keep: &Keep) -> Result<Scan> {
    let (reader, budget) = open_stream(path, label, limits, true)?;
    let mut archive = tar::Archive::new(reader);
    let mut entries: Vec<TarEntry> = Vec::new();
    let mut kept = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; limits.chunk_bytes.max(4096)];
    {
        let iter = archive
            .entries()
            .map_err(|e| damaged(label, &budget, "cannot read", &e))?;
        for (ordinal, entry) in iter.enumerate() {
            let mut entry = entry.map_err(|e| damaged(label, &budget, "cannot read", &e))?;
            // The headers of this entry passed the cap while they were read; count afresh.
            budget.overhead.set(0);
            if ordinal >= limits.max_entries {
                return Err(refuse(
                    label,
                    format!("more than the {} entries allowed", limits.max_entries),
                ));
            }
            let kind = entry.header().entry_type();
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let is_file =
                admit(kind).map_err(|why| refuse(label, format!("entry {shown:?}: {why}")))?;
            if kind == EntryType::XGlobalHeader {
                continue;
            }
            let name =
                entry_name(&raw, kind == EntryType::Directory).map_err(|why| refuse(label, why))?;
            let bad = |detail: String| refuse(label, format!("entry {name:?}: {detail}"));
            let key = name.trim_end_matches('/').to_lowercase();
            if let Some(other) = seen.insert(key, name.clone()) {
                return Err(bad(if other == name {
                    "appears twice (duplicate name)".into()
                } else {
                    format!(
                        "duplicate of {other:?} (names differ only by case or a trailing slash)"
                    )
                }));
            }
            if !is_file {
                continue;
            }
            let size = entry.size();
            limits.admit(size, &mut total).map_err(bad)?;
            let wanted = keep(&name, size);
            let mut body = Vec::new();
            budget.in_body.set(true);
            let read = read_body(&mut entry, &mut buf, |chunk| {
                if wanted {
                    body.extend_from_slice(chunk);
                }
                true
            });
            budget.in_body.set(false);
            let (len, crc32) = read.map_err(|e| damaged(label, &budget, &name, &e))?;
            if len != size {
                return Err(bad(format!(
                    "holds {len} bytes but its header declares {size} (truncated archive)"
                )));
            }
            if wanted {
                kept.push((name.clone(), Bytes::from(body)));
            }
            entries.push(TarEntry {
                name,
                size,
                crc32,
                modified: mtime(entry.header()),
                part,
                ordinal,
            });
        }
    }
    // Read to the end so the gzip trailer (CRC-32 and length of the stream) is checked.
    let mut rest = archive.into_inner();
    budget.in_body.set(true);
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| damaged(label, &budget, "after the last entry", &e))?;
    Ok(Scan { entries, kept })
}

/// Pass 2 over one part: streams the `expected` entries (by ordinal) into channels.
#[allow(clippy::needless_pass_by_value)]
fn replay(
    path: &Path,
    label: &str,
    limits: &ZipLimits,
    expected: &BTreeMap<usize, TarEntry>,
    tx: &mpsc::Sender<Msg>,
) {
    let fail = |e: FetchError| {
        let _ = tx.blocking_send(Msg::Failed(e));
    };
    let changed = |name: &str| {
        refuse(
            label,
            format!("entry {name:?} changed since the export was checked (file modified?)"),
        )
    };
    let (reader, budget) = match open_stream(path, label, limits, false) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut archive = tar::Archive::new(reader);
    let iter = match archive.entries() {
        Ok(i) => i,
        Err(e) => return fail(damaged(label, &budget, "cannot read", &e)),
    };
    let mut buf = vec![0u8; limits.chunk_bytes.max(4096)];
    let last = expected.keys().next_back().copied().unwrap_or(0);
    for (ordinal, entry) in iter.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return fail(damaged(label, &budget, "cannot read", &e)),
        };
        let Some(want) = expected.get(&ordinal) else {
            continue;
        };
        let raw = entry.path_bytes().into_owned();
        if entry_name(&raw, false).ok().as_deref() != Some(want.name.as_str())
            || entry.size() != want.size
        {
            return fail(changed(&want.name));
        }
        let (btx, brx) = mpsc::channel::<Result<Option<Bytes>>>(4);
        if tx.blocking_send(Msg::Entry { ordinal, body: brx }).is_err() {
            return;
        }
        let read = read_body(&mut entry, &mut buf, |chunk| {
            btx.blocking_send(Ok(Some(Bytes::copy_from_slice(chunk))))
                .is_ok()
        });
        let end = match read {
            Ok((len, crc)) if len == want.size && crc == want.crc32 => Ok(None),
            Ok(_) => Err(changed(&want.name)),
            Err(e) if e.to_string() == CONSUMER_STOPPED => return,
            Err(e) => Err(damaged(label, &budget, &want.name, &e)),
        };
        let failed = end.is_err();
        if btx.blocking_send(end).is_err() || failed {
            return;
        }
        if ordinal == last {
            break;
        }
    }
    let _ = tx.blocking_send(Msg::Done);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn header(name: &[u8], kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(1_727_000_000);
        h.set_cksum();
        h
    }

    /// A .tgz of raw headers (names written as is, unchecked) and bodies.
    fn tgz(path: &Path, entries: &[(&[u8], EntryType, &[u8])]) {
        let gz = GzEncoder::new(File::create(path).unwrap(), Compression::default());
        let mut b = tar::Builder::new(gz);
        for (name, kind, body) in entries {
            let mut h = header(name, *kind, body.len() as u64);
            if *kind == EntryType::Symlink || *kind == EntryType::Link {
                h.set_size(0);
                h.set_link_name_literal(b"/etc/passwd").unwrap();
                h.set_cksum();
                b.append(&h, io::empty()).unwrap();
            } else {
                b.append(&h, *body).unwrap();
            }
        }
        b.into_inner().unwrap().finish().unwrap();
    }

    async fn open(path: &Path, limits: ZipLimits) -> Result<TarParts> {
        TarParts::open(&[path.to_owned()], limits, |n, _| {
            Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        })
        .await
    }

    async fn refused(entries: &[(&[u8], EntryType, &[u8])], limits: ZipLimits, why: &str) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tgz");
        tgz(&p, entries);
        let e = open(&p, limits).await.unwrap_err();
        assert_eq!(e.kind(), "bad_export");
        assert!(e.to_string().contains(why), "expected {why:?} in {e}");
        assert!(!e.to_string().contains('\n'));
    }

    const F: EntryType = EntryType::Regular;

    #[tokio::test]
    async fn reads_files_crcs_and_kept_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tgz");
        tgz(
            &p,
            &[
                (b"./Takeout/", EntryType::Directory, b""),
                ("./Takeout/a ١.csv".as_bytes(), F, b"x,y\n1,2\n"),
                (b"Takeout/v.mp4", F, b"video"),
            ],
        );
        let t = open(&p, ZipLimits::default()).await.unwrap();
        let names: Vec<&str> = t.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Takeout/a ١.csv", "Takeout/v.mp4"]);
        assert_eq!(t.entries()[1].size, 5);
        let mut crc = Crc::new();
        crc.update(b"video");
        assert_eq!(t.entries()[1].crc32, crc.sum());
        assert_eq!(&t.kept("Takeout/a ١.csv").unwrap()[..], b"x,y\n1,2\n");
        assert!(t.kept("Takeout/v.mp4").is_none());
        assert_eq!(
            t.entries()[0].modified,
            OffsetDateTime::from_unix_timestamp(1_727_000_000).ok()
        );
    }

    #[tokio::test]
    async fn refuses_hostile_entries() {
        let d = ZipLimits::default();
        refused(&[(b"../evil", F, b"x")], d, "escapes").await;
        refused(&[(b"a/../../evil", F, b"x")], d, "escapes").await;
        refused(&[(b"a\\..\\evil", F, b"x")], d, "escapes").await;
        refused(&[(b"/etc/passwd", F, b"x")], d, "absolute path").await;
        refused(&[(b"C:/x", F, b"x")], d, "drive letter").await;
        refused(&[(b"a\x01b", F, b"x")], d, "control character").await;
        refused(&[(b"a//b", F, b"x")], d, "non-canonical").await;
        refused(&[(b"a/./b", F, b"x")], d, "non-canonical").await;
        refused(&[(b"a\xffb", F, b"x")], d, "not valid UTF-8").await;
        refused(&[(b"l", EntryType::Symlink, b"")], d, "symbolic link").await;
        refused(&[(b"l", EntryType::Link, b"")], d, "hard link").await;
        refused(&[(b"c", EntryType::Char, b"")], d, "device file").await;
        refused(&[(b"f", EntryType::Fifo, b"")], d, "FIFO").await;
        refused(&[(b"a", F, b"1"), (b"a", F, b"2")], d, "appears twice").await;
        refused(
            &[(b"A.csv", F, b"1"), (b"a.csv", F, b"2")],
            d,
            "differ only by case",
        )
        .await;
        refused(&[(b"a", F, b"1"), (b"./a", F, b"1")], d, "appears twice").await;
        let small = ZipLimits {
            max_entry_bytes: 3,
            ..d
        };
        refused(&[(b"a", F, b"1234")], small, "allowed per entry").await;
        let total = ZipLimits {
            max_total_bytes: 5,
            ..d
        };
        refused(&[(b"a", F, b"123"), (b"b", F, b"456")], total, "total").await;
        let few = ZipLimits {
            max_entries: 1,
            ..d
        };
        refused(&[(b"a", F, b"1"), (b"b", F, b"2")], few, "entries allowed").await;
    }

    #[tokio::test]
    async fn stops_a_gzip_bomb_early() {
        let zeros = vec![0u8; 20 << 20];
        let bomb = ZipLimits {
            max_ratio: 50,
            ..ZipLimits::default()
        };
        refused(&[(b"bomb.mp4", F, &zeros)], bomb, "gzip bomb").await;
    }

    #[tokio::test]
    async fn refuses_damaged_streams() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tgz");
        tgz(&p, &[(b"a.bin", F, &[7u8; 4000])]);
        let good = std::fs::read(&p).unwrap();
        // Wrong gzip CRC-32 in the trailer (last 8 bytes: CRC-32, length).
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff;
        std::fs::write(&p, &bad).unwrap();
        let e = open(&p, ZipLimits::default()).await.unwrap_err();
        assert_eq!(e.kind(), "bad_export", "{e}");
        // Truncated.
        std::fs::write(&p, &good[..good.len() / 2]).unwrap();
        let e = open(&p, ZipLimits::default()).await.unwrap_err();
        assert!(e.to_string().contains("damaged or truncated"), "{e}");
        // Not gzip at all.
        std::fs::write(&p, b"PK\x03\x04 not a tgz").unwrap();
        let e = open(&p, ZipLimits::default()).await.unwrap_err();
        assert!(e.to_string().contains("not a gzip"), "{e}");
        // A tar header with a bad checksum.
        let mut raw = Vec::new();
        let mut h = header(b"x", F, 1);
        h.as_old_mut().cksum[0] = b'7';
        raw.extend_from_slice(h.as_bytes());
        raw.extend_from_slice(&[b'x'; 512]);
        raw.extend_from_slice(&[0u8; 1024]);
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&raw).unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let e = open(&p, ZipLimits::default()).await.unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[tokio::test]
    async fn many_folders_in_a_row_are_not_oversized_headers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tgz");
        let names: Vec<String> = (0..3000).map(|i| format!("d{i}/")).collect();
        let mut entries: Vec<(&[u8], EntryType, &[u8])> = names
            .iter()
            .map(|n| (n.as_bytes(), EntryType::Directory, &b""[..]))
            .collect();
        entries.push((b"d0/a.csv", F, b"x"));
        tgz(&p, &entries);
        let t = open(&p, ZipLimits::default()).await.unwrap();
        assert_eq!(t.entries().len(), 1);
    }

    #[tokio::test]
    async fn reads_gnu_long_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tgz");
        let name = format!(
            "Takeout/YouTube and YouTube Music/videos/{}.mp4",
            "حفل التخرج ".repeat(8)
        );
        assert!(name.len() > 100);
        let gz = GzEncoder::new(File::create(&p).unwrap(), Compression::default());
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        b.append_data(&mut h, &name, &b"abc"[..]).unwrap();
        b.into_inner().unwrap().finish().unwrap();
        let t = open(&p, ZipLimits::default()).await.unwrap();
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.entries()[0].name, name);
    }

    #[test]
    fn names_are_normalised_and_checked() {
        assert_eq!(entry_name(b"./a/b", false).unwrap(), "a/b");
        assert_eq!(entry_name(b"a/b/", true).unwrap(), "a/b/");
        assert!(entry_name(b"a/b/", false).is_err());
        assert!(entry_name(b"./../x", false).is_err());
        assert!(entry_name(b"", false).is_err());
    }
}
