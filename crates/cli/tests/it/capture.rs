//! `tawthiq archive x` and `tawthiq import x` end to end: the binary against a local replay
//! server (real HTTP over loopback), the bundle checked by the verifier, the token searched
//! for in every byte the run produced.

use std::path::Path;
use std::process::Output;

use wiremock::matchers::{header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, contains, keygen, media_bytes, only_file, tawthiq, write_zip};

const TOKEN: &str = "TQ-CLI-SECRET-aGlkZGVuIHRva2Vu-0042";

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fetcher/tests/fixtures/x")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A replay of the X API and CDNs: the owner, two timeline pages, photos and videos.
async fn x_server() -> MockServer {
    let server = MockServer::start().await;
    let json = |body: Vec<u8>| ResponseTemplate::new(200).set_body_raw(body, "application/json");
    Mock::given(method("GET"))
        .and(path("/api/2/users/me"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(fixture("api/users_me.json")))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/api/2/users/\d+/tweets$"))
        .and(query_param_is_missing("pagination_token"))
        .respond_with(json(fixture("api/tweets_p1.json")))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/api/2/users/\d+/tweets$"))
        .and(query_param(
            "pagination_token",
            "7140dibdnow9c7btw3z2vwzx8yv0okvbuf5y5u0x2qsw9",
        ))
        .respond_with(json(fixture("api/tweets_p2.json")))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/api/2/tweets/\d+$"))
        .respond_with(json(fixture("api/users_me.json")))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/pbs/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(1, 200_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg"),
        )
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/video/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(2, 900_000, b"\0\0\0\x18ftypmp42"), "video/mp4"),
        )
        .mount(&server)
        .await;
    server
}

async fn run_archive(server: &MockServer, out: &Path, key: &Path, extra: &[&str]) -> Output {
    let hosts = format!(
        "api.x.com={u}/api,pbs.twimg.com={u}/pbs,video.twimg.com={u}/video",
        u = server.uri()
    );
    let mut c = tawthiq();
    c.args(["archive", "x", "me", "-o"])
        .arg(out)
        .arg("--key")
        .arg(key)
        .args(extra)
        .env("TAWTHIQ_X_TOKEN", TOKEN)
        .env("TAWTHIQ_HOSTS", hosts)
        .env("TAWTHIQ_LOG", "debug");
    tokio::task::spawn_blocking(move || support::run(&mut c))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_x_me_gives_a_verified_bundle_and_the_token_appears_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = x_server().await;
    let out = dir.path().join("out");
    // A plain tar, so every stored byte can be searched as is.
    let o = run_archive(&server, &out, &keys.secret, &["--tar"]).await;
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    assert!(stdout.contains("captured   8 items"), "{stdout}");
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("x-1456789012345678901-") && name.ends_with(".tar"),
        "{name}"
    );
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(!contains(&bytes, TOKEN), "the token is inside the bundle");
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token was printed"
    );
    // The server did receive it (the test would be vacuous otherwise).
    let received = server.received_requests().await.unwrap();
    assert!(received.iter().any(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().contains(TOKEN))
    }));
    // CDN requests never carry the token.
    assert!(
        received
            .iter()
            .filter(|r| !r.url.path().starts_with("/api/"))
            .all(|r| !r.headers.contains_key("authorization"))
    );
    // An auditor's independent check.
    support::ok(
        tawthiq()
            .arg("verify")
            .arg(&bundle)
            .arg("--pubkey")
            .arg(&keys.public),
    );
    // The Arabic text survives byte-exact from response to derived record.
    let posts = support::ok(
        tawthiq()
            .arg("cat")
            .arg(&bundle)
            .arg("data/derived/posts.jsonl")
            .arg("--pubkey")
            .arg(&keys.public),
    );
    assert!(posts.contains("مدرسة") || posts.contains("\\u"), "{posts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_json_summary_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = x_server().await;
    let out = dir.path().join("out");
    let o = run_archive(&server, &out, &keys.secret, &["--json"]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["complete"], true);
    assert_eq!(v["verified"], true);
    assert_eq!(v["items"], 8);
    assert_eq!(v["account"], "1456789012345678901");
    // The replay serves one photo and one video body for every URL: stored once each.
    assert_eq!(v["media_files"], 2);
    assert!(Path::new(v["bundle"].as_str().unwrap()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_one_line_and_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = MockServer::start().await;
    Mock::given(path("/api/2/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let out = dir.path().join("out");
    let o = run_archive(&server, &out, &keys.secret, &[]).await;
    assert_eq!(o.status.code(), Some(5), "a failed capture");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("tawthiq: error: ") && last.contains("token"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "nothing published, no partial"
    );
}

#[test]
fn a_missing_token_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let o = support::run(
        tawthiq()
            .args(["archive", "x", "me", "--key"])
            .arg(&keys.secret)
            .env_remove("TAWTHIQ_X_TOKEN"),
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("TAWTHIQ_X_TOKEN"), "{stderr}");
}

fn export_fixture(rel: &str) -> Vec<u8> {
    fixture(&format!("export/happy/{rel}"))
}

#[test]
fn import_x_archive_bundles_every_public_file_and_skips_dms() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let zip = dir.path().join("twitter-2025-05-04-abc.zip");
    let dm = export_fixture("data/direct-messages.js");
    write_zip(
        &zip,
        &[
            ("data/account.js", &export_fixture("data/account.js")),
            ("data/tweets.js", &export_fixture("data/tweets.js")),
            ("data/direct-messages.js", &dm),
        ],
    );
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "x"])
            .arg(&zip)
            .arg("-o")
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret)
            .arg("--tar"),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    // Two media files the posts name are not in the archive: gaps, so the import is partial.
    assert_eq!(
        o.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("outcome    partial"), "{stdout}");
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    let bundle = only_file(&out);
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(
        !bytes.windows(dm.len()).any(|w| w == dm.as_slice()),
        "DMs were imported"
    );
    let ls = support::ok(
        tawthiq()
            .arg("ls")
            .arg(&bundle)
            .arg("--pubkey")
            .arg(&keys.public),
    );
    assert!(ls.contains("data/original/export/data/tweets.js"), "{ls}");
}

#[test]
fn a_hostile_zip_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let zip = dir.path().join("evil.zip");
    write_zip(
        &zip,
        &[
            ("data/account.js", &export_fixture("data/account.js")),
            ("../../evil.txt", b"owned"),
        ],
    );
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "x"])
            .arg(&zip)
            .arg("-o")
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret),
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("evil.txt"), "{stderr}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
    assert!(!dir.path().parent().unwrap().join("evil.txt").exists());
}

/// Ctrl-C (SIGINT) or SIGTERM in the middle of a download: nothing is published, no hidden
/// partial file stays behind in the output folder, and the exit code names the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_archive_leaves_nothing_behind() {
    interrupted_archive("INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_archive_leaves_nothing_behind() {
    interrupted_archive("TERM", 143).await;
}

async fn interrupted_archive(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/2/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("api/users_me.json"), "application/json"),
        )
        .mount(&server)
        .await;
    // The timeline never comes: the capture is mid-way when it is interrupted.
    Mock::given(path_regex(r"^/api/2/users/\d+/tweets$"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_mins(1)))
        .mount(&server)
        .await;
    let out = dir.path().join("out");
    let hosts = format!("api.x.com={u}/api,pbs.twimg.com={u}/pbs", u = server.uri());
    let child = tawthiq()
        .args(["archive", "x", "me", "-o"])
        .arg(&out)
        .arg("--key")
        .arg(&keys.secret)
        .env("TAWTHIQ_X_TOKEN", TOKEN)
        .env("TAWTHIQ_HOSTS", hosts)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the timeline was asked for (the bundle's partial file exists by then).
    for _ in 0..100 {
        let asked = server.received_requests().await.unwrap();
        if asked.iter().any(|r| r.url.path().ends_with("/tweets")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let hidden = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(hidden, 1, "the unfinished bundle is being written (hidden)");
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status.code(), Some(code));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("interrupted by SIG{signal}")),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
