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

/// A batch set up in a temporary folder: its key, SQLite state and bundle folder.
struct Batch {
    dir: tempfile::TempDir,
    keys: crate::support::Keys,
    state: String,
    store: PathBuf,
}

impl Batch {
    fn new() -> Batch {
        let dir = tempfile::tempdir().unwrap();
        let keys = keygen(dir.path());
        let state = format!("sqlite://{}", dir.path().join("state.db").display());
        let store = dir.path().join("bundles");
        Batch {
            dir,
            keys,
            state,
            store,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `tawthiq run REGISTRY` on this batch, offline (`--no-fetch`), with a JSON summary.
    fn run(&self, registry: &Path, extra: &[&str]) -> std::process::Command {
        let mut c = tawthiq();
        c.current_dir(self.path())
            .arg("run")
            .arg(registry)
            .args(["--state", &self.state, "--store"])
            .arg(&self.store)
            .arg("--key")
            .arg(&self.keys.secret)
            .args(["--no-fetch", "--json"])
            .args(extra);
        c
    }
}

/// The README's offline sample: five exports of one school, archived, verified, and a second
/// run finds nothing left to do (and archives nothing twice).
#[test]
fn offline_registry_runs_verifies_and_resumes() {
    let batch = Batch::new();
    let (keys, store) = (&batch.keys, &batch.store);
    let go = || batch.run(&examples().join("offline.csv"), &["--workers", "3"]);
    let first = recorded_run(&mut go());
    assert_eq!(recorded(&first["this_run"]), 5, "{first}");
    assert_eq!(recorded(&first["state"]), 5, "{first}");
    assert_eq!(first["state"]["failed"], 0, "{first}");
    let bundles = bundles_in(store);
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
    let scratch = batch.path().join("tawthiq-run/scratch");
    let leftovers: Vec<_> = walk(&scratch);
    assert!(leftovers.is_empty(), "scratch not cleaned: {leftovers:?}");

    let second = recorded_run(&mut go());
    assert_eq!(second["this_run"]["claimed"], 0, "{second}");
    assert_eq!(recorded(&second["state"]), 5, "{second}");
    assert_eq!(bundles_in(store), bundles, "a second run archived again");
}

/// Runs a batch that must record every account (complete or partial: the offline sample's
/// Snapchat memories are listed with download links that `--no-fetch` leaves as gaps), and
/// returns its `--json` summary, whose exit code must be the process's.
fn recorded_run(c: &mut std::process::Command) -> serde_json::Value {
    let o = run(c);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let code = o.status.code().unwrap();
    assert!(matches!(code, 0 | 3), "exit {code}: {v}");
    assert_eq!(v["exit_code"], code, "{v}");
    v
}

/// Accounts recorded with a bundle (complete, partial or unavailable) in a summary section.
fn recorded(v: &serde_json::Value) -> u64 {
    ["complete", "partial", "unavailable"]
        .iter()
        .map(|k| v[k].as_u64().unwrap())
        .sum()
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

/// `--again`: a second pass archives every account once more, and each new bundle names the
/// account's previous one, so the chain verifies.
#[test]
fn a_second_pass_names_each_previous_bundle() {
    let batch = Batch::new();
    let (keys, store) = (&batch.keys, &batch.store);
    let go = |again: bool| {
        batch.run(
            &examples().join("offline.csv"),
            if again { &["--again"] } else { &[] },
        )
    };
    recorded_run(&mut go(false));
    let first = bundles_in(store);
    assert_eq!(first.len(), 5);
    // Bundle ids carry the capture second: make sure the second pass gets new ones.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = recorded_run(&mut go(true));
    assert_eq!(recorded(&second["this_run"]), 5, "{second}");
    let all = bundles_in(store);
    assert_eq!(all.len(), 10, "{all:?}");

    let x: Vec<&PathBuf> = all
        .iter()
        .filter(|b| b.file_name().unwrap().to_string_lossy().starts_with("x-"))
        .collect();
    assert_eq!(x.len(), 2);
    let bag_info = |b: &Path| {
        ok(tawthiq()
            .arg("cat")
            .arg(b)
            .arg("bag-info.txt")
            .arg("--pubkey")
            .arg(&keys.public))
    };
    let tag_sha = |b: &Path| {
        ok(tawthiq()
            .arg("cat")
            .arg(b)
            .arg("tagmanifest-sha256.txt")
            .arg("--pubkey")
            .arg(&keys.public))
    };
    let (older, newer) = (x[0], x[1]);
    assert!(
        bag_info(older).contains("Previous-Bundle-Tagmanifest-SHA256: none"),
        "the first bundle names no previous one"
    );
    let named = bag_info(newer)
        .lines()
        .find_map(|l| l.strip_prefix("Previous-Bundle-Tagmanifest-SHA256: "))
        .map(str::to_owned)
        .expect("the second bundle names the first");
    let digest = sha256_hex(tag_sha(older).as_bytes());
    assert_eq!(named.trim(), digest);

    let mut verify = tawthiq();
    verify
        .arg("verify")
        .arg("--chain")
        .arg("--pubkey")
        .arg(&keys.public);
    for b in &all {
        verify.arg(b);
    }
    ok(&mut verify);
}

/// The SHA-256 of `bytes` in hex, as `sha256sum` computes it.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// An unreachable PostgreSQL or S3 endpoint: one line naming it (never the password or the
/// secret key), exit 1, nothing archived.
#[test]
fn unreachable_state_or_store_is_named_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let registry = examples().join("offline.csv");
    let o = run(tawthiq()
        .current_dir(dir.path())
        .arg("run")
        .arg(&registry)
        .args([
            "--state",
            "postgres://tawthiq:pg-secret-pw@127.0.0.1:1/runs",
        ])
        .arg("--key")
        .arg(&keys.secret));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("pg-secret-pw"), "{err}");

    let state = format!("sqlite://{}", dir.path().join("state.db").display());
    let o = run(tawthiq()
        .current_dir(dir.path())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "s3-secret-key")
        .env("AWS_REGION", "us-east-1")
        .arg("run")
        .arg(&registry)
        .args(["--state", &state, "--store", "s3://school-bundles/run1"])
        .arg("--key")
        .arg(&keys.secret));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("http://127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3-secret-key"), "{err}");
    assert!(!dir.path().join("tawthiq-run").exists());
}

/// An operator fixes a registry line and runs again: the run state takes the new line (here
/// the export's path), and the account that failed with the old one is archived.
#[test]
fn a_fixed_registry_line_is_taken_and_the_failed_account_retried() {
    let batch = Batch::new();
    let (state, store) = (&batch.state, &batch.store);
    let registry = batch.path().join("school.csv");
    let exports = examples().join("exports");
    let write = |x_export: &Path| {
        std::fs::write(
            &registry,
            format!(
                "entity_id,entity_name,entity_type,platform,account,route,exports\n\
                 1001,مدرسة النور,school,x,@alnoor_school,export,{}\n\
                 1001,مدرسة النور,school,youtube,UCa1B2c3D4e5F6g7H8i9J0kL,export,{}\n",
                x_export.display(),
                exports.join("alnoor-takeout.zip").display()
            ),
        )
        .unwrap();
    };
    let go = |again: &[&str]| run(batch.run(&registry, &["--linger-secs", "0"]).args(again));
    let missing = batch.path().join("no-such-archive.zip");
    write(&missing);
    let first = go(&[]);
    assert_eq!(first.status.code(), Some(5), "a failed account: {first:?}");
    let summary: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(recorded(&summary["state"]), 1, "{summary}");
    assert_eq!(summary["state"]["failed"], 1, "{summary}");
    assert_eq!(bundles_in(store).len(), 1);
    // The same registry again: the failed account stays failed; `--retry-failed` tries it
    // (and fails it again: the file is still missing).
    let unchanged: serde_json::Value = serde_json::from_slice(&go(&[]).stdout).unwrap();
    assert_eq!(unchanged["this_run"]["claimed"], 0, "{unchanged}");
    let retried: serde_json::Value =
        serde_json::from_slice(&go(&["--retry-failed"]).stdout).unwrap();
    assert_eq!(retried["this_run"]["claimed"], 1, "{retried}");
    assert_eq!(retried["state"]["failed"], 1, "{retried}");

    write(&exports.join("alnoor-x-archive.zip"));
    let second = go(&[]);
    let summary: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    // The Takeout sample lists a gap, so the run's worst outcome is partial.
    assert_eq!(second.status.code(), Some(3), "{second:?}");
    assert_eq!(summary["exit_code"], 3, "{summary}");
    assert_eq!(recorded(&summary["this_run"]), 1, "{summary}");
    assert_eq!(recorded(&summary["state"]), 2, "{summary}");
    assert_eq!(
        bundles_in(store).len(),
        2,
        "the YouTube account was not archived again"
    );
    let report = ok(tawthiq().args(["report", "--state", state, "--format", "json"]));
    assert!(!report.contains("no-such-archive"), "{report}");

    // The YouTube line removed, a new pass: the account the registry no longer lists is
    // refused, not archived. (Bundle names carry the capture's second: wait for the next.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(
        &registry,
        format!(
            "entity_id,entity_name,entity_type,platform,account,route,exports\n\
             1001,مدرسة النور,school,x,@alnoor_school,export,{}\n",
            exports.join("alnoor-x-archive.zip").display()
        ),
    )
    .unwrap();
    let third = go(&["--again"]);
    assert_eq!(third.status.code(), Some(5), "{third:?}");
    assert_eq!(
        bundles_in(store).len(),
        3,
        "one new X bundle, no YouTube one: {}",
        String::from_utf8_lossy(&third.stdout)
    );
    let report: serde_json::Value = serde_json::from_str(&ok(
        tawthiq().args(["report", "--state", state, "--format", "json"])
    ))
    .unwrap();
    let youtube = report
        .as_array()
        .or_else(|| report["accounts"].as_array())
        .unwrap()
        .iter()
        .find(|r| r["platform"] == "youtube")
        .unwrap()
        .clone();
    assert_eq!(youtube["state"], "failed", "{youtube}");
    assert!(
        youtube["last_error"]
            .as_str()
            .unwrap()
            .contains("not in this run's registry"),
        "{youtube}"
    );
}
