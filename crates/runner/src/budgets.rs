//! [`SharedBudgets`]: the fetcher's [`Gate`] over the state store, so that every worker of
//! every process spends one shared budget per platform and holds back together when a
//! platform says stop.
//!
//! - A platform with a configured [`Quota`] takes its units from the store before every
//!   request (`take_quota`: one short write transaction); a wait longer than `max_wait`
//!   defers the account instead of holding a worker.
//! - A platform without a quota costs no write per request: only its block (`blocked_until`,
//!   set by any worker that saw a 429 or a spent budget) is checked, read at most once per
//!   `block_check_every` and cached.
//! - An announced spent budget (`Gate::spent`) blocks the platform in the store for everyone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use fetcher::FetchError;
use fetcher::WaitCause;
use fetcher::transport::gate::{Gate, Outgoing};
use model::Platform;
use time::OffsetDateTime;

use crate::state::{Admission, Quota, StateError, StateStore};

pub struct SharedBudgets {
    store: Arc<dyn StateStore>,
    /// Platforms with a quota in the store (set by [`SharedBudgets::configure`]).
    limited: HashSet<Platform>,
    /// The longest a request may be held; beyond it the account is deferred.
    max_wait: StdDuration,
    block_check_every: time::Duration,
    /// Per platform: when the block was last read, and the block's end then.
    blocks: Mutex<HashMap<Platform, (OffsetDateTime, Option<OffsetDateTime>)>>,
}

impl SharedBudgets {
    pub fn new(store: Arc<dyn StateStore>, max_wait: StdDuration) -> SharedBudgets {
        SharedBudgets {
            store,
            limited: HashSet::new(),
            max_wait,
            block_check_every: time::Duration::seconds(1),
            blocks: Mutex::new(HashMap::new()),
        }
    }

    /// Stores the quotas of this run (every process of a run should give the same ones) and
    /// remembers which platforms have one.
    pub async fn configure(
        &mut self,
        quotas: &[(Platform, Quota)],
        now: OffsetDateTime,
    ) -> Result<(), StateError> {
        for (platform, quota) in quotas {
            self.store.set_platform_quota(*platform, quota, now).await?;
            if quota.bucket.is_some() || quota.window.is_some() {
                self.limited.insert(*platform);
            } else {
                self.limited.remove(platform);
            }
        }
        Ok(())
    }

    /// The platform's block end, from the cache or the store.
    async fn blocked_until(
        &self,
        platform: Platform,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, FetchError> {
        if let Some((checked, until)) = self
            .blocks
            .lock()
            .expect("blocks lock")
            .get(&platform)
            .copied()
            && now - checked < self.block_check_every
        {
            return Ok(until.filter(|u| *u > now));
        }
        let until = self
            .store
            .platform_blocked_until(platform, now)
            .await
            .map_err(state_error)?;
        self.blocks
            .lock()
            .expect("blocks lock")
            .insert(platform, (now, until));
        Ok(until)
    }

    /// Waits until `until` (through the transport's waits, so it is shown), or defers when
    /// that is too far.
    async fn wait_until(
        &self,
        request: &Outgoing<'_>,
        until: OffsetDateTime,
        reason: &str,
    ) -> Result<(), FetchError> {
        let now = OffsetDateTime::now_utc();
        let wait: StdDuration = (until - now).try_into().unwrap_or(StdDuration::ZERO);
        if wait > self.max_wait {
            return Err(FetchError::Deferred {
                reason: reason.to_owned(),
                until,
                max_wait: self.max_wait,
            });
        }
        request
            .waits
            .sleep(
                request.platform,
                request.host,
                WaitCause::Shared,
                reason,
                wait,
            )
            .await;
        Ok(())
    }
}

fn state_error(e: StateError) -> FetchError {
    FetchError::Sink(format!("shared quota: {e}"))
}

#[async_trait]
impl Gate for SharedBudgets {
    async fn admit(&self, request: Outgoing<'_>) -> Result<(), FetchError> {
        loop {
            let now = OffsetDateTime::now_utc();
            if self.limited.contains(&request.platform) {
                match self
                    .store
                    .take_quota(request.platform, request.cost, now)
                    .await
                    .map_err(state_error)?
                {
                    Admission::Granted => return Ok(()),
                    Admission::Wait { until, reason } => {
                        self.wait_until(
                            &request,
                            until,
                            &format!("{}: {reason}", request.platform),
                        )
                        .await?;
                    }
                }
            } else {
                match self.blocked_until(request.platform, now).await? {
                    None => return Ok(()),
                    Some(until) => {
                        let reason = format!("{} is blocked for every worker", request.platform);
                        self.wait_until(&request, until, &reason).await?;
                        // The block is over: read it again rather than trust the cache.
                        self.blocks
                            .lock()
                            .expect("blocks lock")
                            .remove(&request.platform);
                    }
                }
            }
        }
    }

    async fn spent(&self, platform: Platform, host: &str, until: OffsetDateTime, reason: &str) {
        let now = OffsetDateTime::now_utc();
        let why = format!("{host}: {reason}");
        if let Err(e) = self.store.block_platform(platform, until, &why, now).await {
            tracing::warn!(%platform, error = %e, "could not record the platform block");
        }
        self.blocks
            .lock()
            .expect("blocks lock")
            .insert(platform, (now, Some(until)));
    }
}
