//! Hostile members and containers: what an attacker's archiver could put in a bundle. Each is
//! refused with its own finding, quickly, without allocating what the input claims.

use std::time::Duration;

use archive::frames::{self, FRAME_LIMIT};
use archive::layout;
use archive::tar::BLOCK;
use archive::verify::{self, Code};

use crate::craft::*;
use crate::support::*;

/// Verification of these inputs reads a few megabytes at most.
const QUICK: Duration = Duration::from_secs(10);

/// Plants `raw` (headers and content) after the originals, then verifies the tar and its
/// `.tar.zst` re-wrap: both must carry `expected`.
#[track_caller]
fn planted(raw: &[u8], expected: &[Code]) {
    let fx = sample();
    let t = insert_raw(&fx.tar, layout::REQUESTS, raw);
    let r = verify_quickly(fx, &t, QUICK);
    assert_codes(&r, expected);
    let r = verify_quickly(fx, &to_zst(&t, false), QUICK);
    assert_codes(&r, expected);
}

fn api(name: &str) -> Vec<u8> {
    full(&format!("data/original/api/{name}"))
}

#[test]
fn symbolic_link() {
    planted(
        &hostile_member(&api("link.json"), b'2', b"/etc/passwd", b""),
        &[Code::MemberLink],
    );
}

#[test]
fn hard_link() {
    let target = full(&tar_map(&sample().tar).first("data/original/api/").rel);
    planted(
        &hostile_member(&api("hard.json"), b'1', &target, b""),
        &[Code::MemberLink],
    );
}

#[test]
fn devices_and_fifo() {
    for t in [b'3', b'4', b'6'] {
        planted(
            &hostile_member(&api("dev"), t, b"", b""),
            &[Code::MemberDevice],
        );
    }
}

#[test]
fn directory() {
    planted(
        &hostile_member(&full("data/original/dir/"), b'5', b"", b""),
        &[Code::MemberType],
    );
}

#[test]
fn unknown_member_type() {
    planted(
        &hostile_member(&api("odd.json"), b'Z', b"", b"{}"),
        &[Code::MemberType],
    );
}

#[test]
fn absolute_path() {
    let mut name = b"/".to_vec();
    name.extend_from_slice(&api("abs.json"));
    planted(
        &hostile_member(&name, b'0', b"", b"{}"),
        &[Code::PathAbsolute],
    );
}

#[test]
fn dot_dot_path() {
    planted(
        &hostile_member(
            &full("data/original/../../../../etc/cron.d/x"),
            b'0',
            b"",
            b"* * * * * root sh\n",
        ),
        &[Code::PathDotDot],
    );
}

#[test]
fn non_ascii_and_control_paths() {
    for name in [
        api("صورة.json"),
        api("a\u{1}b.json"),
        api("a\\b.json"),
        full("data/original//x.json"),
        full("data/original/./x.json"),
    ] {
        planted(
            &hostile_member(&name, b'0', b"", b"{}"),
            &[Code::PathUnsafe],
        );
    }
}

#[test]
fn duplicate_path() {
    let fx = sample();
    let m = tar_map(&fx.tar);
    let e = m.first("data/original/api/");
    let content = &fx.tar[e.data_offset..e.data_offset + e.size];
    planted(
        &hostile_member(&full(&e.rel), b'0', b"", content),
        &[Code::PathDuplicate],
    );
}

#[test]
fn case_folded_duplicate_path() {
    let fx = sample();
    let m = tar_map(&fx.tar);
    let e = m.first("data/original/media/");
    let content = &fx.tar[e.data_offset..e.data_offset + e.size];
    let upper = e.rel.replace(".jpg", ".JPG");
    planted(
        &hostile_member(&full(&upper), b'0', b"", content),
        &[Code::PathDuplicate],
    );
}

#[test]
fn pax_global_header() {
    planted(
        &hostile_member(
            b"pax_global_header",
            b'g',
            b"",
            b"24 path=/etc/shadow.json\n",
        ),
        &[Code::PaxGlobal],
    );
}

#[test]
fn gnu_long_name() {
    let long = format!(
        "{}/data/original/api/{}.json\0",
        bundle_id(),
        "l".repeat(150)
    );
    let mut raw = hostile_member(b"././@LongLink", b'L', b"", long.as_bytes());
    raw.extend_from_slice(&hostile_member(&api("short.json"), b'0', b"", b"{}"));
    planted(&raw, &[Code::MemberType]);
}

#[test]
fn pax_header_with_other_keys() {
    let records = b"30 mtime=1700000000.123456789\n";
    let mut raw = hostile_member(b"././@PaxHeader", b'x', b"", records);
    raw.extend_from_slice(&hostile_member(&api("pax.json"), b'0', b"", b"{}"));
    planted(&raw, &[Code::PaxInvalid]);
    // The member is named by its own header, not by the pax header's placeholder name.
    let fx = sample();
    let r = fx.verify(&insert_raw(&fx.tar, layout::REQUESTS, &raw));
    assert_only(
        &r,
        &[
            Code::PaxInvalid,
            Code::TarNonCanonical,
            Code::PayloadNotInManifest,
            Code::PayloadOxum,
        ],
    );
}

#[test]
fn pax_header_followed_by_a_broken_header() {
    let records = b"26 path=x/data/original/a\n";
    let mut raw = hostile_member(b"././@PaxHeader", b'x', b"", records);
    let mut next = hostile_member(&api("pax.json"), b'0', b"", b"{}");
    next[257] = b'U'; // no ustar magic
    fix_checksum(&mut next);
    raw.extend_from_slice(&next);
    planted(&raw, &[Code::TarHeaderFormat]);
    raw[BLOCK * 2 + 10] ^= 1; // and now a bad checksum as well
    planted(&raw, &[Code::TarHeaderChecksum]);
}

#[test]
fn pax_header_claiming_a_gigabyte() {
    let raw = hostile_header(b"././@PaxHeader", 1 << 30, b'x', b"");
    planted(&raw, &[Code::PaxInvalid]);
}

/// Replaces the header of member `rel` with one claiming `size` bytes.
fn claiming(rel: &str, size: u64) -> Vec<u8> {
    let fx = sample();
    let e = tar_map(&fx.tar).get(rel).clone();
    let h = hostile_header(&full(rel), size, b'0', b"");
    let mut t = fx.tar.clone();
    t[e.header_offset..e.header_offset + h.len()].copy_from_slice(&h);
    t
}

// Sizes of 8 GiB and 64 GiB: were either allocated, the process would run out of memory (or be
// refused the allocation and abort) long before the time limit.

#[test]
fn enormous_tag_file_is_refused_unread() {
    let fx = sample();
    // The largest size the canonical field holds, and twelve digits beyond it.
    for size in [archive::tar::MAX_MEMBER_SIZE, 0o7777_7777_7777] {
        for rel in [layout::BAG_INFO, layout::MANIFEST_SHA256, layout::SIGNATURE] {
            let t = claiming(rel, size);
            let r = verify_quickly(fx, &t, QUICK);
            assert_codes(&r, &[Code::MemberTooLarge, Code::TarTruncated]);
            let r = verify_quickly(fx, &to_zst(&t, false), QUICK);
            assert_codes(&r, &[Code::MemberTooLarge, Code::TarTruncated]);
        }
    }
}

#[test]
fn enormous_payload_file_is_streamed_not_allocated() {
    let fx = sample();
    let rel = tar_map(&fx.tar).first("data/original/media/").rel.clone();
    for size in [archive::tar::MAX_MEMBER_SIZE, 0o7777_7777_7777] {
        let t = claiming(&rel, size);
        let r = verify_quickly(fx, &t, QUICK);
        assert_codes(&r, &[Code::TarTruncated]);
        let r = verify_quickly(fx, &to_zst(&t, false), QUICK);
        assert_codes(&r, &[Code::TarTruncated]);
    }
}

#[test]
fn enormous_member_of_another_type_is_skipped_not_allocated() {
    let fx = sample();
    let t = insert_raw(
        &fx.tar,
        layout::REQUESTS,
        &hostile_header(&full("data/original/dir/"), 0o7777_7777_7777, b'5', b""),
    );
    let r = verify_quickly(fx, &t, QUICK);
    assert_codes(&r, &[Code::MemberType, Code::TarTruncated]);
}

// ---------------------------------------------------------------------------------------------
// Hostile zstd frames

/// A frame header: magic, descriptor, then `rest` (window descriptor and/or content size).
fn frame_header(descriptor: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = frames::ZSTD_MAGIC.to_le_bytes().to_vec();
    h.push(descriptor);
    h.extend_from_slice(rest);
    h
}

/// `head` in place of the bundle's first frame, the rest of the bundle after it.
fn in_front(head: &[u8]) -> Vec<u8> {
    let fx = sample();
    let first = zst_map(&fx.zst).data[0];
    let mut z = head.to_vec();
    z.extend_from_slice(&fx.zst[first.end()..]);
    z
}

#[test]
fn frame_claiming_a_huge_content_size() {
    let fx = sample();
    // Single segment, 8-byte content size, checksum.
    for size in [1u64 << 40, u64::MAX, FRAME_LIMIT as u64 + 1] {
        let z = in_front(&frame_header(0b1110_0100, &size.to_le_bytes()));
        let r = verify_quickly(fx, &z, QUICK);
        assert_only(&r, &[Code::ZstdFrameTooLarge]);
    }
}

#[test]
fn frame_claiming_a_huge_window() {
    let fx = sample();
    // Window descriptors for 2^41 (the largest), 16 MiB and 8 MiB + 1/8.
    for wd in [0xF8u8, 14 << 3, (13 << 3) | 1] {
        let z = in_front(&frame_header(0b0000_0100, &[wd]));
        let r = verify_quickly(fx, &z, QUICK);
        assert_only(&r, &[Code::ZstdFrameTooLarge]);
    }
}

#[test]
fn frame_of_endless_raw_blocks_stops_at_the_limit() {
    let fx = sample();
    // An 8 MiB window, then full raw blocks that never say they are the last.
    let mut z = frame_header(0b0000_0100, &[13 << 3]);
    let block = frames::BLOCK_MAX;
    for _ in 0..(FRAME_LIMIT / block + 4) {
        let v = (block as u32) << 3;
        z.extend_from_slice(&v.to_le_bytes()[..3]);
        z.resize(z.len() + block, 0x55);
    }
    let r = verify_quickly(fx, &z, QUICK);
    assert_only(&r, &[Code::ZstdFrameTooLarge]);
}

#[test]
fn compressed_frame_that_expands_past_the_limit() {
    let fx = sample();
    // No content size in the header, a small window: libzstd decodes until the output is full.
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.include_contentsize(false).unwrap();
    enc.window_log(20).unwrap();
    std::io::copy(
        &mut std::io::Read::take(std::io::repeat(0), 64 << 20),
        &mut enc,
    )
    .unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 64 << 10);
    let r = verify_quickly(fx, &in_front(&bomb), QUICK);
    assert_only(&r, &[Code::ZstdFrameTooLarge]);
}

#[test]
fn skippable_frames_claiming_four_gigabytes() {
    let fx = sample();
    let map = zst_map(&fx.zst);
    // An unknown skippable frame before the index: skipped (to the end of the file), not read.
    let mut z = fx.zst[..map.index.offset].to_vec();
    z.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
    z.extend_from_slice(&u32::MAX.to_le_bytes());
    z.extend_from_slice(&fx.zst[map.index.offset..]);
    let r = verify_quickly(fx, &z, QUICK);
    assert_codes(&r, &[Code::UnexpectedSkippable, Code::ZstdTruncated]);
    // The index frame: refused by its limit.
    let z = with_u32(&fx.zst, map.index.offset + 4, u32::MAX);
    let r = verify_quickly(fx, &z, QUICK);
    assert_only(&r, &[Code::IndexMismatch]);
    // The seek table: refused, it cannot match the frames.
    let z = with_u32(&fx.zst, map.seek_table + 4, u32::MAX);
    let r = verify_quickly(fx, &z, QUICK);
    assert_only(&r, &[Code::SeekTableMismatch]);
}

#[test]
fn seek_table_claiming_u32_max_frames() {
    let fx = sample();
    let n = fx.zst.len();
    let z = with_u32(&fx.zst, n - frames::SEEK_FOOTER_LEN, u32::MAX);
    let r = verify_quickly(fx, &z, QUICK);
    assert_only(&r, &[Code::SeekTableInvalid]);
    // From a file too, where the verifier also opens the bundle through its seek table.
    let dir = tmp();
    let p = dir.path().join("b.tar.zst");
    std::fs::write(&p, &z).unwrap();
    let r = verify::verify_path(&p, &verify_opts(&fx.keys)).unwrap();
    assert_only(&r, &[Code::SeekTableInvalid]);
}

// ---------------------------------------------------------------------------------------------
// Not a bundle at all

#[test]
fn non_bundle_inputs() {
    let fx = sample();
    let mut tiny_tar = vec![0u8; 100];
    tiny_tar.extend_from_slice(b"ustar\0");
    for (what, bytes) in [
        ("random bytes", noise(11, 100_000)),
        ("an empty file", Vec::new()),
        ("a JPEG", jpeg(12, 50_000)),
        ("one byte", vec![0x28]),
        ("a short tar-like file", tiny_tar),
        ("text", b"BagIt-Version: 1.0\n".to_vec()),
    ] {
        let r = verify_quickly(fx, &bytes, QUICK);
        assert!(!r.valid, "{what}");
        assert_only(&r, &[Code::NotABundle]);
        assert_eq!(r.container, "unknown", "{what}");
    }
}

#[test]
fn garbage_behind_valid_magics() {
    let fx = sample();
    // A zstd magic, then noise.
    let mut z = frames::ZSTD_MAGIC.to_le_bytes().to_vec();
    z.extend_from_slice(&noise(13, 5000));
    let r = verify_quickly(fx, &z, QUICK);
    assert!(!r.valid && r.errors().next().is_some(), "{:?}", codes(&r));
    // A ustar magic in an otherwise random block.
    let mut t = noise(14, 5000);
    t[257..263].copy_from_slice(b"ustar\0");
    let r = verify_quickly(fx, &t, QUICK);
    assert_only(&r, &[Code::TarHeaderChecksum]);
}
