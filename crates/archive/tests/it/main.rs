//! Integration tests of the archive crate: one binary, a module per theme.

mod support;

mod roundtrip;
