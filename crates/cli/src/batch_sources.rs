//! The credentials of a batch: every name the registry uses, looked up in the environment or
//! the secrets file before anything starts. The sources themselves are the runner's
//! ([`runner::registry::RegistrySources`], over the fetcher's one registry of sources).

use std::collections::{BTreeSet, HashMap};

use fetcher::Secret;
use runner::registry::{credential_env_var, credential_secrets_key};

use crate::config::Config;

/// Resolves every credential the registry names, up front: the missing ones are reported
/// (all of them, by name and where to put each) before anything is opened or started.
pub fn resolve_credentials(
    names: &BTreeSet<String>,
    cfg: &Config,
) -> anyhow::Result<HashMap<String, Secret>> {
    let mut credentials = HashMap::new();
    let mut missing: Vec<&str> = Vec::new();
    for name in names {
        // `secret(key)` reads TAWTHIQ_<KEY> = TAWTHIQ_CRED_<NAME>, else `key` in the file.
        match cfg.secret(&credential_secrets_key(name))? {
            Some(secret) => {
                credentials.insert(name.clone(), secret);
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing
            .iter()
            .take(10)
            .map(|name| {
                format!(
                    "{name} (set {}, or {} in the secrets file)",
                    credential_env_var(name),
                    credential_secrets_key(name)
                )
            })
            .collect();
        let more = missing.len().saturating_sub(10);
        anyhow::bail!(
            "{} credential(s) named in the registry are not set: {}{}",
            missing.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(credentials)
}
