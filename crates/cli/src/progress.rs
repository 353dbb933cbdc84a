//! Progress bars on a terminal; nothing when output is piped (indicatif hides itself when
//! stderr is not a terminal).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-progress bar fed from a counter the library updates as it streams.
pub struct Bytes {
    bar: ProgressBar,
    stop: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bytes {
    pub fn start(label: &str, total: u64, counter: Arc<AtomicU64>) -> Bytes {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        let stop = Arc::new(AtomicU64::new(0));
        let (b, s) = (bar.clone(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while s.load(Ordering::Relaxed) == 0 {
                b.set_position(counter.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Bytes {
            bar,
            stop,
            thread: Some(thread),
        }
    }
}

impl Bytes {
    /// For work of unknown size: bytes so far and the rate.
    pub fn unbounded(label: &str, counter: Arc<AtomicU64>) -> Bytes {
        let b = Bytes::start(label, 0, counter);
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
