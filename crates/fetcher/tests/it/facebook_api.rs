//! Facebook Page route (Graph API, Page token) against a local replay of Graph and the CDN
//! (`wiremock`), with responses written from the documented shapes
//! (`tests/fixtures/facebook/api/`). Paging links in the fixtures carry `ACCESS_TOKEN_ECHO`,
//! served as the real token, as Graph echoes it in `paging.next`.

use std::time::Duration;

use fetcher::platforms::facebook::api::{FacebookApi, PageTarget, VIDEO_LOOKUP_FIELDS};
use fetcher::{MemorySink, Secret, Source, Transport};
use model::{ContentId, GapReason, Item, ItemKind, Platform, Route};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use crate::conformance::{Harness, SECRET, assert_no_secret, conformance, expect_error};

const PAGE: &str = "104523456789012";
const ECHO: &str = "ACCESS_TOKEN_ECHO";
const AFTER_P2: &str = "QVFIUjBhMlBfa2V5X3Bvc3RzX3Ay";
const AFTER_P3: &str = "QVFIUjBhMlBfa2V5X3Bvc3RzX3Az";
const PHOTO_IDS: &str = "8811000000000101,8811000000000102,8811000000000103,8811000000000301";
const VIDEO_ID: &str = "881100000000201";

/// Every file the happy Page references and the capture must download, with its bytes.
const FILES: &[(&str, &[u8], &str)] = &[
    (
        "/cdn/v/t39.30808-1/480000001_profile_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 school logo 960",
        "image/jpeg",
    ),
    (
        "/cdn/v/t39.30808-6/480000002_cover_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 cover: school building",
        "image/jpeg",
    ),
    (
        "/cdn/v/t39.30808-6/481000101_2048_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 volcano experiment 2048",
        "image/jpeg",
    ),
    (
        "/cdn/v/t39.30808-6/481000102_2048_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 circuits 2048",
        "image/jpeg",
    ),
    (
        "/cdn/v/t39.30808-6/481000103_2048_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 prize giving 2048",
        "image/jpeg",
    ),
    (
        "/cdn/v/t39.30808-6/481000301_2048_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 morning assembly 2048",
        "image/jpeg",
    ),
    (
        "/cdn/o1/v/t2/f2/m69/AQO201_hd.mp4",
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00 lab tour hd",
        "video/mp4",
    ),
    (
        "/cdn/v/t39.30808-6/481000401_1600_n.jpg",
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 new school logo 1600",
        "image/jpeg",
    ),
    (
        "/cdn/o1/v/t2/f2/m69/AQO501_hd.mp4",
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00 national anthem hd",
        "video/mp4",
    ),
    (
        "/cdn/o1/v/t2/f2/m69/AQO601_reel.mp4",
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00 sports day reel",
        "video/mp4",
    ),
];

fn file(p: &str) -> &'static [u8] {
    FILES.iter().find(|f| f.0 == p).unwrap().1
}

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/facebook/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

fn replace(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(body.to_vec())
        .unwrap()
        .replace(from, to)
        .into_bytes()
}

/// The fixture as Graph serves it: paging links echo the caller's token.
fn served(name: &str) -> Vec<u8> {
    replace(&fixture(name), ECHO, SECRET)
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!("graph.facebook.com={uri}/graph,*.fbcdn.net={uri}/cdn")
}

fn graph_ok(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body.into(), "application/json; charset=UTF-8")
        .insert_header(
            "x-app-usage",
            r#"{"call_count":3,"total_cputime":1,"total_time":2}"#,
        )
        .insert_header("x-fb-trace-id", "BkQ3mX9zT1a")
}

fn graph_err(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json; charset=UTF-8")
}

/// A GET to Graph at `/v23.0/{p}` that carries the token.
fn graph(p: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/graph/v23.0/{p}")))
        .and(query_param("access_token", SECRET))
}

fn sha(b: &[u8]) -> ContentId {
    ContentId(Sha256::digest(b).into())
}

fn source(t: &Transport) -> Box<dyn Source + '_> {
    Box::new(FacebookApi::new(t, Secret::new(SECRET), PageTarget::Me))
}

async fn mount_page(server: &MockServer, times: u64) {
    graph("me")
        .and(query_param(
            "fields",
            fetcher::platforms::facebook::api::PAGE_FIELDS,
        ))
        .respond_with(graph_ok(fixture("page.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_posts(server: &MockServer, times: u64) {
    graph(&format!("{PAGE}/published_posts"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(graph_ok(served("posts_p1.json")))
        .expect(times)
        .mount(server)
        .await;
    mount_posts_after_p1(server, times).await;
}

async fn mount_posts_after_p1(server: &MockServer, times: u64) {
    let posts = format!("{PAGE}/published_posts");
    // The empty page has a next link: it is not the end.
    graph(&posts)
        .and(query_param("after", AFTER_P2))
        .respond_with(graph_ok(served("posts_p2_empty.json")))
        .expect(times)
        .mount(server)
        .await;
    graph(&posts)
        .and(query_param("after", AFTER_P3))
        .respond_with(graph_ok(served("posts_p3.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_lookups(server: &MockServer, times: u64) {
    graph("")
        .and(query_param("ids", PHOTO_IDS))
        .and(query_param("fields", "images"))
        .respond_with(graph_ok(fixture("lookup_photos.json")))
        .expect(times)
        .mount(server)
        .await;
    graph("")
        .and(query_param("ids", VIDEO_ID))
        .and(query_param("fields", VIDEO_LOOKUP_FIELDS))
        .respond_with(graph_ok(fixture("lookup_videos.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_uploads(server: &MockServer, times: u64) {
    graph(&format!("{PAGE}/photos"))
        .and(query_param("type", "uploaded"))
        .respond_with(graph_ok(fixture("uploaded_photos.json")))
        .expect(times)
        .mount(server)
        .await;
    graph(&format!("{PAGE}/videos"))
        .respond_with(graph_ok(fixture("uploaded_videos.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_reels(server: &MockServer, times: u64) {
    graph(&format!("{PAGE}/video_reels"))
        .respond_with(graph_ok(fixture("reels.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_files(server: &MockServer, times: u64, except: &[&str]) {
    for (p, body, ty) in FILES.iter().filter(|f| !except.contains(&f.0)) {
        Mock::given(method("GET"))
            .and(path(*p))
            .and(query_param_is_missing("access_token"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_vec(), ty))
            .expect(times)
            .mount(server)
            .await;
    }
}

async fn mount_happy(server: &MockServer, times: u64) {
    mount_page(server, times).await;
    mount_posts(server, times).await;
    mount_lookups(server, times).await;
    mount_uploads(server, times).await;
    mount_reels(server, times).await;
    mount_files(server, times, &[]).await;
}

/// Any CDN file, for tests that stop before the media matter.
async fn mount_any_file(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex("^/cdn/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(&b"\xFF\xD8\xFF any"[..], "image/jpeg"),
        )
        .mount(server)
        .await;
}

fn item<'a>(sink: &'a MemorySink, id: &str) -> &'a Item {
    sink.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

fn endpoints(sink: &MemorySink) -> Vec<&str> {
    sink.documents.iter().map(|d| d.0.as_str()).collect()
}

fn str_of<'v>(v: &'v Value, ptr: &str) -> &'v str {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{ptr}"))
}

/// Every request that reached Graph carried the token; none that reached the CDN did; no log
/// line or stored byte holds it.
async fn assert_token_only_on_the_wire_to_graph(server: &MockServer, sink: &MemorySink) {
    for r in server.received_requests().await.unwrap() {
        let token = r
            .url
            .query_pairs()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned());
        if r.url.path().starts_with("/graph/") {
            assert_eq!(token.as_deref(), Some(SECRET), "{}", r.url.path());
            assert!(
                r.url
                    .query_pairs()
                    .filter(|(k, _)| k == "access_token")
                    .count()
                    == 1,
                "the echoed token was stripped before the transport added it"
            );
        } else {
            assert_eq!(
                token,
                None,
                "the token was sent to the CDN: {}",
                r.url.path()
            );
        }
    }
    for e in &sink.log {
        assert!(!e.url.contains("access_token"), "{}", e.url);
        assert!(!e.url.contains(SECRET));
    }
    assert_no_secret(sink, "");
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn captures_a_page_with_albums_videos_shares_and_uploads_to_the_end() {
    let server = MockServer::start().await;
    mount_happy(&server, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;

    let p1 = fixture_json("posts_p1.json");
    let p3 = fixture_json("posts_p3.json");
    let page = fixture_json("page.json");

    // Account and profile.
    assert_eq!(sink.account.as_ref().unwrap().as_str(), PAGE);
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.platform, Platform::Facebook);
    assert_eq!(profile.route, Route::Api);
    assert_eq!(profile.id, PAGE);
    assert_eq!(profile.username.as_deref(), Some("alamal.school"));
    assert_eq!(
        profile.display_name.as_deref(),
        Some("مدرسة الأمل الابتدائية 🏫")
    );
    assert_eq!(
        profile.description.as_deref(),
        Some(str_of(&page, "/description"))
    );
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.facebook.com/alamal.school")
    );
    assert_eq!(profile.counts["followers"], 5310);
    assert_eq!(profile.counts["fans"], 4821);
    assert_eq!(report.platform_reported, profile.counts);
    assert_eq!(profile.media.len(), 2, "picture and cover");
    let picture = &profile.media[0];
    assert_eq!(picture.original_url, str_of(&page, "/picture/data/url"));
    assert_eq!(
        picture.sha256,
        Some(sha(file("/cdn/v/t39.30808-1/480000001_profile_n.jpg")))
    );
    assert_eq!(picture.chosen.as_ref().unwrap().width, Some(960));
    assert_eq!(
        profile.media[1].original_url,
        str_of(&page, "/cover/source")
    );
    assert_eq!(
        profile.media[1].sha256,
        Some(sha(file("/cdn/v/t39.30808-6/480000002_cover_n.jpg")))
    );

    // Every page fetched, the empty one included, stored byte-exact but for the echoed token.
    assert_eq!(
        endpoints(&sink),
        [
            "page",
            "posts-p1",
            "photos-lookup-1",
            "videos-lookup-2",
            "posts-p2",
            "posts-p3",
            "photos-p1",
            "videos-p1",
            "reels-p1"
        ]
    );
    for (n, name) in [
        (1, "posts_p1.json"),
        (4, "posts_p2_empty.json"),
        (5, "posts_p3.json"),
    ] {
        assert_eq!(
            &sink.documents[n].2[..],
            &replace(&fixture(name), ECHO, "[REDACTED]")[..],
            "{name}"
        );
    }

    // Items: posts in edge order, then uploads no post carries.
    let post_id = |p: &Value, i: usize| str_of(p, &format!("/data/{i}/id")).to_owned();
    let (album, video, photo) = (post_id(&p1, 0), post_id(&p1, 1), post_id(&p1, 2));
    let (share, status) = (post_id(&p3, 0), post_id(&p3, 1));
    let order: Vec<&str> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        order,
        [
            album.as_str(),
            &video,
            &photo,
            &share,
            &status,
            "881100000000401",
            "881100000000501",
            "881100000000601"
        ]
    );
    for (i, p) in sink.items.iter().take(5).zip(
        p1["data"]
            .as_array()
            .unwrap()
            .iter()
            .chain(p3["data"].as_array().unwrap()),
    ) {
        assert_eq!(i.kind, ItemKind::Post);
        assert!(!i.pinned);
        assert_eq!(i.route, Route::Api);
        assert_eq!(i.platform, Platform::Facebook);
        assert_eq!(i.text.as_bytes(), str_of(p, "/message").as_bytes());
        assert_eq!(i.url.as_deref(), Some(str_of(p, "/permalink_url")));
        assert_eq!(i.created_at.offset(), time::UtcOffset::UTC);
        assert_eq!(
            i.metrics.get("shares").copied(),
            p.pointer("/shares/count").and_then(Value::as_u64)
        );
    }
    let al = item(&sink, &album);
    assert_eq!(
        al.created_at,
        time::macros::datetime!(2025-03-10 07:15:00 UTC)
    );
    assert!(al.text.starts_with("🔬 يوم العلوم") && al.text.contains('\n'));
    assert_eq!(
        al.source_path.as_deref(),
        Some(sink.documents[1].3.path.as_str())
    );
    let st = item(&sink, &status);
    assert_eq!(st.created_at.year(), 2024);
    assert!(st.text.contains("٢٠٢٥ ✨\n\nإدارة"));
    assert!(st.media.is_empty() && st.metrics.is_empty());

    // The album: every sub-item at full resolution, not the cover.
    assert_eq!(al.media.len(), 3);
    let subs = &p1["data"][0]["attachments"]["data"][0]["subattachments"]["data"];
    let lookups = fixture_json("lookup_photos.json");
    for (k, m) in al.media.iter().enumerate() {
        let n = ["0101", "0102", "0103"][k];
        assert_eq!(m.original_url, str_of(&subs[k], "/media/image/src"));
        assert!(m.original_url.contains("_720_n.jpg"));
        let chosen = m.chosen.as_ref().unwrap();
        let images = &lookups[format!("881100000000{n}")]["images"];
        assert_eq!(chosen.url, str_of(images, "/0/source"));
        assert_eq!((chosen.width, chosen.height), (Some(2048), Some(1365)));
        assert_eq!(m.offered.len(), 3, "every rendition offered");
        assert_eq!(m.offered[2].width, Some(720));
        assert_eq!(
            m.sha256,
            Some(sha(file(&format!(
                "/cdn/v/t39.30808-6/48100{n}_2048_n.jpg"
            ))))
        );
    }

    // The video post: the object's source, the attachment's file offered too.
    let v = item(&sink, &video);
    assert_eq!(v.media.len(), 1);
    let m = &v.media[0];
    let att = &p1["data"][1]["attachments"]["data"][0];
    assert_eq!(m.original_url, str_of(att, "/media/source"));
    let lv = fixture_json("lookup_videos.json");
    let chosen = m.chosen.as_ref().unwrap();
    assert_eq!(chosen.url, str_of(&lv, "/881100000000201/source"));
    assert_eq!(chosen.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(m.offered.len(), 2);
    assert_eq!(
        m.sha256,
        Some(sha(file("/cdn/o1/v/t2/f2/m69/AQO201_hd.mp4")))
    );

    let ph = item(&sink, &photo);
    assert_eq!(ph.media.len(), 1);
    assert_eq!(
        ph.media[0].sha256,
        Some(sha(file("/cdn/v/t39.30808-6/481000301_2048_n.jpg")))
    );
    assert_eq!(ph.text, "الطابور الصباحي 🇸🇦");

    // A share records its real target and downloads nothing.
    let sh = item(&sink, &share);
    assert!(sh.media.is_empty());
    assert_eq!(
        sh.references,
        ["https://moe.gov.sa/ar/mediacenter/MOEnews/Pages/exams-2025.aspx"]
    );
    assert_eq!(sh.metrics["shares"], 41);

    // Uploads outside posts; the photo and video a post carried are not captured twice.
    let up = item(&sink, "881100000000401");
    assert_eq!(up.kind, ItemKind::Post);
    assert_eq!(up.text, "شعار المدرسة الجديد 🎨 تصميم الطالب عبدالله");
    assert!(up.url.as_deref().unwrap().contains("fbid=881100000000401"));
    assert_eq!(up.media[0].chosen.as_ref().unwrap().width, Some(1600));
    assert_eq!(
        up.media[0].sha256,
        Some(sha(file("/cdn/v/t39.30808-6/481000401_1600_n.jpg")))
    );
    let uv = item(&sink, "881100000000501");
    assert_eq!(uv.kind, ItemKind::Video);
    assert_eq!(
        uv.text,
        "أداء طلاب الصف الثالث للنشيد الوطني في اليوم الوطني ٩٤"
    );
    assert_eq!(
        uv.url.as_deref(),
        Some("https://www.facebook.com/104523456789012/videos/881100000000501/")
    );
    assert_eq!(
        uv.created_at,
        time::macros::datetime!(2024-10-01 09:00:00 UTC)
    );
    assert_eq!(
        uv.media[0].sha256,
        Some(sha(file("/cdn/o1/v/t2/f2/m69/AQO501_hd.mp4")))
    );
    assert!(
        sink.items
            .iter()
            .all(|i| i.id != "8811000000000301" && i.id != VIDEO_ID)
    );

    // Exactly the served files, each fetched once per run (the mocks expect 2 over 2 runs).
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    assert_eq!(sink.media.len(), FILES.len());
    for (_, body, _) in FILES {
        assert_eq!(&sink.media[&sha(body)][..], *body);
    }
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["photos"], 1);
    assert_eq!(report.captured["videos"], 1);
    // The Reels edge repeats an uploaded video: captured once, as the video.
    assert_eq!(report.captured["reels"], 1);
    let reel = sink.items.last().unwrap();
    assert_eq!(reel.kind, ItemKind::Reel);
    assert_eq!(reel.id, "881100000000601");
    assert_eq!(
        reel.text,
        "🏃‍♂️ اليوم الرياضي المفتوح — الفائزون في سباق ٤×١٠٠ م"
    );
    assert_eq!(
        reel.url.as_deref(),
        Some("https://www.facebook.com/reel/881100000000601/")
    );
    assert_eq!(
        reel.media[0].sha256,
        Some(sha(file("/cdn/o1/v/t2/f2/m69/AQO601_reel.mp4")))
    );
    assert_eq!(report.captured["media"], 10);
    assert!(
        report.statement.contains("may omit posts")
            && report.statement.contains("Download Your Information"),
        "{}",
        report.statement
    );
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| !r.url.path().contains("_720_n") && !r.url.path().contains("emg1")),
        "neither the 720 px renditions nor a share's preview are downloaded"
    );
    assert_token_only_on_the_wire_to_graph(&server, &sink).await;
}

#[tokio::test]
async fn an_expired_token_stops_with_auth_expired() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"Error validating access token: Session has expired on Saturday, 03-May-25 10:00:00 PDT. The current time is Sunday, 04-May-25 23:30:00 PDT.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbCdEf123"}}"#;
    graph("me")
        .respond_with(graph_err(400, body).insert_header(
            "www-authenticate",
            r#"OAuth "Facebook Platform" "invalid_token" "Error validating access token""#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "auth_expired");
    assert!(e.to_string().contains("190"), "{e}");
    assert!(sink.account.is_none() && sink.items.is_empty());
    assert_eq!(
        &sink.documents[0].2[..],
        body.as_bytes(),
        "the answer is evidence"
    );
    assert_token_only_on_the_wire_to_graph(&server, &sink).await;
}

#[tokio::test]
async fn a_deleted_page_is_not_found() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"Unsupported get request. Object with ID '109999999999999' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"A1b2C3"}}"#;
    graph("109999999999999")
        .respond_with(graph_err(400, body))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let target: PageTarget = "109999999999999".parse().unwrap();
    let mut src = FacebookApi::new(&h.transport, Secret::new(SECRET), target);
    let (result, sink) = h.capture(&mut src).await;
    expect_error(result, "account_not_found");
    assert_eq!(endpoints(&sink), ["page"]);
    assert!(sink.items.is_empty());
}

#[tokio::test]
async fn a_missing_permission_names_the_permission() {
    let server = MockServer::start().await;
    mount_page(&server, 1).await;
    let body = r#"{"error":{"message":"(#200) The pages_read_engagement permission must be granted before accessing published_posts","type":"OAuthException","code":200,"fbtrace_id":"Zz9"}}"#;
    graph(&format!("{PAGE}/published_posts"))
        .respond_with(graph_err(403, body))
        .expect(1)
        .mount(&server)
        .await;
    mount_any_file(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "auth_expired");
    assert!(e.to_string().contains("permission"), "{e}");
    assert_eq!(sink.account.as_ref().unwrap().as_str(), PAGE);
}

#[tokio::test]
async fn a_person_token_is_asked_to_be_a_page_token() {
    let server = MockServer::start().await;
    let body = r#"{"error":{"message":"(#100) Tried accessing nonexisting field (fan_count) on node type (User)","type":"OAuthException","code":100,"fbtrace_id":"Qq1"}}"#;
    graph("me")
        .respond_with(graph_err(400, body))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, _) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "auth_expired");
    assert!(e.to_string().contains("Page access token"), "{e}");
}

/// Code 32 (Page limit) and 80001 (Pages BUC) on the second page: wait the announced minutes,
/// then finish.
#[tokio::test]
async fn throttling_waits_for_the_regain_time_then_completes() {
    for (code, message) in [
        (32, "(#32) Page request limit reached"),
        (
            80001,
            "There have been too many calls to this Page account. Wait a bit and try again.",
        ),
    ] {
        let server = MockServer::start().await;
        let body = json!({"error": {"message": message, "type": "OAuthException", "code": code,
            "fbtrace_id": "Tt1"}});
        graph(&format!("{PAGE}/published_posts"))
            .and(query_param("after", AFTER_P2))
            .respond_with(
                graph_err(400, &body.to_string()).insert_header(
                    "x-business-use-case-usage",
                    r#"{"104523456789012":[{"type":"pages","call_count":100,"total_cputime":14,"total_time":22,"estimated_time_to_regain_access":10}]}"#,
                ),
            )
            .up_to_n_times(1)
            .expect(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount_happy(&server, 1).await;
        let h = Harness::new(&hosts(&server));
        let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
        let report = result.unwrap_or_else(|e| panic!("code {code}: {e}"));
        assert_eq!(report.captured["posts"], 5);
        assert_eq!(h.clock.sleeps(), [Duration::from_secs(601)], "code {code}");
        let eps = endpoints(&sink);
        assert_eq!(
            eps.iter().filter(|e| **e == "posts-p2").count(),
            2,
            "the throttled answer is evidence too"
        );
        assert_token_only_on_the_wire_to_graph(&server, &sink).await;
    }
}

/// `X-Page-Usage` at 100% on the first posts page: the next Graph request waits (an hour when
/// no regain time is given), then the capture completes; beyond the maximum wait, the account
/// is deferred instead.
#[tokio::test]
async fn page_usage_at_full_budget_paces_the_next_request() {
    let spent = r#"{"call_count":100,"total_cputime":35,"total_time":41}"#;
    let first_page = || {
        graph(&format!("{PAGE}/published_posts"))
            .and(query_param_is_missing("after"))
            .respond_with(graph_ok(served("posts_p1.json")).insert_header("x-page-usage", spent))
            .expect(1)
    };
    let server = MockServer::start().await;
    mount_page(&server, 1).await;
    first_page().mount(&server).await;
    mount_posts_after_p1(&server, 1).await;
    mount_lookups(&server, 1).await;
    mount_uploads(&server, 1).await;
    mount_reels(&server, 1).await;
    mount_files(&server, 1, &[]).await;
    let h = Harness::with(&hosts(&server), |c| {
        c.retry.max_wait = Duration::from_hours(2);
    });
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.expect("the capture completes after the pause");
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(3601)]);
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);

    let server = MockServer::start().await;
    mount_page(&server, 1).await;
    first_page().mount(&server).await;
    mount_any_file(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "deferred");
    assert!(e.retry_at().is_some());
    assert!(h.clock.sleeps().is_empty());
    assert_eq!(
        endpoints(&sink),
        ["page", "posts-p1"],
        "nothing sent while spent"
    );
}

#[tokio::test]
async fn a_cdn_404_is_a_gap_and_the_capture_goes_on() {
    let server = MockServer::start().await;
    let gone = "/cdn/v/t39.30808-6/481000102_2048_n.jpg";
    mount_page(&server, 2).await;
    mount_posts(&server, 2).await;
    mount_lookups(&server, 2).await;
    mount_uploads(&server, 2).await;
    mount_reels(&server, 2).await;
    mount_files(&server, 2, &[gone]).await;
    Mock::given(method("GET"))
        .and(path(gone))
        .respond_with(
            ResponseTemplate::new(404).set_body_raw("URL signature expired", "text/plain"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;
    let al = &sink.items[0];
    assert_eq!(al.media.len(), 3);
    assert_eq!(al.media[1].sha256, None);
    assert!(al.media[0].sha256.is_some() && al.media[2].sha256.is_some());
    assert_eq!(sink.gaps.len(), 1, "{:?}", sink.gaps);
    let g = &sink.gaps[0];
    assert_eq!(g.reason, GapReason::Unavailable);
    assert_eq!(g.item_id.as_deref(), Some(al.id.as_str()));
    assert!(g.url.as_deref().unwrap().contains("481000102_2048_n.jpg"));
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["media"], 9);
    assert!(
        report.statement.contains("1 gap listed"),
        "{}",
        report.statement
    );
}

/// One photo of a batch is gone (100/33 fails the whole `ids=` call): the batch is retried id
/// by id and only that photo falls back to the rendition the post showed.
#[tokio::test]
async fn a_gone_photo_in_a_lookup_batch_costs_only_its_full_resolution() {
    let server = MockServer::start().await;
    let gone = r#"{"error":{"message":"Unsupported get request. Object with ID '8811000000000102' does not exist","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"G0"}}"#;
    graph("")
        .and(query_param("ids", PHOTO_IDS))
        .respond_with(graph_err(400, gone))
        .expect(1)
        .mount(&server)
        .await;
    graph("")
        .and(query_param("ids", "8811000000000102"))
        .respond_with(graph_err(400, gone))
        .expect(1)
        .mount(&server)
        .await;
    let all = fixture_json("lookup_photos.json");
    for id in ["8811000000000101", "8811000000000103", "8811000000000301"] {
        graph("")
            .and(query_param("ids", id))
            .and(query_param("fields", "images"))
            .respond_with(graph_ok(json!({ id: all[id] }).to_string()))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_page(&server, 1).await;
    mount_posts(&server, 1).await;
    graph("")
        .and(query_param("ids", VIDEO_ID))
        .respond_with(graph_ok(fixture("lookup_videos.json")))
        .mount(&server)
        .await;
    mount_uploads(&server, 1).await;
    mount_reels(&server, 1).await;
    mount_files(&server, 1, &["/cdn/v/t39.30808-6/481000102_2048_n.jpg"]).await;
    let shown = "/cdn/v/t39.30808-6/481000102_720_n.jpg";
    Mock::given(method("GET"))
        .and(path(shown))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(&b"\xFF\xD8\xFF 720"[..], "image/jpeg"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.expect("capture completes");
    let al = &sink.items[0];
    let m = &al.media[1];
    assert_eq!(m.sha256, Some(sha(b"\xFF\xD8\xFF 720")));
    assert_eq!(m.chosen.as_ref().unwrap().width, Some(720));
    assert_eq!(al.media[0].chosen.as_ref().unwrap().width, Some(2048));
    assert_eq!(sink.gaps.len(), 1, "{:?}", sink.gaps);
    assert!(sink.gaps[0].detail.contains("8811000000000102"));
    assert_eq!(sink.gaps[0].item_id.as_deref(), Some(al.id.as_str()));
    assert_eq!(report.captured["posts"], 5);
}

#[tokio::test]
async fn a_posts_page_without_data_fails_loudly() {
    let server = MockServer::start().await;
    mount_page(&server, 1).await;
    mount_any_file(&server).await;
    graph(&format!("{PAGE}/published_posts"))
        .respond_with(graph_ok(r#"{"posts":[],"paging":{}}"#))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "malformed");
    assert!(e.to_string().contains("data"), "{e}");
    assert!(sink.items.is_empty());
}

/// A Page whose Reels edge answers with an error loses only its Reels, with a gap saying so.
#[tokio::test]
async fn a_reels_edge_error_is_a_gap_not_a_failed_capture() {
    let server = MockServer::start().await;
    mount_page(&server, 1).await;
    mount_posts(&server, 1).await;
    mount_lookups(&server, 1).await;
    mount_uploads(&server, 1).await;
    mount_any_file(&server).await;
    graph(&format!("{PAGE}/video_reels"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":{"message":"(#100) Tried accessing nonexisting field (video_reels) on node type (Page)","type":"OAuthException","code":100,"fbtrace_id":"AbC"}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.expect("the capture completes");
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["reels"], 0);
    let gap = sink
        .gaps
        .iter()
        .find(|g| g.reason == GapReason::NotSupportedByRoute)
        .expect("a gap for the Reels");
    assert!(gap.detail.contains("Reels"), "{}", gap.detail);
    assert!(report.statement.contains("gap"), "{}", report.statement);
}
