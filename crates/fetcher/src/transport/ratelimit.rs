//! Per-host request budgets (`governor` token buckets), created on first use of a host.
//!
//! API hosts carry their platform's budget (`api.x.com`: 60 a minute), CDN hosts the default.
//! This smooths requests inside one process; budgets shared between processes live in the
//! runner's state store.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;

pub struct HostLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<String, Option<Arc<DefaultDirectRateLimiter>>>>,
}

impl HostLimiter {
    pub fn new(limits: RateLimits) -> HostLimiter {
        HostLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `host` may receive one more request. A budget of 0 means unlimited.
    pub async fn until_ready(&self, host: &str) {
        let bucket = {
            let mut buckets = self.buckets.lock().expect("rate limiter lock");
            buckets
                .entry(host.to_owned())
                .or_insert_with(|| {
                    NonZeroU32::new(self.limits.for_host(host))
                        .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))))
                })
                .clone()
        };
        if let Some(bucket) = bucket {
            bucket.until_ready().await;
        }
    }
}
