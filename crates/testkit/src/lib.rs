//! Test support for tawthiq (never a dependency of the shipped binary).
//!
//! - [`LocalTsa`]: a local RFC 3161 time-stamping authority made with the `openssl` CLI, so
//!   timestamp tests need no network.

pub mod local_tsa;

pub use local_tsa::{LocalTsa, TsaKey, TsaMode, TsaOptions};
