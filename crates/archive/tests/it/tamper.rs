//! The tamper matrix: one defect at a time, in every region of a bundle, in both containers.
//! Each case asserts the bundle is invalid and the finding code that names the defect.
//!
//! Plain `.tar` reaches the bag-level checks directly. In `.tar.zst` a flipped byte first
//! breaks its frame's checksum (TQ-E013); raw-block frames still pass their content on, so the
//! bag-level finding follows. Bag-level defects inside compressed frames are tested through a
//! raw-block re-wrap of the edited tar ([`to_zst`]).

use archive::Container;
use archive::layout;
use archive::tar::BLOCK;
use archive::verify::Code;

use crate::craft::*;
use crate::support::*;

fn json(fx: &Fixture) -> Entry {
    tar_map(&fx.tar).first("data/original/api/").clone()
}

/// The first JPEG: stored as raw blocks in `.tar.zst`.
fn image(fx: &Fixture) -> Entry {
    tar_map(&fx.tar).first("data/original/media/").clone()
}

/// The video: over one frame, so its header was reserved in a raw frame of its own.
fn video(fx: &Fixture) -> Entry {
    tar_map(&fx.tar)
        .entries
        .into_iter()
        .find(|e| e.size > 2 << 20)
        .unwrap()
}

fn tag(fx: &Fixture, rel: &str) -> Entry {
    tar_map(&fx.tar).get(rel).clone()
}

/// Flips `mask` at `tar_pos`: in the plain tar (exactly `expected`), and in a raw-block
/// re-wrap of it (the frame checksum first, then the same findings).
#[track_caller]
fn flip_in_both(fx: &Fixture, tar_pos: usize, mask: u8, expected: &[Code]) {
    let t = flipped(&fx.tar, tar_pos, mask);
    assert_only(&fx.verify(&t), expected);
    let clean = to_zst(&fx.tar, true);
    let at = zst_map(&clean).raw_pos(&clean, tar_pos).unwrap();
    let z = flipped(&clean, at, mask);
    let mut with_checksum = expected.to_vec();
    with_checksum.push(Code::ZstdChecksum);
    assert_only(&fx.verify(&z), &with_checksum);
}

/// The first byte at or after `from` for which `ok` holds.
fn first_where(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    from + b[from..].iter().position(|&c| ok(c)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The helpers themselves

#[test]
fn crafting_helpers_reproduce_the_bundle_byte_exact() {
    let fx = sample();
    assert!(
        fx.verify(&fx.tar).valid,
        "{:#?}",
        fx.verify(&fx.tar).findings
    );
    assert!(fx.verify(&fx.zst).valid);
    assert_eq!(rebuild(&fx.tar, |_| {}), fx.tar, "re-packing is canonical");
    let resealed = rebuild(&fx.tar, |ms| {
        fix_manifest(ms);
        reseal(ms, &fx.keys);
    });
    assert_eq!(
        resealed, fx.tar,
        "re-sealing an unchanged bag changes nothing"
    );
    assert_eq!(zstd::stream::decode_all(&fx.zst[..]).unwrap(), fx.tar);
    for raw in [true, false] {
        let z = to_zst(&fx.tar, raw);
        assert!(fx.verify(&z).valid, "{:#?}", fx.verify(&z).findings);
    }
    let map = zst_map(&fx.zst);
    assert!(is_raw_frame(
        &fx.zst,
        map.frame_at(image(fx).data_offset).offset
    ));
    assert!(!is_raw_frame(
        &fx.zst,
        map.frame_at(json(fx).data_offset).offset
    ));
}

// ---------------------------------------------------------------------------------------------
// A flipped bit in each region

#[test]
fn flipped_payload_bit_is_a_digest_mismatch() {
    let fx = sample();
    flip_in_both(fx, json(fx).data_offset + 20, 0x01, &[Code::PayloadDigest]);
    // A content-addressed image no longer matches its name either.
    flip_in_both(
        fx,
        image(fx).data_offset + 1000,
        0x80,
        &[Code::PayloadDigest, Code::MediaName],
    );
}

#[test]
fn flipped_payload_bit_in_a_raw_frame_fails_its_checksum_then_its_digest() {
    let fx = sample();
    let at = zst_map(&fx.zst)
        .raw_pos(&fx.zst, image(fx).data_offset + 1000)
        .unwrap();
    let r = fx.verify(&flipped(&fx.zst, at, 0x04));
    assert_only(
        &r,
        &[Code::ZstdChecksum, Code::PayloadDigest, Code::MediaName],
    );
}

#[test]
fn flipped_payload_bit_in_a_compressed_frame_fails_that_frame() {
    let fx = sample();
    let f = *zst_map(&fx.zst).frame_at(json(fx).data_offset);
    assert!(!is_raw_frame(&fx.zst, f.offset));
    for at in [f.offset + f.len() / 2, f.offset + f.len() - 8] {
        let r = fx.verify(&flipped(&fx.zst, at, 0x10));
        assert!(!r.valid);
        assert!(
            r.has(Code::ZstdChecksum) || r.has(Code::ZstdCorrupt),
            "{:?}",
            codes(&r)
        );
    }
}

#[test]
fn flipped_tar_header_bit_fails_the_header_checksum() {
    let fx = sample();
    flip_in_both(
        fx,
        image(fx).header_offset + 60,
        0x02,
        &[Code::TarHeaderChecksum],
    );
    flip_in_both(
        fx,
        tag(fx, layout::BAG_INFO).header_offset + 125,
        0x01,
        &[Code::TarHeaderChecksum],
    );
}

#[test]
fn flipped_bit_in_the_video_header_frame_fails_its_checksum_then_the_header() {
    let fx = sample();
    let v = video(fx);
    let map = zst_map(&fx.zst);
    let f = map.frame_at(v.header_offset);
    assert_eq!(f.entry.decompressed as usize, BLOCK, "a frame of its own");
    let at = map.raw_pos(&fx.zst, v.header_offset + 30).unwrap();
    let r = fx.verify(&flipped(&fx.zst, at, 0x01));
    assert_only(&r, &[Code::ZstdChecksum, Code::TarHeaderChecksum]);
}

#[test]
fn edited_tar_header_with_a_fixed_checksum_is_not_canonical() {
    let fx = sample();
    let h = image(fx).header_offset;
    let mut t = fx.tar.clone();
    t[h + 265..h + 269].copy_from_slice(b"root"); // uname
    let block: &mut [u8; BLOCK] = (&mut t[h..h + BLOCK]).try_into().unwrap();
    let sum = archive::tar::checksum(block);
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    assert_only(&fx.verify(&t), &[Code::TarNonCanonical]);
}

#[test]
fn flipped_manifest_bit_fails_the_tag_digest_and_a_payload_digest() {
    let fx = sample();
    let m = tag(fx, layout::MANIFEST_SHA256);
    let at = first_where(&fx.tar, m.data_offset, |c| c.is_ascii_digit());
    flip_in_both(fx, at, 0x01, &[Code::TagDigest, Code::PayloadDigest]);
}

#[test]
fn flipped_tag_manifest_bit_fails_tag_digest_and_signature() {
    let fx = sample();
    let m = tag(fx, layout::TAGMANIFEST_SHA256);
    let at = first_where(&fx.tar, m.data_offset, |c| c.is_ascii_digit());
    flip_in_both(
        fx,
        at,
        0x01,
        &[
            Code::TagDigest,
            Code::SignatureInvalid,
            Code::TrustedComment,
        ],
    );
}

#[test]
fn flipped_bag_info_bit_fails_the_tag_digest() {
    let fx = sample();
    let info = tag(fx, layout::BAG_INFO);
    // In a key: bag-info.txt no longer parses.
    flip_in_both(
        fx,
        info.data_offset,
        0x20,
        &[Code::TagDigest, Code::BagInfoInvalid],
    );
    // In a free-text value: only the digest tells.
    let text = &fx.tar[info.data_offset..info.data_offset + info.size];
    let group = find(text, 0, b"Bag-Group-Identifier: ") + 22;
    flip_in_both(fx, info.data_offset + group, 0x20, &[Code::TagDigest]);
}

#[test]
fn flipped_signature_bits() {
    let fx = sample();
    let sig = tag(fx, layout::SIGNATURE);
    let text = &fx.tar[sig.data_offset..sig.data_offset + sig.size];
    let line2 = find(text, 0, b"\n") + 1;
    let line3 = find(text, line2, b"\n") + 1;
    // Another base64 digit (keys are random: XOR with whatever turns it into 'A' or 'B').
    let other = |at: usize| text[at] ^ if text[at] == b'A' { b'B' } else { b'A' };
    // In the signature proper: blob bytes 10..74 are base64 digits 14..98.
    let at = line2 + 40;
    flip_in_both(
        fx,
        sig.data_offset + at,
        other(at),
        &[Code::SignatureInvalid],
    );
    // In the key id: blob bytes 3..9 are base64 digits 4..12.
    let at = line2 + 6;
    flip_in_both(
        fx,
        sig.data_offset + at,
        other(at),
        &[Code::SignatureKeyMismatch],
    );
    // The trusted comment.
    let comment = find(text, line3, b"bundle=");
    flip_in_both(fx, sig.data_offset + comment, 0x20, &[Code::TrustedComment]);
    // Not base64 any more.
    flip_in_both(
        fx,
        sig.data_offset + line2 + 6,
        0x80,
        &[Code::SignatureMalformed],
    );
}

#[test]
fn flipped_seek_table_bits() {
    let fx = sample();
    let z = &fx.zst;
    let st = zst_map(z).seek_table;
    let end = z.len();
    // An entry: the table disagrees with the frames.
    let r = fx.verify(&flipped(z, st + 8, 0x01));
    assert_only(&r, &[Code::SeekTableMismatch]);
    let r = fx.verify(&flipped(z, st + 8 + 12 + 8, 0x40));
    assert_only(&r, &[Code::SeekTableMismatch]);
    // Its frame size: refused before it is read.
    let r = fx.verify(&flipped(z, st + 4, 0x01));
    assert_only(&r, &[Code::SeekTableMismatch]);
    // The footer: frame count, descriptor, magic.
    for at in [end - 9, end - 5, end - 1] {
        let r = fx.verify(&flipped(z, at, 0x01));
        assert_only(&r, &[Code::SeekTableInvalid]);
    }
    // Its magic: now an unknown skippable frame, and no seek table.
    let r = fx.verify(&flipped(z, st, 0x01));
    assert_only(&r, &[Code::UnexpectedSkippable, Code::SeekTableMissing]);
}

#[test]
fn flipped_index_bits() {
    let fx = sample();
    let z = &fx.zst;
    let ix = zst_map(z).index;
    // A digit of an offset, and the version line.
    let first_line = find(z, ix.offset + 8, b"\n") + 1;
    for at in [first_line, ix.offset + 8 + 3] {
        let r = fx.verify(&flipped(z, at, 0x01));
        assert_only(&r, &[Code::IndexMismatch]);
    }
    // A path.
    let path = find(z, first_line, bundle_id().to_string().as_bytes());
    let r = fx.verify(&flipped(z, path + 2, 0x20));
    assert_only(&r, &[Code::IndexMismatch]);
    // Its magic: an unknown skippable frame, and no index.
    let r = fx.verify(&flipped(z, ix.offset, 0x01));
    assert_only(&r, &[Code::UnexpectedSkippable, Code::IndexMissing]);
}

#[test]
fn flipped_zstd_frame_header_bits() {
    let fx = sample();
    let z = &fx.zst;
    let map = zst_map(z);
    for f in [map.first_raw(z), map.first_compressed(z)] {
        // Reserved bit, dictionary id flag, unused bit (which a decoder ignores, so flipping it
        // would change the file without changing its content: refused too).
        for mask in [0x08, 0x01, 0x10] {
            let r = fx.verify(&flipped(z, f.offset + 4, mask));
            assert_codes(&r, &[Code::ZstdFrameHeader]);
        }
    }
    // The magic of a frame other than the first.
    let second = map.data[1];
    let r = fx.verify(&flipped(z, second.offset + 1, 0x01));
    assert_codes(&r, &[Code::ZstdFrameHeader]);
    // The magic of the first frame: no longer a zstd file at all.
    let r = fx.verify(&flipped(z, 0, 0x01));
    assert_only(&r, &[Code::NotABundle]);
    // The content size of a raw frame.
    let raw = map.first_raw(z);
    let r = fx.verify(&flipped(z, raw.offset + 5, 0x01));
    assert_codes(&r, &[Code::ZstdFrameHeader]);
}

#[test]
fn flipped_zstd_block_header_bits() {
    let fx = sample();
    let z = &fx.zst;
    let raw = zst_map(z).first_raw(z);
    let block = raw.offset + archive::frames::RAW_HEADER_LEN;
    // Block type 3 is reserved.
    let r = fx.verify(&flipped(z, block, 0b110));
    assert_codes(&r, &[Code::ZstdBlock]);
    // A size beyond the block maximum.
    let r = fx.verify(&flipped(z, block + 2, 0x80));
    assert_codes(&r, &[Code::ZstdBlock]);
    // Type raw -> RLE: the frame no longer adds up.
    let r = fx.verify(&flipped(z, block, 0b010));
    assert!(!r.valid, "{:?}", codes(&r));
}

#[test]
fn flipped_zstd_checksum_bits() {
    let fx = sample();
    let z = &fx.zst;
    let map = zst_map(z);
    // A raw frame: only its checksum is wrong, the content is intact.
    let raw = map.first_raw(z);
    let r = fx.verify(&flipped(z, raw.end() - 1, 0x01));
    // The seek table keeps the frame's checksum, which the frame no longer carries.
    assert_only(&r, &[Code::ZstdChecksum, Code::SeekTableMismatch]);
    // A compressed frame: libzstd refuses it.
    let c = map.first_compressed(z);
    let r = fx.verify(&flipped(z, c.end() - 2, 0x01));
    assert_codes(&r, &[Code::ZstdChecksum]);
}

// ---------------------------------------------------------------------------------------------
// Truncation at each boundary

fn cut(b: &[u8], len: usize) -> &[u8] {
    &b[..len]
}

#[test]
fn truncated_plain_tar() {
    let fx = sample();
    let t = &fx.tar;
    let map = tar_map(t);
    let img = image(fx);
    let cases = [
        ("inside a header", img.header_offset + 100),
        ("at the end of a header", img.data_offset),
        ("mid-content", img.data_offset + img.size / 2),
        ("at the end of the last member", map.end),
        ("inside the first end block", map.end + 100),
        ("between the end blocks", map.end + BLOCK),
        ("inside the second end block", map.end + BLOCK + 256),
    ];
    for (what, len) in cases {
        let r = fx.verify(cut(t, len));
        assert!(!r.valid, "{what}");
        assert_only(&r, &[Code::TarTruncated]);
    }
    // After both end blocks but before the record boundary: the end is not canonical.
    if t.len() - map.end > 2 * BLOCK {
        let r = fx.verify(cut(t, map.end + 2 * BLOCK));
        assert_only(&r, &[Code::TarEnd]);
    }
}

#[test]
fn truncated_tar_zst() {
    let fx = sample();
    let z = &fx.zst;
    let map = zst_map(z);
    let raw = map.first_raw(z);
    let comp = *map
        .data
        .iter()
        .find(|f| f.offset > 0 && !is_raw_frame(z, f.offset))
        .unwrap();
    for (what, len) in [
        ("inside a raw frame", raw.offset + raw.len() / 2),
        ("inside a raw frame's checksum", raw.end() - 2),
        ("inside a compressed frame", comp.offset + comp.len() / 2),
        ("inside a frame header", comp.offset + 5),
        ("inside a frame magic", comp.offset + 2),
    ] {
        let r = fx.verify(cut(z, len));
        assert!(!r.valid, "{what}");
        assert_codes(&r, &[Code::ZstdTruncated]);
    }
    // Between data frames: the tar stream ends early and nothing follows.
    let r = fx.verify(cut(z, map.data[2].offset));
    assert_only(
        &r,
        &[
            Code::TarTruncated,
            Code::SeekTableMissing,
            Code::IndexMissing,
        ],
    );
    // Before the index: the tar is whole, the index and seek table are not there.
    let r = fx.verify(cut(z, map.index.offset));
    assert_only(&r, &[Code::SeekTableMissing, Code::IndexMissing]);
    // Inside the index frame (its header, its body).
    for len in [map.index.offset + 6, map.index.offset + 8 + 40] {
        let r = fx.verify(cut(z, len));
        assert_only(&r, &[Code::ZstdTruncated]);
    }
    // Before the seek table.
    let r = fx.verify(cut(z, map.seek_table));
    assert_only(&r, &[Code::SeekTableMissing]);
    // Inside the seek table (its header, an entry, the footer).
    for len in [map.seek_table + 5, map.seek_table + 8 + 13, z.len() - 1] {
        let r = fx.verify(cut(z, len));
        assert_only(&r, &[Code::ZstdTruncated]);
    }
}

#[test]
fn truncation_at_fifty_lengths_is_never_valid() {
    let fx = sample();
    for (c, b) in [
        (Container::TarZst, fx.bytes(Container::TarZst)),
        (Container::Tar, fx.bytes(Container::Tar)),
    ] {
        for i in 0..50 {
            let len = b.len() * i / 50;
            let r = fx.verify(&b[..len]);
            assert!(!r.valid, "{c:?} cut at {len}");
            assert!(r.errors().next().is_some(), "{c:?} cut at {len}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Missing, extra, renamed, duplicated files

fn image_rel(fx: &Fixture) -> String {
    image(fx).rel
}

/// Verifies a rebuilt tar in both containers (the `.tar.zst` as libzstd would compress it).
#[track_caller]
fn check_rebuilt(fx: &Fixture, t: &[u8], expected: &[Code]) {
    assert_only(&fx.verify(t), expected);
    assert_only(&fx.verify(&to_zst(t, false)), expected);
}

#[test]
fn missing_payload_file() {
    let fx = sample();
    let rel = image_rel(fx);
    let t = rebuild(&fx.tar, |ms| ms.retain(|m| m.rel != rel));
    check_rebuilt(fx, &t, &[Code::PayloadMissing, Code::PayloadOxum]);
    // Even in an otherwise consistent, freshly signed bag.
    let t = rebuild(&fx.tar, |ms| {
        ms.retain(|m| m.rel != rel);
        reseal(ms, &fx.keys);
    });
    check_rebuilt(fx, &t, &[Code::PayloadMissing]);
}

#[test]
fn extra_payload_file() {
    let fx = sample();
    let extra = Member {
        rel: "data/original/api/000099-extra.json".into(),
        data: b"{\"planted\":true}".to_vec(),
    };
    let t = rebuild(&fx.tar, |ms| {
        let at = position(ms, layout::REQUESTS);
        ms.insert(at, extra.clone());
    });
    check_rebuilt(fx, &t, &[Code::PayloadNotInManifest, Code::PayloadOxum]);
    let t = rebuild(&fx.tar, |ms| {
        let at = position(ms, layout::REQUESTS);
        ms.insert(at, extra.clone());
        reseal(ms, &fx.keys);
    });
    check_rebuilt(fx, &t, &[Code::PayloadNotInManifest]);
}

#[test]
fn renamed_payload_file() {
    let fx = sample();
    let rel = image_rel(fx);
    let t = rebuild(&fx.tar, |ms| {
        member(ms, &rel).rel = rel.replace(".jpg", ".png");
        reseal(ms, &fx.keys);
    });
    check_rebuilt(fx, &t, &[Code::PayloadNotInManifest, Code::PayloadMissing]);
}

#[test]
fn duplicated_payload_file() {
    let fx = sample();
    let rel = image_rel(fx);
    let t = rebuild(&fx.tar, |ms| {
        let at = position(ms, &rel);
        let copy = ms[at].clone();
        ms.insert(at + 1, copy);
        reseal(ms, &fx.keys);
    });
    check_rebuilt(fx, &t, &[Code::PathDuplicate]);
}

#[test]
fn missing_tag_files() {
    let fx = sample();
    for rel in [layout::BAGIT, layout::MANIFEST_SHA256] {
        let t = rebuild(&fx.tar, |ms| {
            ms.retain(|m| m.rel != rel);
            fix_tagmanifest(ms);
            resign(ms, &fx.keys);
        });
        check_rebuilt(fx, &t, &[Code::TagFileMissing]);
    }
    // Without bag-info.txt there is no Payload-Oxum to check either.
    let t = rebuild(&fx.tar, |ms| {
        ms.retain(|m| m.rel != layout::BAG_INFO);
        fix_tagmanifest(ms);
        resign(ms, &fx.keys);
    });
    check_rebuilt(fx, &t, &[Code::TagFileMissing]);
    // Without the tag manifest nothing can be signed.
    let t = rebuild(&fx.tar, |ms| {
        ms.retain(|m| m.rel != layout::TAGMANIFEST_SHA256);
    });
    check_rebuilt(fx, &t, &[Code::TagFileMissing]);
    // The capture log and completeness statement are required payload.
    for rel in [layout::REQUESTS, layout::COMPLETENESS] {
        let t = rebuild(&fx.tar, |ms| {
            ms.retain(|m| m.rel != rel);
            fix_manifest(ms);
            reseal(ms, &fx.keys);
        });
        check_rebuilt(fx, &t, &[Code::TagFileMissing]);
    }
}

#[test]
fn extra_tag_files() {
    let fx = sample();
    for (rel, before) in [
        ("notes.txt", layout::SIGNATURE),
        ("signatures/second.minisig", layout::SIGNATURE),
        ("data/extra/x.json", layout::BAGIT),
    ] {
        let t = rebuild(&fx.tar, |ms| {
            let at = position(ms, before);
            ms.insert(
                at,
                Member {
                    rel: rel.into(),
                    data: b"hello\n".to_vec(),
                },
            );
            if layout::is_payload(rel) {
                fix_manifest(ms);
                reseal(ms, &fx.keys);
            }
        });
        check_rebuilt(fx, &t, &[Code::UnknownMember]);
    }
}

#[test]
fn members_out_of_canonical_order() {
    let fx = sample();
    let t = rebuild(&fx.tar, |ms| {
        let a = position(ms, layout::BAGIT);
        let b = position(ms, layout::BAG_INFO);
        ms.swap(a, b);
    });
    check_rebuilt(fx, &t, &[Code::MemberOrder]);
    // An original after the capture log.
    let rel = image_rel(fx);
    let t = rebuild(&fx.tar, |ms| {
        let m = ms.remove(position(ms, &rel));
        let at = position(ms, layout::REQUESTS) + 1;
        ms.insert(at, m);
    });
    check_rebuilt(fx, &t, &[Code::MemberOrder]);
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[test]
fn consistent_rewrite_without_a_new_signature() {
    let fx = sample();
    let rel = json(fx).rel;
    let t = rebuild(&fx.tar, |ms| {
        let m = member(ms, &rel);
        let at = find(&m.data, 0, b"1790000000000000001") + 18;
        m.data[at] = b'2'; // same length: Payload-Oxum still holds
        fix_manifest(ms);
        fix_tagmanifest(ms);
    });
    check_rebuilt(fx, &t, &[Code::SignatureInvalid, Code::TrustedComment]);
}

#[test]
fn signature_removed() {
    let fx = sample();
    let t = rebuild(&fx.tar, |ms| ms.retain(|m| m.rel != layout::SIGNATURE));
    check_rebuilt(fx, &t, &[Code::SignatureMissing]);
}

#[test]
fn wrong_public_key() {
    let fx = sample();
    let other = keys();
    for c in [Container::Tar, Container::TarZst] {
        let r = verify_bytes(fx.bytes(c), &other);
        assert_only(&r, &[Code::SignatureKeyMismatch]);
    }
}

#[test]
fn signed_by_another_key() {
    let fx = sample();
    let other = keys();
    let t = rebuild(&fx.tar, |ms| resign(ms, &other));
    check_rebuilt(fx, &t, &[Code::SignatureKeyMismatch]);
    assert!(verify_bytes(&t, &other).valid, "the other key accepts it");
}

#[test]
fn trusted_comment_naming_another_bundle() {
    let fx = sample();
    let t = rebuild(&fx.tar, |ms| {
        let tm = member(ms, layout::TAGMANIFEST_SHA256).data.clone();
        let other: model::BundleId = "x-42-20250504T063000Z".parse().unwrap();
        let digest = model::ContentId(
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&tm)).into(),
        );
        let comment = archive::trusted_comment(&other, &digest);
        member(ms, layout::SIGNATURE).data = fx.keys.secret.sign(&tm, &comment);
    });
    check_rebuilt(fx, &t, &[Code::TrustedComment]);
}

// ---------------------------------------------------------------------------------------------
// Trailing data

#[test]
fn trailing_garbage_after_the_seek_table() {
    let fx = sample();
    for tail in [&b"x"[..], b"\0\0\0\0\0\0\0\0", &noise(5, 3000)] {
        let mut z = fx.zst.clone();
        z.extend_from_slice(tail);
        assert_only(&fx.verify(&z), &[Code::TrailingData]);
    }
}

#[test]
fn trailing_garbage_after_the_tar_end() {
    let fx = sample();
    for tail in [&b"x"[..], &[0u8; 10_240][..], &noise(5, 3000)] {
        let mut t = fx.tar.clone();
        t.extend_from_slice(tail);
        assert_only(&fx.verify(&t), &[Code::TarEnd]);
        assert_only(&fx.verify(&to_zst(&t, false)), &[Code::TarEnd]);
    }
}
