//! `tawthiq run` under crashes and platform limits: a worker killed with SIGKILL mid-download
//! is taken over after its lease and the account archived once, with both attempts in the
//! audit trail; shared budgets hold every worker of every process to the configured rate; a
//! 429 with a reset stops every worker until the reset.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runner::state::EventKind;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::run_scale::{
    ProfilePage, config_for, mount_media, snapchat_registry, spawn_run, stderr_logs,
};
use crate::support::keygen;

const PUBLIC: &str = include_str!("../../../fetcher/tests/fixtures/snapchat/web/public.html");
const EMPTY: &str = include_str!("../../../fetcher/tests/fixtures/snapchat/web/empty.html");

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[allow(clippy::too_many_lines)] // one scenario, start to finish
/// A worker is killed (SIGKILL) while a media download hangs; a second process takes the
/// account over when the lease expires and archives it; exactly one bundle per account.
#[test]
fn killed_mid_download_is_taken_over_and_archived_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/snap/add/"))
            .respond_with(ProfilePage(PUBLIC))
            .mount(&server)
            .await;
        // The first media request hangs (the download the first worker dies in); later ones
        // answer at once.
        Mock::given(method("GET"))
            .and(path_regex(r"^/cdn/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(vec![0xFF_u8; 4096])
                    .set_delay(Duration::from_mins(1)),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        mount_media(&server).await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), 3);
    let config = config_for(dir.path(), &server);
    let state_path = dir.path().join("state.db");
    let state = format!("sqlite://{}", state_path.display());
    let store = dir.path().join("bundles");

    let first = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        1,
        &["--lease-secs", "3", "--platform", "snapchat"],
    );
    let media_requested = || {
        rt.block_on(server.received_requests())
            .unwrap_or_default()
            .iter()
            .any(|r| r.url.path().starts_with("/cdn/"))
    };
    wait_for(
        "the first media download",
        Duration::from_mins(1),
        media_requested,
    );
    let mut first = first;
    first.kill().unwrap(); // SIGKILL: no cleanup, no last word to the state store
    let killed = first.wait_with_output().unwrap();
    assert!(!killed.status.success());

    let second = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        2,
        &["--lease-secs", "3", "--linger-secs", "30"],
    );
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_logs(dir.path()));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"]["complete"], 3, "{report}");

    let bundles: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.zst"))
        .collect();
    assert_eq!(bundles.len(), 3, "{bundles:?}");

    rt.block_on(async {
        let state = runner::state::open(&state).await.unwrap();
        let mut taken_over = 0;
        for i in 0..3 {
            let key = format!("snapchat:@school{i:05}");
            let records = state.bundles(&key).await.unwrap();
            assert_eq!(records.len(), 1, "{key}: {records:?}");
            let events = state.events(&key).await.unwrap();
            let kinds: Vec<EventKind> = events.iter().map(|e| e.event).collect();
            if kinds.contains(&EventKind::LeaseExpiredReclaimed) {
                taken_over += 1;
                // Both attempts are on the record: the killed worker's claim, the takeover,
                // the second claim, and one completion under the second fence.
                assert_eq!(
                    kinds,
                    vec![
                        EventKind::Claimed,
                        EventKind::LeaseExpiredReclaimed,
                        EventKind::Claimed,
                        EventKind::Completed
                    ],
                    "{key}"
                );
                assert_ne!(events[0].worker, events[2].worker, "{key}");
                assert_eq!(records[0].fence.0, 2, "{key}");
            }
        }
        assert_eq!(taken_over, 1, "the killed worker's account was taken over");
    });
}

/// When each profile request arrived, with the status it got.
type Arrivals = Arc<Mutex<Vec<(Instant, u16)>>>;

/// Records when each profile request arrived, answering 429 (with a reset `block_secs`
/// later) to the request number `throttle_at`, if any.
struct Clocked {
    arrivals: Arrivals,
    throttle_at: Option<usize>,
    block_secs: u64,
}

impl Respond for Clocked {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().unwrap();
        let n = arrivals.len();
        if self.throttle_at == Some(n) {
            arrivals.push((Instant::now(), 429));
            return ResponseTemplate::new(429)
                .insert_header("retry-after", self.block_secs.to_string().as_str())
                .set_body_string("slow down");
        }
        arrivals.push((Instant::now(), 200));
        ProfilePage(EMPTY).for_request(request)
    }
}

fn clocked_server(
    rt: &tokio::runtime::Runtime,
    throttle_at: Option<usize>,
    block_secs: u64,
) -> (MockServer, Arrivals) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let responder = Clocked {
        arrivals: Arc::clone(&arrivals),
        throttle_at,
        block_secs,
    };
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/snap/add/"))
            .respond_with(responder)
            .mount(&server)
            .await;
        mount_media(&server).await;
        server
    });
    (server, arrivals)
}

fn run_two_processes(dir: &Path, config: &Path, accounts: usize) {
    let keys = keygen(dir);
    let registry = snapchat_registry(dir, accounts);
    let state = format!("sqlite://{}", dir.join("state.db").display());
    let store = dir.join("bundles");
    let children: Vec<_> = (0..2)
        .map(|_| {
            spawn_run(
                dir,
                config,
                &registry,
                &keys,
                &state,
                &store,
                4,
                &["--linger-secs", "30"],
            )
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{:?}: {}\n{}",
            out.status,
            stderr_logs(dir),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Eight workers in two processes share one Snapchat budget of 5 requests a second (burst 2):
/// measured at the server, no second holds more than the budget allows, and the whole run
/// keeps to the rate.
#[test]
fn workers_of_all_processes_share_one_rate() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, arrivals) = clocked_server(&rt, None, 0);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &server);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[run.platforms.snapchat]\nrequests_per_second = 5.0\nburst = 2\n");
    std::fs::write(&config, text).unwrap();

    run_two_processes(dir.path(), &config, 30);

    let times: Vec<Instant> = arrivals.lock().unwrap().iter().map(|a| a.0).collect();
    assert_eq!(times.len(), 30);
    // Any one-second window: at most burst + rate = 7 requests (one more for timing slack at
    // the window's edges).
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(in_window <= 8, "{in_window} requests within one second");
    }
    let span = times.last().unwrap().duration_since(times[0]).as_secs_f64();
    // 30 requests at 5/s after a burst of 2: at least (30 - 2) / 5 = 5.6 s.
    assert!(span >= 5.0, "30 requests in {span:.2} s: faster than 5/s");
}

/// One worker gets a 429 with a 5-second reset: every worker of both processes holds back
/// until the reset, then the run completes.
#[test]
fn a_429_with_reset_blocks_the_platform_for_every_worker() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let block = 5;
    let (server, arrivals) = clocked_server(&rt, Some(6), block);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &server);
    // A steady pace so that requests would keep arriving during the block if it were ignored.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[run.platforms.snapchat]\nrequests_per_second = 4.0\nburst = 1\n");
    std::fs::write(&config, text).unwrap();

    run_two_processes(dir.path(), &config, 24);

    let arrivals = arrivals.lock().unwrap();
    let (t429, _) = *arrivals
        .iter()
        .find(|a| a.1 == 429)
        .expect("a 429 was sent");
    assert_eq!(arrivals.iter().filter(|a| a.1 == 200).count(), 24);
    // Requests already admitted when the 429 came may still land just after it; after that,
    // nothing until the reset.
    let during: Vec<f64> = arrivals
        .iter()
        .map(|a| a.0.saturating_duration_since(t429).as_secs_f64())
        .filter(|&s| s > 0.5 && s < block as f64 - 0.2)
        .collect();
    assert!(
        during.is_empty(),
        "requests during the block, seconds after the 429: {during:?}"
    );
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    rt.block_on(async {
        let store = runner::state::open(&state).await.unwrap();
        assert_eq!(store.summary().await.unwrap().counts().complete, 24);
    });
}
