//! Shared per-platform request budgets: a token bucket (sustained rate and burst) and a window
//! quota (so many units per fixed window: YouTube's daily units, X's 15-minute windows), kept in
//! the state store so every worker of every process draws from the same budget.
//!
//! The arithmetic lives here, once; each engine loads the platform's row inside a write
//! transaction, calls [`Budget::take`], and stores the row back. A platform with no quota row
//! is unlimited (only `blocked_until` and the concurrency cap apply).
//!
//! Windows are aligned to the Unix epoch plus [`WindowQuota::offset`]: a YouTube day that
//! resets at midnight Pacific is `length = 24h, offset = 8h` (07:00 UTC in summer time is
//! approximated by the winter offset, which only ever resets later, never earlier).

use time::{Duration, OffsetDateTime};

use super::{StateError, from_millis, to_millis};

/// Sustained requests per second with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    pub per_second: f64,
    /// Tokens the bucket holds when full (at least 1).
    pub burst: u32,
}

/// At most `limit` units per window of `length`, windows starting at epoch + `offset` + k·length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowQuota {
    pub length: Duration,
    pub limit: u64,
    pub offset: Duration,
}

/// A platform's shared budget; either part may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quota {
    pub bucket: Option<TokenBucket>,
    pub window: Option<WindowQuota>,
}

/// The answer to [`super::StateStore::take_quota`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The units were taken: send the request.
    Granted,
    /// Nothing was taken; try again at `until` (or defer the account if that is too far).
    Wait {
        until: OffsetDateTime,
        reason: String,
    },
}

/// The quota in words, for the audit trail and `tawthiq status`.
pub fn describe_quota(quota: &Quota) -> String {
    let mut parts = Vec::new();
    if let Some(b) = quota.bucket {
        parts.push(format!("{} requests/s (burst {})", b.per_second, b.burst));
    }
    if let Some(w) = quota.window {
        parts.push(format!(
            "{} units per {} s window (offset {} s)",
            w.limit,
            w.length.whole_seconds(),
            w.offset.whole_seconds()
        ));
    }
    if parts.is_empty() {
        "no quota".to_owned()
    } else {
        parts.join(", ")
    }
}

/// One platform's stored budget state (a `quotas` row), as both engines load and save it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Budget {
    pub quota: Quota,
    /// Tokens in the bucket at `refilled_at_ms`.
    pub tokens: f64,
    pub refilled_at_ms: i64,
    /// Start of the window `window_used` counts in.
    pub window_start_ms: i64,
    pub window_used: u64,
    pub blocked_until_ms: Option<i64>,
    pub block_reason: Option<String>,
}

impl Budget {
    /// A fresh budget for a newly configured quota: a full bucket and an unused window.
    pub fn fresh(quota: Quota, now: OffsetDateTime) -> Budget {
        Budget {
            quota,
            tokens: quota.bucket.map_or(0.0, |b| f64::from(b.burst.max(1))),
            refilled_at_ms: to_millis(now),
            window_start_ms: 0,
            window_used: 0,
            blocked_until_ms: None,
            block_reason: None,
        }
    }

    /// The budget of a newly set `quota` replacing the platform's `old` one: a full bucket, and
    /// the current window's usage kept when the window (length and offset) is the same.
    pub fn reconfigured(quota: Quota, old: Option<&Budget>, now: OffsetDateTime) -> Budget {
        let mut budget = Budget::fresh(quota, now);
        if let Some(old) = old
            && old.quota.window.map(|w| (w.length, w.offset))
                == quota.window.map(|w| (w.length, w.offset))
        {
            budget.window_start_ms = old.window_start_ms;
            budget.window_used = old.window_used;
        }
        budget
    }

    /// Takes `cost` units at `now` if the block, the bucket and the window all allow it; takes
    /// nothing otherwise and says when to come back (the latest of the three waits).
    pub fn take(&mut self, cost: u32, now: OffsetDateTime) -> Result<Admission, StateError> {
        let now_ms = to_millis(now);
        let mut wait: Option<(i64, String)> = None;
        let mut later = |until: i64, reason: String| {
            if wait.as_ref().is_none_or(|(w, _)| until > *w) {
                wait = Some((until, reason));
            }
        };
        if let Some(until) = self.blocked_until_ms.filter(|&u| u > now_ms) {
            let why = self
                .block_reason
                .as_deref()
                .unwrap_or("the platform asked us to wait");
            later(until, format!("platform blocked: {why}"));
        }

        let cost_f = f64::from(cost);
        let mut tokens = self.tokens;
        if let Some(bucket) = self.quota.bucket {
            let burst = f64::from(bucket.burst.max(1));
            let rate = bucket.per_second.max(f64::MIN_POSITIVE);
            #[allow(clippy::cast_precision_loss)] // millisecond spans are far below 2^52
            let elapsed = (now_ms - self.refilled_at_ms).max(0) as f64 / 1000.0;
            tokens = (tokens + elapsed * rate).min(burst);
            if tokens + 1e-9 < cost_f.min(burst) {
                let missing = cost_f.min(burst) - tokens;
                #[allow(clippy::cast_possible_truncation)] // bounded by burst / rate seconds
                let ms = (missing / rate * 1000.0).ceil() as i64;
                later(
                    now_ms + ms.max(1),
                    format!("shared rate {} requests/s", bucket.per_second),
                );
            }
        }

        let mut window_start = self.window_start_ms;
        let mut used = self.window_used;
        if let Some(w) = self.quota.window {
            let length = w.length.whole_milliseconds().max(1);
            let offset = w.offset.whole_milliseconds();
            let length = i64::try_from(length).unwrap_or(i64::MAX);
            let offset = i64::try_from(offset).unwrap_or(0);
            let current = (now_ms - offset).div_euclid(length) * length + offset;
            if current != window_start {
                window_start = current;
                used = 0;
            }
            if used + u64::from(cost) > w.limit {
                later(
                    current + length,
                    format!("window quota of {} units spent", w.limit),
                );
            }
        }

        if let Some((until, reason)) = wait {
            return Ok(Admission::Wait {
                until: from_millis(until)?,
                reason,
            });
        }
        if self.quota.bucket.is_some() {
            self.tokens = tokens - cost_f;
            self.refilled_at_ms = now_ms;
        }
        if self.quota.window.is_some() {
            self.window_start_ms = window_start;
            self.window_used = used + u64::from(cost);
        }
        Ok(Admission::Granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn granted(b: &mut Budget, now: OffsetDateTime) -> bool {
        b.take(1, now).unwrap() == Admission::Granted
    }

    #[test]
    fn bucket_allows_burst_then_the_rate() {
        let t0 = datetime!(2025-01-01 00:00 UTC);
        let quota = Quota {
            bucket: Some(TokenBucket {
                per_second: 2.0,
                burst: 3,
            }),
            window: None,
        };
        let mut b = Budget::fresh(quota, t0);
        assert!((0..3).all(|_| granted(&mut b, t0)));
        match b.take(1, t0).unwrap() {
            Admission::Wait { until, .. } => assert_eq!(until, t0 + Duration::milliseconds(500)),
            Admission::Granted => panic!("a fourth request in the same instant was granted"),
        }
        // Ten seconds at 2/s would be 20 tokens, but the bucket holds 3.
        let later = t0 + Duration::seconds(10);
        assert_eq!((0..10).filter(|_| granted(&mut b, later)).count(), 3);
    }

    #[test]
    fn window_resets_at_its_aligned_boundary() {
        // A YouTube-like day resetting at 08:00 UTC.
        let quota = Quota {
            bucket: None,
            window: Some(WindowQuota {
                length: Duration::hours(24),
                limit: 100,
                offset: Duration::hours(8),
            }),
        };
        let t = datetime!(2025-01-01 07:00 UTC);
        let mut b = Budget::fresh(quota, t);
        assert_eq!(b.take(60, t).unwrap(), Admission::Granted);
        match b.take(50, t).unwrap() {
            Admission::Wait { until, .. } => assert_eq!(until, datetime!(2025-01-01 08:00 UTC)),
            Admission::Granted => panic!("window overspent"),
        }
        assert_eq!(
            b.take(50, datetime!(2025-01-01 08:00 UTC)).unwrap(),
            Admission::Granted
        );
    }

    #[test]
    fn a_block_wins_and_nothing_is_taken_while_waiting() {
        let t = datetime!(2025-01-01 00:00 UTC);
        let quota = Quota {
            bucket: Some(TokenBucket {
                per_second: 1.0,
                burst: 1,
            }),
            window: None,
        };
        let mut b = Budget::fresh(quota, t);
        b.blocked_until_ms = Some(to_millis(t + Duration::minutes(15)));
        b.block_reason = Some("429 from api.x.com".into());
        match b.take(1, t).unwrap() {
            Admission::Wait { until, reason } => {
                assert_eq!(until, t + Duration::minutes(15));
                assert!(reason.contains("429"), "{reason}");
            }
            Admission::Granted => panic!("granted while blocked"),
        }
        // The token is still there once the block ends.
        assert!(granted(&mut b, t + Duration::minutes(15)));
    }
}
