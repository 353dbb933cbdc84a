//! `cat` of one small item reads a tiny part of a large bundle.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use archive::{BundleReader, BundleWriter, Container};
use model::Completeness;

use crate::support::*;

/// A video-like stream: an MP4 header, then `len` bytes of filler, generated on the fly.
struct Video {
    left: u64,
    started: bool,
}

impl Read for Video {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        buf[..n].fill(0x5A);
        if !self.started && n >= 12 {
            buf[..12].copy_from_slice(b"\0\0\0\x18ftypmp42");
            self.started = true;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts the bytes read from the bundle file.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn cat_of_a_small_item_from_a_2_gib_bundle_reads_under_one_percent() {
    let keys = keys();
    let dir = tmp();
    let mut w = BundleWriter::create(dir.path(), options(Container::TarZst)).unwrap();
    let size = 2u64 << 30;
    let video = w
        .add_media(
            None,
            &mut Video {
                left: size,
                started: false,
            },
            Some(size),
        )
        .unwrap();
    assert!(video.path.ends_with(".mp4"));
    let page = w
        .add_raw_response("users-tweets", "json", &mut ARABIC_POST.as_bytes(), None)
        .unwrap();
    w.set_completeness(Completeness {
        statement: "test".into(),
        ..Default::default()
    });
    let published = w.finish(&keys.secret, None).unwrap();
    let file_len = std::fs::metadata(&published.path).unwrap().len();
    assert!(
        file_len > size,
        "media are stored, not squeezed: {file_len}"
    );

    let read = Arc::new(AtomicU64::new(0));
    let file = std::fs::File::open(&published.path).unwrap();
    let mut r = BundleReader::open(Counting {
        inner: file,
        read: Arc::clone(&read),
    })
    .unwrap();
    let mut out = Vec::new();
    r.read_verified(&page.path, Some(&keys.public), &mut out)
        .unwrap();
    assert_eq!(out, ARABIC_POST.as_bytes());
    let bytes = read.load(Ordering::Relaxed);
    assert!(bytes * 100 < file_len, "read {bytes} of {file_len} bytes");
    // The same by content address.
    let mut out = Vec::new();
    r.read_verified(&page.sha256.to_hex(), Some(&keys.public), &mut out)
        .unwrap();
    assert_eq!(out, ARABIC_POST.as_bytes());
    assert!(read.load(Ordering::Relaxed) * 100 < file_len);
}
