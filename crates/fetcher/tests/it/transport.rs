//! The transport's own behaviour, whatever the platform: retries, timeouts, caps, truncation,
//! HTML where data was expected, redaction, host rewrites.

use std::time::Duration;

use fetcher::{Auth, MemorySink, Request, Secret};
use model::Platform;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::conformance::{Harness, SECRET, expect_error};

fn hosts(server: &MockServer) -> String {
    format!(
        "api.example.test={},cdn.example.test={}/cdn",
        server.uri(),
        server.uri()
    )
}

fn api(path: &str) -> Url {
    Url::parse(&format!("https://api.example.test{path}")).unwrap()
}

fn cdn(path: &str) -> Url {
    Url::parse(&format!("https://cdn.example.test{path}")).unwrap()
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed_and_every_attempt_is_logged() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/page"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/v1/page"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"ok\":true}", "application/json"))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let doc = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::X, "page", api("/v1/page")),
        )
        .await
        .unwrap();
    assert_eq!(&doc.body[..], b"{\"ok\":true}");
    assert_eq!(
        sink.log.len(),
        3,
        "two failed attempts and the success are logged"
    );
    assert_eq!(sink.log[0].status, Some(503));
    assert!(sink.log[0].note.as_deref().unwrap().contains("will retry"));
    assert_eq!(
        sink.log[2].payload_path.as_deref(),
        Some(doc.stored.path.as_str())
    );
    assert_eq!(
        h.clock.sleeps().len(),
        2,
        "two backoffs, on the paused clock"
    );
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_last_attempt() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/page"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let r = h
        .transport
        .document(
            &mut MemorySink::new(),
            &Request::new(Platform::X, "page", api("/v1/page")),
        )
        .await;
    expect_error(r, "server_error");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let h = Harness::with(&hosts(&server), |c| {
        c.request_timeout = Duration::from_millis(200);
        c.retry.max_attempts = 2;
    });
    let mut sink = MemorySink::new();
    let started = std::time::Instant::now();
    let r = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::X, "slow", api("/v1/slow")),
        )
        .await;
    expect_error(r, "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(sink.log.len(), 2, "each timed-out attempt is logged");
    assert!(sink.documents.is_empty());
}

#[tokio::test]
async fn html_where_json_was_expected_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!DOCTYPE html><html><body>Log in</body></html>",
            "text/html",
        ))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::Instagram, "me", api("/v1/me")),
        )
        .await;
    expect_error(r, "unexpected_html");
    assert_eq!(
        sink.documents.len(),
        1,
        "the login page itself is kept as evidence"
    );
    assert_eq!(sink.documents[0].1, "html");
}

#[tokio::test]
async fn media_larger_than_the_cap_is_refused_before_and_while_streaming() {
    let server = MockServer::start().await;
    let big = vec![7u8; 300_000];
    Mock::given(path("/cdn/big.jpg"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big.clone(), "image/jpeg"))
        .mount(&server)
        .await;
    let h = Harness::with(&hosts(&server), |c| c.max_media_bytes = 100_000);
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .media(
            &mut sink,
            &Request::new(Platform::X, "media", cdn("/big.jpg")),
            None,
        )
        .await;
    expect_error(r, "too_large");
    assert!(sink.media.is_empty());
}

#[tokio::test]
async fn html_instead_of_media_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/cdn/a.jpg"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html"))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .media(
            &mut sink,
            &Request::new(Platform::X, "media", cdn("/a.jpg")),
            None,
        )
        .await;
    expect_error(r, "unexpected_html");
    assert!(sink.media.is_empty());
}

/// A raw server that announces `announced` bytes but sends `sent` and closes, `times` times,
/// then serves the whole body.
async fn short_body_server(body: Vec<u8>, sent: usize, times: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut served = 0;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let n = if served < times { sent } else { body.len() };
            let _ = sock.write_all(&body[..n]).await;
            let _ = sock.shutdown().await;
            served += 1;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_body_cut_short_is_discarded_and_retried() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let base = short_body_server(body.clone(), 50_000, 1).await;
    let h = Harness::new(&format!("cdn.example.test={base}"));
    let mut sink = MemorySink::new();
    let stored = h
        .transport
        .media(
            &mut sink,
            &Request::new(Platform::X, "media", cdn("/v.mp4")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(stored.size, 200_000);
    assert_eq!(sink.discarded, 1, "the short attempt was thrown away");
    assert_eq!(sink.media.len(), 1);
    assert_eq!(&sink.media.values().next().unwrap()[..], &body[..]);
    assert!(sink.log[0].note.as_deref().unwrap().contains("cut short"));
    assert_eq!(
        sink.log[1].payload_path.as_deref(),
        Some(stored.path.as_str())
    );
}

#[tokio::test]
async fn a_body_always_cut_short_fails_as_truncated() {
    let body = vec![1u8; 10_000];
    let base = short_body_server(body, 100, usize::MAX).await;
    let h = Harness::new(&format!("cdn.example.test={base}"));
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .media(
            &mut sink,
            &Request::new(Platform::X, "media", cdn("/v.mp4")),
            None,
        )
        .await;
    expect_error(r, "truncated");
    assert!(sink.media.is_empty());
    let r = h
        .transport
        .document(&mut sink, &Request::new(Platform::X, "doc", cdn("/d.json")))
        .await;
    expect_error(r, "truncated");
    assert!(
        sink.documents.is_empty(),
        "a short document is never stored"
    );
}

#[tokio::test]
async fn tokens_reach_the_server_but_never_the_log_the_bodies_or_errors() {
    let server = MockServer::start().await;
    // A platform that echoes the token in a paging link (Meta does).
    let echo = format!(
        "{{\"data\":[],\"paging\":{{\"next\":\"https://api.example.test/v1/feed?access_token={SECRET}&after=QVF\"}}}}"
    );
    Mock::given(method("GET"))
        .and(path("/v1/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(echo, "application/json")
                .insert_header("set-cookie", format!("sid={SECRET}").as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v1/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let secret = Secret::new(SECRET);
    let mut sink = MemorySink::new();
    let auth = Some(Auth::Query {
        param: "access_token",
        secret: &secret,
    });
    h.transport
        .document(
            &mut sink,
            &Request::new(Platform::Facebook, "feed", api("/v1/feed?fields=id")).auth(auth),
        )
        .await
        .unwrap();
    let err = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::Facebook, "missing", api("/v1/missing")).auth(auth),
        )
        .await
        .unwrap_err();
    let received = server.received_requests().await.unwrap();
    assert!(
        received[0].url.query().unwrap().contains(SECRET),
        "the token was sent"
    );
    crate::conformance::assert_no_secret(&sink, &format!("{err} {err:?}"));
    assert_eq!(
        sink.log[0].url, "https://api.example.test/v1/feed?fields=id",
        "the logged URL is the platform's, without the token"
    );
    assert_eq!(sink.log[0].headers["set-cookie"], "[REDACTED]");
    // The stored body is not byte-exact any more, and the log says so next to its digest.
    assert!(
        sink.log[0]
            .note
            .as_deref()
            .unwrap()
            .contains("replaced by [REDACTED]"),
        "{:?}",
        sink.log[0].note
    );
}

#[tokio::test]
async fn connection_refused_is_a_clear_retryable_error() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let h = Harness::new(&format!("api.example.test=http://{addr}"));
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::X, "x", api("/x?access_token=abc")),
        )
        .await;
    let e = expect_error(r, "connect");
    assert!(!e.to_string().contains("abc"), "{e}");
    assert_eq!(sink.log.len(), 3);
}

#[tokio::test]
async fn meta_throttling_waits_for_the_regain_time_then_continues() {
    use fetcher::platforms::meta::signals::MetaSignals;
    let server = MockServer::start().await;
    Mock::given(path("/v21.0/1/published_posts"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(
                    r#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32}}"#,
                    "application/json",
                )
                .insert_header(
                    "x-business-use-case-usage",
                    r#"{"1":[{"type":"pages","call_count":100,"total_cputime":3,"total_time":9,"estimated_time_to_regain_access":12}]}"#,
                ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v21.0/1/published_posts"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"data\":[]}", "application/json"))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let signals = MetaSignals(Platform::Facebook);
    let doc = h
        .transport
        .document(
            &mut MemorySink::new(),
            &Request::new(Platform::Facebook, "posts", api("/v21.0/1/published_posts"))
                .signals(&signals),
        )
        .await
        .unwrap();
    assert_eq!(&doc.body[..], b"{\"data\":[]}");
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(12 * 60 + 1)]);
}

#[tokio::test]
async fn youtube_quota_defers_the_account_until_midnight_pacific() {
    use fetcher::platforms::youtube::signals::{YouTubeSignals, next_pacific_midnight};
    let server = MockServer::start().await;
    Mock::given(path("/youtube/v3/channels"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.","errors":[{"message":"quota","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let r = h
        .transport
        .document(
            &mut MemorySink::new(),
            &Request::new(
                Platform::Youtube,
                "channels",
                api("/youtube/v3/channels?mine=true"),
            )
            .signals(&YouTubeSignals),
        )
        .await;
    let e = expect_error(r, "deferred");
    assert_eq!(
        e.retry_at(),
        Some(next_pacific_midnight(crate::conformance::start_time()))
    );
    assert!(h.clock.sleeps().is_empty(), "no waiting for hours");
}

/// A page that says "0 requests left until T": the next request to that host waits for T
/// instead of spending a request on a certain 429; beyond the maximum wait it is not sent.
#[tokio::test]
async fn a_spent_budget_holds_the_next_request_until_the_reset() {
    use fetcher::platforms::x::signals::XSignals;
    let server = MockServer::start().await;
    let reset = crate::conformance::start_time().unix_timestamp() + 300;
    Mock::given(path("/2/a"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("{\"data\":[]}", "application/json")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/2/b"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"data\":[]}", "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let get = |p: &'static str| Request::new(Platform::X, "page", api(p)).signals(&XSignals);
    h.transport.document(&mut sink, &get("/2/a")).await.unwrap();
    assert!(h.transport.spent_until("api.example.test").is_some());
    h.transport.document(&mut sink, &get("/2/b")).await.unwrap();
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(301)]);

    // A reset further away than the maximum wait defers without sending anything.
    let h = Harness::with(&hosts(&server), |c| {
        c.retry.max_wait = Duration::from_mins(1);
    });
    h.transport.document(&mut sink, &get("/2/a")).await.unwrap();
    let r = h.transport.document(&mut sink, &get("/2/b")).await;
    expect_error(r, "deferred");
    assert!(h.clock.sleeps().is_empty());
}

/// A form POST (Snapchat's "My Data" download links answer only to one): the body and type
/// reach the server, and the log says POST.
#[tokio::test]
async fn a_form_post_sends_its_body_and_is_logged_as_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/dmd/memories"))
        .and(wiremock::matchers::header(
            "content-type",
            "application/x-www-form-urlencoded",
        ))
        .and(wiremock::matchers::body_string("uid=u1&sid=s2&mid=m3"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("https://cdn.example.test/m3.jpg", "text/plain"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let req = Request::new(Platform::Snapchat, "memory-link", api("/dmd/memories"))
        .post_form("uid=u1&sid=s2&mid=m3");
    let doc = h.transport.document(&mut sink, &req).await.unwrap();
    assert_eq!(&doc.body[..], b"https://cdn.example.test/m3.jpg");
    assert_eq!(sink.log.len(), 1);
    assert_eq!(sink.log[0].method, "POST");
}

/// A public web page is asked for as one: its HTML is stored as `.html`; the same HTML where an
/// API document was expected is still refused as a login wall.
#[tokio::test]
async fn web_pages_accept_html_and_api_documents_do_not() {
    let server = MockServer::start().await;
    let page = "<!DOCTYPE html><html><head><title>مدرسة</title></head><body>profile</body></html>";
    Mock::given(path("/add/alnoor_school"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page, "text/html; charset=utf-8"))
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let url = api("/add/alnoor_school");
    let doc = h
        .transport
        .document(
            &mut sink,
            &Request::new(Platform::Snapchat, "profile", url.clone()).web_page(),
        )
        .await
        .unwrap();
    assert_eq!(&doc.body[..], page.as_bytes());
    assert!(doc.stored.path.ends_with(".html"), "{}", doc.stored.path);
    let refused = h
        .transport
        .document(&mut sink, &Request::new(Platform::Snapchat, "profile", url))
        .await;
    expect_error(refused, "unexpected_html");
}

/// One wait the transport reported: cause, platform, host, planned, waited.
type Seen = (fetcher::WaitCause, Platform, String, Duration, Duration);

/// Every wait the transport reports.
#[derive(Default)]
struct Waits(std::sync::Mutex<Vec<Seen>>);

impl fetcher::WaitObserver for Waits {
    fn started(&self, _wait: &fetcher::Wait) {}
    fn ended(&self, w: &fetcher::Wait, waited: Duration) {
        self.0
            .lock()
            .unwrap()
            .push((w.cause, w.platform, w.host.clone(), w.planned(), waited));
    }
}

/// A harness whose waits are recorded, with the default backoff (0.5 s doubling, 5 attempts).
fn observed(hosts: &str) -> (crate::conformance::Harness, std::sync::Arc<Waits>) {
    let waits = std::sync::Arc::new(Waits::default());
    let hook = fetcher::WaitHook::new(waits.clone());
    let h = crate::conformance::Harness::with(hosts, |c| {
        c.retry = fetcher::RetryPolicy::default();
        c.waits = hook;
    });
    (h, waits)
}

/// Issue 13: an `x-rate-limit-reset` already past made the transport retry after one second,
/// five times, then report that past time as the reset. Now such a time (or one absurdly far
/// away) is not believed: the retries back off exponentially and no reset time is reported.
#[tokio::test]
async fn a_reset_time_in_the_past_or_absurdly_far_falls_back_to_exponential_backoff() {
    use fetcher::WaitCause;
    use fetcher::platforms::x::signals::XSignals;
    let start = crate::conformance::start_time().unix_timestamp();
    for (reset, why) in [
        (start - 120, "already past"),
        (start + 20 * 365 * 86_400, "more than 48 hours away"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/2/users/1/tweets"))
            .respond_with(
                ResponseTemplate::new(429)
                    .set_body_raw(r#"{"title":"Too Many Requests"}"#, "application/json")
                    .insert_header("x-rate-limit-remaining", "0")
                    .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
            )
            .expect(5)
            .mount(&server)
            .await;
        let (h, waits) = observed(&hosts(&server));
        let mut sink = MemorySink::new();
        let r = h
            .transport
            .document(
                &mut sink,
                &Request::new(Platform::X, "tweets", api("/2/users/1/tweets")).signals(&XSignals),
            )
            .await;
        let e = expect_error(r, "rate_limited");
        assert_eq!(e.retry_at(), None, "{why}: no reset time is reported: {e}");
        assert!(h.transport.spent_until("api.example.test").is_none());
        // Four backoffs between five attempts, each within [c/2, c] for c = 0.5 s · 2^(n-1).
        let sleeps = h.clock.sleeps();
        assert_eq!(sleeps.len(), 4, "{why}: {sleeps:?}");
        for (n, d) in sleeps.iter().enumerate() {
            let ceiling = Duration::from_millis(500 << n);
            assert!(
                *d >= ceiling / 2 && *d <= ceiling,
                "{why}: backoff {n}: {d:?}"
            );
        }
        let seen = waits.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|(cause, platform, host, planned, waited)| {
            *cause == WaitCause::Backoff
                && *platform == Platform::X
                && host == "api.example.test"
                && planned == waited
        }));
        // The capture log says why the announced time was not waited for.
        assert_eq!(sink.log.len(), 5);
        let note = sink.log[0].note.as_deref().unwrap();
        assert!(note.contains(why) && note.contains("backing off"), "{note}");
    }
}

/// A reset time ahead is waited for exactly (plus a second of margin), on the paused clock,
/// and the observer sees that wait start and end.
#[tokio::test]
async fn a_reset_time_ahead_is_waited_for_and_the_wait_is_observed() {
    use fetcher::WaitCause;
    use fetcher::platforms::x::signals::XSignals;
    let server = MockServer::start().await;
    let reset = crate::conformance::start_time().unix_timestamp() + 600;
    Mock::given(path("/2/users/1/tweets"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(r#"{"title":"Too Many Requests"}"#, "application/json")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/2/users/1/tweets"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"data\":[]}", "application/json"))
        .mount(&server)
        .await;
    let (h, waits) = observed(&hosts(&server));
    h.transport
        .document(
            &mut MemorySink::new(),
            &Request::new(Platform::X, "tweets", api("/2/users/1/tweets")).signals(&XSignals),
        )
        .await
        .unwrap();
    let wait = Duration::from_secs(601);
    assert_eq!(h.clock.sleeps(), [wait]);
    assert_eq!(
        *waits.0.lock().unwrap(),
        [(
            WaitCause::Reset,
            Platform::X,
            "api.example.test".to_owned(),
            wait,
            wait
        )]
    );
}

/// `Request::reach_once`: a host that refuses connections is tried once, with no backoff.
#[tokio::test]
async fn reach_once_gives_up_on_an_unreachable_host_after_one_attempt() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (h, waits) = observed(&format!("cdn.example.test=http://{addr}"));
    let mut sink = MemorySink::new();
    let r = h
        .transport
        .media(
            &mut sink,
            &Request::new(Platform::Snapchat, "m", cdn("/a.jpg")).reach_once(),
            None,
        )
        .await;
    expect_error(r, "connect");
    assert_eq!(sink.log.len(), 1, "one attempt, logged");
    assert!(h.clock.sleeps().is_empty());
    assert!(waits.0.lock().unwrap().is_empty());
}

/// "0 requests left until T" with T already past holds nothing: the next request goes at once.
#[tokio::test]
async fn a_spent_budget_whose_reset_is_past_holds_nothing() {
    use fetcher::platforms::x::signals::XSignals;
    let server = MockServer::start().await;
    let reset = crate::conformance::start_time().unix_timestamp() - 30;
    Mock::given(path("/2/a"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("{\"data\":[]}", "application/json")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .expect(2)
        .mount(&server)
        .await;
    let h = Harness::new(&hosts(&server));
    let mut sink = MemorySink::new();
    let get = Request::new(Platform::X, "page", api("/2/a")).signals(&XSignals);
    h.transport.document(&mut sink, &get).await.unwrap();
    assert!(h.transport.spent_until("api.example.test").is_none());
    h.transport.document(&mut sink, &get).await.unwrap();
    assert!(h.clock.sleeps().is_empty());
}
