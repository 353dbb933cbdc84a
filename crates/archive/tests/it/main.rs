//! Integration tests of the archive crate: one binary, a module per theme.

mod craft;
mod support;

mod bad_input;
mod chain;
mod fuzz;
mod hostile;
mod random_access;
mod reproducible;
mod roundtrip;
mod tamper;
mod ts_resigned;
mod ts_timestamp;
