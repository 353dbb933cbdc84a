//! Where a bundle's bytes go while it is written, and how it is published.
//!
//! [`AtomicFile`] writes to a hidden temporary name in the destination directory and publishes
//! with fsync, a no-clobber link to the final name, and an fsync of the directory: a crash or
//! an error at any point leaves nothing under the final name. Dropping it unpublished removes
//! the temporary file.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
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

pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
    published: bool,
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
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&temp)
            .or_else(|e| {
                // A leftover from a killed run of the same process id: it was never published.
                if e.kind() == io::ErrorKind::AlreadyExists {
                    std::fs::remove_file(&temp)?;
                    OpenOptions::new()
                        .write(true)
                        .read(true)
                        .create_new(true)
                        .open(&temp)
                } else {
                    Err(e)
                }
            })?;
        Ok(AtomicFile {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
            published: false,
        })
    }

    fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is open until publish")
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
        Write::write_all(self.file(), bytes)
    }
    fn write_all_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self.file(), bytes, offset)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let f = self.file();
        f.set_len(len)?;
        f.seek(SeekFrom::Start(len)).map(|_| ())
    }
    fn sync_handle(&self) -> Option<File> {
        self.file.as_ref().and_then(|f| f.try_clone().ok())
    }
    fn publish(mut self: Box<Self>) -> io::Result<PathBuf> {
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
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
