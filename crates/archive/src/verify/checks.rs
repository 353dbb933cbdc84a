//! Bag-level checks after the stream is read: declaration, bag-info, manifests, digests,
//! signature, timestamp and the member index.

use std::collections::{BTreeSet, HashMap};

use model::ContentId;
use sha2::{Digest, Sha256, Sha512};
use time::format_description::well_known::Rfc3339;

use super::codes::Code;
use super::hashing::Digests;
use super::members::Scan;
use super::{Findings, VerifyOptions};
use crate::bag::{self, BagInfo};
use crate::frames::{self, IndexEntry};
use crate::layout;
use crate::signing::{SigError, SignatureFile};
use crate::timestamp::{self, TimestampError};
use crate::writer::{hex, trusted_comment};

/// What the zstd container said about its index: the index frame's bytes (if any) and the
/// digests of the data frames as they were read.
pub struct ZstIndex {
    pub bytes: Option<Vec<u8>>,
    pub frame_digests: Vec<Option<u64>>,
}

/// What the report says about the bundle besides findings.
#[derive(Debug, Default)]
pub struct Summary {
    pub bundle_id: Option<String>,
    pub account: Option<String>,
    pub members: u64,
    pub payload_files: u64,
    pub payload_bytes: u64,
    pub capture_start: Option<String>,
    pub capture_end: Option<String>,
    pub tagmanifest_sha256: Option<String>,
    pub previous: Option<String>,
    pub signed_by: Option<String>,
    pub timestamp: Option<String>,
}

/// A timestamp may be this much earlier than the capture start or later than its end.
const TIMESTAMP_TOLERANCE: time::Duration = time::Duration::minutes(30);

pub fn check(
    scan: &Scan,
    digests: &[Digests],
    index: Option<&ZstIndex>,
    opts: &VerifyOptions,
    f: &mut Findings,
) -> Summary {
    let payload: Vec<_> = scan.payload.iter().map(|&i| &scan.members[i]).collect();
    let mut s = Summary {
        bundle_id: scan.bundle_id.as_ref().map(ToString::to_string),
        account: scan
            .bundle_id
            .as_ref()
            .map(model::BundleId::external_identifier),
        members: scan.members.len() as u64,
        payload_files: payload.len() as u64,
        payload_bytes: payload.iter().map(|m| m.size).sum(),
        ..Summary::default()
    };
    if let Some(index) = index {
        check_index(scan, index, f);
    }
    if !scan.complete {
        return s; // a fatal container or tar finding: everything below would be noise
    }
    for (rel, required) in layout::TAIL {
        let present = scan.members.iter().any(|m| m.rel == *rel);
        if *required && !present {
            let code = if *rel == layout::SIGNATURE {
                Code::SignatureMissing
            } else {
                Code::TagFileMissing
            };
            f.add(code, format!("{rel} is missing"), None);
        }
    }
    let tag = |rel: &str| scan.tags.get(rel).map(Vec::as_slice);
    if let Some(b) = tag(layout::BAGIT)
        && b != layout::BAGIT_TXT.as_bytes()
    {
        f.add(
            Code::BagitDeclaration,
            "bagit.txt is not the BagIt 1.0 declaration".into(),
            None,
        );
    }
    let info = tag(layout::BAG_INFO).and_then(|b| {
        match std::str::from_utf8(b)
            .map_err(|_| "bag-info.txt is not UTF-8".to_owned())
            .and_then(BagInfo::parse)
        {
            Ok(i) => Some(i),
            Err(e) => {
                f.add(Code::BagInfoInvalid, e, None);
                None
            }
        }
    });
    if let Some(info) = &info {
        if Some(&info.bundle_id) != scan.bundle_id.as_ref() {
            f.add(
                Code::BagInfoInvalid,
                "Bundle-Id does not match the top folder".into(),
                None,
            );
        }
        if scan.mtime.is_some_and(|m| m != info.mtime()) {
            f.add(
                Code::MtimeMismatch,
                "member mtimes are not midnight UTC of the Bagging-Date".into(),
                None,
            );
        }
        if info.payload_bytes != s.payload_bytes || info.payload_files != s.payload_files {
            f.add(
                Code::PayloadOxum,
                format!(
                    "Payload-Oxum says {}.{}, the bag holds {}.{}",
                    info.payload_bytes, info.payload_files, s.payload_bytes, s.payload_files
                ),
                None,
            );
        }
        s.capture_start = info.capture_start.format(&Rfc3339).ok();
        s.capture_end = info.capture_end.format(&Rfc3339).ok();
        s.previous = info.previous.map(|p| p.to_hex());
    }

    let by_member: HashMap<usize, &Digests> = digests.iter().map(|d| (d.member, d)).collect();
    let actual256: HashMap<&str, String> = scan
        .payload
        .iter()
        .filter_map(|&i| {
            Some((
                scan.members[i].rel.as_str(),
                hex(&by_member.get(&i)?.sha256),
            ))
        })
        .collect();
    let manifest256 = check_manifest(tag(layout::MANIFEST_SHA256), 64, &actual256, f);
    check_media_names(&actual256, f);
    let m512 = tag(layout::MANIFEST_SHA512);
    if m512.is_some() != tag(layout::TAGMANIFEST_SHA512).is_some() {
        f.add(
            Code::ManifestAlgorithms,
            "only one of manifest-sha512.txt and tagmanifest-sha512.txt is present".into(),
            None,
        );
    }
    if m512.is_some() {
        let actual512: HashMap<&str, String> = scan
            .payload
            .iter()
            .filter_map(|&i| {
                Some((
                    scan.members[i].rel.as_str(),
                    hex(&by_member.get(&i)?.sha512?),
                ))
            })
            .collect();
        let manifest512 = if actual512.len() == actual256.len() {
            check_manifest(m512, 128, &actual512, f)
        } else {
            // Reading a stream, the verifier learns of the SHA-512 manifest only at its end.
            f.add(
                Code::ManifestAlgorithms,
                "the bundle has SHA-512 manifests but SHA-512 digests were not computed: verify the file itself, or pass --sha512 when reading stdin".into(),
                None,
            );
            None
        };
        if let (Some(a), Some(b)) = (&manifest256, &manifest512)
            && a != b
        {
            f.add(
                Code::ManifestAlgorithms,
                "manifest-sha512.txt lists other paths than manifest-sha256.txt".into(),
                None,
            );
        }
    }

    // Tag manifests list exactly the tag files other than tag manifests and signatures.
    let listed: BTreeSet<&str> = [
        layout::BAGIT,
        layout::BAG_INFO,
        layout::MANIFEST_SHA256,
        layout::MANIFEST_SHA512,
    ]
    .into_iter()
    .filter(|r| scan.tags.contains_key(*r))
    .collect();
    check_tagmanifest(
        scan,
        layout::TAGMANIFEST_SHA256,
        64,
        &listed,
        |b| hex(&Sha256::digest(b)),
        f,
    );
    check_tagmanifest(
        scan,
        layout::TAGMANIFEST_SHA512,
        128,
        &listed,
        |b| hex(&Sha512::digest(b)),
        f,
    );

    let Some(tm) = tag(layout::TAGMANIFEST_SHA256) else {
        return s;
    };
    let tm_digest: [u8; 32] = Sha256::digest(tm).into();
    s.tagmanifest_sha256 = Some(hex(&tm_digest));
    check_signature(scan, tm, &ContentId(tm_digest), opts, f, &mut s);
    check_timestamp(scan, &tm_digest, info.as_ref(), opts, f, &mut s);
    s
}

/// Parses a payload manifest and compares it with the digests computed; returns its path set.
fn check_manifest(
    text: Option<&[u8]>,
    hex_len: usize,
    actual: &HashMap<&str, String>,
    f: &mut Findings,
) -> Option<BTreeSet<String>> {
    let text = text?;
    let rows = match std::str::from_utf8(text)
        .map_err(|_| "manifest is not UTF-8".to_owned())
        .and_then(|t| bag::parse_manifest(t, hex_len))
    {
        Ok(r) => r,
        Err(e) => {
            f.add(Code::ManifestInvalid, e, None);
            return None;
        }
    };
    let mut listed = BTreeSet::new();
    for (path, digest) in &rows {
        if !layout::is_payload(path) {
            f.add(
                Code::ManifestInvalid,
                "the manifest lists a path outside data/".into(),
                Some(path.clone()),
            );
            continue;
        }
        listed.insert(path.clone());
        match actual.get(path.as_str()) {
            None => f.add(
                Code::PayloadMissing,
                "listed in the manifest, absent from the bundle".into(),
                Some(path.clone()),
            ),
            Some(d) if d != digest => f.add(
                Code::PayloadDigest,
                format!("digest {d}, manifest says {digest}"),
                Some(path.clone()),
            ),
            Some(_) => {}
        }
    }
    for path in actual.keys() {
        if !listed.contains(*path) {
            f.add(
                Code::PayloadNotInManifest,
                "payload file not in the manifest".into(),
                Some((*path).to_owned()),
            );
        }
    }
    Some(listed)
}

fn check_tagmanifest(
    scan: &Scan,
    rel: &str,
    hex_len: usize,
    listed: &BTreeSet<&str>,
    digest: impl Fn(&[u8]) -> String,
    f: &mut Findings,
) {
    let Some(text) = scan.tags.get(rel) else {
        return;
    };
    let rows = match std::str::from_utf8(text)
        .map_err(|_| "tag manifest is not UTF-8".to_owned())
        .and_then(|t| bag::parse_manifest(t, hex_len))
    {
        Ok(r) => r,
        Err(e) => {
            f.add(Code::TagManifestInvalid, format!("{rel}: {e}"), None);
            return;
        }
    };
    let paths: BTreeSet<&str> = rows.iter().map(|(p, _)| p.as_str()).collect();
    if &paths != listed {
        f.add(
            Code::TagManifestInvalid,
            format!("{rel} does not list exactly the tag files of the bag"),
            None,
        );
    }
    for (path, expected) in &rows {
        if let Some(bytes) = scan.tags.get(path)
            && &digest(bytes) != expected
        {
            f.add(
                Code::TagDigest,
                format!("{rel}: digest mismatch"),
                Some(path.clone()),
            );
        }
    }
}

fn check_signature(
    scan: &Scan,
    tm: &[u8],
    tm_digest: &ContentId,
    opts: &VerifyOptions,
    f: &mut Findings,
    s: &mut Summary,
) {
    let Some(sig) = scan.tags.get(layout::SIGNATURE) else {
        return;
    };
    let sig = match SignatureFile::parse(sig) {
        Ok(sig) => sig,
        Err(e) => {
            f.add(
                Code::SignatureMalformed,
                e.to_string(),
                Some(layout::SIGNATURE.into()),
            );
            return;
        }
    };
    let Some(key) = opts
        .keys
        .iter()
        .find(|k| k.key_id_hex() == sig.key_id_hex())
    else {
        let given: Vec<String> = opts
            .keys
            .iter()
            .map(crate::signing::PublicKey::key_id_hex)
            .collect();
        f.add(
            Code::SignatureKeyMismatch,
            format!(
                "signed by key {}, not by {}",
                sig.key_id_hex(),
                given.join(", ")
            ),
            None,
        );
        return;
    };
    match sig.verify(key, tm) {
        Ok(()) => s.signed_by = Some(key.key_id_hex()),
        Err(SigError::TrustedCommentForged) => f.add(
            Code::TrustedComment,
            "the trusted comment's signature does not verify".into(),
            None,
        ),
        Err(SigError::KeyMismatch { expected, found }) => f.add(
            Code::SignatureKeyMismatch,
            format!("signed by key {found}, not by {expected}"),
            None,
        ),
        Err(e) => f.add(Code::SignatureInvalid, e.to_string(), None),
    }
    if let Some(id) = &scan.bundle_id {
        let expected = trusted_comment(id, tm_digest);
        if sig.trusted_comment() != expected {
            f.add(
                Code::TrustedComment,
                format!(
                    "trusted comment is {:?}, expected {expected:?}",
                    sig.trusted_comment()
                ),
                None,
            );
        }
    }
}

fn check_timestamp(
    scan: &Scan,
    tm_digest: &[u8; 32],
    info: Option<&BagInfo>,
    opts: &VerifyOptions,
    f: &mut Findings,
    s: &mut Summary,
) {
    let tsr = scan.tags.get(layout::TIMESTAMP);
    let chain = scan.tags.get(layout::TSA_CHAIN);
    let Some(tsr) = tsr else {
        if chain.is_some() {
            f.add(
                Code::UnknownMember,
                "a TSA chain without a timestamp".into(),
                Some(layout::TSA_CHAIN.into()),
            );
        }
        if opts.require_timestamp {
            f.add(Code::TimestampMissing, "no timestamp token".into(), None);
        } else {
            f.add(Code::TimestampAbsent, "no timestamp token".into(), None);
        }
        return;
    };
    if chain.is_none() {
        f.add(
            Code::TagFileMissing,
            "a timestamp without its TSA chain".into(),
            Some(layout::TSA_CHAIN.into()),
        );
    }
    match timestamp::verify(
        tsr,
        tm_digest,
        chain.map(Vec::as_slice),
        opts.tsa_root.as_deref(),
    ) {
        Ok(v) => {
            s.timestamp = v.gen_time.format(&Rfc3339).ok();
            if !v.chain_checked {
                f.add(
                    Code::TimestampChainUnchecked,
                    "pass --tsa-root to check the TSA's certificate chain".into(),
                    None,
                );
            }
            if let Some(info) = info {
                let early = info.capture_start - TIMESTAMP_TOLERANCE;
                let late = info.capture_end + TIMESTAMP_TOLERANCE;
                if v.gen_time < early || v.gen_time > late {
                    f.add(
                        Code::TimestampTime,
                        format!(
                            "timestamp {} is outside the capture window",
                            s.timestamp.clone().unwrap_or_default()
                        ),
                        None,
                    );
                }
            }
        }
        Err(e) => {
            let code = match e {
                TimestampError::ImprintMismatch => Code::TimestampImprint,
                TimestampError::SignatureInvalid(_) => Code::TimestampSignature,
                // Without a root no chain was asked for: the fault is in the token's own
                // certificates (validity, key usage), not in a chain to a root.
                TimestampError::ChainInvalid(_) if opts.tsa_root.is_some() => Code::TimestampChain,
                _ => Code::TimestampMalformed,
            };
            f.add(code, e.to_string(), Some(layout::TIMESTAMP.into()));
        }
    }
}

/// The index must be exactly what the frames and the members say. Frame digests are checked
/// even when the tar layer stopped early: they speak of stored bytes, not of members.
fn check_index(scan: &Scan, index: &ZstIndex, f: &mut Findings) {
    let Some(bytes) = &index.bytes else { return };
    let listed = match frames::parse_index(bytes) {
        Ok(listed) => listed,
        Err(e) => {
            f.add(Code::IndexMismatch, e.to_owned(), None);
            return;
        }
    };
    if listed.frame_digests != index.frame_digests {
        let at = listed
            .frame_digests
            .iter()
            .zip(&index.frame_digests)
            .position(|(a, b)| a != b)
            .unwrap_or(listed.frame_digests.len().min(index.frame_digests.len()));
        f.add(
            Code::IndexMismatch,
            format!(
                "data frame {at} differs from its digest in the index (its stored bytes changed)"
            ),
            None,
        );
        return;
    }
    if !scan.complete {
        return;
    }
    let root = scan.root.clone().unwrap_or_default();
    let expected: Vec<IndexEntry> = scan
        .members
        .iter()
        .map(|m| IndexEntry {
            header_offset: m.header_offset,
            data_offset: m.data_offset,
            size: m.size,
            path: format!("{root}/{}", m.rel),
        })
        .collect();
    if frames::encode_index(&expected, &index.frame_digests) != *bytes {
        let at = listed
            .members
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(listed.members.len().min(expected.len()));
        f.add(
            Code::IndexMismatch,
            format!(
                "entry {at} disagrees with the tar members ({} listed, {} present)",
                listed.members.len(),
                expected.len()
            ),
            None,
        );
    }
}

/// `data/original/media/sha256/<h2>/<sha256>.<ext>` must name the file's own digest.
fn check_media_names(actual: &HashMap<&str, String>, f: &mut Findings) {
    let prefix = format!("{}media/sha256/", layout::ORIGINAL);
    for (path, digest) in actual {
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let named = rest.split_once('/').and_then(|(h2, file)| {
            let stem = file.split_once('.').map_or(file, |(s, _)| s);
            (stem.starts_with(h2) && h2.len() == 2).then_some(stem)
        });
        if named != Some(digest.as_str()) {
            f.add(
                Code::MediaName,
                format!("content digest is {digest}"),
                Some((*path).to_owned()),
            );
        }
    }
}
