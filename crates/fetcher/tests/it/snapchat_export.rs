//! Snapchat's "My Data" export: zips built at test time from
//! `tests/fixtures/snapchat/export/mydata/` (written from the documented shapes, reference §5.3:
//! five memories, newest first — E and C with both links, D with only a `Media Download Url`,
//! B and A with their files under `memories/`, A with its overlay and a real location, B and D
//! at Null Island; one file under `memories/` named by no memory; private chats, friends,
//! locations, searches, snaps and chat media; the HTML mirror), the download links answered by
//! `wiremock`, and hand-crafted hostile zips.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use fetcher::export_zip::ZipLimits;
use fetcher::platforms::snapchat::export::SnapchatExport;
use fetcher::{MemorySink, Report, Source};
use model::{GapReason, ItemKind, Platform, Route};
use time::macros::datetime;
use wiremock::matchers::{body_string, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zip::ZipWriter;

use crate::conformance::{Harness, conformance, expect_error};
use crate::export_support::{
    Entries, HostileZips, PRIVATE_BYTES, assert_bytes_absent, assert_nothing_emitted,
    assert_refused, case_entries, hostile_suite, ids, open, opts, run, sha_of, write_zip,
};

const A: &str = "0f3a6d2e-1b4c-4d5e-8f60-7a8b9c0d1e2f";
const B: &str = "5b1e9c47-2d3a-4f6b-9a0c-1e2d3f4a5b6c";
const C: &str = "a7c4e2f1-8b9d-4e0a-b1c2-d3e4f5a6b7c8";
const D: &str = "c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e6f";
const E: &str = "e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7";
const Z: &str = "f0e1d2c3-b4a5-4968-8776-655443322110";
const NAME: &str = "مدرسة النور 🏫";
const ZIP: &str = "mydata~1725600000000.zip";
const ZIP2: &str = "mydata~1725600000000-2.zip";

type Snap = SnapchatExport<'static>;

fn entries() -> Entries {
    case_entries("snapchat", "mydata", "")
}

fn body_of<'a>(entries: &'a Entries, name: &str) -> &'a [u8] {
    &entries.iter().find(|(n, _)| n == name).unwrap().1
}

/// The `Saved Media` element whose links name `mid`.
fn memory_json(entries: &Entries, mid: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_slice(body_of(entries, "json/memories_history.json")).unwrap();
    v["Saved Media"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m.to_string().contains(mid))
        .unwrap()
        .clone()
}

/// The conformance harness over two imports (with link fetching through `h` when `fetch`).
async fn conform(h: &Harness, paths: &[PathBuf], fetch: bool) -> (Report, MemorySink) {
    let d = ZipLimits::default();
    let sources = Mutex::new(vec![
        SnapchatExport::open_with(paths, d).await.expect("open"),
        SnapchatExport::open_with(paths, d).await.expect("open"),
    ]);
    conformance(h, |t| {
        let s = sources.lock().unwrap().pop().unwrap();
        Box::new(if fetch { s.fetch_links(t) } else { s })
    })
    .await
}

/// `entries` with another `json/memories_history.json`.
fn with_memories(entries: &Entries, json: &str) -> Entries {
    let mut e: Entries = entries
        .iter()
        .filter(|(n, _)| n != "json/memories_history.json")
        .cloned()
        .collect();
    e.push((
        "json/memories_history.json".into(),
        json.as_bytes().to_vec(),
    ));
    e
}

fn item<'a>(sink: &'a MemorySink, mid: &str) -> &'a model::Item {
    let id = format!("memory-{mid}");
    sink.items.iter().find(|i| i.id == id).unwrap()
}

/// Nothing private, nor account.json, reached the sink; stored files are byte-exact.
fn assert_private_kept_out(sink: &MemorySink, entries: &Entries) {
    assert_bytes_absent(sink, &PRIVATE_BYTES);
    let stored: Vec<&String> = sink.export_files.keys().collect();
    assert_eq!(
        stored,
        [
            "json/memories_history.json".to_owned(),
            "json/story_history.json".to_owned(),
            format!("memories/2024-08-30_{Z}-main.jpg"),
            format!("memories/2024-09-01_{A}-main.jpg"),
            format!("memories/2024-09-01_{A}-overlay.png"),
            format!("memories/2024-09-02_{B}-main.mp4"),
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    for (name, (body, _)) in &sink.export_files {
        assert_eq!(body.as_ref(), body_of(entries, name), "{name} byte-exact");
    }
}

/// No signature of a link is written by the importer (items, gaps, errors).
fn assert_no_signature(sink: &MemorySink, report: &Report) {
    let derived = format!(
        "{}{}{report:?}",
        serde_json::to_string(&sink.items).unwrap(),
        serde_json::to_string(&sink.gaps).unwrap()
    );
    assert!(!derived.contains("SIG"), "a signature leaked: {derived}");
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn imports_memories_without_fetching_links() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = entries();
    let zip = write_zip(tmp.path(), ZIP, &entries);
    let source = SnapchatExport::open(std::slice::from_ref(&zip))
        .await
        .unwrap();
    assert_eq!(source.platform(), Platform::Snapchat);
    assert_eq!(source.route(), Route::Export);
    let h = Harness::new("");
    let (report, sink) = conform(&h, &[zip], false).await;

    // Account and profile from json/account.json (Arabic display name as written).
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.school");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username.as_deref(), Some("alnoor.school"));
    assert_eq!(profile.display_name.as_deref(), Some(NAME));
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.snapchat.com/add/alnoor.school")
    );

    // One item per memory, in file order, named by the mid of its links.
    let want: Vec<String> = [E, D, C, B, A]
        .iter()
        .map(|m| format!("memory-{m}"))
        .collect();
    assert_eq!(ids(&sink), want);
    assert!(sink.items.iter().all(|i| i.kind == ItemKind::Post
        && i.route == Route::Export
        && i.source_path.as_deref() == Some("data/original/export/json/memories_history.json")));
    assert_eq!(
        item(&sink, A).created_at,
        datetime!(2024-09-01 08:15:30 UTC)
    );
    assert_eq!(
        item(&sink, E).created_at,
        datetime!(2024-09-05 17:42:10 UTC)
    );
    // A real location is kept as written; Null Island and no location give no text.
    assert_eq!(item(&sink, A).text, "📍 24.7136, 46.6753");
    assert_eq!(item(&sink, C).text, "📍 21.4858, 39.1925");
    assert_eq!(item(&sink, B).text, "");
    assert_eq!(item(&sink, D).text, "");
    assert_eq!(item(&sink, E).text, "");

    // Media in the export: main, then the overlay (the caption), by their path in the export.
    let mem_a = item(&sink, A);
    let a_main = format!("memories/2024-09-01_{A}-main.jpg");
    let a_overlay = format!("memories/2024-09-01_{A}-overlay.png");
    assert_eq!(mem_a.media.len(), 2);
    assert_eq!(mem_a.media[0].original_url, a_main);
    assert_eq!(mem_a.media[0].sha256, Some(sha_of(&sink, &a_main)));
    assert_eq!(mem_a.media[1].original_url, a_overlay);
    assert_eq!(mem_a.media[1].sha256, Some(sha_of(&sink, &a_overlay)));
    let mem_b = item(&sink, B);
    assert_eq!(mem_b.media.len(), 1);
    assert_eq!(
        mem_b.media[0].sha256,
        Some(sha_of(&sink, &format!("memories/2024-09-02_{B}-main.mp4")))
    );

    // Media not in the export, links not fetched: a gap per memory naming its link, signature
    // redacted; nothing requested.
    assert!(sink.media.is_empty() && sink.documents.is_empty());
    assert_eq!(sink.gaps.len(), 3);
    for (mid, host) in [
        (E, "https://app.snapchat.com/dmd/memories?"),
        (D, "https://us-east1-aws.api.snapchat.com/dmd/mm?"),
        (C, "https://app.snapchat.com/dmd/memories?"),
    ] {
        let it = item(&sink, mid);
        assert_eq!(it.media.len(), 1);
        assert_eq!(it.media[0].sha256, None);
        let url = &it.media[0].original_url;
        assert!(url.starts_with(host), "{url}");
        assert!(url.contains(&format!("mid={mid}")), "{url}");
        assert!(url.ends_with("sig=[REDACTED]"), "{url}");
        let gap = sink
            .gaps
            .iter()
            .find(|g| g.item_id.as_deref() == Some(it.id.as_str()))
            .unwrap();
        assert_eq!(gap.reason, GapReason::MissingFromExport);
        assert_eq!(gap.url.as_deref(), Some(url.as_str()));
        assert!(gap.detail.contains("not fetched"), "{}", gap.detail);
    }
    assert_no_signature(&sink, &report);
    assert_private_kept_out(&sink, &entries);
    // One IMPORT log entry per stored file, nothing else.
    assert_eq!(sink.log.len(), 6);
    assert!(sink.log.iter().all(|e| e.method == "IMPORT"));

    assert_eq!(report.captured["memories"], 5);
    assert_eq!(report.captured["media"], 4);
    assert_eq!(report.captured["files"], 6);
    assert_eq!(report.captured["links_fetched"], 0);
    assert_eq!(report.captured["links_not_fetched"], 3);
    assert_eq!(report.captured["links_expired"], 0);
    assert_eq!(report.captured["story_views"], 2);
    // chat_history, friends, location_history, search_history, snap_history, chat_media/…
    assert_eq!(report.captured["private_files_skipped"], 6);
    // user_profile.json, index.html, html/memories_history.html
    assert_eq!(report.captured["other_files_skipped"], 3);
    let s = &report.statement;
    for part in [
        "5 memories with 4 media files",
        "1 of them named by no memory",
        "3 memories' media are not in the export",
        "Story view statistics (2 records)",
        "json/account.json was read for the username and display name only and not stored",
        "6 private files (chats, friends, locations, searches, snaps sent and received) were deliberately neither read nor imported",
        "saved stories or Spotlight videos",
        "tawthiq archive snapchat <user>",
    ] {
        assert!(s.contains(part), "{part:?} not in {s}");
    }
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!(
        "app.snapchat.com={uri}/app,us-east1-aws.api.snapchat.com={uri}/api,*.sc-cdn.net={uri}/cdn"
    )
}

/// The query string of a memory's link (what the POST must send).
fn query_of(link: &str) -> String {
    link.split_once('?').unwrap().1.to_owned()
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn fetches_still_valid_links_and_records_expired_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = entries();
    let zip = write_zip(tmp.path(), ZIP, &entries);
    let server = MockServer::start().await;
    let c_link = memory_json(&entries, C)["Download Link"]
        .as_str()
        .unwrap()
        .to_owned();
    let e_link = memory_json(&entries, E)["Download Link"]
        .as_str()
        .unwrap()
        .to_owned();
    let signed = "https://cf-st.sc-cdn.net/d/memories/c.jpg?Expires=1725700000&Signature=SIGcdn&Key-Pair-Id=K1";
    let c_photo = b"\xff\xd8\xff\xe0\x00\x10JFIF memory C fetched".to_vec();
    // A Media Download Url may answer with a ZIP of main + overlay: stored as delivered.
    let d_zip = {
        let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(format!("{D}-main.mp4"), opts()).unwrap();
        w.write_all(b"video D").unwrap();
        w.start_file(format!("{D}-overlay.png"), opts()).unwrap();
        w.write_all(b"overlay D").unwrap();
        w.finish().unwrap().into_inner()
    };
    Mock::given(method("POST"))
        .and(path("/app/dmd/memories"))
        .and(body_string(query_of(&c_link)))
        .respond_with(ResponseTemplate::new(200).set_body_raw(signed, "text/plain"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/dmd/memories"))
        .and(body_string(query_of(&e_link)))
        .respond_with(ResponseTemplate::new(403).set_body_raw("Forbidden", "text/plain"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cdn/d/memories/c.jpg"))
        .and(query_param("Signature", "SIGcdn"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(c_photo.clone(), "image/jpeg"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/dmd/mm"))
        .and(query_param("mid", D))
        .respond_with(ResponseTemplate::new(200).set_body_raw(d_zip.clone(), "application/zip"))
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conform(&h, &[zip], true).await;

    // C: POST of the link's query string, answered with a signed URL, then that URL's file.
    let posts: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 4, "two links, two imports");
    assert_eq!(
        String::from_utf8(posts[0].body.clone()).unwrap(),
        query_of(&e_link)
    );
    assert_eq!(
        String::from_utf8(posts[1].body.clone()).unwrap(),
        query_of(&c_link)
    );
    assert!(posts.iter().all(|r| {
        r.headers
            .get("content-type")
            .is_some_and(|v| v == "application/x-www-form-urlencoded")
    }));
    let post_logs: Vec<_> = sink.log.iter().filter(|e| e.method == "POST").collect();
    assert_eq!(post_logs.len(), 2);
    assert!(
        post_logs
            .iter()
            .all(|e| e.url == "https://app.snapchat.com/dmd/memories"),
        "the POST is logged without its query (the signature travels in the body)"
    );
    let mem_c = item(&sink, C);
    assert_eq!(mem_c.media.len(), 1);
    let c_sha = mem_c.media[0].sha256.expect("C fetched");
    assert_eq!(sink.media[&c_sha].as_ref(), c_photo.as_slice());
    assert!(mem_c.media[0].original_url.ends_with("sig=[REDACTED]"));
    // Both links' answers are kept as evidence: E's refusal, then C's signed URL.
    let answers: Vec<(&str, &[u8])> = sink
        .documents
        .iter()
        .map(|(endpoint, _, body, _)| (endpoint.as_str(), body.as_ref()))
        .collect();
    assert_eq!(
        answers,
        [
            ("memory-link", &b"Forbidden"[..]),
            ("memory-link", signed.as_bytes())
        ]
    );

    // D: the Media Download Url by a direct GET; the ZIP it answers is stored as is.
    let mem_d = item(&sink, D);
    let d_sha = mem_d.media[0].sha256.expect("D fetched");
    assert_eq!(sink.media[&d_sha].as_ref(), d_zip.as_slice());
    assert!(
        mem_d.media[0]
            .original_url
            .starts_with("https://us-east1-aws.api.snapchat.com/dmd/mm?")
    );

    // E: the link is refused (403): a gap, and the import went on.
    let mem_e = item(&sink, E);
    assert_eq!(mem_e.media[0].sha256, None);
    assert_eq!(sink.gaps.len(), 1);
    let gap = &sink.gaps[0];
    assert_eq!(gap.item_id.as_deref(), Some(mem_e.id.as_str()));
    assert_eq!(gap.reason, GapReason::Unavailable);
    assert!(
        gap.detail
            .contains("download link expired; request a new My Data export"),
        "{}",
        gap.detail
    );
    assert!(gap.url.as_deref().unwrap().ends_with("sig=[REDACTED]"));
    // A and B came from the export: no link of theirs was requested.
    assert!(!server.received_requests().await.unwrap().iter().any(|r| {
        r.url
            .query()
            .is_some_and(|q| q.contains(A) || q.contains(B))
            || String::from_utf8_lossy(&r.body).contains(A)
    }));
    assert_no_signature(&sink, &report);
    assert_private_kept_out(&sink, &entries);

    assert_eq!(report.captured["links_fetched"], 2);
    assert_eq!(report.captured["links_expired"], 1);
    assert_eq!(report.captured["links_not_fetched"], 0);
    assert_eq!(report.captured["media"], 6);
    let s = &report.statement;
    assert!(
        s.contains("2 fetched through the memories' download links"),
        "{s}"
    );
    assert!(
        s.contains("1 memory's download link no longer works"),
        "{s}"
    );
}

/// Issue 13: offline, an import whose memories' links cannot be reached recorded nothing and
/// retried for minutes. Now every memory is still imported; each link host is tried once (no
/// backoff), the other links to it not at all; the gaps and the statement name `--no-fetch`.
#[tokio::test]
async fn unreachable_link_hosts_are_tried_once_and_every_memory_is_kept_with_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = entries();
    let zip = write_zip(tmp.path(), ZIP, &entries);
    // A local port nothing listens on: connections are refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let h = Harness::with(&format!("*=http://{closed}"), |c| {
        c.retry = fetcher::RetryPolicy::default();
    });
    let mut source = SnapchatExport::open(&[zip])
        .await
        .unwrap()
        .fetch_links(&h.transport);
    let (r, sink) = h.capture(&mut source).await;
    let report = r.expect("the import goes on without the links");

    // All five memories, A and B with their media from the export.
    assert_eq!(sink.items.len(), 5);
    assert!(item(&sink, A).media[0].sha256.is_some());
    assert!(item(&sink, B).media[0].sha256.is_some());
    // C and E (Download Links, app.snapchat.com) and D (a Media Download Url on another
    // host): one gap each, naming the host and --no-fetch.
    assert_eq!(sink.gaps.len(), 3, "{:?}", sink.gaps);
    for (mid, host) in [
        (C, "app.snapchat.com"),
        (D, "us-east1-aws.api.snapchat.com"),
        (E, "app.snapchat.com"),
    ] {
        let id = format!("memory-{mid}");
        assert_eq!(item(&sink, mid).media[0].sha256, None);
        let gap = sink
            .gaps
            .iter()
            .find(|g| g.item_id.as_deref() == Some(id.as_str()))
            .unwrap();
        assert_eq!(gap.reason, GapReason::Other);
        assert!(
            gap.detail.contains(&format!("{host} could not be reached"))
                && gap.detail.contains("--no-fetch"),
            "{}",
            gap.detail
        );
    }
    // One attempt per host, logged; no wait at all.
    let requests: Vec<_> = sink.log.iter().filter(|e| e.method != "IMPORT").collect();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|e| e.note.as_deref().unwrap().contains("Connection refused"))
    );
    assert!(h.clock.sleeps().is_empty(), "{:?}", h.clock.sleeps());
    assert_eq!(report.captured["links_unreachable"], 3);
    assert_eq!(report.captured["memories"], 5);
    assert!(
        report.statement.contains("--no-fetch"),
        "{}",
        report.statement
    );
    assert_no_signature(&sink, &report);
}

#[tokio::test]
async fn a_split_export_is_read_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let all = entries();
    // Part 2 holds B's video and the unreferenced file; both parts repeat index.html.
    let in_part2 = |n: &str| n.contains(B) || n.contains(Z);
    let part1: Entries = all.iter().filter(|(n, _)| !in_part2(n)).cloned().collect();
    let part2: Entries = all
        .iter()
        .filter(|(n, _)| in_part2(n) || n == "index.html")
        .cloned()
        .collect();
    let p1 = write_zip(tmp.path(), ZIP, &part1);
    let p2 = write_zip(tmp.path(), ZIP2, &part2);
    let h = Harness::new("");
    let (report, sink) = conform(&h, &[p1, p2], false).await;
    assert_eq!(sink.items.len(), 5);
    assert_eq!(
        item(&sink, B).media[0].sha256,
        Some(sha_of(&sink, &format!("memories/2024-09-02_{B}-main.mp4")))
    );
    assert_private_kept_out(&sink, &all);
    assert_eq!(report.captured["media"], 4);

    // The same export under one top folder (unzipped and zipped again) imports the same.
    let wrapped: Entries = all
        .iter()
        .map(|(n, b)| (format!("mydata~1725600000000/{n}"), b.clone()))
        .collect();
    let p = write_zip(tmp.path(), "rezipped.zip", &wrapped);
    let (r, again) = run::<Snap>(&[p], ZipLimits::default(), None).await;
    r.unwrap();
    assert_eq!(ids(&again), ids(&sink));
    assert_eq!(again.items[4].media.len(), 2);
}

#[tokio::test]
async fn the_account_comes_from_account_json_or_with_account() {
    let tmp = tempfile::tempdir().unwrap();
    let all = entries();
    let d = ZipLimits::default();
    // --account wins over the export's username.
    let p = write_zip(tmp.path(), ZIP, &all);
    let (r, sink) = run::<Snap>(&[p], d, Some("alnoor-snap")).await;
    r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor-snap");
    assert_eq!(
        sink.profile.as_ref().unwrap().username.as_deref(),
        Some("alnoor.school")
    );

    // No account.json: the import asks for --account, and nothing is emitted…
    let without: Entries = all
        .iter()
        .filter(|(n, _)| n != "json/account.json")
        .cloned()
        .collect();
    let p = write_zip(tmp.path(), "mydata~1.zip", &without);
    let (r, sink) = run::<Snap>(std::slice::from_ref(&p), d, None).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("pass --account"), "{e}");
    assert_nothing_emitted(&sink);
    // …which then files it.
    let (r, sink) = run::<Snap>(&[p], d, Some("alnoor-snap")).await;
    let report = r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor-snap");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username, None);
    assert_eq!(profile.display_name, None);
    assert!(!report.statement.contains("account.json was read"));
}

/// A refusal (`bad_export` with `reason`, one line), nothing emitted.
async fn refused(paths: &[PathBuf], limits: ZipLimits, reason: &str) {
    assert_refused(open::<Snap>(paths, limits, Some("school")), reason).await;
}

#[tokio::test]
async fn other_zips_are_refused_with_what_to_request() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let all = entries();
    let html_only: Entries = all
        .iter()
        .filter(|(n, _)| n == "index.html" || n.starts_with("html/"))
        .cloned()
        .collect();
    let p = write_zip(tmp.path(), "html.zip", &html_only);
    refused(&[p], d, "HTML format only").await;

    let no_memories: Entries = all
        .iter()
        .filter(|(n, _)| n.starts_with("json/") && n != "json/memories_history.json")
        .cloned()
        .collect();
    let p = write_zip(tmp.path(), "nomem.zip", &no_memories);
    refused(&[p], d, "Memories were not included").await;

    let x = vec![(
        "data/tweets.js".to_owned(),
        b"window.YTD.tweets.part0 = []".to_vec(),
    )];
    let p = write_zip(tmp.path(), "x.zip", &x);
    refused(
        &[p],
        d,
        "not a Snapchat My Data export (no json/memories_history.json): found data",
    )
    .await;

    let p = tmp.path().join("not-a-zip.zip");
    std::fs::write(&p, b"hello").unwrap();
    refused(&[p], d, "not a zip archive").await;
}

#[tokio::test]
async fn a_changed_shape_fails_loudly_before_anything_is_emitted() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let all = entries();
    let with_memories = |json: &str| with_memories(&all, json);
    for (i, (json, reason)) in [
        (
            r#"{"Saved Media":[{"Date":"2024-09-01T08:15:30Z"}]}"#,
            "Saved Media[0]: Date",
        ),
        (
            r#"{"Saved Media":[{"Date":"2024-09-01 08:15:30 UTC","Location":"Riyadh"}]}"#,
            "Saved Media[0]: Location",
        ),
        (r#"{"Memories":[]}"#, "expected {\"Saved Media\""),
        ("<html>", "not valid JSON"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = write_zip(tmp.path(), &format!("m{i}.zip"), &with_memories(json));
        let (r, sink) = run::<Snap>(&[p], d, None).await;
        let e = expect_error(r, "malformed");
        assert!(e.to_string().contains(reason), "{e}");
        assert_nothing_emitted(&sink);
    }
    // An empty Saved Media is a valid export of an account without memories.
    let p = write_zip(
        tmp.path(),
        "empty.zip",
        &with_memories(r#"{"Saved Media":[]}"#),
    );
    let (r, sink) = run::<Snap>(&[p], d, None).await;
    assert_eq!(r.unwrap().captured["memories"], 0);
    assert!(sink.items.is_empty());
}

#[tokio::test]
async fn hostile_zips_are_refused_with_nothing_emitted() {
    hostile_suite::<Snap>(HostileZips {
        base: entries(),
        victim: &format!("memories/2024-09-01_{A}-main.jpg"),
        folder: "memories/",
        stem: "mydata~1725600000000",
        account: Some("school"),
    })
    .await;
}
