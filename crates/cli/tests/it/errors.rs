//! Bad input: one line on stderr, the documented exit code, no partial output, no panic.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;

/// `tawthiq bundle <folder> --platform x --account <account> --key <key>`.
fn bundle_cmd(
    folder: &std::path::Path,
    account: &str,
    key: &std::path::Path,
) -> std::process::Command {
    let mut c = tawthiq();
    c.arg("bundle")
        .arg(folder)
        .args(["--platform", "x", "--account", account])
        .arg("--key")
        .arg(key);
    c
}

fn one_line_error(o: &std::process::Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("tawthiq: error: "), "{err}");
    assert!(lines[0].contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let o = run(&mut bundle_cmd(&dir.path().join("nope"), "a", &keys.secret));
    one_line_error(&o, 1, "nope");
    let o = run(tawthiq()
        .arg("verify")
        .arg(dir.path().join("missing.tar.zst"))
        .arg("--pubkey")
        .arg(&keys.public));
    one_line_error(&o, 1, "missing.tar.zst");
    let o = run(tawthiq().arg("verify").arg(dir.path().join("x.tar.zst")));
    one_line_error(&o, 1, "--pubkey");
    let folder = sample_folder(dir.path(), 1000);
    let o = run(&mut bundle_cmd(&folder, "a", &dir.path().join("no.key")));
    one_line_error(&o, 1, "no.key");
    let o = run(&mut bundle_cmd(&folder, "مدرسة", &keys.secret));
    one_line_error(&o, 1, "invalid account id");
}

#[test]
fn loose_or_corrupt_keys_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 1000);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&keys.secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(bundle_cmd(&folder, "a", &keys.secret).arg("-o").arg(&out));
    one_line_error(&o, 1, "chmod 600");
    std::fs::set_permissions(&keys.secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut bytes = std::fs::read(&keys.secret).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x04;
    std::fs::write(&keys.secret, &bytes).unwrap();
    let o = run(bundle_cmd(&folder, "a", &keys.secret).arg("-o").arg(&out));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read_dir(&out).unwrap().next().is_none(),
        "no partial output"
    );
    let o = run(tawthiq()
        .arg("verify")
        .arg("x")
        .arg("--pubkey")
        .arg(&keys.secret));
    one_line_error(&o, 1, "public key");
}

#[test]
fn wrong_keys_and_non_bundles_are_invalid_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other_keys = keygen(other.path());
    let folder = sample_folder(dir.path(), 1000);
    let b = bundle(&folder, &keys, dir.path(), &[]);
    let o = run(tawthiq()
        .arg("verify")
        .arg(&b)
        .arg("--pubkey")
        .arg(&other_keys.public));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).contains("TQ-E072"));
    let junk = dir.path().join("photo.jpg");
    std::fs::write(&junk, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).unwrap();
    let o = run(tawthiq()
        .arg("verify")
        .arg(&junk)
        .arg("--pubkey")
        .arg(&keys.public)
        .arg("--json"));
    assert_eq!(o.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["findings"][0]["code"], "TQ-E001");
    let o = run(tawthiq()
        .arg("cat")
        .arg(&junk)
        .arg("data/x")
        .arg("--pubkey")
        .arg(&keys.public));
    one_line_error(&o, 1, "not a bundle");
}

#[test]
fn an_unreachable_tsa_with_a_required_timestamp_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 1000);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = run(bundle_cmd(&folder, "a", &keys.secret)
        .args([
            "--tsa-url",
            &testkit::LocalTsa::unreachable_url(),
            "--require-timestamp",
        ])
        .arg("-o")
        .arg(&out));
    one_line_error(&o, 1, "timestamp required");
    assert!(
        std::fs::read_dir(&out).unwrap().next().is_none(),
        "nothing published"
    );
}
