//! Runs: one account ([`account::capture_account`]) and, later, batches from a registry
//! ([`registry::Registry`]: the entities and accounts to archive, validated).
//!
//! The runner is where the fetcher meets the archive: [`BundleSink`] implements the fetcher's
//! `Sink` with a `BundleWriter` on its own thread, so sources stream straight into a bundle.
//!
//! ```no_run
//! # async fn demo(source: &mut dyn fetcher::Source, opts: runner::AccountOptions) {
//! let outcome = runner::capture_account(source, opts, |_| {}).await;
//! # }
//! ```

pub mod account;
pub mod batch;
pub mod budgets;
pub mod bundle_sink;
pub mod liveness;
pub mod reconcile;
pub mod registry;
pub mod state;
pub mod store;

pub use account::{AccountOptions, AccountOutcome, capture_account};
pub use bundle_sink::{BundleSink, Counts};
