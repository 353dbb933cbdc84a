//! Reads the files to pack on a thread of their own, ahead of the bundle writer, so copying
//! from the page cache (and waiting for the disk) overlaps with hashing and writing.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use crossbeam_channel::{Receiver, bounded};

const CHUNK: u64 = 1 << 20;
/// Chunks read ahead: bounds the memory this takes.
const AHEAD: usize = 32;

enum Msg {
    Chunk(Vec<u8>),
    End,
    Failed(io::Error),
}

pub struct Prefetch {
    rx: Receiver<Msg>,
}

impl Prefetch {
    /// Starts reading `paths` in order.
    pub fn start(paths: Vec<PathBuf>) -> Prefetch {
        let (tx, rx) = bounded(AHEAD);
        std::thread::spawn(move || {
            for path in paths {
                let mut f = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = tx.send(Msg::Failed(e));
                        return;
                    }
                };
                loop {
                    let mut buf = Vec::with_capacity(CHUNK as usize);
                    match (&mut f).take(CHUNK).read_to_end(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {
                            if tx.send(Msg::Chunk(buf)).is_err() {
                                return; // the writer stopped
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Msg::Failed(e));
                            return;
                        }
                    }
                }
                if tx.send(Msg::End).is_err() {
                    return;
                }
            }
        });
        Prefetch { rx }
    }

    /// The next file's bytes, as a reader that ends where the file ends.
    pub fn next_file(&self) -> FileReader<'_> {
        FileReader {
            rx: &self.rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

pub struct FileReader<'a> {
    rx: &'a Receiver<Msg>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for FileReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Chunk(c)) => {
                    self.cur = c;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.done = true,
                Ok(Msg::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the file reader stopped")),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for FileReader<'_> {
    /// A reader dropped before its end (an error) leaves the stream mid-file: drain to the
    /// file's end so the next reader starts at the next file.
    fn drop(&mut self) {
        while !self.done {
            match self.rx.recv() {
                Ok(Msg::Chunk(_)) => {}
                Ok(Msg::End | Msg::Failed(_)) | Err(_) => self.done = true,
            }
        }
    }
}
