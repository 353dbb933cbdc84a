//! One module per command.

pub mod bundle;
pub mod cat;
pub mod keygen;
pub mod ls;
pub mod verify;

use std::path::PathBuf;

use anyhow::Context;
use archive::signing::PublicKey;

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
