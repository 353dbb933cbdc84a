//! Several `tawthiq run` processes on one run state: every account archived exactly once.
//!
//! The accounts are Snapchat public profiles answered by a local server (any `/add/<name>`
//! gets a small profile page), so each account is one request and one small bundle named
//! after its username.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Keys, keygen, tawthiq};

const PAGE: &str = include_str!("../../../fetcher/tests/fixtures/snapchat/web/empty.html");

/// A Snapchat profile page for whichever username is asked: the sample page with its
/// username replaced (the adapter checks that the page describes the profile it asked for).
pub struct ProfilePage(pub &'static str);

impl ProfilePage {
    pub fn for_request(&self, request: &Request) -> ResponseTemplate {
        let name = request.url.path().rsplit('/').next().unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html; charset=utf-8")
            .set_body_string(self.0.replace("madrasat.alnoor", name))
    }
}

impl Respond for ProfilePage {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.for_request(request)
    }
}

/// A local server answering any Snapchat profile with a small public page of that name.
pub fn snapchat_server(rt: &tokio::runtime::Runtime) -> MockServer {
    rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/snap/add/[a-z0-9._-]+$"))
            .respond_with(ProfilePage(PAGE))
            .mount(&server)
            .await;
        mount_media(&server).await;
        server
    })
}

/// The images a profile page names: its Snapcode (`app.snapchat.com`) and CDN media
/// (`*.sc-cdn.net`), as small files.
pub async fn mount_media(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/app/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/svg+xml")
                .set_body_string("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        )
        .with_priority(10)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/cdn/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(vec![0xFF_u8; 4096]),
        )
        .with_priority(10)
        .mount(server)
        .await;
}

/// A registry of `n` Snapchat accounts `school00000`….
pub fn snapchat_registry(dir: &Path, n: usize) -> PathBuf {
    let mut csv = String::from("entity_id,entity_name,entity_type,region,platform,account,route\n");
    for i in 0..n {
        csv.push_str(&format!(
            "{i},مدرسة رقم {i},school,الرياض,snapchat,@school{i:05},web\n"
        ));
    }
    let path = dir.join("registry.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// A config sending Snapchat to `server`, without the per-process politeness limit.
pub fn config_for(dir: &Path, server: &MockServer) -> PathBuf {
    let path = dir.join("tawthiq.toml");
    std::fs::write(
        &path,
        format!(
            "[fetch]\nmax_attempts = 3\n[fetch.hosts]\n\"www.snapchat.com\" = \"{0}/snap\"\n\
             \"app.snapchat.com\" = \"{0}/app\"\n\"*.sc-cdn.net\" = \"{0}/cdn\"\n\
             [fetch.rate_limits]\ndefault = 0\n\"www.snapchat.com\" = 0\n",
            server.uri()
        ),
    )
    .unwrap();
    path
}

/// The `tawthiq run` command of one process of a test run (stdout piped, stderr to a file).
#[allow(clippy::too_many_arguments)]
pub fn run_command(
    dir: &Path,
    config: &Path,
    registry: &Path,
    keys: &Keys,
    state: &str,
    store: impl AsRef<std::ffi::OsStr>,
    workers: usize,
    extra: &[&str],
) -> Command {
    let mut c = tawthiq();
    c.current_dir(dir)
        .arg("--config")
        .arg(config)
        .arg("run")
        .arg(registry)
        .args(["--state", state, "--store"])
        .arg(store)
        .arg("--key")
        .arg(&keys.secret)
        .args(["--workers", &workers.to_string(), "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        // A file, not a pipe: a pipe nobody reads while another child is awaited would fill
        // and stall this process in the middle of its work.
        .stderr(stderr_file(dir));
    c
}

#[allow(clippy::too_many_arguments)]
pub fn spawn_run(
    dir: &Path,
    config: &Path,
    registry: &Path,
    keys: &Keys,
    state: &str,
    store: &Path,
    workers: usize,
    extra: &[&str],
) -> Child {
    run_command(dir, config, registry, keys, state, store, workers, extra)
        .spawn()
        .unwrap()
}

/// A fresh file in `dir` for one child's stderr.
fn stderr_file(dir: &Path) -> std::fs::File {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::fs::File::create(dir.join(format!("stderr-{n}.log"))).unwrap()
}

/// Everything the children wrote on stderr, for failure messages.
pub fn stderr_logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("stderr-"))
        {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    out
}

/// Runs `processes` processes of `workers` workers each over `accounts` accounts and checks
/// that every account has exactly one bundle, in the store and in the state.
pub fn drain_with_processes(state: &str, accounts: usize, processes: usize, workers: usize) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = snapchat_server(&rt);
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = snapchat_registry(dir.path(), accounts);
    let config = config_for(dir.path(), &server);
    let store = dir.path().join("bundles");
    let children: Vec<Child> = (0..processes)
        .map(|_| {
            spawn_run(
                dir.path(),
                &config,
                &registry,
                &keys,
                state,
                &store,
                workers,
                &["--linger-secs", "30"],
            )
        })
        .collect();
    let mut done = 0;
    let mut busy = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a run failed ({:?}): {}\n{}",
            out.status,
            stderr_logs(dir.path()),
            String::from_utf8_lossy(&out.stdout)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mine = report["this_run"]["complete"].as_u64().unwrap();
        assert_eq!(report["this_run"]["stale"], 0, "{report}");
        assert_eq!(report["this_run"]["failed"], 0, "{report}");
        done += mine;
        busy += usize::from(mine > 0);
    }
    assert_eq!(done, accounts as u64, "completions across processes");
    assert!(busy > 1, "the processes shared the work");

    // One bundle file per account in the store, named after the account.
    let mut per_account: HashMap<String, usize> = HashMap::new();
    for entry in std::fs::read_dir(&store).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix("snapchat-")
            && name.ends_with(".tar.zst")
        {
            let account = rest.split('-').next().unwrap().to_owned();
            *per_account.entry(account).or_default() += 1;
        }
    }
    assert_eq!(per_account.len(), accounts, "accounts with a bundle");
    assert!(
        per_account.values().all(|&n| n == 1),
        "an account archived twice"
    );

    // The state agrees: every account done, exactly one completion each.
    rt.block_on(async {
        let store = runner::state::open(state).await.unwrap();
        let counts = store.summary().await.unwrap().counts();
        assert_eq!(counts.complete, accounts as u64);
        assert_eq!(counts.total(), accounts as u64);
        for i in (0..accounts).step_by((accounts / 50).max(1)) {
            let key = format!("snapchat:@school{i:05}");
            assert_eq!(store.bundles(&key).await.unwrap().len(), 1, "{key}");
        }
    });
}

/// 16 workers in 4 processes over 3,000 accounts on the embedded SQLite state (the same on
/// PostgreSQL: `run_servers.rs`).
#[test]
fn sixteen_workers_in_four_processes_archive_each_account_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    drain_with_processes(&state, 3000, 4, 4);
}
