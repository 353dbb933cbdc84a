use archive::{BundleReader, Container};

use crate::support::*;

#[test]
fn a_fresh_bundle_verifies_in_both_containers() {
    let keys = keys();
    for container in [Container::TarZst, Container::Tar] {
        let dir = tmp();
        let p = write_sample(dir.path(), &keys, container);
        assert_eq!(
            only_file(dir.path()),
            p.path,
            "no temporary file left behind"
        );
        let r = archive::verify::verify_path(&p.path, &verify_opts(&keys)).unwrap();
        assert!(r.valid, "{container:?}: {:#?}", r.findings);
        assert_eq!(r.payload_files, p.payload_files);
        assert_eq!(
            r.signed_by.as_deref(),
            Some(keys.public.key_id_hex().as_str())
        );
    }
}

#[test]
fn members_read_back_byte_exact_by_path_and_by_sha256() {
    let keys = keys();
    let dir = tmp();
    let p = write_sample(dir.path(), &keys, Container::TarZst);
    let mut r = BundleReader::open_file(&p.path).unwrap();
    let listed = r.list();
    let api = listed
        .iter()
        .find(|m| m.path.starts_with("data/original/api/"))
        .unwrap()
        .path
        .clone();
    let mut out = Vec::new();
    let (_, id) = r.read_verified(&api, Some(&keys.public), &mut out).unwrap();
    assert_eq!(out, ARABIC_POST.as_bytes());
    let video = mp4(3, (2 << 20) + 12345);
    let mut out = Vec::new();
    let vid = model::ContentId(
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&video)).into(),
    );
    r.read_verified(&vid.to_hex(), Some(&keys.public), &mut out)
        .unwrap();
    assert!(out == video);
    assert_ne!(id, vid);
}
