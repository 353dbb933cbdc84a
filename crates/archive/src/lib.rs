//! tawthiq evidence bundles.
//!
//! A bundle is one capture run of one account: a `BagIt` 1.0 bag in a deterministic tar,
//! compressed as seekable zstd with a member index, its tag manifest signed (Ed25519, minisign
//! format) and optionally timestamped (RFC 3161). The normative spec is
//! `docs/bundle-format.md`.
//!
//! - [`BundleWriter`] streams originals in, hashing as bytes arrive, and publishes atomically;
//! - [`BundleReader`] reads one member through the index, checked against the manifests;
//! - [`verify`] checks everything, in one streaming pass, and reports findings with stable codes;
//! - [`signing`] makes and loads keys; [`timestamp`] talks to a TSA.
//!
//! ```no_run
//! use archive::{signing, BundleWriter, WriterOptions};
//! use model::{BundleId, Completeness, Route};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = signing::SecretKey::load("tawthiq.key".as_ref())?;
//! let id: BundleId = "x-42-20250504T063000Z".parse()?;
//! let mut w = BundleWriter::create(".".as_ref(), WriterOptions::new(id, Route::Api))?;
//! w.add_raw_response("users-me", "json", &mut &br#"{"data":{"id":"42"}}"#[..], None)?;
//! w.set_completeness(Completeness { statement: "profile only".into(), ..Default::default() });
//! let published = w.finish(&key, None)?;
//! println!("{}", published.path.display());
//! # Ok(()) }
//! ```

pub mod bag;
pub mod error;
pub mod frames;
pub mod layout;
pub mod output;
pub mod reader;
pub use model::redact;
pub mod signing;
mod sink;
pub mod tar;
pub mod timestamp;
pub mod verify;
mod writer;

pub use error::{BundleError, Result};
pub use reader::{BundleReader, MemberInfo};
pub use sink::Container;
pub use writer::{
    BundleWriter, Published, StoredFile, TimestampOptions, WriterOptions, trusted_comment,
};
