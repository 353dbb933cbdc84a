//! End-to-end tests of the `tawthiq` binary, with the independent tools auditors use.

mod support;

mod batch_report;
mod capture;
mod errors;
mod independent_tools;
mod meta;
mod workflow;
mod youtube_snapchat;
