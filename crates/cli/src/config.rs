//! Configuration: flags > environment > config file > defaults (see `config/README.md`).
//! Secrets never live here: the config names key *files*; tokens come from the environment.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub signing: Signing,
    #[serde(default)]
    pub timestamp: Timestamp,
    #[serde(default)]
    pub bundle: Bundle,
    #[serde(default)]
    pub verify: Verify,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Secret key file (mode 0600).
    pub secret_key: Option<PathBuf>,
    /// Public key file(s) accepted when verifying.
    #[serde(default)]
    pub public_keys: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timestamp {
    /// RFC 3161 TSA URL; none means no timestamp.
    pub url: Option<String>,
    /// Refuse to publish a bundle without a timestamp.
    #[serde(default)]
    pub required: bool,
    /// Seconds to wait for the TSA.
    pub timeout_secs: Option<u64>,
    /// PEM of the TSA root, for verification.
    pub root: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// `Source-Organization` in bag-info.txt.
    pub source_organization: Option<String>,
    /// `tar.zst` (default) or `tar`.
    pub container: Option<String>,
    /// Also write SHA-512 manifests.
    #[serde(default)]
    pub sha512: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// Treat a bundle without a timestamp as invalid.
    #[serde(default)]
    pub require_timestamp: bool,
}

impl Config {
    /// Loads `path`, or `./tawthiq.toml` when present, or the defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("tawthiq.toml"), false),
        };
        if !explicit && !path.exists() {
            return Ok(Config::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    /// Every config file shipped in `config/` parses.
    #[test]
    fn shipped_configs_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Config::parse(&std::fs::read_to_string(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 1, "no config shipped in {}", dir.display());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("[signing]\nsecret = 'x'\n").is_err());
    }
}
