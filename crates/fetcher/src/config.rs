//! Transport settings: timeouts, size caps, retries, rate limits and host rewrites.
//!
//! Adapters always build the platform's real URLs (`https://api.x.com/2/users/me`,
//! `https://pbs.twimg.com/media/…`); the [`HostMap`] then sends a host elsewhere (a proxy, or a
//! local replay server in tests). That one mechanism makes every API base URL and CDN host
//! configurable. The CLI fills this from `[fetch]` in the config file and `TAWTHIQ_HOSTS`.

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use crate::error::FetchError;
use crate::transport::waits::WaitHook;

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// Whole-exchange limit for API documents.
    pub request_timeout: Duration,
    /// Longest silence while a media body streams (a 2 GB video may take long, but not silently).
    pub read_timeout: Duration,
    /// Largest API document or page accepted.
    pub max_document_bytes: u64,
    /// Largest media file accepted.
    pub max_media_bytes: u64,
    pub retry: RetryPolicy,
    pub limits: RateLimits,
    pub hosts: HostMap,
    /// An HTTP(S) proxy for every request, if any.
    pub proxy: Option<String>,
    /// Who is told when a request is held back (see [`crate::transport::waits`]).
    pub waits: WaitHook,
}

impl Default for FetchConfig {
    fn default() -> FetchConfig {
        FetchConfig {
            user_agent: concat!("tawthiq/", env!("CARGO_PKG_VERSION")).into(),
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_mins(1),
            read_timeout: Duration::from_mins(1),
            max_document_bytes: 64 << 20,
            max_media_bytes: 8 << 30,
            retry: RetryPolicy::default(),
            limits: RateLimits::default(),
            hosts: HostMap::default(),
            proxy: None,
            waits: WaitHook::default(),
        }
    }
}

/// Retries for retryable failures only (connect errors, timeouts, 5xx, window rate limits).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles each attempt, with full jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest wait the transport accepts when a platform names a reset time; beyond it the
    /// account is reported as deferred instead of hanging.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_mins(1),
            max_wait: Duration::from_mins(20),
        }
    }
}

/// Requests per minute per host (`governor` token buckets); API hosts get their platform's
/// budget, every other host (CDNs) the default.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub default_per_minute: u32,
    pub per_host: BTreeMap<String, u32>,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        // X: 900 user-timeline requests per 15-minute window = 60 per minute per user token.
        // Meta: ~200 calls per hour per user; be gentle. YouTube: quota units, not rate.
        let per_host = [
            ("api.x.com", 60),
            ("api.twitter.com", 60),
            ("graph.facebook.com", 60),
            ("graph.instagram.com", 60),
            ("www.googleapis.com", 120),
            ("www.snapchat.com", 20),
        ]
        .into_iter()
        .map(|(h, n)| (h.to_owned(), n))
        .collect();
        RateLimits {
            default_per_minute: 600,
            per_host,
        }
    }
}

impl RateLimits {
    pub fn for_host(&self, host: &str) -> u32 {
        self.per_host
            .get(host)
            .copied()
            .unwrap_or(self.default_per_minute)
    }
}

/// Host rewrites: `api.x.com` → `http://127.0.0.1:8080/x-api`, `*.cdninstagram.com` → a proxy,
/// `*` → everything. The most specific rule wins: exact host, then the longest `*.suffix`,
/// then `*`.
#[derive(Debug, Clone, Default)]
pub struct HostMap {
    rules: BTreeMap<String, Url>,
}

impl HostMap {
    /// Adds a rule; `target` must be an absolute http(s) URL (its path becomes a prefix).
    pub fn insert(&mut self, pattern: &str, target: &str) -> Result<(), FetchError> {
        let url = Url::parse(target).map_err(|e| {
            FetchError::Config(format!(
                "host rewrite for {pattern}: {target:?} is not a URL: {e}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(FetchError::Config(format!(
                "host rewrite for {pattern}: {target:?} must be an http(s) URL with a host"
            )));
        }
        let pattern = pattern.trim().to_ascii_lowercase();
        let valid = pattern == "*"
            || pattern
                .strip_prefix("*.")
                .unwrap_or(&pattern)
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if pattern.is_empty() || !valid {
            return Err(FetchError::Config(format!(
                "host rewrite pattern {pattern:?}: use a host name, *.suffix or *"
            )));
        }
        self.rules.insert(pattern, url);
        Ok(())
    }

    /// Parses `host=url,host=url` (the `TAWTHIQ_HOSTS` format).
    pub fn parse_list(list: &str) -> Result<HostMap, FetchError> {
        let mut map = HostMap::default();
        for rule in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (pattern, target) = rule.split_once('=').ok_or_else(|| {
                FetchError::Config(format!("host rewrite {rule:?}: expected host=url"))
            })?;
            map.insert(pattern, target)?;
        }
        Ok(map)
    }

    pub fn merge(&mut self, other: &HostMap) {
        for (k, v) in &other.rules {
            self.rules.insert(k.clone(), v.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn rule_for(&self, host: &str) -> Option<&Url> {
        if let Some(u) = self.rules.get(host) {
            return Some(u);
        }
        let mut best: Option<(&str, &Url)> = None;
        for (pattern, url) in &self.rules {
            if let Some(suffix) = pattern.strip_prefix("*.")
                && host.ends_with(&format!(".{suffix}"))
                && best.is_none_or(|(b, _)| b.len() < suffix.len())
            {
                best = Some((suffix, url));
            }
        }
        best.map(|(_, u)| u).or_else(|| self.rules.get("*"))
    }

    /// Where to actually send a request for `url`: the same URL, or the rewritten one.
    pub fn rewrite(&self, url: &Url) -> Url {
        let Some(host) = url.host_str() else {
            return url.clone();
        };
        let Some(target) = self.rule_for(&host.to_ascii_lowercase()) else {
            return url.clone();
        };
        let mut out = target.clone();
        let prefix = target.path().trim_end_matches('/');
        out.set_path(&format!("{prefix}{}", url.path()));
        out.set_query(url.query());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_rule_wins_and_paths_and_queries_survive() {
        let map = HostMap::parse_list(
            "api.x.com=http://127.0.0.1:9/x, *.twimg.com=http://127.0.0.1:9/cdn, \
             *.video.twimg.com=http://127.0.0.1:9/video, *=http://proxy:3128",
        )
        .unwrap();
        let r = |u: &str| map.rewrite(&Url::parse(u).unwrap()).to_string();
        assert_eq!(
            r("https://api.x.com/2/users/me?user.fields=created_at"),
            "http://127.0.0.1:9/x/2/users/me?user.fields=created_at"
        );
        assert_eq!(
            r("https://pbs.twimg.com/media/A.jpg?name=orig"),
            "http://127.0.0.1:9/cdn/media/A.jpg?name=orig"
        );
        assert_eq!(
            r("https://a.video.twimg.com/v.mp4"),
            "http://127.0.0.1:9/video/v.mp4"
        );
        assert_eq!(r("https://example.org/x"), "http://proxy:3128/x");
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        assert!(HostMap::parse_list("api.x.com").is_err());
        assert!(HostMap::parse_list("api.x.com=ftp://x").is_err());
        assert!(HostMap::parse_list("a b=http://x").is_err());
    }
}
