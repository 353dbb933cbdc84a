//! [`Gate`]: the hook through which a batch runner shares request budgets across workers and
//! processes. The transport asks the gate before every request it sends, and tells it when a
//! platform announces that its budget is spent (a 429 with a reset, usage headers at 100%, a
//! throttling code with a regain time), so every worker holds back, not only the one that was
//! told. A single `archive` or `import` has no gate.

use async_trait::async_trait;
use model::Platform;
use time::OffsetDateTime;

use crate::error::Result;
use crate::transport::waits::Waits;

/// One request about to be sent, as the gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub platform: Platform,
    /// Lower-case host of the platform URL (before any test rewrite).
    pub host: &'a str,
    /// Quota units the request spends (1, or the platform's documented cost: YouTube
    /// `captions.list` 50, a caption download 200).
    pub cost: u32,
    /// How the gate waits, when it must: on the transport's clock, seen by its observer.
    pub waits: &'a Waits,
}

#[async_trait]
pub trait Gate: Send + Sync {
    /// Called before each attempt is sent; returns when it may go. May wait (through
    /// [`Outgoing::waits`], so the wait is shown); returns
    /// [`crate::FetchError::Deferred`] when the wait would be longer than the caller allows.
    async fn admit(&self, request: Outgoing<'_>) -> Result<()>;

    /// The platform said its budget is spent until `until`.
    async fn spent(&self, platform: Platform, host: &str, until: OffsetDateTime, reason: &str);
}
