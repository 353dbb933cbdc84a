//! `tawthiq cat <bundle> <path|sha256>`: one file, by random access, written only after its
//! digest matched the manifest chain (and, given a key, the signature).

use std::path::PathBuf;

use anyhow::Context;
use archive::BundleReader;

use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    bundle: PathBuf,
    /// Path inside the bag (e.g. `data/derived/posts.jsonl`) or a payload file's SHA-256.
    member: String,
    /// Check against this public key's signature (default: $`TAWTHIQ_PUBKEY`, config).
    #[arg(long)]
    pubkey: Vec<PathBuf>,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let keys = super::public_keys(&a.pubkey, cfg)?;
    if keys.is_empty() {
        tracing::warn!(
            "no public key given: the file is checked against the manifests but the signature is not"
        );
    }
    let mut r =
        BundleReader::open_file(&a.bundle).with_context(|| format!("{}", a.bundle.display()))?;
    let mut out = std::io::stdout().lock();
    r.read_verified(&a.member, keys.first(), &mut out)?;
    Ok(Outcome::Ok)
}
