//! The coordinator's and the auditor's everyday commands.

use crate::support::*;

#[test]
fn bundle_verify_ls_cat_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 3 << 20);
    let b = bundle(&folder, &keys, dir.path(), &[]);
    let human = ok(tawthiq()
        .arg("verify")
        .arg(&b)
        .arg("--pubkey")
        .arg(&keys.public));
    assert!(human.starts_with("VALID"), "{human}");
    let listing = ok(tawthiq()
        .arg("ls")
        .arg(&b)
        .arg("--pubkey")
        .arg(&keys.public));
    assert!(
        listing.contains("data/original/export/videos/clip.mp4"),
        "{listing}"
    );
    // Tag files show the digests the signed tag manifest gives them.
    let bag_info = listing
        .lines()
        .find(|l| l.ends_with(" bag-info.txt"))
        .unwrap();
    assert_eq!(
        bag_info.split_whitespace().nth(1).unwrap().len(),
        64,
        "{listing}"
    );
    let sha = listing
        .lines()
        .find(|l| l.ends_with("posts/page-1.json"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let by_path = ok(tawthiq()
        .arg("cat")
        .arg(&b)
        .arg("data/original/export/posts/page-1.json")
        .arg("--pubkey")
        .arg(&keys.public));
    assert!(by_path.contains("نرحب بطلابنا"), "{by_path}");
    let by_hash = ok(tawthiq()
        .arg("cat")
        .arg(&b)
        .arg(&sha)
        .arg("--pubkey")
        .arg(&keys.public));
    assert_eq!(by_path, by_hash);
    // stdin, one streaming pass
    let o = run(tawthiq()
        .arg("verify")
        .arg("-")
        .arg("--pubkey")
        .arg(&keys.public)
        .stdin(std::fs::File::open(&b).unwrap()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn bundles_of_the_same_folder_and_time_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 1 << 20);
    let mut files = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        std::fs::create_dir(&out).unwrap();
        files.push(bundle(
            &folder,
            &keys,
            &out,
            &["--captured-at", "2025-05-04T06:30:00Z"],
        ));
    }
    assert!(std::fs::read(&files[0]).unwrap() == std::fs::read(&files[1]).unwrap());
    assert!(files[0].ends_with("instagram-school_123-20250504T063000Z.tar.zst"));
}

#[test]
fn many_bundles_are_verified_together_with_their_chain() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let folder = sample_folder(dir.path(), 1 << 20);
    let a = bundle(
        &folder,
        &keys,
        dir.path(),
        &["--captured-at", "2025-05-04T06:30:00Z"],
    );
    let b = bundle(
        &folder,
        &keys,
        dir.path(),
        &["--captured-at", "2025-05-05T06:30:00Z", "--tar"],
    );
    let o = run(tawthiq()
        .arg("verify")
        .arg(&a)
        .arg(&b)
        .arg("--pubkey")
        .arg(&keys.public)
        .arg("--chain"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.matches("VALID").count(), 2, "{text}");
}
