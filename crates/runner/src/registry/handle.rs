//! Canonical account strings: every way of writing one account (`@Name`, `Name`, a profile URL,
//! a numeric id in Eastern Arabic digits) becomes one string, so duplicates are found and the
//! state store keys an account the same way whoever typed it.
//!
//! The canonical forms are the ones the fetcher's targets accept:
//! - a handle: `@` and the name, lower-cased (all five platforms treat names case-insensitively);
//! - a numeric id (X user id, Instagram user id, Facebook Page id): ASCII digits;
//! - a channel id on youtube: `UC` and 22 characters, case kept (ids are case-sensitive).
//!
//! A bare all-digit value is an id; an all-digit *handle* is written `@123…`. A handle and the
//! numeric id of the same account cannot be matched without asking the platform, so they are
//! not reported as duplicates.

use model::Platform;
use url::Url;

/// The canonical account string for `input` on `platform`, or a one-line reason naming what to
/// fix. Idempotent: the canonical string maps to itself.
pub fn canonical_account(platform: Platform, input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the account is empty: give a handle (@name), a profile URL or an id".into());
    }
    if s.eq_ignore_ascii_case("me") || s.eq_ignore_ascii_case("mine") {
        return Err(format!(
            "account {s:?} depends on the credential: name the account itself (handle, URL or id)"
        ));
    }
    if ascii_digits(s).is_some() {
        return numeric_id(platform, s);
    }
    match as_url(s) {
        Some(Ok(url)) => return from_url(platform, s, &url),
        Some(Err(())) => {
            return Err(format!(
                "account {s:?} is not a valid URL: use {}",
                example(platform)
            ));
        }
        None => {}
    }
    if let Some(name) = s.strip_prefix('@') {
        return handle(platform, name, s);
    }
    if platform == Platform::Youtube && is_channel_id(s) {
        return Ok(s.to_owned());
    }
    handle(platform, s, s)
}

/// `s` with Eastern Arabic (٠-٩) and Persian (۰-۹) digits made ASCII, when `s` is only digits.
pub fn ascii_digits(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    s.chars().map(ascii_digit).collect()
}

/// One digit of any of the three digit sets as ASCII.
pub fn ascii_digit(c: char) -> Option<char> {
    let base = match c {
        '0'..='9' => return Some(c),
        '\u{0660}'..='\u{0669}' => 0x0660,
        '\u{06F0}'..='\u{06F9}' => 0x06F0,
        _ => return None,
    };
    char::from_digit(u32::from(c) - base, 10)
}

/// A numeric id, in any of the three digit sets, as ASCII digits.
fn numeric_id(platform: Platform, written: &str) -> Result<String, String> {
    let Some(digits) = ascii_digits(written) else {
        return Err(format!("{written:?} is not a numeric {platform} id"));
    };
    match platform {
        Platform::X | Platform::Instagram | Platform::Facebook if digits.len() <= 30 => Ok(digits),
        Platform::X | Platform::Instagram | Platform::Facebook => Err(format!(
            "account {digits:?} is too long for a {platform} id (at most 30 digits)"
        )),
        Platform::Youtube => Err(format!(
            "account {digits:?}: YouTube has no numeric ids; give @handle or the channel id (UC…)"
        )),
        Platform::Snapchat => Err(format!(
            "account {digits:?}: Snapchat has no numeric ids; give the username (@name)"
        )),
    }
}

fn handle(platform: Platform, name: &str, written: &str) -> Result<String, String> {
    let ascii_ok = |extra: &[u8]| {
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    let len = name.chars().count();
    let (valid, rule) = match platform {
        Platform::X => (
            (1..=50).contains(&len) && ascii_ok(b"_"),
            "an X handle is 1 to 50 letters, digits or \"_\"",
        ),
        Platform::Instagram => (
            (1..=30).contains(&len)
                && ascii_ok(b"._")
                && !name.starts_with('.')
                && !name.ends_with('.')
                && !name.contains(".."),
            "an Instagram username is 1 to 30 letters, digits, \"_\" or \".\" (not at either end, \
             not doubled)",
        ),
        Platform::Facebook => (
            (5..=50).contains(&len) && ascii_ok(b"."),
            "a Facebook username is 5 to 50 letters, digits or \".\"",
        ),
        Platform::Youtube => (
            (3..=30).contains(&len)
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')),
            "a YouTube handle is 3 to 30 letters (any script), digits, \"_\", \"-\" or \".\"",
        ),
        Platform::Snapchat => (
            (3..=15).contains(&len)
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && ascii_ok(b"._-"),
            "a Snapchat username is 3 to 15 letters, digits, \".\", \"_\" or \"-\", starting with \
             a letter",
        ),
    };
    if valid {
        Ok(format!("@{}", name.to_lowercase()))
    } else {
        Err(format!("account {written:?} is not a valid handle: {rule}"))
    }
}

fn is_channel_id(s: &str) -> bool {
    s.len() == 24
        && s.starts_with("UC")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `s` as a URL when it is written as one (with or without `https://`); `Some(Err)` when it
/// is written as one but does not parse.
fn as_url(s: &str) -> Option<Result<Url, ()>> {
    if s.contains("://") {
        return Some(Url::parse(s).map_err(|_| ()));
    }
    let host = s.split('/').next().unwrap_or_default();
    if s.contains('/') && host.contains('.') {
        return Some(Url::parse(&format!("https://{s}")).map_err(|_| ()));
    }
    None
}

/// The hosts of each platform's profile pages.
const HOSTS: &[(Platform, &[&str])] = &[
    (Platform::X, &["x.com", "twitter.com"]),
    (Platform::Instagram, &["instagram.com", "instagr.am"]),
    (Platform::Facebook, &["facebook.com", "fb.com"]),
    (Platform::Youtube, &["youtube.com"]),
    (Platform::Snapchat, &["snapchat.com"]),
];

/// A profile URL's shape, for messages.
fn example(platform: Platform) -> &'static str {
    match platform {
        Platform::X => "https://x.com/<handle>",
        Platform::Instagram => "https://www.instagram.com/<username>/",
        Platform::Facebook => {
            "https://www.facebook.com/<username> or https://www.facebook.com/profile.php?id=<id>"
        }
        Platform::Youtube => {
            "https://www.youtube.com/@<handle> or https://www.youtube.com/channel/UC…"
        }
        Platform::Snapchat => "https://www.snapchat.com/add/<username>",
    }
}

fn from_url(platform: Platform, written: &str, url: &Url) -> Result<String, String> {
    let not_profile = || {
        format!(
            "account {written:?} is not a {platform} profile URL: use {}",
            example(platform)
        )
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(not_profile());
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let on = |p: Platform| {
        HOSTS
            .iter()
            .filter(|(q, _)| *q == p)
            .flat_map(|(_, hosts)| hosts.iter())
            .any(|h| host == *h || host.ends_with(&format!(".{h}")))
    };
    if !on(platform) {
        if let Some(other) = Platform::ALL.into_iter().find(|p| on(*p)) {
            return Err(format!(
                "account {written:?} is a {other} URL but the platform is {platform}: fix the \
                 platform or the account"
            ));
        }
        return Err(not_profile());
    }
    let segments: Vec<String> = url
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect::<Option<_>>()
        .ok_or_else(not_profile)?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let query = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let id_or_handle = |s: &str| match ascii_digits(s) {
        Some(_) => numeric_id(platform, s),
        None => handle(platform, s, written),
    };
    match (platform, segs.as_slice()) {
        (Platform::X, ["i", "user", id]) | (Platform::Facebook, ["pages", _, id]) => {
            numeric_id(platform, id)
        }
        (Platform::X, [name]) if !X_RESERVED.contains(&name.to_ascii_lowercase().as_str()) => {
            handle(platform, name, written)
        }
        (Platform::Instagram, [name])
            if !INSTAGRAM_RESERVED.contains(&name.to_ascii_lowercase().as_str()) =>
        {
            handle(platform, name, written)
        }
        (Platform::Facebook, ["profile.php"]) => match query("id") {
            Some(id) => id_or_handle(&id).and_then(|c| {
                if c.starts_with('@') {
                    Err(not_profile())
                } else {
                    Ok(c)
                }
            }),
            None => Err(not_profile()),
        },
        // Legacy page URLs end with the page id: /pages/<Name>/<id>, /p/<Name>-<id>/.
        (Platform::Facebook, ["p", slug]) => match slug.rsplit('-').next() {
            Some(id) if ascii_digits(id).is_some() => numeric_id(platform, id),
            _ => Err(not_profile()),
        },
        (Platform::Facebook, [name])
            if !FACEBOOK_RESERVED.contains(&name.to_ascii_lowercase().as_str()) =>
        {
            id_or_handle(name)
        }
        // Channel tabs (/videos, /shorts…) are the same channel.
        (Platform::Youtube, [first, ..]) | (Platform::Snapchat, [first])
            if first.starts_with('@') =>
        {
            handle(platform, &first[1..], written)
        }
        (Platform::Youtube, ["channel", id, ..]) if is_channel_id(id) => Ok((*id).to_owned()),
        (Platform::Youtube, ["c" | "user", ..]) => Err(format!(
            "account {written:?} is a legacy YouTube URL: open it and copy the @handle or the \
             /channel/UC… address"
        )),
        (Platform::Snapchat, ["add", name]) => handle(platform, name, written),
        _ => Err(not_profile()),
    }
}

/// First path segments on x.com that are pages, not accounts.
const X_RESERVED: &[&str] = &[
    "i",
    "home",
    "explore",
    "search",
    "hashtag",
    "intent",
    "settings",
    "messages",
    "notifications",
    "share",
    "compose",
    "login",
    "signup",
    "tos",
    "privacy",
];
const INSTAGRAM_RESERVED: &[&str] = &[
    "p", "reel", "reels", "tv", "explore", "stories", "accounts", "direct",
];
const FACEBOOK_RESERVED: &[&str] = &[
    "groups",
    "events",
    "watch",
    "photo.php",
    "story.php",
    "permalink.php",
    "share",
    "sharer.php",
    "login",
    "marketplace",
];

/// `%XX` sequences decoded; `None` when they do not decode to UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Platform, s: &str) -> String {
        canonical_account(p, s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_spelling_of_one_x_account_is_one_string() {
        for s in [
            "@Madrasat_AlNoor",
            "madrasat_alnoor",
            "https://x.com/madrasat_alnoor",
            "https://twitter.com/Madrasat_AlNoor/",
            "http://mobile.twitter.com/madrasat_alnoor?lang=ar",
            "x.com/MADRASAT_ALNOOR",
        ] {
            assert_eq!(ok(Platform::X, s), "@madrasat_alnoor", "{s}");
        }
        assert_eq!(ok(Platform::X, "١٢٣٤٥"), "12345");
        assert_eq!(ok(Platform::X, "https://x.com/i/user/783214"), "783214");
        assert_eq!(ok(Platform::X, "@123"), "@123");
    }

    #[test]
    fn profile_urls_of_each_platform() {
        assert_eq!(
            ok(
                Platform::Instagram,
                "https://www.instagram.com/Noor.School/"
            ),
            "@noor.school"
        );
        assert_eq!(ok(Platform::Instagram, "۱۷۸۴۱۴۰"), "1784140");
        assert_eq!(
            ok(Platform::Facebook, "https://www.facebook.com/NoorSchool"),
            "@noorschool"
        );
        assert_eq!(
            ok(
                Platform::Facebook,
                "https://m.facebook.com/profile.php?id=100064"
            ),
            "100064"
        );
        assert_eq!(
            ok(
                Platform::Facebook,
                "https://www.facebook.com/pages/Noor/1234567"
            ),
            "1234567"
        );
        assert_eq!(
            ok(Platform::Facebook, "https://www.facebook.com/123456789"),
            "123456789"
        );
        assert_eq!(
            ok(
                Platform::Youtube,
                "https://www.youtube.com/@NoorSchool/videos"
            ),
            "@noorschool"
        );
        assert_eq!(
            ok(
                Platform::Youtube,
                "https://www.youtube.com/@%D9%85%D8%AF%D8%B1%D8%B3%D8%A9"
            ),
            "@مدرسة"
        );
        let channel = "UCabcdefghijklmnopqrstuv";
        assert_eq!(ok(Platform::Youtube, channel), channel);
        assert_eq!(
            ok(
                Platform::Youtube,
                &format!("https://youtube.com/channel/{channel}")
            ),
            channel
        );
        assert_eq!(
            ok(
                Platform::Snapchat,
                "https://www.snapchat.com/add/Noor.School"
            ),
            "@noor.school"
        );
        assert_eq!(
            ok(Platform::Snapchat, "https://story.snapchat.com/@noor_s"),
            "@noor_s"
        );
    }

    #[test]
    fn malformed_accounts_say_what_to_fix() {
        let err = |p, s| canonical_account(p, s).unwrap_err();
        assert!(err(Platform::X, "@madrasa-noor").contains("1 to 50 letters, digits or \"_\""));
        assert!(err(Platform::X, "https://x.com/noor/status/1").contains("https://x.com/<handle>"));
        assert!(err(Platform::X, "https://x.com/home").contains("not a x profile URL"));
        assert!(
            err(Platform::X, "https://www.instagram.com/noor/")
                .contains("is a instagram URL but the platform is x")
        );
        assert!(err(Platform::Instagram, "https://www.instagram.com/p/Cxyz/").contains("profile"));
        assert!(err(Platform::Instagram, "noor..school").contains("not doubled"));
        assert!(err(Platform::Youtube, "12345").contains("no numeric ids"));
        assert!(err(Platform::Youtube, "https://www.youtube.com/c/Noor").contains("legacy"));
        assert!(err(Platform::Snapchat, "@1noor").contains("starting with a letter"));
        assert!(err(Platform::Facebook, "me").contains("depends on the credential"));
        assert!(err(Platform::X, "  ").contains("empty"));
    }

    proptest::proptest! {
        #[test]
        fn canonicalisation_is_idempotent(
            platform in proptest::sample::select(Platform::ALL.to_vec()),
            s in "(@|https://x.com/|https://www.instagram.com/|https://www.youtube.com/@|\
                   https://www.snapchat.com/add/|https://www.facebook.com/)?\
                   [A-Za-z][A-Za-z0-9_.]{0,20}|[0-9٠-٩]{1,18}",
        ) {
            if let Ok(canonical) = canonical_account(platform, &s) {
                proptest::prop_assert_eq!(canonical_account(platform, &canonical), Ok(canonical));
            }
        }
    }
}
