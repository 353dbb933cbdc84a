//! How X says "wait", "stop" and "this account is gone" (reference §1.4, §1.5, §1.8).
//!
//! - 429 is two things: a 15-minute window limit (wait until `x-rate-limit-reset`) or a usage
//!   cap (`…/problems/usage-capped`, terminal); classified by the problem `type`, not the status.
//! - HTTP 200 whose body holds only `errors[]` (no `data`) is a failure: suspended, deleted or
//!   protected account, or a deleted post.
//! - 401 means the token expired or was revoked.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::FetchError;
use crate::transport::classify::{Exchange, Signals, Verdict, snippet};
use model::Platform;

/// X's signals; use as `Request::signals(&XSignals)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct XSignals;

/// An RFC 7807-style problem (v2), one v1.1 `errors[]` element, or a partial error next to
/// `data` (a warning about one resource).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<Problem>,
    #[serde(flatten)]
    top: Problem,
}

impl Problem {
    /// The resource a partial error is about (`resource_id`, else `value`).
    pub fn resource(&self) -> Option<String> {
        self.resource_id.clone().or_else(|| match &self.value {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    }

    /// Title, detail and message joined, for people.
    pub fn text(&self) -> String {
        [&self.title, &self.detail, &self.message]
            .into_iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(": ")
    }

    fn is_usage_cap(&self) -> bool {
        self.kind.ends_with("/problems/usage-capped") || self.title == "UsageCapExceeded"
    }
}

/// Maps a "resource" problem (in a 200 or 4xx body) to the account-state error it means.
pub fn resource_error(p: &Problem) -> FetchError {
    let detail = p.text();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("suspended") {
        FetchError::Suspended { detail }
    } else if p.kind.ends_with("/problems/not-authorized-for-resource") {
        FetchError::Protected { detail }
    } else if p.kind.ends_with("/problems/resource-not-found") || lower.contains("could not find") {
        FetchError::NotFound { detail }
    } else {
        FetchError::Http {
            status: 200,
            url: String::new(),
            detail,
        }
    }
}

fn reset_time(ex: &Exchange<'_>) -> Option<OffsetDateTime> {
    let secs: i64 = ex.header("x-rate-limit-reset")?.trim().parse().ok()?;
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

impl Signals for XSignals {
    fn spent_until(&self, ex: &Exchange<'_>) -> Option<OffsetDateTime> {
        let remaining: u64 = ex.header("x-rate-limit-remaining")?.trim().parse().ok()?;
        (remaining == 0).then(|| reset_time(ex)).flatten()
    }

    fn classify(&self, ex: &Exchange<'_>) -> Option<Verdict> {
        let env: Envelope = serde_json::from_slice(ex.body).unwrap_or_default();
        let cap = env.top.is_usage_cap() || env.errors.iter().any(Problem::is_usage_cap);
        if cap && matches!(ex.status, 402 | 403 | 429) {
            let p = if env.top.is_usage_cap() {
                &env.top
            } else {
                env.errors.iter().find(|p| p.is_usage_cap())?
            };
            return Some(Verdict::Fail(FetchError::QuotaExhausted {
                platform: Platform::X,
                detail: p.text(),
                until: None,
            }));
        }
        match ex.status {
            429 => Some(Verdict::Retry {
                at: reset_time(ex).or_else(|| crate::transport::classify::retry_after(ex)),
                reason: format!("X window rate limit at {}", ex.url),
            }),
            401 => Some(Verdict::Fail(FetchError::AuthExpired {
                platform: Platform::X,
                detail: if env.top.text().is_empty() {
                    "HTTP 401".into()
                } else {
                    env.top.text()
                },
            })),
            200..=299 if env.data.is_none() && !env.errors.is_empty() && ex.expect_json => {
                let mut e = resource_error(&env.errors[0]);
                if let FetchError::Http { url, .. } = &mut e {
                    ex.url.clone_into(url);
                }
                Some(Verdict::Fail(e))
            }
            400 | 403 => Some(Verdict::Fail(FetchError::Http {
                status: ex.status,
                url: ex.url.to_owned(),
                detail: if env.top.text().is_empty() {
                    snippet(ex.body)
                } else {
                    env.top.text()
                },
            })),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn classify(status: u16, headers: &HeaderMap, body: &str) -> Option<Verdict> {
        XSignals.classify(&Exchange {
            platform: Platform::X,
            url: "https://api.x.com/2/users/1/tweets",
            status,
            headers,
            body: body.as_bytes(),
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            expect_json: true,
            web_page: false,
        })
    }

    #[test]
    fn window_limit_waits_until_the_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1700000900"));
        let body = r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#;
        let Some(Verdict::Retry { at: Some(at), .. }) = classify(429, &h, body) else {
            panic!("a window limit is retried")
        };
        assert_eq!(at.unix_timestamp(), 1_700_000_900);
        // The v1.1 shape is the same signal.
        let v11 = r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#;
        assert!(matches!(
            classify(429, &h, v11),
            Some(Verdict::Retry { .. })
        ));
    }

    #[test]
    fn usage_cap_stops_whatever_the_status() {
        let body = r#"{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product","status":429}"#;
        for status in [429, 402, 403] {
            assert!(matches!(
                classify(status, &HeaderMap::new(), body),
                Some(Verdict::Fail(FetchError::QuotaExhausted { .. }))
            ));
        }
    }

    #[test]
    fn errors_without_data_are_account_states() {
        let h = HeaderMap::new();
        let suspended = r#"{"errors":[{"detail":"User has been suspended: [1].","title":"Forbidden","type":"https://api.twitter.com/2/problems/resource-not-found","resource_type":"user"}]}"#;
        let gone = r#"{"errors":[{"detail":"Could not find user with id: [1].","title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}"#;
        let protected = r#"{"errors":[{"detail":"Sorry, you are not authorized to see the user with id: [1].","title":"Authorization Error","type":"https://api.twitter.com/2/problems/not-authorized-for-resource"}]}"#;
        assert!(matches!(
            classify(200, &h, suspended),
            Some(Verdict::Fail(FetchError::Suspended { .. }))
        ));
        assert!(matches!(
            classify(200, &h, gone),
            Some(Verdict::Fail(FetchError::NotFound { .. }))
        ));
        assert!(matches!(
            classify(200, &h, protected),
            Some(Verdict::Fail(FetchError::Protected { .. }))
        ));
        // errors[] next to data are warnings, not failures.
        let partial = r#"{"data":[{"id":"1","text":"x"}],"errors":[{"detail":"Could not find tweet with id: [2]."}]}"#;
        assert!(classify(200, &h, partial).is_none());
    }
}
