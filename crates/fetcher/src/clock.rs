//! Time as the transport sees it: the wall clock (platform reset times are wall-clock instants)
//! and waiting.
//!
//! Tests use [`ManualClock`], a paused clock: `sleep` records the wait and moves virtual time
//! forward at once, so a test of "429, wait 15 minutes, continue" runs in milliseconds and can
//! assert exactly how long the transport chose to wait. (tokio's own paused clock cannot be used
//! here: while it is paused, timers fire as soon as the runtime waits on real sockets.)

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait Clock: Send + Sync {
    /// The current wall-clock time, UTC.
    fn now(&self) -> OffsetDateTime;
    /// Waits for `d`.
    async fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A paused clock for tests: time moves only when someone sleeps.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(OffsetDateTime, Vec<Duration>)>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> ManualClock {
        ManualClock {
            state: Mutex::new((start, Vec::new())),
        }
    }

    /// Every wait asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().expect("clock lock").1.clone()
    }

    /// Moves time forward without anyone sleeping.
    pub fn advance(&self, d: Duration) {
        self.state.lock().expect("clock lock").0 += d;
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.state.lock().expect("clock lock").0
    }

    async fn sleep(&self, d: Duration) {
        let mut s = self.state.lock().expect("clock lock");
        s.0 += d;
        s.1.push(d);
    }
}
