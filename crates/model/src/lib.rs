//! Domain types shared by every tawthiq crate.
//!
//! - [`Platform`], [`Route`] and [`AccountId`] name what was captured and how;
//! - [`BundleId`] names one capture run of one account (`x-1409876543210987776-20250504T063000Z`);
//! - [`ContentId`] is a SHA-256 digest, the content address of every stored file;
//! - [`CaptureLogEntry`] is one line of `requests.jsonl` (provenance);
//! - [`Item`], [`MediaRef`], [`Profile`] are derived records; [`Completeness`] and [`Gap`] say
//!   what could not be captured and why.
//!
//! ```
//! use model::{BundleId, Platform};
//! let id: BundleId = "x-1409876543210987776-20250504T063000Z".parse().unwrap();
//! assert_eq!(id.platform, Platform::X);
//! assert_eq!(id.to_string(), "x-1409876543210987776-20250504T063000Z");
//! ```

mod capture;
mod ids;
mod item;
pub mod redact;

pub use capture::{CaptureLogEntry, Completeness, Gap, GapReason, Outcome, Unavailability};
pub use ids::{AccountId, BundleId, ContentId, IdError, Platform, Route};
pub use item::{Item, ItemKind, MediaRef, Profile, Rendition};
