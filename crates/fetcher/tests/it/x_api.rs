//! X API v2 route against a local replay of X (`wiremock`), with pages written from the
//! documented shapes (`tests/fixtures/x/api/`).

use std::time::Duration;

use fetcher::platforms::x::api::{Target, XApi};
use fetcher::{MemorySink, Secret, Source, Transport};
use model::{ContentId, GapReason, Item, ItemKind, Platform, Route};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::conformance::{
    Harness, SECRET, assert_no_secret, conformance, expect_error, start_time,
};

const OWNER: &str = "1456789012345678901";
const TOKEN_P2: &str = "7140dibdnow9c7btw3z2vwzx8yv0okvbuf5y5u0x2qsw9";
const TIMELINE: &str = "/api/2/users/1456789012345678901/tweets";

const PHOTO1: &str = "/pbs/media/GUy7kQ2XsAAq9Zk.jpg";
const PHOTO2: &str = "/pbs/media/GUy7kRfWwAAx3Lm.jpg";
const VIDEO_BEST: &str =
    "/video/ext_tw_video/1833446315262443955/pu/vid/avc1/1280x720/Kx9LmN3oP4qR5sT6.mp4";
const GIF: &str = "/video/tweet_video/GVp2bCdWMAAq1Zt.mp4";
/// The profile picture at its original size (`users_me.json` gives the `_normal` URL).
const AVATAR: &str = "/pbs/profile_images/1456790123456789012/Xk3mPq9R.jpg";
const AVATAR_BYTES: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 school logo, original upload";

const PHOTO1_BYTES: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 photo one: school gate, orig";
const PHOTO2_BYTES: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 photo two: classroom, orig";
const VIDEO_BYTES: &[u8] = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00 science lab tour 720p";
const GIF_BYTES: &[u8] = b"\x00\x00\x00\x1cftypmp42\x00\x00\x00\x00 mental maths party";

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/tests/fixtures/x/api/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!("api.x.com={uri}/api,pbs.twimg.com={uri}/pbs,video.twimg.com={uri}/video")
}

fn json_ok(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body.into(), "application/json; charset=utf-8")
        .insert_header("x-rate-limit-limit", "900")
        .insert_header("x-rate-limit-remaining", "897")
        .insert_header("x-rate-limit-reset", "1746341100")
}

fn bytes_ok(body: &[u8], ty: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_vec(), ty)
}

fn sha(b: &[u8]) -> ContentId {
    ContentId(Sha256::digest(b).into())
}

fn source(t: &Transport) -> Box<dyn Source + '_> {
    Box::new(XApi::new(t, Secret::new(SECRET), Target::Me))
}

async fn mount(server: &MockServer, p: &str, resp: ResponseTemplate, times: Option<u64>) {
    let mut m = Mock::given(method("GET")).and(path(p)).respond_with(resp);
    if let Some(n) = times {
        m = m.expect(n);
    }
    m.mount(server).await;
}

/// users/me, the two timeline pages and every media file, each expected `times` times.
async fn mount_happy(server: &MockServer, times: u64) {
    mount(
        server,
        "/api/2/users/me",
        json_ok(fixture("users_me.json")),
        Some(times),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .and(query_param("max_results", "100"))
        .and(query_param_is_missing("pagination_token"))
        .respond_with(json_ok(fixture("tweets_p1.json")))
        .expect(times)
        .mount(server)
        .await;
    mount_page2(server, times).await;
    mount_media(server, times).await;
}

async fn mount_page2(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .and(query_param("pagination_token", TOKEN_P2))
        .respond_with(json_ok(fixture("tweets_p2.json")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_media(server: &MockServer, times: u64) {
    mount(
        server,
        AVATAR,
        bytes_ok(AVATAR_BYTES, "image/jpeg"),
        Some(times),
    )
    .await;
    for (p, body, ty) in [
        (PHOTO1, PHOTO1_BYTES, "image/jpeg"),
        (PHOTO2, PHOTO2_BYTES, "image/jpeg"),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .and(query_param("name", "orig"))
            .respond_with(bytes_ok(body, ty))
            .expect(times)
            .mount(server)
            .await;
    }
    mount(
        server,
        VIDEO_BEST,
        bytes_ok(VIDEO_BYTES, "video/mp4"),
        Some(times),
    )
    .await;
    mount(server, GIF, bytes_ok(GIF_BYTES, "video/mp4"), Some(times)).await;
}

/// Every post of the fixtures (timeline data and includes), by id.
fn fixture_posts() -> std::collections::HashMap<String, Value> {
    let mut out = std::collections::HashMap::new();
    for page in ["tweets_p1.json", "tweets_p2.json"] {
        let v = fixture_json(page);
        let inc = v["includes"]["tweets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for t in v["data"].as_array().unwrap().iter().chain(&inc) {
            out.insert(t["id"].as_str().unwrap().to_owned(), t.clone());
        }
    }
    out
}

fn item<'a>(sink: &'a MemorySink, id: &str) -> &'a Item {
    sink.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

fn metric(i: &Item, k: &str) -> u64 {
    i.metrics[k]
}

#[tokio::test]
#[allow(clippy::too_many_lines, clippy::many_single_char_names)]
async fn captures_the_owner_timeline_with_media_to_the_end() {
    let server = MockServer::start().await;
    mount_happy(&server, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;

    let posts = fixture_posts();
    let p1 = fixture_json("tweets_p1.json");
    let p2 = fixture_json("tweets_p2.json");
    let ids = |p: &Value| -> Vec<String> {
        p["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (ids1, ids2) = (ids(&p1), ids(&p2));
    let [quote, rt_own, rt_moe, video] = [0, 1, 2, 3].map(|i| ids1[i].as_str());
    let [reply, gif, long, pinned] = [0, 1, 2, 3].map(|i| ids2[i].as_str());
    let moe = posts[rt_moe]["referenced_tweets"][0]["id"]
        .as_str()
        .unwrap();
    let moe2 = posts[quote]["referenced_tweets"][0]["id"].as_str().unwrap();

    // Account, profile, report.
    assert_eq!(sink.account.as_ref().unwrap().as_str(), OWNER);
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username.as_deref(), Some("madrasat_alnoor"));
    assert_eq!(
        profile.display_name.as_deref(),
        Some("مدرسة النور الابتدائية 🏫")
    );
    assert_eq!(
        profile.url.as_deref(),
        Some("https://x.com/madrasat_alnoor")
    );
    assert_eq!(profile.route, Route::Api);
    assert_eq!(profile.media.len(), 1, "the profile picture");
    assert_eq!(profile.media[0].sha256, Some(sha(AVATAR_BYTES)));
    assert_eq!(
        profile.media[0].original_url,
        "https://pbs.twimg.com/profile_images/1456790123456789012/Xk3mPq9R_normal.jpg"
    );
    assert_eq!(
        profile.media[0].chosen.as_ref().unwrap().url,
        "https://pbs.twimg.com/profile_images/1456790123456789012/Xk3mPq9R.jpg"
    );
    for (k, v) in [
        ("followers", 1532),
        ("following", 87),
        ("posts", 8),
        ("listed", 4),
    ] {
        assert_eq!(profile.counts[k], v, "{k}");
        assert_eq!(report.platform_reported[k], v, "{k}");
    }
    assert_eq!(report.captured["posts"], 8);
    assert_eq!(report.captured["media"], 4);
    assert_eq!(report.statement, "complete: 8 posts and 4 media files");
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);

    // Every page stored, in order, as the source of its items.
    let endpoints: Vec<&str> = sink.documents.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(endpoints, ["users-me", "tweets-p1", "tweets-p2"]);
    assert_eq!(&sink.documents[1].2[..], &fixture("tweets_p1.json")[..]);
    assert_eq!(&sink.documents[2].2[..], &fixture("tweets_p2.json")[..]);
    let page_path = |n: usize| Some(sink.documents[n].3.path.clone());

    // Items in timeline order, each field checked.
    let order: Vec<&str> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        order,
        [quote, rt_own, rt_moe, video, reply, gif, long, pinned]
    );
    for i in &sink.items {
        assert_eq!(i.platform, Platform::X);
        assert_eq!(i.route, Route::Api);
        assert_eq!(i.lang.as_deref(), Some("ar"));
        assert_eq!(
            i.url.as_deref(),
            Some(format!("https://x.com/madrasat_alnoor/status/{}", i.id).as_str())
        );
        let t = &posts[&i.id];
        let created = time::OffsetDateTime::parse(
            t["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(i.created_at, created);
        assert_eq!(i.created_at.offset(), time::UtcOffset::UTC);
        let pm = &t["public_metrics"];
        assert_eq!(metric(i, "reposts"), pm["retweet_count"].as_u64().unwrap());
        assert_eq!(metric(i, "replies"), pm["reply_count"].as_u64().unwrap());
        assert_eq!(metric(i, "likes"), pm["like_count"].as_u64().unwrap());
        assert_eq!(metric(i, "quotes"), pm["quote_count"].as_u64().unwrap());
        assert_eq!(
            metric(i, "bookmarks"),
            pm["bookmark_count"].as_u64().unwrap()
        );
        assert_eq!(
            metric(i, "impressions"),
            pm["impression_count"].as_u64().unwrap()
        );
        assert_eq!(i.pinned, i.id == pinned);
        let expected_page = if ids1.contains(&i.id) { 1 } else { 2 };
        assert_eq!(i.source_path, page_path(expected_page));
    }
    let text = |id: &str| posts[id]["text"].as_str().unwrap().to_owned();

    let q = item(&sink, quote);
    assert_eq!(q.kind, ItemKind::Quote);
    assert_eq!(q.text, text(quote));
    assert_eq!(q.references, [moe2]);
    assert!(q.media.is_empty());

    // A repost carries the original's full text, not the truncated "RT @…".
    let r = item(&sink, rt_moe);
    assert_eq!(r.kind, ItemKind::Repost);
    assert!(text(rt_moe).starts_with("RT @moe_gov_sa: "));
    assert_eq!(r.text, text(moe));
    assert_eq!(r.references, [moe]);
    assert!(
        sink.items.iter().all(|i| i.id != moe && i.id != moe2),
        "context is not an item"
    );

    let ro = item(&sink, rt_own);
    assert_eq!(ro.kind, ItemKind::Repost);
    assert_eq!(ro.text, text(pinned));
    assert_eq!(ro.references, [pinned]);

    let long_item = item(&sink, long);
    assert_eq!(long_item.kind, ItemKind::Post);
    let full = posts[long]["note_tweet"]["text"].as_str().unwrap();
    assert_eq!(long_item.text.as_bytes(), full.as_bytes());
    assert!(full.chars().count() > 280 && full.contains('\n'));
    assert_ne!(long_item.text, text(long));
    assert!(long_item.text.contains("٠١١٤٥٦٧٨٩٠"));

    let rep = item(&sink, reply);
    assert_eq!(rep.kind, ItemKind::Reply);
    assert_eq!(rep.text, text(reply));
    assert_eq!(rep.references.len(), 1);

    let pin = item(&sink, pinned);
    assert_eq!(pin.kind, ItemKind::Announcement);
    assert!(pin.pinned);
    assert_eq!(pin.text, text(pinned));
    assert!(pin.text.contains("١٤٤٦") && pin.text.contains("🎉"));
    assert_eq!(
        pin.created_at,
        time::macros::datetime!(2024-08-10 06:15:40 UTC)
    );

    // Photos: original size, same file for the post and its repost, downloaded once per run.
    for i in [pin, ro] {
        assert_eq!(i.media.len(), 2);
        let m = &i.media[0];
        assert_eq!(m.sha256, Some(sha(PHOTO1_BYTES)));
        assert_eq!(
            m.original_url,
            "https://pbs.twimg.com/media/GUy7kQ2XsAAq9Zk.jpg"
        );
        let chosen = m.chosen.as_ref().unwrap();
        assert_eq!(
            chosen.url,
            "https://pbs.twimg.com/media/GUy7kQ2XsAAq9Zk.jpg?name=orig"
        );
        assert_eq!((chosen.width, chosen.height), (Some(2048), Some(1365)));
        assert_eq!(m.offered, std::slice::from_ref(chosen));
        assert_eq!(i.media[1].sha256, Some(sha(PHOTO2_BYTES)));
    }

    // Video: the highest MP4, every variant offered, HLS never fetched.
    let v = item(&sink, video);
    assert_eq!(v.kind, ItemKind::Post);
    assert_eq!(v.media.len(), 1);
    let m = &v.media[0];
    assert_eq!(m.sha256, Some(sha(VIDEO_BYTES)));
    let chosen = m.chosen.as_ref().unwrap();
    assert_eq!(chosen.bitrate, Some(2_176_000));
    assert_eq!(chosen.content_type.as_deref(), Some("video/mp4"));
    assert_eq!((chosen.width, chosen.height), (Some(1280), Some(720)));
    assert_eq!(
        chosen.url,
        format!("https://video.twimg.com{}?tag=12", &VIDEO_BEST[6..])
    );
    assert_eq!(m.original_url, chosen.url);
    let key = posts[video]["attachments"]["media_keys"][0]
        .as_str()
        .unwrap();
    assert!(key.starts_with("7_"));
    let offered: Vec<(Option<&str>, Option<u64>)> = m
        .offered
        .iter()
        .map(|r| (r.content_type.as_deref(), r.bitrate))
        .collect();
    assert_eq!(
        offered,
        [
            (Some("video/mp4"), Some(832_000)),
            (Some("application/x-mpegURL"), None),
            (Some("video/mp4"), Some(2_176_000)),
            (Some("video/mp4"), Some(256_000)),
        ]
    );
    assert!(m.offered[1].url.contains(".m3u8"));
    assert_eq!(m.offered[3].width, Some(480));

    let g = item(&sink, gif);
    let gm = &g.media[0];
    assert_eq!(gm.sha256, Some(sha(GIF_BYTES)));
    assert_eq!(
        gm.original_url,
        "https://video.twimg.com/tweet_video/GVp2bCdWMAAq1Zt.mp4"
    );
    assert_eq!(gm.chosen.as_ref().unwrap().bitrate, Some(0));

    // The sink holds exactly the served bytes.
    assert_eq!(sink.media.len(), 5);
    for b in [
        AVATAR_BYTES,
        PHOTO1_BYTES,
        PHOTO2_BYTES,
        VIDEO_BYTES,
        GIF_BYTES,
    ] {
        assert_eq!(&sink.media[&sha(b)][..], b);
    }

    // The token went to the API and nowhere else.
    let received = server.received_requests().await.unwrap();
    for r in &received {
        let auth = r
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        if r.url.path().starts_with("/api/") {
            assert_eq!(auth, Some(format!("Bearer {SECRET}")), "{}", r.url);
        } else {
            assert_eq!(auth, None, "the token was sent to the CDN: {}", r.url);
        }
        assert!(
            !r.url.path().to_ascii_lowercase().ends_with(".m3u8"),
            "an HLS playlist was fetched"
        );
    }
    let video_requests = received
        .iter()
        .filter(|r| r.url.path().starts_with("/video/ext_tw"))
        .count();
    assert_eq!(video_requests, 2, "only the best variant, once per run");
}

#[tokio::test]
async fn a_window_rate_limit_waits_for_the_reset_then_continues() {
    let server = MockServer::start().await;
    let reset = start_time().unix_timestamp() + 900;
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .and(query_param("pagination_token", TOKEN_P2))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(
                    r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
                    "application/problem+json",
                )
                .insert_header("x-rate-limit-limit", "900")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_happy(&server, 1).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.expect("the capture finishes after the wait");
    assert_eq!(report.captured["posts"], 8);
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(901)]);
    let endpoints: Vec<&str> = sink.documents.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        endpoints,
        ["users-me", "tweets-p1", "tweets-p2", "tweets-p2"],
        "the 429 is evidence too"
    );
    assert_no_secret(&sink, &format!("{report:?}"));
}

#[tokio::test]
async fn a_usage_cap_stops_without_retrying() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/api/2/users/me",
        json_ok(fixture("users_me.json")),
        Some(1),
    )
    .await;
    let body = r#"{"account_id":1690000000,"product_name":"standard-basic","title":"UsageCapExceeded","period":"Monthly","scope":"Product","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.x.com/2/problems/usage-capped","status":429}"#;
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .respond_with(ResponseTemplate::new(429).set_body_raw(body, "application/problem+json"))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    expect_error(result, "quota_exhausted");
    assert!(h.clock.sleeps().is_empty());
    assert_eq!(sink.documents.last().unwrap().0, "tweets-p1");
    assert_no_secret(&sink, "");
}

#[tokio::test]
async fn gone_accounts_fail_with_their_state_and_the_answer_is_kept() {
    let cases = [
        (
            r#"{"errors":[{"value":"alnoor_old","detail":"User has been suspended: [alnoor_old].","title":"Forbidden","resource_type":"user","parameter":"username","resource_id":"alnoor_old","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#,
            "account_suspended",
        ),
        (
            r#"{"errors":[{"value":"alnoor_old","detail":"Could not find user with username: [alnoor_old].","title":"Not Found Error","resource_type":"user","parameter":"username","resource_id":"alnoor_old","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#,
            "account_not_found",
        ),
        (
            r#"{"errors":[{"value":"alnoor_old","detail":"Sorry, you are not authorized to see the user with username: [alnoor_old].","title":"Authorization Error","resource_type":"user","parameter":"username","resource_id":"alnoor_old","type":"https://api.twitter.com/2/problems/not-authorized-for-resource"}]}"#,
            "account_protected",
        ),
    ];
    for (body, kind) in cases {
        let server = MockServer::start().await;
        mount(
            &server,
            "/api/2/users/by/username/alnoor_old",
            json_ok(body),
            Some(1),
        )
        .await;
        let h = Harness::new(&hosts(&server));
        let target: Target = "@alnoor_old".parse().unwrap();
        let mut src = XApi::new(&h.transport, Secret::new(SECRET), target);
        let (result, sink) = h.capture(&mut src).await;
        expect_error(result, kind);
        assert_eq!(sink.documents.len(), 1, "{kind}");
        assert_eq!(sink.documents[0].0, "users-by-username");
        assert_eq!(
            &sink.documents[0].2[..],
            body.as_bytes(),
            "{kind}: the answer is evidence"
        );
        assert!(sink.items.is_empty());
    }
}

#[tokio::test]
async fn an_expired_token_is_reported_without_the_token() {
    let server = MockServer::start().await;
    let body =
        r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;
    Mock::given(method("GET"))
        .and(path("/api/2/users/me"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(body, "application/problem+json"))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "auth_expired");
    assert!(!format!("{e:?}").contains(SECRET));
    assert_no_secret(&sink, &e.to_string());
}

#[tokio::test]
async fn an_html_login_page_is_not_data() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/api/2/users/me",
        json_ok(fixture("users_me.json")),
        Some(1),
    )
    .await;
    let html = "<!DOCTYPE html>\n<html dir=\"rtl\" lang=\"ar\"><head><title>تسجيل الدخول إلى X</title></head><body><form action=\"/i/flow/login\"></form></body></html>";
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .respond_with(ResponseTemplate::new(200).set_body_raw(html, "text/html; charset=utf-8"))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    expect_error(result, "unexpected_html");
    assert_eq!(sink.documents.last().unwrap().1, "html");
    assert!(sink.items.is_empty());
}

#[tokio::test]
async fn a_reset_beyond_the_maximum_wait_defers_the_account() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/api/2/users/me",
        json_ok(fixture("users_me.json")),
        Some(1),
    )
    .await;
    let reset = start_time().unix_timestamp() + 900;
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(
                    r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#,
                    "application/json",
                )
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::with(&hosts(&server), |c| {
        c.retry.max_wait = Duration::from_secs(45);
    });
    let (result, _sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "deferred");
    assert_eq!(e.retry_at().unwrap().unix_timestamp(), reset);
    assert!(
        h.clock.sleeps().is_empty(),
        "no waiting when the reset is too far"
    );
}

/// users/me saying 5,000 posts, a timeline of one post, the pinned post outside it.
#[tokio::test]
async fn the_timeline_cap_is_a_gap_and_the_pinned_post_is_fetched_alone() {
    let server = MockServer::start().await;
    let mut me = fixture_json("users_me.json");
    me["data"]["public_metrics"]["tweet_count"] = json!(5000);
    mount(
        &server,
        "/api/2/users/me",
        json_ok(serde_json::to_vec(&me).unwrap()),
        Some(2),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .respond_with(json_ok(fixture("tweets_arabic.json")))
        .expect(2)
        .mount(&server)
        .await;
    let pinned_post = me["includes"]["tweets"][0].clone();
    let pinned = pinned_post["id"].as_str().unwrap().to_owned();
    let p2 = fixture_json("tweets_p2.json");
    let lookup = json!({
        "data": pinned_post,
        "includes": {"media": [p2["includes"]["media"][1], p2["includes"]["media"][2]],
                     "users": [p2["includes"]["users"][0]]}
    });
    Mock::given(method("GET"))
        .and(path(format!("/api/2/tweets/{pinned}")))
        .and(query_param(
            "expansions",
            "attachments.media_keys,author_id,referenced_tweets.id,referenced_tweets.id.author_id",
        ))
        .respond_with(json_ok(serde_json::to_vec(&lookup).unwrap()))
        .expect(2)
        .mount(&server)
        .await;
    for (p, body) in [(PHOTO1, PHOTO1_BYTES), (PHOTO2, PHOTO2_BYTES)] {
        mount(&server, p, bytes_ok(body, "image/jpeg"), Some(2)).await;
    }
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;

    assert_eq!(sink.items.len(), 2);
    let pin = item(&sink, &pinned);
    assert_eq!(pin.kind, ItemKind::Announcement);
    assert!(pin.pinned);
    assert!(
        pin.source_path
            .as_deref()
            .unwrap()
            .ends_with("-tweet-pinned.json")
    );
    assert_eq!(pin.media.len(), 2);
    assert_eq!(pin.media[0].sha256, Some(sha(PHOTO1_BYTES)));

    let caps: Vec<_> = sink
        .gaps
        .iter()
        .filter(|g| g.reason == GapReason::PlatformCap)
        .collect();
    assert_eq!(caps.len(), 1, "{:?}", sink.gaps);
    assert!(caps[0].detail.contains("3,200"), "{}", caps[0].detail);
    assert!(
        caps[0]
            .detail
            .contains("4998 posts need the owner's archive (tawthiq import x)")
    );
    assert_eq!(report.platform_reported["posts"], 5000);
    assert_eq!(report.captured["posts"], 2);
    assert!(
        report.statement.starts_with("incomplete: "),
        "{}",
        report.statement
    );
}

#[tokio::test]
async fn a_missing_media_file_and_a_withheld_reference_leave_gaps_not_failures() {
    let server = MockServer::start().await;
    let mut me = fixture_json("users_me.json");
    me["data"]["public_metrics"]["tweet_count"] = json!(1);
    let data = me["data"].as_object_mut().unwrap();
    data.remove("pinned_tweet_id");
    data.remove("profile_image_url");
    me.as_object_mut().unwrap().remove("includes");
    mount(
        &server,
        "/api/2/users/me",
        json_ok(serde_json::to_vec(&me).unwrap()),
        None,
    )
    .await;
    let page = json!({
        "data": [{
            "id": "1836000000000000001",
            "text": "نقلاً عن الإدارة: صورة من حفل التكريم 🏅 https://t.co/Mm1Nn2Oo3P",
            "created_at": "2024-09-17T10:00:00.000Z",
            "lang": "ar",
            "attachments": {"media_keys": ["3_1836000000000000009"]},
            "referenced_tweets": [{"type": "quoted", "id": "1835000000000000077"}],
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 3, "quote_count": 0}
        }],
        "includes": {"media": [{"media_key": "3_1836000000000000009", "type": "photo",
            "url": "https://pbs.twimg.com/media/GXgone404AAb.jpg", "width": 1200, "height": 900}]},
        "errors": [{"value": "1835000000000000077", "detail": "Could not find tweet with id: [1835000000000000077].",
            "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
            "resource_id": "1835000000000000077", "type": "https://api.twitter.com/2/problems/resource-not-found"}],
        "meta": {"result_count": 1, "newest_id": "1836000000000000001", "oldest_id": "1836000000000000001"}
    });
    Mock::given(method("GET"))
        .and(path(TIMELINE))
        .respond_with(json_ok(serde_json::to_vec(&page).unwrap()))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pbs/media/GXgone404AAb.jpg"))
        .respond_with(ResponseTemplate::new(404).set_body_raw("Not Found", "text/plain"))
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;

    let i = &sink.items[0];
    assert_eq!(i.kind, ItemKind::Quote);
    assert_eq!(i.media.len(), 1);
    assert_eq!(i.media[0].sha256, None);
    assert_eq!(
        i.media[0].original_url,
        "https://pbs.twimg.com/media/GXgone404AAb.jpg"
    );
    let media_gap = sink
        .gaps
        .iter()
        .find(|g| g.url.as_deref() == Some("https://pbs.twimg.com/media/GXgone404AAb.jpg"))
        .expect("a gap for the missing file");
    assert_eq!(media_gap.reason, GapReason::Unavailable);
    assert_eq!(media_gap.item_id.as_deref(), Some(i.id.as_str()));
    let withheld = sink
        .gaps
        .iter()
        .find(|g| g.detail.contains("1835000000000000077"))
        .expect("a gap for the partial error");
    assert_eq!(withheld.reason, GapReason::Unavailable);
    assert_eq!(withheld.item_id.as_deref(), Some(i.id.as_str()));
    assert_eq!(sink.gaps.len(), 2, "{:?}", sink.gaps);
    assert!(sink.media.is_empty());
    assert_eq!(report.captured["media"], 0);
    assert!(report.statement.starts_with("incomplete"));
}

#[tokio::test]
async fn arabic_emoji_and_eastern_digits_survive_byte_for_byte() {
    let server = MockServer::start().await;
    let mut me = fixture_json("users_me.json");
    me["data"]["public_metrics"]["tweet_count"] = json!(1);
    me["data"]
        .as_object_mut()
        .unwrap()
        .remove("pinned_tweet_id");
    mount(
        &server,
        "/api/2/users/me",
        json_ok(serde_json::to_vec(&me).unwrap()),
        None,
    )
    .await;
    mount(
        &server,
        TIMELINE,
        json_ok(fixture("tweets_arabic.json")),
        Some(2),
    )
    .await;
    let h = Harness::new(&hosts(&server));
    let (_, sink) = conformance(&h, source).await;

    let expected = "@abu_khalid_77 أهلاً بك 🙏 الحصة الأولى تبدأ الساعة ٧:٣٠ صباحاً، والطابور ٧:١٥. \
                    عائلة النور 👨\u{200d}👩\u{200d}👧\u{200d}👦 ترحب بكم ٠١٢٣٤٥٦٧٨٩ — التفاصيل: \
                    https://t.co/Rp7AbCdE12";
    let i = &sink.items[0];
    assert_eq!(i.text.as_bytes(), expected.as_bytes());
    assert_eq!(i.kind, ItemKind::Reply);
    assert_eq!(i.lang.as_deref(), Some("ar"));

    // Entity offsets count code points: slicing the stored text by chars finds the entities;
    // byte offsets would not.
    let page = fixture_json("tweets_arabic.json");
    let entities = &page["data"][0]["entities"];
    let by_chars = |start: &Value, end: &Value| -> String {
        let (s, e) = (
            start.as_u64().unwrap() as usize,
            end.as_u64().unwrap() as usize,
        );
        i.text.chars().skip(s).take(e - s).collect()
    };
    let url = &entities["urls"][0];
    assert_eq!(
        by_chars(&url["start"], &url["end"]),
        "https://t.co/Rp7AbCdE12"
    );
    let mention = &entities["mentions"][0];
    assert_eq!(
        by_chars(&mention["start"], &mention["end"]),
        "@abu_khalid_77"
    );
    let (s, e) = (
        url["start"].as_u64().unwrap() as usize,
        url["end"].as_u64().unwrap() as usize,
    );
    assert_ne!(i.text.get(s..e), Some("https://t.co/Rp7AbCdE12"));
}

#[tokio::test]
async fn a_post_without_text_fails_loudly() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/api/2/users/me",
        json_ok(fixture("users_me.json")),
        None,
    )
    .await;
    let page = r#"{"data":[{"id":"1836000000000000001","created_at":"2024-09-17T10:00:00.000Z"}],"meta":{"result_count":1}}"#;
    mount(&server, TIMELINE, json_ok(page), Some(1)).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "malformed");
    assert!(e.to_string().contains("api.x.com/2/users/"), "{e}");
    assert!(sink.items.is_empty());
}
