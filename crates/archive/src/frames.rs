//! The zstd layer: data frames, the seek table and the member index.
//!
//! Bundles use the zstd *seekable format*: independent frames with content checksums, then a
//! skippable frame holding the member index (ours), then the seek table (a skippable frame
//! ending in the seekable footer, last in the file). Stock `zstd -d` skips both skippable
//! frames and yields the plain tar.
//!
//! Media are already compressed, so their frames are written as zstd *raw blocks*: a valid
//! frame that costs a copy and an XXH64, where squeezing JPEG or MP4 bytes would only spend CPU.
//! Text (JSON, manifests) goes through libzstd.

use xxhash_rust::xxh64::{Xxh64, xxh64};

pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;
pub const SEEK_TABLE_MAGIC: u32 = 0x184D_2A5E;
pub const SEEKABLE_FOOTER_MAGIC: u32 = 0x8F92_EAB1;
/// Our member index lives in this skippable frame (any 0x184D2A5? value is skippable).
pub const INDEX_MAGIC: u32 = 0x184D_2A5B;
pub const SEEK_FOOTER_LEN: usize = 9;
pub const SEEK_ENTRY_LEN: usize = 12;
/// Uncompressed bytes per data frame the writer produces: random access decompresses at most this.
pub const FRAME_TARGET: usize = 1 << 20;
/// The most a verifier or reader accepts per frame; anything claiming more is refused, not allocated.
pub const FRAME_LIMIT: usize = 8 << 20;
pub const BLOCK_MAX: usize = 128 << 10;
/// Header of the raw frames we write: magic, descriptor (single segment, 4-byte content size,
/// checksum), content size.
pub const RAW_HEADER_LEN: usize = 9;
const RAW_DESCRIPTOR: u8 = 0b1010_0100;
pub const TEXT_LEVEL: i32 = 3;

pub fn is_skippable(magic: u32) -> bool {
    magic & 0xFFFF_FFF0 == 0x184D_2A50
}

/// One row of the seek table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    pub compressed: u32,
    pub decompressed: u32,
    /// Low 32 bits of XXH64 of the decompressed bytes.
    pub checksum: u32,
}

/// Exact size of the raw frame for `len` content bytes.
pub fn raw_frame_len(len: usize) -> usize {
    let blocks = len.div_ceil(BLOCK_MAX).max(1);
    RAW_HEADER_LEN + blocks * 3 + len + 4
}

/// Appends a frame of raw blocks holding `content` to `out`.
pub fn write_raw_frame(content: &[u8], out: &mut Vec<u8>) -> FrameEntry {
    let start = out.len();
    out.reserve(raw_frame_len(content.len()));
    out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    out.push(RAW_DESCRIPTOR);
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    let mut chunks = content.chunks(BLOCK_MAX).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&block_header(true, 0));
    }
    while let Some(block) = chunks.next() {
        out.extend_from_slice(&block_header(chunks.peek().is_none(), block.len()));
        out.extend_from_slice(block);
    }
    let checksum = xxh64(content, 0) as u32;
    out.extend_from_slice(&checksum.to_le_bytes());
    FrameEntry {
        compressed: (out.len() - start) as u32,
        decompressed: content.len() as u32,
        checksum,
    }
}

fn block_header(last: bool, len: usize) -> [u8; 3] {
    let v = (len as u32) << 3 | u32::from(last);
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Compresses text-like content into one checksummed frame; falls back to raw blocks when
/// compression does not pay.
pub struct FrameEncoder {
    compressor: zstd::bulk::Compressor<'static>,
    scratch: Vec<u8>,
}

impl FrameEncoder {
    pub fn new() -> std::io::Result<Self> {
        let mut compressor = zstd::bulk::Compressor::new(TEXT_LEVEL)?;
        compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        compressor.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(true))?;
        Ok(FrameEncoder {
            compressor,
            scratch: Vec::new(),
        })
    }

    pub fn compressed(&mut self, content: &[u8], out: &mut Vec<u8>) -> std::io::Result<FrameEntry> {
        self.scratch.clear();
        self.scratch
            .reserve(zstd::zstd_safe::compress_bound(content.len()));
        self.compressor
            .compress_to_buffer(content, &mut self.scratch)?;
        if self.scratch.len() >= raw_frame_len(content.len()) {
            return Ok(write_raw_frame(content, out));
        }
        out.extend_from_slice(&self.scratch);
        Ok(FrameEntry {
            compressed: self.scratch.len() as u32,
            decompressed: content.len() as u32,
            checksum: xxh64(content, 0) as u32,
        })
    }
}

/// A skippable frame around `content`.
pub fn skippable_frame(magic: u32, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + content.len());
    out.extend_from_slice(&magic.to_le_bytes());
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(content);
    out
}

/// The seek table frame: one entry per frame before it (the index frame included, with zero
/// decompressed bytes), checksums on.
pub fn seek_table(entries: &[FrameEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * SEEK_ENTRY_LEN + SEEK_FOOTER_LEN);
    for e in entries {
        body.extend_from_slice(&e.compressed.to_le_bytes());
        body.extend_from_slice(&e.decompressed.to_le_bytes());
        body.extend_from_slice(&e.checksum.to_le_bytes());
    }
    body.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    body.push(0x80);
    body.extend_from_slice(&SEEKABLE_FOOTER_MAGIC.to_le_bytes());
    skippable_frame(SEEK_TABLE_MAGIC, &body)
}

/// The seek table entry of a skippable frame of `content_len` bytes.
pub fn skippable_entry(content_len: usize) -> FrameEntry {
    FrameEntry {
        compressed: (content_len + 8) as u32,
        decompressed: 0,
        checksum: xxh64(&[], 0) as u32,
    }
}

/// Reads the seekable footer: `(number of frames, whole seek-table frame length)`.
pub fn parse_footer(footer: &[u8; SEEK_FOOTER_LEN]) -> Result<(u32, u64), &'static str> {
    let n = u32::from_le_bytes(footer[0..4].try_into().expect("4 bytes"));
    if footer[4] != 0x80 {
        return Err("seek table descriptor must announce checksums and nothing else");
    }
    if u32::from_le_bytes(footer[5..9].try_into().expect("4 bytes")) != SEEKABLE_FOOTER_MAGIC {
        return Err("no seekable footer at the end of the file");
    }
    let len = 8 + u64::from(n) * SEEK_ENTRY_LEN as u64 + SEEK_FOOTER_LEN as u64;
    Ok((n, len))
}

/// Parses a whole seek-table frame (skippable header included) of a known length.
pub fn parse_seek_table(frame: &[u8]) -> Result<Vec<FrameEntry>, &'static str> {
    if frame.len() < 8 + SEEK_FOOTER_LEN {
        return Err("seek table too short");
    }
    let magic = u32::from_le_bytes(frame[0..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
    if magic != SEEK_TABLE_MAGIC || size as usize != frame.len() - 8 {
        return Err("seek table frame header does not match its footer");
    }
    let footer: &[u8; SEEK_FOOTER_LEN] = frame[frame.len() - SEEK_FOOTER_LEN..]
        .try_into()
        .expect("9 bytes");
    let (n, len) = parse_footer(footer)?;
    if len != frame.len() as u64 {
        return Err("seek table length does not match its frame count");
    }
    Ok(frame[8..8 + n as usize * SEEK_ENTRY_LEN]
        .chunks_exact(SEEK_ENTRY_LEN)
        .map(|c| FrameEntry {
            compressed: u32::from_le_bytes(c[0..4].try_into().expect("4 bytes")),
            decompressed: u32::from_le_bytes(c[4..8].try_into().expect("4 bytes")),
            checksum: u32::from_le_bytes(c[8..12].try_into().expect("4 bytes")),
        })
        .collect())
}

/// What a frame header says (RFC 8878, 3.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: usize,
    pub content_size: Option<u64>,
    pub checksum: bool,
    /// Bytes of history a decoder must keep: bounded by [`FRAME_LIMIT`] before anything else.
    pub window: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Need this many bytes in total to parse the header.
    Incomplete(usize),
    Invalid(&'static str),
}

/// Parses a zstd frame header at the start of `b` (magic included).
pub fn parse_frame_header(b: &[u8]) -> Result<FrameHeader, HeaderError> {
    if b.len() < 6 {
        return Err(HeaderError::Incomplete(6));
    }
    let fhd = b[4];
    let fcs_flag = fhd >> 6;
    let single = fhd & 0x20 != 0;
    if fhd & 0x08 != 0 {
        return Err(HeaderError::Invalid("reserved bit set in frame header"));
    }
    if fhd & 0x03 != 0 {
        return Err(HeaderError::Invalid("frame needs a dictionary"));
    }
    let fcs_len = match (fcs_flag, single) {
        (0, false) => 0,
        (0, true) => 1,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    let wd_len = usize::from(!single);
    let len = 5 + wd_len + fcs_len;
    if b.len() < len {
        return Err(HeaderError::Incomplete(len));
    }
    let mut window = 0u64;
    if !single {
        let wd = b[5];
        let exponent = u32::from(wd >> 3);
        let base = 1u64 << (10 + exponent);
        window = base + (base / 8) * u64::from(wd & 7);
    }
    let fcs_bytes = &b[5 + wd_len..len];
    let content_size = match fcs_len {
        0 => None,
        1 => Some(u64::from(fcs_bytes[0])),
        2 => Some(u64::from(u16::from_le_bytes([fcs_bytes[0], fcs_bytes[1]])) + 256),
        4 => Some(u64::from(u32::from_le_bytes(
            fcs_bytes.try_into().expect("4 bytes"),
        ))),
        _ => Some(u64::from_le_bytes(fcs_bytes.try_into().expect("8 bytes"))),
    };
    if single {
        window = content_size.unwrap_or(0);
    }
    Ok(FrameHeader {
        len,
        content_size,
        checksum: fhd & 0x04 != 0,
        window,
    })
}

/// Streaming XXH64 whose low 32 bits are a zstd content checksum.
pub struct FrameChecksum(Xxh64);

impl FrameChecksum {
    pub fn new() -> Self {
        FrameChecksum(Xxh64::new(0))
    }
    pub fn update(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    pub fn finish(&self) -> u32 {
        self.0.digest() as u32
    }
}

impl Default for FrameChecksum {
    fn default() -> Self {
        Self::new()
    }
}

/// One row of the member index: where a member's header and content start in the tar stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub header_offset: u64,
    pub data_offset: u64,
    pub size: u64,
    pub path: String,
}

pub const INDEX_FIRST_LINE: &str = "tawthiq-index 1";

/// The member index: where each member lies in the tar stream, and a digest of every data
/// frame's *compressed* bytes. The frame checksums of the zstd format cover decompressed
/// content only; a bit flipped in slack bits of a compressed block can decode to the same
/// content, and these digests make every stored byte count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Index {
    pub members: Vec<IndexEntry>,
    /// XXH3-64 of each data frame as stored, in file order; `None` for a frame of raw blocks
    /// only, every bit of which its content checksum and its structure already cover.
    pub frame_digests: Vec<Option<u64>>,
}

/// Is this (well-formed) frame made of raw blocks only? Such a frame has no slack bits: its
/// content checksum and its structure cover every bit, so the index records no digest for it.
pub fn is_all_raw(frame: &[u8]) -> bool {
    let Ok(h) = parse_frame_header(frame) else {
        return false;
    };
    let mut pos = h.len;
    while let Some(b) = frame.get(pos..pos + 3) {
        let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        if (v >> 1) & 3 != 0 {
            return false;
        }
        pos += 3 + (v >> 3) as usize;
        if v & 1 == 1 {
            return true;
        }
    }
    false
}

/// XXH3-64 of a frame's stored bytes, as the index records it (XXH3: several times faster than
/// XXH64, and this pass runs over every stored byte).
pub fn frame_digest(frame: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(frame)
}

/// The member part of the index (its first line included).
pub fn encode_index_members(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = format!("{INDEX_FIRST_LINE}\n").into_bytes();
    for e in entries {
        out.extend_from_slice(
            format!(
                "{} {} {} {}\n",
                e.header_offset, e.data_offset, e.size, e.path
            )
            .as_bytes(),
        );
    }
    out
}

/// The frame part of the index: `frames <n>` then, a line per frame, its 16-hex-digit digest
/// or `raw`.
pub fn encode_frame_digests(digests: &[Option<u64>]) -> Vec<u8> {
    let mut out = format!("frames {}\n", digests.len()).into_bytes();
    for d in digests {
        match d {
            Some(d) => out.extend_from_slice(format!("{d:016x}\n").as_bytes()),
            None => out.extend_from_slice(b"raw\n"),
        }
    }
    out
}

pub fn encode_index(entries: &[IndexEntry], frame_digests: &[Option<u64>]) -> Vec<u8> {
    let mut out = encode_index_members(entries);
    out.extend_from_slice(&encode_frame_digests(frame_digests));
    out
}

/// Parses an index. It is untrusted: anything read through it is checked against the manifest.
pub fn parse_index(b: &[u8]) -> Result<Index, &'static str> {
    let text = std::str::from_utf8(b).map_err(|_| "index is not UTF-8")?;
    let mut lines = text.split_terminator('\n');
    if lines.next() != Some(INDEX_FIRST_LINE) || !text.ends_with('\n') {
        return Err("index does not start with its version line");
    }
    let mut index = Index::default();
    let mut frames_expected = None;
    for line in lines {
        if let Some(n) = frames_expected {
            if index.frame_digests.len() == n {
                return Err("index has lines after its frame digests");
            }
            if line == "raw" {
                index.frame_digests.push(None);
                continue;
            }
            let ok =
                line.len() == 16 && line.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
            let d = u64::from_str_radix(line, 16)
                .ok()
                .filter(|_| ok)
                .ok_or("index frame digest is malformed")?;
            index.frame_digests.push(Some(d));
            continue;
        }
        if let Some(n) = line.strip_prefix("frames ") {
            let n: usize = n.parse().map_err(|_| "index frame count is malformed")?;
            index.frame_digests.reserve(n.min(1 << 20));
            frames_expected = Some(n);
            continue;
        }
        let mut f = line.splitn(4, ' ');
        let mut num = || f.next().and_then(|s| s.parse::<u64>().ok());
        let (Some(header_offset), Some(data_offset), Some(size)) = (num(), num(), num()) else {
            return Err("index line is malformed");
        };
        let path = f.next().ok_or("index line has no path")?.to_owned();
        index.members.push(IndexEntry {
            header_offset,
            data_offset,
            size,
            path,
        });
    }
    match frames_expected {
        Some(n) if n == index.frame_digests.len() => Ok(index),
        _ => Err("index frame digests are missing or incomplete"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_frames_decode_with_libzstd() {
        for len in [0, 1, BLOCK_MAX, BLOCK_MAX + 1, FRAME_TARGET] {
            let content: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            let e = write_raw_frame(&content, &mut out);
            assert_eq!(out.len(), raw_frame_len(len));
            assert_eq!(e.compressed as usize, out.len());
            let back = zstd::stream::decode_all(&out[..]).unwrap();
            assert_eq!(back, content);
            let h = parse_frame_header(&out).unwrap();
            assert_eq!(h.content_size, Some(len as u64));
            assert!(h.checksum);
        }
    }

    #[test]
    fn compressed_frames_carry_checksums_and_sizes() {
        let mut enc = FrameEncoder::new().unwrap();
        let text = "{\"text\":\"مدرسة الرياض\"}\n".repeat(1000);
        let mut out = Vec::new();
        let e = enc.compressed(text.as_bytes(), &mut out).unwrap();
        assert!((e.compressed as usize) < text.len() / 10);
        let h = parse_frame_header(&out).unwrap();
        assert!(h.checksum);
        assert_eq!(h.content_size, Some(text.len() as u64));
        assert_eq!(zstd::stream::decode_all(&out[..]).unwrap(), text.as_bytes());
    }

    #[test]
    fn seek_table_round_trips() {
        let entries = vec![
            FrameEntry {
                compressed: 10,
                decompressed: 20,
                checksum: 3,
            },
            skippable_entry(5),
        ];
        let frame = seek_table(&entries);
        let footer: [u8; SEEK_FOOTER_LEN] = frame[frame.len() - 9..].try_into().unwrap();
        assert_eq!(parse_footer(&footer).unwrap(), (2, frame.len() as u64));
        assert_eq!(parse_seek_table(&frame).unwrap(), entries);
    }

    #[test]
    fn index_round_trips() {
        let entries = vec![IndexEntry {
            header_offset: 0,
            data_offset: 512,
            size: 9,
            path: "b/data/a b.json".into(),
        }];
        let digests = vec![Some(1), None, Some(u64::MAX)];
        let index = parse_index(&encode_index(&entries, &digests)).unwrap();
        assert_eq!(index.members, entries);
        assert_eq!(index.frame_digests, digests);
        assert!(parse_index(&encode_index_members(&entries)).is_err());
        assert!(parse_index(b"nope\n").is_err());
    }
}
