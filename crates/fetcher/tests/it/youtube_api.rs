//! `YouTube` Data API route against a local replay of the API and its image hosts (`wiremock`),
//! with answers written from the documented shapes (`tests/fixtures/youtube/api/`), and yt-dlp
//! played by small shell scripts the tests write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fetcher::platforms::youtube::api::{ChannelTarget, YouTubeApi, YtAuth};
use fetcher::{MemorySink, Secret};
use model::{ContentId, GapReason, ItemKind, Platform, Route};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::macros::datetime;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::conformance::{
    Harness, SECRET, assert_no_secret, assert_well_formed, conformance, expect_error,
};

const CH: &str = "UCm4dR4s4tAlN00r_Sch00l1";
const UU: &str = "UUm4dR4s4tAlN00r_Sch00l1";
const A: &str = "Xq3vT9kLm2A";
const B: &str = "b7Rk2NpQw4E";
const C: &str = "Lv5sHc8Jd1Z";
const D: &str = "zD0nE9gOnE3";
const DELETED: &str = "dEl3t3dVid0";
const PRIVATE: &str = "pR1v4t3Vid0";
const T1: &str = "UgzT1aBcDeFgHiJkLmN4AaABAg";
const T2: &str = "UgyT2oPqRsTuVwXyZaB4AaABAg";
const R3: &str = "UgzT1aBcDeFgHiJkLmN4AaABAg.A1b2C3d4E7h";
const R4: &str = "UgwT3cDeFgHiJkLmNoP4AaABAg.B9c8D7e6F5g";
const CAPTION: &str = "AUieDaZk3nT8qRsV1wXyZ0aBcDeFgHiJkLmN";
const API: &str = "/gapi/youtube/v3";

const LOGO: &str = "/ggpht/ytc/AIdro_kN4r-Sch00lLogo=s800-c-k-c0x00ffffff-no-rj";
const BANNER: &str = "/yt3gu/Xb4nN3r_alnoor-banner";
const LOGO_BYTES: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 school logo 800px";
const BANNER_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n banner of the school";

/// The thumbnail chosen per video (A: maxres, B: high, C: standard — the best offered).
fn thumb(id: &str) -> (&'static str, Vec<u8>) {
    let name = match id {
        A => "maxresdefault",
        B => "hqdefault",
        _ => "sddefault",
    };
    (
        name,
        format!("\u{FFFD}JPEG thumbnail {name} of {id}").into_bytes(),
    )
}

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/youtube/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!(
        "www.googleapis.com={uri}/gapi,i.ytimg.com={uri}/ytimg,yt3.ggpht.com={uri}/ggpht,\
         yt3.googleusercontent.com={uri}/yt3gu"
    )
}

fn json(status: u16, body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json; charset=UTF-8")
}

fn bytes_ok(body: &[u8], ty: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_vec(), ty)
}

fn sha(b: &[u8]) -> ContentId {
    ContentId(Sha256::digest(b).into())
}

fn oauth() -> YtAuth {
    YtAuth::OAuth(Secret::new(SECRET))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `mine=true` with the owner's token: captions listed and downloaded.
    OAuthMine,
    /// `forHandle` with an API key: no caption calls at all.
    KeyHandle,
}

async fn mount_channel(server: &MockServer, mode: Mode, times: u64) {
    let m = Mock::given(method("GET"))
        .and(path(format!("{API}/channels")))
        .and(query_param(
            "part",
            "snippet,contentDetails,statistics,brandingSettings",
        ));
    let m = match mode {
        Mode::OAuthMine => m.and(query_param("mine", "true")),
        Mode::KeyHandle => m.and(query_param("forHandle", "@madrasatalnoor")),
    };
    m.respond_with(json(200, fixture("channels_mine.json")))
        .expect(times)
        .mount(server)
        .await;
    for (p, body, ty) in [
        (LOGO, LOGO_BYTES, "image/jpeg"),
        (BANNER, BANNER_BYTES, "image/png"),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(bytes_ok(body, ty))
            .expect(times)
            .mount(server)
            .await;
    }
}

async fn mount_playlist(server: &MockServer, times: u64) {
    let page = |token: Option<&str>| {
        let m = Mock::given(method("GET"))
            .and(path(format!("{API}/playlistItems")))
            .and(query_param("playlistId", UU))
            .and(query_param("part", "snippet,contentDetails,status"))
            .and(query_param("maxResults", "50"));
        match token {
            None => m.and(query_param_is_missing("pageToken")),
            Some(t) => m.and(query_param("pageToken", t)),
        }
    };
    page(None)
        .respond_with(json(200, fixture("playlistItems_p1.json")))
        .expect(times)
        .mount(server)
        .await;
    page(Some("EAAaBlBUOkNESQ"))
        .respond_with(json(200, fixture("playlistItems_p2.json")))
        .expect(times)
        .mount(server)
        .await;
}

/// Everything after the playlist: videos, thumbnails, comments, captions.
async fn mount_videos(server: &MockServer, mode: Mode, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("{API}/videos")))
        .and(query_param(
            "part",
            "snippet,contentDetails,status,statistics,liveStreamingDetails",
        ))
        .and(query_param("id", format!("{A},{B},{C},{D}")))
        .respond_with(json(200, fixture("videos.json")))
        .expect(times)
        .mount(server)
        .await;
    for id in [A, B, C] {
        let (name, body) = thumb(id);
        Mock::given(method("GET"))
            .and(path(format!("/ytimg/vi/{id}/{name}.jpg")))
            .respond_with(bytes_ok(&body, "image/jpeg"))
            .expect(times)
            .mount(server)
            .await;
    }
    let threads = |video: &str| {
        Mock::given(method("GET"))
            .and(path(format!("{API}/commentThreads")))
            .and(query_param("videoId", video))
            .and(query_param("part", "snippet,replies"))
            .and(query_param("maxResults", "100"))
            .and(query_param("textFormat", "plainText"))
    };
    threads(A)
        .and(query_param_is_missing("pageToken"))
        .respond_with(json(200, fixture("commentThreads_A_p1.json")))
        .expect(times)
        .mount(server)
        .await;
    threads(A)
        .and(query_param("pageToken", "QURTSl9pMlhUc0FfMQ"))
        .respond_with(json(200, fixture("commentThreads_A_p2.json")))
        .expect(times)
        .mount(server)
        .await;
    // B reports commentCount "0": not asked.
    threads(B)
        .respond_with(json(500, b"{}".to_vec()))
        .expect(0)
        .mount(server)
        .await;
    threads(C)
        .respond_with(json(403, fixture("error_comments_disabled.json")))
        .expect(times)
        .mount(server)
        .await;
    let replies = |token: Option<&str>| {
        let m = Mock::given(method("GET"))
            .and(path(format!("{API}/comments")))
            .and(query_param("parentId", T1))
            .and(query_param("part", "snippet"))
            .and(query_param("maxResults", "100"));
        match token {
            None => m.and(query_param_is_missing("pageToken")),
            Some(t) => m.and(query_param("pageToken", t)),
        }
    };
    replies(None)
        .respond_with(json(200, fixture("comments_T1_p1.json")))
        .expect(times)
        .mount(server)
        .await;
    replies(Some("R2VuZXJhdGVkUDI"))
        .respond_with(json(200, fixture("comments_T1_p2.json")))
        .expect(times)
        .mount(server)
        .await;
    let caption_calls = if mode == Mode::OAuthMine { times } else { 0 };
    Mock::given(method("GET"))
        .and(path(format!("{API}/captions")))
        .and(query_param("videoId", A))
        .and(query_param("part", "snippet"))
        .respond_with(json(200, fixture("captions_A.json")))
        .expect(caption_calls)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/captions/{CAPTION}")))
        .and(query_param("tfmt", "vtt"))
        .respond_with(bytes_ok(
            &fixture("caption_ar.vtt"),
            "text/vtt; charset=utf-8",
        ))
        .expect(caption_calls)
        .mount(server)
        .await;
}

async fn mount_all(server: &MockServer, mode: Mode, times: u64) {
    mount_channel(server, mode, times).await;
    mount_playlist(server, times).await;
    mount_videos(server, mode, times).await;
}

fn video_json(id: &str) -> Value {
    fixture_json("videos.json")["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap()
        .clone()
}

fn gap_for<'a>(sink: &'a MemorySink, id: &str, reason: &GapReason) -> Vec<&'a model::Gap> {
    sink.gaps
        .iter()
        .filter(|g| g.item_id.as_deref() == Some(id) && g.reason == *reason)
        .collect()
}

#[tokio::test]
async fn owner_channel_is_captured_with_comments_captions_and_gaps() {
    let server = MockServer::start().await;
    mount_all(&server, Mode::OAuthMine, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, |t| {
        Box::new(YouTubeApi::new(t, oauth(), ChannelTarget::Mine))
    })
    .await;
    assert_profile(&sink);
    assert_videos(&sink);
    assert_owner_comments(&sink);
    assert_gaps(&sink);
    assert_report(&report);
    assert_documents(&sink);
    assert_token_only_to_api(&server).await;
}

fn assert_profile(sink: &MemorySink) {
    assert_eq!(sink.account.as_ref().unwrap().as_str(), CH);
    let prof = sink.profile.as_ref().unwrap();
    assert_eq!(prof.platform, Platform::Youtube);
    assert_eq!(
        prof.display_name.as_deref(),
        Some("مدرسة النور الابتدائية 🌙")
    );
    assert_eq!(prof.username.as_deref(), Some("madrasatalnoor"));
    let ch = fixture_json("channels_mine.json");
    assert_eq!(
        prof.description.as_deref(),
        ch["items"][0]["snippet"]["description"].as_str()
    );
    assert_eq!(prof.counts["subscribers"], 2310);
    assert_eq!(prof.counts["videos"], 6);
    assert_eq!(prof.counts["views"], 184_523);
    assert_eq!(prof.media.len(), 2, "channel picture and banner");
    assert_eq!(prof.media[0].sha256, Some(sha(LOGO_BYTES)));
    assert_eq!(prof.media[0].offered.len(), 3);
    assert_eq!(prof.media[0].chosen.as_ref().unwrap().width, Some(800));
    assert_eq!(prof.media[1].sha256, Some(sha(BANNER_BYTES)));
}

fn assert_videos(sink: &MemorySink) {
    // Videos in playlist order, each followed by the channel's own comments on it.
    let ids: Vec<&str> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [A, R3, T2, R4, B, C]);
    let a = &sink.items[0];
    let va = video_json(A);
    let expected_text = format!(
        "{}\n\n{}",
        va["snippet"]["title"].as_str().unwrap(),
        va["snippet"]["description"].as_str().unwrap()
    );
    assert_eq!(a.text, expected_text);
    assert_eq!(a.kind, ItemKind::Video);
    assert_eq!(a.route, Route::Api);
    assert_eq!(a.lang.as_deref(), Some("ar"));
    assert_eq!(a.created_at, datetime!(2024-06-20 17:45:03 UTC));
    assert_eq!(
        a.url.as_deref(),
        Some("https://www.youtube.com/watch?v=Xq3vT9kLm2A")
    );
    assert_eq!(a.metrics["views"], 3421);
    assert_eq!(a.metrics["likes"], 187);
    assert_eq!(a.metrics["comments"], 7);
    assert_eq!(a.metrics["duration_seconds"], 768);
    assert!(
        a.source_path
            .as_deref()
            .unwrap()
            .ends_with("-videos-b1.json")
    );
    // Media of A: the maxres thumbnail (every size offered), then the Arabic caption track.
    assert_eq!(a.media.len(), 2);
    assert_eq!(a.media[0].sha256, Some(sha(&thumb(A).1)));
    assert_eq!(
        a.media[0].original_url,
        "https://i.ytimg.com/vi/Xq3vT9kLm2A/maxresdefault.jpg"
    );
    let widths: Vec<u32> = a.media[0]
        .offered
        .iter()
        .map(|r| r.width.unwrap())
        .collect();
    assert_eq!(widths, [1280, 640, 480, 320, 120]);
    let vtt = fixture("caption_ar.vtt");
    assert_eq!(a.media[1].sha256, Some(sha(&vtt)));
    assert_eq!(sink.media[&sha(&vtt)], vtt, "caption stored byte-exact");
    assert_eq!(
        a.media[1].original_url,
        format!("https://www.googleapis.com/youtube/v3/captions/{CAPTION}?tfmt=vtt")
    );

    let b = &sink.items[4];
    assert_eq!(
        b.text, "درس الرياضيات: الكسور ➗",
        "no description: the title alone"
    );
    assert_eq!(
        b.media[0].original_url,
        "https://i.ytimg.com/vi/b7Rk2NpQw4E/hqdefault.jpg"
    );
    assert_eq!(b.created_at.unix_timestamp(), 1_710_050_400);
    let c = &sink.items[5];
    assert_eq!(c.metrics["duration_seconds"], 93_600, "P1DT2H");
    assert!(
        !c.metrics.contains_key("likes"),
        "hidden likes are not zero"
    );
    assert_eq!(
        c.media[0].original_url,
        "https://i.ytimg.com/vi/Lv5sHc8Jd1Z/sddefault.jpg"
    );
}

fn assert_owner_comments(sink: &MemorySink) {
    // The channel's own comments and replies are items; the audience's are not.
    let t2 = &sink.items[2];
    assert_eq!(t2.kind, ItemKind::Reply);
    assert_eq!(t2.text, "شكراً لجميع أولياء الأمور على الحضور 🌷");
    assert_eq!(t2.references, [A]);
    let r3 = &sink.items[1];
    assert_eq!(r3.text, "نعم، الصور متاحة على موقع المدرسة 📷");
    assert_eq!(r3.references, [A, T1]);
    assert_eq!(r3.metrics["likes"], 6);
    assert_eq!(sink.items[3].text, "يبدأ التسجيل في ١٥ شوال إن شاء الله.");
}

fn assert_gaps(sink: &MemorySink) {
    // Gaps: two placeholders, one id videos.list did not return, three video files.
    assert_eq!(gap_for(sink, DELETED, &GapReason::Unavailable).len(), 1);
    assert!(
        gap_for(sink, DELETED, &GapReason::Unavailable)[0]
            .detail
            .contains("Deleted video")
    );
    assert_eq!(gap_for(sink, PRIVATE, &GapReason::Unavailable).len(), 1);
    assert_eq!(gap_for(sink, D, &GapReason::Unavailable).len(), 1);
    for id in [A, B, C] {
        let g = gap_for(sink, id, &GapReason::NotSupportedByRoute);
        assert_eq!(g.len(), 1, "{id}");
        assert!(
            g[0].detail.contains("tawthiq import youtube"),
            "{}",
            g[0].detail
        );
    }
    assert_eq!(sink.gaps.len(), 6);
    assert!(
        !sink
            .items
            .iter()
            .any(|i| [DELETED, PRIVATE, D].contains(&i.id.as_str()))
    );
}

fn assert_report(report: &fetcher::Report) {
    assert_eq!(report.platform_reported["videos"], 6);
    assert_eq!(report.platform_reported["subscribers"], 2310);
    assert_eq!(report.platform_reported["views"], 184_523);
    let cap = &report.captured;
    assert_eq!(cap["videos"], 3);
    assert_eq!(cap["comments"], 7);
    assert_eq!(cap["owner_comments"], 3);
    assert_eq!(cap["comments_disabled_videos"], 1);
    assert_eq!(cap["captions"], 1);
    assert_eq!(cap["captions_asr_skipped"], 1);
    assert_eq!(cap["thumbnails"], 3);
    assert_eq!(cap["video_files"], 0);
    // channels 1 + playlistItems 2 + videos 1 + commentThreads 3 + comments 2
    // + captions.list 50 + one caption download 200.
    assert_eq!(cap["quota_units"], 259);
    assert!(
        report
            .statement
            .starts_with("incomplete: 3 videos, 7 comments"),
        "{}",
        report.statement
    );
    assert!(
        report.statement.contains("Google Takeout"),
        "{}",
        report.statement
    );
    assert!(
        report
            .statement
            .contains("comments are disabled on 1 video")
    );
}

fn assert_documents(sink: &MemorySink) {
    // Every comment page is kept as evidence; the comments-disabled answer too.
    let endpoints: Vec<&str> = sink.documents.iter().map(|(e, ..)| e.as_str()).collect();
    for e in [
        "channels",
        "playlistItems-p1",
        "playlistItems-p2",
        "videos-b1",
        "commentThreads-Xq3vT9kLm2A-p1",
        "commentThreads-Xq3vT9kLm2A-p2",
        "comments-Xq3vT9kLm2A-p1",
        "comments-Xq3vT9kLm2A-p2",
        "commentThreads-Lv5sHc8Jd1Z-p1",
        "captions-Xq3vT9kLm2A",
    ] {
        assert!(endpoints.contains(&e), "{e} not stored: {endpoints:?}");
    }
}

async fn assert_token_only_to_api(server: &MockServer) {
    // The token went as a Bearer header to the API only.
    for r in server.received_requests().await.unwrap() {
        let bearer = r
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        if r.url.path().starts_with("/gapi/") {
            assert_eq!(bearer, Some(format!("Bearer {SECRET}")));
        } else {
            assert_eq!(bearer, None, "token sent to {}", r.url);
        }
        assert!(!r.url.as_str().contains(SECRET));
    }
}

#[tokio::test]
async fn api_key_route_names_the_channel_and_leaves_captions_as_gaps() {
    let server = MockServer::start().await;
    mount_all(&server, Mode::KeyHandle, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, |t| {
        let target: ChannelTarget = "@madrasatalnoor".parse().unwrap();
        Box::new(YouTubeApi::new(
            t,
            YtAuth::ApiKey(Secret::new(SECRET)),
            target,
        ))
    })
    .await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), CH);
    let captions = gap_for(&sink, A, &GapReason::NotSupportedByRoute);
    assert_eq!(captions.len(), 2, "captions and the video file");
    assert!(captions.iter().any(|g| g.detail.contains("OAuth token")));
    assert_eq!(sink.items[0].media.len(), 1, "the thumbnail only");
    assert_eq!(report.captured["captions"], 0);
    assert_eq!(report.captured["quota_units"], 9);
    for r in server.received_requests().await.unwrap() {
        let key = r
            .url
            .query_pairs()
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.into_owned());
        if r.url.path().starts_with("/gapi/") {
            assert_eq!(key.as_deref(), Some(SECRET), "{}", r.url.path());
        } else {
            assert_eq!(key, None, "key sent to {}", r.url);
        }
        assert!(r.headers.get("authorization").is_none());
    }
    // The logged URLs never carry the key (conformance checks the bytes; this checks intent).
    assert!(sink.log.iter().all(|e| !e.url.contains("key=")));
}

#[tokio::test]
async fn mine_with_an_api_key_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let h = Harness::new(&hosts(&server));
    let mut src = YouTubeApi::new(
        &h.transport,
        YtAuth::ApiKey(Secret::new(SECRET)),
        ChannelTarget::Mine,
    );
    let (result, sink) = h.capture(&mut src).await;
    let e = expect_error(result, "config");
    assert!(e.to_string().contains("OAuth"), "{e}");
    assert!(sink.log.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_channel_answered_with_no_items_is_gone_and_the_answer_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/channels")))
        .and(query_param("id", CH))
        .respond_with(json(200, fixture("channels_gone.json")))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let target: ChannelTarget = CH.parse().unwrap();
    let mut src = YouTubeApi::new(&h.transport, oauth(), target);
    let (result, sink) = h.capture(&mut src).await;
    let e = expect_error(result, "account_not_found");
    assert!(e.to_string().contains("channel gone or unknown"), "{e}");
    assert!(sink.account.is_none());
    assert_eq!(sink.documents.len(), 1);
    assert_eq!(sink.documents[0].2, fixture("channels_gone.json"));
    assert_eq!(
        sink.log[0].payload_path.as_deref(),
        Some(sink.documents[0].3.path.as_str())
    );
    assert_no_secret(&sink, &e.to_string());
}

#[tokio::test]
async fn an_expired_token_stops_the_capture() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/channels")))
        .respond_with(json(401, fixture("error_auth.json")))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut src = YouTubeApi::new(&h.transport, oauth(), ChannelTarget::Mine);
    let (result, sink) = h.capture(&mut src).await;
    let e = expect_error(result, "auth_expired");
    assert!(e.to_string().contains("authError"), "{e}");
    assert!(sink.account.is_none());
    assert_no_secret(&sink, &e.to_string());
}

#[tokio::test]
async fn a_spent_quota_defers_the_channel_to_midnight_pacific() {
    let server = MockServer::start().await;
    mount_channel(&server, Mode::OAuthMine, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/playlistItems")))
        .respond_with(json(403, fixture("error_quota.json")))
        .expect(1)
        .mount(&server)
        .await;
    // 06:30 UTC on 2025-05-04 is 23:30 PDT: the quota resets in 30 minutes, more than 1.
    let h = Harness::with(&hosts(&server), |cfg| {
        cfg.retry.max_wait = Duration::from_mins(1);
    });
    let mut src = YouTubeApi::new(&h.transport, oauth(), ChannelTarget::Mine);
    let (result, sink) = h.capture(&mut src).await;
    let e = expect_error(result, "deferred");
    assert_eq!(e.retry_at(), Some(datetime!(2025-05-04 07:00 UTC)));
    assert!(h.clock.sleeps().is_empty(), "nothing waited");
    assert_eq!(
        sink.account.as_ref().unwrap().as_str(),
        CH,
        "begun before the stop"
    );
    assert!(sink.profile.is_some());
    let last = sink.documents.last().unwrap();
    assert_eq!(last.0, "playlistItems-p1");
    assert_eq!(last.2, fixture("error_quota.json"), "the refusal is kept");
}

#[tokio::test]
async fn a_quota_reset_within_the_maximum_wait_is_waited_for() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/channels")))
        .respond_with(json(403, fixture("error_quota.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_all(&server, Mode::OAuthMine, 1).await;
    let h = Harness::with(&hosts(&server), |cfg| {
        cfg.retry.max_wait = Duration::from_hours(1);
    });
    let mut src = YouTubeApi::new(&h.transport, oauth(), ChannelTarget::Mine);
    let (result, sink) = h.capture(&mut src).await;
    let report = result.expect("capture after the reset");
    // Until 07:00 UTC (midnight PDT) plus the transport's one second of margin.
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(30 * 60 + 1)]);
    assert_eq!(report.captured["videos"], 3);
    assert_well_formed(&report, &sink);
}

// ---------------------------------------------------------------------------------------------
// yt-dlp, played by a shell script.

const VERSION: &str = "2025.01.15";

/// Writes an executable stand-in for yt-dlp: `--version` prints [`VERSION`]; a download
/// appends its arguments to `args.log` beside it and writes a known file to the `-o` path,
/// unless `special` (shell `case` arms on `$id`) decides otherwise.
fn stand_in(dir: &Path, special: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.join("args.log");
    let script = format!(
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "{VERSION}"; exit 0; fi
printf '%s\n' "$*" >> '{log}'
out=""; prev=""; url=""
for a in "$@"; do
  if [ "$prev" = "-o" ]; then out="$a"; fi
  prev="$a"; url="$a"
done
id="${{url##*v=}}"
case "$id" in
{special}
esac
file=$(printf '%s' "$out" | sed -e "s/%(id)s/$id/" -e "s/%(ext)s/mp4/")
printf 'stand-in video file for %s\n' "$id" > "$file"
echo "[download] Destination: $file"
"#,
        log = log.display()
    );
    let p = dir.join("yt-dlp");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread may fork while this file is still open for writing ("text file
    // busy"); run it until it answers so the adapter's first run cannot hit that.
    for _ in 0..200 {
        if std::process::Command::new(&p)
            .arg("--version")
            .output()
            .is_ok()
        {
            return p;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the stand-in yt-dlp does not run");
}

fn video_bytes(id: &str) -> Vec<u8> {
    format!("stand-in video file for {id}\n").into_bytes()
}

#[tokio::test]
async fn yt_dlp_files_are_stored_and_the_command_logged() {
    let server = MockServer::start().await;
    mount_all(&server, Mode::OAuthMine, 2).await;
    let tools = tempfile::tempdir().unwrap();
    let program = stand_in(tools.path(), "");
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, |t| {
        Box::new(YouTubeApi::new(t, oauth(), ChannelTarget::Mine).with_yt_dlp(program.clone()))
    })
    .await;
    assert_eq!(report.captured["video_files"], 3);
    for id in [A, B, C] {
        let item = sink.items.iter().find(|i| i.id == id).unwrap();
        let file = item.media.last().unwrap();
        let bytes = video_bytes(id);
        assert_eq!(file.sha256, Some(sha(&bytes)), "{id}");
        assert_eq!(sink.media[&sha(&bytes)], bytes);
        let watch = format!("https://www.youtube.com/watch?v={id}");
        assert_eq!(file.original_url, watch);
        assert_eq!(file.chosen.as_ref().unwrap().url, watch);
        assert_eq!(
            file.chosen.as_ref().unwrap().content_type.as_deref(),
            Some("video/mp4")
        );
        assert!(gap_for(&sink, id, &GapReason::NotSupportedByRoute).is_empty());
        let entry = sink
            .log
            .iter()
            .find(|e| e.method == "EXEC" && e.url == watch)
            .expect("an EXEC entry");
        assert_eq!(entry.tool, format!("yt-dlp {VERSION}"));
        assert_eq!(entry.body_sha256, Some(sha(&bytes)));
        assert_eq!(entry.body_bytes, Some(bytes.len() as u64));
        let stored = format!("{}.mp4", sha(&bytes));
        assert!(entry.payload_path.as_deref().unwrap().ends_with(&stored));
        let note = entry.note.as_deref().unwrap();
        assert!(note.starts_with(&program.display().to_string()), "{note}");
        assert!(
            note.contains("--ignore-config --no-progress --no-playlist -f 'bv*+ba/b' -o '"),
            "{note}"
        );
        assert!(
            note.ends_with(&format!("%(id)s.%(ext)s' '{watch}'")),
            "{note}"
        );
    }
    assert_eq!(sink.log.iter().filter(|e| e.method == "EXEC").count(), 3);
    assert_eq!(sink.gaps.len(), 3, "placeholders and the missing id only");
    assert!(
        report.statement.contains("3 video files"),
        "{}",
        report.statement
    );
    // Two captures, three videos each; the token never reached the program.
    let args = std::fs::read_to_string(tools.path().join("args.log")).unwrap();
    assert_eq!(args.lines().count(), 6);
    assert!(args.lines().all(|l| l.contains("--no-playlist")));
    assert!(!args.contains(SECRET));
}

#[tokio::test]
async fn a_failing_or_hanging_yt_dlp_leaves_a_gap_for_that_video() {
    let server = MockServer::start().await;
    mount_all(&server, Mode::OAuthMine, 2).await;
    let tools = tempfile::tempdir().unwrap();
    let special = format!(
        "{B}) echo \"ERROR: [youtube] {B}: Private video. Sign in if you've been granted access\" >&2; exit 1;;\n\
         {C}) exec sleep 5;;"
    );
    let program = stand_in(tools.path(), &special);
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, |t| {
        Box::new(
            YouTubeApi::new(t, oauth(), ChannelTarget::Mine)
                .with_yt_dlp(program.clone())
                .with_yt_dlp_timeout(Duration::from_millis(1500)),
        )
    })
    .await;
    assert_eq!(report.captured["video_files"], 1);
    let failed = gap_for(&sink, B, &GapReason::Other);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].detail.contains("Private video"),
        "{}",
        failed[0].detail
    );
    assert!(
        failed[0].detail.contains("exit status: 1"),
        "{}",
        failed[0].detail
    );
    let hung = gap_for(&sink, C, &GapReason::Other);
    assert_eq!(hung.len(), 1);
    assert!(
        hung[0].detail.contains("did not finish within"),
        "{}",
        hung[0].detail
    );
    for (id, words) in [(B, "Private video"), (C, "did not finish")] {
        let watch = format!("https://www.youtube.com/watch?v={id}");
        let entry = sink
            .log
            .iter()
            .find(|e| e.method == "EXEC" && e.url == watch)
            .unwrap();
        assert!(entry.body_sha256.is_none());
        let note = entry.note.as_deref().unwrap();
        assert!(note.contains(words) && note.contains("command: "), "{note}");
    }
    let b = sink.items.iter().find(|i| i.id == B).unwrap();
    assert_eq!(b.media.len(), 1, "the thumbnail only");
}

#[tokio::test]
async fn a_yt_dlp_that_cannot_run_leaves_a_gap_per_video() {
    let server = MockServer::start().await;
    mount_all(&server, Mode::OAuthMine, 1).await;
    let h = Harness::new(&hosts(&server));
    let missing = std::env::temp_dir().join("tawthiq-no-such-yt-dlp-9f2c");
    let mut src = YouTubeApi::new(&h.transport, oauth(), ChannelTarget::Mine).with_yt_dlp(missing);
    let (result, sink) = h.capture(&mut src).await;
    let report = result.unwrap();
    assert_well_formed(&report, &sink);
    for id in [A, B, C] {
        let g = gap_for(&sink, id, &GapReason::Other);
        assert_eq!(g.len(), 1, "{id}");
        assert!(
            g[0].detail.contains("yt-dlp could not run"),
            "{}",
            g[0].detail
        );
    }
    assert_eq!(report.captured["video_files"], 0);
}
