//! `tawthiq run <registry>`: archive every account of a registry, resumable, with shared
//! quotas, on one machine (SQLite + a local folder, the defaults) or many (PostgreSQL +
//! object storage: run the same command on each machine with the same `--state` and
//! `--store`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use ::archive::WriterOptions;
use anyhow::Context;
use fetcher::Transport;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use model::{AccountId, BundleId, Platform, Route};
use runner::batch::{BatchOptions, BatchReport, BundleTemplate, Progress, Stop, run_batch};
use runner::budgets::SharedBudgets;
use runner::registry::{Registry, RegistryAccount, RegistrySources, SourceOptions};
use runner::state::{
    AccountSpec, Location, Quota, StateCounts, StateStore, TokenBucket, WindowQuota,
};
use runner::store::{BundleStore, StoreOptions};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::Outcome;
use crate::batch_sources::resolve_credentials;
use crate::config::{Config, PlatformLimits};
use crate::progress::human_bytes;

#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per command-line flag
pub struct Args {
    /// The registry of entities and accounts (`.csv` or `.toml`; see examples/registry/).
    registry: PathBuf,
    /// Run state: `sqlite://PATH` or a file path (default), or `postgres://USER@HOST/DB`
    /// shared by every machine of the run.
    #[arg(long, env = "TAWTHIQ_STATE", hide_env_values = true, default_value = super::status::DEFAULT_STATE)]
    state: String,
    /// Where bundles go: a folder or `file:///abs/dir` (default), or `s3://bucket/prefix`
    /// (`gs://`, `az://`) with the provider's usual environment (`AWS_ENDPOINT_URL`, …).
    #[arg(long, env = "TAWTHIQ_STORE", hide_env_values = true, default_value = DEFAULT_STORE)]
    store: String,
    /// Accounts captured at once by this process.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Only these platforms (repeat the flag); default: all.
    #[arg(long = "platform")]
    platforms: Vec<Platform>,
    /// Seconds a claim is held without a heartbeat before another worker may take it over.
    #[arg(long, default_value_t = 300)]
    lease_secs: u64,
    /// Wait for accounts due within this many seconds (retries, deferrals, other workers'
    /// leases) before stopping; what is due later waits for the next run.
    #[arg(long, default_value_t = 900)]
    linger_secs: u64,
    /// Local folder for bundles being written before upload (default: next to the state, or
    /// `tawthiq-run/scratch`).
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Archive the accounts already done once more (a new pass): each new bundle names the
    /// account's previous one (`Previous-Bundle-Tagmanifest-SHA256`). A pass that was
    /// interrupted is continued, not started over: accounts archived since it began are not
    /// archived again. A pass ends when none of its accounts is pending, running, retried or
    /// deferred.
    #[arg(long)]
    again: bool,
    /// Try the accounts that failed permanently once more, from their first attempt (after an
    /// outage, an expired token renewed, …). A failed account whose registry line changed is
    /// retried without this flag.
    #[arg(long)]
    retry_failed: bool,
    /// snapchat exports: do not fetch the memories' download links (offline runs; they are
    /// recorded either way).
    #[arg(long)]
    no_fetch: bool,
    /// Print the closing summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    writer: super::WriterFlags,
}

pub const DEFAULT_STORE: &str = "tawthiq-run/bundles";
#[allow(clippy::too_many_lines)] // the run's set-up in order: each step a few lines
pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    // Waits show above the bars as they happen; their summary prints when this returns.
    let _waits = crate::progress::WaitSummaryAtEnd;
    // Everything that can be wrong with the input is found before any account starts.
    // The registry is checked whole but never held: it is fed into the run state in batches
    // below, and each worker builds its account's source from its claim.
    let checked = Registry::check(&a.registry)?;
    anyhow::ensure!(
        checked.accounts > 0,
        "registry {} lists no accounts",
        a.registry.display()
    );
    print_warnings(&a.registry, &checked.warnings);
    let credentials = resolve_credentials(&checked.credentials, cfg)?;
    let key = Arc::new(a.writer.signing_key(cfg)?);
    let timestamp = a.writer.timestamp(cfg)?;
    let quotas = quotas(cfg)?;
    let caps: Vec<(Platform, Option<u32>)> = Platform::ALL
        .into_iter()
        .map(|p| (p, limits(cfg, p).and_then(|l| l.max_concurrent)))
        .collect();
    let max_wait = StdDuration::from_secs(cfg.fetch.max_wait_secs.unwrap_or(900));
    let fetch = cfg.fetch_config()?;

    let rt = super::runtime()?;
    rt.block_on(async {
        // From here on SIGINT and SIGTERM stop the run cleanly instead of killing it.
        let signals = crate::signals::Signals::listen()?;
        if let Location::Sqlite(path) = Location::parse(&a.state)?
            && let Some(parent) = std::path::Path::new(&path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("run state folder {}", parent.display()))?;
        }
        let store = runner::state::open(&a.state)
            .await
            .map_err(|e| super::status::one_line(&a.state, "opening the run state", &e))?;
        // Parts small enough that every worker uploading at once stays well inside the
        // runner's memory budget.
        let part = cfg.run.store_part_mib.unwrap_or(8).max(1) << 20;
        let target = BundleStore::open_with(
            &a.store,
            StoreOptions {
                multipart_threshold: part,
                part_size: usize::try_from(part).unwrap_or(8 << 20),
                upload_concurrency: 2,
                ..StoreOptions::default()
            },
        )?;
        target.check().await?;
        let target: Arc<dyn runner::batch::BundleTarget> = Arc::new(target);
        let now = OffsetDateTime::now_utc();
        let added = feed_registry(store.as_ref(), &a.registry, now).await?;
        tracing::info!(
            added,
            total = checked.accounts,
            "registry loaded into the run state"
        );
        let scratch = a
            .scratch
            .clone()
            .unwrap_or_else(|| PathBuf::from("tawthiq-run/scratch"));
        let worker_prefix = runner::batch::default_worker_prefix();
        // What killed runs left: uploads never recorded, temporaries, abandoned leases and
        // scratch folders (before `--again`, so that a recovered bundle counts as done).
        let reconciled = runner::reconcile::reconcile(
            store.as_ref(),
            target.as_ref(),
            &runner::reconcile::ReconcileOptions {
                scratch: scratch.clone(),
                key: key.public_key(),
                worker: format!("{worker_prefix}-w0"),
                judge: runner::liveness::Judge::here(),
            },
        )
        .await?;
        tracing::info!(?reconciled, "the store and the run state were reconciled");
        let platforms = (!a.platforms.is_empty()).then_some(a.platforms.as_slice());
        if a.again {
            let pass = store
                .begin_pass(platforms, "tawthiq run --again", OffsetDateTime::now_utc())
                .await?;
            for p in pass.passes.iter().filter(|p| p.resumed) {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!(
                        "tawthiq: continuing the {} pass started {} (accounts archived since are not archived again)",
                        p.platform,
                        rfc3339(p.started_at)
                    );
                }
            }
            tracing::info!(
                requeued = pass.requeued,
                "accounts done before the pass are archived again"
            );
        }
        if a.retry_failed {
            let n = store
                .requeue_failed(platforms, "tawthiq run --retry-failed", now)
                .await?;
            tracing::info!(requeued = n, "failed accounts are tried again");
        }
        for (platform, cap) in &caps {
            store.set_platform_cap(*platform, *cap, now).await?;
        }
        let mut budgets = SharedBudgets::new(Arc::clone(&store), max_wait);
        budgets.configure(&quotas, now).await?;
        let transport = Transport::new(fetch)?.with_gate(Arc::new(budgets));
        let sources = Arc::new(RegistrySources::new(
            transport,
            a.registry.clone(),
            checked.keys,
            credentials,
            Arc::clone(&store),
            SourceOptions {
                yt_dlp: cfg.yt_dlp(),
                fetch_links: !a.no_fetch,
            },
        ));

        let start = OffsetDateTime::now_utc();
        let placeholder = AccountId::new("pending").expect("valid id");
        let mut writer =
            WriterOptions::new(BundleId::new(Platform::X, placeholder, start), Route::Api);
        a.writer.apply(&mut writer, cfg, false);
        writer.run_id = run_id(&a.registry);
        let mut opts = BatchOptions::new(
            scratch,
            BundleTemplate {
                writer,
                key,
                timestamp,
            },
        );
        opts.workers = a.workers.max(1);
        opts.worker_prefix = worker_prefix;
        opts.lease = Duration::seconds(i64::try_from(a.lease_secs.max(5)).unwrap_or(300));
        opts.heartbeat_every = StdDuration::from_secs((a.lease_secs / 3).max(1));
        opts.linger = Duration::seconds(i64::try_from(a.linger_secs).unwrap_or(900));
        if !a.platforms.is_empty() {
            opts.platforms = Some(a.platforms.clone());
        }

        let progress = Arc::new(Progress::default());
        let bars = Bars::start(store.as_ref(), &progress, opts.platforms.as_deref()).await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(Stop::Run);
        let first_signal = Arc::new(std::sync::OnceLock::new());
        let stopper = tokio::spawn(stop_on_signals(
            signals,
            stop_tx,
            Arc::clone(&first_signal),
        ));
        let report = run_batch(
            Arc::clone(&store),
            target,
            sources,
            opts,
            Arc::clone(&progress),
            stop_rx,
        )
        .await;
        stopper.abort();
        bars.finish();
        let report = report?;
        let closed = store.close_drained_passes(OffsetDateTime::now_utc()).await?;
        if !closed.is_empty() {
            tracing::info!(?closed, "capture passes finished");
        }
        let summary = store.summary().await?;
        print_summary(&report, &summary, &a.state, a.json)?;
        if report.interrupted {
            let signal = first_signal
                .get()
                .copied()
                .unwrap_or(crate::signals::Signal::Interrupt);
            return Err(crate::signals::Interrupted {
                signal,
                message: "accounts in flight were put back; run the same command to resume"
                    .into(),
            }
            .into());
        }
        Ok(exit_outcome(&summary.counts()))
    })
}

/// The first SIGINT or SIGTERM stops the run cleanly (captures in flight are put back,
/// uploads under way finish); a second one stops it at once (uploads under way are left for
/// the next run's start to resolve).
async fn stop_on_signals(
    mut signals: crate::signals::Signals,
    stop: tokio::sync::watch::Sender<Stop>,
    first: Arc<std::sync::OnceLock<crate::signals::Signal>>,
) {
    let signal = signals.next().await;
    let _ = first.set(signal);
    let _ = stop.send(Stop::Finish);
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "tawthiq: {}: stopping; uploads under way finish first (send it again to stop at once)",
            signal.name()
        );
    }
    signals.next().await;
    let _ = stop.send(Stop::Now);
}

/// The most serious outcome among the run state's accounts: failed, then still waiting, then
/// unavailable, then partial. Accounts still running belong to other processes of the same run.
fn exit_outcome(counts: &StateCounts) -> Outcome {
    if counts.failed > 0 {
        Outcome::Failed
    } else if counts.retry + counts.deferred + counts.pending > 0 {
        Outcome::Waiting
    } else if counts.unavailable > 0 {
        Outcome::Unavailable
    } else if counts.partial > 0 {
        Outcome::Partial
    } else {
        Outcome::Ok
    }
}

/// What the registry check found worth a look but not wrong (lines sharing an export file),
/// one line each on stderr before the run starts.
#[allow(clippy::print_stderr)]
fn print_warnings(registry: &std::path::Path, warnings: &[runner::registry::Problem]) {
    for warning in warnings {
        eprintln!("tawthiq: warning: {}: {warning}", registry.display());
    }
}

/// Feeds the registry into the run state a thousand accounts at a time (a reader thread
/// parses the next batch while the last one is written); returns how many were new.
async fn feed_registry(
    store: &dyn StateStore,
    registry: &std::path::Path,
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<AccountSpec>>(2);
    let path = registry.to_owned();
    let reader = tokio::task::spawn_blocking(move || {
        Registry::for_each_batch(&path, 1000, &mut |batch| {
            let specs = batch.iter().map(RegistryAccount::account_spec).collect();
            // A closed channel means the writer stopped on an error, reported below.
            let _ = tx.blocking_send(specs);
        })
    });
    let mut added = 0;
    while let Some(specs) = rx.recv().await {
        added += store.upsert_accounts(&specs, now).await?;
    }
    // The file was checked a moment ago; an error now means it changed meanwhile.
    reader
        .await
        .context("registry reader")?
        .context("the registry changed while it was being loaded; run again")?;
    Ok(added)
}

/// `Bag-Group-Identifier` of the run: the registry's file name and the day.
fn run_id(registry: &std::path::Path) -> String {
    let stem = registry
        .file_stem()
        .map_or_else(|| "registry".into(), |s| s.to_string_lossy().into_owned());
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let day = OffsetDateTime::now_utc().date();
    format!("{stem}-{day}")
}

fn limits(cfg: &Config, platform: Platform) -> Option<&PlatformLimits> {
    cfg.run.platforms.get(platform.as_str())
}

/// The shared budgets of the run: `[run.platforms.<p>]`, and by default YouTube's daily
/// 10,000 units (per Google Cloud project, so shared by every worker), reset at midnight
/// Pacific (08:00 UTC; see `state::quota` on summer time).
fn quotas(cfg: &Config) -> anyhow::Result<Vec<(Platform, Quota)>> {
    for name in cfg.run.platforms.keys() {
        name.parse::<Platform>().map_err(|_| {
            anyhow::anyhow!(
                "[run.platforms.{name}]: not a platform (x, instagram, facebook, youtube, snapchat)"
            )
        })?;
    }
    let mut out = Vec::new();
    for platform in Platform::ALL {
        let l = limits(cfg, platform);
        let bucket = match l.and_then(|l| l.requests_per_second) {
            Some(rate) => {
                anyhow::ensure!(
                    rate > 0.0 && rate.is_finite(),
                    "[run.platforms.{platform}] requests_per_second must be above 0"
                );
                Some(TokenBucket {
                    per_second: rate,
                    burst: l.and_then(|l| l.burst).unwrap_or(1).max(1),
                })
            }
            None => None,
        };
        let default_window = (platform == Platform::Youtube).then_some((86_400, 10_000, 8 * 3600));
        let window = match (
            l.and_then(|l| l.window_secs),
            l.and_then(|l| l.window_units),
        ) {
            (Some(secs), Some(units)) => Some((
                secs,
                units,
                l.and_then(|l| l.window_offset_secs).unwrap_or(0),
            )),
            (None, None) => default_window,
            _ => anyhow::bail!(
                "[run.platforms.{platform}]: window_secs and window_units go together"
            ),
        };
        let window = match window {
            Some((secs, units, offset)) => {
                anyhow::ensure!(
                    secs > 0,
                    "[run.platforms.{platform}] window_secs must be above 0"
                );
                Some(WindowQuota {
                    length: Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)),
                    limit: units,
                    offset: Duration::seconds(offset),
                })
            }
            None => None,
        };
        out.push((platform, Quota { bucket, window }));
    }
    Ok(out)
}

/// One progress bar per platform: accounts finished of the platform's total, with each
/// outcome, deferred, bytes and rate; ETA from the rate. Hidden when stderr is not a terminal.
struct Bars {
    multi: MultiProgress,
    ticker: tokio::task::JoinHandle<()>,
}

impl Bars {
    async fn start(
        store: &dyn StateStore,
        progress: &Arc<Progress>,
        only: Option<&[Platform]>,
    ) -> anyhow::Result<Bars> {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let summary = store.summary().await?;
        let style =
            ProgressStyle::with_template("{prefix:>9} [{bar:28}] {pos}/{len} {msg} eta {eta}")
                .expect("valid template")
                .progress_chars("=> ");
        let mut rows = Vec::new();
        for p in &summary.platforms {
            if only.is_some_and(|o| !o.contains(&p.platform)) {
                continue;
            }
            let finished_before = p.counts.recorded() + p.counts.failed;
            let bar = multi.add(ProgressBar::new(p.counts.total()));
            bar.set_style(style.clone());
            bar.set_prefix(p.platform.as_str());
            bar.set_position(finished_before);
            bar.reset_eta();
            rows.push((p.platform, bar, finished_before));
        }
        let _ = crate::progress::waits().show_through(crate::progress::Out::Multi(multi.clone()));
        let progress = Arc::clone(progress);
        let started = std::time::Instant::now();
        let ticker = tokio::spawn(async move {
            loop {
                for (platform, bar, before) in &rows {
                    let f = progress.platform(*platform);
                    let complete = f.complete.load(Ordering::Relaxed);
                    let partial = f.partial.load(Ordering::Relaxed);
                    let unavailable = f.unavailable.load(Ordering::Relaxed);
                    let failed = f.failed.load(Ordering::Relaxed);
                    let finished = complete + partial + unavailable + failed;
                    let bytes = f.bytes.load(Ordering::Relaxed) + progress.live_bytes(*platform);
                    let secs = started.elapsed().as_secs_f64().max(0.001);
                    #[allow(clippy::cast_precision_loss)]
                    let rate = finished as f64 / secs;
                    bar.set_position(before + finished);
                    let mut msg = format!(
                        "complete {complete} · partial {partial} · unavailable {unavailable} · failed {failed} · deferred {} · retry {} · running {} · {} · {rate:.1} acct/s",
                        f.deferred.load(Ordering::Relaxed),
                        f.retry.load(Ordering::Relaxed),
                        progress.running(*platform),
                        human_bytes(bytes),
                    );
                    if let Some(wait) = crate::progress::waits().status(Some(*platform)) {
                        msg = format!("{msg} · {wait}");
                    }
                    bar.set_message(msg);
                }
                tokio::time::sleep(StdDuration::from_millis(250)).await;
            }
        });
        Ok(Bars { multi, ticker })
    }

    fn finish(self) {
        self.ticker.abort();
        let _ = self.multi.clear();
    }
}

#[allow(clippy::print_stdout)]
fn print_summary(
    report: &BatchReport,
    summary: &runner::state::Summary,
    state: &str,
    as_json: bool,
) -> anyhow::Result<()> {
    let counts = summary.counts();
    if as_json {
        let platforms: BTreeMap<&str, serde_json::Value> = summary
            .platforms
            .iter()
            .map(|p| {
                (
                    p.platform.as_str(),
                    json!({
                        "total": p.counts.total(), "complete": p.counts.complete,
                        "partial": p.counts.partial, "unavailable": p.counts.unavailable,
                        "failed": p.counts.failed, "retry": p.counts.retry,
                        "deferred": p.counts.deferred, "pending": p.counts.pending,
                        "running": p.counts.running,
                        "items": p.items, "media": p.media, "bytes": p.bytes,
                    }),
                )
            })
            .collect();
        let out = json!({
            "this_run": {
                "claimed": report.claimed, "complete": report.complete,
                "partial": report.partial, "unavailable": report.unavailable,
                "failed": report.failed, "retry": report.retry, "deferred": report.deferred,
                "stale": report.stale, "next_due": report.next_due.map(rfc3339),
            },
            "state": { "total": counts.total(), "complete": counts.complete,
                "partial": counts.partial, "unavailable": counts.unavailable,
                "failed": counts.failed, "retry": counts.retry, "deferred": counts.deferred,
                "pending": counts.pending, "running": counts.running },
            "exit_code": exit_outcome(&counts).code(),
            "platforms": platforms,
        });
        println!("{}", serde_json::to_string_pretty(&out).context("summary")?);
        return Ok(());
    }
    println!(
        "this run: {} accounts claimed: {} complete, {} partial, {} unavailable, {} failed, {} \
         to retry, {} deferred{}",
        report.claimed,
        report.complete,
        report.partial,
        report.unavailable,
        report.failed,
        report.retry,
        report.deferred,
        if report.stale > 0 {
            format!(", {} results rejected as stale", report.stale)
        } else {
            String::new()
        }
    );
    for p in &summary.platforms {
        let c = &p.counts;
        println!(
            "  {:<9} {:>6}/{:<6} complete {:>5} partial {:>5} unavailable {:>5} failed {:>5} \
             retry {:>5} deferred {:>5} pending  {}",
            p.platform.as_str(),
            c.complete,
            c.total(),
            c.partial,
            c.unavailable,
            c.failed,
            c.retry,
            c.deferred,
            c.pending + c.running,
            human_bytes(p.bytes)
        );
    }
    println!(
        "state: {} accounts: {} complete, {} partial, {} unavailable, {} failed (see `tawthiq \
         report --state {state}`)",
        counts.total(),
        counts.complete,
        counts.partial,
        counts.unavailable,
        counts.failed
    );
    if let Some(due) = report.next_due {
        println!(
            "{} accounts wait until {} or later: run the same command again then to resume",
            counts.retry + counts.deferred + counts.pending,
            rfc3339(due)
        );
    }
    Ok(())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
