//! Crafting damaged bundles for the tamper, hostile-member and fuzz tests: where each region of
//! a bundle lies (tar members, zstd frames, index, seek table), canonical re-emission of a tar
//! with only the intended defect, and re-wrapping a tar stream as a valid seekable `.tar.zst`.

use std::fmt::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use archive::bag::{self, BagInfo};
use archive::frames::{self, FRAME_TARGET, FrameEncoder, FrameEntry, IndexEntry};
use archive::layout;
use archive::tar::{self, BLOCK};
use archive::verify::{Code, Report};
use archive::{BundleWriter, Container};
use model::ContentId;
use sha2::{Digest, Sha256};

use crate::support::*;

/// One bundle in both containers, with the key that signed it.
pub struct Fixture {
    pub keys: Keys,
    pub tar: Vec<u8>,
    pub zst: Vec<u8>,
}

impl Fixture {
    pub fn verify(&self, bytes: &[u8]) -> Report {
        verify_bytes(bytes, &self.keys)
    }
    pub fn bytes(&self, c: Container) -> &[u8] {
        match c {
            Container::Tar => &self.tar,
            Container::TarZst => &self.zst,
        }
    }
}

fn build(fill: fn(&mut BundleWriter)) -> Fixture {
    let keys = keys();
    let mut out = [Vec::new(), Vec::new()];
    for (slot, c) in out.iter_mut().zip([Container::Tar, Container::TarZst]) {
        let dir = tmp();
        let mut w = BundleWriter::create(dir.path(), options(c)).unwrap();
        fill(&mut w);
        let p = w.finish(&keys.secret, None).unwrap();
        *slot = std::fs::read(&p.path).unwrap();
    }
    let [tar, zst] = out;
    Fixture { keys, tar, zst }
}

/// The support sample (Arabic JSON, images, a duplicate, a video over two frames), built once.
pub fn sample() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| build(fill_sample))
}

/// A few kilobytes: one JSON response, one small JPEG. Built once; for the property tests.
pub fn small() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        build(|w| {
            w.add_raw_response("users-me", "json", &mut ARABIC_POST.as_bytes(), None)
                .unwrap();
            let img = jpeg(9, 6000);
            w.add_media(None, &mut &img[..], None).unwrap();
            w.set_completeness(model::Completeness {
                statement: "small".into(),
                ..Default::default()
            });
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Assertions

/// The report is invalid and carries every code in `expected`.
#[track_caller]
pub fn assert_codes(r: &Report, expected: &[Code]) {
    assert!(!r.valid, "reported valid: {:#?}", r.findings);
    for c in expected {
        assert!(
            r.has(*c),
            "expected {} ({c:?}), got {:?}: {:#?}",
            c.as_str(),
            codes(r),
            r.findings
        );
    }
}

/// The report is invalid and its error codes are exactly `expected`: nothing misleading besides.
#[track_caller]
pub fn assert_only(r: &Report, expected: &[Code]) {
    assert_codes(r, expected);
    let mut got: Vec<&str> = codes(r);
    got.sort_unstable();
    got.dedup();
    let mut want: Vec<&str> = expected.iter().map(|c| c.as_str()).collect();
    want.sort_unstable();
    want.dedup();
    assert_eq!(got, want, "{:#?}", r.findings);
}

/// Runs the verifier on `bytes` and checks it finished within `limit`.
#[track_caller]
pub fn verify_quickly(fx: &Fixture, bytes: &[u8], limit: Duration) -> Report {
    let t = Instant::now();
    let r = fx.verify(bytes);
    assert!(
        t.elapsed() < limit,
        "verification took {:?}: {:?}",
        t.elapsed(),
        codes(&r)
    );
    r
}

// ---------------------------------------------------------------------------------------------
// Byte edits

pub fn flipped(bytes: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= mask;
    v
}

pub fn with_u32(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at..at + 4].copy_from_slice(&value.to_le_bytes());
    v
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Offset of the first occurrence of `needle` in `hay` at or after `from`.
pub fn find(hay: &[u8], from: usize, needle: &[u8]) -> usize {
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map_or_else(
            || panic!("{:?} not found", String::from_utf8_lossy(needle)),
            |p| from + p,
        )
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().fold(String::new(), |mut s, x| {
        write!(s, "{x:02x}").unwrap();
        s
    })
}

// ---------------------------------------------------------------------------------------------
// The plain tar: where members lie

#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the bag root.
    pub rel: String,
    pub header_offset: usize,
    pub data_offset: usize,
    pub size: usize,
}

#[derive(Debug, Clone)]
pub struct TarMap {
    pub entries: Vec<Entry>,
    /// Offset of the first end-of-archive block.
    pub end: usize,
}

impl TarMap {
    pub fn get(&self, rel: &str) -> &Entry {
        self.entries
            .iter()
            .find(|e| e.rel == rel)
            .unwrap_or_else(|| panic!("no member {rel}"))
    }
    /// The first member whose path starts with `prefix`.
    pub fn first(&self, prefix: &str) -> &Entry {
        self.entries
            .iter()
            .find(|e| e.rel.starts_with(prefix))
            .unwrap_or_else(|| panic!("no member under {prefix}"))
    }
}

/// Maps a canonical tar (regular files and pax path headers only).
pub fn tar_map(t: &[u8]) -> TarMap {
    let mut at = 0;
    let mut entries = Vec::new();
    loop {
        let block: &[u8; BLOCK] = t[at..at + BLOCK].try_into().unwrap();
        if tar::is_zero_block(block) {
            break;
        }
        let header_offset = at;
        let mut raw = tar::parse_block(block).expect("a readable header");
        let mut path = String::from_utf8(raw.path.clone()).unwrap();
        at += BLOCK;
        if raw.typeflag == b'x' {
            let n = raw.size as usize;
            let recs = tar::parse_pax(&t[at..at + n]).unwrap();
            path.clone_from(&recs[0].1);
            at += n + tar::padding(n as u64);
            raw = tar::parse_block(t[at..at + BLOCK].try_into().unwrap()).unwrap();
            at += BLOCK;
        }
        let (_, rel) = path.split_once('/').unwrap();
        entries.push(Entry {
            rel: rel.to_owned(),
            header_offset,
            data_offset: at,
            size: raw.size as usize,
        });
        at += raw.size as usize + tar::padding(raw.size);
    }
    TarMap { entries, end: at }
}

// ---------------------------------------------------------------------------------------------
// Rebuilding a tar member by member

#[derive(Debug, Clone)]
pub struct Member {
    pub rel: String,
    pub data: Vec<u8>,
}

/// The members of a canonical tar, in order.
pub fn unpack(t: &[u8]) -> Vec<Member> {
    tar_map(t)
        .entries
        .into_iter()
        .map(|e| Member {
            data: t[e.data_offset..e.data_offset + e.size].to_vec(),
            rel: e.rel,
        })
        .collect()
}

/// Appends one canonical member (`<root>/<rel>`) to a tar stream.
pub fn push_member(out: &mut Vec<u8>, rel: &str, data: &[u8]) {
    let path = format!("{}/{rel}", bundle_id());
    out.extend_from_slice(&tar::encode_header(&path, data.len() as u64, mtime()).unwrap());
    out.extend_from_slice(data);
    out.resize(out.len() + tar::padding(data.len() as u64), 0);
}

/// Appends the canonical end of archive.
pub fn close(out: &mut Vec<u8>) {
    out.resize(out.len() + tar::end_len(out.len() as u64) as usize, 0);
}

/// Re-emits members as a canonical tar: byte-identical to the writer's for unchanged members.
pub fn pack(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        push_member(&mut out, &m.rel, &m.data);
    }
    close(&mut out);
    out
}

/// The mtime of every member of the samples: midnight UTC of the capture day.
pub fn mtime() -> u64 {
    bag::mtime_of(bundle_id().capture_start.date())
}

/// Unpacks, edits and re-packs a tar.
pub fn rebuild(t: &[u8], edit: impl FnOnce(&mut Vec<Member>)) -> Vec<u8> {
    let mut ms = unpack(t);
    edit(&mut ms);
    pack(&ms)
}

/// Re-packs a tar with `raw` bytes (hostile headers and content) inserted before member `before`.
pub fn insert_raw(t: &[u8], before: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in unpack(t) {
        if m.rel == before {
            out.extend_from_slice(raw);
        }
        push_member(&mut out, &m.rel, &m.data);
    }
    close(&mut out);
    out
}

pub fn member<'a>(ms: &'a mut [Member], rel: &str) -> &'a mut Member {
    ms.iter_mut()
        .find(|m| m.rel == rel)
        .unwrap_or_else(|| panic!("no member {rel}"))
}

pub fn position(ms: &[Member], rel: &str) -> usize {
    ms.iter()
        .position(|m| m.rel == rel)
        .unwrap_or_else(|| panic!("no member {rel}"))
}

/// Rewrites `manifest-sha256.txt` to list the payload members as they now are.
pub fn fix_manifest(ms: &mut [Member]) {
    let text = bag::render_manifest(
        ms.iter()
            .filter(|m| layout::is_payload(&m.rel))
            .map(|m| (m.rel.as_str(), sha256_hex(&m.data))),
    );
    member(ms, layout::MANIFEST_SHA256).data = text.into_bytes();
}

/// Rewrites Payload-Oxum in `bag-info.txt`.
pub fn fix_oxum(ms: &mut [Member]) {
    let payload: Vec<&Member> = ms.iter().filter(|m| layout::is_payload(&m.rel)).collect();
    let (files, bytes) = (
        payload.len() as u64,
        payload.iter().map(|m| m.data.len() as u64).sum(),
    );
    let info = member(ms, layout::BAG_INFO);
    let mut parsed = BagInfo::parse(std::str::from_utf8(&info.data).unwrap()).unwrap();
    parsed.payload_files = files;
    parsed.payload_bytes = bytes;
    info.data = parsed.render().into_bytes();
}

/// Rewrites `tagmanifest-sha256.txt` over the tag files as they now are.
pub fn fix_tagmanifest(ms: &mut [Member]) {
    let listed = [layout::BAGIT, layout::BAG_INFO, layout::MANIFEST_SHA256];
    let text = bag::render_manifest(
        ms.iter()
            .filter(|m| listed.contains(&m.rel.as_str()))
            .map(|m| (m.rel.as_str(), sha256_hex(&m.data))),
    );
    member(ms, layout::TAGMANIFEST_SHA256).data = text.into_bytes();
}

/// Signs the tag manifest (as it now is) with `keys`, with the writer's trusted comment.
pub fn resign(ms: &mut [Member], keys: &Keys) {
    let tm = member(ms, layout::TAGMANIFEST_SHA256).data.clone();
    let digest = ContentId(Sha256::digest(&tm).into());
    let comment = archive::trusted_comment(&bundle_id(), &digest);
    member(ms, layout::SIGNATURE).data = keys.secret.sign(&tm, &comment);
}

/// Makes the bag consistent again around an intended payload defect: Payload-Oxum, tag
/// manifest and signature (the payload manifest is left alone).
pub fn reseal(ms: &mut [Member], keys: &Keys) {
    fix_oxum(ms);
    fix_tagmanifest(ms);
    resign(ms, keys);
}

// ---------------------------------------------------------------------------------------------
// The seekable zstd container: where frames lie

#[derive(Debug, Clone, Copy)]
pub struct ZFrame {
    /// Offset of the frame in the file.
    pub offset: usize,
    pub entry: FrameEntry,
    /// Offset in the tar stream of its first decompressed byte.
    pub tar_offset: u64,
}

impl ZFrame {
    pub fn len(&self) -> usize {
        self.entry.compressed as usize
    }
    pub fn end(&self) -> usize {
        self.offset + self.len()
    }
}

#[derive(Debug, Clone)]
pub struct ZMap {
    /// Data frames, in file order.
    pub data: Vec<ZFrame>,
    /// The index frame.
    pub index: ZFrame,
    /// Offset of the seek table frame (it runs to the end of the file).
    pub seek_table: usize,
}

/// Maps a bundle through its seek table (footer, then table), as a random-access reader would.
pub fn zst_map(z: &[u8]) -> ZMap {
    let footer: [u8; frames::SEEK_FOOTER_LEN] =
        z[z.len() - frames::SEEK_FOOTER_LEN..].try_into().unwrap();
    let (_, table_len) = frames::parse_footer(&footer).unwrap();
    let seek_table = z.len() - table_len as usize;
    let entries = frames::parse_seek_table(&z[seek_table..]).unwrap();
    let (mut offset, mut tar_offset) = (0, 0);
    let mut all: Vec<ZFrame> = entries
        .into_iter()
        .map(|entry| {
            let f = ZFrame {
                offset,
                entry,
                tar_offset,
            };
            offset += entry.compressed as usize;
            tar_offset += u64::from(entry.decompressed);
            f
        })
        .collect();
    assert_eq!(offset, seek_table, "the seek table adds up");
    let index = all.pop().unwrap();
    assert_eq!(u32_at(z, index.offset), frames::INDEX_MAGIC);
    ZMap {
        data: all,
        index,
        seek_table,
    }
}

/// Is the frame at `offset` one of raw blocks, as the writer makes them for media?
pub fn is_raw_frame(z: &[u8], offset: usize) -> bool {
    u32_at(z, offset) == frames::ZSTD_MAGIC && z[offset + 4] == 0b1010_0100
}

impl ZMap {
    /// The data frame holding byte `tar_pos` of the tar stream.
    pub fn frame_at(&self, tar_pos: usize) -> &ZFrame {
        let p = tar_pos as u64;
        self.data
            .iter()
            .find(|f| f.tar_offset <= p && p < f.tar_offset + u64::from(f.entry.decompressed))
            .unwrap_or_else(|| panic!("no frame holds tar offset {tar_pos}"))
    }

    /// Where byte `tar_pos` of the tar stream lies in the file, if its frame is of raw blocks.
    pub fn raw_pos(&self, z: &[u8], tar_pos: usize) -> Option<usize> {
        let f = self.frame_at(tar_pos);
        if !is_raw_frame(z, f.offset) {
            return None;
        }
        let within = tar_pos - f.tar_offset as usize;
        let block = within / frames::BLOCK_MAX;
        Some(f.offset + frames::RAW_HEADER_LEN + 3 * (block + 1) + within)
    }

    /// The first data frame of compressed (not raw) blocks.
    pub fn first_compressed(&self, z: &[u8]) -> ZFrame {
        *self
            .data
            .iter()
            .find(|f| !is_raw_frame(z, f.offset))
            .expect("a compressed frame")
    }

    /// The first data frame of raw blocks.
    pub fn first_raw(&self, z: &[u8]) -> ZFrame {
        *self
            .data
            .iter()
            .find(|f| is_raw_frame(z, f.offset))
            .expect("a raw frame")
    }
}

/// Wraps a canonical tar as a valid seekable `.tar.zst` (frames of [`FRAME_TARGET`] bytes; raw
/// blocks throughout if `raw`, else compressed like the writer's text), with its member index
/// and seek table.
pub fn to_zst(t: &[u8], raw: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut entries = Vec::new();
    let mut enc = FrameEncoder::new().unwrap();
    let mut digests = Vec::new();
    for chunk in t.chunks(FRAME_TARGET) {
        let start = out.len();
        entries.push(if raw {
            frames::write_raw_frame(chunk, &mut out)
        } else {
            enc.compressed(chunk, &mut out).unwrap()
        });
        let stored = &out[start..];
        digests.push((!frames::is_all_raw(stored)).then(|| frames::frame_digest(stored)));
    }
    let index = frames::encode_index(&index_of(t), &digests);
    out.extend_from_slice(&frames::skippable_frame(frames::INDEX_MAGIC, &index));
    entries.push(frames::skippable_entry(index.len()));
    out.extend_from_slice(&frames::seek_table(&entries));
    out
}

/// The member index of a tar: its regular files (pax paths applied), in order. Lenient, for
/// hostile tars too: other members are skipped, and it stops where headers stop making sense.
pub fn index_of(t: &[u8]) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let skip = |at: usize, size: u64| {
        at.saturating_add((size as usize).saturating_add(tar::padding(size)))
    };
    while at + BLOCK <= t.len() {
        let block: &[u8; BLOCK] = t[at..at + BLOCK].try_into().unwrap();
        if tar::is_zero_block(block) {
            break;
        }
        let Ok(mut raw) = tar::parse_block(block) else {
            break;
        };
        let header_offset = at as u64;
        let mut path = String::from_utf8_lossy(&raw.path).into_owned();
        at += BLOCK;
        if raw.typeflag == b'x' {
            let n = raw.size as usize;
            if at + n > t.len() {
                break;
            }
            if let Some((_, p)) = tar::parse_pax(&t[at..at + n])
                .ok()
                .and_then(|recs| recs.into_iter().find(|(k, _)| k == "path"))
            {
                path = p;
            }
            at = skip(at, raw.size);
            if at + BLOCK > t.len() {
                break;
            }
            let Ok(r) = tar::parse_block(t[at..at + BLOCK].try_into().unwrap()) else {
                break;
            };
            raw = r;
            at += BLOCK;
        } else if raw.typeflag != b'0' {
            at = skip(at, raw.size);
            continue;
        }
        out.push(IndexEntry {
            header_offset,
            data_offset: at as u64,
            size: raw.size,
            path,
        });
        at = skip(at, raw.size);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Hostile headers

/// Recomputes a header block's checksum in the canonical layout.
pub fn fix_checksum(block: &mut [u8]) {
    let b: &mut [u8; BLOCK] = (&mut block[..BLOCK]).try_into().unwrap();
    let sum = tar::checksum(b);
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A ustar header as a hostile archiver might write it: any name bytes, any type,
/// any size (twelve octal digits without a NUL when eleven do not suffice), a link target, a
/// valid checksum; the other fields as the writer sets them.
pub fn hostile_header(name: &[u8], size: u64, typeflag: u8, link: &[u8]) -> Vec<u8> {
    let mut h = tar::encode_header("x", 0, mtime()).unwrap();
    h[..100].fill(0);
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        // Over `prefix` and `name`, split at a '/' as ustar does.
        let cut = (0..name.len())
            .find(|&i| name[i] == b'/' && i <= 155 && name.len() - i - 1 <= 100)
            .expect("a path ustar can hold");
        h[345..345 + cut].copy_from_slice(&name[..cut]);
        h[..name.len() - cut - 1].copy_from_slice(&name[cut + 1..]);
    }
    let digits = if size > tar::MAX_MEMBER_SIZE { 12 } else { 11 };
    let text = format!("{size:0digits$o}");
    h[124..136].fill(0);
    h[124..124 + text.len()].copy_from_slice(text.as_bytes());
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link);
    fix_checksum(&mut h);
    h
}

/// A hostile member: header, content, padding.
pub fn hostile_member(name: &[u8], typeflag: u8, link: &[u8], content: &[u8]) -> Vec<u8> {
    let mut out = hostile_header(name, content.len() as u64, typeflag, link);
    out.extend_from_slice(content);
    out.resize(out.len() + tar::padding(content.len() as u64), 0);
    out
}

/// `<root>/<rel>` as bytes.
pub fn full(rel: &str) -> Vec<u8> {
    format!("{}/{rel}", bundle_id()).into_bytes()
}
