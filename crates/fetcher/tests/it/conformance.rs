//! The conformance harness every source's tests call (STYLE.md, "A pluggable family").
//!
//! [`conformance`] runs a source twice against the same replayed responses and checks what any
//! user relies on, whatever the platform: the capture runs to the end; every media URL is
//! absolute and every referenced media file was stored; derived items have unique ids; the log
//! has an entry for every stored body; the report says something; no secret appears in any
//! byte the sink holds; and the second run produces identical output.
//! [`expect_error`] checks the error a failure maps to. Pagination to the end is asserted by
//! each adapter with `wiremock`'s `.expect(n)` on every page.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use fetcher::{
    FetchConfig, FetchError, HostMap, ManualClock, MemorySink, Report, RetryPolicy, Source,
    Transport,
};
use time::OffsetDateTime;

/// A recognisable token: tests search every output byte for it.
pub const SECRET: &str = "TQ-SECRET-d2FzIGhlcmUK-do-not-leak-7f3a9c";

/// A fixed start for the paused clock: 2025-05-04T06:30:00Z.
pub fn start_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_746_340_200).unwrap()
}

pub struct Harness {
    pub transport: Transport,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    /// A transport that sends the listed hosts (`TAWTHIQ_HOSTS` syntax) to local servers, with
    /// a paused clock, no rate limit, short timeouts and quick retries.
    pub fn new(hosts: &str) -> Harness {
        Harness::with(hosts, |_| {})
    }

    pub fn with(hosts: &str, tweak: impl FnOnce(&mut FetchConfig)) -> Harness {
        let mut cfg = FetchConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_millis(1500),
            read_timeout: Duration::from_millis(1500),
            hosts: HostMap::parse_list(hosts).expect("host rewrites"),
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                max_wait: Duration::from_mins(20),
            },
            ..FetchConfig::default()
        };
        cfg.limits.default_per_minute = 0;
        cfg.limits.per_host.clear();
        tweak(&mut cfg);
        let clock = Arc::new(ManualClock::new(start_time()));
        let transport = Transport::with_clock(cfg, clock.clone()).expect("transport");
        Harness { transport, clock }
    }

    pub async fn capture(
        &self,
        source: &mut dyn Source,
    ) -> (Result<Report, FetchError>, MemorySink) {
        let mut sink = MemorySink::new();
        let result = source.capture(&mut sink).await;
        (result, sink)
    }
}

/// Runs the source made by `make` twice; asserts the shared contract; returns the first run.
pub async fn conformance<'t>(
    h: &'t Harness,
    make: impl Fn(&'t Transport) -> Box<dyn Source + 't>,
) -> (Report, MemorySink) {
    let (first, sink) = h.capture(make(&h.transport).as_mut()).await;
    let report = first.unwrap_or_else(|e| panic!("capture failed: {e}"));
    assert_well_formed(&report, &sink);
    assert_no_secret(&sink, &format!("{report:?}"));
    let (second, again) = h.capture(make(&h.transport).as_mut()).await;
    let again_report = second.unwrap_or_else(|e| panic!("second capture failed: {e}"));
    assert_eq!(report, again_report, "a second replay reports the same");
    assert_same_output(&sink, &again);
    (report, sink)
}

/// What every capture must satisfy, whatever the platform.
pub fn assert_well_formed(report: &Report, sink: &MemorySink) {
    assert!(sink.account.is_some(), "the source called begin()");
    assert!(
        !report.statement.trim().is_empty(),
        "the report has a statement"
    );
    if let Some(profile) = &sink.profile {
        for m in &profile.media {
            assert!(
                m.original_url.starts_with("http") || is_export_file(sink, m),
                "profile media URL neither absolute nor a stored export file"
            );
            if let Some(sha) = &m.sha256 {
                assert!(
                    sink.media.contains_key(sha) || is_export_file(sink, m),
                    "profile media {sha} was not stored"
                );
            } else {
                assert!(
                    sink.gaps
                        .iter()
                        .any(|g| g.url.as_deref() == Some(m.original_url.as_str())),
                    "profile media missing without a gap"
                );
            }
        }
    }
    let mut ids = std::collections::HashSet::new();
    for item in &sink.items {
        assert!(
            ids.insert(item.id.clone()),
            "item id {} appears twice",
            item.id
        );
        for m in &item.media {
            // A file an export names but lacks keeps the export's path (a gap explains it).
            let missing_from_export = item.route == model::Route::Export && m.sha256.is_none();
            assert!(
                is_export_file(sink, m)
                    || missing_from_export
                    || m.original_url.starts_with("https://")
                    || m.original_url.starts_with("http://"),
                "media URL of item {} is neither absolute nor a path in the export: {}",
                item.id,
                m.original_url
            );
            for r in m.chosen.iter().chain(&m.offered) {
                assert!(
                    r.url.starts_with("http"),
                    "rendition URL not absolute: {}",
                    r.url
                );
            }
            if let Some(sha) = &m.sha256 {
                let stored = sink.media.contains_key(sha)
                    || sink.export_files.values().any(|(_, s)| s.sha256 == *sha);
                assert!(
                    stored,
                    "item {} references media {sha} that was not stored",
                    item.id
                );
            } else {
                let explained = sink.gaps.iter().any(|g| {
                    g.item_id.as_deref() == Some(item.id.as_str())
                        || g.url.as_deref() == Some(m.original_url.as_str())
                });
                assert!(explained, "media of item {} missing without a gap", item.id);
            }
        }
    }
    for (_, _, _, stored) in &sink.documents {
        assert!(
            sink.log
                .iter()
                .any(|e| e.payload_path.as_deref() == Some(stored.path.as_str())),
            "stored document {} has no capture-log entry",
            stored.path
        );
    }
    for e in &sink.log {
        assert!(
            model::redact::find_secret_in_url(&e.url).is_none(),
            "log entry {} carries a secret in its URL",
            e.seq
        );
        for (name, value) in &e.headers {
            if model::redact::is_secret_header(name) {
                assert_eq!(value, model::redact::REDACTED, "header {name} not redacted");
            }
        }
    }
}

/// An export file the platform gave no URL for is named by its path in the export.
fn is_export_file(sink: &MemorySink, m: &model::MediaRef) -> bool {
    sink.export_files
        .get(&m.original_url)
        .is_some_and(|(_, s)| Some(s.sha256) == m.sha256)
}

/// No byte the sink holds, nor `extra` (printed output, reports), contains [`SECRET`].
pub fn assert_no_secret(sink: &MemorySink, extra: &str) {
    let all = sink.all_bytes();
    let needle = SECRET.as_bytes();
    assert!(
        !all.windows(needle.len()).any(|w| w == needle),
        "the token leaked into captured bytes"
    );
    assert!(
        !extra.contains(SECRET),
        "the token leaked into output: {extra}"
    );
}

/// Two replays of the same responses give the same output (times and server dates aside).
pub fn assert_same_output(a: &MemorySink, b: &MemorySink) {
    assert_eq!(a.account, b.account);
    let docs = |s: &MemorySink| -> Vec<_> {
        s.documents
            .iter()
            .map(|(e, x, body, _)| (e.clone(), x.clone(), body.clone()))
            .collect()
    };
    assert_eq!(docs(a), docs(b), "documents differ between replays");
    assert_eq!(a.media, b.media, "media differ between replays");
    assert_eq!(
        a.export_files.keys().collect::<Vec<_>>(),
        b.export_files.keys().collect::<Vec<_>>()
    );
    assert_eq!(a.items, b.items, "derived items differ between replays");
    assert_eq!(a.profile, b.profile);
    assert_eq!(a.gaps, b.gaps);
}

/// Asserts the capture failed with the error of `kind` (see `FetchError::kind`) and that the
/// message carries no secret.
pub fn expect_error<T: std::fmt::Debug>(result: Result<T, FetchError>, kind: &str) -> FetchError {
    match result {
        Ok(v) => panic!("expected a {kind} error, got success: {v:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong error: {e}");
            assert!(
                !e.to_string().contains(SECRET),
                "the token leaked into an error"
            );
            e
        }
    }
}
