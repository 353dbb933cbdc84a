//! Waits: every time the transport (or a batch run's [`super::gate::Gate`]) holds a request
//! back, it tells a [`WaitObserver`] when the wait starts and when it ends, so that whoever
//! drives a capture can show it ("x: waiting until 14:35 UTC, rate limit") and sum it up at the
//! end. The library never prints: the observer decides what to show.
//!
//! A wait is a pause the platform or the run asked for: a reset time named by the platform, a
//! backoff after a failure, a host whose budget the platform said is spent, a budget shared by
//! the run's workers. The per-host request pacing (`governor`, fractions of a second) is not a
//! wait: it is the normal speed of a capture.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use model::Platform;
use time::OffsetDateTime;

use crate::clock::Clock;

/// Why a request is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCause {
    /// The platform named the time to come back (a rate-limit reset, `Retry-After`, a quota's
    /// regain time, a budget it said is spent).
    Reset,
    /// A retry after a failure, with exponential backoff (no usable time was named).
    Backoff,
    /// A budget shared by every worker of a batch run (its quota, or a block another worker
    /// was told of).
    Shared,
}

impl WaitCause {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitCause::Reset => "reset",
            WaitCause::Backoff => "backoff",
            WaitCause::Shared => "shared budget",
        }
    }
}

/// One wait, as observers see it.
#[derive(Debug, Clone)]
pub struct Wait {
    /// Unique in this process: concurrent waits (several workers) are told apart by it.
    pub id: u64,
    pub platform: Platform,
    /// Lower-case host of the platform URL the held request goes to.
    pub host: String,
    pub cause: WaitCause,
    /// For people: the platform's answer or the failure that caused the wait (URLs redacted).
    pub reason: String,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
}

impl Wait {
    /// How long the wait was planned to last.
    pub fn planned(&self) -> Duration {
        (self.until - self.since)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}

/// Told of every wait. Called from the capture's tasks: keep both methods quick.
pub trait WaitObserver: Send + Sync {
    fn started(&self, wait: &Wait);
    /// `waited`: how long it actually lasted (shorter than planned when the capture was
    /// cancelled meanwhile).
    fn ended(&self, wait: &Wait, waited: Duration);
}

/// Who is told of waits (`FetchConfig::waits`); nobody by default.
#[derive(Clone, Default)]
pub struct WaitHook(Option<Arc<dyn WaitObserver>>);

impl WaitHook {
    pub fn new(observer: Arc<dyn WaitObserver>) -> WaitHook {
        WaitHook(Some(observer))
    }
}

impl std::fmt::Debug for WaitHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "WaitHook(observed)"
        } else {
            "WaitHook(none)"
        })
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The one way the transport and its gate wait: on the transport's clock, told to the hook.
#[derive(Clone)]
pub struct Waits {
    hook: WaitHook,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Waits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waits")
            .field("hook", &self.hook)
            .finish_non_exhaustive()
    }
}

/// Ends a wait even when the waiting future is dropped (Ctrl-C, a cancelled worker).
struct Ending<'a> {
    waits: &'a Waits,
    wait: Wait,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if let Some(o) = &self.waits.hook.0 {
            let waited = (self.waits.clock.now() - self.wait.since)
                .try_into()
                .unwrap_or(Duration::ZERO);
            o.ended(&self.wait, waited);
        }
    }
}

impl Waits {
    pub fn new(hook: WaitHook, clock: Arc<dyn Clock>) -> Waits {
        Waits { hook, clock }
    }

    /// Holds the caller for `d`, telling the observer when the wait starts and ends.
    pub async fn sleep(
        &self,
        platform: Platform,
        host: &str,
        cause: WaitCause,
        reason: &str,
        d: Duration,
    ) {
        if self.hook.0.is_none() || d.is_zero() {
            self.clock.sleep(d).await;
            return;
        }
        let since = self.clock.now();
        let wait = Wait {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            platform,
            host: host.to_owned(),
            cause,
            reason: reason.to_owned(),
            since,
            until: since + d,
        };
        if let Some(o) = &self.hook.0 {
            o.started(&wait);
        }
        let _ending = Ending { waits: self, wait };
        self.clock.sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl WaitObserver for Seen {
        fn started(&self, w: &Wait) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {} {:?} {}", w.host, w.planned(), w.reason));
        }
        fn ended(&self, w: &Wait, waited: Duration) {
            self.0
                .lock()
                .unwrap()
                .push(format!("end {} {waited:?}", w.host));
        }
    }

    #[tokio::test]
    async fn observers_see_each_wait_start_and_end() {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        let seen = Arc::new(Seen::default());
        let waits = Waits::new(WaitHook::new(seen.clone()), clock.clone());
        waits
            .sleep(
                Platform::X,
                "api.x.com",
                WaitCause::Reset,
                "window",
                Duration::from_secs(90),
            )
            .await;
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["start api.x.com 90s window", "end api.x.com 90s"]
        );
        assert_eq!(clock.sleeps(), [Duration::from_secs(90)]);
    }
}
