//! Integration tests of the archive crate: one binary, a module per theme.

mod support;

mod roundtrip;
mod bad_input;
mod random_access;
mod reproducible;
