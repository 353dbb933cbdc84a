//! Payload hashing on worker threads: each member goes whole to the least busy worker, so
//! SHA-256 runs on every core while the reading thread decodes the container.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use sha2::{Digest, Sha256, Sha512};

use super::input::Chunk;

/// Chunks handed to workers are at most this long, and each worker queues at most
/// [`QUEUE`] of them: together they bound the memory pinned by hashing.
pub const PIECE: usize = 1 << 20;
const QUEUE: usize = 32;

enum Job {
    Begin { member: usize, sha512: bool },
    Data(Chunk),
    End,
}

pub struct Digests {
    pub member: usize,
    pub sha256: [u8; 32],
    pub sha512: Option<[u8; 64]>,
}

pub struct HashPool {
    workers: Vec<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    results: Receiver<Digests>,
    current: Option<usize>,
}

impl HashPool {
    pub fn new(threads: usize) -> HashPool {
        let (tx, results) = unbounded();
        let mut workers = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let (jtx, jrx) = bounded::<Job>(QUEUE);
            let out = tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("verify-hash-{i}"))
                .spawn(move || work(&jrx, &out))
                .expect("spawning a hashing thread");
            workers.push(jtx);
            handles.push(h);
        }
        HashPool {
            workers,
            threads: handles,
            results,
            current: None,
        }
    }

    pub fn begin(&mut self, member: usize, sha512: bool) {
        let w = (0..self.workers.len())
            .min_by_key(|&i| self.workers[i].len())
            .unwrap_or(0);
        self.current = Some(w);
        let _ = self.workers[w].send(Job::Begin { member, sha512 });
    }

    pub fn data(&mut self, c: &Chunk) {
        let w = self.current.expect("begin before data");
        let mut start = c.range.start;
        while start < c.range.end {
            let end = (start + PIECE).min(c.range.end);
            let piece = Chunk {
                buf: c.buf.clone(),
                range: start..end,
            };
            let _ = self.workers[w].send(Job::Data(piece));
            start = end;
        }
    }

    pub fn end(&mut self) {
        if let Some(w) = self.current.take() {
            let _ = self.workers[w].send(Job::End);
        }
    }

    /// Waits for every member's digests.
    pub fn finish(self) -> Vec<Digests> {
        drop(self.workers);
        for t in self.threads {
            let _ = t.join();
        }
        self.results.try_iter().collect()
    }
}

fn work(jobs: &Receiver<Job>, out: &Sender<Digests>) {
    let mut state: Option<(usize, Sha256, Option<Sha512>)> = None;
    for job in jobs {
        match job {
            Job::Begin { member, sha512 } => {
                state = Some((member, Sha256::new(), sha512.then(Sha512::new)));
            }
            Job::Data(c) => {
                if let Some((_, h, h5)) = &mut state {
                    h.update(c.bytes());
                    if let Some(h5) = h5 {
                        h5.update(c.bytes());
                    }
                }
            }
            Job::End => {
                if let Some((member, h, h5)) = state.take() {
                    let _ = out.send(Digests {
                        member,
                        sha256: h.finalize().into(),
                        sha512: h5.map(|h| h.finalize().into()),
                    });
                }
            }
        }
    }
}
