//! Buffered input for the verifier. A reader thread fills large buffers ahead of the parser, so
//! copying from the page cache (or waiting for the disk) overlaps with decoding and hashing.
//! Buffers are shared (by `Arc`) with the hashing threads: content is never copied after it is
//! read, except where a zstd frame straddles two buffers and its start is joined to its end.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, bounded};

use crate::frames::FRAME_LIMIT;

/// The most one `fill` may ask for: every zstd frame we accept fits.
pub const BUF_LEN: usize = FRAME_LIMIT + (1 << 20);
/// Bytes the reader thread reads per buffer.
const READ_LEN: usize = 8 << 20;
/// Buffers read ahead.
const AHEAD: usize = 3;

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

type Pool = Arc<Mutex<Vec<Arc<Vec<u8>>>>>;

pub struct Input {
    rx: Receiver<io::Result<Arc<Vec<u8>>>>,
    /// Unread data, in order: (buffer, start, end).
    segs: VecDeque<(Arc<Vec<u8>>, usize, usize)>,
    eof: bool,
    /// Offset in the input of the first unread byte.
    offset: u64,
    /// Read buffers to reuse once nothing else holds them.
    pool: Pool,
}

impl Input {
    /// Starts the reader thread inside `scope`.
    pub fn start<'scope, R: Read + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        mut r: R,
    ) -> Input {
        let (tx, rx) = bounded(AHEAD);
        let pool: Pool = Arc::default();
        let reader_pool = Arc::clone(&pool);
        scope.spawn(move || {
            loop {
                let mut buf = take_unshared(&reader_pool)
                    .unwrap_or_else(|| Arc::new(Vec::with_capacity(READ_LEN)));
                let v = Arc::get_mut(&mut buf).expect("unshared");
                v.clear();
                match (&mut r).take(READ_LEN as u64).read_to_end(v) {
                    Ok(0) => return,
                    Ok(_) => {
                        if tx.send(Ok(buf)).is_err() {
                            return; // the verifier stopped early
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        Input {
            rx,
            segs: VecDeque::new(),
            eof: false,
            offset: 0,
            pool,
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn available(&self) -> usize {
        self.segs.iter().map(|(_, s, e)| e - s).sum()
    }

    fn receive_until(&mut self, n: usize) -> io::Result<()> {
        while !self.eof && self.available() < n {
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    let len = b.len();
                    self.segs.push_back((b, 0, len));
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.eof = true,
            }
        }
        Ok(())
    }

    /// Makes `n` (at most [`BUF_LEN`]) contiguous bytes available at the current position;
    /// returns how many are (fewer only at the end of the input).
    pub fn fill(&mut self, n: usize) -> io::Result<usize> {
        debug_assert!(n <= BUF_LEN);
        let front = self.segs.front().map_or(0, |(_, s, e)| e - s);
        if front >= n {
            return Ok(n);
        }
        self.receive_until(n)?;
        let total = self.available();
        if self.segs.len() <= 1 {
            return Ok(total.min(n));
        }
        // Join the start of the next buffer(s) to the end of this one. Callers that walk a
        // frame first (`has`, `peek_at`) join it exactly once, whole.
        let want = total.min(n);
        let mut joined = Vec::with_capacity(want);
        while joined.len() < want {
            let (b, s, e) = self.segs.front_mut().expect("enough data");
            let k = (*e - *s).min(want - joined.len());
            joined.extend_from_slice(&b[*s..*s + k]);
            *s += k;
            if s == e {
                self.pop_front();
            }
        }
        self.segs.push_front((Arc::new(joined), 0, want));
        Ok(want.min(n))
    }

    /// Are `n` bytes available from the current position (contiguous or not)?
    pub fn has(&mut self, n: usize) -> io::Result<bool> {
        self.receive_until(n)?;
        Ok(self.available() >= n)
    }

    /// Copies the bytes at `at..at + out.len()` from the current position, across buffers;
    /// false if the input ends first.
    pub fn peek_at(&mut self, at: usize, out: &mut [u8]) -> io::Result<bool> {
        if !self.has(at + out.len())? {
            return Ok(false);
        }
        let (mut skip, mut n) = (at, 0);
        for (b, s, e) in &self.segs {
            let len = e - s;
            if skip >= len {
                skip -= len;
                continue;
            }
            let k = (len - skip).min(out.len() - n);
            out[n..n + k].copy_from_slice(&b[s + skip..s + skip + k]);
            n += k;
            skip = 0;
            if n == out.len() {
                break;
            }
        }
        Ok(true)
    }

    fn pop_front(&mut self) {
        if let Some((b, _, _)) = self.segs.pop_front()
            && b.capacity() >= READ_LEN
            && let Ok(mut pool) = self.pool.lock()
            && pool.len() < 2 * AHEAD
        {
            pool.push(b);
        }
    }

    /// The contiguous bytes available at the current position (call `fill` first).
    pub fn peek(&self) -> &[u8] {
        self.segs.front().map_or(&[], |(b, s, e)| &b[*s..*e])
    }

    pub fn consume(&mut self, n: usize) {
        let (_, s, e) = self.segs.front_mut().expect("consume after fill");
        debug_assert!(*s + n <= *e);
        *s += n;
        if s == e {
            self.pop_front();
        }
        self.offset += n as u64;
    }

    /// A chunk of `range` relative to the current position (must be available).
    pub fn chunk(&self, range: Range<usize>) -> Chunk {
        let (b, s, _) = self.segs.front().expect("chunk after fill");
        Chunk {
            buf: Arc::clone(b),
            range: s + range.start..s + range.end,
        }
    }

    /// Reads `n` bytes into a new vector, in pieces (for skippable frames larger than a buffer).
    /// The caller has checked `n` against its limit.
    pub fn read_vec(&mut self, n: usize) -> io::Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.fill(1)? == 0 {
                return Ok(None);
            }
            let k = self.peek().len().min(n - out.len());
            out.extend_from_slice(&self.peek()[..k]);
            self.consume(k);
        }
        Ok(Some(out))
    }

    /// Discards `n` bytes; returns false at a premature end.
    pub fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        while n > 0 {
            if self.fill(1)? == 0 {
                return Ok(false);
            }
            let k = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.peek().len());
            self.consume(k);
            n -= k as u64;
        }
        Ok(true)
    }

    /// Everything available now as one chunk (for the plain tar container, which needs no
    /// joining); `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.fill(1)? == 0 {
            return Ok(None);
        }
        let n = self.peek().len();
        let c = self.chunk(0..n);
        self.consume(n);
        Ok(Some(c))
    }
}

fn take_unshared(pool: &Pool) -> Option<Arc<Vec<u8>>> {
    let mut pool = pool.lock().ok()?;
    let i = pool.iter_mut().position(|b| Arc::get_mut(b).is_some())?;
    Some(pool.swap_remove(i))
}
