//! [`BundleReader`]: random access to one member without reading the whole bundle.
//!
//! For `.tar.zst` it reads the seekable footer, the seek table and the member index from the
//! end of the file, then decompresses only the frames that hold the member. Everything read
//! through the (untrusted) index is checked before it is returned: the member's SHA-256
//! against the manifest, the manifest against the tag manifest, and — given a public key —
//! the tag manifest against the signature.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use model::{BundleId, ContentId};
use sha2::{Digest, Sha256};

use crate::error::{BundleError, Result};
use crate::frames::{self, FRAME_LIMIT, FrameEntry, IndexEntry};
use crate::layout;
use crate::signing::{PublicKey, SignatureFile};
use crate::tar::{self, BLOCK};
use crate::verify::MEMBER_LIMIT;
use crate::writer::{hex, trusted_comment};

/// A member as listed by the index (or the tar headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Path relative to the bag root.
    pub path: String,
    pub size: u64,
}

struct FrameSpan {
    /// XXH3-64 of the stored frame, from the index (`None`: raw blocks, covered by the checksum).
    digest: Option<u64>,
    compressed_at: u64,
    decompressed_at: u64,
    entry: FrameEntry,
}

pub struct BundleReader<R> {
    r: R,
    root: String,
    entries: Vec<IndexEntry>,
    by_path: HashMap<String, usize>,
    /// Data frames, for `.tar.zst`; empty for a plain tar.
    frames: Option<Vec<FrameSpan>>,
}

impl BundleReader<BufReader<File>> {
    pub fn open_file(path: &Path) -> Result<Self> {
        let f = File::open(path).map_err(BundleError::io(format!("opening {}", path.display())))?;
        if f.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(BundleError::NotABundle(format!(
                "{} is a directory",
                path.display()
            )));
        }
        BundleReader::open(BufReader::with_capacity(64 << 10, f))
    }
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0; len];
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(&mut buf))
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                BundleError::Damaged(format!("the file ends before offset {}", at + len as u64))
            } else {
                BundleError::Io {
                    context: "reading the bundle".into(),
                    source: e,
                }
            }
        })?;
    Ok(buf)
}

impl<R: Read + Seek> BundleReader<R> {
    pub fn open(mut r: R) -> Result<Self> {
        let len = r
            .seek(SeekFrom::End(0))
            .map_err(BundleError::io("reading the bundle"))?;
        if len < 8 {
            return Err(BundleError::NotABundle("file too short".into()));
        }
        let head = read_at(&mut r, 0, 4)?;
        let magic = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        if magic == frames::ZSTD_MAGIC {
            Self::open_zst(r, len)
        } else if len >= BLOCK as u64 && read_at(&mut r, 257, 6)? == b"ustar\0" {
            Self::open_tar(r, len)
        } else {
            Err(BundleError::NotABundle(
                "neither a .tar.zst nor a .tar bundle".into(),
            ))
        }
    }

    fn open_zst(mut r: R, len: u64) -> Result<Self> {
        let footer: [u8; frames::SEEK_FOOTER_LEN] =
            read_at(&mut r, len - 9, 9)?.try_into().expect("9 bytes");
        let (n, table_len) =
            frames::parse_footer(&footer).map_err(|e| BundleError::NotABundle(e.into()))?;
        // Every frame takes at least 12 bytes of file: a table claiming more frames than that is lying.
        if table_len > len || u64::from(n) > len / 12 {
            return Err(BundleError::Damaged(
                "seek table larger than the file".into(),
            ));
        }
        let table = read_at(&mut r, len - table_len, table_len as usize)?;
        let entries =
            frames::parse_seek_table(&table).map_err(|e| BundleError::Damaged(e.into()))?;
        let mut spans = Vec::with_capacity(entries.len());
        let (mut c, mut d) = (0u64, 0u64);
        for e in entries {
            spans.push(FrameSpan {
                digest: None,
                compressed_at: c,
                decompressed_at: d,
                entry: e,
            });
            c += u64::from(e.compressed);
            d += u64::from(e.decompressed);
        }
        if c != len - table_len {
            return Err(BundleError::Damaged(
                "seek table does not add up to the file size".into(),
            ));
        }
        let index_span = spans
            .pop()
            .filter(|s| s.entry.decompressed == 0 && s.entry.compressed >= 8)
            .ok_or_else(|| BundleError::Damaged("no index frame before the seek table".into()))?;
        let size = (index_span.entry.compressed - 8) as usize;
        if size > crate::verify::INDEX_LIMIT {
            return Err(BundleError::Damaged("index frame too large".into()));
        }
        let frame = read_at(&mut r, index_span.compressed_at, size + 8)?;
        if u32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) != frames::INDEX_MAGIC {
            return Err(BundleError::Damaged(
                "the frame before the seek table is not an index".into(),
            ));
        }
        let index = frames::parse_index(&frame[8..]).map_err(|e| BundleError::Damaged(e.into()))?;
        if index.frame_digests.len() != spans.len() {
            return Err(BundleError::Damaged(
                "the index lists another number of frames than the seek table".into(),
            ));
        }
        for (span, digest) in spans.iter_mut().zip(index.frame_digests) {
            span.digest = digest;
        }
        let entries = index.members;
        Self::with_entries(r, entries, Some(spans))
    }

    fn open_tar(mut r: R, len: u64) -> Result<Self> {
        let mut entries = Vec::new();
        let mut at = 0u64;
        while at + BLOCK as u64 <= len {
            let block: [u8; BLOCK] = read_at(&mut r, at, BLOCK)?.try_into().expect("one block");
            if tar::is_zero_block(&block) {
                break;
            }
            let mut raw = tar::parse_block(&block)
                .map_err(|_| BundleError::Damaged(format!("bad tar header at offset {at}")))?;
            let header_offset = at;
            let mut path = String::from_utf8_lossy(&raw.path).into_owned();
            at += BLOCK as u64;
            if raw.typeflag == b'x' && raw.size <= 64 << 10 {
                let recs = read_at(&mut r, at, raw.size as usize)?;
                at += raw.size + tar::padding(raw.size) as u64;
                if let Some((_, p)) = tar::parse_pax(&recs)
                    .ok()
                    .and_then(|v| v.into_iter().find(|(k, _)| k == "path"))
                {
                    path = p;
                }
                let block: [u8; BLOCK] = read_at(&mut r, at, BLOCK)?.try_into().expect("one block");
                raw = tar::parse_block(&block)
                    .map_err(|_| BundleError::Damaged(format!("bad tar header at offset {at}")))?;
                at += BLOCK as u64;
            }
            entries.push(IndexEntry {
                header_offset,
                data_offset: at,
                size: raw.size,
                path,
            });
            if entries.len() > MEMBER_LIMIT {
                return Err(BundleError::Damaged("too many members".into()));
            }
            at = at.saturating_add(raw.size + tar::padding(raw.size) as u64);
        }
        Self::with_entries(r, entries, None)
    }

    fn with_entries(
        r: R,
        entries: Vec<IndexEntry>,
        frames: Option<Vec<FrameSpan>>,
    ) -> Result<Self> {
        let root = entries
            .first()
            .and_then(|e| e.path.split_once('/'))
            .map(|(top, _)| top.to_owned())
            .ok_or_else(|| BundleError::Damaged("the bundle lists no members".into()))?;
        let prefix = format!("{root}/");
        let mut by_path = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let rel = e
                .path
                .strip_prefix(&prefix)
                .ok_or_else(|| BundleError::Damaged("member outside the bag folder".into()))?;
            by_path.insert(rel.to_owned(), i);
        }
        Ok(BundleReader {
            r,
            root,
            entries,
            by_path,
            frames,
        })
    }

    /// The bag's top folder: the bundle id.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn contains(&self, rel: &str) -> bool {
        self.by_path.contains_key(rel)
    }

    /// Members in bundle order (from the untrusted index: use `read_verified` for content).
    pub fn list(&self) -> Vec<MemberInfo> {
        let cut = self.root.len() + 1;
        self.entries
            .iter()
            .map(|e| MemberInfo {
                path: e.path[cut..].to_owned(),
                size: e.size,
            })
            .collect()
    }

    /// Streams a member's bytes (unverified) to `out`, at most `limit` bytes.
    fn copy_raw(
        &mut self,
        rel: &str,
        limit: u64,
        out: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64> {
        let i = *self
            .by_path
            .get(rel)
            .ok_or_else(|| BundleError::NoSuchMember(rel.to_owned()))?;
        let e = self.entries[i].clone();
        if e.size > limit {
            return Err(BundleError::Damaged(format!(
                "{rel} claims {} bytes (limit {limit})",
                e.size
            )));
        }
        let Some(spans) = &self.frames else {
            self.r
                .seek(SeekFrom::Start(e.data_offset))
                .map_err(BundleError::io("reading the bundle"))?;
            let mut left = e.size;
            let mut buf = vec![0; (1 << 20).min(e.size as usize)];
            while left > 0 {
                let k = (left as usize).min(buf.len());
                self.r
                    .read_exact(&mut buf[..k])
                    .map_err(|_| BundleError::Damaged(format!("{rel} is truncated")))?;
                out(&buf[..k])?;
                left -= k as u64;
            }
            return Ok(e.size);
        };
        let (start, end) = (e.data_offset, e.data_offset + e.size);
        let first =
            spans.partition_point(|s| s.decompressed_at + u64::from(s.entry.decompressed) <= start);
        let mut written = 0u64;
        let mut decoder =
            zstd::bulk::Decompressor::new().map_err(BundleError::io("starting zstd"))?;
        for s in spans[first..]
            .iter()
            .take_while(|s| s.decompressed_at < end || e.size == 0)
        {
            if written == e.size {
                break;
            }
            let dsize = s.entry.decompressed as usize;
            let csize = s.entry.compressed as usize;
            if dsize > FRAME_LIMIT || csize > FRAME_LIMIT + (1 << 20) {
                return Err(BundleError::Damaged(
                    "a frame exceeds the size limit".into(),
                ));
            }
            let frame = read_at(&mut self.r, s.compressed_at, csize)?;
            if s.digest.is_some_and(|d| frames::frame_digest(&frame) != d) {
                return Err(BundleError::Damaged(format!(
                    "frame at offset {} differs from its digest in the index",
                    s.compressed_at
                )));
            }
            let mut content = Vec::with_capacity(dsize);
            decoder
                .decompress_to_buffer(&frame[..], &mut content)
                .map_err(|e| {
                    BundleError::Damaged(format!("frame at offset {}: {e}", s.compressed_at))
                })?;
            if content.len() != dsize
                || xxhash_rust::xxh64::xxh64(&content, 0) as u32 != s.entry.checksum
            {
                return Err(BundleError::Damaged(format!(
                    "frame at offset {} disagrees with the seek table",
                    s.compressed_at
                )));
            }
            let lo = start.saturating_sub(s.decompressed_at) as usize;
            let hi = ((end - s.decompressed_at) as usize).min(dsize);
            if lo < hi {
                out(&content[lo..hi])?;
                written += (hi - lo) as u64;
            }
        }
        if written != e.size {
            return Err(BundleError::Damaged(format!("{rel} is truncated")));
        }
        Ok(written)
    }

    fn read_small(&mut self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.copy_raw(rel, limit, &mut |b| {
            v.extend_from_slice(b);
            Ok(())
        })?;
        Ok(v)
    }

    /// The tag manifest, checked against the signature when a key is given.
    fn trusted_tagmanifest(&mut self, key: Option<&PublicKey>) -> Result<Vec<u8>> {
        let tm = self.read_small(layout::TAGMANIFEST_SHA256, 64 << 10)?;
        if let Some(key) = key {
            let sig = self.read_small(layout::SIGNATURE, 4 << 10)?;
            let sig = SignatureFile::parse(&sig)?;
            sig.verify(key, &tm)?;
            let id: BundleId = self
                .root
                .parse()
                .map_err(|_| BundleError::Damaged("the bag folder is not a bundle id".into()))?;
            let digest = ContentId(Sha256::digest(&tm).into());
            if sig.trusted_comment() != trusted_comment(&id, &digest) {
                return Err(BundleError::Damaged(
                    "the signature's trusted comment names another bundle".into(),
                ));
            }
        }
        Ok(tm)
    }

    fn listed_digest(text: &[u8], rel: &str) -> Option<String> {
        let text = std::str::from_utf8(text).ok()?;
        crate::bag::parse_manifest(text, 64)
            .ok()?
            .into_iter()
            .find(|(p, _)| p == rel)
            .map(|(_, d)| d)
    }

    /// Resolves a path (relative to the bag, or with the bundle-id folder) or a SHA-256 to a
    /// member path, and writes its content to `out` only after checking it against the
    /// manifest chain. Returns the path and digest.
    pub fn read_verified(
        &mut self,
        what: &str,
        key: Option<&PublicKey>,
        out: &mut dyn Write,
    ) -> Result<(String, ContentId)> {
        let tm = self.trusted_tagmanifest(key)?;
        let manifest = self.read_small(layout::MANIFEST_SHA256, 96 << 20)?;
        let manifest_digest = hex(&Sha256::digest(&manifest));
        if Self::listed_digest(&tm, layout::MANIFEST_SHA256).as_deref()
            != Some(manifest_digest.as_str())
        {
            return Err(BundleError::Damaged(
                "manifest-sha256.txt does not match the tag manifest".into(),
            ));
        }
        let prefix = format!("{}/", self.root);
        let (rel, expected) = if let Ok(id) = what.parse::<ContentId>() {
            let text = std::str::from_utf8(&manifest)
                .map_err(|_| BundleError::Damaged("manifest is not UTF-8".into()))?;
            let rows = crate::bag::parse_manifest(text, 64).map_err(BundleError::Damaged)?;
            let hexid = id.to_hex();
            let (path, _) = rows
                .into_iter()
                .find(|(_, d)| *d == hexid)
                .ok_or_else(|| BundleError::NoSuchMember(what.to_owned()))?;
            (path, hexid)
        } else {
            let rel = what.strip_prefix(&prefix).unwrap_or(what).to_owned();
            let listing = if layout::is_payload(&rel) {
                &manifest
            } else {
                &tm
            };
            let digest = if rel == layout::TAGMANIFEST_SHA256 {
                Some(hex(&Sha256::digest(&tm)))
            } else {
                Self::listed_digest(listing, &rel)
            };
            let digest = digest.ok_or_else(|| BundleError::NoSuchMember(rel.clone()))?;
            (rel, digest)
        };
        // Spool to a temporary file: nothing reaches `out` before the digest is checked.
        let mut spool =
            tempfile::tempfile().map_err(BundleError::io("creating a temporary file"))?;
        let mut h = Sha256::new();
        self.copy_raw(&rel, tar::MAX_MEMBER_SIZE, &mut |b| {
            h.update(b);
            spool
                .write_all(b)
                .map_err(BundleError::io("writing a temporary file"))
        })?;
        let got = hex(&h.finalize());
        if got != expected {
            return Err(BundleError::Damaged(format!(
                "{rel}: digest {got} does not match the manifest's {expected}"
            )));
        }
        spool
            .rewind()
            .map_err(BundleError::io("reading a temporary file"))?;
        io::copy(&mut spool, out).map_err(BundleError::io("writing the output"))?;
        let id: ContentId = expected
            .parse()
            .map_err(|_| BundleError::Damaged("bad digest".into()))?;
        Ok((rel, id))
    }

    /// Rows of the (verified) manifest: `(path, sha256)`.
    pub fn manifest(&mut self, key: Option<&PublicKey>) -> Result<Vec<(String, String)>> {
        self.verified_listing(layout::MANIFEST_SHA256, key)
    }

    /// Rows of the (verified) tag manifest, plus the tag manifest's own digest: `(path, sha256)`
    /// for every file the signature covers that is not payload.
    pub fn tag_manifest(&mut self, key: Option<&PublicKey>) -> Result<Vec<(String, String)>> {
        let mut rows = self.verified_listing(layout::TAGMANIFEST_SHA256, key)?;
        let tm = self.trusted_tagmanifest(key)?;
        rows.push((
            layout::TAGMANIFEST_SHA256.to_owned(),
            hex(&Sha256::digest(&tm)),
        ));
        Ok(rows)
    }

    fn verified_listing(
        &mut self,
        rel: &str,
        key: Option<&PublicKey>,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        self.read_verified(rel, key, &mut out)?;
        let text = String::from_utf8(out)
            .map_err(|_| BundleError::Damaged(format!("{rel} is not UTF-8")))?;
        crate::bag::parse_manifest(&text, 64).map_err(BundleError::Damaged)
    }
}
