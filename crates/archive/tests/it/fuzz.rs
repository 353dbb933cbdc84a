//! Property tests: random damage to a valid bundle, in both containers, never passes and
//! never panics. The bundles are built once; each case costs one
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
        // PROPTEST_CASES raises it for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
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
    // Every stored byte counts: raw data through frame checksums and SHA-256, headers through
    // canonical re-encoding, and compressed blocks (whose slack bits a decoder may ignore)
    // through the index's digests of the stored frames.
    prop_assert!(
        !r.valid,
        "{:?} valid after flips at {:?}",
        container,
        positions
    );
    prop_assert!(r.errors().next().is_some(), "{:?}", codes(&r));
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// 1 to 8 bytes at distinct random positions, each XORed with a non-zero value.
    #[test]
    fn flipped_bytes_never_pass(
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

/// libzstd-compressed blocks have slack bits a decoder ignores; flipping one leaves the decoded
/// content (and its checksum) unchanged. The index's digests of stored frames catch every one.
#[test]
fn every_bit_of_a_compressed_frame_counts() {
    let fx = small();
    let z = &fx.zst;
    let frame = zst_map(z).first_compressed(z);
    let mut b = z.clone();
    for at in frame.offset..frame.end() {
        for bit in 0..8 {
            b[at] ^= 1 << bit;
            let r = fx.verify(&b);
            assert!(!r.valid, "valid after flipping bit {bit} of byte {at}");
            b[at] ^= 1 << bit;
        }
    }
}
