//! The batch runner's own cost per account, without any capture: load a registry of N accounts
//! into a state store, then let W workers claim, heartbeat once and complete every one of them
//! (the calls a real batch makes per account). Prints CPU time per account, the database size
//! and the peak memory.
//!
//! ```text
//! cargo run --release -p runner --example state_overhead -- [ACCOUNTS] [WORKERS] [STATE]
//! ```
//!
//! STATE defaults to a fresh `state.db` in a temporary folder; give a `postgres://` URL to
//! measure PostgreSQL (an empty database).
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::Instant;

use model::Platform;
use runner::state::{AccountSpec, Completion, StateStore};
use time::{Duration, OffsetDateTime};

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (clock ticks of 1/100 s on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let accounts: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(130_000);
    let workers: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("state.db");
    let location = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", db.display()));
    let store: Arc<dyn StateStore> = runner::state::open(&location).await.expect("open state");

    let specs: Vec<AccountSpec> = (0..accounts)
        .map(|i| {
            let platform = Platform::ALL[i % Platform::ALL.len()];
            AccountSpec {
                key: format!("{platform}:@school{i:06}"),
                platform,
                account: format!("@school{i:06}"),
                route: Some("api".into()),
                credential_ref: Some(format!("SCHOOL{i:06}")),
                exports: Vec::new(),
            }
        })
        .collect();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    store
        .upsert_accounts(&specs, OffsetDateTime::now_utc())
        .await
        .expect("upsert");
    let load_cpu = cpu_seconds() - cpu0;
    let load_wall = t0.elapsed().as_secs_f64();
    drop(specs);

    let (cpu1, t1) = (cpu_seconds(), Instant::now());
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let worker = format!("bench-w{w}");
            let lease = Duration::minutes(5);
            let mut n = 0_u64;
            while let Some(c) = store
                .claim(&worker, None, OffsetDateTime::now_utc(), lease)
                .await
                .expect("claim")
            {
                let previous = store.last_bundle(&c.key).await.expect("last bundle");
                store
                    .heartbeat(&c.key, c.fence, OffsetDateTime::now_utc(), lease)
                    .await
                    .expect("heartbeat");
                let done = Completion {
                    outcome: model::Outcome::Complete,
                    bundle_id: format!("{}-20251122T000000Z", c.key.replace([':', '@'], "-")),
                    location: format!("file:///bundles/{}.tar.zst", c.key),
                    items: 12,
                    media: 4,
                    gaps: 0,
                    bytes: 48_000,
                    tag_manifest_sha256: Some("ab".repeat(32)),
                    previous_bundle: previous.map(|b| b.bundle_id),
                };
                store
                    .complete(&c.key, c.fence, &done, OffsetDateTime::now_utc())
                    .await
                    .expect("complete");
                n += 1;
            }
            n
        });
    }
    let mut completed = 0;
    while let Some(n) = tasks.join_next().await {
        completed += n.expect("worker");
    }
    let run_cpu = cpu_seconds() - cpu1;
    let run_wall = t1.elapsed().as_secs_f64();
    let summary = store.summary().await.expect("summary");
    assert_eq!(summary.counts().complete, accounts as u64);
    assert_eq!(completed, accounts as u64);

    let db_bytes: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    println!("state store: {location}");
    println!("accounts: {accounts}, workers: {workers}");
    println!(
        "load registry: {load_wall:.2} s wall, {:.3} ms CPU per account",
        load_cpu * 1000.0 / accounts as f64
    );
    println!(
        "claim + last bundle + heartbeat + complete: {run_wall:.1} s wall ({:.0} accounts/s), {:.3} ms CPU per account",
        accounts as f64 / run_wall,
        run_cpu * 1000.0 / accounts as f64
    );
    if db_bytes > 0 {
        println!(
            "database: {:.1} MB ({:.0} bytes per account)",
            db_bytes as f64 / 1e6,
            db_bytes as f64 / accounts as f64
        );
    }
    println!("peak RSS: {:.0} MiB", peak_rss_mib());
}
