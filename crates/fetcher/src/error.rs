//! [`FetchError`]: what can go wrong while capturing, in terms a coordinator can act on.
//!
//! Every URL inside an error is redacted (no token ever reaches a message). Each variant documents
//! its retry rule; [`FetchError::is_retryable`] is the one place the transport asks.

use std::time::Duration;

use model::{Platform, Unavailability};
use time::OffsetDateTime;

pub type Result<T, E = FetchError> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The account-level lookup (the profile, channel or page itself) says the account does not
    /// exist, is suspended, deactivated or private. Terminal; the answer is the evidence, and
    /// the capture's outcome is `unavailable`. Only [`FetchError::about_account`] makes it: a
    /// sub-resource that answers "not found" is a gap, never an unavailable account.
    #[error("account unavailable ({state}): {detail}")]
    Unavailable {
        state: Unavailability,
        detail: String,
    },
    /// An item, edge or file does not exist (deleted, unknown id). Terminal for that request.
    #[error("not found: {detail}")]
    NotFound { detail: String },
    /// The platform answers "suspended" (for the account itself once passed through
    /// [`FetchError::about_account`]). Terminal.
    #[error("account suspended: {detail}")]
    Suspended { detail: String },
    /// Private or protected, and the token may not read it. Terminal.
    #[error("private or protected: {detail}")]
    Protected { detail: String },
    /// The token is expired, revoked or lacks a scope. Terminal until a new token is given.
    #[error("{platform} rejected the access token ({detail}); get a new token and run again")]
    AuthExpired { platform: Platform, detail: String },
    /// A billing or usage cap (X usage-capped, `YouTube` daily quota): retrying cannot help before
    /// `until`, if known. Terminal for this run.
    #[error("{platform} usage quota exhausted: {detail}{}", until_text(*until))]
    QuotaExhausted {
        platform: Platform,
        detail: String,
        until: Option<OffsetDateTime>,
    },
    /// A window rate limit that outlasted the retries. Retryable later (the runner defers).
    #[error("rate limited by {host}{}", until_text(*until))]
    RateLimited {
        host: String,
        until: Option<OffsetDateTime>,
    },
    /// The platform asks for a wait longer than the configured maximum: the account is
    /// deferred rather than left hanging. Retryable at `until`.
    #[error(
        "deferred: {reason}; asked to wait until {until}, more than the maximum wait of {max_wait:?}"
    )]
    Deferred {
        reason: String,
        until: OffsetDateTime,
        max_wait: Duration,
    },
    /// This route cannot capture this account (an Instagram personal account has no API);
    /// `detail` says which route can. Terminal.
    #[error("{platform}: {detail}")]
    WrongRoute { platform: Platform, detail: String },
    /// An HTML page (login wall, consent page, captcha) where data was expected. Terminal.
    #[error("got an HTML page instead of data from {url} (login wall or error page)")]
    UnexpectedHtml { url: String },
    /// The body does not have the documented shape. Terminal (the shape changed: fail loudly).
    #[error("malformed {platform} response from {url}: {detail}")]
    Malformed {
        platform: Platform,
        url: String,
        detail: String,
    },
    /// The body exceeds the configured size cap. Terminal for this file.
    #[error("response from {url} is larger than the cap of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    /// The transfer ended before the announced length. Retryable.
    #[error("response from {url} cut short: got {got} of {expected} bytes")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    /// No answer in time. Retryable.
    #[error("{url} did not answer within {after:?}")]
    Timeout { url: String, after: Duration },
    /// Could not connect, or the connection broke. Retryable.
    #[error("cannot reach {url}: {detail}")]
    Connect { url: String, detail: String },
    /// 5xx or 408. Retryable.
    #[error("server error HTTP {status} from {url}")]
    Server { status: u16, url: String },
    /// Any other HTTP failure status. Terminal.
    #[error("HTTP {status} from {url}: {detail}")]
    Http {
        status: u16,
        url: String,
        detail: String,
    },
    /// An export file that is not what it claims, or is hostile. Terminal; nothing is written.
    #[error("export {path}: {detail}")]
    Export { path: String, detail: String },
    /// The bundle side failed (disk full, writer error). Terminal.
    #[error("storing the capture: {0}")]
    Sink(String),
    /// Bad configuration (unknown host, invalid base URL, missing token). Terminal.
    #[error("{0}")]
    Config(String),
    /// The account the capture holds is not the one named (an export put on the wrong registry
    /// line, another account's token), or is the account of another registry line. Raised
    /// before anything is stored: nothing is recorded as done and no bundle is published.
    /// Terminal (the registry line, the export or the token must change).
    #[error("{detail}")]
    Identity {
        problem: IdentityProblem,
        detail: String,
    },
}

/// Why a capture's account is refused ([`FetchError::Identity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProblem {
    /// The capture holds another account than the one named.
    Mismatch,
    /// Another registry line names the same account and archives it.
    Duplicate,
}

fn until_text(until: Option<OffsetDateTime>) -> String {
    until.map_or_else(String::new, |t| {
        let t = t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        format!(" until {t}")
    })
}

impl FetchError {
    /// Whether the same request may succeed if simply tried again (after a backoff).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Truncated { .. }
                | FetchError::Timeout { .. }
                | FetchError::Connect { .. }
                | FetchError::Server { .. }
                | FetchError::RateLimited { .. }
        )
    }

    /// Whether the error is an account-level answer about the account itself (evidence worth
    /// publishing as an `unavailable` capture), not our failure to reach part of it.
    pub fn is_account_state(&self) -> bool {
        matches!(self, FetchError::Unavailable { .. })
    }

    /// What an answer to the *account-level* lookup means: "not found", "suspended" and
    /// "protected" there describe the account, so they become [`FetchError::Unavailable`].
    /// Adapters call this on the profile/channel/page lookup only, never on edges or files.
    #[must_use]
    pub fn about_account(self) -> FetchError {
        match self {
            FetchError::NotFound { detail } => FetchError::Unavailable {
                state: Unavailability::NotFound,
                detail,
            },
            FetchError::Suspended { detail } => FetchError::Unavailable {
                state: Unavailability::Suspended,
                detail,
            },
            FetchError::Protected { detail } => FetchError::Unavailable {
                state: Unavailability::Protected,
                detail,
            },
            other => other,
        }
    }

    /// Whether trying the whole capture again later may do better: a retryable error, a
    /// deferral or spent quota, or trouble storing the capture (a full disk may clear up).
    pub fn is_transient(&self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                FetchError::Deferred { .. }
                    | FetchError::QuotaExhausted { .. }
                    | FetchError::Sink(_)
            )
    }

    /// Whether the platform refused this one request (not found, private, an HTTP error):
    /// another edge, page or file of the same account may still be read, so a capture records
    /// a gap naming what was refused and goes on.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FetchError::NotFound { .. }
                | FetchError::Suspended { .. }
                | FetchError::Protected { .. }
                | FetchError::Http { .. }
        )
    }

    /// For an account-level answer: what it said.
    pub fn unavailability(&self) -> Option<Unavailability> {
        match self {
            FetchError::Unavailable { state, .. } => Some(*state),
            _ => None,
        }
    }

    /// A stable, short name for scripts (`--json`) and the state store.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Unavailable { state, .. } => match state {
                Unavailability::NotFound => "account_not_found",
                Unavailability::Suspended => "account_suspended",
                Unavailability::Protected => "account_protected",
                Unavailability::Deactivated => "account_deactivated",
            },
            FetchError::NotFound { .. } => "not_found",
            FetchError::Suspended { .. } => "suspended",
            FetchError::Protected { .. } => "protected",
            FetchError::AuthExpired { .. } => "auth_expired",
            FetchError::QuotaExhausted { .. } => "quota_exhausted",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Deferred { .. } => "deferred",
            FetchError::WrongRoute { .. } => "wrong_route",
            FetchError::UnexpectedHtml { .. } => "unexpected_html",
            FetchError::Malformed { .. } => "malformed",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Truncated { .. } => "truncated",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::Server { .. } => "server_error",
            FetchError::Http { .. } => "http_error",
            FetchError::Export { .. } => "bad_export",
            FetchError::Sink(_) => "storage",
            FetchError::Config(_) => "config",
            FetchError::Identity {
                problem: IdentityProblem::Mismatch,
                ..
            } => "identity_mismatch",
            FetchError::Identity {
                problem: IdentityProblem::Duplicate,
                ..
            } => "duplicate_account",
        }
    }

    /// When trying again makes sense, if the platform said.
    pub fn retry_at(&self) -> Option<OffsetDateTime> {
        match self {
            FetchError::Deferred { until, .. } => Some(*until),
            FetchError::RateLimited { until, .. } | FetchError::QuotaExhausted { until, .. } => {
                *until
            }
            _ => None,
        }
    }
}
