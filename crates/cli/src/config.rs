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
    #[serde(default)]
    pub fetch: Fetch,
    #[serde(default)]
    pub secrets: Secrets,
    #[serde(default)]
    pub run: Run,
    /// The file this was read from, if any (for messages that say where a setting was looked
    /// for).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// The key files `tawthiq keygen` writes, in the user's configuration folder by default.
pub const KEY_FILE: &str = "tawthiq.key";
pub const PUBLIC_KEY_FILE: &str = "tawthiq.pub";

/// The user's configuration folder for tawthiq: `$XDG_CONFIG_HOME/tawthiq`, else
/// `$HOME/.config/tawthiq` (`%APPDATA%\tawthiq` on Windows); `None` when none of these is set.
///
/// Plain environment variables rather than the `dirs` crate: the folder must be the one the
/// docs name on every Unix (macOS included, where `dirs` would answer `~/Library/Application
/// Support`), and a relative `XDG_CONFIG_HOME` is ignored as the XDG spec says.
pub fn user_dir() -> Option<PathBuf> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = absolute("XDG_CONFIG_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".config")))
        .or_else(|| {
            if cfg!(windows) {
                absolute("APPDATA")
            } else {
                None
            }
        })?;
    Some(base.join("tawthiq"))
}

/// Where `tawthiq keygen` writes the secret key by default, and where signing commands look
/// last.
pub fn default_key_path() -> Option<PathBuf> {
    user_dir().map(|d| d.join(KEY_FILE))
}

/// Batch runs (`tawthiq run`; see `config/README.md`, `[run]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// Bundles larger than this many MiB are uploaded in parts of this size (at least 5 for
    /// S3). Default 8: each worker holds at most two parts in memory while uploading.
    pub store_part_mib: Option<u64>,
    /// Per platform (`[run.platforms.x]`, …): budgets shared by every worker of the run.
    #[serde(default)]
    pub platforms: std::collections::BTreeMap<String, PlatformLimits>,
}

/// One platform's shared limits in a batch run.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformLimits {
    /// Token bucket: sustained requests per second across all workers…
    pub requests_per_second: Option<f64>,
    /// …and how many may go at once after a quiet spell (default 1).
    pub burst: Option<u32>,
    /// Window quota: `window_units` per `window_secs`, windows starting at epoch +
    /// `window_offset_secs` (YouTube: 86400 / 10000 / 28800, the default for youtube).
    pub window_secs: Option<u64>,
    pub window_units: Option<u64>,
    pub window_offset_secs: Option<i64>,
    /// Accounts of this platform captured at once across all workers.
    pub max_concurrent: Option<u32>,
}

/// How the fetcher talks to platforms (see `config/README.md`, `[fetch]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    pub user_agent: Option<String>,
    pub connect_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub read_timeout_secs: Option<u64>,
    pub max_document_mib: Option<u64>,
    pub max_media_mib: Option<u64>,
    pub max_attempts: Option<u32>,
    /// Longest wait for a platform's reset before the account is deferred.
    pub max_wait_secs: Option<u64>,
    pub proxy: Option<String>,
    /// Host rewrites: `"api.x.com" = "http://127.0.0.1:8080/x"`, `"*.twimg.com" = …`, `"*" = …`.
    #[serde(default)]
    pub hosts: std::collections::BTreeMap<String, String>,
    /// Requests per minute per host; `default` for hosts not listed; 0 = unlimited.
    #[serde(default)]
    pub rate_limits: std::collections::BTreeMap<String, u32>,
    /// The `yt-dlp` executable `archive youtube` downloads the owner's videos with (default:
    /// `yt-dlp` found on the PATH; none: each video is a gap pointing to Takeout).
    pub yt_dlp: Option<PathBuf>,
}

/// Where tokens come from when not in the environment: a separate file (mode 0600), never
/// this config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// TOML file with `x_token = "…"`, `instagram_token = "…"`, ….
    pub file: Option<PathBuf>,
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
        let mut cfg = Self::parse(&text).with_context(|| format!("config {}", path.display()))?;
        cfg.file = Some(path);
        Ok(cfg)
    }

    /// The signing key file: `flag` (`--key`, or `TAWTHIQ_KEY` which clap folds into it), else
    /// `[signing] secret_key`, else the file `tawthiq keygen` writes by default
    /// ([`default_key_path`]) when it exists. None of them: an error naming every place looked
    /// at and how to make a key.
    pub fn signing_key_path(&self, flag: Option<&Path>) -> anyhow::Result<PathBuf> {
        if let Some(p) = flag {
            return Ok(p.to_path_buf());
        }
        if let Some(p) = &self.signing.secret_key {
            return Ok(p.clone());
        }
        let default = default_key_path();
        if let Some(p) = default.as_ref().filter(|p| p.exists()) {
            return Ok(p.clone());
        }
        let config = match &self.file {
            Some(f) => format!("[signing] secret_key in {} (not set)", f.display()),
            None => {
                "[signing] secret_key (no config file: --config, TAWTHIQ_CONFIG or ./tawthiq.toml)"
                    .into()
            }
        };
        let default = match default {
            Some(p) => format!("{} (no such file)", p.display()),
            None => {
                "the user configuration folder (unknown: neither XDG_CONFIG_HOME nor HOME is set)"
                    .into()
            }
        };
        anyhow::bail!(
            "no signing key: looked at --key, TAWTHIQ_KEY, {config}, and {default}; make one with `tawthiq keygen` (it writes it where this looks last), or pass --key FILE"
        )
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))
    }
}

impl Config {
    /// The fetcher's settings: defaults, then `[fetch]`, then `TAWTHIQ_HOSTS` / `TAWTHIQ_PROXY`.
    pub fn fetch_config(&self) -> anyhow::Result<fetcher::FetchConfig> {
        use std::time::Duration;
        let f = &self.fetch;
        let mut c = fetcher::FetchConfig::default();
        if let Some(ua) = &f.user_agent {
            c.user_agent.clone_from(ua);
        }
        let secs = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_secs);
        c.connect_timeout = secs(f.connect_timeout_secs, c.connect_timeout);
        c.request_timeout = secs(f.request_timeout_secs, c.request_timeout);
        c.read_timeout = secs(f.read_timeout_secs, c.read_timeout);
        c.retry.max_wait = secs(f.max_wait_secs, c.retry.max_wait);
        if let Some(n) = f.max_attempts {
            anyhow::ensure!(n >= 1, "[fetch] max_attempts must be at least 1");
            c.retry.max_attempts = n;
        }
        if let Some(m) = f.max_document_mib {
            c.max_document_bytes = m << 20;
        }
        if let Some(m) = f.max_media_mib {
            c.max_media_bytes = m << 20;
        }
        c.proxy = std::env::var("TAWTHIQ_PROXY")
            .ok()
            .or_else(|| f.proxy.clone());
        for (pattern, target) in &f.hosts {
            c.hosts.insert(pattern, target)?;
        }
        if let Ok(list) = std::env::var("TAWTHIQ_HOSTS") {
            c.hosts.merge(&fetcher::HostMap::parse_list(&list)?);
        }
        // Every transport of this process reports its waits to the one board the commands
        // show (archive/import under their spinner, run above its bars) and sum up at the end.
        c.waits = fetcher::WaitHook::new(crate::progress::waits().clone());
        for (host, per_minute) in &f.rate_limits {
            if host == "default" {
                c.limits.default_per_minute = *per_minute;
            } else {
                c.limits
                    .per_host
                    .insert(host.to_ascii_lowercase(), *per_minute);
            }
        }
        Ok(c)
    }

    /// A platform token: `TAWTHIQ_<PLATFORM>_TOKEN`, else `<platform>_token` in the secrets
    /// file. The file must not be readable by group or others.
    pub fn token(&self, platform: model::Platform) -> anyhow::Result<fetcher::Secret> {
        let key = format!("{}_token", platform.as_str());
        self.secret(&key)?.ok_or_else(|| {
            let var = format!("TAWTHIQ_{}", key.to_ascii_uppercase());
            match &self.secrets.file {
                None => anyhow::anyhow!(
                    "no {platform} token: set {var}, or name a secrets file holding {key} in [secrets] file"
                ),
                Some(path) => anyhow::anyhow!("no {key} in secrets file {}", path.display()),
            }
        })
    }

    /// The `yt-dlp` to use: `TAWTHIQ_YT_DLP`, else `[fetch] yt_dlp`, else one on the PATH.
    pub fn yt_dlp(&self) -> Option<PathBuf> {
        std::env::var_os("TAWTHIQ_YT_DLP")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.fetch.yt_dlp.clone())
            .or_else(fetcher::platforms::youtube::ytdlp::find_on_path)
    }

    /// The secret named `key` (`youtube_token`, `youtube_api_key`…): `TAWTHIQ_<KEY>` in the
    /// environment, else `key` in the secrets file; `None` when neither has it.
    pub fn secret(&self, key: &str) -> anyhow::Result<Option<fetcher::Secret>> {
        let var = format!("TAWTHIQ_{}", key.to_ascii_uppercase());
        if let Ok(t) = std::env::var(&var)
            && !t.trim().is_empty()
        {
            return Ok(Some(fetcher::Secret::new(t)));
        }
        let Some(path) = &self.secrets.file else {
            return Ok(None);
        };
        check_private(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading secrets file {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("secrets file {}: {}", path.display(), e.message()))?;
        Ok(match table.get(key) {
            Some(toml::Value::String(t)) if !t.trim().is_empty() => {
                Some(fetcher::Secret::new(t.clone()))
            }
            _ => None,
        })
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).with_context(|| format!("secrets file {}", path.display()))?;
    anyhow::ensure!(
        meta.permissions().mode() & 0o077 == 0,
        "secrets file {} is readable by others; chmod 600 it",
        path.display()
    );
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
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

    /// Tokens come from a private secrets file when not in the environment; a file others can
    /// read is refused. (Snapchat: no test environment sets `TAWTHIQ_SNAPCHAT_TOKEN`.)
    #[cfg(unix)]
    #[test]
    fn tokens_come_from_a_private_secrets_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        std::fs::write(&path, "snapchat_token = \"s3cr3t-value\"\n").unwrap();
        let cfg = Config::parse(&format!(
            "[secrets]\nfile = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = cfg
            .token(model::Platform::Snapchat)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod 600") && !e.contains("s3cr3t"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = cfg.token(model::Platform::Snapchat).unwrap();
        assert_eq!(t.expose(), "s3cr3t-value");
        let e = cfg.token(model::Platform::Youtube).unwrap_err().to_string();
        assert!(e.contains("youtube_token"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::parse("[signing]\nsecret = 'x'\n").is_err());
    }
}
