//! Secrets in URLs and headers: one list, used twice.
//!
//! The fetcher redacts every URL and header with [`redact_url`] / [`redact_headers`] before it
//! logs or reports anything; the bundle writer then refuses, with [`find_secret`], any capture
//! log entry that still carries a secret, so a bug upstream stops a capture instead of
//! publishing a token inside evidence.

use std::collections::BTreeMap;

use crate::CaptureLogEntry;

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
    // Signed download links (Snapchat "My Data", S3/CloudFront/GCS-signed URLs) grant access
    // to private media until they expire.
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "key-pair-id",
    "policy",
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

/// `url` with the value of every secret-bearing query parameter replaced by `[REDACTED]` and any
/// userinfo (`user:password@`) dropped. Everything else is kept byte for byte.
pub fn redact_url(url: &str) -> String {
    let (before_query, query_and_fragment) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '#']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            out.push_str(scheme);
            out.push_str("://");
            out.push_str(host);
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(qf) = query_and_fragment {
        let (query, fragment) = match qf.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (qf, None),
        };
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v))
                    if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str())
                        && !v.is_empty() =>
                {
                    format!("{k}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
    }
    out
}

/// Whether a header's value is a credential (compared case-insensitively).
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

/// Lower-cases header names and replaces the values of secret-bearing ones by `[REDACTED]`.
/// Repeated headers are joined with `, ` (as HTTP allows).
pub fn redact_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = if is_secret_header(&name) {
            REDACTED.to_owned()
        } else {
            String::from_utf8_lossy(value).into_owned()
        };
        out.entry(name)
            .and_modify(|v| {
                if v != REDACTED {
                    v.push_str(", ");
                    v.push_str(&value);
                }
            })
            .or_insert(value);
    }
    out
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

    #[test]
    fn redacted_urls_keep_everything_but_the_secrets() {
        let url =
            "https://u:p@graph.facebook.com/v19.0/me?fields=id,name&ACCESS_TOKEN=EAAB&after=QVF#x";
        let r = redact_url(url);
        assert_eq!(
            r,
            "https://graph.facebook.com/v19.0/me?fields=id,name&ACCESS_TOKEN=[REDACTED]&after=QVF#x"
        );
        assert_eq!(find_secret_in_url(&r), None);
        assert_eq!(
            redact_url("https://api.x.com/2/users/me"),
            "https://api.x.com/2/users/me"
        );
    }

    #[test]
    fn secret_headers_are_redacted_and_names_lowercased() {
        let h = redact_headers([
            ("Set-Cookie", b"a=1".as_slice()),
            ("set-cookie", b"b=2".as_slice()),
            ("X-Rate-Limit-Reset", b"1700000000".as_slice()),
        ]);
        assert_eq!(h["set-cookie"], REDACTED);
        assert_eq!(h["x-rate-limit-reset"], "1700000000");
    }
}
