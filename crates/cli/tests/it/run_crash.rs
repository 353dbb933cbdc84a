//! `tawthiq run` under crashes and platform limits: a worker killed with SIGKILL mid-download
//! is put back by the next start (its process is gone) and the account archived once, with both
//! attempts in the audit trail; a run killed at random moments and restarted each time ends
//! with exactly one recorded bundle per account and nothing else left; SIGTERM stops a run
//! cleanly; an interrupted `--again` pass is continued; shared budgets hold every worker of
//! every process to the configured rate; a 429 with a reset stops every worker until the
//! reset.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runner::state::EventKind;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::run_scale::{
    ProfilePage, config_for, mount_media, run_command, snapchat_registry, spawn_run, stderr_logs,
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
/// A worker is killed (SIGKILL) while a media download hangs; the next process's start sees
/// that the worker's process is gone and puts the account back at once (its lease is far from
/// over), then archives it; exactly one bundle per account.
#[test]
fn killed_mid_download_is_put_back_and_archived_once() {
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
        &["--lease-secs", "600", "--platform", "snapchat"],
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
        &["--lease-secs", "600", "--linger-secs", "5"],
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
        let mut put_back = 0;
        for i in 0..3 {
            let key = format!("snapchat:@school{i:05}");
            let records = state.bundles(&key).await.unwrap();
            assert_eq!(records.len(), 1, "{key}: {records:?}");
            let events = state.events(&key).await.unwrap();
            let kinds: Vec<EventKind> = events.iter().map(|e| e.event).collect();
            if kinds.contains(&EventKind::Deferred) {
                put_back += 1;
                // Both attempts are on the record: the killed worker's claim, its release
                // by the next start, the second claim, and one completion under its fence.
                assert_eq!(
                    kinds,
                    vec![
                        EventKind::Claimed,
                        EventKind::Deferred,
                        EventKind::Claimed,
                        EventKind::Completed
                    ],
                    "{key}"
                );
                let detail = events[1].detail.as_deref().unwrap_or_default();
                assert!(detail.contains("process is gone"), "{detail}");
                assert_ne!(events[0].worker, events[2].worker, "{key}");
                assert_eq!(records[0].fence.0, 2, "{key}");
            }
        }
        assert_eq!(put_back, 1, "the killed worker's account was put back");
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

/// What a run left on disk that it should not have: upload staging files and probe objects in
/// the store, partial bundle files and worker folders in the scratch folder.
fn debris(store: &Path, scratch: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut walk = vec![store.to_path_buf(), scratch.to_path_buf()];
    while let Some(folder) = walk.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                if folder == scratch {
                    found.push(format!("scratch folder {name}"));
                }
                walk.push(path);
            } else if name.contains('#')
                || name.contains(".partial")
                || name.starts_with(".tawthiq-probe")
            {
                found.push(path.display().to_string());
            } else if path.starts_with(scratch) {
                found.push(format!("scratch file {}", path.display()));
            }
        }
    }
    found
}

/// The bundle files in the store.
fn stored_bundles(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tar.zst"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every account has exactly `per_account` recorded bundles, every bundle file in the store is
/// one of them, no upload intent is open, and the bundles verify as one chain per account.
fn assert_exactly_recorded(
    rt: &tokio::runtime::Runtime,
    state: &str,
    store: &Path,
    keys: &crate::support::Keys,
    accounts: usize,
    per_account: usize,
    context: &str,
) {
    let recorded: Vec<String> = rt.block_on(async {
        let state = runner::state::open(state).await.unwrap();
        assert!(
            state.open_uploads().await.unwrap().is_empty(),
            "{context}: open upload intents"
        );
        let counts = state.summary().await.unwrap().counts();
        assert_eq!(counts.recorded(), accounts as u64, "{context}: {counts:?}");
        let mut recorded = Vec::new();
        for i in 0..accounts {
            let key = format!("snapchat:@school{i:05}");
            let bundles = state.bundles(&key).await.unwrap();
            assert_eq!(bundles.len(), per_account, "{context}: {key}: {bundles:?}");
            for b in bundles {
                recorded.push(b.location.rsplit('/').next().unwrap().to_owned());
            }
        }
        recorded.sort();
        recorded
    });
    assert_eq!(
        stored_bundles(store),
        recorded,
        "{context}: the store holds exactly the recorded bundles"
    );
    let mut verify = crate::support::tawthiq();
    verify
        .arg("verify")
        .arg("--chain")
        .arg("--pubkey")
        .arg(&keys.public);
    for name in &recorded {
        verify.arg(store.join(name));
    }
    let out = verify.output().unwrap();
    assert!(
        out.status.success(),
        "{context}: verify --chain: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A small Snapchat server whose media answer after `delay`, so that captures take a moment.
fn slow_media_server(rt: &tokio::runtime::Runtime, delay: Duration) -> MockServer {
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/snap/add/"))
            .respond_with(ProfilePage(PUBLIC))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/cdn/"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(vec![0xFF_u8; 64 << 10])
                    .set_delay(delay),
            )
            .with_priority(1)
            .mount(&server)
            .await;
        mount_media(&server).await;
        server
    })
}

/// `tawthiq run` killed with SIGKILL at 24 random moments of its work (the seed is printed; set
/// `TAWTHIQ_CRASH_SEED` to replay one), restarted each time with a lease far longer than the
/// test: each start must put back the dead process's accounts, record or remove the bundles it
/// uploaded without recording, and remove its temporaries and scratch folders. Then one run
/// to the end: exactly one recorded bundle per account, the store holds exactly those, no
/// intent is open, nothing else is left, and the chains verify without a fork.
#[test]
#[allow(clippy::print_stderr)] // the seed and what the kills hit, to replay a failure
fn killed_at_random_moments_leaves_one_bundle_per_account_and_no_debris() {
    use rand::{Rng as _, SeedableRng as _};
    const ACCOUNTS: usize = 90;
    let seed: u64 = std::env::var("TAWTHIQ_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed: {seed} (TAWTHIQ_CRASH_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_media_server(&rt, Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), ACCOUNTS);
    let config = config_for(dir.path(), &server);
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = dir.path().join("bundles");
    let scratch = dir.path().join("tawthiq-run/scratch");
    let args = ["--lease-secs", "600", "--linger-secs", "2"];

    // Only a kill that finds the run still working counts; enough accounts that 24 of them do.
    let mut kills = Vec::new();
    let mut rounds = 0;
    while kills.len() < 24 {
        rounds += 1;
        assert!(
            rounds <= 60,
            "seed {seed}: the runs finished before 24 kills: {kills:?}"
        );
        let delay = Duration::from_millis(rng.random_range(50..700));
        let mut child = spawn_run(
            dir.path(),
            &config,
            &registry,
            &keys,
            &state,
            &store,
            3,
            &args,
        );
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL: no cleanup, no last word to the state store
            kills.push(delay.as_millis());
        }
        child.wait().unwrap();
    }
    eprintln!("killed at (ms after start): {kills:?} in {rounds} runs");
    let last = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        3,
        &args,
    );
    let out = last.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "seed {seed}: the last run: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr_logs(dir.path())
    );
    let context = format!("seed {seed}");
    assert_exactly_recorded(&rt, &state, &store, &keys, ACCOUNTS, 1, &context);
    // What the kills hit, for whoever reads a failure: uploads recovered or removed, accounts
    // put back from dead processes.
    let events = rt.block_on(async {
        let state = runner::state::open(&state).await.unwrap();
        let mut counted = std::collections::BTreeMap::<&str, usize>::new();
        for i in 0..ACCOUNTS {
            for e in state
                .events(&format!("snapchat:@school{i:05}"))
                .await
                .unwrap()
            {
                *counted.entry(e.event.as_str()).or_default() += 1;
            }
        }
        counted
    });
    eprintln!("{context}: audit events {events:?}");
    let left = debris(&store, &scratch);
    assert!(left.is_empty(), "{context}: left behind: {left:?}");
}

/// Sends `signal` (`TERM`, `INT`) to a child.
fn send(signal: &str, child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM (what a service manager sends) in the middle of a run: captures in flight are put
/// back, nothing is left behind (no partial file, no scratch folder, no temporary, no open
/// intent), exit code 143; the same command then finishes the run.
#[test]
fn sigterm_stops_a_run_cleanly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Media slow enough that the signal finds captures in flight.
    let server = slow_media_server(&rt, Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), 6);
    let config = config_for(dir.path(), &server);
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = dir.path().join("bundles");
    let scratch = dir.path().join("tawthiq-run/scratch");
    let args = ["--lease-secs", "600", "--linger-secs", "2"];

    let child = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        3,
        &args,
    );
    let partial_written = || {
        let mut stack = vec![scratch.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if e.file_name().to_string_lossy().ends_with(".partial") {
                    return true;
                }
            }
        }
        false
    };
    wait_for(
        "a bundle being written",
        Duration::from_mins(1),
        partial_written,
    );
    send("TERM", &child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{}", stderr_logs(dir.path()));
    assert!(
        stderr_logs(dir.path()).contains("interrupted by SIGTERM"),
        "{}",
        stderr_logs(dir.path())
    );
    let left = debris(&store, &scratch);
    assert!(left.is_empty(), "left behind: {left:?}");
    rt.block_on(async {
        let state = runner::state::open(&state).await.unwrap();
        assert!(state.open_uploads().await.unwrap().is_empty());
        assert!(
            state.leases().await.unwrap().is_empty(),
            "accounts put back"
        );
        let counts = state.summary().await.unwrap().counts();
        assert!(counts.recorded() < 6, "stopped before the end: {counts:?}");
    });

    let again = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        3,
        &args,
    );
    let out = again.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_logs(dir.path()));
    assert_exactly_recorded(&rt, &state, &store, &keys, 6, 1, "after SIGTERM");
    assert!(debris(&store, &scratch).is_empty());
}

/// `--again` after an interrupted `--again` pass continues that pass: the accounts it already
/// archived are not archived a third time, and every account ends with one bundle per pass.
#[test]
fn an_interrupted_again_pass_is_continued() {
    const ACCOUNTS: usize = 6;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = slow_media_server(&rt, Duration::from_millis(150));
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), ACCOUNTS);
    let config = config_for(dir.path(), &server);
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = dir.path().join("bundles");
    let args = ["--lease-secs", "600", "--linger-secs", "2"];
    let again = ["--lease-secs", "600", "--linger-secs", "2", "--again"];

    let first = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        1,
        &args,
    );
    assert!(first.wait_with_output().unwrap().status.success());
    // Bundle ids carry the capture second: the pass's bundles must get new ones.
    std::thread::sleep(Duration::from_millis(1100));

    let done_in_pass = || {
        rt.block_on(async {
            let state = runner::state::open(&state).await.unwrap();
            let mut n = 0;
            for i in 0..ACCOUNTS {
                let key = format!("snapchat:@school{i:05}");
                n += usize::from(state.bundles(&key).await.unwrap().len() == 2);
            }
            n
        })
    };
    let pass = spawn_run(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        1,
        &again,
    );
    wait_for(
        "two accounts archived in the pass",
        Duration::from_mins(1),
        || done_in_pass() >= 2,
    );
    send("INT", &pass);
    let out = pass.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_logs(dir.path()));
    let before = done_in_pass();
    assert!(before < ACCOUNTS, "the pass was interrupted: {before}");

    let resumed = run_command(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        1,
        &again,
    )
    .output()
    .unwrap();
    assert!(resumed.status.success(), "{}", stderr_logs(dir.path()));
    let report: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(
        report["this_run"]["complete"].as_u64(),
        Some((ACCOUNTS - before) as u64),
        "only what the pass had not archived: {report}"
    );
    assert!(
        stderr_logs(dir.path()).contains("continuing the snapchat pass"),
        "{}",
        stderr_logs(dir.path())
    );
    assert_exactly_recorded(&rt, &state, &store, &keys, ACCOUNTS, 2, "two passes");

    // The pass is over: the next `--again` is a new pass over every account.
    std::thread::sleep(Duration::from_millis(1100));
    let third = run_command(
        dir.path(),
        &config,
        &registry,
        &keys,
        &state,
        &store,
        2,
        &again,
    )
    .output()
    .unwrap();
    assert!(third.status.success(), "{}", stderr_logs(dir.path()));
    let report: serde_json::Value = serde_json::from_slice(&third.stdout).unwrap();
    assert_eq!(
        report["this_run"]["complete"].as_u64(),
        Some(ACCOUNTS as u64),
        "{report}"
    );
}
