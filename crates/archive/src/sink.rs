//! The container layer of the writer, on its own thread: turns stretches of the tar stream
//! into zstd frames (or plain tar bytes), writes them, patches reserved headers, keeps the seek
//! table, and pushes data to disk as it goes so the final fsync is short.
//!
//! The caller's thread reads and hashes; this thread frames, compresses, checksums and writes.

use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::frames::{self, FrameEncoder, FrameEntry};
use crate::output::Output;

/// How a stretch of the tar stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Worth compressing (JSON, text, tar headers).
    Text,
    /// Already compressed (JPEG, MP4, …): stored as raw blocks.
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Seekable zstd with an index: the default.
    TarZst,
    /// Plain tar.
    Tar,
}

enum Command {
    Data(Vec<u8>, Mode),
    /// Reserve `len` bytes of tar stream (a header whose content is not known yet) in a frame of
    /// their own. Only one reservation is open at a time.
    Reserve(usize),
    /// Fill the open reservation (same length).
    Patch(Vec<u8>),
    /// Drop everything from the open reservation on.
    Rollback,
    Finish(Vec<u8>, Sender<io::Result<Vec<FrameEntry>>>),
}

pub struct Sink {
    tx: Option<Sender<Command>>,
    /// Frame buffers come back here once written, so the writer reuses warm memory instead of
    /// faulting in fresh pages for every megabyte.
    recycled: Receiver<Vec<u8>>,
    /// The first error of the output thread, so the caller stops early (a full disk should not
    /// let a capture download gigabytes more before failing).
    failure: Arc<Mutex<Option<(io::ErrorKind, String)>>>,
    thread: Option<JoinHandle<Box<dyn Output>>>,
}

/// Bytes written between early syncs.
const SYNC_EVERY: u64 = 64 << 20;

struct State {
    out: Box<dyn Output>,
    container: Container,
    encoder: FrameEncoder,
    frames: Vec<FrameEntry>,
    /// Digest of each data frame's stored bytes, for the index.
    frame_digests: Vec<Option<u64>>,
    pos: u64,
    reserved: Option<(u64, usize)>,
    frame_buf: Vec<u8>,
    unsynced: u64,
    flusher: Option<Sender<()>>,
    failure: Arc<Mutex<Option<(io::ErrorKind, String)>>>,
    recycle: Sender<Vec<u8>>,
}

impl Sink {
    pub fn start(out: Box<dyn Output>, container: Container) -> io::Result<Sink> {
        let encoder = FrameEncoder::new()?;
        let (recycle_tx, recycled) = bounded(16);
        let flusher = out.sync_handle().map(start_flusher);
        let mut state = State {
            out,
            container,
            encoder,
            frames: Vec::new(),
            frame_digests: Vec::new(),
            pos: 0,
            reserved: None,
            frame_buf: Vec::with_capacity(frames::FRAME_TARGET + 4096),
            unsynced: 0,
            flusher,
            failure: Arc::default(),
            recycle: recycle_tx,
        };
        let failure = Arc::clone(&state.failure);
        // A few frames in flight: enough to keep both threads busy, little memory.
        let (tx, rx) = bounded::<Command>(8);
        let thread = std::thread::Builder::new()
            .name("bundle-sink".into())
            .spawn(move || {
                state.run(&rx);
                state.out
            })?;
        Ok(Sink {
            tx: Some(tx),
            recycled,
            failure,
            thread: Some(thread),
        })
    }

    fn send(&self, c: Command) -> io::Result<()> {
        if let Some((kind, msg)) = self.failure.lock().ok().and_then(|f| f.clone()) {
            return Err(io::Error::new(kind, msg));
        }
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(c).ok())
            .ok_or_else(|| io::Error::other("bundle output stopped after an earlier error"))
    }

    pub fn data(&self, bytes: Vec<u8>, mode: Mode) -> io::Result<()> {
        self.send(Command::Data(bytes, mode))
    }

    /// An empty buffer with room for a frame: a recycled one when there is one.
    pub fn buffer(&self) -> Vec<u8> {
        match self.recycled.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(frames::FRAME_TARGET),
        }
    }
    pub fn reserve(&self, len: usize) -> io::Result<()> {
        self.send(Command::Reserve(len))
    }
    pub fn patch(&self, bytes: Vec<u8>) -> io::Result<()> {
        self.send(Command::Patch(bytes))
    }
    pub fn rollback(&self) -> io::Result<()> {
        self.send(Command::Rollback)
    }

    /// Writes the index (zstd container only: `index` holds its member part, this adds the frame
    /// digests), the seek table, and returns the output for publishing, with the frames written.
    pub fn finish(mut self, index: Vec<u8>) -> io::Result<(Box<dyn Output>, Vec<FrameEntry>)> {
        let (reply_tx, reply_rx) = bounded(1);
        self.send(Command::Finish(index, reply_tx))?;
        let result = reply_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("bundle output thread stopped")));
        drop(self.tx.take());
        let thread = self.thread.take().expect("joined once");
        let out = thread
            .join()
            .map_err(|_| io::Error::other("bundle output thread panicked"))?;
        // On error `out` is dropped here, which removes the unpublished temporary file.
        Ok((out, result?))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_flusher(file: File) -> Sender<()> {
    let (tx, rx) = bounded::<()>(1);
    let _ = std::thread::Builder::new()
        .name("bundle-flush".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Errors surface again at the final fsync, which is what decides publishing.
                let _ = file.sync_data();
            }
        });
    tx
}

impl State {
    fn run(&mut self, rx: &Receiver<Command>) {
        let mut failed: Option<io::Error> = None;
        while let Ok(cmd) = rx.recv() {
            if let Command::Finish(index, reply) = cmd {
                let result = match failed.take() {
                    Some(e) => Err(e),
                    None => self
                        .finish(&index)
                        .map(|()| std::mem::take(&mut self.frames)),
                };
                let _ = reply.send(result);
                break;
            }
            if failed.is_none()
                && let Err(e) = self.apply(cmd)
            {
                if let Ok(mut slot) = self.failure.lock() {
                    *slot = Some((e.kind(), e.to_string()));
                }
                failed = Some(e);
            }
        }
    }

    fn apply(&mut self, cmd: Command) -> io::Result<()> {
        match cmd {
            Command::Data(bytes, mode) => {
                let r = self.write_data(&bytes, mode);
                if bytes.capacity() >= frames::FRAME_TARGET {
                    let _ = self.recycle.try_send(bytes);
                }
                r
            }
            Command::Reserve(len) => {
                self.reserved = Some((self.pos, self.frames.len()));
                self.write_data(&vec![0; len], Mode::Raw)
            }
            Command::Patch(bytes) => {
                let (offset, frame) = self
                    .reserved
                    .take()
                    .ok_or_else(|| io::Error::other("patch without a reservation"))?;
                match self.container {
                    Container::Tar => self.out.write_all_at(&bytes, offset),
                    Container::TarZst => {
                        self.frame_buf.clear();
                        let entry = frames::write_raw_frame(&bytes, &mut self.frame_buf);
                        self.frames[frame] = entry;
                        self.frame_digests[frame] = None; // raw blocks
                        self.out.write_all_at(&self.frame_buf, offset)
                    }
                }
            }
            Command::Rollback => {
                let (offset, frame) = self
                    .reserved
                    .take()
                    .ok_or_else(|| io::Error::other("rollback without a reservation"))?;
                self.frames.truncate(frame);
                self.frame_digests.truncate(frame);
                self.pos = offset;
                self.out.truncate(offset)
            }
            Command::Finish(..) => unreachable!("handled by run"),
        }
    }

    fn write_data(&mut self, bytes: &[u8], mode: Mode) -> io::Result<()> {
        match self.container {
            Container::Tar => self.write_out_of(bytes),
            Container::TarZst => {
                for chunk in bytes.chunks(frames::FRAME_TARGET) {
                    let mut buf = std::mem::take(&mut self.frame_buf);
                    buf.clear();
                    let entry = match mode {
                        Mode::Raw => frames::write_raw_frame(chunk, &mut buf),
                        Mode::Text => self.encoder.compressed(chunk, &mut buf)?,
                    };
                    self.frames.push(entry);
                    // Raw-block frames need no digest: their checksum covers every bit.
                    let raw = mode == Mode::Raw || frames::is_all_raw(&buf);
                    self.frame_digests
                        .push((!raw).then(|| frames::frame_digest(&buf)));
                    let r = self.write_out_of(&buf);
                    self.frame_buf = buf;
                    r?;
                }
                Ok(())
            }
        }
    }

    fn write_out_of(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            if let Some(f) = &self.flusher {
                let _ = f.try_send(());
            }
        }
        Ok(())
    }

    fn finish(&mut self, index: &[u8]) -> io::Result<()> {
        self.flusher = None;
        if self.container == Container::TarZst {
            let mut index = index.to_vec();
            index.extend_from_slice(&frames::encode_frame_digests(&self.frame_digests));
            let frame = frames::skippable_frame(frames::INDEX_MAGIC, &index);
            self.out.write_all(&frame)?;
            self.frames.push(frames::skippable_entry(index.len()));
            let table = frames::seek_table(&self.frames);
            self.out.write_all(&table)?;
        }
        Ok(())
    }
}
