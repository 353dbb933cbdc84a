//! `tawthiq run`: a registry drained into a bundle store, resumable, with bad input refused
//! before anything starts.

use std::path::{Path, PathBuf};

use crate::support::{keygen, ok, run, tawthiq};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry")
}

fn bundles_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().ends_with(".tar.zst"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The README's offline sample: five exports of one school, archived, verified, and a second
/// run finds nothing left to do (and archives nothing twice).
#[test]
fn offline_registry_runs_verifies_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = dir.path().join("bundles");
    let go = || {
        let mut c = tawthiq();
        c.current_dir(dir.path())
            .arg("run")
            .arg(examples().join("offline.csv"))
            .args(["--state", &state, "--store"])
            .arg(&store)
            .arg("--key")
            .arg(&keys.secret)
            .args(["--no-fetch", "--workers", "3", "--json"]);
        c
    };
    let first: serde_json::Value = serde_json::from_str(&ok(&mut go())).unwrap();
    assert_eq!(first["this_run"]["done"], 5, "{first}");
    assert_eq!(first["state"]["done"], 5, "{first}");
    assert_eq!(first["state"]["failed"], 0, "{first}");
    let bundles = bundles_in(&store);
    assert_eq!(bundles.len(), 5, "{bundles:?}");
    for platform in ["x-", "instagram-", "facebook-", "youtube-", "snapchat-"] {
        assert!(
            bundles.iter().any(|b| b
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(platform)),
            "no {platform} bundle in {bundles:?}"
        );
    }
    let mut verify = tawthiq();
    verify.arg("verify").arg("--pubkey").arg(&keys.public);
    for b in &bundles {
        verify.arg(b);
    }
    ok(&mut verify);
    // The scratch folder keeps nothing once bundles are stored.
    let scratch = dir.path().join("tawthiq-run/scratch");
    let leftovers: Vec<_> = walk(&scratch);
    assert!(leftovers.is_empty(), "scratch not cleaned: {leftovers:?}");

    let second: serde_json::Value = serde_json::from_str(&ok(&mut go())).unwrap();
    assert_eq!(second["this_run"]["claimed"], 0, "{second}");
    assert_eq!(second["state"]["done"], 5, "{second}");
    assert_eq!(bundles_in(&store), bundles, "a second run archived again");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A credential named in the registry but set nowhere: one line naming it and where to put
/// it; no state, no bundle.
#[test]
fn unknown_credential_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = dir.path().join("reg.csv");
    std::fs::write(
        &registry,
        "entity_id,entity_name,entity_type,platform,account,route,credential\n\
         1,مدرسة,school,x,@school_one,api,SCHOOL_ONE_X\n\
         2,مدرسة,school,x,@school_two,api,SCHOOL_TWO_X\n",
    )
    .unwrap();
    let o = run(tawthiq()
        .current_dir(dir.path())
        .env_remove("TAWTHIQ_CRED_SCHOOL_ONE_X")
        .env("TAWTHIQ_CRED_SCHOOL_TWO_X", "tok-two")
        .arg("run")
        .arg(&registry)
        .arg("--key")
        .arg(&keys.secret));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SCHOOL_ONE_X"), "{err}");
    assert!(err.contains("TAWTHIQ_CRED_SCHOOL_ONE_X"), "{err}");
    assert!(
        !err.contains("SCHOOL_TWO_X"),
        "a set credential reported: {err}"
    );
    assert!(
        !dir.path().join("tawthiq-run").exists(),
        "state was created"
    );
}

/// A malformed registry line: its line number and the problem, and nothing created.
#[test]
fn malformed_registry_is_refused_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = dir.path().join("reg.csv");
    std::fs::write(
        &registry,
        "entity_id,entity_name,entity_type,platform,account\n\
         1,مدرسة,school,x,@ok_school\n\
         2,مدرسة,school,myspace,@nope\n",
    )
    .unwrap();
    let o = run(tawthiq()
        .current_dir(dir.path())
        .arg("run")
        .arg(&registry)
        .arg("--key")
        .arg(&keys.secret));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("myspace"), "{err}");
    assert!(
        !dir.path().join("tawthiq-run").exists(),
        "state was created"
    );
}
