//! runner integration tests: sources driven into real bundles on disk, then verified with the
//! strict verifier and read back through the random-access reader; registries parsed and
//! validated; the state store conformance suite.

mod account;
mod registry;
mod state_conformance;
mod store;
