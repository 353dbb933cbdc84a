//! The strict verifier: one streaming pass over a bundle (file or stdin), a report of
//! findings with stable codes. It returns an error only when it cannot run (the input cannot
//! be opened or read); everything wrong *in* the bundle is a finding.
//!
//! Pipeline: [`input`] reads large shared buffers; [`container`] checks zstd frames, the index
//! frame and the seek table and yields tar-stream chunks; [`members`] checks tar headers and
//! paths, sends payload to [`hashing`] workers and keeps tag files; [`checks`] then checks the
//! bag, the signature and the timestamp.

mod checks;
pub mod codes;
mod container;
mod hashing;
mod input;
mod members;

pub use container::INDEX_LIMIT;
pub use members::MEMBER_LIMIT;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use codes::{Code, Severity};

use crate::signing::PublicKey;
use container::ChunkSource;

/// How strictly to verify, and with which keys.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Keys whose signatures are accepted. At least one is needed for a bundle to be valid.
    pub keys: Vec<PublicKey>,
    /// A bundle without a timestamp is invalid.
    pub require_timestamp: bool,
    /// PEM of the TSA root; without it a timestamp's chain is not checked (a warning).
    pub tsa_root: Option<Vec<u8>>,
    /// Hashing threads per bundle (0: one per core).
    pub hash_threads: usize,
    /// With several bundles: every `Previous-Bundle-Tagmanifest-SHA256` must name one of them.
    pub check_chain: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// Findings, capped so a hostile bundle cannot grow the report without bound.
#[derive(Debug, Default)]
pub struct Findings {
    list: Vec<Finding>,
    dropped: u64,
}

const FINDINGS_LIMIT: usize = 1000;

impl Findings {
    pub fn add(&mut self, code: Code, message: String, member: Option<String>) {
        if self.list.len() < FINDINGS_LIMIT {
            self.list.push(Finding {
                code,
                severity: code.severity(),
                message,
                member,
            });
        } else {
            self.dropped += 1;
        }
    }
    pub fn has(&self, code: Code) -> bool {
        self.list.iter().any(|f| f.code == code)
    }
}

/// The verdict on one bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub valid: bool,
    pub container: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub members: u64,
    pub payload_files: u64,
    pub payload_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagmanifest_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_tagmanifest_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub findings: Vec<Finding>,
    /// Findings beyond the report's limit, counted but not listed.
    pub findings_dropped: u64,
}

impl Report {
    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }
}

/// Why verification could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("no public key given: pass --pubkey (a bundle's signature is what makes it evidence)")]
    NoKey,
}

fn threads(opts: &VerifyOptions) -> usize {
    if opts.hash_threads > 0 {
        opts.hash_threads
    } else {
        std::thread::available_parallelism().map_or(2, usize::from)
    }
}

/// Verifies one bundle file.
pub fn verify_path(path: &Path, opts: &VerifyOptions) -> Result<Report, VerifyError> {
    let io_err = |source| VerifyError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    if file.metadata().map_err(io_err)?.is_dir() {
        return Err(io_err(io::Error::other("is a directory")));
    }
    // SHA-512 costs half the speed: compute it only if the (untrusted) listing announces a
    // SHA-512 manifest. If the listing lies, the index check reports it.
    let sha512 = crate::reader::BundleReader::open_file(path)
        .is_ok_and(|r| r.contains(crate::layout::MANIFEST_SHA512));
    verify_reader(file, &path.display().to_string(), opts, sha512).map_err(io_err)
}

/// Verifies a bundle from any stream (stdin included) in one pass. Without a seekable input the
/// verifier cannot know beforehand whether SHA-512 manifests are present: `sha512` says whether to
/// compute SHA-512 digests as well.
pub fn verify_reader<R: Read + Send>(
    r: R,
    source: &str,
    opts: &VerifyOptions,
    sha512: bool,
) -> io::Result<Report> {
    std::thread::scope(|s| {
        let input = input::Input::start(s, r);
        verify_input(input, source, opts, sha512)
    })
}

fn verify_input(
    mut input: input::Input,
    source: &str,
    opts: &VerifyOptions,
    sha512: bool,
) -> io::Result<Report> {
    let mut f = Findings::default();
    let mut pool = hashing::HashPool::new(threads(opts));
    let got = input.fill(512)?;
    let head = input.peek()[..got].to_vec();
    let magic = head
        .get(..4)
        .map(|m| u32::from_le_bytes(m.try_into().expect("4 bytes")));
    let is_zstd =
        magic.is_some_and(|m| m == crate::frames::ZSTD_MAGIC || crate::frames::is_skippable(m));
    let is_tar = head.len() == 512 && &head[257..263] == b"ustar\0";
    let (scan, container, index) = if is_zstd {
        let mut src = container::ZstdSource::new(input)?;
        let scan = members::scan(&mut src, &mut f, &mut pool, sha512)?;
        src.finish(&mut f)?;
        let index = checks::ZstIndex {
            bytes: src.index().map(<[u8]>::to_vec),
            frame_digests: src.frame_digests().to_vec(),
        };
        (scan, "tar.zst", Some(index))
    } else if is_tar {
        let mut src = container::TarSource::new(input);
        let scan = members::scan(&mut src, &mut f, &mut pool, sha512)?;
        (scan, "tar", None)
    } else {
        f.add(
            Code::NotABundle,
            "neither a zstd nor a tar file".into(),
            None,
        );
        let digests = pool.finish();
        drop(digests);
        return Ok(finish_report(source, "unknown", f, None));
    };
    let digests = pool.finish();
    let summary = checks::check(&scan, &digests, index.as_ref(), opts, &mut f);
    Ok(finish_report(source, container, f, Some(summary)))
}

fn finish_report(
    source: &str,
    container: &'static str,
    f: Findings,
    s: Option<checks::Summary>,
) -> Report {
    let s = s.unwrap_or_default();
    let valid = !f.list.iter().any(|x| x.severity == Severity::Error);
    Report {
        source: source.to_owned(),
        valid,
        container,
        bundle_id: s.bundle_id,
        account: s.account,
        members: s.members,
        payload_files: s.payload_files,
        payload_bytes: s.payload_bytes,
        capture_start: s.capture_start,
        capture_end: s.capture_end,
        tagmanifest_sha256: s.tagmanifest_sha256,
        previous_tagmanifest_sha256: s.previous,
        signed_by: s.signed_by,
        timestamp: s.timestamp,
        findings: f.list,
        findings_dropped: f.dropped,
    }
}

/// Verifies many bundles, several at a time, then (if asked) checks the chain links between them.
pub fn verify_many(paths: &[PathBuf], opts: &VerifyOptions) -> Vec<Result<Report, VerifyError>> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let jobs = cores.min(paths.len()).max(1);
    let per = VerifyOptions {
        hash_threads: if opts.hash_threads > 0 {
            opts.hash_threads
        } else {
            (cores / jobs).max(1)
        },
        ..opts.clone()
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Report, VerifyError>>>> =
        paths.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = paths.get(i) else { break };
                    let r = verify_path(p, &per);
                    *results[i].lock().expect("not poisoned") = Some(r);
                }
            });
        }
    });
    let mut out: Vec<Result<Report, VerifyError>> = results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("not poisoned")
                .expect("every bundle was verified")
        })
        .collect();
    if opts.check_chain {
        check_chain(&mut out);
    }
    out
}

/// Every previous-bundle link must name a bundle of the same account in the set, and no two
/// bundles of an account may name the same previous one: an account's bundles form one line.
fn check_chain(reports: &mut [Result<Report, VerifyError>]) {
    let known: std::collections::HashSet<(String, String)> = reports
        .iter()
        .flatten()
        .filter_map(|r| Some((r.account.clone()?, r.tagmanifest_sha256.clone()?)))
        .collect();
    // (account, previous) -> the bundles naming it.
    let mut successors: std::collections::HashMap<(String, String), Vec<String>> =
        std::collections::HashMap::new();
    for r in reports.iter().flatten() {
        if let (Some(account), Some(prev)) = (&r.account, &r.previous_tagmanifest_sha256) {
            let name = r.bundle_id.clone().unwrap_or_else(|| r.source.clone());
            successors
                .entry((account.clone(), prev.clone()))
                .or_default()
                .push(name);
        }
    }
    for r in reports.iter_mut().flatten() {
        let (Some(account), Some(prev)) = (&r.account, &r.previous_tagmanifest_sha256) else {
            continue;
        };
        let key = (account.clone(), prev.clone());
        if !known.contains(&key) {
            r.findings.push(Finding {
                code: Code::ChainUnresolved,
                severity: Severity::Error,
                message: format!("previous bundle {prev} is not among the bundles given"),
                member: None,
            });
            r.valid = false;
        }
        let me = r.bundle_id.clone().unwrap_or_else(|| r.source.clone());
        let others: Vec<&String> = successors
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|name| **name != me)
            .collect();
        if !others.is_empty() {
            let others: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
            r.findings.push(Finding {
                code: Code::ChainFork,
                severity: Severity::Error,
                message: format!(
                    "{} also name{} previous bundle {prev}",
                    others.join(", "),
                    if others.len() == 1 { "s" } else { "" }
                ),
                member: None,
            });
            r.valid = false;
        }
    }
}
