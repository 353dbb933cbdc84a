//! Errors of the bundle writer and reader. The verifier does not use these: it reports
//! findings, and fails only when it cannot run at all.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("reading {what}: {source}")]
    Input {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{what} was announced as {expected} bytes but {got} arrived (truncated or overlong transfer)"
    )]
    SizeMismatch {
        what: String,
        expected: u64,
        got: u64,
    },
    #[error("{0} is already in the bundle")]
    DuplicatePath(String),
    #[error("invalid member path {0:?}")]
    InvalidPath(String),
    #[error("{0}")]
    Tar(#[from] crate::tar::TarError),
    #[error("capture log entry {seq} still carries a secret ({what}); redact it before logging")]
    SecretInLog { seq: u64, what: String },
    #[error("timestamp required but not obtained: {0}")]
    TimestampRequired(#[source] crate::timestamp::TimestampError),
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(
        "the bundle has no completeness statement; every bundle must say what it holds and what is missing"
    )]
    NoCompleteness,
    #[error("not a bundle: {0}")]
    NotABundle(String),
    #[error("bundle is damaged: {0} (run `tawthiq verify` for a full report)")]
    Damaged(String),
    #[error("{0} is not in the bundle")]
    NoSuchMember(String),
    #[error("{0}")]
    Key(#[from] crate::signing::KeyError),
    #[error("signature check failed: {0}")]
    Signature(#[from] crate::signing::SigError),
}

impl BundleError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> BundleError {
        let context = context.into();
        move |source| BundleError::Io { context, source }
    }
}

pub type Result<T, E = BundleError> = std::result::Result<T, E>;
