//! Progress bars on a terminal; nothing when output is piped (indicatif hides itself when
//! stderr is not a terminal). And the [`WaitBoard`]: every wait of the process, shown as it
//! starts (a line on stderr, above the bars) and summed up at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use fetcher::{Wait, WaitCause, WaitObserver};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use time::OffsetDateTime;

/// A byte-progress bar fed from a counter the library updates as it streams.
pub struct Bytes {
    bar: ProgressBar,
    stop: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Wait lines print through this bar while it lives (see [`WaitBoard::show_through`]).
    showing_waits: Option<u64>,
}

impl Bytes {
    pub fn start(label: &str, total: u64, counter: Arc<AtomicU64>) -> Bytes {
        Bytes::with_waits(label, total, counter, false)
    }

    /// `show_waits`: the message says so while a capture waits (and wait lines print above
    /// the bar rather than through it).
    fn with_waits(label: &str, total: u64, counter: Arc<AtomicU64>, show_waits: bool) -> Bytes {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        let showing_waits = show_waits.then(|| waits().show_through(Out::Bar(bar.clone())));
        let stop = Arc::new(AtomicU64::new(0));
        let (b, s) = (bar.clone(), Arc::clone(&stop));
        let label = label.to_owned();
        let thread = std::thread::spawn(move || {
            while s.load(Ordering::Relaxed) == 0 {
                b.set_position(counter.load(Ordering::Relaxed));
                if show_waits {
                    b.set_message(match waits().status(None) {
                        Some(w) => format!("{label} · {w}"),
                        None => label.clone(),
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Bytes {
            bar,
            stop,
            thread: Some(thread),
            showing_waits,
        }
    }
}

impl Bytes {
    /// For work of unknown size: bytes so far and the rate.
    pub fn unbounded(label: &str, counter: Arc<AtomicU64>) -> Bytes {
        let b = Bytes::with_waits(label, 0, counter, true);
        b.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec} {elapsed}")
                .expect("valid template"),
        );
        b.bar.enable_steady_tick(Duration::from_millis(120));
        b
    }
}

/// `2.38 GB`, `812 KB`: decimal units, as the summary prints them.
pub fn human_bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.0} KB", f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", f / 1e6),
        _ => format!("{:.2} GB", f / 1e9),
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        self.stop.store(1, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(token) = self.showing_waits {
            waits().stop_showing_through(token);
        }
        self.bar.finish_and_clear();
    }
}

/// A spinner for work of unknown length.
pub fn spinner(msg: &str) -> ProgressBar {
    let s = ProgressBar::new_spinner();
    s.set_message(msg.to_owned());
    s.enable_steady_tick(Duration::from_millis(120));
    s
}

/// Waits shorter than this are only counted, not shown as they start (backoffs of a fraction
/// of a second are part of a normal capture).
pub const SHOWN_FROM: Duration = Duration::from_secs(3);

/// The process's waits: the one [`WaitObserver`] every transport of this process reports to
/// (attached by `Config::fetch_config`).
pub fn waits() -> &'static Arc<WaitBoard> {
    static BOARD: OnceLock<Arc<WaitBoard>> = OnceLock::new();
    BOARD.get_or_init(|| Arc::new(WaitBoard::default()))
}

/// Where wait lines go: through the bars on a terminal (printed above them), else plainly to
/// stderr (a hidden bar runs the print at once).
#[derive(Clone)]
pub enum Out {
    Bar(ProgressBar),
    Multi(MultiProgress),
}

/// Every wait of the process: the ones under way (for the bars' messages) and a tally per
/// platform (for the closing summary).
#[derive(Default)]
pub struct WaitBoard {
    state: Mutex<Board>,
}

#[derive(Default)]
struct Board {
    /// Where lines go, and the token of whoever set it.
    out: Option<(u64, Out)>,
    tokens: u64,
    active: BTreeMap<u64, Wait>,
    /// Per platform: how many waits and how long in all.
    tally: BTreeMap<&'static str, (u64, Duration)>,
    longest: Option<(Duration, Wait)>,
}

impl WaitBoard {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        // A panic elsewhere must not hide the waits.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Prints wait lines through `out` (above its bars) until told otherwise; returns the
    /// token to stop with.
    pub fn show_through(&self, out: Out) -> u64 {
        let mut b = self.board();
        b.tokens += 1;
        let token = b.tokens;
        b.out = Some((token, out));
        token
    }

    /// Back to plain stderr lines, if `token`'s output is still the one printed through.
    pub fn stop_showing_through(&self, token: u64) {
        let mut b = self.board();
        if b.out.as_ref().is_some_and(|(t, _)| *t == token) {
            b.out = None;
        }
    }

    /// Back to plain stderr lines.
    pub fn stop_showing(&self) {
        self.board().out = None;
    }

    /// The longest wait under way (of `platform`, or of any), for a bar's message:
    /// `waiting until 14:35:11 UTC (19 min 40 s more): …`.
    pub fn status(&self, platform: Option<model::Platform>) -> Option<String> {
        let b = self.board();
        let w = b
            .active
            .values()
            .filter(|w| platform.is_none_or(|p| w.platform == p) && w.planned() >= SHOWN_FROM)
            .max_by_key(|w| w.until)?;
        let left = (w.until - OffsetDateTime::now_utc())
            .try_into()
            .unwrap_or(Duration::ZERO);
        Some(format!(
            "waiting until {} ({} more): {}",
            clock_time(w.until),
            human_duration(left),
            w.reason
        ))
    }

    /// One line for the end of a command, when anything waited: how many waits, how long in
    /// all, the longest, and per platform.
    pub fn summary(&self) -> Option<String> {
        let b = self.board();
        let (count, total) = b
            .tally
            .values()
            .fold((0, Duration::ZERO), |(n, t), (c, d)| (n + c, t + *d));
        if count == 0 {
            return None;
        }
        let mut s = format!("waits: {count} ({} in all)", human_duration(total));
        if let Some((d, w)) = &b.longest {
            let _ = write!(
                s,
                "; longest {}: {} ({}), {}",
                human_duration(*d),
                w.platform,
                cause(w.cause),
                w.reason
            );
        }
        let per: Vec<String> = b
            .tally
            .iter()
            .map(|(p, (n, d))| format!("{p} {n} ({})", human_duration(*d)))
            .collect();
        let _ = write!(s, "; by platform: {}", per.join(", "));
        Some(s)
    }
}

impl WaitObserver for WaitBoard {
    fn started(&self, w: &Wait) {
        let out = {
            let mut b = self.board();
            b.active.insert(w.id, w.clone());
            b.out.as_ref().map(|(_, out)| out.clone())
        };
        if w.planned() < SHOWN_FROM {
            return;
        }
        let line = format!(
            "waiting: {} ({}) until {} ({}; {}): {}",
            w.platform,
            w.host,
            clock_time(w.until),
            human_duration(w.planned()),
            cause(w.cause),
            w.reason
        );
        #[allow(clippy::print_stderr)]
        let print = || eprintln!("{line}");
        match out {
            Some(Out::Bar(bar)) => bar.suspend(print),
            Some(Out::Multi(multi)) => multi.suspend(print),
            None => print(),
        }
    }

    fn ended(&self, w: &Wait, waited: Duration) {
        let mut b = self.board();
        b.active.remove(&w.id);
        let t = b.tally.entry(w.platform.as_str()).or_default();
        t.0 += 1;
        t.1 += waited;
        if b.longest.as_ref().is_none_or(|(d, _)| waited > *d) {
            b.longest = Some((waited, w.clone()));
        }
    }
}

/// Prints the waits' summary to stderr when dropped: at the end of a command, whichever way
/// it ends (an error and Ctrl-C included).
pub struct WaitSummaryAtEnd;

impl Drop for WaitSummaryAtEnd {
    fn drop(&mut self) {
        waits().stop_showing();
        if let Some(line) = waits().summary() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{line}");
            }
        }
    }
}

fn cause(c: WaitCause) -> &'static str {
    match c {
        WaitCause::Reset => "the platform's reset time",
        WaitCause::Backoff => "backing off before a retry",
        WaitCause::Shared => "the run's shared budget",
    }
}

/// `2026-11-22 14:35:11 UTC`.
fn clock_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `45 s`, `20 min 1 s`, `2 h 5 min`; `0.4 s` under a second.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{:.1} s", d.as_secs_f64()),
        1..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(id: u64, platform: model::Platform, secs: i64, reason: &str) -> Wait {
        let since = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        Wait {
            id,
            platform,
            host: "api.example".into(),
            cause: WaitCause::Reset,
            reason: reason.into(),
            since,
            until: since + time::Duration::seconds(secs),
        }
    }

    #[test]
    fn the_summary_counts_every_wait_and_names_the_longest() {
        let board = WaitBoard::default();
        assert_eq!(board.summary(), None, "no wait, no line");
        let long = wait(1, model::Platform::X, 1200, "X window rate limit");
        let short = wait(2, model::Platform::Youtube, 2, "HTTP 503");
        board.started(&long);
        board.started(&short);
        assert!(
            board
                .status(Some(model::Platform::X))
                .unwrap()
                .contains("X window rate limit")
        );
        assert_eq!(
            board.status(Some(model::Platform::Youtube)),
            None,
            "too short to show"
        );
        board.ended(&short, Duration::from_secs(2));
        board.ended(&long, Duration::from_secs(1201));
        let x3 = wait(3, model::Platform::X, 30, "HTTP 429");
        board.started(&x3);
        board.ended(&x3, Duration::from_secs(30));
        assert_eq!(board.status(None), None);
        assert_eq!(
            board.summary().unwrap(),
            "waits: 3 (20 min 33 s in all); longest 20 min 1 s: x (the platform's reset time), \
             X window rate limit; by platform: x 2 (20 min 31 s), youtube 1 (2 s)"
        );
    }

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(human_duration(Duration::from_millis(400)), "0.4 s");
        assert_eq!(human_duration(Duration::from_secs(45)), "45 s");
        assert_eq!(human_duration(Duration::from_secs(1201)), "20 min 1 s");
        assert_eq!(human_duration(Duration::from_mins(125)), "2 h 5 min");
    }
}
