//! The container layer of verification: turns a seekable-zstd file (or a plain tar) into
//! chunks of tar stream, checking every frame, the index frame and the seek table on the way.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

use xxhash_rust::xxh64::Xxh64;

use super::Findings;
use super::codes::Code;
use super::input::{BUF_LEN, Chunk, Input};
use crate::frames::{self, BLOCK_MAX, FRAME_LIMIT, FrameEntry, HeaderError};

/// Largest member index accepted (about 200 bytes a member).
pub const INDEX_LIMIT: usize = 256 << 20;

/// Yields the tar stream as chunks; `None` at its end (or after a fatal finding).
pub trait ChunkSource {
    fn next(&mut self, f: &mut Findings) -> io::Result<Option<Chunk>>;
    /// The member index, when the container has one.
    fn index(&self) -> Option<&[u8]>;
    /// Called after the tar layer is done: checks what only the end of the file can show.
    fn finish(&mut self, f: &mut Findings) -> io::Result<()>;
    /// Stopped on a fatal finding of its own: the tar stream ends there, not in the file.
    fn failed(&self) -> bool;
}

/// Plain tar: the file itself, in buffer-sized chunks.
pub struct TarSource {
    input: Input,
}

impl TarSource {
    pub fn new(input: Input) -> Self {
        TarSource { input }
    }
}

impl ChunkSource for TarSource {
    fn next(&mut self, _f: &mut Findings) -> io::Result<Option<Chunk>> {
        self.input.next_chunk()
    }
    fn index(&self) -> Option<&[u8]> {
        None
    }
    fn finish(&mut self, _f: &mut Findings) -> io::Result<()> {
        Ok(())
    }
    fn failed(&self) -> bool {
        false
    }
}

pub struct ZstdSource {
    input: Input,
    queue: VecDeque<Chunk>,
    frames: Vec<FrameEntry>,
    /// XXH3-64 of each data frame as stored: compared with the index's frame digests.
    frame_digests: Vec<Option<u64>>,
    index: Option<Vec<u8>>,
    seek_table_seen: bool,
    stopped: bool,
    /// Stopped on a fatal finding: what the layers above see missing is not missing from the file.
    failed: bool,
    decoder: zstd::bulk::Decompressor<'static>,
}

impl ZstdSource {
    /// Digests of the data frames read so far, as stored.
    pub fn frame_digests(&self) -> &[Option<u64>] {
        &self.frame_digests
    }

    pub fn new(input: Input) -> io::Result<Self> {
        Ok(ZstdSource {
            input,
            queue: VecDeque::new(),
            frames: Vec::new(),
            frame_digests: Vec::new(),
            index: None,
            seek_table_seen: false,
            stopped: false,
            failed: false,
            decoder: zstd::bulk::Decompressor::new()?,
        })
    }

    fn stop(&mut self, f: &mut Findings, code: Code, msg: String) {
        f.add(code, msg, None);
        self.stopped = true;
        self.failed = true;
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
    }

    /// Reads the next frame; queues its content, if any.
    fn frame(&mut self, f: &mut Findings) -> io::Result<()> {
        let at = self.input.offset();
        let got = self.input.fill(8)?;
        if got == 0 {
            self.stopped = true;
            if !self.seek_table_seen {
                f.add(
                    Code::SeekTableMissing,
                    "the file ends without a seek table".into(),
                    None,
                );
            }
            return Ok(());
        }
        if self.seek_table_seen {
            self.stop(
                f,
                Code::TrailingData,
                format!("{got}+ bytes after the seek table at offset {at}"),
            );
            return Ok(());
        }
        if got < 4 {
            self.stop(
                f,
                Code::ZstdTruncated,
                format!("the file ends inside a frame magic at offset {at}"),
            );
            return Ok(());
        }
        let magic = Self::u32_at(self.input.peek(), 0);
        if magic == frames::ZSTD_MAGIC {
            if self.index.is_some() {
                self.stop(
                    f,
                    Code::UnexpectedSkippable,
                    format!("a data frame follows the index frame at offset {at}"),
                );
                return Ok(());
            }
            return self.data_frame(f, at);
        }
        if !frames::is_skippable(magic) {
            let code = if at == 0 {
                Code::NotABundle
            } else {
                Code::ZstdFrameHeader
            };
            self.stop(
                f,
                code,
                format!("no zstd frame at offset {at} (magic {magic:#010x})"),
            );
            return Ok(());
        }
        if got < 8 {
            self.stop(
                f,
                Code::ZstdTruncated,
                format!("the file ends inside a skippable frame header at offset {at}"),
            );
            return Ok(());
        }
        let size = Self::u32_at(self.input.peek(), 4) as usize;
        self.input.consume(8);
        match magic {
            frames::INDEX_MAGIC => {
                if self.index.is_some() {
                    self.stop(
                        f,
                        Code::IndexMismatch,
                        format!("a second index frame at offset {at}"),
                    );
                    return Ok(());
                }
                if size > INDEX_LIMIT {
                    self.stop(
                        f,
                        Code::IndexMismatch,
                        format!("index frame claims {size} bytes (limit {INDEX_LIMIT})"),
                    );
                    return Ok(());
                }
                let Some(body) = self.input.read_vec(size)? else {
                    self.stop(
                        f,
                        Code::ZstdTruncated,
                        "the file ends inside the index frame".into(),
                    );
                    return Ok(());
                };
                self.frames.push(frames::skippable_entry(size));
                self.index = Some(body);
            }
            frames::SEEK_TABLE_MAGIC => self.seek_table(f, size)?,
            _ => {
                f.add(
                    Code::UnexpectedSkippable,
                    format!("unknown skippable frame {magic:#010x} at offset {at}"),
                    None,
                );
                self.frames.push(frames::skippable_entry(size));
                if !self.input.skip(size as u64)? {
                    self.stop(
                        f,
                        Code::ZstdTruncated,
                        "the file ends inside a skippable frame".into(),
                    );
                }
            }
        }
        Ok(())
    }

    fn seek_table(&mut self, f: &mut Findings, size: usize) -> io::Result<()> {
        self.seek_table_seen = true;
        let expected = self.frames.len() * frames::SEEK_ENTRY_LEN + frames::SEEK_FOOTER_LEN;
        if self.index.is_none() {
            f.add(
                Code::IndexMissing,
                "no index frame before the seek table".into(),
                None,
            );
        }
        if size != expected {
            // Never read a size we have not checked; the table cannot match anyway.
            self.stop(
                f,
                Code::SeekTableMismatch,
                format!(
                    "seek table is {size} bytes; {} frames need {expected}",
                    self.frames.len()
                ),
            );
            return Ok(());
        }
        let Some(body) = self.input.read_vec(size)? else {
            self.stop(
                f,
                Code::ZstdTruncated,
                "the file ends inside the seek table".into(),
            );
            return Ok(());
        };
        let mut whole = Vec::with_capacity(size + 8);
        whole.extend_from_slice(&frames::SEEK_TABLE_MAGIC.to_le_bytes());
        whole.extend_from_slice(&(size as u32).to_le_bytes());
        whole.extend_from_slice(&body);
        match frames::parse_seek_table(&whole) {
            Err(e) => f.add(Code::SeekTableInvalid, e.into(), None),
            Ok(entries) if entries != self.frames => {
                let first = entries
                    .iter()
                    .zip(&self.frames)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                f.add(
                    Code::SeekTableMismatch,
                    format!("seek table entry {first} disagrees with the frame in the file"),
                    None,
                );
            }
            Ok(_) => {}
        }
        Ok(())
    }

    fn data_frame(&mut self, f: &mut Findings, at: u64) -> io::Result<()> {
        let avail = self.input.fill(18)?;
        let header = match frames::parse_frame_header(&self.input.peek()[..avail]) {
            Ok(h) => h,
            Err(HeaderError::Incomplete(_)) => {
                self.stop(
                    f,
                    Code::ZstdTruncated,
                    format!("the file ends inside a frame header at offset {at}"),
                );
                return Ok(());
            }
            Err(HeaderError::Invalid(why)) => {
                self.stop(
                    f,
                    Code::ZstdFrameHeader,
                    format!("{why} (frame at offset {at})"),
                );
                return Ok(());
            }
        };
        // A decoder ignores this bit: flipping it would change the file but not its content.
        if self.input.peek()[4] & 0x10 != 0 {
            self.stop(
                f,
                Code::ZstdFrameHeader,
                format!("unused bit set in the header of frame at offset {at}"),
            );
            return Ok(());
        }
        if header.window > FRAME_LIMIT as u64
            || header.content_size.is_some_and(|s| s > FRAME_LIMIT as u64)
        {
            self.stop(
                f,
                Code::ZstdFrameTooLarge,
                format!(
                    "frame at offset {at} claims {} bytes",
                    header.content_size.unwrap_or(header.window)
                ),
            );
            return Ok(());
        }
        if !header.checksum {
            f.add(
                Code::ZstdNoChecksum,
                format!("frame at offset {at} has no content checksum"),
                None,
            );
        }
        // Walk the blocks to find the frame's end; all within one buffer.
        let mut pos = header.len;
        let mut raw_ranges = Vec::new();
        let mut all_raw = true;
        let mut regenerated = 0usize;
        let block_max = BLOCK_MAX.min(usize::try_from(header.window).unwrap_or(BLOCK_MAX).max(1));
        loop {
            let mut b = [0u8; 3];
            if !self.input.peek_at(pos, &mut b)? {
                self.stop(
                    f,
                    Code::ZstdTruncated,
                    format!("the file ends inside frame at offset {at}"),
                );
                return Ok(());
            }
            let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
            let last = v & 1 == 1;
            let kind = (v >> 1) & 3;
            let size = (v >> 3) as usize;
            let stored = match kind {
                0 | 2 => size,
                1 => 1,
                _ => {
                    self.stop(
                        f,
                        Code::ZstdBlock,
                        format!("reserved block type in frame at offset {at}"),
                    );
                    return Ok(());
                }
            };
            if size > block_max {
                self.stop(
                    f,
                    Code::ZstdBlock,
                    format!("block of {size} bytes exceeds {block_max} in frame at offset {at}"),
                );
                return Ok(());
            }
            if kind == 0 {
                raw_ranges.push(pos + 3..pos + 3 + size);
                regenerated += size;
            } else {
                all_raw = false;
            }
            pos += 3 + stored;
            if pos + 4 > BUF_LEN || regenerated > FRAME_LIMIT {
                self.stop(
                    f,
                    Code::ZstdFrameTooLarge,
                    format!("frame at offset {at} exceeds the 8 MiB limit"),
                );
                return Ok(());
            }
            if !self.input.has(pos)? {
                self.stop(
                    f,
                    Code::ZstdTruncated,
                    format!("the file ends inside frame at offset {at}"),
                );
                return Ok(());
            }
            if last {
                break;
            }
        }
        let frame_len = pos + if header.checksum { 4 } else { 0 };
        if self.input.fill(frame_len)? < frame_len {
            self.stop(
                f,
                Code::ZstdTruncated,
                format!("the file ends inside the checksum of frame at offset {at}"),
            );
            return Ok(());
        }
        let stored_sum = header
            .checksum
            .then(|| Self::u32_at(self.input.peek(), pos));
        let entry = if all_raw {
            let mut x = Xxh64::new(0);
            for r in &raw_ranges {
                x.update(&self.input.peek()[r.clone()]);
            }
            let sum = x.digest() as u32;
            if stored_sum.is_some_and(|s| s != sum) {
                f.add(
                    Code::ZstdChecksum,
                    format!("frame at offset {at}: content checksum mismatch"),
                    None,
                );
            }
            if header.content_size.is_some_and(|s| s != regenerated as u64) {
                f.add(
                    Code::ZstdFrameHeader,
                    format!("frame at offset {at}: content size disagrees with its blocks"),
                    None,
                );
            }
            for r in raw_ranges.into_iter().filter(|r| !r.is_empty()) {
                self.queue.push_back(self.input.chunk(r));
            }
            FrameEntry {
                compressed: frame_len as u32,
                decompressed: regenerated as u32,
                checksum: stored_sum.unwrap_or(sum),
            }
        } else {
            let mut out = Vec::with_capacity(FRAME_LIMIT);
            if let Err(e) = self
                .decoder
                .decompress_to_buffer(&self.input.peek()[..frame_len], &mut out)
            {
                let code = if e.to_string().contains("checksum") {
                    Code::ZstdChecksum
                } else if e.to_string().contains("too small") {
                    // Decoded past FRAME_LIMIT: the output buffer's capacity.
                    Code::ZstdFrameTooLarge
                } else {
                    Code::ZstdCorrupt
                };
                self.stop(f, code, format!("frame at offset {at}: {e}"));
                return Ok(());
            }
            let sum = xxhash_rust::xxh64::xxh64(&out, 0) as u32;
            let n = out.len();
            if n > 0 {
                self.queue.push_back(Chunk {
                    buf: Arc::new(out),
                    range: 0..n,
                });
            }
            FrameEntry {
                compressed: frame_len as u32,
                decompressed: n as u32,
                checksum: stored_sum.unwrap_or(sum),
            }
        };
        self.frames.push(entry);
        // Raw-block frames need no digest: their checksum and structure cover every bit.
        self.frame_digests
            .push((!all_raw).then(|| frames::frame_digest(&self.input.peek()[..frame_len])));
        self.input.consume(frame_len);
        Ok(())
    }
}

impl ChunkSource for ZstdSource {
    fn next(&mut self, f: &mut Findings) -> io::Result<Option<Chunk>> {
        loop {
            if let Some(c) = self.queue.pop_front() {
                return Ok(Some(c));
            }
            if self.stopped {
                return Ok(None);
            }
            self.frame(f)?;
        }
    }

    fn index(&self) -> Option<&[u8]> {
        self.index.as_deref()
    }

    fn failed(&self) -> bool {
        self.failed
    }

    fn finish(&mut self, f: &mut Findings) -> io::Result<()> {
        // The tar layer reads to the end of the file unless a fatal finding stopped it: then
        // the rest of the tar stream is dropped unread, its frames, the index and the seek
        // table still checked.
        while !self.stopped {
            self.queue.clear();
            self.frame(f)?;
        }
        self.queue.clear();
        if self.index.is_none() && (self.seek_table_seen || self.failed) {
            // Already reported as IndexMissing when the seek table was read, or never reached.
        } else if self.index.is_none() {
            f.add(
                Code::IndexMissing,
                "the bundle has no index frame".into(),
                None,
            );
        }
        Ok(())
    }
}
