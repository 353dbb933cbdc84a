//! How the Graph API says "wait", "stop" and "gone" (reference §2.3, §2.4, §3.3, §3.4).
//!
//! Errors arrive as `{"error":{"code":…,"error_subcode":…,"message":…}}` with HTTP 400/403/500,
//! so they are classified by `error.code`, not status. Throttling codes wait for the largest
//! `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`, or an hour when
//! none is given (Meta's own advice), which the transport turns into a deferral when it exceeds
//! the maximum wait.

use std::time::Duration;

use model::Platform;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::FetchError;
use crate::transport::classify::{Exchange, Signals, Verdict};

/// Meta's signals for one platform (`Platform::Instagram` or `Platform::Facebook`).
#[derive(Debug, Clone, Copy)]
pub struct MetaSignals(pub Platform);

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    error: Option<GraphError>,
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    error_subcode: Option<i64>,
}

/// Codes that mean "too many calls": app (4), user (17), page (32), 341, custom (613),
/// temporarily blocked (368), Pages BUC (80001), Instagram BUC (80002).
const THROTTLE_CODES: &[i64] = &[4, 17, 32, 341, 368, 613, 80001, 80002];

/// The largest `estimated_time_to_regain_access` (minutes) in the usage header.
fn regain_access(ex: &Exchange<'_>) -> Option<Duration> {
    let raw = ex.header("x-business-use-case-usage")?;
    let usage: serde_json::Value = serde_json::from_str(raw).ok()?;
    usage
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|e| e.get("estimated_time_to_regain_access")?.as_u64())
        .max()
        .filter(|m| *m > 0)
        .map(|m| Duration::from_secs(m * 60))
}

impl Signals for MetaSignals {
    /// Usage headers at 100% (any of call count, CPU time, total time) mean the next call will
    /// be throttled: wait for the announced regain time first.
    fn spent_until(&self, ex: &Exchange<'_>) -> Option<OffsetDateTime> {
        let full = |raw: &str| -> bool {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
                return false;
            };
            let entries: Vec<&serde_json::Value> = match v.as_object() {
                Some(o) if o.contains_key("call_count") => vec![&v],
                Some(o) => o
                    .values()
                    .filter_map(serde_json::Value::as_array)
                    .flatten()
                    .collect(),
                None => vec![],
            };
            entries.iter().any(|e| {
                ["call_count", "total_cputime", "total_time"]
                    .iter()
                    .any(|k| e.get(k).and_then(serde_json::Value::as_u64) >= Some(100))
            })
        };
        let spent = ["x-business-use-case-usage", "x-app-usage", "x-page-usage"]
            .iter()
            .any(|h| ex.header(h).is_some_and(full));
        spent.then(|| ex.now + regain_access(ex).unwrap_or(Duration::from_hours(1)))
    }

    fn classify(&self, ex: &Exchange<'_>) -> Option<Verdict> {
        let platform = self.0;
        let env: Envelope = serde_json::from_slice(ex.body).ok()?;
        let err = env.error?;
        let detail = format!("Graph API error {}: {}", err.code, err.message);
        let now: OffsetDateTime = ex.now;
        Some(match err.code {
            c if THROTTLE_CODES.contains(&c) => Verdict::Retry {
                at: Some(now + regain_access(ex).unwrap_or(Duration::from_hours(1))),
                reason: detail,
            },
            1 | 2 => Verdict::Retry {
                at: None,
                reason: detail,
            },
            190 => Verdict::Fail(FetchError::AuthExpired { platform, detail }),
            10 | 200..=299 => Verdict::Fail(FetchError::AuthExpired {
                platform,
                detail: format!("the token lacks a permission ({detail})"),
            }),
            100 if err.error_subcode == Some(33) => Verdict::Fail(FetchError::NotFound { detail }),
            _ => Verdict::Fail(FetchError::Http {
                status: ex.status,
                url: ex.url.to_owned(),
                detail,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn classify(status: u16, headers: &HeaderMap, body: &str) -> Option<Verdict> {
        MetaSignals(Platform::Facebook).classify(&Exchange {
            platform: Platform::Facebook,
            url: "https://graph.facebook.com/v21.0/1/published_posts",
            status,
            headers,
            body: body.as_bytes(),
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            expect_json: true,
            web_page: false,
        })
    }

    #[test]
    fn throttling_waits_for_the_estimated_time_to_regain_access() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":30,"estimated_time_to_regain_access":15}]}"#,
            ),
        );
        let body = r#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32,"fbtrace_id":"A"}}"#;
        let Some(Verdict::Retry { at: Some(at), .. }) = classify(403, &h, body) else {
            panic!("throttling is retried")
        };
        assert_eq!(at.unix_timestamp(), 1_700_000_000 + 15 * 60);
        // Without an estimate: an hour.
        let Some(Verdict::Retry { at: Some(at), .. }) = classify(400, &HeaderMap::new(), body)
        else {
            panic!("throttling is retried")
        };
        assert_eq!(at.unix_timestamp(), 1_700_003_600);
    }

    #[test]
    fn usage_at_one_hundred_percent_spends_the_budget() {
        let mut h = HeaderMap::new();
        let ex = |h: &HeaderMap| {
            MetaSignals(Platform::Instagram).spent_until(&Exchange {
                platform: Platform::Instagram,
                url: "https://graph.instagram.com/me/media",
                status: 200,
                headers: h,
                body: b"{}",
                now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
                expect_json: true,
                web_page: false,
            })
        };
        h.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":40,"total_cputime":5,"total_time":9}"#),
        );
        assert_eq!(ex(&h), None);
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"17841":[{"type":"instagram","call_count":100,"total_cputime":1,"total_time":2,"estimated_time_to_regain_access":7}]}"#,
            ),
        );
        assert_eq!(ex(&h).unwrap().unix_timestamp(), 1_700_000_000 + 7 * 60);
    }

    #[test]
    fn tokens_permissions_and_missing_objects_are_told_apart() {
        let h = HeaderMap::new();
        let expired = r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#;
        assert!(matches!(
            classify(400, &h, expired),
            Some(Verdict::Fail(FetchError::AuthExpired { .. }))
        ));
        let gone = r#"{"error":{"message":"Unsupported get request. Object with ID '1' does not exist","type":"GraphMethodException","code":100,"error_subcode":33}}"#;
        assert!(matches!(
            classify(400, &h, gone),
            Some(Verdict::Fail(FetchError::NotFound { .. }))
        ));
        let perm = r#"{"error":{"message":"(#200) Requires pages_read_engagement permission","code":200}}"#;
        let Some(Verdict::Fail(FetchError::AuthExpired { detail, .. })) = classify(403, &h, perm)
        else {
            panic!("a missing permission stops")
        };
        assert!(detail.contains("permission"));
        // Not an error object: left to the generic rules.
        assert!(classify(200, &h, r#"{"data":[]}"#).is_none());
    }
}
