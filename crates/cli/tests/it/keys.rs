//! Where signing keys live: `tawthiq keygen` writes to the user's configuration folder by
//! default, and every command that signs finds the key there without flags.

use std::path::Path;
use std::process::Command;

use crate::support::{self, tawthiq};

/// `tawthiq` run in `cwd` with a home of its own (`HOME` and `XDG_CONFIG_HOME` under `home`).
fn at_home(cwd: &Path, home: &Path) -> Command {
    let mut c = tawthiq();
    c.current_dir(cwd)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    c
}

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/registry/exports")
        .join(name)
}

/// Issue 13: keygen wrote ./tawthiq.key and the next command in the same folder said "no
/// signing key": a coordinator following the messages went round in circles. Now the key goes
/// to the configuration folder, where `import` finds it with no flag at all.
#[test]
fn keygen_then_import_in_a_fresh_folder_needs_no_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, work) = (tmp.path().join("home"), tmp.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();

    let said = support::ok(at_home(&work, &home).arg("keygen"));
    let key = home.join(".config/tawthiq/tawthiq.key");
    assert!(key.is_file() && home.join(".config/tawthiq/tawthiq.pub").is_file());
    assert!(said.contains(&key.display().to_string()), "{said}");
    assert!(!work.join("tawthiq.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&home.join(".config/tawthiq")), 0o700);
    }

    // The sample archive's images are smaller than the originals (a gap): exit 3, partial.
    let o = support::run(
        at_home(&work, &home)
            .args(["import", "x"])
            .arg(sample("alnoor-x-archive.zip")),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    let bundle = support::only_file(&work);
    // Signed with that key: it verifies with the public key keygen wrote beside it.
    support::ok(
        tawthiq()
            .arg("verify")
            .arg(&bundle)
            .arg("--pubkey")
            .arg(home.join(".config/tawthiq/tawthiq.pub")),
    );

    // Without XDG_CONFIG_HOME the folder is ~/.config/tawthiq: the same key.
    let again = tmp.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    let mut c = tawthiq();
    c.current_dir(&again)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .args(["import", "x"])
        .arg(sample("alnoor-x-archive.zip"));
    assert_eq!(support::run(&mut c).status.code(), Some(3));
}

/// No key anywhere: the error names every place looked at, and the way out.
#[test]
fn no_key_anywhere_names_every_place_looked_at() {
    let tmp = tempfile::tempdir().unwrap();
    let o = support::run(
        at_home(tmp.path(), tmp.path())
            .args(["import", "x"])
            .arg(sample("alnoor-x-archive.zip")),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let default = tmp.path().join(".config/tawthiq/tawthiq.key");
    for place in [
        "--key",
        "TAWTHIQ_KEY",
        "[signing] secret_key",
        &default.display().to_string(),
        "tawthiq keygen",
    ] {
        assert!(stderr.contains(place), "{place:?} not in {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        support::only_file_or_none(tmp.path()).is_none(),
        "nothing written"
    );
}

/// Keys are never replaced by accident; `--force` replaces them; `--here` writes in the
/// current folder.
#[test]
fn keygen_refuses_to_overwrite_without_force_and_writes_here_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    support::ok(at_home(home, home).arg("keygen"));
    let key = home.join(".config/tawthiq/tawthiq.key");
    let before = std::fs::read(&key).unwrap();

    let o = support::run(at_home(home, home).arg("keygen"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&key).unwrap(), before, "the key is untouched");

    support::ok(at_home(home, home).args(["keygen", "--force"]));
    assert_ne!(std::fs::read(&key).unwrap(), before, "replaced");
    let leftovers: Vec<_> = std::fs::read_dir(home.join(".config/tawthiq"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary left: {leftovers:?}");

    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let said = support::ok(at_home(&work, home).args(["keygen", "--here"]));
    assert!(work.join("tawthiq.key").is_file() && work.join("tawthiq.pub").is_file());
    assert!(said.contains("--key tawthiq.key"), "{said}");
}
