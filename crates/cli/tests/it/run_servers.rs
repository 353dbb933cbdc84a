//! `tawthiq run` on the scale-out parts: PostgreSQL state and S3 bundles (moto). These run when
//! `TAWTHIQ_TEST_POSTGRES` / `TAWTHIQ_TEST_S3_ENDPOINT` name servers (`.ci/run` starts both);
//! with `TAWTHIQ_REQUIRE_SERVERS=1` a missing server fails the test instead of skipping it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runner::store::{BundleStore, StoreOptions};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::run_scale::{
    ProfilePage, config_for, drain_with_processes, mount_media, run_command, snapchat_registry,
    stderr_logs,
};
use crate::support::keygen;

const PUBLIC: &str = include_str!("../../../fetcher/tests/fixtures/snapchat/web/public.html");
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn required(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("TAWTHIQ_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "TAWTHIQ_REQUIRE_SERVERS=1 but {var} is unset: {how}"
            );
            None
        }
    }
}

/// A fresh, empty database on the test server, as a URL.
fn fresh_postgres() -> Option<String> {
    let url = required(
        "TAWTHIQ_TEST_POSTGRES",
        "run the tests through .ci/start-postgres.sh",
    )?;
    let name = format!(
        "tawthiq_run_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .arg(&url)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql (Debian postgresql-client) is needed for the PostgreSQL tests");
    assert!(
        out.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // postgres://user:pw@host:port/db?params → …/name?params
    let (base, query) = url
        .split_once('?')
        .map_or((url.as_str(), ""), |(b, q)| (b, q));
    let cut = base.rfind('/').expect("a database in the URL");
    let mut fresh = format!("{}/{name}", &base[..cut]);
    if !query.is_empty() {
        fresh.push('?');
        fresh.push_str(query);
    }
    Some(fresh)
}

/// The S3 endpoint and a fresh bucket on it (moto creates one on a plain `PUT /bucket`).
fn fresh_bucket() -> Option<(String, String)> {
    let endpoint = required("TAWTHIQ_TEST_S3_ENDPOINT", "source .ci/start-s3.sh")?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let bucket = format!(
        "tawthiq-run-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let authority = endpoint
        .strip_prefix("http://")
        .expect("an http:// endpoint");
    let mut tcp = std::net::TcpStream::connect(authority).unwrap();
    write!(
        tcp,
        "PUT /{bucket} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "creating {bucket}: {answer}"
    );
    Some((endpoint, bucket))
}

fn s3_env(c: &mut Command, endpoint: &str) {
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "moto-accepts-anything")
        .env("AWS_REGION", "us-east-1");
}

fn s3_store(endpoint: &str, bucket: &str) -> BundleStore {
    BundleStore::open_with(
        &format!("s3://{bucket}/bundles"),
        StoreOptions {
            config: vec![
                ("aws_endpoint".into(), endpoint.into()),
                ("aws_access_key_id".into(), "test".into()),
                (
                    "aws_secret_access_key".into(),
                    "moto-accepts-anything".into(),
                ),
                ("aws_region".into(), "us-east-1".into()),
                ("aws_allow_http".into(), "true".into()),
            ],
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

/// 16 workers in 4 processes over 3,000 accounts on PostgreSQL: one bundle per account.
#[test]
fn sixteen_workers_in_four_processes_archive_each_account_once_postgres() {
    let Some(state) = fresh_postgres() else {
        return;
    };
    drain_with_processes(&state, 3000, 4, 4);
}

/// The whole scale-out path: PostgreSQL state, S3 bundles, two processes; every account has
/// exactly one object, and it is the one the state records.
#[test]
fn postgres_and_s3_two_processes() {
    let (Some(state), Some((endpoint, bucket))) = (fresh_postgres(), fresh_bucket()) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = crate::run_scale::snapchat_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), 200);
    let config = config_for(dir.path(), &server);
    let location = format!("s3://{bucket}/bundles");
    let children: Vec<_> = (0..2)
        .map(|_| {
            let mut c = run_command(
                dir.path(),
                &config,
                &registry,
                &keys,
                &state,
                &location,
                4,
                &["--linger-secs", "30"],
            );
            s3_env(&mut c, &endpoint);
            c.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr_logs(dir.path()));
    }
    rt.block_on(async {
        let objects = s3_store(&endpoint, &bucket).list("").await.unwrap();
        assert_eq!(objects.len(), 200, "{objects:?}");
        let store = runner::state::open(&state).await.unwrap();
        for i in (0..200).step_by(20) {
            let key = format!("snapchat:@school{i:05}");
            let bundles = store.bundles(&key).await.unwrap();
            assert_eq!(bundles.len(), 1, "{key}");
            assert!(
                bundles[0].location.starts_with(&location),
                "{}",
                bundles[0].location
            );
            let name = bundles[0].location.rsplit('/').next().unwrap();
            assert!(
                objects.iter().any(|o| o == name),
                "{name} not in the bucket"
            );
        }
    });
}

/// A worker killed (SIGKILL) while its bundle is being uploaded to S3: the next start finds
/// its upload intent with no object behind it (a multipart upload is no object until it
/// completes) and closes it, puts the account back (the process is gone; the lease is not
/// waited for), and the account is recorded once, with the one bundle in the bucket.
#[test]
fn killed_mid_upload_is_put_back_and_recorded_once() {
    let (Some(state), Some((endpoint, bucket))) = (fresh_postgres(), fresh_bucket()) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A large, incompressible media file (30 MB) makes the bundle go up in multipart chunks
    // (5 MiB parts, set in the config), an upload the server lists while it lasts.
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/snap/add/"))
            .respond_with(ProfilePage(PUBLIC))
            .mount(&server)
            .await;
        let mut big = vec![0_u8; 30_000_000];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut big))
            .unwrap();
        Mock::given(method("GET"))
            .and(path_regex(r"^/cdn/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(big),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        mount_media(&server).await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), 1);
    let config = config_for(dir.path(), &server);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[run]\nstore_part_mib = 5\n");
    std::fs::write(&config, text).unwrap();
    let location = format!("s3://{bucket}/bundles");
    let scratch = dir.path().join("scratch");
    let start = |extra: &[&str]| {
        let mut args = vec![
            "--lease-secs",
            "600",
            "--scratch",
            scratch.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut c = run_command(
            dir.path(),
            &config,
            &registry,
            &keys,
            &state,
            &location,
            1,
            &args,
        );
        s3_env(&mut c, &endpoint);
        c.spawn().unwrap()
    };

    let mut first = start(&[]);
    let deadline = Instant::now() + Duration::from_secs(180);
    while !upload_in_progress(&endpoint, &bucket) {
        assert!(
            Instant::now() < deadline,
            "no upload seen: {}",
            stderr_logs(dir.path())
        );
        if first.try_wait().unwrap().is_some() {
            let out = first.wait_with_output().unwrap();
            panic!(
                "the first run ended before its upload was seen: {}\n{}",
                stderr_logs(dir.path()),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL, mid-upload
    first.wait().unwrap();
    assert!(
        walk_bundles(&scratch).is_some(),
        "the killed worker's finished bundle stays in its scratch folder"
    );

    let second = start(&["--linger-secs", "30"]);
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_logs(dir.path()));

    rt.block_on(async {
        let state = runner::state::open(&state).await.unwrap();
        let key = "snapchat:@school00000";
        let records = state.bundles(key).await.unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].fence.0, 2, "recorded by the second claim");
        let events = state.events(key).await.unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "claimed",
                "upload_discarded",
                "deferred",
                "claimed",
                "completed"
            ],
            "{events:?}"
        );
        assert!(state.open_uploads().await.unwrap().is_empty());
        let objects = s3_store(&endpoint, &bucket).list("").await.unwrap();
        let recorded = records[0].location.rsplit('/').next().unwrap();
        assert_eq!(
            objects,
            [recorded],
            "only the recorded bundle is in the bucket"
        );
    });
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "the killed worker's scratch folder was removed"
    );
}

/// Whether the bucket has a multipart upload in progress (`GET /bucket?uploads`; moto answers
/// reads to any request that carries AWS credentials, hence the placeholder header).
fn upload_in_progress(endpoint: &str, bucket: &str) -> bool {
    let authority = endpoint.strip_prefix("http://").unwrap();
    let Ok(mut tcp) = std::net::TcpStream::connect(authority) else {
        return false;
    };
    let _ = write!(
        tcp,
        "GET /{bucket}?uploads HTTP/1.1\r\nHost: {authority}\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\
         Connection: close\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    answer.contains("<UploadId>")
}

/// A finished bundle (`*.tar.zst`, not a hidden partial) anywhere under `dir`.
fn walk_bundles(dir: &Path) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = walk_bundles(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n.ends_with(".tar.zst") && !n.starts_with('.')
        }) {
            return Some(path);
        }
    }
    None
}
