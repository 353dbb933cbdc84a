//! Property tests: random damage to a valid bundle, in both containers, never passes with
//! changed content and never panics. The bundles are built once; each case costs one
//! verification.

use std::collections::BTreeSet;

use archive::Container;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use crate::craft::*;
use crate::support::codes;

const CONTAINERS: [Container; 2] = [Container::Tar, Container::TarZst];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        // Shrinking re-verifies many times: keep a failure report quick.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

fn flips_are_caught(container: Container, flips: &[(Index, u8)]) -> Result<(), TestCaseError> {
    let fx = small();
    let mut b = fx.bytes(container).to_vec();
    let mut positions = BTreeSet::new();
    for (at, mask) in flips {
        let at = at.index(b.len());
        if positions.insert(at) {
            b[at] ^= mask;
        }
    }
    let r = fx.verify(&b);
    if !r.valid {
        prop_assert!(r.errors().next().is_some(), "{:?}", codes(&r));
        return Ok(());
    }
    // The one way a flip can leave a bundle valid: a few bits inside libzstd-compressed blocks
    // are slack a decoder ignores (e.g. after an FSE table description), so the frame still
    // decodes to the same bytes with the same checksum. The format lets a bundle be
    // re-compressed (its evidence is the tar stream); what must never pass is changed evidence.
    prop_assert_eq!(
        container,
        Container::TarZst,
        "valid after flips at {:?}",
        positions
    );
    let map = zst_map(&fx.zst);
    for &at in &positions {
        let compressed = map
            .data
            .iter()
            .any(|f| f.offset <= at && at < f.end() && !is_raw_frame(&fx.zst, f.offset));
        prop_assert!(
            compressed,
            "valid after a flip at {} outside compressed blocks",
            at
        );
    }
    let decoded = zstd::stream::decode_all(&b[..]).unwrap();
    prop_assert!(
        decoded == fx.tar,
        "valid with changed content: flips at {:?}",
        positions
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// 1 to 8 bytes at distinct random positions, each XORed with a non-zero value.
    #[test]
    fn flipped_bytes_never_pass_with_changed_content(
        container in prop::sample::select(&CONTAINERS[..]),
        // Positions as indices into whatever length, so one strategy serves both containers.
        flips in prop::collection::vec((any::<Index>(), 1u8..=255), 1..=8),
    ) {
        flips_are_caught(container, &flips)?;
    }

    /// Any strict prefix.
    #[test]
    fn truncated_bundles_are_never_valid(
        container in prop::sample::select(&CONTAINERS[..]),
        len in any::<Index>(),
    ) {
        let fx = small();
        let b = fx.bytes(container);
        let len = len.index(b.len());
        let r = fx.verify(&b[..len]);
        prop_assert!(!r.valid, "{:?} valid when cut at {}", container, len);
        prop_assert!(r.errors().next().is_some(), "{:?}", codes(&r));
    }
}

#[test]
fn the_small_bundles_are_valid() {
    let fx = small();
    for c in CONTAINERS {
        let r = fx.verify(fx.bytes(c));
        assert!(r.valid, "{c:?}: {:#?}", r.findings);
    }
}
