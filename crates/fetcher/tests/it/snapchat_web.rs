//! Snapchat public profile route against a local replay of `www.snapchat.com` and the Snapchat
//! CDNs (`wiremock`), with pages written from the documented `__NEXT_DATA__` shape
//! (`tests/fixtures/snapchat/web/`).

use fetcher::platforms::snapchat::web::{FORMAT_CHANGED, SnapTarget, SnapchatWeb};
use fetcher::{FetchError, Source, Transport};
use model::{ContentId, GapReason, ItemKind, Platform, Route};
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::conformance::{Harness, assert_well_formed, conformance, expect_error};

const USER: &str = "madrasat.alnoor";
const PAGE: &str = "/web/add/madrasat.alnoor";
const PAGE_URL: &str = "https://www.snapchat.com/add/madrasat.alnoor";

const ST1: &str = "W7_EDlXWTBiXAEEniNoMPwAAYbWtvbG92aHVkAZaQ0JrbAZaQ0JqrAAAAAA";
const ST2: &str = "W7_EDlXWTBiXAEEniNoMPwAAYcGFyZW50c2RheQGWkNXm8AGWkNXm0AAAAAA";
const HL1: &str = "W7_EDlXWTBiXAEEniNoMPwAAYbmF0aW9uYWxkYXkBkhfI0wABkhfI0wAAAAA";
const HL2: &str = "W7_EDlXWTBiXAEEniNoMPwAAYZ3JhZHVhdGlvbjEBj4cWe4ABj4cWe4AAAAA";
const HL3: &str = "W7_EDlXWTBiXAEEniNoMPwAAYZ3JhZHVhdGlvbjIBj4cWe4ABj4cWe4AAAAA";
const SP1: &str = "W7_EDlXWTBiXAEEniNoMPwAAYc3BvdGxpZ2h0MQGWfX7mAAGWfX7mAAAAAA";

const NATIONAL_DAY: &str = "اليوم الوطني ٩٤ 🇸🇦";
const GRADUATION: &str = "حفل التخرج";
const VOLCANO: &str = "تجربة البركان في مختبر العلوم 🌋";

const AVATAR: &str =
    "/cdn/aps/bolt/aHR0cHM6Ly9jZi1zdC5zYy1jZG4ubmV0L2QvYXZhdGFy._RS0,640,640_FMjpeg";
const HERO: &str = "/cdn/aps/bolt/aHR0cHM6Ly9jZi1zdC5zYy1jZG4ubmV0L2QvaGVybw._RS0,1080,1080_FMjpeg";
const SNAPCODE: &str = "/app/web/deeplink/snapcode";

/// Every file the public page makes the capture download: the profile's three images, every
/// snap's media, and the preview stills of the videos (ST2, HL2, SP1).
const FILES: [&str; 12] = [
    AVATAR,
    HERO,
    SNAPCODE,
    "/cdn/d/st1-morning-assembly",
    "/cdn/d/st2-parents-day-story",
    "/cdn/d/st2-parents-day-story.prev",
    "/cdn/d/hl1-national-day-flag",
    "/cdn/d/hl2-graduation-march",
    "/cdn/d/hl2-graduation-march.prev",
    "/cdn/d/hl3-graduation-caps",
    "/cdn/d/sp1-volcano-experiment",
    "/cdn/d/sp1-volcano-experiment.prev",
];

/// Offered but never fetched: ST2's second signed URL (it is the same snap), and the previews
/// of images (smaller copies of what is downloaded).
const NOT_FETCHED: [&str; 3] = [
    "/cdn/d/st2-parents-day-saved",
    "/cdn/d/st1-morning-assembly.prev",
    "/cdn/d/hl1-national-day-flag.prev",
];

fn fixture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/snapchat/web/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn hosts(server: &MockServer) -> String {
    let uri = server.uri();
    format!("www.snapchat.com={uri}/web,*.sc-cdn.net={uri}/cdn,app.snapchat.com={uri}/app")
}

fn html(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/html; charset=utf-8")
}

fn is_video(p: &str) -> bool {
    ["st2-", "hl2-", "sp1-"].iter().any(|v| p.contains(v)) && !p.contains(".prev")
}

/// Distinct, recognisable bytes for each file.
fn file_bytes(p: &str) -> Vec<u8> {
    let mut b = if p == SNAPCODE {
        b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec()
    } else if is_video(p) {
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00".to_vec()
    } else {
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec()
    };
    b.extend_from_slice(p.as_bytes());
    b
}

fn file_type(p: &str) -> &'static str {
    if p == SNAPCODE {
        "image/svg+xml"
    } else if is_video(p) {
        "video/mp4"
    } else {
        "image/jpeg"
    }
}

fn sha(b: &[u8]) -> ContentId {
    ContentId(Sha256::digest(b).into())
}

fn target() -> SnapTarget {
    "@Madrasat.AlNoor".parse().unwrap()
}

fn source(t: &Transport) -> Box<dyn Source + '_> {
    Box::new(SnapchatWeb::new(t, target()))
}

async fn mount_page(server: &MockServer, name: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(PAGE))
        .respond_with(html(fixture(name)))
        .expect(times)
        .mount(server)
        .await;
}

/// Every file of [`FILES`], each expected `times` times, except `refused` (403); and the
/// files that must never be fetched.
async fn mount_files(server: &MockServer, times: u64, refused: Option<&str>) {
    for p in FILES {
        let resp = if Some(p) == refused {
            // An expired signed link: the CDN refuses it.
            ResponseTemplate::new(403).set_body_raw(
                b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>".to_vec(),
                "application/xml",
            )
        } else {
            ResponseTemplate::new(200).set_body_raw(file_bytes(p), file_type(p))
        };
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(resp)
            .expect(times)
            .mount(server)
            .await;
    }
    for p in NOT_FETCHED {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(file_bytes(p), "image/jpeg"))
            .expect(0)
            .mount(server)
            .await;
    }
}

/// Nothing but the page may be requested.
async fn no_media(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex("^/(cdn|app)/"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(server)
        .await;
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn a_public_profile_is_captured_with_story_saved_stories_and_spotlight() {
    let server = MockServer::start().await;
    mount_page(&server, "public.html", 2).await;
    mount_files(&server, 2, None).await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;

    assert_eq!(sink.account.as_ref().unwrap().as_str(), USER);
    // The page is evidence: stored byte-exact as HTML, and logged.
    assert_eq!(sink.documents.len(), 1);
    let (endpoint, ext, body, stored) = &sink.documents[0];
    assert_eq!((endpoint.as_str(), ext.as_str()), ("profile", "html"));
    assert_eq!(&body[..], &fixture("public.html")[..]);
    assert_eq!(sink.log[0].url, PAGE_URL);
    assert_eq!(sink.log[0].method, "GET");

    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.id, USER);
    assert_eq!(profile.username.as_deref(), Some(USER));
    assert_eq!(profile.display_name.as_deref(), Some("مدرسة النور الأهلية"));
    assert_eq!(
        profile.description.as_deref(),
        Some("حساب مدرسة النور الأهلية الرسمي 🌱 نبني المستقبل معاً\nالرياض")
    );
    assert_eq!(profile.counts["subscribers"], 1250);
    assert_eq!(profile.url.as_deref(), Some(PAGE_URL));
    assert_eq!(profile.route, Route::Web);
    let profile_files: Vec<_> = profile.media.iter().map(|m| m.sha256).collect();
    assert_eq!(
        profile_files,
        [AVATAR, HERO, SNAPCODE].map(|p| Some(sha(&file_bytes(p))))
    );
    assert!(profile.media[2].original_url.starts_with(
        "https://app.snapchat.com/web/deeplink/snapcode?username=madrasat.alnoor&type=SVG"
    ));

    let ids: Vec<_> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [ST1, ST2, HL1, HL2, HL3, SP1]);
    let kinds: Vec<_> = sink.items.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            ItemKind::Story,
            ItemKind::Story,
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Reel
        ]
    );
    let texts: Vec<_> = sink.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "",
            NATIONAL_DAY,
            NATIONAL_DAY,
            GRADUATION,
            GRADUATION,
            VOLCANO
        ]
    );
    let times: Vec<_> = sink
        .items
        .iter()
        .map(|i| i.created_at.unix_timestamp())
        .collect();
    assert_eq!(
        times,
        [
            1_746_316_800,
            1_746_320_400,
            1_727_136_000,
            1_717_225_200,
            1_717_228_800,
            1_745_830_800
        ]
    );
    for item in &sink.items {
        assert_eq!(item.platform, Platform::Snapchat);
        assert_eq!(item.route, Route::Web);
        assert_eq!(item.url.as_deref(), Some(PAGE_URL));
        assert_eq!(item.source_path.as_deref(), Some(stored.path.as_str()));
    }

    // An image: its file, with the preview offered but not fetched.
    let st1 = &sink.items[0];
    assert_eq!(st1.media.len(), 1);
    assert_eq!(
        st1.media[0].sha256,
        Some(sha(&file_bytes("/cdn/d/st1-morning-assembly")))
    );
    assert!(
        st1.media[0]
            .original_url
            .starts_with("https://cf-st.sc-cdn.net/d/st1-morning-assembly?mo=")
    );
    assert_eq!(st1.media[0].offered.len(), 2);
    assert!(
        st1.media[0].offered[1]
            .url
            .contains("st1-morning-assembly.prev")
    );
    // A video: the video, then its preview still.
    let sp1 = &sink.items[5];
    let files: Vec<_> = sp1.media.iter().map(|m| m.sha256).collect();
    assert_eq!(
        files,
        [
            Some(sha(&file_bytes("/cdn/d/sp1-volcano-experiment"))),
            Some(sha(&file_bytes("/cdn/d/sp1-volcano-experiment.prev")))
        ]
    );
    assert!(
        sp1.media[1]
            .original_url
            .starts_with("https://bolt-gcdn.sc-cdn.net/d/sp1-volcano-experiment.prev?")
    );
    // HL3 has no preview at all: one file, one rendition.
    assert_eq!(sink.items[4].media.len(), 1);
    assert_eq!(sink.items[4].media[0].offered.len(), 1);

    assert_eq!(sink.media.len(), FILES.len());
    for p in FILES {
        assert_eq!(
            sink.media.get(&sha(&file_bytes(p))).map(|b| b.to_vec()),
            Some(file_bytes(p)),
            "{p}"
        );
    }
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);

    assert_eq!(report.platform_reported["subscribers"], 1250);
    assert_eq!(report.captured["stories"], 2);
    assert_eq!(report.captured["saved_stories"], 3);
    assert_eq!(report.captured["spotlight"], 1);
    assert_eq!(report.captured["media"], 12);
    let s = &report.statement;
    assert!(
        s.starts_with("complete: 2 snaps in the current story"),
        "{s}"
    );
    assert!(s.contains("3 snaps in 2 saved stories"), "{s}");
    assert!(
        s.contains("24 hours") && s.contains("cannot be recovered"),
        "{s}"
    );
    assert!(
        s.contains("\"My Data\"") && s.contains("tawthiq import snapchat"),
        "{s}"
    );
}

#[tokio::test]
async fn a_snap_in_the_story_and_a_saved_story_is_one_item_downloaded_once() {
    let server = MockServer::start().await;
    mount_page(&server, "public.html", 1).await;
    // `mount_files` expects each file once and the saved story's own link for ST2 never.
    mount_files(&server, 1, None).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    result.unwrap();
    let st2: Vec<_> = sink.items.iter().filter(|i| i.id == ST2).collect();
    assert_eq!(st2.len(), 1, "listed twice, stored once");
    let st2 = st2[0];
    assert_eq!(st2.kind, ItemKind::Story, "its first listing is the story");
    assert_eq!(st2.text, NATIONAL_DAY, "the saved story's title is kept");
    assert!(st2.media[0].original_url.contains("st2-parents-day-story?"));
    assert_eq!(
        sink.log
            .iter()
            .filter(|e| e.url.contains("st2-parents-day"))
            .count(),
        2,
        "the video and its preview, each once"
    );
}

#[tokio::test]
async fn an_expired_media_link_is_a_gap_and_the_capture_goes_on() {
    let server = MockServer::start().await;
    mount_page(&server, "public.html", 1).await;
    let expired = "/cdn/d/hl2-graduation-march";
    mount_files(&server, 1, Some(expired)).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.expect("one refused file does not stop the capture");
    assert_well_formed(&report, &sink);

    assert_eq!(sink.items.len(), 6);
    assert_eq!(sink.media.len(), FILES.len() - 1);
    assert_eq!(sink.gaps.len(), 1);
    let gap = &sink.gaps[0];
    assert_eq!(gap.reason, GapReason::Other);
    assert_eq!(gap.item_id.as_deref(), Some(HL2));
    assert!(gap.detail.contains("403"), "{}", gap.detail);
    let hl2 = sink.items.iter().find(|i| i.id == HL2).unwrap();
    assert_eq!(hl2.media[0].sha256, None);
    assert_eq!(gap.url.as_deref(), Some(hl2.media[0].original_url.as_str()));
    assert!(
        hl2.media[1].sha256.is_some(),
        "its preview still was captured"
    );
    assert!(
        report.statement.starts_with("incomplete:") && report.statement.contains("1 gap listed"),
        "{}",
        report.statement
    );
    assert_eq!(report.captured["media"], 11);
}

#[tokio::test]
async fn an_empty_public_profile_is_a_complete_capture_that_says_nothing_is_public() {
    let server = MockServer::start().await;
    mount_page(&server, "empty.html", 2).await;
    Mock::given(method("GET"))
        .and(path(SNAPCODE))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(file_bytes(SNAPCODE), "image/svg+xml"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let (report, sink) = conformance(&h, source).await;
    assert!(sink.items.is_empty());
    assert!(sink.gaps.is_empty());
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.counts["subscribers"], 87);
    assert_eq!(profile.media.len(), 1, "empty picture URLs are no pictures");
    assert_eq!(report.captured["stories"], 0);
    assert_eq!(report.captured["saved_stories"], 0);
    assert_eq!(report.captured["spotlight"], 0);
    let s = &report.statement;
    assert!(s.starts_with("complete:"), "{s}");
    assert!(
        s.contains("no current story, no saved stories and no Spotlight")
            && s.contains("nothing beyond the profile itself is public"),
        "{s}"
    );
    assert!(s.contains("tawthiq import snapchat"), "{s}");
}

#[tokio::test]
async fn a_cursor_to_more_spotlight_snaps_is_a_platform_cap_gap() {
    let server = MockServer::start().await;
    let page = String::from_utf8(fixture("public.html")).unwrap().replace(
        "\"spotlightHighlightsCursor\":\"\"",
        "\"spotlightHighlightsCursor\":\"CAESBgiAhqC6Bg==\"",
    );
    assert!(page.contains("CAESBgiAhqC6Bg=="));
    Mock::given(method("GET"))
        .and(path(PAGE))
        .respond_with(html(page.into_bytes()))
        .mount(&server)
        .await;
    mount_files(&server, 1, None).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let report = result.unwrap();
    assert_eq!(sink.items.len(), 6);
    assert_eq!(sink.gaps.len(), 1);
    assert_eq!(sink.gaps[0].reason, GapReason::PlatformCap);
    assert!(
        sink.gaps[0]
            .detail
            .contains("lists 1 Spotlight entry and a cursor to more"),
        "{}",
        sink.gaps[0].detail
    );
    assert!(report.statement.starts_with("incomplete:"));
}

#[tokio::test]
async fn a_private_account_is_protected_and_its_answer_is_kept() {
    let server = MockServer::start().await;
    mount_page(&server, "private.html", 1).await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "account_protected");
    assert!(e.is_account_state());
    let msg = e.to_string();
    assert!(
        msg.contains("@madrasat.alnoor has no public Snapchat profile"),
        "{msg}"
    );
    assert!(msg.contains("tawthiq import snapchat"), "{msg}");
    // The evidence: the account was named, the page stored, the display name recorded.
    assert_eq!(sink.account.as_ref().unwrap().as_str(), USER);
    assert_eq!(&sink.documents[0].2[..], &fixture("private.html")[..]);
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.display_name.as_deref(), Some("مدرسة النور"));
    assert!(profile.media.is_empty() && sink.items.is_empty());
}

#[tokio::test]
async fn a_page_with_the_not_found_marker_is_an_unavailable_account() {
    let server = MockServer::start().await;
    mount_page(&server, "not_found.html", 1).await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "account_not_found");
    assert!(e.is_account_state());
    let msg = e.to_string();
    assert!(
        msg.contains("Snapchat knows no user @madrasat.alnoor"),
        "{msg}"
    );
    assert_eq!(sink.account.as_ref().unwrap().as_str(), USER);
    assert_eq!(sink.documents.len(), 1, "the answer is kept as evidence");
    assert!(sink.profile.is_none() && sink.items.is_empty());
}

/// The reduced page Snapchat serves to non-browser agents names no user and carries no
/// not-found marker: it proves nothing about the account, so it is a failure naming the
/// user-agent setting, never "unavailable".
#[tokio::test]
async fn a_reduced_page_is_a_failure_that_names_the_user_agent_setting() {
    let server = MockServer::start().await;
    mount_page(&server, "reduced.html", 1).await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "malformed");
    assert!(!e.is_account_state());
    let msg = e.to_string();
    assert!(
        msg.contains("says nothing about whether @madrasat.alnoor exists"),
        "{msg}"
    );
    assert!(msg.contains("[fetch] user_agent"), "{msg}");
    assert!(sink.profile.is_none() && sink.items.is_empty());
}

#[tokio::test]
async fn a_404_page_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAGE))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(fixture("404.html"), "text/html; charset=utf-8"),
        )
        .expect(1)
        .mount(&server)
        .await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "account_not_found");
    assert!(
        e.to_string()
            .contains("Snapchat has no public page for @madrasat.alnoor"),
        "{e}"
    );
    assert_eq!(&sink.documents[0].2[..], &fixture("404.html")[..]);
    assert_eq!(sink.log[0].status, Some(404));
}

#[tokio::test]
async fn a_changed_page_shape_fails_loudly_before_any_download() {
    let server = MockServer::start().await;
    mount_page(&server, "changed.html", 1).await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "malformed");
    let msg = e.to_string();
    assert!(msg.contains(FORMAT_CHANGED), "{msg}");
    assert!(
        msg.contains("pageProps.curatedHighlights[0].snapList[0].snapId is not an object"),
        "{msg}"
    );
    assert!(sink.items.is_empty() && sink.profile.is_none() && sink.media.is_empty());
}

#[tokio::test]
async fn a_block_page_without_next_data_is_a_clear_error() {
    let server = MockServer::start().await;
    mount_page(&server, "blocked.html", 1).await;
    no_media(&server).await;
    let h = Harness::new(&hosts(&server));
    let (result, sink) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "malformed");
    let msg = e.to_string();
    assert!(msg.contains(FORMAT_CHANGED), "{msg}");
    assert!(msg.contains("__NEXT_DATA__"), "{msg}");
    assert!(msg.contains("\"Just a moment...\""), "{msg}");
    assert!(msg.contains("[fetch] user_agent"), "{msg}");
    assert_eq!(&sink.documents[0].2[..], &fixture("blocked.html")[..]);
    assert!(sink.items.is_empty());
}

#[tokio::test]
async fn the_configured_browser_user_agent_is_sent() {
    // Comma-free: wiremock's header matcher splits values on commas.
    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PAGE))
        .and(header("user-agent", UA))
        .respond_with(html(fixture("not_found.html")))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::with(&hosts(&server), |c| c.user_agent = UA.to_owned());
    let (result, _) = h.capture(source(&h.transport).as_mut()).await;
    let e = expect_error(result, "account_not_found");
    assert!(
        !e.to_string().contains("user_agent"),
        "no hint with a browser's agent: {e}"
    );
}

#[tokio::test]
async fn bad_targets_are_refused_with_a_config_error() {
    for bad in [
        "ab",
        "https://www.instagram.com/add/school",
        "school/../../x",
    ] {
        let e = bad.parse::<SnapTarget>().unwrap_err();
        assert!(matches!(e, FetchError::Config(_)), "{bad}: {e}");
    }
}
