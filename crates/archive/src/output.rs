//! Where a bundle's bytes go while it is written, and how it is published.
//!
//! [`AtomicFile`] writes to a hidden temporary name in the destination directory and publishes
//! with fsync, a no-clobber link to the final name, and an fsync of the directory: a crash or
//! an error at any point leaves nothing under the final name. Dropping it unpublished removes
//! the temporary file.
//!
//! Where the filesystem allows it, the bulk of the bytes is written with `O_DIRECT` from one
//! reused, aligned staging buffer: the disk reads them straight from our memory, instead of the
//! kernel copying every byte into freshly allocated page-cache pages (the dominant cost of
//! buffered writing, measured in `bench/`). Small patches and the unaligned tail go through an
//! ordinary descriptor of the same file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A random-access byte sink that can be published once. The writer calls it from one
/// background thread.
pub trait Output: Send {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn write_all_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()>;
    /// Cuts the output back to `len` bytes; later writes continue from there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// A second handle on which another thread may call `sync_data` to push data to disk early.
    fn sync_handle(&self) -> Option<File>;
    /// Makes the bytes durable and visible under the final name.
    fn publish(self: Box<Self>) -> io::Result<PathBuf>;
}

/// Direct I/O needs offsets, lengths and buffer addresses aligned to the device's block size;
/// 4096 covers every common one.
const ALIGN: usize = 4096;
const STAGE: usize = 8 << 20;

/// Bytes waiting to be written with `O_DIRECT`, in an aligned window of a plain vector (no
/// unsafe code: the window starts where the vector's memory reaches an aligned address).
struct Stage {
    direct: File,
    mem: Vec<u8>,
    start: usize,
    len: usize,
    /// File bytes already written directly: always a multiple of `ALIGN`.
    flushed: u64,
}

impl Stage {
    fn new(direct: File) -> Stage {
        let mem = vec![0u8; STAGE + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        Stage {
            direct,
            mem,
            start,
            len: 0,
            flushed: 0,
        }
    }

    fn buf(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + STAGE]
    }

    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let k = (STAGE - self.len).min(bytes.len());
            let at = self.len;
            self.buf()[at..at + k].copy_from_slice(&bytes[..k]);
            self.len += k;
            bytes = &bytes[k..];
            if self.len == STAGE {
                self.write_full()?;
            }
        }
        Ok(())
    }

    /// Writes the aligned part of the stage; keeps the unaligned rest at its front.
    fn write_full(&mut self) -> io::Result<()> {
        let aligned = self.len / ALIGN * ALIGN;
        if aligned == 0 {
            return Ok(());
        }
        let (start, flushed) = (self.start, self.flushed);
        self.direct
            .write_all_at(&self.mem[start..start + aligned], flushed)?;
        self.flushed += aligned as u64;
        self.mem
            .copy_within(start + aligned..start + self.len, start);
        self.len -= aligned;
        Ok(())
    }
}

pub struct AtomicFile {
    file: Option<File>,
    stage: Option<Stage>,
    /// Logical length when no stage is used (buffered writes append at this offset).
    len: u64,
    temp: PathBuf,
    target: PathBuf,
    published: bool,
}

fn open_new(path: &Path, direct: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).read(true).create_new(true);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

impl AtomicFile {
    /// Refuses to start when `target` exists: evidence is never overwritten.
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        if target.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", target.display()),
            ));
        }
        let dir = parent(target);
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "output has no file name")
        })?;
        let temp = dir.join(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = open_new(&temp, false).or_else(|e| {
            // A leftover from a killed run of the same process id: it was never published.
            if e.kind() == io::ErrorKind::AlreadyExists {
                std::fs::remove_file(&temp)?;
                open_new(&temp, false)
            } else {
                Err(e)
            }
        })?;
        // A second descriptor with O_DIRECT where the filesystem supports it (not tmpfs).
        let stage = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(&temp)
            .ok()
            .map(Stage::new);
        Ok(AtomicFile {
            file: Some(file),
            stage,
            len: 0,
            temp,
            target: target.to_path_buf(),
            published: false,
        })
    }

    fn file(&self) -> &File {
        self.file.as_ref().expect("file is open until publish")
    }

    /// Writes whatever is staged (the last block padded, then cut back) through the plain
    /// descriptor, so the file holds exactly the logical bytes.
    fn drain_stage(&mut self) -> io::Result<()> {
        let Some(stage) = &mut self.stage else {
            return Ok(());
        };
        stage.write_full()?;
        let (start, len, flushed) = (stage.start, stage.len, stage.flushed);
        let tail = stage.mem[start..start + len].to_vec();
        stage.len = 0;
        self.file().write_all_at(&tail, flushed)?;
        self.file().set_len(flushed + len as u64)
    }
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Output for AtomicFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(stage) = &mut self.stage {
            return stage.push(bytes);
        }
        let at = self.len;
        self.file().write_all_at(bytes, at)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn write_all_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let Some(stage) = &mut self.stage else {
            return self.file().write_all_at(bytes, offset);
        };
        // The part still in the stage is patched in memory; the part already on disk through
        // the plain descriptor (the kernel keeps the two views coherent).
        let flushed = stage.flushed;
        let end = offset + bytes.len() as u64;
        if end > flushed {
            let from = offset.max(flushed);
            let src = &bytes[(from - offset) as usize..];
            let at = (from - flushed) as usize;
            stage.buf()[at..at + src.len()].copy_from_slice(src);
        }
        if offset < flushed {
            let n = (flushed.min(end) - offset) as usize;
            self.file().write_all_at(&bytes[..n], offset)?;
        }
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let Some(stage) = &mut self.stage else {
            self.file().set_len(len)?;
            self.len = len;
            return Ok(());
        };
        if len >= stage.flushed {
            stage.len = (len - stage.flushed) as usize;
            return Ok(());
        }
        // Cut into what is on disk: keep the aligned part there, bring the rest back.
        let keep = len / ALIGN as u64 * ALIGN as u64;
        let rest = (len - keep) as usize;
        let mut back = vec![0u8; rest];
        self.file().read_exact_at(&mut back, keep)?;
        self.file().set_len(keep)?;
        let stage = self.stage.as_mut().expect("checked above");
        stage.flushed = keep;
        stage.len = rest;
        stage.buf()[..rest].copy_from_slice(&back);
        Ok(())
    }

    fn sync_handle(&self) -> Option<File> {
        self.file.as_ref().and_then(|f| f.try_clone().ok())
    }

    fn publish(mut self: Box<Self>) -> io::Result<PathBuf> {
        self.drain_stage()?;
        self.stage = None;
        let file = self.file.take().expect("published once");
        file.sync_all()?;
        drop(file);
        // link() fails if the target exists, unlike rename(): no evidence is ever replaced.
        std::fs::hard_link(&self.temp, &self.target)?;
        self.published = true;
        let _ = std::fs::remove_file(&self.temp);
        File::open(parent(&self.target))?.sync_all()?;
        Ok(self.target.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.published {
            self.stage = None;
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
