//! Instagram API route against a local replay of the Graph API and the Instagram CDN
//! (`wiremock`), with pages written from the documented shapes (`tests/fixtures/instagram/api/`).
//!
//! The fixtures' `paging.next` links carry `access_token=__TOKEN__`; the replay puts the test
//! token there, as Meta echoes the real one, so every test also proves the token is stripped
//! from what is requested, logged and stored.

use std::time::Duration;

use fetcher::platforms::instagram::api::{
    FB_PROFILE_FIELDS, IG_PROFILE_FIELDS, IgTarget, InstagramApi, Login, MEDIA_FIELDS,
};
use fetcher::{MemorySink, Secret, Source, Transport};
use model::{ContentId, GapReason, Item, ItemKind, Platform, Route};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::conformance::{
    Harness, SECRET, assert_no_secret, conformance, expect_error, start_time,
};

const IG_ID: &str = "17841405822304914";
const CAROUSEL_A: &str = "17901234567890001";
const VIDEO: &str = "17901234567890002";
const REEL: &str = "17901234567890003";
const ARABIC: &str = "17901234567890004";
const CAROUSEL_B: &str = "17901234567890005";
const STORY: &str = "17901234567890006";

const AVATAR: &str = "/cdn/v/t51.2885-19/449871234_1023456789012345_n.jpg";
const C1: &str = "/cdn/v/t51.29350-15/458123401_c1_n.jpg";
const C2: &str = "/cdn/v/t51.29350-15/458123402_c2_n.jpg";
const C3_VIDEO: &str = "/cdn/o1/v/t16/f2/m86/AQc3video_c3.mp4";
const C3_THUMB: &str = "/cdn/v/t51.29350-15/458123403_c3thumb_n.jpg";
const LAB_VIDEO: &str = "/cdn/o1/v/t16/f2/m86/AQlab_tour.mp4";
const LAB_THUMB: &str = "/cdn/v/t51.29350-15/458123404_labthumb_n.jpg";
const REEL_THUMB: &str = "/cdn/v/t51.29350-15/458123405_reelthumb_n.jpg";
const OPENING: &str = "/cdn/v/t51.29350-15/458123406_opening_n.jpg";
const B1: &str = "/cdn/v/t51.29350-15/458123451_b1_n.jpg";
const B2: &str = "/cdn/v/t51.29350-15/458123452_b2_n.jpg";
const STORY_IMG: &str = "/cdn/v/t51.29350-15/458123407_story_n.jpg";

const FILES: [&str; 12] = [
    AVATAR, C1, C2, C3_VIDEO, C3_THUMB, LAB_VIDEO, LAB_THUMB, REEL_THUMB, OPENING, B1, B2,
    STORY_IMG,
];

/// Distinct, recognisable bytes for each CDN file.
fn file_bytes(p: &str) -> Vec<u8> {
    let mut b = if is_video(p) {
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00".to_vec()
    } else {
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec()
    };
    b.extend_from_slice(p.as_bytes());
    b
}

fn sha(b: &[u8]) -> ContentId {
    ContentId(Sha256::digest(b).into())
}

/// The digest an item's `MediaRef` holds for a stored CDN file (an `Option`, as there).
#[allow(clippy::unnecessary_wraps)]
fn file_sha(p: &str) -> Option<ContentId> {
    Some(sha(&file_bytes(p)))
}

fn is_video(p: &str) -> bool {
    std::path::Path::new(p)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mp4"))
}

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/instagram/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

/// A fixture as the Graph host of `login` serves it: its paging links on that host, with the
/// caller's token echoed in them as Meta does.
fn served(name: &str, login: Login) -> Vec<u8> {
    let text = String::from_utf8(fixture(name)).unwrap();
    let text = text.replace("__TOKEN__", SECRET);
    let text = match login {
        Login::Instagram => text,
        Login::Facebook => {
            text.replace("https://graph.instagram.com", "https://graph.facebook.com")
        }
    };
    text.into_bytes()
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!(
        "graph.instagram.com={uri}/ig,graph.facebook.com={uri}/fb,\
         *.cdninstagram.com={uri}/cdn,*.fbcdn.net={uri}/fbcdn"
    )
}

fn prefix(login: Login) -> &'static str {
    match login {
        Login::Instagram => "/ig/v23.0",
        Login::Facebook => "/fb/v23.0",
    }
}

fn json_ok(body: impl Into<Vec<u8>>) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(body.into(), "application/json; charset=UTF-8")
        .insert_header(
            "x-business-use-case-usage",
            r#"{"17841405822304914":[{"type":"instagram","call_count":3,"total_cputime":1,"total_time":2,"estimated_time_to_regain_access":0}]}"#,
        )
}

fn graph_error(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        serde_json::to_vec(body).unwrap(),
        "application/json; charset=UTF-8",
    )
}

fn source(login: Login, target: IgTarget) -> impl Fn(&Transport) -> Box<dyn Source + '_> {
    move |t| {
        Box::new(InstagramApi::new(
            t,
            Secret::new(SECRET),
            login,
            target.clone(),
        ))
    }
}

/// The profile (with Facebook Login and `me`, through the Pages first).
async fn mount_profile(server: &MockServer, login: Login, times: u64, body: Vec<u8>) {
    match login {
        Login::Instagram => {
            Mock::given(method("GET"))
                .and(path("/ig/v23.0/me"))
                .and(query_param("fields", IG_PROFILE_FIELDS))
                .respond_with(json_ok(body))
                .expect(times)
                .mount(server)
                .await;
        }
        Login::Facebook => {
            Mock::given(method("GET"))
                .and(path("/fb/v23.0/me/accounts"))
                .and(query_param_is_missing("after"))
                .respond_with(json_ok(served("fb_accounts_p1.json", login)))
                .expect(times)
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path("/fb/v23.0/me/accounts"))
                .and(query_param("after", "MTA0"))
                .respond_with(json_ok(served("fb_accounts_p2.json", login)))
                .expect(times)
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/fb/v23.0/{IG_ID}")))
                .and(query_param("fields", FB_PROFILE_FIELDS))
                .respond_with(json_ok(body))
                .expect(times)
                .mount(server)
                .await;
        }
    }
}

fn default_profile(login: Login) -> Vec<u8> {
    match login {
        Login::Instagram => fixture("ig_me.json"),
        Login::Facebook => fixture("fb_user.json"),
    }
}

/// The three media pages (the second empty with a next link), each expected `times` times.
async fn mount_media(server: &MockServer, login: Login, times: u64) {
    let media = format!("{}/{IG_ID}/media", prefix(login));
    Mock::given(method("GET"))
        .and(path(media.as_str()))
        .and(query_param("fields", MEDIA_FIELDS))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(json_ok(served("media_p1.json", login)))
        .expect(times)
        .mount(server)
        .await;
    for (after, page) in [
        ("QVFIUlAyY3Vyc29y", "media_p2.json"),
        ("QVFIUlAzY3Vyc29y", "media_p3.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(media.as_str()))
            .and(query_param("fields", MEDIA_FIELDS))
            .and(query_param("after", after))
            .respond_with(json_ok(served(page, login)))
            .expect(times)
            .mount(server)
            .await;
    }
}

/// Carousel B's children edge (two pages) and the stories edge.
async fn mount_children_and_stories(server: &MockServer, login: Login, times: u64) {
    let children = format!("{}/{CAROUSEL_B}/children", prefix(login));
    Mock::given(method("GET"))
        .and(path(children.as_str()))
        .and(query_param_is_missing("after"))
        .respond_with(json_ok(served("children_p1.json", login)))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(children.as_str()))
        .and(query_param("after", "QVFIUmMy"))
        .respond_with(json_ok(served("children_p2.json", login)))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{}/{IG_ID}/stories", prefix(login))))
        .respond_with(json_ok(served("stories.json", login)))
        .expect(times)
        .mount(server)
        .await;
}

/// Every CDN file but `except`, each expected `times` times.
async fn mount_cdn(server: &MockServer, times: u64, except: &[&str]) {
    for p in FILES.iter().filter(|p| !except.contains(p)) {
        let ty = if is_video(p) {
            "video/mp4"
        } else {
            "image/jpeg"
        };
        Mock::given(method("GET"))
            .and(path(*p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(file_bytes(p), ty))
            .expect(times)
            .mount(server)
            .await;
    }
}

async fn mount_happy(server: &MockServer, login: Login, times: u64) {
    mount_profile(server, login, times, default_profile(login)).await;
    mount_media(server, login, times).await;
    mount_children_and_stories(server, login, times).await;
    mount_cdn(server, times, &[]).await;
}

fn item<'a>(sink: &'a MemorySink, id: &str) -> &'a Item {
    sink.items
        .iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

fn shas(i: &Item) -> Vec<Option<ContentId>> {
    i.media.iter().map(|m| m.sha256).collect()
}

/// Every fixture media object, by id.
fn fixture_media() -> std::collections::HashMap<String, Value> {
    let mut out = std::collections::HashMap::new();
    for page in ["media_p1.json", "media_p3.json", "stories.json"] {
        for m in fixture_json(page)["data"].as_array().unwrap() {
            out.insert(m["id"].as_str().unwrap().to_owned(), m.clone());
        }
    }
    out
}

/// What the Graph requests and the capture log must show about the token.
async fn assert_token_only_on_the_wire(server: &MockServer, sink: &MemorySink) {
    for r in server.received_requests().await.unwrap() {
        let token: Vec<String> = r
            .url
            .query_pairs()
            .filter(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .collect();
        if r.url.path().starts_with("/cdn/") {
            assert!(token.is_empty(), "the token was sent to the CDN: {}", r.url);
        } else {
            assert_eq!(token, [SECRET], "{}", r.url);
        }
    }
    assert!(!sink.log.is_empty());
    for e in &sink.log {
        assert!(
            !e.url.contains("access_token"),
            "a logged URL names the token: {}",
            e.url
        );
    }
    for (_, _, body, stored) in &sink.documents {
        let text = String::from_utf8_lossy(body);
        assert!(!text.contains(SECRET), "{} holds the token", stored.path);
    }
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn captures_a_professional_account_with_instagram_login_to_the_end() {
    let server = MockServer::start().await;
    mount_happy(&server, Login::Instagram, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source(Login::Instagram, IgTarget::Me)).await;

    // Account and profile.
    assert_eq!(sink.account.as_ref().unwrap().as_str(), IG_ID);
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.platform, Platform::Instagram);
    assert_eq!(profile.id, IG_ID, "user_id, not the app-scoped id");
    assert_eq!(profile.username.as_deref(), Some("alnoor_school"));
    assert_eq!(
        profile.display_name.as_deref(),
        Some("مدرسة النور الابتدائية 🏫")
    );
    assert_eq!(
        profile.description.as_deref(),
        Some("الحساب الرسمي لمدرسة النور الابتدائية بجدة 📚 تأسست عام ١٤٢٠هـ")
    );
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.instagram.com/alnoor_school/")
    );
    assert_eq!(profile.route, Route::Api);
    assert_eq!(profile.media.len(), 1);
    assert_eq!(profile.media[0].sha256, file_sha(AVATAR));
    assert_eq!(
        profile.media[0].original_url,
        fixture_json("ig_me.json")["profile_picture_url"]
    );
    for (k, v) in [("followers", 2310), ("follows", 45), ("posts", 5)] {
        assert_eq!(profile.counts[k], v, "{k}");
        assert_eq!(report.platform_reported[k], v, "{k}");
    }

    // Every page stored, in order; the empty page did not stop the paging.
    let endpoints: Vec<&str> = sink.documents.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        endpoints,
        [
            "ig-me",
            "media-p1",
            "media-p2",
            "media-p3",
            "children-17901234567890005-p1",
            "children-17901234567890005-p2",
            "stories-p1"
        ]
    );
    let names = [
        "ig_me.json",
        "media_p1.json",
        "media_p2.json",
        "media_p3.json",
        "children_p1.json",
        "children_p2.json",
        "stories.json",
    ];
    for ((_, _, body, stored), name) in sink.documents.iter().zip(names) {
        // Byte-exact, except the echoed token, which the transport redacts.
        let expected = String::from_utf8(served(name, Login::Instagram))
            .unwrap()
            .replace(SECRET, "[REDACTED]");
        assert_eq!(&body[..], expected.as_bytes(), "{}", stored.path);
    }
    let page_path = |n: usize| Some(sink.documents[n].3.path.clone());

    // Items: page order, each once (the video repeats on page 3), then the story.
    let order: Vec<&str> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(order, [CAROUSEL_A, VIDEO, REEL, ARABIC, CAROUSEL_B, STORY]);
    let fixtures = fixture_media();
    for i in &sink.items {
        let f = &fixtures[&i.id];
        assert_eq!(i.platform, Platform::Instagram);
        assert_eq!(i.route, Route::Api);
        assert_eq!(i.text, f["caption"].as_str().unwrap_or(""));
        assert_eq!(i.url.as_deref(), f["permalink"].as_str());
        assert_eq!(i.metrics.get("likes").copied(), f["like_count"].as_u64());
        assert_eq!(
            i.metrics.get("comments").copied(),
            f["comments_count"].as_u64()
        );
        assert!(!i.pinned && i.lang.is_none() && i.references.is_empty());
    }
    for (id, page) in [
        (CAROUSEL_A, 1),
        (VIDEO, 1),
        (REEL, 3),
        (ARABIC, 3),
        (CAROUSEL_B, 3),
        (STORY, 6),
    ] {
        assert_eq!(item(&sink, id).source_path, page_path(page), "{id}");
    }
    let kinds: Vec<ItemKind> = sink.items.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Reel,
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Story
        ]
    );
    assert_eq!(
        item(&sink, CAROUSEL_A).created_at,
        time::macros::datetime!(2024-09-15 07:30:00 UTC)
    );
    assert_eq!(
        item(&sink, STORY).created_at,
        time::macros::datetime!(2025-05-04 05:00:00 UTC)
    );

    // Arabic, emoji (a ZWJ family) and a newline, byte for byte (the page escapes them as
    // \uXXXX, surrogate pairs included).
    let arabic = item(&sink, ARABIC);
    let expected = "🎉 افتتاح العام الدراسي ١٤٤٦هـ في مدرسة النور! نرحّب بطلابنا \
                    👨\u{200d}👩\u{200d}👧\u{200d}👦 ونتمنى لهم عاماً مليئاً بالعلم 📚✨\n#العودة_للمدارس";
    assert_eq!(arabic.text.as_bytes(), expected.as_bytes());
    assert!(
        !String::from_utf8_lossy(&fixture("media_p3.json")).contains('ا'),
        "the page really escapes non-ASCII"
    );
    assert_eq!(shas(arabic), [file_sha(OPENING)]);

    // Carousels: every child (the video with its thumbnail), never the parent's cover alone.
    let a = item(&sink, CAROUSEL_A);
    assert_eq!(
        shas(a),
        [C1, C2, C3_VIDEO, C3_THUMB].map(file_sha),
        "three children, the video's thumbnail after it"
    );
    assert!(a.media[2].original_url.contains("AQc3video_c3.mp4"));
    assert_eq!(
        a.media[2].chosen.as_ref().unwrap().url,
        a.media[2].original_url
    );
    assert_eq!(shas(item(&sink, CAROUSEL_B)), [B1, B2].map(file_sha));

    // A video: the file and its thumbnail.
    assert_eq!(
        shas(item(&sink, VIDEO)),
        [LAB_VIDEO, LAB_THUMB].map(file_sha)
    );

    // A reel without media_url: still an item, the video withheld with a gap, thumbnail kept.
    let reel = item(&sink, REEL);
    assert_eq!(reel.media.len(), 2);
    assert_eq!(reel.media[0].sha256, None);
    assert_eq!(
        reel.media[0].original_url,
        "https://www.instagram.com/reel/C_rE3lAnThM/"
    );
    assert_eq!(reel.media[1].sha256, file_sha(REEL_THUMB));
    assert_eq!(sink.gaps.len(), 1, "{:?}", sink.gaps);
    let g = &sink.gaps[0];
    assert_eq!(g.reason, GapReason::MediaWithheld);
    assert_eq!(g.item_id.as_deref(), Some(REEL));
    assert!(
        g.detail.contains("not downloadable via the API")
            && g.detail.contains("the DYI export has it"),
        "{}",
        g.detail
    );

    assert_eq!(shas(item(&sink, STORY)), [file_sha(STORY_IMG)]);

    // Exactly the served bytes, each file once.
    assert_eq!(sink.media.len(), FILES.len());
    for p in FILES {
        assert_eq!(&sink.media[&sha(&file_bytes(p))][..], &file_bytes(p)[..]);
    }

    // The report.
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["stories"], 1);
    assert_eq!(report.captured["media"], 12);
    assert!(
        report
            .statement
            .starts_with("incomplete: 5 posts of the 5 Instagram reports"),
        "{}",
        report.statement
    );
    assert!(
        report
            .statement
            .contains("stories older than 24 hours are only in the DYI export")
    );

    assert_token_only_on_the_wire(&server, &sink).await;
}

#[tokio::test]
async fn facebook_login_finds_the_account_linked_to_the_pages() {
    let server = MockServer::start().await;
    mount_happy(&server, Login::Facebook, 2).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source(Login::Facebook, IgTarget::Me)).await;

    assert_eq!(sink.account.as_ref().unwrap().as_str(), IG_ID);
    let endpoints: Vec<&str> = sink.documents.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        &endpoints[..5],
        [
            "fb-accounts-p1",
            "fb-accounts-p2",
            "ig-user",
            "media-p1",
            "media-p2"
        ]
    );
    assert_eq!(sink.items.len(), 6);
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["media"], 12);
    assert_eq!(sink.profile.as_ref().unwrap().counts["followers"], 2310);
    for r in server.received_requests().await.unwrap() {
        assert!(
            !r.url.path().starts_with("/ig/"),
            "Instagram Login host used with a Facebook token: {}",
            r.url
        );
    }
    assert_token_only_on_the_wire(&server, &sink).await;

    // With the id given, the Pages are not consulted.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fb/v23.0/me/accounts"))
        .respond_with(json_ok(served("fb_accounts_p2.json", Login::Facebook)))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/fb/v23.0/{IG_ID}")))
        .respond_with(json_ok(fixture("fb_user.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_media(&server, Login::Facebook, 1).await;
    mount_children_and_stories(&server, Login::Facebook, 1).await;
    mount_cdn(&server, 1, &[]).await;
    let h = Harness::new(&hosts(&server));
    let target: IgTarget = IG_ID.parse().unwrap();
    let (result, sink) = h
        .capture(source(Login::Facebook, target)(&h.transport).as_mut())
        .await;
    assert_eq!(result.unwrap().captured["posts"], 5);
    assert_eq!(sink.documents[0].0, "ig-user");
}

#[tokio::test]
async fn facebook_login_needs_exactly_one_linked_account() {
    let none = json!({"data":[{"name":"مجلس أولياء الأمور","id":"104512345678901"}],
        "paging":{"cursors":{"before":"MTA0","after":"MTA0"}}});
    let two = json!({"data":[
        {"name":"مدرسة النور","id":"1045","instagram_business_account":{"id":IG_ID,"username":"alnoor_school"}},
        {"name":"نادي العلوم","id":"1046","instagram_business_account":{"id":"17841499999999999","username":"alnoor_science"}}]});
    for (body, kind) in [(none, "wrong_route"), (two, "config")] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/fb/v23.0/me/accounts"))
            .respond_with(json_ok(serde_json::to_vec(&body).unwrap()))
            .expect(1)
            .mount(&server)
            .await;
        let h = Harness::new(&hosts(&server));
        let (result, sink) = h
            .capture(source(Login::Facebook, IgTarget::Me)(&h.transport).as_mut())
            .await;
        let e = expect_error(result, kind);
        let text = e.to_string();
        if kind == "config" {
            assert!(
                text.contains(IG_ID) && text.contains("17841499999999999"),
                "{text}"
            );
            assert!(text.contains("pass the id"), "{text}");
        } else {
            assert!(text.contains("tawthiq import instagram"), "{text}");
        }
        assert!(sink.account.is_none());
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_personal_account_is_sent_to_the_dyi_export() {
    let server = MockServer::start().await;
    let mut me = fixture_json("ig_me.json");
    me["account_type"] = json!("PERSONAL");
    mount_profile(
        &server,
        Login::Instagram,
        1,
        serde_json::to_vec(&me).unwrap(),
    )
    .await;
    mount_media(&server, Login::Instagram, 0).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h
        .capture(source(Login::Instagram, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "wrong_route");
    let text = e.to_string();
    assert!(
        text.contains("@alnoor_school is a PERSONAL account"),
        "{text}"
    );
    assert!(
        text.contains("professional") && text.contains("reversible"),
        "{text}"
    );
    assert!(
        text.contains("tawthiq import instagram <export.zip>"),
        "{text}"
    );
    assert!(sink.account.is_none(), "nothing to begin");
    assert!(sink.items.is_empty() && sink.media.is_empty());
    assert_eq!(sink.documents.len(), 1, "the profile answer is kept");
}

#[tokio::test]
async fn a_not_business_account_error_on_the_media_edge_is_a_wrong_route() {
    let server = MockServer::start().await;
    let mut me = fixture_json("fb_user.json");
    me["media_count"] = json!(3);
    mount_profile(
        &server,
        Login::Facebook,
        1,
        serde_json::to_vec(&me).unwrap(),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("/fb/v23.0/{IG_ID}/media")))
        .respond_with(graph_error(
            400,
            &json!({"error":{"message":"(#10) The user is not an Instagram Business account",
                "type":"OAuthException","code":10,"fbtrace_id":"AbC1dEf2GhI"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_cdn(
        &server,
        1,
        &[
            C1, C2, C3_VIDEO, C3_THUMB, LAB_VIDEO, LAB_THUMB, REEL_THUMB, OPENING, B1, B2,
            STORY_IMG,
        ],
    )
    .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h
        .capture(source(Login::Facebook, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "wrong_route");
    assert!(
        e.to_string().contains("not an Instagram Business account"),
        "{e}"
    );
    assert!(e.to_string().contains("tawthiq import instagram"), "{e}");
    assert_eq!(
        sink.documents.last().unwrap().0,
        "media-p1",
        "the answer is evidence"
    );
    assert_no_secret(&sink, &e.to_string());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_and_never_printed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ig/v23.0/me"))
        .respond_with(
            graph_error(
                400,
                &json!({"error":{"message":"Error validating access token: Session has expired on Sunday, 04-May-25 05:00:00 PDT. The current time is Sunday, 04-May-25 06:30:00 PDT.",
                    "type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"Az9yXw8VuT7"}}),
            )
            .insert_header(
                "www-authenticate",
                r#"OAuth "Facebook Platform" "invalid_token" "Error validating access token: Session has expired""#,
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h
        .capture(source(Login::Instagram, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "auth_expired");
    assert!(e.to_string().contains("Session has expired"), "{e}");
    assert!(!format!("{e:?}").contains(SECRET));
    assert!(
        h.clock.sleeps().is_empty(),
        "an expired token is not retried"
    );
    assert_no_secret(&sink, &e.to_string());
    assert_token_only_on_the_wire(&server, &sink).await;
}

#[tokio::test]
async fn a_deleted_account_is_not_found_and_the_answer_is_kept() {
    let server = MockServer::start().await;
    let body = json!({"error":{"message":"Unsupported get request. Object with ID '17841405822304914' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
        "type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"Ab1Cd2Ef3Gh"}});
    Mock::given(method("GET"))
        .and(path(format!("/fb/v23.0/{IG_ID}")))
        .respond_with(graph_error(400, &body))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let target = IgTarget::Id(IG_ID.into());
    let (result, sink) = h
        .capture(source(Login::Facebook, target)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "account_not_found");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(sink.documents.len(), 1);
    assert_eq!(sink.documents[0].0, "ig-user");
    assert_eq!(
        &sink.documents[0].2[..],
        &serde_json::to_vec(&body).unwrap()[..]
    );
    assert!(sink.items.is_empty());
}

#[tokio::test]
async fn a_carousel_deleted_mid_capture_is_a_gap_and_keeps_its_cover() {
    let server = MockServer::start().await;
    mount_profile(&server, Login::Instagram, 2, fixture("ig_me.json")).await;
    mount_media(&server, Login::Instagram, 2).await;
    Mock::given(method("GET"))
        .and(path(format!("/ig/v23.0/{CAROUSEL_B}/children")))
        .respond_with(graph_error(
            400,
            &json!({"error":{"message":"Unsupported get request. Object with ID '17901234567890005' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                "type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"Zz9"}}),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/ig/v23.0/{IG_ID}/stories")))
        .respond_with(json_ok(served("stories.json", Login::Instagram)))
        .expect(2)
        .mount(&server)
        .await;
    mount_cdn(&server, 2, &[B2]).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source(Login::Instagram, IgTarget::Me)).await;

    let b = item(&sink, CAROUSEL_B);
    assert_eq!(shas(b), [file_sha(B1)], "the parent's own file stands in");
    let gap = sink
        .gaps
        .iter()
        .find(|g| g.reason == GapReason::Unavailable)
        .expect("a gap for the carousel");
    assert_eq!(gap.item_id.as_deref(), Some(CAROUSEL_B));
    assert!(gap.detail.contains("does not exist"), "{}", gap.detail);
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["stories"], 1);
    assert!(report.statement.contains("2 gaps"), "{}", report.statement);
}

fn throttled() -> ResponseTemplate {
    graph_error(
        400,
        &json!({"error":{"message":"(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
            "type":"OAuthException","code":80002,"is_transient":true,"fbtrace_id":"Ab3Cd"}}),
    )
    .insert_header(
        "x-business-use-case-usage",
        r#"{"17841405822304914":[{"type":"instagram","call_count":100,"total_cputime":14,"total_time":31,"estimated_time_to_regain_access":12}]}"#,
    )
}

#[tokio::test]
async fn throttling_waits_for_the_regain_time_then_completes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/ig/v23.0/{IG_ID}/media")))
        .and(query_param("after", "QVFIUlAyY3Vyc29y"))
        .respond_with(throttled())
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_happy(&server, Login::Instagram, 1).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h
        .capture(source(Login::Instagram, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let report = result.expect("the capture finishes after the wait");
    // 12 minutes as announced, plus the transport's one-second margin.
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(12 * 60 + 1)]);
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["media"], 12);
    let endpoints: Vec<&str> = sink.documents.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        &endpoints[..5],
        ["ig-me", "media-p1", "media-p2", "media-p2", "media-p3"],
        "the throttled answer is evidence too"
    );
    assert_no_secret(&sink, &format!("{report:?}"));
}

#[tokio::test]
async fn throttling_beyond_the_maximum_wait_defers_the_account() {
    let server = MockServer::start().await;
    mount_profile(&server, Login::Instagram, 1, fixture("ig_me.json")).await;
    Mock::given(method("GET"))
        .and(path(format!("/ig/v23.0/{IG_ID}/media")))
        .respond_with(throttled())
        .expect(1)
        .mount(&server)
        .await;
    mount_cdn(
        &server,
        1,
        &[
            C1, C2, C3_VIDEO, C3_THUMB, LAB_VIDEO, LAB_THUMB, REEL_THUMB, OPENING, B1, B2,
            STORY_IMG,
        ],
    )
    .await;
    let h = Harness::with(&hosts(&server), |c| {
        c.retry.max_wait = Duration::from_mins(5);
    });
    let (result, sink) = h
        .capture(source(Login::Instagram, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "deferred");
    assert_eq!(
        e.retry_at().unwrap().unix_timestamp(),
        start_time().unix_timestamp() + 12 * 60
    );
    assert!(
        h.clock.sleeps().is_empty(),
        "no waiting when it is too long"
    );
    assert_eq!(sink.account.as_ref().unwrap().as_str(), IG_ID);
    assert_no_secret(&sink, &e.to_string());
}

#[tokio::test]
async fn a_missing_file_and_fewer_posts_than_reported_leave_gaps() {
    let server = MockServer::start().await;
    let mut me = fixture_json("ig_me.json");
    me["media_count"] = json!(9);
    mount_profile(
        &server,
        Login::Instagram,
        2,
        serde_json::to_vec(&me).unwrap(),
    )
    .await;
    mount_media(&server, Login::Instagram, 2).await;
    mount_children_and_stories(&server, Login::Instagram, 2).await;
    mount_cdn(&server, 2, &[OPENING]).await;
    Mock::given(method("GET"))
        .and(path(OPENING))
        .respond_with(
            ResponseTemplate::new(404).set_body_raw("URL signature expired", "text/plain"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source(Login::Instagram, IgTarget::Me)).await;

    let a = item(&sink, ARABIC);
    assert_eq!(shas(a), [None]);
    let url = fixture_media()[ARABIC]["media_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(a.media[0].original_url, url);
    let file_gap = sink
        .gaps
        .iter()
        .find(|g| g.url.as_deref() == Some(url.as_str()))
        .expect("a gap for the missing file");
    assert_eq!(file_gap.reason, GapReason::Unavailable);
    assert_eq!(file_gap.item_id.as_deref(), Some(ARABIC));
    let count = sink
        .gaps
        .iter()
        .find(|g| g.reason == GapReason::Other)
        .expect("a gap for the posts Instagram counts but did not list");
    assert!(count.detail.contains("reports 9 posts") && count.detail.contains("4 missing"));
    assert_eq!(sink.gaps.len(), 3, "{:?}", sink.gaps);
    assert_eq!(report.platform_reported["posts"], 9);
    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["media"], 11);
    assert!(
        report
            .statement
            .starts_with("incomplete: 5 posts of the 9 Instagram reports"),
        "{}",
        report.statement
    );
}

#[tokio::test]
async fn a_bad_timestamp_fails_loudly() {
    let server = MockServer::start().await;
    mount_profile(&server, Login::Instagram, 1, fixture("ig_me.json")).await;
    let mut page = fixture_json("media_p1.json");
    page["data"][1]["timestamp"] = json!("10/09/2024 09:00");
    page["paging"].as_object_mut().unwrap().remove("next");
    Mock::given(method("GET"))
        .and(path(format!("/ig/v23.0/{IG_ID}/media")))
        .respond_with(json_ok(serde_json::to_vec(&page).unwrap()))
        .expect(1)
        .mount(&server)
        .await;
    mount_cdn(
        &server,
        1,
        &[LAB_VIDEO, LAB_THUMB, REEL_THUMB, OPENING, B1, B2, STORY_IMG],
    )
    .await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h
        .capture(source(Login::Instagram, IgTarget::Me)(&h.transport).as_mut())
        .await;
    let e = expect_error(result, "malformed");
    assert!(e.to_string().contains("10/09/2024 09:00"), "{e}");
    assert!(e.to_string().contains("graph.instagram.com"), "{e}");
    assert_eq!(
        sink.items.len(),
        1,
        "the item before it stands as partial evidence"
    );
}
