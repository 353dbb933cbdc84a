//! `tawthiq keygen`: a signing key pair. The secret key file is created with mode 0600 and
//! never overwritten; the public key is in minisign format, for auditors.

use std::path::PathBuf;

use anyhow::Context;
use archive::signing;

use crate::Outcome;
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Secret key file to create.
    #[arg(long, default_value = "tawthiq.key")]
    secret: PathBuf,
    /// Public key file to create.
    #[arg(long, default_value = "tawthiq.pub")]
    public: PathBuf,
}

pub fn run(a: &Args, _cfg: &Config) -> anyhow::Result<Outcome> {
    if a.public.exists() {
        anyhow::bail!(
            "{} already exists; refusing to overwrite a public key",
            a.public.display()
        );
    }
    let secret = signing::generate();
    secret
        .write_new(&a.secret)
        .context("writing the secret key")?;
    let public = secret.public_key();
    if let Err(e) = public.write_new(&a.public) {
        let _ = std::fs::remove_file(&a.secret);
        return Err(e).context("writing the public key");
    }
    #[allow(clippy::print_stdout)]
    {
        println!("key id      {}", public.key_id_hex());
        println!(
            "secret key  {} (mode 0600: keep it private, back it up)",
            a.secret.display()
        );
        println!("public key  {} (give it to auditors)", a.public.display());
        println!("minisign -P {}", public.to_base64());
    }
    Ok(Outcome::Ok)
}
