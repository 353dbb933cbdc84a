//! The Graph API as Instagram and Facebook share it (reference §2.2–§2.4, §3.1–§3.4): hosts,
//! the token as an `access_token` query parameter, the `+0000` time format and cursor paging.
//!
//! Paging follows `paging.next` until it is absent, never stopping on an empty `data` page
//! (Facebook documents pages that are empty yet have a next link). `paging.next` is a full URL
//! that carries the token: [`without_token`] removes it, and the transport adds it back on the
//! wire only, so no stored or logged URL holds it.

use std::collections::HashSet;

use model::Platform;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::signals::MetaSignals;
use crate::auth::{Auth, Secret};
use crate::error::{FetchError, Result};
use crate::source::Sink;
use crate::transport::{Document, Request, Transport};

/// The Graph API version every request names (Meta keeps each version two years).
pub const VERSION: &str = "v23.0";
/// Facebook Pages, and Instagram with Facebook Login.
pub const FACEBOOK_HOST: &str = "https://graph.facebook.com";
/// Instagram with Instagram Login.
pub const INSTAGRAM_HOST: &str = "https://graph.instagram.com";

/// Query parameters that are credentials and never belong in a stored URL.
const CREDENTIAL_PARAMS: &[&str] = &["access_token", "appsecret_proof"];

/// A guard against a server that pages forever (100 items a page: 100,000 items).
pub const MAX_PAGES: usize = 1_000;

/// `https://graph.<host>/<VERSION>/<segments…>`, each segment percent-encoded.
pub fn url(host: &str, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut u = Url::parse(host).expect("Graph hosts are valid URLs");
    {
        let mut path = u.path_segments_mut().expect("http URLs have paths");
        path.pop_if_empty().push(VERSION);
        for s in segments {
            path.push(s);
        }
    }
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query);
    }
    u
}

/// `url` without its credential parameters (a `paging.next` link carries the token).
pub fn without_token(url: &Url) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !CREDENTIAL_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut clean = url.clone();
    clean.set_query(None);
    if !kept.is_empty() {
        clean.query_pairs_mut().extend_pairs(kept);
    }
    clean
}

/// Graph times: `2024-09-01T06:05:00+0000` (no colon in the offset, which RFC 3339 parsers
/// reject), and the RFC 3339 forms some fields use.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // `+HHMM` → `+HH:MM`, then RFC 3339.
    let (head, offset) = s.split_at(s.len().checked_sub(5)?);
    let sign = offset.chars().next()?;
    if !(sign == '+' || sign == '-') || !offset[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fixed = format!("{head}{}:{}", &offset[..3], &offset[3..]);
    OffsetDateTime::parse(&fixed, &Rfc3339).ok()
}

/// Unix seconds, as exports and some fields give them.
pub fn from_unix(secs: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// One page of an edge: `{"data":[…],"paging":{"cursors":{…},"next":"…"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub data: Vec<Value>,
    /// `paging.next` without its credentials; `None` at the end.
    pub next: Option<Url>,
}

#[derive(Deserialize)]
struct WirePage {
    data: Option<Vec<Value>>,
    #[serde(default)]
    paging: Option<WirePaging>,
}

#[derive(Deserialize)]
struct WirePaging {
    #[serde(default)]
    next: Option<String>,
}

/// The error for a body that is not the documented shape.
pub fn malformed(platform: Platform, url: &str, detail: impl Into<String>) -> FetchError {
    FetchError::Malformed {
        platform,
        url: url.to_owned(),
        detail: detail.into(),
    }
}

/// Parses one page of an edge; a body without a `data` array is malformed (fail loudly rather
/// than record an empty account).
pub fn parse_page(platform: Platform, body: &[u8], url: &str) -> Result<Page> {
    let wire: WirePage = serde_json::from_slice(body)
        .map_err(|e| malformed(platform, url, format!("not a Graph page: {e}")))?;
    let data = wire
        .data
        .ok_or_else(|| malformed(platform, url, "no \"data\" array"))?;
    let next = match wire.paging.and_then(|p| p.next) {
        None => None,
        Some(n) => {
            let u = Url::parse(&n)
                .map_err(|e| malformed(platform, url, format!("paging.next is not a URL: {e}")))?;
            if !matches!(u.scheme(), "https" | "http") {
                return Err(malformed(
                    platform,
                    url,
                    "paging.next is not an http(s) URL",
                ));
            }
            Some(without_token(&u))
        }
    };
    Ok(Page { data, next })
}

/// Parses a single object (`/me`, `/{id}?fields=…`).
pub fn parse_object(platform: Platform, body: &[u8], url: &str) -> Result<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| malformed(platform, url, format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(malformed(platform, url, "expected a JSON object"));
    }
    Ok(v)
}

/// A string field of a Graph object.
pub fn str_field<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// A count field (Graph gives numbers; some fields are strings).
pub fn count_field(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Sends Graph requests for one platform with one token.
pub struct Graph<'t> {
    transport: &'t Transport,
    token: &'t Secret,
    signals: MetaSignals,
}

impl<'t> Graph<'t> {
    pub fn new(transport: &'t Transport, token: &'t Secret, platform: Platform) -> Graph<'t> {
        Graph {
            transport,
            token,
            signals: MetaSignals(platform),
        }
    }

    pub fn platform(&self) -> Platform {
        self.signals.0
    }

    pub fn transport(&self) -> &'t Transport {
        self.transport
    }

    /// GETs `url` (credentials removed, then added back on the wire), stores and logs the body.
    pub async fn get(&self, sink: &mut dyn Sink, endpoint: &str, url: &Url) -> Result<Document> {
        let req = Request::new(self.platform(), endpoint, without_token(url))
            .auth(Some(Auth::Query {
                param: "access_token",
                secret: self.token,
            }))
            .signals(&self.signals);
        self.transport.document(sink, &req).await
    }
}

/// Walks `paging.next` links: refuses a link that repeats (a server loop) or paging beyond
/// [`MAX_PAGES`], so a capture always ends.
#[derive(Debug, Default)]
pub struct Pager {
    seen: HashSet<String>,
    pages: usize,
}

impl Pager {
    pub fn new() -> Pager {
        Pager::default()
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// After a page whose `next` is `next` (fetched from `doc_url`): the URL to fetch, or
    /// `None` at the end.
    pub fn advance(
        &mut self,
        platform: Platform,
        next: Option<&Url>,
        doc_url: &str,
    ) -> Result<Option<Url>> {
        self.pages += 1;
        let Some(next) = next else { return Ok(None) };
        if !self.seen.insert(next.as_str().to_owned()) {
            return Err(malformed(
                platform,
                doc_url,
                "paging.next repeats an earlier page",
            ));
        }
        if self.pages >= MAX_PAGES {
            return Err(malformed(
                platform,
                doc_url,
                format!("still paging after {MAX_PAGES} pages"),
            ));
        }
        Ok(Some(next.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_parse_without_a_colon() {
        let t = parse_time("2024-09-01T06:05:00+0000").unwrap();
        assert_eq!(t.unix_timestamp(), 1_725_170_700);
        assert_eq!(
            parse_time("2024-09-01T09:05:00+0300")
                .unwrap()
                .unix_timestamp(),
            1_725_170_700
        );
        assert_eq!(parse_time("2024-09-01T06:05:00Z"), Some(t));
        assert_eq!(parse_time("2024-09-01T06:05:00+00:00"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("+0000"), None);
    }

    #[test]
    fn paging_links_lose_their_token() {
        let body = br#"{"data":[{"id":"1"}],"paging":{"cursors":{"after":"QVFI"},
            "next":"https://graph.facebook.com/v23.0/17841/media?access_token=EAAB-secret&limit=25&after=QVFI"}}"#;
        let page = parse_page(Platform::Instagram, body, "u").unwrap();
        assert_eq!(page.data.len(), 1);
        assert_eq!(
            page.next.unwrap().as_str(),
            "https://graph.facebook.com/v23.0/17841/media?limit=25&after=QVFI"
        );
    }

    #[test]
    fn empty_pages_with_a_next_link_keep_paging_and_missing_data_is_malformed() {
        let body = br#"{"data":[],"paging":{"next":"https://graph.facebook.com/v23.0/1/published_posts?after=X"}}"#;
        let page = parse_page(Platform::Facebook, body, "u").unwrap();
        assert!(page.data.is_empty());
        let mut pager = Pager::new();
        assert!(
            pager
                .advance(Platform::Facebook, page.next.as_ref(), "u")
                .unwrap()
                .is_some()
        );
        assert!(
            pager
                .advance(Platform::Facebook, page.next.as_ref(), "u")
                .is_err(),
            "a repeated link is a loop"
        );
        assert!(parse_page(Platform::Facebook, br#"{"paging":{}}"#, "u").is_err());
        assert!(parse_page(Platform::Facebook, b"<html>", "u").is_err());
    }

    #[test]
    fn urls_are_versioned_and_encoded() {
        let u = url(
            FACEBOOK_HOST,
            &["123", "published_posts"],
            &[("fields", "id,message"), ("limit", "100")],
        );
        assert_eq!(
            u.as_str(),
            "https://graph.facebook.com/v23.0/123/published_posts?fields=id%2Cmessage&limit=100"
        );
    }
}
