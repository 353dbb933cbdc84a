//! One module per command.

pub mod archive;
pub mod bundle;
pub mod capture;
pub mod cat;
pub mod import;
pub mod keygen;
pub mod ls;
pub mod report;
pub mod run;
pub mod status;
pub mod verify;

use std::path::PathBuf;

use ::archive::signing::{PublicKey, SecretKey};
use ::archive::{Container, TimestampOptions, WriterOptions};
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

/// The signing key from `--key` / `TAWTHIQ_KEY`, else the config, else `tawthiq keygen`'s
/// default place (see `Config::signing_key_path`).
fn signing_key(flag: Option<&PathBuf>, cfg: &Config) -> anyhow::Result<SecretKey> {
    let path = cfg.signing_key_path(flag.map(PathBuf::as_path))?;
    SecretKey::load(&path).context("loading the signing key")
}

/// Timestamp settings from `--tsa-url` / `TAWTHIQ_TSA_URL`, else the config; refuses a
/// required timestamp without a TSA.
fn timestamp_options(
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

/// How a bundle is signed, timestamped and packed: shared by `bundle`, `archive` and `import`.
#[derive(clap::Args)]
pub struct WriterFlags {
    /// Secret key file.
    #[arg(long, env = "TAWTHIQ_KEY")]
    pub key: Option<PathBuf>,
    /// `Source-Organization` for bag-info.txt (e.g. the school's name).
    #[arg(long)]
    pub organization: Option<String>,
    /// Write a plain `.tar` instead of seekable `.tar.zst`.
    #[arg(long)]
    pub tar: bool,
    /// Also write SHA-512 manifests.
    #[arg(long)]
    pub sha512: bool,
    /// RFC 3161 timestamp authority URL.
    #[arg(long, env = "TAWTHIQ_TSA_URL")]
    pub tsa_url: Option<String>,
    /// Fail (publish nothing) when no timestamp can be obtained.
    #[arg(long)]
    pub require_timestamp: bool,
}

impl WriterFlags {
    pub fn signing_key(&self, cfg: &Config) -> anyhow::Result<SecretKey> {
        signing_key(self.key.as_ref(), cfg)
    }

    pub fn timestamp(&self, cfg: &Config) -> anyhow::Result<Option<TimestampOptions>> {
        timestamp_options(self.tsa_url.as_ref(), self.require_timestamp, cfg)
    }

    /// Organization, manifests and container from the flags, else the config; `plain` forces
    /// a `.tar` (e.g. an output file named `*.tar`).
    pub fn apply(&self, opts: &mut WriterOptions, cfg: &Config, plain: bool) {
        opts.source_organization = self
            .organization
            .clone()
            .or_else(|| cfg.bundle.source_organization.clone())
            .unwrap_or_else(|| "unspecified".into());
        opts.sha512 = self.sha512 || cfg.bundle.sha512;
        opts.container = if plain || self.tar || cfg.bundle.container.as_deref() == Some("tar") {
            Container::Tar
        } else {
            Container::TarZst
        };
    }
}
