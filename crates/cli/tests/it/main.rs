//! End-to-end tests of the `tawthiq` binary, with the independent tools auditors use.

mod support;

mod batch_report;
mod capture;
mod errors;
mod identity;
mod independent_tools;
mod keys;
mod meta;
mod outcomes;
mod run;
mod run_crash;
mod run_scale;
mod run_servers;
mod waits;
mod workflow;
mod youtube_snapchat;
