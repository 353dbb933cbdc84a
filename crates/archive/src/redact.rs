//! Last line of defence against secrets in `requests.jsonl`.
//!
//! The fetcher redacts before it logs; the bundle writer refuses any entry that still carries a
//! secret-bearing header or query parameter, so a bug upstream stops a capture instead of
//! publishing a token inside evidence.

use model::CaptureLogEntry;

pub const REDACTED: &str = "[REDACTED]";

/// Header names whose values are credentials.
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
    "x-ig-app-id",
];

/// Query parameters whose values are credentials.
pub const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "input_token",
    "token",
    "key",
    "api_key",
    "apikey",
    "client_secret",
    "appsecret_proof",
    "fb_exchange_token",
    "refresh_token",
    "code",
    "oauth_token",
    "oauth_signature",
    "password",
];

/// Names the first secret left in `entry`, without its value.
pub fn find_secret(entry: &CaptureLogEntry) -> Option<String> {
    for (name, value) in &entry.headers {
        if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) && value != REDACTED {
            return Some(format!("header {name}"));
        }
    }
    find_secret_in_url(&entry.url).map(|p| format!("query parameter {p} in the url"))
}

/// The first secret-bearing query parameter (or userinfo) of `url` whose value is not redacted.
pub fn find_secret_in_url(url: &str) -> Option<String> {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return Some("userinfo".into());
        }
    }
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
        let redacted = v == REDACTED || v == "%5BREDACTED%5D";
        (secret && !redacted && !v.is_empty()).then(|| k.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_urls_are_found_and_redacted_ones_pass() {
        assert_eq!(
            find_secret_in_url("https://graph.facebook.com/v19.0/me?fields=id&access_token=EAAB"),
            Some("access_token".into())
        );
        assert_eq!(
            find_secret_in_url("https://x/y?access_token=[REDACTED]"),
            None
        );
        assert_eq!(
            find_secret_in_url("https://u:p@host/x"),
            Some("userinfo".into())
        );
        assert_eq!(find_secret_in_url("https://cdn/x.jpg?oh=abc&oe=65"), None);
    }
}
