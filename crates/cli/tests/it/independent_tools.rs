//! Tools we did not write accept our bundles: zstd, tar, bagit.py, sha256sum, minisign, openssl.

use crate::support::*;

#[test]
fn independent_tools_accept_a_timestamped_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let tsa = testkit::LocalTsa::start(&dir.path().join("tsa"));
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 24 << 20);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let b = bundle(
        &folder,
        &keys,
        &out,
        &["--tsa-url", &tsa.url, "--require-timestamp"],
    );
    let id = b
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.zst")
        .to_owned();

    ok(tool("zstd").arg("-tq").arg(&b));
    let x = dir.path().join("x");
    std::fs::create_dir(&x).unwrap();
    ok(tool("sh").arg("-c").arg(format!(
        "zstd -dc '{}' | tar -x --no-same-owner -C '{}'",
        b.display(),
        x.display()
    )));
    let bag = x.join(&id);
    ok(tool("bagit.py").arg("--validate").arg(&bag));
    ok(tool("sha256sum")
        .arg("--quiet")
        .arg("-c")
        .arg("manifest-sha256.txt")
        .current_dir(&bag));
    let pubkey = std::fs::read_to_string(&keys.public).unwrap();
    let base64 = pubkey.lines().nth(1).unwrap();
    let out = ok(tool("minisign")
        .arg("-Vm")
        .arg(bag.join("tagmanifest-sha256.txt"))
        .arg("-x")
        .arg(bag.join("signatures/tagmanifest-sha256.txt.minisig"))
        .arg("-P")
        .arg(base64));
    assert!(
        out.contains(&format!("bundle={id} account=instagram:school_123")),
        "{out}"
    );
    let out = ok(tool("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(bag.join("tagmanifest-sha256.txt"))
        .arg("-in")
        .arg(bag.join("signatures/tagmanifest-sha256.txt.tsr"))
        .arg("-CAfile")
        .arg(&tsa.root_pem)
        .arg("-untrusted")
        .arg(bag.join("signatures/tsa-chain.pem")));
    assert!(out.contains("Verification: OK"), "{out}");
    // Arabic survives byte-exact, and names are recorded in the capture log.
    let posts = std::fs::read_dir(bag.join("data/original/export/posts"))
        .unwrap()
        .count();
    assert_eq!(posts, 2);
    let log = std::fs::read_to_string(bag.join("data/capture/requests.jsonl")).unwrap();
    assert!(log.contains("صور/صورة-0.jpg"), "{log}");

    // Our verifier: valid with the chain checked, and timestamped.
    let report = ok(tawthiq()
        .arg("verify")
        .arg(&b)
        .arg("--pubkey")
        .arg(&keys.public)
        .arg("--require-timestamp")
        .arg("--tsa-root")
        .arg(&tsa.root_pem)
        .arg("--json"));
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(json[0]["valid"], true, "{report}");
    assert!(json[0]["timestamp"].is_string(), "{report}");
    assert_eq!(json[0]["findings"].as_array().unwrap().len(), 0, "{report}");
}
