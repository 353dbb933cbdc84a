//! Same inputs in the same order and the same bagging date: byte-identical bundles.

use archive::Container;

use crate::support::*;

#[test]
fn same_inputs_give_byte_identical_bundles() {
    let keys = keys();
    for container in [Container::Tar, Container::TarZst] {
        let (a, b) = (tmp(), tmp());
        let pa = write_sample(a.path(), &keys, container);
        let pb = write_sample(b.path(), &keys, container);
        let (ba, bb) = (
            std::fs::read(&pa.path).unwrap(),
            std::fs::read(&pb.path).unwrap(),
        );
        assert_eq!(ba.len(), bb.len(), "{container:?}");
        assert!(ba == bb, "{container:?} bundles differ");
        assert_eq!(pa.tagmanifest_sha256, pb.tagmanifest_sha256);
    }
}

#[test]
fn the_zst_bundle_decompresses_to_the_plain_tar() {
    let keys = keys();
    let (a, b) = (tmp(), tmp());
    let zst = std::fs::read(write_sample(a.path(), &keys, Container::TarZst).path).unwrap();
    let tar = std::fs::read(write_sample(b.path(), &keys, Container::Tar).path).unwrap();
    // Stock zstd decoding skips the index and seek-table frames.
    let decoded = zstd::stream::decode_all(&zst[..]).unwrap();
    assert!(decoded == tar);
}
