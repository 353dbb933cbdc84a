//! `tawthiq ls <bundle>`: every file with its size and SHA-256 (from the manifests, which are
//! checked against the tag manifest and, given a key, the signature).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use archive::BundleReader;

use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    bundle: PathBuf,
    /// Check the manifests against this public key's signature (default: $`TAWTHIQ_PUBKEY`, config).
    #[arg(long)]
    pubkey: Vec<PathBuf>,
    /// One JSON object per file.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &Args, cfg: &Config) -> anyhow::Result<Outcome> {
    let keys = super::public_keys(&a.pubkey, cfg)?;
    let mut r =
        BundleReader::open_file(&a.bundle).with_context(|| format!("{}", a.bundle.display()))?;
    // Payload digests from the manifest, tag files' from the tag manifest; signature files
    // are covered by nothing (they are the cover), shown as "-".
    let mut digests: std::collections::HashMap<String, String> =
        r.manifest(keys.first())?.into_iter().collect();
    digests.extend(r.tag_manifest(keys.first())?);
    let mut out = std::io::stdout().lock();
    for m in r.list() {
        let sha = digests.get(&m.path).map_or("-", String::as_str);
        if a.json {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"path": m.path, "size": m.size, "sha256": sha}),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "{:>12}  {sha:64}  {}", m.size, m.path)?;
        }
    }
    Ok(Outcome::Ok)
}
