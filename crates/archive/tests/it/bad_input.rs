//! Bad input and failing storage: a clear error, nothing under the final name.

use std::io;
use std::path::{Path, PathBuf};

use archive::output::{AtomicFile, Output};
use archive::{BundleError, BundleWriter, Container, TimestampOptions};

use crate::support::*;

/// A disk that fills up after `budget` bytes.
struct FullDisk {
    inner: AtomicFile,
    budget: u64,
}

impl Output for FullDisk {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() as u64 > self.budget {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.budget -= bytes.len() as u64;
        self.inner.write_all(bytes)
    }
    fn write_all_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_all_at(bytes, offset)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn sync_handle(&self) -> Option<std::fs::File> {
        None
    }
    fn publish(self: Box<Self>) -> io::Result<PathBuf> {
        Box::new(self.inner).publish()
    }
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_full_disk_mid_bundle_fails_cleanly_and_leaves_nothing() {
    let keys = keys();
    for budget in [0, 100 << 10, 1 << 20, 2 << 20] {
        let dir = tmp();
        let target = dir.path().join("b.tar.zst");
        let out = FullDisk {
            inner: AtomicFile::create(&target).unwrap(),
            budget,
        };
        let mut w = BundleWriter::with_output(Box::new(out), options(Container::TarZst)).unwrap();
        // The error surfaces at the next call after the background writer hits it, or at
        // finish at the latest.
        let mut err = None;
        for i in 0..40u64 {
            let img = jpeg(100 + i, 200 << 10);
            if let Err(e) = w.add_media(None, &mut &img[..], None) {
                err = Some(e);
                break;
            }
        }
        let early = err.is_some();
        let err = err.unwrap_or_else(|| {
            fill_sample(&mut w);
            w.finish(&keys.secret, None)
                .expect_err("a full disk must fail the bundle")
        });
        assert!(
            early || budget >= 1 << 20,
            "budget {budget}: the error should stop the capture early"
        );
        let text = err.to_string();
        assert!(
            text.contains("No space left") || text.contains("os error 28"),
            "{budget}: {text}"
        );
        assert!(!target.exists(), "nothing under the final name");
        assert!(
            names(dir.path()).is_empty(),
            "temporary file removed: {:?}",
            names(dir.path())
        );
    }
}

/// A sample capture finished with an unreachable TSA.
fn finish_without_tsa(
    required: bool,
) -> (tempfile::TempDir, Keys, archive::Result<archive::Published>) {
    let keys = keys();
    let dir = tmp();
    let mut w = BundleWriter::create(dir.path(), options(Container::TarZst)).unwrap();
    fill_sample(&mut w);
    let ts = TimestampOptions {
        url: unreachable_url(),
        required,
        timeout: std::time::Duration::from_secs(2),
    };
    let result = w.finish(&keys.secret, Some(&ts));
    (dir, keys, result)
}

#[test]
fn a_required_timestamp_from_an_unreachable_tsa_publishes_nothing() {
    let (dir, _keys, result) = finish_without_tsa(true);
    let err = result.unwrap_err();
    assert!(matches!(err, BundleError::TimestampRequired(_)), "{err}");
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn an_optional_timestamp_that_fails_is_reported_not_claimed() {
    let (_dir, keys, result) = finish_without_tsa(false);
    let p = result.unwrap();
    assert!(p.timestamp.is_none() && p.timestamp_error.is_some());
    let r = archive::verify::verify_path(&p.path, &verify_opts(&keys)).unwrap();
    assert!(r.valid && r.has(archive::verify::Code::TimestampAbsent));
    let strict = archive::verify::VerifyOptions {
        require_timestamp: true,
        ..verify_opts(&keys)
    };
    let r = archive::verify::verify_path(&p.path, &strict).unwrap();
    assert!(!r.valid && r.has(archive::verify::Code::TimestampMissing));
}

#[test]
fn a_source_that_breaks_mid_stream_leaves_the_bundle_usable() {
    struct Broken(usize);
    impl io::Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset",
                ));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }
    let keys = keys();
    let dir = tmp();
    let mut w = BundleWriter::create(dir.path(), options(Container::TarZst)).unwrap();
    let err = w
        .add_media(Some("mp4"), &mut Broken(3 << 20), None)
        .unwrap_err();
    assert!(err.to_string().contains("connection reset"), "{err}");
    // Long enough that the writer has already pushed part of it to disk before it fails.
    let video = mp4(11, (20 << 20) + 77);
    let mut cut = io::Read::chain(&video[..], Broken(0));
    let err = w.add_media(None, &mut cut, None).unwrap_err();
    assert!(err.to_string().contains("connection reset"), "{err}");
    let video = mp4(9, 3 << 20);
    let err = w
        .add_media(None, &mut &video[..], Some(video.len() as u64 + 1))
        .unwrap_err();
    assert!(matches!(err, BundleError::SizeMismatch { .. }), "{err}");
    // The failed members were rolled back; the rest of the capture goes on and verifies.
    fill_sample(&mut w);
    let p = w.finish(&keys.secret, None).unwrap();
    let r = archive::verify::verify_path(&p.path, &verify_opts(&keys)).unwrap();
    assert!(r.valid, "{:#?}", r.findings);
}

#[test]
fn secrets_are_refused_in_the_capture_log() {
    let dir = tmp();
    let mut w = BundleWriter::create(dir.path(), options(Container::TarZst)).unwrap();
    let entry = model::CaptureLogEntry {
        seq: 0,
        time: bundle_id().capture_start,
        method: "GET".into(),
        url: "https://graph.facebook.com/v19.0/me/media?access_token=EAABsecret".into(),
        status: Some(200),
        headers: Default::default(),
        body_sha256: None,
        body_bytes: None,
        payload_path: None,
        tool: "t".into(),
        source_path: None,
        source_sha256: None,
        note: None,
    };
    let err = w.log(entry).unwrap_err();
    assert!(!err.to_string().contains("EAABsecret"), "{err}");
    assert!(err.to_string().contains("access_token"));
}

#[test]
fn existing_bundles_are_never_overwritten() {
    let keys = keys();
    let dir = tmp();
    let p = write_sample(dir.path(), &keys, Container::TarZst);
    let before = std::fs::read(&p.path).unwrap();
    let err = BundleWriter::create(dir.path(), options(Container::TarZst))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(std::fs::read(&p.path).unwrap() == before);
}

/// An address where nothing listens.
pub fn unreachable_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/tsa")
}
