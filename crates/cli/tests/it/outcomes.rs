//! Issue 13, the outcome model end to end: `tawthiq archive` against a local replay of each
//! platform ends as exactly one of complete (exit 0), partial (3: content with gaps, each
//! naming what is missing), unavailable (4: only an account-level answer, kept in the bundle)
//! or failed (5: nothing published). A refused sub-request is a gap, never "account gone".

use std::process::Output;

use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, cat, contains, keygen, only_file};

const TOKEN: &str = "TQ-OUTCOME-SECRET-b3V0Y29tZXM-0042";

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// Every platform's API and CDN hosts sent to `server`.
fn hosts(server: &MockServer) -> String {
    let u = server.uri();
    format!(
        "api.x.com={u}/x,*.twimg.com={u}/cdn,graph.instagram.com={u}/graph,\
         graph.facebook.com={u}/graph,*.cdninstagram.com={u}/cdn,*.fbcdn.net={u}/cdn,\
         www.googleapis.com={u}/googleapis,*.ytimg.com={u}/cdn,www.snapchat.com={u}/snap,\
         *.sc-cdn.net={u}/cdn"
    )
}

struct Archived {
    output: Output,
    out: std::path::PathBuf,
    public: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Archived {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn text(&self) -> String {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    /// `completeness.json` of the one bundle written.
    fn completeness(&self) -> serde_json::Value {
        let bundle = only_file(&self.out);
        let text = cat(&bundle, "data/derived/completeness.json", &self.public);
        serde_json::from_str(&text).unwrap()
    }

    fn bundle_holds(&self, needle: &str) -> bool {
        contains(&std::fs::read(only_file(&self.out)).unwrap(), needle)
    }
}

async fn archive(args: &[&str], server: &MockServer) -> Archived {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let out = dir.path().join("out");
    let env = [
        ("TAWTHIQ_X_TOKEN", TOKEN),
        ("TAWTHIQ_INSTAGRAM_TOKEN", TOKEN),
        ("TAWTHIQ_FACEBOOK_TOKEN", TOKEN),
        ("TAWTHIQ_YOUTUBE_TOKEN", TOKEN),
        ("TAWTHIQ_YOUTUBE_API_KEY", ""),
        ("TAWTHIQ_YT_DLP", "/nonexistent/yt-dlp"),
    ];
    let mut all = vec!["--json"];
    all.splice(0..0, args.iter().copied());
    let output = support::capture(&all, &hosts(server), &out, &keys.secret, &env).await;
    let a = Archived {
        output,
        out,
        public: keys.public,
        _dir: dir,
    };
    assert!(!a.text().contains(TOKEN), "the token leaked: {}", a.text());
    a
}

fn assert_unavailable(a: &Archived, state: &str, evidence: &str) {
    assert_eq!(a.code(), Some(4), "{}", a.text());
    let c = a.completeness();
    assert_eq!(c["outcome"], "unavailable", "{c}");
    assert_eq!(c["unavailable"], state, "{c}");
    assert!(
        c["statement"].as_str().unwrap().starts_with("unavailable:"),
        "{c}"
    );
    assert!(a.bundle_holds(evidence), "the answer is not in the bundle");
    let summary: serde_json::Value = serde_json::from_slice(&a.output.stdout).unwrap();
    assert_eq!(summary["outcome"], "unavailable");
    assert_eq!(summary["complete"], false);
}

fn assert_partial_naming(a: &Archived, named: &str) {
    assert_eq!(a.code(), Some(3), "{}", a.text());
    let c = a.completeness();
    assert_eq!(c["outcome"], "partial", "{c}");
    assert!(c.get("unavailable").is_none(), "{c}");
    let gaps = c["gaps"].as_array().unwrap();
    assert!(
        gaps.iter()
            .any(|g| g["detail"].as_str().unwrap().contains(named)),
        "no gap names {named:?}: {c}"
    );
    assert!(
        c["statement"].as_str().unwrap().starts_with("partial:"),
        "{c}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&a.output.stdout).unwrap();
    assert_eq!(summary["complete"], false, "--json agrees with the gaps");
}

// --- X -------------------------------------------------------------------------------------

const X_USER: &str = r#"{"data":{"id":"1456789012345678901","username":"alnoor_school",
 "name":"مدرسة النور","created_at":"2021-11-05T08:12:44.000Z","protected":false,
 "public_metrics":{"followers_count":10,"following_count":1,"tweet_count":2,"listed_count":0}}}"#;

const X_PAGE_1: &str = r#"{"data":[{"id":"1831593334666571327","text":"أهلاً بالطلاب",
 "created_at":"2024-09-05T07:20:55.000Z","author_id":"1456789012345678901",
 "edit_history_tweet_ids":["1831593334666571327"]}],
 "meta":{"result_count":1,"next_token":"7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_missing_suspended_and_protected_accounts_are_unavailable_with_the_answer() {
    let cases = [
        (
            "Could not find user with username: [ghost_school].",
            "Not Found Error",
            "resource-not-found",
            "not_found",
        ),
        (
            "User has been suspended: [ghost_school].",
            "Forbidden",
            "resource-not-found",
            "suspended",
        ),
        (
            "Sorry, you are not authorized to see the user with username: [ghost_school].",
            "Authorization Error",
            "not-authorized-for-resource",
            "protected",
        ),
    ];
    for (detail, title, kind, state) in cases {
        let server = MockServer::start().await;
        let body = format!(
            r#"{{"errors":[{{"value":"ghost_school","detail":"{detail}","title":"{title}",
            "resource_type":"user","parameter":"username","resource_id":"ghost_school",
            "type":"https://api.twitter.com/2/problems/{kind}"}}]}}"#
        );
        Mock::given(path("/x/2/users/by/username/ghost_school"))
            .respond_with(json(200, &body))
            .mount(&server)
            .await;
        let a = archive(&["archive", "x", "@ghost_school"], &server).await;
        assert_unavailable(&a, state, detail);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_a_timeline_page_refused_after_content_is_partial_not_unavailable() {
    let server = MockServer::start().await;
    Mock::given(path("/x/2/users/by/username/alnoor_school"))
        .respond_with(json(200, X_USER))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/x/2/users/\d+/tweets$"))
        .and(wiremock::matchers::query_param_is_missing(
            "pagination_token",
        ))
        .respond_with(json(200, X_PAGE_1))
        .mount(&server)
        .await;
    // A bare 404, not an X problem document.
    Mock::given(path_regex(r"^/x/2/users/\d+/tweets$"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&server)
        .await;
    let a = archive(&["archive", "x", "@alnoor_school"], &server).await;
    assert_partial_naming(&a, "capture stopped early");
    assert!(a.bundle_holds("أهلاً بالطلاب"), "the captured post is kept");
}

// --- Facebook ------------------------------------------------------------------------------

const FB_PAGE: &str = r#"{"id":"104000000000001","name":"مدرسة الأمل الابتدائية",
 "username":"alamal.school","link":"https://www.facebook.com/alamal.school","fan_count":5400}"#;

const GRAPH_100_33: &str = r#"{"error":{"message":"Unsupported get request. Object with ID '104000000000001' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"A1b2C3"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_a_refused_photos_edge_is_a_gap_naming_it_never_an_unavailable_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/graph/v23.0/104000000000001"))
        .respond_with(json(200, FB_PAGE))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/[^/]+/published_posts$"))
        .respond_with(json(
            200,
            r#"{"data":[{"id":"104000000000001_2000000000000001","created_time":"2024-09-23T06:05:00+0000",
            "message":"حفل اليوم الوطني","permalink_url":"https://www.facebook.com/alamal.school/posts/pfbid0abc",
            "status_type":"mobile_status_update","is_published":true}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/[^/]+/photos$"))
        .respond_with(json(400, GRAPH_100_33))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/[^/]+/(videos|video_reels)$"))
        .respond_with(json(200, r#"{"data":[]}"#))
        .mount(&server)
        .await;
    let a = archive(&["archive", "facebook", "104000000000001"], &server).await;
    assert_partial_naming(&a, "/photos edge");
    assert!(a.bundle_holds("حفل اليوم الوطني"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facebook_a_page_the_graph_api_cannot_find_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(path("/graph/v23.0/104000000000001"))
        .respond_with(json(400, GRAPH_100_33))
        .mount(&server)
        .await;
    let a = archive(&["archive", "facebook", "104000000000001"], &server).await;
    assert_unavailable(&a, "not_found", "GraphMethodException");
}

// --- Instagram -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instagram_missing_account_is_unavailable_and_a_refused_edge_is_partial() {
    let server = MockServer::start().await;
    Mock::given(path("/graph/v23.0/17841400000000009"))
        .respond_with(json(400, GRAPH_100_33))
        .mount(&server)
        .await;
    let a = archive(&["archive", "instagram", "17841400000000009"], &server).await;
    assert_unavailable(&a, "not_found", "GraphMethodException");

    let server = MockServer::start().await;
    Mock::given(path("/graph/v23.0/me"))
        .respond_with(json(
            200,
            r#"{"user_id":"17841400000000001","id":"9000000000000001","username":"alamal_school",
            "name":"مدرسة الأمل","account_type":"BUSINESS","media_count":1}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/\d+/media$"))
        .respond_with(json(
            200,
            r#"{"data":[{"id":"18000000000000001","caption":"صباح الخير","media_type":"TEXT",
            "media_product_type":"FEED","permalink":"https://www.instagram.com/p/C1aBcDeFgHi/",
            "timestamp":"2024-09-23T06:05:00+0000"}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/\d+/stories$"))
        .respond_with(json(400, GRAPH_100_33))
        .mount(&server)
        .await;
    let a = archive(&["archive", "instagram", "me"], &server).await;
    assert_partial_naming(&a, "/stories edge");
}

// --- YouTube -------------------------------------------------------------------------------

const CHANNEL: &str = "UCa1b2c3d4e5f6g7h8i9j0kL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_a_channel_answered_without_items_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(path("/googleapis/youtube/v3/channels"))
        .respond_with(json(
            200,
            r#"{"kind":"youtube#channelListResponse","etag":"gone1","pageInfo":{"totalResults":0,"resultsPerPage":5}}"#,
        ))
        .mount(&server)
        .await;
    let a = archive(&["archive", "youtube", CHANNEL], &server).await;
    assert_unavailable(&a, "not_found", "gone1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn youtube_an_uploads_playlist_404_with_reported_videos_exits_non_zero() {
    let server = MockServer::start().await;
    Mock::given(path("/googleapis/youtube/v3/channels"))
        .respond_with(json(
            200,
            &format!(
                r#"{{"kind":"youtube#channelListResponse","pageInfo":{{"totalResults":1,"resultsPerPage":5}},
                "items":[{{"kind":"youtube#channel","id":"{CHANNEL}",
                "snippet":{{"title":"مدرسة الأمل","publishedAt":"2019-02-01T08:00:00Z"}},
                "contentDetails":{{"relatedPlaylists":{{"uploads":"UUa1b2c3d4e5f6g7h8i9j0kL"}}}},
                "statistics":{{"viewCount":"1200","subscriberCount":"340","videoCount":"6"}}}}]}}"#
            ),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/googleapis/youtube/v3/playlistItems"))
        .respond_with(json(
            404,
            r#"{"error":{"code":404,"message":"The playlist identified with the request's <code>playlistId</code> parameter cannot be found.","errors":[{"message":"Playlist not found","domain":"youtube.playlistItem","reason":"playlistNotFound","location":"playlistId","locationType":"parameter"}]}}"#,
        ))
        .mount(&server)
        .await;
    let a = archive(&["archive", "youtube", CHANNEL], &server).await;
    assert_partial_naming(&a, "uploads playlist");
}

// --- Snapchat ------------------------------------------------------------------------------

fn snap_page(props: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html><head><title>Snapchat</title></head><body>
        <script id="__NEXT_DATA__" type="application/json">{{"props":{{"pageProps":{props}}},"page":"/add/[username]"}}</script></body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapchat_a_reduced_page_fails_naming_the_user_agent_and_a_marked_page_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(path("/snap/add/madrasat.alnoor"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(snap_page(r#"{"viewerInfo":{"country":"sa"}}"#), "text/html"),
        )
        .mount(&server)
        .await;
    let a = archive(&["archive", "snapchat", "madrasat.alnoor"], &server).await;
    assert_eq!(a.code(), Some(5), "{}", a.text());
    assert!(a.text().contains("user_agent"), "{}", a.text());
    assert!(
        std::fs::read_dir(&a.out).map_or(true, |mut d| d.next().is_none()),
        "a failure publishes nothing"
    );

    let server = MockServer::start().await;
    Mock::given(path("/snap/add/madrasat.alnoor"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            snap_page(r#"{"viewerInfo":{"country":"sa"},"pageMetadata":{"pageType":"NOT_FOUND"}}"#),
            "text/html",
        ))
        .mount(&server)
        .await;
    let a = archive(&["archive", "snapchat", "madrasat.alnoor"], &server).await;
    assert_unavailable(&a, "not_found", "NOT_FOUND");
}

/// The batch runner records the same outcomes as states of their own, and exits with the most
/// serious one: a registry line whose account does not exist is `unavailable`, never `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_records_unavailable_and_partial_as_states_and_exits_accordingly() {
    let server = MockServer::start().await;
    Mock::given(path("/x/2/users/by/username/ghost_school"))
        .respond_with(json(
            200,
            r#"{"errors":[{"value":"ghost_school","detail":"Could not find user with username: [ghost_school].","title":"Not Found Error","resource_type":"user","parameter":"username","resource_id":"ghost_school","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path("/x/2/users/by/username/alnoor_school"))
        .respond_with(json(200, X_USER))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/x/2/users/\d+/tweets$"))
        .respond_with(json(
            200,
            r#"{"data":[{"id":"1831593334666571327","text":"أهلاً بالطلاب",
            "created_at":"2024-09-05T07:20:55.000Z","author_id":"1456789012345678901",
            "edit_history_tweet_ids":["1831593334666571327"]}],"meta":{"result_count":1}}"#,
        ))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = dir.path().join("registry.csv");
    std::fs::write(
        &registry,
        "entity_id,entity_name,entity_type,platform,account,route,credential\n\
         1001,مدرسة النور,school,x,@alnoor_school,api,XTOKEN\n\
         1002,مدرسة الغائب,school,x,@ghost_school,api,XTOKEN\n",
    )
    .unwrap();
    let state = dir.path().join("state.db");
    let run = |args: &[&str]| {
        let mut c = support::tawthiq();
        c.current_dir(dir.path())
            .arg("run")
            .arg(&registry)
            .arg("--state")
            .arg(&state)
            .arg("--store")
            .arg(dir.path().join("bundles"))
            .arg("--key")
            .arg(&keys.secret)
            .args(["--linger-secs", "0", "--json"])
            .args(args)
            .env("TAWTHIQ_HOSTS", hosts(&server))
            .env("TAWTHIQ_CRED_XTOKEN", TOKEN);
        c
    };
    let mut c = run(&[]);
    let o = tokio::task::spawn_blocking(move || support::run(&mut c))
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!text.contains(TOKEN));
    // Unavailable outranks partial or complete in the exit code.
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["state"]["unavailable"], 1, "{summary}");
    assert_eq!(summary["state"]["failed"], 0, "{summary}");
    assert_eq!(o.status.code(), Some(4), "{text}");
    let mut c = support::tawthiq();
    c.args(["report", "--format", "csv", "--state"]).arg(&state);
    let report = support::ok(&mut c);
    let ghost = report
        .lines()
        .find(|l| l.contains("ghost_school"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(ghost.contains(",unavailable,"), "{ghost}");
    assert!(!report.contains(",done,"), "{report}");
    let mut c = support::tawthiq();
    c.args(["status", "--json", "--state"]).arg(&state);
    let status: serde_json::Value = serde_json::from_str(&support::ok(&mut c)).unwrap();
    assert_eq!(status["total"]["unavailable"], 1, "{status}");
}
