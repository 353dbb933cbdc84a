//! The bundle store: a local directory in every run; a real S3-compatible server (moto) when
//! `TAWTHIQ_TEST_S3_ENDPOINT` is set (`source .ci/start-s3.sh`); an unreachable endpoint always.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use runner::store::{BundleStore, Published, StoreError, StoreOptions, Upload};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

const MIB: usize = 1024 * 1024;
const NAME: &str = "x-42-20250504T063000Z.tawthiq";

/// Deterministic, incompressible-looking bytes (xorshift), different per seed.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(data)
        .iter()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn write_file(dir: &Path, file: &str, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, data).unwrap();
    path
}

/// Every entry in a directory, hidden and temporary files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A source that yields `data`, then fails like a disk read error.
struct FailingAfter {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for FailingAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos == self.data.len() {
            return Poll::Ready(Err(io::Error::other("simulated read error")));
        }
        let n = buf.remaining().min(self.data.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------------------------
// Local directory

#[tokio::test]
async fn local_publish_stores_the_same_bytes_and_reports_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = content(200 * 1024, 1);
    let src = write_file(tmp.path(), "bundle", &data);
    let dir = tmp.path().join("bundles/nested");
    // A plain path that does not exist yet is created.
    let store = BundleStore::open(dir.to_str().unwrap()).unwrap();
    store.check().await.unwrap();
    assert!(
        entries(&dir).is_empty(),
        "check left its probe behind: {:?}",
        entries(&dir)
    );

    let published = store.publish(&src, NAME).await.unwrap();
    let canonical = std::fs::canonicalize(&dir).unwrap();
    let expected_location = url::Url::from_file_path(canonical.join(NAME))
        .unwrap()
        .to_string();
    assert_eq!(
        published,
        Published {
            location: expected_location.clone(),
            bytes: data.len() as u64,
            sha256: sha256_hex(&data),
            upload: Upload::Single,
        }
    );
    assert_eq!(std::fs::read(dir.join(NAME)).unwrap(), data);
    assert_eq!(entries(&dir), vec![NAME.to_owned()]);
    assert!(store.exists(NAME).await.unwrap());
    assert!(!store.exists("other.tawthiq").await.unwrap());
    assert_eq!(store.list("").await.unwrap(), vec![NAME.to_owned()]);
    assert_eq!(store.list("x-42-").await.unwrap(), vec![NAME.to_owned()]);
    assert!(store.list("y-").await.unwrap().is_empty());
    assert_eq!(store.location_of(NAME).unwrap(), expected_location);

    // The same directory as a file:// URL is the same store.
    let by_url =
        BundleStore::open(url::Url::from_directory_path(&canonical).unwrap().as_str()).unwrap();
    assert!(by_url.exists(NAME).await.unwrap());
    assert_eq!(by_url.location_of(NAME).unwrap(), expected_location);
}

#[tokio::test]
async fn local_republish_of_the_same_content_uploads_nothing() {
    use std::os::unix::fs::MetadataExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let data = content(64 * 1024, 2);
    let src = write_file(tmp.path(), "bundle", &data);
    let dir = tmp.path().join("store");
    let store = BundleStore::open(dir.to_str().unwrap()).unwrap();
    let first = store.publish(&src, NAME).await.unwrap();
    let before = std::fs::metadata(dir.join(NAME)).unwrap();

    // A copy of the file elsewhere (same content, another path) is the same bundle.
    let copy = write_file(tmp.path(), "copy", &data);
    let again = store.publish(&copy, NAME).await.unwrap();
    assert_eq!(again.upload, Upload::AlreadyPresent);
    assert_eq!(
        (&again.location, again.bytes, &again.sha256),
        (&first.location, first.bytes, &first.sha256)
    );
    let after = std::fs::metadata(dir.join(NAME)).unwrap();
    // Not rewritten: a rewrite (temp file + rename) would give a new inode and mtime.
    assert_eq!(after.ino(), before.ino());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    assert_eq!(entries(&dir), vec![NAME.to_owned()]);
}

#[tokio::test]
async fn local_different_content_under_a_taken_name_is_a_conflict_and_keeps_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    let original = content(100 * 1024, 3);
    let dir = tmp.path().join("store");
    let store = BundleStore::open(dir.to_str().unwrap()).unwrap();
    store
        .publish(&write_file(tmp.path(), "a", &original), NAME)
        .await
        .unwrap();

    // Same size, one byte different: only the content comparison can tell.
    let mut same_size = original.clone();
    same_size[50_000] ^= 1;
    // Another size: told apart by size alone.
    let other_size = content(1000, 4);
    for (file, data) in [("b", &same_size), ("c", &other_size)] {
        let err = store
            .publish(&write_file(tmp.path(), file, data), NAME)
            .await
            .unwrap_err();
        let StoreError::Conflict { location, .. } = &err else {
            panic!("expected a conflict, got {err:?}");
        };
        assert!(location.ends_with(NAME), "{location}");
        let message = err.to_string();
        assert!(
            message.contains(NAME) && message.contains("not overwritten"),
            "{message}"
        );
        assert!(!err.is_retryable());
        assert_eq!(std::fs::read(dir.join(NAME)).unwrap(), original);
    }
    assert_eq!(entries(&dir), vec![NAME.to_owned()]);
}

#[tokio::test]
async fn local_multipart_upload_of_a_large_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = content(12 * MIB + 12_345, 5);
    let src = write_file(tmp.path(), "bundle", &data);
    let dir = tmp.path().join("store");
    let options = StoreOptions {
        multipart_threshold: 4 * MIB as u64,
        part_size: 5 * MIB,
        ..StoreOptions::default()
    };
    let store = BundleStore::open_with(dir.to_str().unwrap(), options).unwrap();
    let published = store.publish(&src, NAME).await.unwrap();
    assert_eq!(published.upload, Upload::Multipart { parts: 3 });
    assert_eq!(published.bytes, data.len() as u64);
    assert_eq!(published.sha256, sha256_hex(&data));
    assert_eq!(std::fs::read(dir.join(NAME)).unwrap(), data);
    assert_eq!(entries(&dir), vec![NAME.to_owned()], "no staging file left");

    // Re-publishing a multipart object is recognised too.
    let again = store.publish(&src, NAME).await.unwrap();
    assert_eq!(again.upload, Upload::AlreadyPresent);

    // Download round trip.
    let back = tmp.path().join("downloaded.tawthiq");
    assert_eq!(
        store.get_to_file(NAME, &back).await.unwrap(),
        data.len() as u64
    );
    assert_eq!(std::fs::read(&back).unwrap(), data);
    assert_eq!(
        entries(tmp.path()),
        vec!["bundle", "downloaded.tawthiq", "store"]
    );
}

#[tokio::test]
async fn local_source_failing_mid_upload_leaves_nothing_under_the_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let options = StoreOptions {
        multipart_threshold: MIB as u64,
        part_size: MIB,
        ..StoreOptions::default()
    };
    let store = BundleStore::open_with(dir.to_str().unwrap(), options).unwrap();
    // 12 MiB read, several parts already written, then the source fails (multipart); and a
    // small source that fails before its single put.
    for len in [12 * MIB, 100 * 1024] {
        let source = FailingAfter {
            data: content(len, 6),
            pos: 0,
        };
        let err = store.publish_reader(source, NAME).await.unwrap_err();
        assert!(matches!(err, StoreError::Source(_)), "{err:?}");
        assert!(err.to_string().contains("simulated read error"), "{err}");
        assert!(!store.exists(NAME).await.unwrap());
        assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    }

    // A path that is not a readable regular file.
    let err = store.publish(tmp.path(), NAME).await.unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let missing = tmp.path().join("missing.tawthiq");
    let err = store.publish(&missing, NAME).await.unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(entries(&dir).is_empty());

    // A reader that completes publishes normally.
    let data = content(3 * MIB, 7);
    let published = store.publish_reader(&data[..], NAME).await.unwrap();
    assert_eq!(published.upload, Upload::Multipart { parts: 3 });
    assert_eq!(std::fs::read(dir.join(NAME)).unwrap(), data);
}

#[tokio::test]
async fn bad_locations_and_names_are_refused_with_a_clear_error() {
    for (location, expect) in [
        ("ftp://x", "ftp:// is not a bundle store"),
        ("", "empty store location"),
        ("   ", "empty store location"),
        ("s3://", "no bucket"),
        ("s3://bucket/prefix?region=x", "no ?query"),
        ("file://host/dir", "absolute path"),
    ] {
        let err = BundleStore::open(location).unwrap_err();
        assert!(
            matches!(err, StoreError::Location(_)),
            "{location}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(expect), "{location}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
    let with = |location: &str, options: StoreOptions| {
        BundleStore::open_with(location, options)
            .unwrap_err()
            .to_string()
    };
    let typo = StoreOptions {
        config: vec![("aws_endpiont".into(), "http://x".into())],
        ..StoreOptions::default()
    };
    assert!(with("s3://b", typo.clone()).contains("\"aws_endpiont\""));
    let tmp = tempfile::tempdir().unwrap();
    assert!(
        with(tmp.path().to_str().unwrap(), typo).contains("does not apply to a local directory")
    );
    let tiny_parts = StoreOptions {
        part_size: MIB,
        ..StoreOptions::default()
    };
    assert!(with("s3://b", tiny_parts).contains("below the 5 MiB minimum"));

    let store = BundleStore::open(tmp.path().to_str().unwrap()).unwrap();
    let src = write_file(tmp.path(), "bundle", b"abc");
    for name in ["../escape.tawthiq", "/abs.tawthiq", "ü.tawthiq", "a//b", ""] {
        let err = store.publish(&src, name).await.unwrap_err();
        assert!(matches!(err, StoreError::Name(_)), "{name}: {err:?}");
        assert!(err.to_string().contains("invalid bundle name"), "{err}");
    }
    assert_eq!(entries(tmp.path()), vec!["bundle"]);
    let err = store
        .get_to_file("absent.tawthiq", &tmp.path().join("out"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(
        err.to_string().contains("absent.tawthiq does not exist"),
        "{err}"
    );
    assert_eq!(entries(tmp.path()), vec!["bundle"]);
}

// ---------------------------------------------------------------------------------------------
// S3 (unreachable: no server needed)

const SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY";

fn s3_options(endpoint: &str, allow_http: bool) -> StoreOptions {
    StoreOptions {
        config: vec![
            ("aws_endpoint".into(), endpoint.into()),
            ("aws_access_key_id".into(), "test".into()),
            ("aws_secret_access_key".into(), SECRET.into()),
            ("aws_region".into(), "us-east-1".into()),
            ("aws_allow_http".into(), allow_http.to_string()),
            ("connect_timeout".into(), "2s".into()),
            ("timeout".into(), "10s".into()),
        ],
        ..StoreOptions::default()
    }
}

#[tokio::test]
async fn unreachable_s3_fails_the_check_fast_naming_the_endpoint_without_the_secret() {
    let options = StoreOptions {
        max_retries: 1,
        ..s3_options("http://127.0.0.1:1", true)
    };
    let store = BundleStore::open_with("s3://tawthiq-unreachable/batch1", options).unwrap();
    assert!(!format!("{store:?}").contains(SECRET));

    let started = Instant::now();
    let err = store.check().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, StoreError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
    let message = err.to_string();
    for part in [
        "cannot reach S3 endpoint http://127.0.0.1:1 for bucket tawthiq-unreachable",
        "connection refused",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    assert!(!message.contains('\n'), "{message}");
    assert!(!message.contains(SECRET), "{message}");

    // Transfers say the same, without the secret either.
    let tmp = tempfile::tempdir().unwrap();
    let src = write_file(tmp.path(), "bundle", &content(1000, 8));
    let err = store.publish(&src, NAME).await.unwrap_err();
    assert!(matches!(err, StoreError::Unreachable(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(SECRET));
}

#[test]
fn plain_http_endpoint_without_allow_http_names_the_setting() {
    let err =
        BundleStore::open_with("s3://b/p", s3_options("http://127.0.0.1:1", false)).unwrap_err();
    assert!(matches!(err, StoreError::Location(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("http://127.0.0.1:1") && message.contains("AWS_ALLOW_HTTP=true"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
}

// ---------------------------------------------------------------------------------------------
// S3 against a real S3-compatible server (moto)

/// The S3 endpoint for the tests, or `None` to skip; panics if CI requires servers.
fn s3_endpoint() -> Option<String> {
    match std::env::var("TAWTHIQ_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var("TAWTHIQ_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "TAWTHIQ_REQUIRE_SERVERS=1 but TAWTHIQ_TEST_S3_ENDPOINT is unset: start an S3 server with `source .ci/start-s3.sh`"
            );
            None
        }
    }
}

/// A fresh bucket on the server (moto takes a plain `PUT /bucket`).
async fn fresh_bucket(endpoint: &str, label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!("tawthiq-{label}-{}-{nanos}", std::process::id());
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "creating bucket {bucket}: {}",
        response.status()
    );
    bucket
}

/// A request to the server that bypasses the store. moto does not check signatures but answers
/// reads only to requests that carry AWS credentials, hence the placeholder header.
fn raw(method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    reqwest::Client::new().request(method, url).header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    )
}

async fn s3_store(endpoint: &str, label: &str, options: StoreOptions) -> (BundleStore, String) {
    let bucket = fresh_bucket(endpoint, label).await;
    let store = BundleStore::open_with(&format!("s3://{bucket}/batch-1"), options).unwrap();
    store.check().await.unwrap();
    (store, bucket)
}

#[tokio::test]
async fn s3_publish_small_round_trip_and_idempotence() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let (store, bucket) = s3_store(&endpoint, "small", s3_options(&endpoint, true)).await;
    assert_eq!(store.root(), format!("s3://{bucket}/batch-1"));
    let tmp = tempfile::tempdir().unwrap();
    let data = content(150 * 1024, 9);
    let src = write_file(tmp.path(), "bundle", &data);

    let published = store.publish(&src, NAME).await.unwrap();
    assert_eq!(
        published,
        Published {
            location: format!("s3://{bucket}/batch-1/{NAME}"),
            bytes: data.len() as u64,
            sha256: sha256_hex(&data),
            upload: Upload::Single,
        }
    );
    // The object is where the location says, byte for byte (read without the store).
    let raw = raw(
        reqwest::Method::GET,
        format!("{endpoint}/{bucket}/batch-1/{NAME}"),
    )
    .send()
    .await
    .unwrap();
    assert!(raw.status().is_success(), "{}", raw.status());
    assert_eq!(raw.bytes().await.unwrap(), data);

    assert!(store.exists(NAME).await.unwrap());
    assert_eq!(store.list("").await.unwrap(), vec![NAME.to_owned()]);
    let back = tmp.path().join("back.tawthiq");
    assert_eq!(
        store.get_to_file(NAME, &back).await.unwrap(),
        data.len() as u64
    );
    assert_eq!(std::fs::read(&back).unwrap(), data);

    let again = store.publish(&src, NAME).await.unwrap();
    assert_eq!(again.upload, Upload::AlreadyPresent);
    assert_eq!(again.sha256, published.sha256);

    let mut changed = data.clone();
    changed[10] ^= 0xff;
    let err = store
        .publish(&write_file(tmp.path(), "changed", &changed), NAME)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains(&published.location), "{err}");
    store.get_to_file(NAME, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data, "original kept");
}

#[tokio::test]
async fn s3_multipart_upload_uses_real_parts() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let options = StoreOptions {
        multipart_threshold: 5 * MIB as u64,
        part_size: 5 * MIB,
        ..s3_options(&endpoint, true)
    };
    let (store, bucket) = s3_store(&endpoint, "multipart", options).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = content(12 * MIB, 10);
    let src = write_file(tmp.path(), "bundle", &data);

    let published = store.publish(&src, NAME).await.unwrap();
    assert_eq!(published.upload, Upload::Multipart { parts: 3 });
    assert_eq!(published.sha256, sha256_hex(&data));
    assert_eq!(published.location, format!("s3://{bucket}/batch-1/{NAME}"));

    // The server's own record: a multipart object's ETag ends in -<number of parts>.
    let head = raw(
        reqwest::Method::HEAD,
        format!("{endpoint}/{bucket}/batch-1/{NAME}"),
    )
    .send()
    .await
    .unwrap();
    assert!(head.status().is_success());
    let etag = head.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.trim_matches('"').ends_with("-3"), "ETag {etag}");
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        data.len().to_string()
    );

    let back = tmp.path().join("back.tawthiq");
    store.get_to_file(NAME, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), data);
    assert_eq!(
        store.publish(&src, NAME).await.unwrap().upload,
        Upload::AlreadyPresent
    );

    // A source failing after two parts were uploaded: aborted, nothing under the name, and no
    // multipart upload left open on the server.
    let source = FailingAfter {
        data: content(11 * MIB, 11),
        pos: 0,
    };
    let err = store
        .publish_reader(source, "failed.tawthiq")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Source(_)), "{err:?}");
    assert!(!store.exists("failed.tawthiq").await.unwrap());
    let uploads = raw(reqwest::Method::GET, format!("{endpoint}/{bucket}?uploads"))
        .send()
        .await
        .unwrap();
    assert!(uploads.status().is_success(), "{}", uploads.status());
    let uploads = uploads.text().await.unwrap();
    assert!(uploads.contains("ListMultipartUploadsResult"), "{uploads}");
    assert!(!uploads.contains("failed.tawthiq"), "{uploads}");
}

#[tokio::test]
async fn s3_missing_bucket_is_named_by_the_check() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let store =
        BundleStore::open_with("s3://tawthiq-no-such-bucket/x", s3_options(&endpoint, true))
            .unwrap();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Access(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("tawthiq-no-such-bucket") && message.contains("does not exist"),
        "{message}"
    );
    assert!(
        !message.contains('\n') && !message.contains(SECRET),
        "{message}"
    );
}
