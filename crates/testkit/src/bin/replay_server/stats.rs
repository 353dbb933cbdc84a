//! Request counters for `/__stats`: a total (atomic), and per route and per wall-clock second
//! under one mutex (one short lock per request).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Seconds of per-second counts kept (about 10 minutes).
const WINDOW: u64 = 600;

#[derive(Default)]
pub struct Stats {
    requests: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_route: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
    /// (Unix second, requests), oldest first.
    per_second: VecDeque<(u64, u64)>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Stats {
    /// Counts one answered request under `key` (a route pattern, or the path requested).
    pub fn count(&self, key: &str, status: u16) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = unix_now();
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = g.by_route.get_mut(key) {
            *n += 1;
        } else {
            g.by_route.insert(key.to_owned(), 1);
        }
        *g.by_status.entry(status).or_default() += 1;
        match g.per_second.back_mut() {
            Some((s, n)) if *s == now => *n += 1,
            // A clock that stepped back: count it in the latest second rather than reorder.
            Some((s, n)) if *s > now => *n += 1,
            _ => g.per_second.push_back((now, 1)),
        }
        while g.per_second.front().is_some_and(|(s, _)| *s + WINDOW < now) {
            g.per_second.pop_front();
        }
    }

    /// The counters as JSON; with `reset`, zeroes them in the same step (nothing is lost
    /// between reading and zeroing).
    pub fn snapshot(&self, reset: bool) -> Value {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let requests = if reset {
            self.requests.swap(0, Ordering::Relaxed)
        } else {
            self.requests.load(Ordering::Relaxed)
        };
        let now = unix_now();
        let per_second: Vec<Value> = g
            .per_second
            .iter()
            .filter(|(s, _)| *s + WINDOW >= now)
            .map(|(s, n)| json!([s, n]))
            .collect();
        let by_status: BTreeMap<String, u64> = g
            .by_status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let out = json!({
            "requests": requests,
            "by_route": g.by_route,
            "by_status": by_status,
            "per_second": per_second,
        });
        if reset {
            *g = Inner::default();
        }
        out
    }
}
