//! One module per command.

pub mod archive;
pub mod bundle;
pub mod capture;
pub mod cat;
pub mod import;
pub mod keygen;
pub mod ls;
pub mod verify;

use std::path::PathBuf;

use ::archive::TimestampOptions;
use ::archive::signing::{PublicKey, SecretKey};
use anyhow::{Context, bail};

use crate::config::Config;

/// Public keys from flags, else `TAWTHIQ_PUBKEY`, else the config.
pub fn public_keys(flags: &[PathBuf], cfg: &Config) -> anyhow::Result<Vec<PublicKey>> {
    let paths: Vec<PathBuf> = if !flags.is_empty() {
        flags.to_vec()
    } else if let Some(p) = std::env::var_os("TAWTHIQ_PUBKEY") {
        vec![PathBuf::from(p)]
    } else {
        cfg.signing.public_keys.clone()
    };
    paths
        .iter()
        .map(|p| PublicKey::load(p).with_context(|| format!("public key {}", p.display())))
        .collect()
}

/// The signing key from `--key` / `TAWTHIQ_KEY`, else the config.
pub fn signing_key(flag: Option<&PathBuf>, cfg: &Config) -> anyhow::Result<SecretKey> {
    let path = flag
        .cloned()
        .or_else(|| cfg.signing.secret_key.clone())
        .context("no signing key: pass --key (make one with `tawthiq keygen`)")?;
    SecretKey::load(&path).context("loading the signing key")
}

/// Timestamp settings from `--tsa-url` / `TAWTHIQ_TSA_URL`, else the config; refuses a
/// required timestamp without a TSA.
pub fn timestamp_options(
    url_flag: Option<&String>,
    require_flag: bool,
    cfg: &Config,
) -> anyhow::Result<Option<TimestampOptions>> {
    let required = require_flag || cfg.timestamp.required;
    let ts = url_flag
        .cloned()
        .or_else(|| cfg.timestamp.url.clone())
        .map(|url| TimestampOptions {
            url,
            required,
            timeout: std::time::Duration::from_secs(cfg.timestamp.timeout_secs.unwrap_or(30)),
        });
    if ts.is_none() && required {
        bail!("a timestamp is required but no TSA is configured: pass --tsa-url");
    }
    Ok(ts)
}

/// The async runtime for capture commands: two workers are plenty (the bundle writer has its
/// own threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
