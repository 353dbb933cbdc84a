//! Identifiers: every one of them is ASCII, because they end up in paths inside bundles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("unknown platform {0:?} (expected x, instagram, facebook, youtube or snapchat)")]
    UnknownPlatform(String),
    #[error("unknown route {0:?} (expected api, export, web or manual)")]
    UnknownRoute(String),
    #[error("invalid account id {0:?}: use 1 to 128 ASCII letters, digits, '.', '_' or '-'")]
    InvalidAccount(String),
    #[error("invalid bundle id {0:?}: expected <platform>-<account-id>-<YYYYMMDDTHHMMSSZ>")]
    InvalidBundleId(String),
    #[error("invalid sha256 {0:?}: expected 64 lower-case hex digits")]
    InvalidSha256(String),
}

/// A social-media platform tawthiq archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    X,
    Instagram,
    Facebook,
    Youtube,
    Snapchat,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::X,
        Platform::Instagram,
        Platform::Facebook,
        Platform::Youtube,
        Platform::Snapchat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::X => "x",
            Platform::Instagram => "instagram",
            Platform::Facebook => "facebook",
            Platform::Youtube => "youtube",
            Platform::Snapchat => "snapchat",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let lower = s.trim().to_ascii_lowercase();
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == lower || (lower == "twitter" && *p == Platform::X))
            .ok_or_else(|| IdError::UnknownPlatform(s.to_owned()))
    }
}

/// One way of getting an account's content (see the architecture design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// The platform's official API with the owner's token.
    Api,
    /// The owner's own data export.
    Export,
    /// Public pages without login.
    Web,
    /// Files a person gathered and packed with `tawthiq bundle` (manual evidence).
    Manual,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Api => "api",
            Route::Export => "export",
            Route::Web => "web",
            Route::Manual => "manual",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Route {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s {
            "api" => Ok(Route::Api),
            "export" => Ok(Route::Export),
            "web" => Ok(Route::Web),
            "manual" => Ok(Route::Manual),
            other => Err(IdError::UnknownRoute(other.to_owned())),
        }
    }
}

/// A platform's id for an account (numeric id, channel id or handle), restricted to a
/// path-safe ASCII alphabet because it is part of the bundle id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn new(s: &str) -> Result<Self, IdError> {
        let ok = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !s.starts_with('.');
        if ok {
            Ok(AccountId(s.to_owned()))
        } else {
            Err(IdError::InvalidAccount(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        AccountId::new(&s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<platform>-<account-id>-<capture start, UTC, YYYYMMDDTHHMMSSZ>`: one capture run of one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleId {
    pub platform: Platform,
    pub account: AccountId,
    /// Capture start, truncated to whole seconds, UTC.
    pub capture_start: OffsetDateTime,
}

const STAMP: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

impl BundleId {
    pub fn new(platform: Platform, account: AccountId, capture_start: OffsetDateTime) -> Self {
        let capture_start = capture_start
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("zero nanoseconds is always valid");
        BundleId {
            platform,
            account,
            capture_start,
        }
    }

    /// `<platform>:<account-id>`, the bag's `External-Identifier`.
    pub fn external_identifier(&self) -> String {
        format!("{}:{}", self.platform, self.account)
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stamp = self.capture_start.format(STAMP).map_err(|_| fmt::Error)?;
        write!(f, "{}-{}-{}", self.platform, self.account, stamp)
    }
}

impl FromStr for BundleId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::InvalidBundleId(s.to_owned());
        let (platform, rest) = s.split_once('-').ok_or_else(bad)?;
        let (account, stamp) = rest.rsplit_once('-').ok_or_else(bad)?;
        let platform: Platform = platform.parse().map_err(|_| bad())?;
        if platform.as_str() != s.split('-').next().unwrap_or_default() {
            return Err(bad()); // "twitter-..." is accepted by Platform::from_str, not here
        }
        let account = AccountId::new(account).map_err(|_| bad())?;
        let start = PrimitiveDateTime::parse(stamp, STAMP).map_err(|_| bad())?;
        Ok(BundleId::new(platform, account, start.assume_utc()))
    }
}

/// A SHA-256 digest: the content address of a stored file. Displayed as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentId(pub [u8; 32]);

impl ContentId {
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.to_hex())
    }
}

impl FromStr for ContentId {
    type Err = IdError;
    /// Only the canonical form (64 lower-case hex digits) is accepted: manifests are compared
    /// byte for byte, so two spellings of one digest must not both pass.
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(IdError::InvalidSha256(s.to_owned()));
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => out[i] = (h << 4) | l,
                _ => return Err(IdError::InvalidSha256(s.to_owned())),
            }
        }
        Ok(ContentId(out))
    }
}

impl Serialize for ContentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ContentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_id_round_trips_with_dashes_in_the_account() {
        let id: BundleId = "youtube-UCa_b-c1-20250504T063000Z".parse().unwrap();
        assert_eq!(id.account.as_str(), "UCa_b-c1");
        assert_eq!(id.to_string(), "youtube-UCa_b-c1-20250504T063000Z");
    }

    #[test]
    fn bundle_id_rejects_bad_shapes() {
        for bad in [
            "x-1-2025",
            "twitter-1-20250504T063000Z",
            "x--20250504T063000Z",
            "x-a/b-20250504T063000Z",
            "x-1-20251304T063000Z",
        ] {
            assert!(bad.parse::<BundleId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn content_id_accepts_only_canonical_hex() {
        let hex = "ab".repeat(32);
        assert_eq!(hex.parse::<ContentId>().unwrap().to_hex(), hex);
        assert!("AB".repeat(32).parse::<ContentId>().is_err());
        assert!("ab".repeat(31).parse::<ContentId>().is_err());
    }

    #[test]
    fn account_ids_are_path_safe() {
        assert!(AccountId::new("school_123.riyadh").is_ok());
        for bad in ["", "..", "a/b", "مدرسة", "a b", ".hidden"] {
            assert!(AccountId::new(bad).is_err(), "{bad}");
        }
    }
}
