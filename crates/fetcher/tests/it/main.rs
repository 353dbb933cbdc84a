//! fetcher integration tests: real HTTP over loopback sockets against local replay servers
//! (`wiremock`), with responses written from the platforms' documented shapes
//! (`tests/fixtures/<platform>/`).

mod conformance;
mod export_support;
mod facebook_api;
mod facebook_export;
mod instagram_api;
mod instagram_export;
mod snapchat_export;
mod snapchat_web;
mod transport;
mod x_api;
mod x_export;
mod youtube_api;
mod youtube_takeout;
