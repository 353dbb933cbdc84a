//! `verify --chain`: an account's bundles must form one line. Two bundles naming the same
//! previous bundle are a fork (`TQ-E091`), reported on each of them.

use std::path::PathBuf;

use archive::verify::{self, VerifyOptions};
use archive::{BundleWriter, Container};
use model::ContentId;

use crate::support::{Keys, bundle_id, fill_sample, keys, options, tmp};

/// A sample bundle captured `minutes` after the sample's start, naming `previous`.
fn bundle(
    dir: &std::path::Path,
    keys: &Keys,
    minutes: i64,
    previous: Option<ContentId>,
) -> (PathBuf, ContentId) {
    let mut o = options(Container::TarZst);
    let start = bundle_id().capture_start + time::Duration::minutes(minutes);
    o.id = model::BundleId::new(o.id.platform, o.id.account.clone(), start);
    o.capture_end = Some(start + time::Duration::minutes(7));
    o.previous = previous;
    let mut w = BundleWriter::create(dir, o).unwrap();
    fill_sample(&mut w);
    let published = w.finish(&keys.secret, None).unwrap();
    (published.path, published.tagmanifest_sha256)
}

fn chain_codes(paths: &[PathBuf], keys: &Keys) -> Vec<Vec<&'static str>> {
    let opts = VerifyOptions {
        keys: vec![keys.public.clone()],
        check_chain: true,
        ..VerifyOptions::default()
    };
    verify::verify_many(paths, &opts)
        .into_iter()
        .map(|r| r.unwrap().errors().map(|f| f.code.as_str()).collect())
        .collect()
}

#[test]
fn a_line_of_bundles_verifies() {
    let (dir, keys) = (tmp(), keys());
    let (a, a_sha) = bundle(dir.path(), &keys, 0, None);
    let (b, b_sha) = bundle(dir.path(), &keys, 60, Some(a_sha));
    let (c, _) = bundle(dir.path(), &keys, 120, Some(b_sha));
    let none: Vec<&str> = Vec::new();
    assert_eq!(
        chain_codes(&[a, b, c], &keys),
        vec![none.clone(), none.clone(), none]
    );
}

#[test]
fn two_bundles_after_the_same_previous_are_a_fork() {
    let (dir, keys) = (tmp(), keys());
    let (a, a_sha) = bundle(dir.path(), &keys, 0, None);
    let (b, _) = bundle(dir.path(), &keys, 60, Some(a_sha));
    let (c, _) = bundle(dir.path(), &keys, 61, Some(a_sha));
    let opts = VerifyOptions {
        keys: vec![keys.public.clone()],
        check_chain: true,
        ..VerifyOptions::default()
    };
    let reports: Vec<_> = verify::verify_many(&[a.clone(), b.clone(), c.clone()], &opts)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(reports[0].valid, "the common previous bundle is fine");
    for (fork, other) in [(&reports[1], &reports[2]), (&reports[2], &reports[1])] {
        assert!(!fork.valid);
        let finding = fork
            .findings
            .iter()
            .find(|f| f.code.as_str() == "TQ-E091")
            .expect("a fork finding");
        // Each names the other bundle of the fork.
        assert!(
            finding
                .message
                .contains(other.bundle_id.as_deref().unwrap()),
            "{}",
            finding.message
        );
    }
    // Without the chain check each bundle is valid on its own.
    let alone = VerifyOptions {
        check_chain: false,
        ..opts
    };
    assert!(
        verify::verify_many(&[a, b, c], &alone)
            .into_iter()
            .all(|r| r.unwrap().valid)
    );
}

/// Independent captures (no previous bundle) start no chain: several of one account are not a
/// fork.
#[test]
fn independent_captures_are_not_a_fork() {
    let (dir, keys) = (tmp(), keys());
    let (a, _) = bundle(dir.path(), &keys, 0, None);
    let (b, _) = bundle(dir.path(), &keys, 60, None);
    let none: Vec<&str> = Vec::new();
    assert_eq!(chain_codes(&[a, b], &keys), vec![none.clone(), none]);
}
