//! `capture_account`: what is published (complete, partial, account-state evidence) and what is
//! not (nothing captured), with streams that break mid-way rolled back.

use std::sync::Arc;

use archive::signing::{self, SecretKey};
use archive::verify::{VerifyOptions, verify_path};
use archive::{BundleReader, WriterOptions};
use async_trait::async_trait;
use bytes::Bytes;
use fetcher::{ByteStream, FetchError, MemoryStream, Report, Sink, Source};
use model::{
    AccountId, BundleId, CaptureLogEntry, Gap, GapReason, Item, ItemKind, MediaRef, Outcome,
    Platform, Route,
};
use runner::{AccountOptions, capture_account};
use time::OffsetDateTime;

/// What the scripted source does after its first document.
#[derive(Clone, Copy, PartialEq)]
enum Script {
    /// Runs to the end with one known gap (the platform's cap).
    Complete,
    QuotaAfterContent,
    /// A sub-request answers "not found" after content was stored.
    EdgeNotFoundAfterContent,
    /// The connection breaks after content was stored.
    ConnectAfterContent,
    AuthBeforeContent,
    SuspendedBeforeBegin,
}

struct Scripted(Script);

/// Yields two chunks, then fails: a transfer cut short.
struct Broken(u8);

#[async_trait]
impl ByteStream for Broken {
    async fn next_chunk(&mut self) -> fetcher::Result<Option<Bytes>> {
        self.0 += 1;
        if self.0 <= 2 {
            Ok(Some(Bytes::from(vec![0xAB; 70_000])))
        } else {
            Err(FetchError::Truncated {
                url: "https://cdn.example/v.mp4".into(),
                got: 140_000,
                expected: 1 << 20,
            })
        }
    }
}

fn entry(url: &str) -> CaptureLogEntry {
    CaptureLogEntry {
        seq: 0,
        time: OffsetDateTime::UNIX_EPOCH,
        method: "GET".into(),
        url: url.into(),
        status: Some(200),
        headers: Default::default(),
        body_sha256: None,
        body_bytes: None,
        payload_path: None,
        tool: "test".into(),
        source_path: None,
        source_sha256: None,
        note: None,
    }
}

pub fn jpeg(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

#[async_trait]
impl Source for Scripted {
    fn platform(&self) -> Platform {
        Platform::X
    }
    fn route(&self) -> Route {
        Route::Api
    }
    async fn capture(&mut self, sink: &mut dyn Sink) -> fetcher::Result<Report> {
        // The first document arrives before the account is known (as `users/me` does).
        let me = sink
            .document(
                "users-me",
                "json",
                Bytes::from_static("{\"data\":{\"id\":\"42\",\"name\":\"مدرسة\"}}".as_bytes()),
            )
            .await?;
        let mut e = entry("https://api.x.com/2/users/me");
        e.payload_path = Some(me.path.clone());
        sink.log(e).await?;
        if self.0 == Script::SuspendedBeforeBegin {
            // The account-level lookup answered: the adapter marks it as about the account.
            return Err(FetchError::Suspended {
                detail: "User has been suspended: [42].".into(),
            }
            .about_account());
        }
        sink.begin(&AccountId::new("42").unwrap()).await?;
        if self.0 == Script::AuthBeforeContent {
            return Err(FetchError::AuthExpired {
                platform: Platform::X,
                detail: "HTTP 401".into(),
            });
        }
        // A broken transfer first: it must leave no trace in the bundle.
        let broken = sink.media(Some("mp4"), Some(1 << 20), &mut Broken(0)).await;
        assert!(matches!(broken, Err(FetchError::Truncated { .. })));
        let photo = jpeg(300_000, 1);
        let stored = sink
            .media(
                Some("jpg"),
                Some(photo.len() as u64),
                &mut MemoryStream::new(Bytes::from(photo)),
            )
            .await?;
        sink.item(Item {
            id: "1001".into(),
            platform: Platform::X,
            kind: ItemKind::Post,
            created_at: OffsetDateTime::from_unix_timestamp(1_725_168_612).unwrap(),
            text: "اليوم الوطني ٩٤ 🇸🇦".into(),
            lang: Some("ar".into()),
            pinned: false,
            metrics: Default::default(),
            media: vec![MediaRef {
                sha256: Some(stored.sha256),
                original_url: "https://pbs.twimg.com/media/A.jpg".into(),
                chosen: None,
                offered: vec![],
            }],
            url: None,
            references: vec![],
            route: Route::Api,
            source_path: Some(me.path.clone()),
        })
        .await?;
        match self.0 {
            Script::QuotaAfterContent => {
                return Err(FetchError::QuotaExhausted {
                    platform: Platform::X,
                    detail: "UsageCapExceeded".into(),
                    until: None,
                });
            }
            Script::EdgeNotFoundAfterContent => {
                return Err(FetchError::NotFound {
                    detail: "the /photos edge: (#100) Object does not exist".into(),
                });
            }
            Script::ConnectAfterContent => {
                return Err(FetchError::Connect {
                    url: "https://api.x.com/2/users/42/tweets".into(),
                    detail: "connection reset".into(),
                });
            }
            _ => {}
        }
        sink.gap(Gap {
            reason: GapReason::PlatformCap,
            detail: "older posts need the archive".into(),
            item_id: None,
            url: None,
        })
        .await?;
        Ok(Report {
            platform_reported: [("posts".to_string(), 5000)].into(),
            captured: Default::default(),
            statement: String::new(),
        })
    }
}

fn options(dir: &std::path::Path, key: &Arc<SecretKey>, fallback: Option<&str>) -> AccountOptions {
    let start = OffsetDateTime::from_unix_timestamp(1_746_340_200).unwrap();
    let placeholder = BundleId::new(Platform::X, AccountId::new("pending").unwrap(), start);
    AccountOptions {
        output_dir: dir.to_path_buf(),
        writer: WriterOptions::new(placeholder, Route::Api),
        key: Arc::clone(key),
        timestamp: None,
        capture_start: start,
        fallback_account: fallback.map(|f| AccountId::new(f).unwrap()),
        publish_partial: true,
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn verify_ok(path: &std::path::Path, key: &SecretKey) {
    let r = verify_path(
        path,
        &VerifyOptions {
            keys: vec![key.public_key()],
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert!(r.valid, "{:?}", r.findings);
}

fn read(path: &std::path::Path, member: &str, key: &SecretKey) -> Vec<u8> {
    let mut r = BundleReader::open_file(path).unwrap();
    let mut out = Vec::new();
    r.read_verified(member, Some(&key.public_key()), &mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_run_to_the_end_is_published_verified_and_holds_no_broken_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(signing::generate());
    let o = capture_account(
        &mut Scripted(Script::Complete),
        options(dir.path(), &key, None),
        |_| {},
    )
    .await
    .unwrap();
    // Complete means no gap: the platform's cap, listed, makes this capture partial.
    assert_eq!(o.outcome, Outcome::Partial);
    assert!(!o.is_complete());
    let p = o.published.unwrap();
    assert_eq!(p.bundle_id.to_string(), "x-42-20250504T063000Z");
    assert_eq!(files_in(dir.path()), vec!["x-42-20250504T063000Z.tar.zst"]);
    verify_ok(&p.path, &key);
    assert_eq!(o.counts.media, 1, "the broken transfer is not counted");
    let members: Vec<String> = BundleReader::open_file(&p.path)
        .unwrap()
        .list()
        .into_iter()
        .map(|m| m.path)
        .collect();
    assert_eq!(
        members
            .iter()
            .filter(|m| m.starts_with("data/original/media/"))
            .count(),
        1,
        "the broken transfer left no member: {members:?}"
    );
    // The document stored before the account was known kept its predicted path.
    let doc = read(&p.path, "data/original/api/000001-users-me.json", &key);
    assert_eq!(
        doc,
        "{\"data\":{\"id\":\"42\",\"name\":\"مدرسة\"}}".as_bytes()
    );
    let posts = String::from_utf8(read(&p.path, "data/derived/posts.jsonl", &key)).unwrap();
    assert!(posts.contains("اليوم الوطني ٩٤ 🇸🇦"));
    let c: serde_json::Value =
        serde_json::from_slice(&read(&p.path, "data/derived/completeness.json", &key)).unwrap();
    assert_eq!(c["platform_reported"]["posts"], 5000);
    assert_eq!(c["captured"]["items"], 1);
    assert_eq!(c["gaps"][0]["reason"], "platform_cap");
    assert_eq!(c["outcome"], "partial");
    assert!(c["statement"].as_str().unwrap().starts_with("partial"));
    let log = String::from_utf8(read(&p.path, "data/capture/requests.jsonl", &key)).unwrap();
    assert!(log.contains("000001-users-me.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_stopped_by_a_quota_publishes_what_it_had_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(signing::generate());
    let o = capture_account(
        &mut Scripted(Script::QuotaAfterContent),
        options(dir.path(), &key, None),
        |_| {},
    )
    .await
    .unwrap();
    assert!(!o.is_complete());
    assert_eq!(o.error.as_ref().unwrap().kind(), "quota_exhausted");
    let p = o.published.unwrap();
    verify_ok(&p.path, &key);
    let c: serde_json::Value =
        serde_json::from_slice(&read(&p.path, "data/derived/completeness.json", &key)).unwrap();
    assert!(c["statement"].as_str().unwrap().starts_with("partial"));
    assert_eq!(
        c["gaps"].as_array().unwrap().last().unwrap()["reason"],
        "rate_limited"
    );
}

/// Issue 13: a sub-request answering "not found" after content was captured is a partial
/// capture with a gap naming the stop, never an unavailable account; and because trying again
/// cannot help, it is published even when partial captures are otherwise held back (a batch's
/// early attempts), while a stop that may clear up (the network) is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sub_request_after_content_is_partial_never_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(signing::generate());
    let mut opts = options(dir.path(), &key, Some("school_42"));
    opts.publish_partial = false;
    let o = capture_account(
        &mut Scripted(Script::EdgeNotFoundAfterContent),
        opts,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(o.outcome, Outcome::Partial);
    let p = o.published.unwrap();
    assert_eq!(
        p.bundle_id.account.as_str(),
        "42",
        "filed under the captured account"
    );
    let c: serde_json::Value =
        serde_json::from_slice(&read(&p.path, "data/derived/completeness.json", &key)).unwrap();
    assert_eq!(c["outcome"], "partial");
    assert!(c.get("unavailable").is_none(), "{c}");
    let stop = c["gaps"].as_array().unwrap().last().unwrap();
    assert!(
        stop["detail"].as_str().unwrap().contains("/photos edge"),
        "{stop}"
    );
    assert!(!c["statement"].as_str().unwrap().contains("unavailable"));

    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), &key, None);
    opts.publish_partial = false;
    let e = capture_account(&mut Scripted(Script::ConnectAfterContent), opts, |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        "connect",
        "a transient stop waits for the next attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_any_content_publishes_nothing_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(signing::generate());
    let e = capture_account(
        &mut Scripted(Script::AuthBeforeContent),
        options(dir.path(), &key, None),
        |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), "auth_expired");
    // Let the writer thread drop its partial file.
    for _ in 0..50 {
        if files_in(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_account_is_evidence_published_under_the_requested_handle() {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(signing::generate());
    let o = capture_account(
        &mut Scripted(Script::SuspendedBeforeBegin),
        options(dir.path(), &key, Some("school_42")),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(o.error.as_ref().unwrap().kind(), "account_suspended");
    assert_eq!(o.outcome, Outcome::Unavailable);
    let p = o.published.unwrap();
    assert_eq!(p.bundle_id.account.as_str(), "school_42");
    verify_ok(&p.path, &key);
    let c: serde_json::Value =
        serde_json::from_slice(&read(&p.path, "data/derived/completeness.json", &key)).unwrap();
    assert_eq!(c["outcome"], "unavailable");
    assert_eq!(c["unavailable"], "suspended");
    assert!(c["statement"].as_str().unwrap().starts_with("unavailable"));
    assert!(c["statement"].as_str().unwrap().contains("suspended"));
    // Without a handle to name it, nothing can be published.
    let e = capture_account(
        &mut Scripted(Script::SuspendedBeforeBegin),
        options(dir.path(), &key, None),
        |_| {},
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), "account_suspended");
}
