//! The tar layer of verification: reads members from the chunk stream, checks every header
//! against the canonical encoding and every path against the bag's rules, sends payload
//! content to the hashing workers and keeps the (size-limited) tag files.

use std::collections::{HashMap, HashSet};
use std::io;

use model::BundleId;

use super::Findings;
use super::codes::Code;
use super::container::ChunkSource;
use super::hashing::HashPool;
use super::input::Chunk;
use crate::layout;
use crate::tar::{self, BLOCK, HeaderFault};

/// The verifier's limit on members: far above any account, far below what would exhaust memory.
pub const MEMBER_LIMIT: usize = 5_000_000;
const PAX_LIMIT: u64 = 64 << 10;

/// Tag files the verifier reads into memory, each with the most it accepts.
pub fn tag_limit(rel: &str) -> Option<u64> {
    Some(match rel {
        layout::BAGIT => 1 << 10,
        layout::BAG_INFO | layout::TAGMANIFEST_SHA256 | layout::TAGMANIFEST_SHA512 => 64 << 10,
        layout::MANIFEST_SHA256 | layout::MANIFEST_SHA512 => 96 << 20,
        layout::SIGNATURE => 4 << 10,
        layout::TIMESTAMP | layout::TSA_CHAIN => 1 << 20,
        _ => return None,
    })
}

pub struct Member {
    /// Path relative to the bag root.
    pub rel: String,
    pub size: u64,
    pub header_offset: u64,
    pub data_offset: u64,
}

#[derive(Default)]
pub struct Scan {
    pub root: Option<String>,
    pub bundle_id: Option<BundleId>,
    pub members: Vec<Member>,
    /// Indices (into `members`) of payload files sent for hashing.
    pub payload: Vec<usize>,
    pub tags: HashMap<String, Vec<u8>>,
    pub mtime: Option<u64>,
    /// False when a fatal finding stopped the scan: later checks would only add noise.
    pub complete: bool,
}

struct Cursor<'a, S> {
    src: &'a mut S,
    cur: Option<Chunk>,
    offset: u64,
}

impl<S: ChunkSource> Cursor<'_, S> {
    fn ensure(&mut self, f: &mut Findings) -> io::Result<bool> {
        while self.cur.as_ref().is_none_or(|c| c.range.is_empty()) {
            match self.src.next(f)? {
                Some(c) => self.cur = Some(c),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The stream ended early: a finding, unless the container stopped it on a fatal finding
    /// of its own (then the end is the verifier's, not the file's).
    fn truncated(&self, f: &mut Findings, msg: String, member: Option<String>) {
        if !self.src.failed() {
            f.add(Code::TarTruncated, msg, member);
        }
    }

    /// Reads up to `out.len()` bytes; returns how many (fewer only at the end).
    fn read(&mut self, f: &mut Findings, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.ensure(f)? {
            let c = self.cur.as_mut().expect("ensured");
            let k = (out.len() - n).min(c.range.len());
            out[n..n + k].copy_from_slice(&c.buf[c.range.start..c.range.start + k]);
            c.range.start += k;
            n += k;
        }
        self.offset += n as u64;
        Ok(n)
    }

    /// Passes the next `len` bytes to `each` as chunks; returns how many there were.
    fn take(
        &mut self,
        f: &mut Findings,
        len: u64,
        mut each: impl FnMut(&Chunk),
    ) -> io::Result<u64> {
        let mut left = len;
        while left > 0 && self.ensure(f)? {
            let c = self.cur.as_mut().expect("ensured");
            let k = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(c.range.len());
            let piece = Chunk {
                buf: c.buf.clone(),
                range: c.range.start..c.range.start + k,
            };
            c.range.start += k;
            left -= k as u64;
            each(&piece);
        }
        self.offset += len - left;
        Ok(len - left)
    }
}

/// What is wrong with a member path, if anything.
fn path_fault(path: &[u8]) -> Option<(Code, &'static str)> {
    if path.first() == Some(&b'/') {
        return Some((Code::PathAbsolute, "absolute path"));
    }
    if path.split(|&b| b == b'/').any(|c| c == b"..") {
        return Some((Code::PathDotDot, "'..' component"));
    }
    let unsafe_byte = path
        .iter()
        .any(|&b| !b.is_ascii() || b.is_ascii_control() || b == b'\\');
    let odd_component = path
        .split(|&b| b == b'/')
        .any(|c| c.is_empty() || c == b".");
    if unsafe_byte || odd_component || path.is_empty() {
        return Some((Code::PathUnsafe, "unsafe path"));
    }
    None
}

pub fn scan<S: ChunkSource>(
    src: &mut S,
    f: &mut Findings,
    pool: &mut HashPool,
    sha512: bool,
) -> io::Result<Scan> {
    let mut scan = Scan::default();
    let mut cur = Cursor {
        src,
        cur: None,
        offset: 0,
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut last_tail: Option<usize> = None;
    let mut block = [0u8; BLOCK];
    loop {
        let header_offset = cur.offset;
        let n = cur.read(f, &mut block)?;
        if n < BLOCK {
            cur.truncated(
                f,
                format!(
                    "the tar stream ends at offset {} without end-of-archive blocks",
                    header_offset + n as u64
                ),
                None,
            );
            return Ok(scan);
        }
        if tar::is_zero_block(&block) {
            check_end(&mut cur, f, header_offset)?;
            scan.complete = true;
            return Ok(scan);
        }
        let mut header_bytes = block.to_vec();
        let raw = match tar::parse_block(&block) {
            Ok(r) => r,
            Err(HeaderFault::Checksum) => {
                f.add(
                    Code::TarHeaderChecksum,
                    format!("tar header at offset {header_offset}"),
                    None,
                );
                return Ok(scan);
            }
            Err(HeaderFault::Format) => {
                f.add(
                    Code::TarHeaderFormat,
                    format!("tar header at offset {header_offset}"),
                    None,
                );
                return Ok(scan);
            }
        };
        let mut path = raw.path.clone();
        let mut raw = raw;
        match raw.typeflag {
            b'x' => {
                if raw.size > PAX_LIMIT {
                    f.add(
                        Code::PaxInvalid,
                        format!(
                            "pax header at offset {header_offset} claims {} bytes",
                            raw.size
                        ),
                        None,
                    );
                    return Ok(scan);
                }
                let mut records = vec![0u8; (raw.size as usize) + tar::padding(raw.size)];
                if cur.read(f, &mut records)? < records.len() || cur.read(f, &mut block)? < BLOCK {
                    cur.truncated(f, "the tar stream ends inside a pax header".into(), None);
                    return Ok(scan);
                }
                header_bytes.extend_from_slice(&records);
                header_bytes.extend_from_slice(&block);
                let mut pax_path = None;
                match tar::parse_pax(&records[..raw.size as usize]) {
                    Ok(recs) if recs.len() == 1 && recs[0].0 == "path" => {
                        pax_path = Some(recs[0].1.clone().into_bytes());
                    }
                    Ok(_) => {
                        f.add(
                            Code::PaxInvalid,
                            format!(
                                "pax header at offset {header_offset} has keys other than one path"
                            ),
                            None,
                        );
                    }
                    Err(e) => {
                        f.add(
                            Code::PaxInvalid,
                            format!("pax header at offset {header_offset}: {e}"),
                            None,
                        );
                        return Ok(scan);
                    }
                }
                raw = match tar::parse_block(&block) {
                    Ok(r) => r,
                    Err(fault) => {
                        let code = match fault {
                            HeaderFault::Checksum => Code::TarHeaderChecksum,
                            HeaderFault::Format => Code::TarHeaderFormat,
                        };
                        f.add(
                            code,
                            format!("tar header after the pax header at offset {header_offset}"),
                            None,
                        );
                        return Ok(scan);
                    }
                };
                // Without a usable path record, the member is named by its own header.
                path = pax_path.unwrap_or_else(|| raw.path.clone());
                if raw.typeflag != b'0' {
                    f.add(
                        Code::PaxInvalid,
                        "a pax header is followed by something other than a regular file".into(),
                        None,
                    );
                }
            }
            b'0' => {}
            other => {
                let (code, what) = match other {
                    b'1' => (Code::MemberLink, "hard link"),
                    b'2' => (Code::MemberLink, "symbolic link"),
                    b'3' | b'4' | b'6' => (Code::MemberDevice, "device or FIFO"),
                    b'g' => (Code::PaxGlobal, "pax global header"),
                    b'5' => (Code::MemberType, "directory"),
                    _ => (Code::MemberType, "member of an unsupported type"),
                };
                let shown = String::from_utf8_lossy(&path).into_owned();
                f.add(
                    code,
                    format!("{what} at offset {header_offset}"),
                    Some(shown),
                );
                // Skip its content (for links and devices, none), keeping sync with the stream.
                let skip = raw.size + tar::padding(raw.size) as u64;
                if cur.take(f, skip, |_| {})? < skip {
                    cur.truncated(f, "the tar stream ends inside a member".into(), None);
                    return Ok(scan);
                }
                continue;
            }
        }
        let shown = String::from_utf8_lossy(&path).into_owned();
        if let Some((code, why)) = path_fault(&path) {
            f.add(code, why.into(), Some(shown.clone()));
        }
        // Canonical bytes: header(s) exactly as our writer makes them, with the first mtime.
        let mtime = *scan.mtime.get_or_insert(raw.mtime);
        match tar::encode_header(&shown, raw.size, mtime) {
            Ok(expected) if expected == header_bytes => {}
            _ if raw.mtime != mtime => f.add(
                Code::MtimeMismatch,
                "members have different mtimes".into(),
                Some(shown.clone()),
            ),
            _ => f.add(
                Code::TarNonCanonical,
                format!("header at offset {header_offset}"),
                Some(shown.clone()),
            ),
        }
        let (top, rel) = shown.split_once('/').unwrap_or((shown.as_str(), ""));
        match &scan.root {
            None => {
                scan.root = Some(top.to_owned());
                scan.bundle_id = top.parse().ok();
                if scan.bundle_id.is_none() {
                    f.add(
                        Code::PathOutsideBag,
                        format!("top folder {top:?} is not a bundle id"),
                        Some(shown.clone()),
                    );
                }
            }
            Some(root) if root != top => f.add(
                Code::PathOutsideBag,
                "member outside the bag's top folder".into(),
                Some(shown.clone()),
            ),
            Some(_) => {}
        }
        if !seen.insert(shown.to_ascii_lowercase()) {
            f.add(
                Code::PathDuplicate,
                "duplicate member".into(),
                Some(shown.clone()),
            );
        }
        if scan.members.len() >= MEMBER_LIMIT {
            f.add(
                Code::TooManyMembers,
                format!("more than {MEMBER_LIMIT} members"),
                None,
            );
            return Ok(scan);
        }
        let tail = layout::TAIL.iter().position(|(p, _)| *p == rel);
        let payload = layout::is_payload(rel);
        match tail {
            Some(t) if last_tail.is_some_and(|l| l >= t) => f.add(
                Code::MemberOrder,
                "out of canonical order".into(),
                Some(shown.clone()),
            ),
            Some(t) => last_tail = Some(t),
            None if layout::is_original(rel) && last_tail.is_some() => {
                f.add(
                    Code::MemberOrder,
                    "an original after the capture log".into(),
                    Some(shown.clone()),
                );
            }
            None if layout::is_original(rel) => {}
            None => f.add(
                Code::UnknownMember,
                "no v1 bundle holds this file".into(),
                Some(shown.clone()),
            ),
        }
        let index = scan.members.len();
        let data_offset = cur.offset;
        scan.members.push(Member {
            rel: rel.to_owned(),
            size: raw.size,
            header_offset,
            data_offset,
        });
        let content = raw.size + tar::padding(raw.size) as u64;
        let got = if payload {
            scan.payload.push(index);
            pool.begin(index, sha512);
            let mut left = raw.size;
            let mut pad_ok = true;
            let got = cur.take(f, content, |c| {
                let k = usize::try_from(left).unwrap_or(usize::MAX).min(c.len());
                if k > 0 {
                    pool.data(&Chunk {
                        buf: c.buf.clone(),
                        range: c.range.start..c.range.start + k,
                    });
                }
                pad_ok &= c.bytes()[k..].iter().all(|&b| b == 0);
                left -= k as u64;
            })?;
            pool.end();
            if !pad_ok {
                f.add(
                    Code::TarNonCanonical,
                    "non-zero padding after the content".into(),
                    Some(shown.clone()),
                );
            }
            got
        } else if let Some(limit) = tag_limit(rel) {
            if raw.size > limit {
                f.add(
                    Code::MemberTooLarge,
                    format!("{} bytes (limit {limit})", raw.size),
                    Some(shown.clone()),
                );
                cur.take(f, content, |_| {})?
            } else {
                let mut bytes = vec![0u8; content as usize];
                let n = cur.read(f, &mut bytes)? as u64;
                if bytes[raw.size as usize..].iter().any(|&b| b != 0) {
                    f.add(
                        Code::TarNonCanonical,
                        "non-zero padding after the content".into(),
                        Some(shown.clone()),
                    );
                }
                bytes.truncate(raw.size as usize);
                scan.tags.insert(rel.to_owned(), bytes);
                n
            }
        } else {
            cur.take(f, content, |_| {})?
        };
        if got < content {
            cur.truncated(f, "the tar stream ends inside a member".into(), Some(shown));
            return Ok(scan);
        }
    }
}

/// After the first zero block: one more, then zeros to the record boundary, then nothing.
fn check_end<S: ChunkSource>(
    cur: &mut Cursor<'_, S>,
    f: &mut Findings,
    end_at: u64,
) -> io::Result<()> {
    let expected = tar::end_len(end_at) - BLOCK as u64;
    let mut nonzero = false;
    let rest = cur.take(f, u64::MAX, |c| {
        nonzero |= c.bytes().iter().any(|&b| b != 0);
    })?;
    if cur.src.failed() {
        // The container stopped the stream: only the bytes read can be judged.
        if nonzero {
            f.add(
                Code::TarEnd,
                "non-zero bytes after the end blocks".into(),
                None,
            );
        }
    } else if rest < BLOCK as u64 {
        cur.truncated(
            f,
            "the tar stream ends inside its end-of-archive blocks".into(),
            None,
        );
    } else if nonzero || rest != expected {
        f.add(
            Code::TarEnd,
            format!(
                "{rest} bytes after the first end block; the canonical end has {expected}, all zero"
            ),
            None,
        );
    }
    Ok(())
}
