//! `tawthiq keygen`: a signing key pair, by default in the user's configuration folder
//! (`$XDG_CONFIG_HOME/tawthiq/`, else `~/.config/tawthiq/`), where every command that signs
//! looks for it when no `--key`, `TAWTHIQ_KEY` or `[signing] secret_key` names one. The secret
//! key file is created with mode 0600; the public key is in minisign format, for auditors.
//! Existing key files are never replaced without `--force`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use archive::signing;

use crate::Outcome;
use crate::config::{self, Config, KEY_FILE, PUBLIC_KEY_FILE};

#[derive(clap::Args)]
pub struct Args {
    /// Secret key file to create (default: tawthiq.key in your configuration folder,
    /// `$XDG_CONFIG_HOME/tawthiq/` or `~/.config/tawthiq/`, where signing commands find it).
    #[arg(long)]
    secret: Option<PathBuf>,
    /// Public key file to create (default: beside the secret key, ending in `.pub`).
    #[arg(long)]
    public: Option<PathBuf>,
    /// Write tawthiq.key and tawthiq.pub in the current folder instead (sign with them through
    /// `--key`, `TAWTHIQ_KEY` or `[signing] secret_key`).
    #[arg(long, conflicts_with = "secret")]
    here: bool,
    /// Replace existing key files. The old secret key is lost; bundles it signed still verify
    /// with its public key, so keep that one.
    #[arg(long)]
    force: bool,
}

pub fn run(a: &Args, _cfg: &Config) -> anyhow::Result<Outcome> {
    let in_user_dir = a.secret.is_none() && !a.here;
    let secret_path = match (&a.secret, a.here) {
        (Some(p), _) => p.clone(),
        (None, true) => PathBuf::from(KEY_FILE),
        (None, false) => {
            let dir = config::user_dir().context(
                "cannot tell where your configuration folder is (neither XDG_CONFIG_HOME nor HOME is set): pass --here or --secret FILE",
            )?;
            create_private_dir(&dir)?;
            dir.join(KEY_FILE)
        }
    };
    let public_path = match &a.public {
        Some(p) => p.clone(),
        None if a.secret.is_none() => secret_path.with_file_name(PUBLIC_KEY_FILE),
        None => secret_path.with_extension("pub"),
    };
    anyhow::ensure!(
        public_path != secret_path,
        "the public key would overwrite the secret key {}: pass --public FILE",
        secret_path.display()
    );
    if !a.force {
        for p in [&secret_path, &public_path] {
            anyhow::ensure!(
                !p.exists(),
                "{} already exists: refusing to replace a key (pass --force to replace it; bundles signed with the old key still verify with the old public key)",
                p.display()
            );
        }
    }
    let secret = signing::generate();
    let public = secret.public_key();
    // Written beside their final names, then renamed: a failure leaves the old keys (if any)
    // as they were, and --force never leaves a half-written pair.
    let (secret_tmp, public_tmp) = (temporary(&secret_path), temporary(&public_path));
    let written = secret
        .write_new(&secret_tmp)
        .with_context(|| format!("writing the secret key {}", secret_path.display()))
        .and_then(|()| {
            public
                .write_new(&public_tmp)
                .with_context(|| format!("writing the public key {}", public_path.display()))
        })
        .and_then(|()| {
            std::fs::rename(&secret_tmp, &secret_path)
                .with_context(|| format!("writing the secret key {}", secret_path.display()))?;
            std::fs::rename(&public_tmp, &public_path)
                .with_context(|| format!("writing the public key {}", public_path.display()))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&secret_tmp);
        let _ = std::fs::remove_file(&public_tmp);
        return Err(e);
    }
    #[allow(clippy::print_stdout)]
    {
        println!("key id      {}", public.key_id_hex());
        println!(
            "secret key  {} (mode 0600: keep it private, back it up)",
            secret_path.display()
        );
        println!(
            "public key  {} (give it to auditors)",
            public_path.display()
        );
        println!("minisign -P {}", public.to_base64());
        if in_user_dir {
            println!(
                "signing     archive, import, bundle and run use this key when no other is named"
            );
        } else {
            println!(
                "signing     pass --key {0} or set TAWTHIQ_KEY={0} to sign with it",
                secret_path.display()
            );
        }
    }
    Ok(Outcome::Ok)
}

/// `dir/.NAME.new-PID`: a temporary name in the same folder (so the rename is atomic).
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "key".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.new-{}", std::process::id()))
}

/// Creates the configuration folder, private to the user (0700) when it is new.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the configuration folder {}", dir.display()))
}
