//! How the `YouTube` Data API says "stop until tomorrow" (reference §4.2).
//!
//! `quotaExceeded` (HTTP 403) means the project's daily quota is spent; it resets at midnight
//! Pacific time, so the request is retried then and no sooner (the transport defers the
//! account when that is further away than its maximum wait). `rateLimitExceeded` and
//! `userRateLimitExceeded` are short-term: back off. Closed or suspended accounts and missing
//! resources map to account states. Any other 4xx with reasons (`commentsDisabled`,
//! `forbidden`…) is an HTTP error whose detail names the reasons.

use model::Platform;
use serde::Deserialize;
use time::{Date, Duration, Month, OffsetDateTime, Time, Weekday};

use crate::error::FetchError;
use crate::transport::classify::{Exchange, Signals, Verdict};

#[derive(Debug, Clone, Copy, Default)]
pub struct YouTubeSignals;

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    error: Option<ApiError>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<Reason>,
}

#[derive(Debug, Default, Deserialize)]
struct Reason {
    #[serde(default)]
    reason: String,
}

/// The `n`-th `weekday` of `month` (n from 1).
fn nth_weekday(year: i32, month: Month, weekday: Weekday, n: u8) -> Date {
    let first = Date::from_calendar_date(year, month, 1).expect("valid date");
    let offset =
        (7 + weekday.number_days_from_monday() - first.weekday().number_days_from_monday()) % 7;
    first + Duration::days(i64::from(offset) + 7 * i64::from(n - 1))
}

/// Pacific time's UTC offset at `t`: UTC−7 from the second Sunday of March 02:00 PST to the
/// first Sunday of November 02:00 PDT, else UTC−8 (US rules since 2007).
fn pacific_offset_hours(t: OffsetDateTime) -> i64 {
    let year = t.year();
    let dst_start = nth_weekday(year, Month::March, Weekday::Sunday, 2)
        .with_time(Time::from_hms(10, 0, 0).expect("valid"))
        .assume_utc();
    let dst_end = nth_weekday(year, Month::November, Weekday::Sunday, 1)
        .with_time(Time::from_hms(9, 0, 0).expect("valid"))
        .assume_utc();
    if t >= dst_start && t < dst_end {
        -7
    } else {
        -8
    }
}

/// The next midnight in Pacific time after `now`, as UTC: when `YouTube` quotas reset.
pub fn next_pacific_midnight(now: OffsetDateTime) -> OffsetDateTime {
    let local = now + Duration::hours(pacific_offset_hours(now));
    let next_day = local.date() + Duration::days(1);
    // The offset at the reset itself may differ (DST changes happen at 02:00, after midnight,
    // so the offset of the evening before applies).
    let midnight_local = next_day.midnight().assume_utc();
    let offset = pacific_offset_hours(midnight_local - Duration::hours(8));
    midnight_local - Duration::hours(offset)
}

impl Signals for YouTubeSignals {
    fn classify(&self, ex: &Exchange<'_>) -> Option<Verdict> {
        let env: Envelope = serde_json::from_slice(ex.body).ok()?;
        let err = env.error?;
        let reasons: Vec<&str> = err.errors.iter().map(|r| r.reason.as_str()).collect();
        let has = |r: &str| reasons.contains(&r);
        let detail = format!("{} ({})", err.message, reasons.join(", "));
        Some(if has("quotaExceeded") || has("dailyLimitExceeded") {
            Verdict::Retry {
                at: Some(next_pacific_midnight(ex.now)),
                reason: format!("YouTube daily quota spent: {detail}"),
            }
        } else if has("rateLimitExceeded") || has("userRateLimitExceeded") {
            Verdict::Retry {
                at: None,
                reason: detail,
            }
        } else if ex.status == 401 || has("authError") {
            Verdict::Fail(FetchError::AuthExpired {
                platform: Platform::Youtube,
                detail,
            })
        } else if has("authenticatedUserAccountSuspended") || has("channelSuspended") {
            Verdict::Fail(FetchError::Suspended { detail })
        } else if has("authenticatedUserAccountClosed") || has("channelClosed") || ex.status == 404
        {
            Verdict::Fail(FetchError::NotFound { detail })
        } else if (400..500).contains(&ex.status) && ex.status != 429 && !reasons.is_empty() {
            // Other refusals (`commentsDisabled`, `forbidden`, `insufficientPermissions`…)
            // concern one request: name the reasons, which the generic rule's 200-character
            // snippet of the body cuts off, so that adapters can tell them apart.
            Verdict::Fail(FetchError::Http {
                status: ex.status,
                url: ex.url.to_owned(),
                detail,
            })
        } else {
            return None;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use time::macros::datetime;

    #[test]
    fn quota_resets_at_midnight_pacific_in_winter_and_summer() {
        // 2025-01-15 20:00 UTC = 12:00 PST → next reset 2025-01-16 08:00 UTC.
        assert_eq!(
            next_pacific_midnight(datetime!(2025-01-15 20:00 UTC)),
            datetime!(2025-01-16 08:00 UTC)
        );
        // 2025-07-15 06:30 UTC = 23:30 PDT on the 14th → reset 2025-07-15 07:00 UTC.
        assert_eq!(
            next_pacific_midnight(datetime!(2025-07-15 06:30 UTC)),
            datetime!(2025-07-15 07:00 UTC)
        );
        // DST starts 2025-03-09: the reset at the start of the 9th is still PST.
        assert_eq!(
            next_pacific_midnight(datetime!(2025-03-08 12:00 UTC)),
            datetime!(2025-03-09 08:00 UTC)
        );
        // ...and the reset at the start of the 10th is PDT.
        assert_eq!(
            next_pacific_midnight(datetime!(2025-03-09 12:00 UTC)),
            datetime!(2025-03-10 07:00 UTC)
        );
    }

    #[test]
    fn quota_exceeded_waits_for_the_reset_other_errors_map_to_states() {
        let h = HeaderMap::new();
        let ex = |status: u16, body: &'static str| Exchange {
            platform: Platform::Youtube,
            url: "https://www.googleapis.com/youtube/v3/playlistItems",
            status,
            headers: &h,
            body: body.as_bytes(),
            now: datetime!(2025-01-15 20:00 UTC),
            expect_json: true,
            web_page: false,
        };
        let quota = r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.","errors":[{"message":"…","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;
        let Some(Verdict::Retry { at: Some(at), .. }) = YouTubeSignals.classify(&ex(403, quota))
        else {
            panic!("quota waits")
        };
        assert_eq!(at, datetime!(2025-01-16 08:00 UTC));
        let closed = r#"{"error":{"code":403,"message":"closed","errors":[{"reason":"authenticatedUserAccountClosed"}]}}"#;
        assert!(matches!(
            YouTubeSignals.classify(&ex(403, closed)),
            Some(Verdict::Fail(FetchError::NotFound { .. }))
        ));
        assert!(
            YouTubeSignals
                .classify(&ex(200, r#"{"items":[]}"#))
                .is_none()
        );
        let disabled = r#"{"error":{"code":403,"message":"The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter has disabled comments.","errors":[{"message":"…","domain":"youtube.commentThread","reason":"commentsDisabled","location":"videoId","locationType":"parameter"}]}}"#;
        let Some(Verdict::Fail(FetchError::Http { status, detail, .. })) =
            YouTubeSignals.classify(&ex(403, disabled))
        else {
            panic!("a refusal of one request is an HTTP error naming its reason")
        };
        assert_eq!(status, 403);
        assert!(detail.ends_with("(commentsDisabled)"), "{detail}");
    }
}
