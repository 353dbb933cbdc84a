//! Credentials: a [`Secret`] never prints, and only the transport puts it on the wire.

use std::fmt;

/// An access token. `Debug` and `Display` show `[REDACTED]`; [`Secret::expose`] is the only way
/// to the value, and only the transport calls it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into().trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// How a platform wants its token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Bearer <token>` (X, `YouTube`).
    Bearer(&'a Secret),
    /// `?<param>=<token>` added by the transport (Meta's `access_token`); the URL that is
    /// logged and stored is the one without it.
    Query {
        param: &'static str,
        secret: &'a Secret,
    },
}

impl Auth<'_> {
    pub fn secret(&self) -> &Secret {
        match self {
            Auth::Bearer(s) | Auth::Query { secret: s, .. } => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("AAAA-very-secret");
        assert_eq!(format!("{s} {s:?}"), "[REDACTED] Secret([REDACTED])");
        assert_eq!(s.expose(), "AAAA-very-secret");
    }
}
