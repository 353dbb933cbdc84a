//! Waiting and offline work, seen from the command line: a wait is shown as it starts and
//! summed up at the end; an import whose download links cannot be reached finishes at once
//! with every memory and a gap that names `--no-fetch`.

use std::path::Path;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, keygen, media_bytes, write_zip};

const MID: &str = "0b6a1c7e-2f4d-4c1a-9e8b-7d6c5b4a3f21";

/// A My Data zip with one memory whose media is only behind its Download Link.
fn one_linked_memory(dir: &Path) -> std::path::PathBuf {
    let memories = format!(
        r#"{{"Saved Media":[{{"Date":"2024-09-23 06:05:00 UTC","Media Type":"Image",
        "Download Link":"https://app.snapchat.com/dmd/memories?uid=u1&sid=s1&mid={MID}&ts=1727071500&sig=abc"}}]}}"#
    );
    let zip = dir.join("mydata~1746340200000.zip");
    write_zip(&zip, &[("json/memories_history.json", memories.as_bytes())]);
    zip
}

/// The link answers 429 with `Retry-After: 3` once (a wait of about 4 s with the transport's
/// margin of a second), then the signed URL; the wait is shown on stderr as it starts (platform, host,
/// until when, why) and summed up at the end (how many, how long, the longest, per platform).
#[tokio::test]
async fn a_wait_is_shown_as_it_starts_and_summed_up_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let zip = one_linked_memory(dir.path());
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/app/dmd/memories"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_string("slow down"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/dmd/memories"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "https://cf-st.sc-cdn.net/d/mem1.jpg?Signature=S",
            "text/plain",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cdn/d/mem1.jpg"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(1, 5_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg"),
        )
        .mount(&server)
        .await;
    let u = server.uri();
    let hosts = format!("app.snapchat.com={u}/app,*.sc-cdn.net={u}/cdn");
    let out = dir.path().join("out");
    let zip = zip.to_str().unwrap().to_owned();
    let o = support::capture(
        &["import", "snapchat", &zip, "--account", "alnoor_school"],
        &hosts,
        &out,
        &keys.secret,
        &[("TAWTHIQ_LOG", "warn")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    support::assert_published(&o, "Signature=S");
    assert!(stdout.contains("gaps       0"), "{stdout}");
    let shown = stderr
        .lines()
        .find(|l| l.starts_with("waiting: snapchat (app.snapchat.com) until "))
        .unwrap_or_else(|| panic!("no wait line in {stderr}"));
    assert!(
        shown.contains(
            " s; the platform's reset time): HTTP 429 from https://app.snapchat.com/dmd/memories"
        ),
        "{shown}"
    );
    assert_eq!(stderr.matches("waiting: ").count(), 1, "{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("waits: "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    // About 4 s: "3 s" or "4 s" depending on how late the timer fired.
    assert!(
        summary.starts_with("waits: 1 (")
            && summary.contains("; longest ")
            && summary.contains(": snapchat (the platform's reset time), HTTP 429 from")
            && summary.contains("; by platform: snapchat 1 ("),
        "{summary}"
    );
}

/// Issue 13: offline, the memories' links were retried for minutes and the import then
/// recorded nothing. Now it publishes every memory at once, with a gap naming `--no-fetch`.
#[tokio::test]
async fn an_offline_snapchat_import_keeps_every_memory_and_names_no_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let zip = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/registry/exports/alnoor-snapchat-mydata.zip");
    let out = dir.path().join("out");
    let o = support::capture(
        &["import", "snapchat", zip.to_str().unwrap()],
        &format!("*=http://{closed}"),
        &out,
        &keys.secret,
        &[("TAWTHIQ_LOG", "warn")],
    )
    .await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stdout.contains("verified   VALID"), "{stdout}\n{stderr}");
    assert!(stdout.contains("captured   5 items"), "{stdout}");
    assert!(stdout.contains("gaps       3"), "{stdout}");
    assert_eq!(
        o.status.code(),
        Some(3),
        "memories without their media: partial"
    );
    assert!(
        stdout.contains("could not be reached") && stdout.contains("--no-fetch"),
        "{stdout}"
    );
    assert!(!stderr.contains("waiting:"), "nothing waited: {stderr}");
}
