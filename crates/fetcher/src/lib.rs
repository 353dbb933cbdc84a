//! Capture: one [`Transport`] for every platform, the [`Source`] contract, and the platform
//! adapters (`platforms::<platform>::{api, export, web}`).
//!
//! - [`Transport`] makes every HTTP exchange: per-host rate limits, retries that honour the
//!   platforms' own signals, semantic [`FetchError`]s, size-capped streaming of media into the
//!   sink, a redacted capture-log entry per attempt, configurable hosts ([`config::HostMap`]).
//! - A [`Source`] captures one account through one route and emits events into a [`Sink`]
//!   (raw documents, media streams, export files, derived items, profile, gaps); whoever drives
//!   the capture implements the sink (the runner pipes it into a bundle writer).
//! - Adapters parse with plain functions over bytes; they never own an HTTP client.
//!
//! ```no_run
//! # async fn demo(sink: &mut dyn fetcher::Sink) -> fetcher::Result<()> {
//! use fetcher::{FetchConfig, Secret, Source, Transport};
//! use fetcher::platforms::x::api::{Target, XApi};
//! let transport = Transport::new(FetchConfig::default())?;
//! let mut source = XApi::new(&transport, Secret::new("token"), Target::Me);
//! let report = source.capture(sink).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod export_tar;
pub mod export_zip;
pub mod media;
pub mod memory_sink;
pub mod platforms;
pub mod source;
pub mod sources;
pub mod transport;

pub use auth::{Auth, Secret};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{FetchConfig, HostMap, RateLimits, RetryPolicy};
pub use error::{FetchError, IdentityProblem, Result};
pub use memory_sink::MemorySink;
pub use source::{ByteStream, Identity, MemoryStream, Report, Sink, Source, Stored};
pub use transport::waits::{Wait, WaitCause, WaitHook, WaitObserver};
pub use transport::{Document, Request, Transport};
