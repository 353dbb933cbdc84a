//! Backoff: exponential with jitter, bounded, for retryable failures only.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryPolicy;

/// How far ahead a platform's named reset time may be and still be believed. No platform
/// documents a wait longer than a day (X's 15-minute and 24-hour windows, Meta's regain
/// times, `YouTube`'s midnight Pacific); two days leaves room for skewed clocks. A time further
/// away is a misread header (milliseconds read as seconds…), not a reason to park an account
/// for years.
pub const RESET_HORIZON: time::Duration = time::Duration::days(2);

/// How long to wait before attempt `attempt + 1` (`attempt` counts from 1) when the platform
/// named no usable time: uniformly random in `[c/2, c]` with `c = min(max_delay, base_delay ·
/// 2^(attempt-1))` ("equal jitter"). Half the ceiling is always waited: a host that answered
/// "too many requests" without a believable reset time must not get the next attempt at once.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_but_never_passes_the_ceiling() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_wait: Duration::from_mins(1),
        };
        for attempt in 1..12 {
            for _ in 0..50 {
                let d = backoff(&p, attempt);
                let ceiling = (100u64 << (attempt - 1).min(20)).min(1000);
                assert!(d <= Duration::from_millis(ceiling), "{attempt}: {d:?}");
                assert!(d >= Duration::from_millis(ceiling / 2), "{attempt}: {d:?}");
            }
        }
    }
}
