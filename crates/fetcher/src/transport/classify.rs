//! What a response means: accept it, wait and retry, or fail with a semantic error.
//!
//! Generic HTTP rules live here; each platform's own signals (X's `x-rate-limit-reset` and
//! `usage-capped` problems, Meta's `X-Business-Use-Case-Usage`, `YouTube`'s `quotaExceeded`) live
//! in its module as a [`Signals`] implementation, consulted first.

use model::Platform;
use reqwest::header::HeaderMap;
use time::OffsetDateTime;

use crate::error::FetchError;

/// One finished exchange, as classifiers see it. `url` is already redacted.
pub struct Exchange<'a> {
    pub platform: Platform,
    pub url: &'a str,
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// Wall-clock time the response arrived.
    pub now: OffsetDateTime,
    /// True for API documents (JSON expected), false for media.
    pub expect_json: bool,
    /// A public web page was asked for: HTML is the answer, not a login wall to refuse (the
    /// page's adapter checks that it holds what it should).
    pub web_page: bool,
}

impl Exchange<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug)]
pub enum Verdict {
    Accept,
    /// Retryable: try again at `at` if the platform said when, else after a backoff.
    Retry {
        at: Option<OffsetDateTime>,
        reason: String,
    },
    Fail(FetchError),
}

/// A platform's reading of its own responses. Return `None` to leave a response to the
/// generic rules.
pub trait Signals: Send + Sync {
    fn classify(&self, ex: &Exchange<'_>) -> Option<Verdict>;

    /// After an accepted response: the budget is spent until this time (X
    /// `x-rate-limit-remaining: 0`, Meta usage at 100%). The transport then holds the next
    /// request to this host until then, instead of spending a request on a certain 429.
    fn spent_until(&self, _ex: &Exchange<'_>) -> Option<OffsetDateTime> {
        None
    }
}

/// The generic rules, after the platform's.
pub fn generic(ex: &Exchange<'_>) -> Verdict {
    let url = ex.url.to_owned();
    match ex.status {
        200..=299 => {
            if !ex.web_page && looks_like_html(ex) && (ex.expect_json || is_html_type(ex)) {
                Verdict::Fail(FetchError::UnexpectedHtml { url })
            } else {
                Verdict::Accept
            }
        }
        401 => Verdict::Fail(FetchError::AuthExpired {
            platform: ex.platform,
            detail: format!("HTTP 401 from {url}"),
        }),
        404 | 410 => Verdict::Fail(FetchError::NotFound {
            detail: format!("HTTP {} from {url}", ex.status),
        }),
        408 | 429 | 500..=599 => Verdict::Retry {
            at: retry_after(ex),
            reason: format!("HTTP {} from {url}", ex.status),
        },
        status => Verdict::Fail(FetchError::Http {
            status,
            url,
            detail: snippet(ex.body),
        }),
    }
}

fn is_html_type(ex: &Exchange<'_>) -> bool {
    ex.header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"))
}

fn looks_like_html(ex: &Exchange<'_>) -> bool {
    if is_html_type(ex) {
        return true;
    }
    let head: Vec<u8> = ex
        .body
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(ex: &Exchange<'_>) -> Option<OffsetDateTime> {
    let v = ex.header("retry-after")?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(ex.now + std::time::Duration::from_secs(secs));
    }
    let t = httpdate::parse_http_date(v).ok()?;
    Some(OffsetDateTime::from(t))
}

/// The first 200 characters of a body, on one line, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(800)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn ex<'a>(status: u16, headers: &'a HeaderMap, body: &'a [u8]) -> Exchange<'a> {
        Exchange {
            platform: Platform::X,
            url: "https://api.x.com/2/users/me",
            status,
            headers,
            body,
            now: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            expect_json: true,
            web_page: false,
        }
    }

    #[test]
    fn html_where_json_was_expected_is_a_login_wall() {
        let h = HeaderMap::new();
        let v = generic(&ex(
            200,
            &h,
            b"\n  <!DOCTYPE html><html><body>Log in</body></html>",
        ));
        assert!(matches!(
            v,
            Verdict::Fail(FetchError::UnexpectedHtml { .. })
        ));
        assert!(matches!(generic(&ex(200, &h, b"{}")), Verdict::Accept));
    }

    #[test]
    fn retry_after_seconds_and_dates_are_understood() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        let Verdict::Retry { at: Some(at), .. } = generic(&ex(429, &h, b"")) else {
            panic!("429 must be retried")
        };
        assert_eq!(at.unix_timestamp(), 1_700_000_120);
        h.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:15:00 GMT"),
        );
        let Verdict::Retry { at: Some(at), .. } = generic(&ex(503, &h, b"")) else {
            panic!("503 must be retried")
        };
        assert_eq!(at.unix_timestamp(), 1_700_000_100);
    }

    #[test]
    fn statuses_map_to_semantic_errors() {
        let h = HeaderMap::new();
        assert!(matches!(
            generic(&ex(401, &h, b"")),
            Verdict::Fail(FetchError::AuthExpired { .. })
        ));
        assert!(matches!(
            generic(&ex(404, &h, b"")),
            Verdict::Fail(FetchError::NotFound { .. })
        ));
        assert!(matches!(
            generic(&ex(400, &h, b"{\"title\":\"Invalid Request\"}")),
            Verdict::Fail(FetchError::Http { status: 400, .. })
        ));
    }
}
