//! Buffered input for the verifier: large write-once buffers shared (by `Arc`) with the
//! hashing threads, so content is never copied after it is read.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use crate::frames::FRAME_LIMIT;

/// Every zstd frame we accept fits in one buffer.
pub const BUF_LEN: usize = FRAME_LIMIT + (1 << 20);

/// A stretch of decompressed tar stream.
#[derive(Clone)]
pub struct Chunk {
    pub buf: Arc<Vec<u8>>,
    pub range: Range<usize>,
}

impl Chunk {
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
    pub fn len(&self) -> usize {
        self.range.len()
    }
}

pub struct Input<R> {
    r: R,
    buf: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Offset in the input of `buf[pos]`.
    offset: u64,
    spare: Vec<Arc<Vec<u8>>>,
}

impl<R: Read> Input<R> {
    pub fn new(r: R) -> Self {
        Input {
            r,
            buf: Arc::new(Vec::new()),
            pos: 0,
            end: 0,
            eof: false,
            offset: 0,
            spare: Vec::new(),
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes `n` (at most [`BUF_LEN`]) bytes available; returns how many are (fewer only at EOF).
    pub fn fill(&mut self, n: usize) -> io::Result<usize> {
        debug_assert!(n <= BUF_LEN);
        if self.end - self.pos >= n || self.eof {
            return Ok((self.end - self.pos).min(n));
        }
        // Buffers are write-once (hashing threads may hold the current one): move the unread
        // tail to a fresh buffer and fill that.
        let mut fresh = self.take_spare();
        let tail = self.end - self.pos;
        {
            let v = Arc::get_mut(&mut fresh).expect("spare buffers are unshared");
            v[..tail].copy_from_slice(&self.buf[self.pos..self.end]);
            let mut end = tail;
            while end < BUF_LEN {
                match self.r.read(&mut v[end..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(k) => end += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.end = end;
        }
        let old = std::mem::replace(&mut self.buf, fresh);
        if !old.is_empty() && self.spare.len() < 4 {
            self.spare.push(old);
        }
        self.pos = 0;
        Ok(self.end.min(n))
    }

    fn take_spare(&mut self) -> Arc<Vec<u8>> {
        if let Some(i) = self
            .spare
            .iter_mut()
            .position(|b| Arc::get_mut(b).is_some())
        {
            return self.spare.swap_remove(i);
        }
        Arc::new(vec![0; BUF_LEN])
    }

    /// The available bytes from the current position (call `fill` first).
    pub fn peek(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        debug_assert!(self.pos + n <= self.end);
        self.pos += n;
        self.offset += n as u64;
    }

    /// A chunk of `range` relative to the current position (must be available).
    pub fn chunk(&self, range: Range<usize>) -> Chunk {
        Chunk {
            buf: Arc::clone(&self.buf),
            range: self.pos + range.start..self.pos + range.end,
        }
    }

    /// Reads `n` bytes into a new vector, in pieces (for skippable frames larger than a buffer).
    /// The caller has checked `n` against its limit.
    pub fn read_vec(&mut self, n: usize) -> io::Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = (n - out.len()).min(BUF_LEN);
            let got = self.fill(want)?;
            if got == 0 {
                return Ok(None);
            }
            out.extend_from_slice(&self.peek()[..got]);
            self.consume(got);
        }
        Ok(Some(out))
    }

    /// Discards `n` bytes; returns false at a premature end.
    pub fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        while n > 0 {
            let want = usize::try_from(n).unwrap_or(BUF_LEN).min(BUF_LEN);
            let got = self.fill(want)?;
            if got == 0 {
                return Ok(false);
            }
            self.consume(got);
            n -= got as u64;
        }
        Ok(true)
    }
}
