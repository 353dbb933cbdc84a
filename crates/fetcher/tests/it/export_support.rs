//! What the export importers' tests share (Instagram, Facebook, Snapchat, Google Takeout, X):
//! fixture folders as archive entries, zips written at test time, opening an importer with
//! limits and an account, capturing into a `MemorySink`, the refusal and "nothing emitted"
//! checks, and the hostile-zip suite the Meta and Snapchat importers run.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fetcher::export_zip::ZipLimits;
use fetcher::platforms::facebook::export::FacebookExport;
use fetcher::platforms::instagram::export::InstagramExport;
use fetcher::platforms::snapchat::export::SnapchatExport;
use fetcher::platforms::youtube::takeout::YouTubeTakeout;
use fetcher::{FetchError, MemorySink, Report, Source};
use model::AccountId;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::conformance::{Harness, conformance, expect_error};

/// An archive's entries: (name, bytes).
pub type Entries = Vec<(String, Vec<u8>)>;

// ------------------------------------------------------------------------------------------
// Fixtures and archives

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Every file under `dir`, as (path relative to `dir` with `/`, bytes), sorted.
pub fn files_of(dir: &Path) -> Entries {
    fn walk(base: &Path, dir: &Path, out: &mut Entries) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p
                    .strip_prefix(base)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files of fixture folder `tests/fixtures/<rel>`, every name under `prefix`.
pub fn fixture_entries(rel: &str, prefix: &str) -> Entries {
    files_of(&fixture(rel))
        .into_iter()
        .map(|(n, b)| (format!("{prefix}{n}"), b))
        .collect()
}

/// The entries of export fixture `case` (`tests/fixtures/<platform>/export/<case>`), every
/// name under `prefix`.
pub fn case_entries(platform: &str, case: &str, prefix: &str) -> Entries {
    fixture_entries(&format!("{platform}/export/{case}"), prefix)
}

/// `base` with one more entry.
pub fn with_entry(base: &[(String, Vec<u8>)], name: &str, body: &[u8]) -> Entries {
    let mut e = base.to_vec();
    e.push((name.to_owned(), body.to_vec()));
    e
}

pub fn opts() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

fn zip_of(path: &Path, entries: &[(String, Vec<u8>)]) -> ZipWriter<std::fs::File> {
    let mut w = ZipWriter::new(std::fs::File::create(path).unwrap());
    for (n, body) in entries {
        w.start_file(n.as_str(), opts()).unwrap();
        w.write_all(body).unwrap();
    }
    w
}

/// A zip of `entries` written to `dir/name`.
pub fn write_zip(dir: &Path, name: &str, entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    zip_of(&path, entries).finish().unwrap();
    path
}

/// A zip of `entries` plus a symbolic link `link` to `/etc/shadow`, written to `dir/name`.
pub fn write_zip_with_symlink(
    dir: &Path,
    name: &str,
    entries: &[(String, Vec<u8>)],
    link: &str,
) -> PathBuf {
    let path = dir.join(name);
    let mut w = zip_of(&path, entries);
    w.add_symlink(link, "/etc/shadow", opts()).unwrap();
    w.finish().unwrap();
    path
}

/// Limits under which tens of MiB of zeros (deflated or gzipped to tens of KiB) are a bomb.
pub fn bomb_limits() -> ZipLimits {
    ZipLimits {
        max_ratio: 100,
        ..ZipLimits::default()
    }
}

/// Overwrites every occurrence of `from` in `raw` with `to` (same length): how a test writes
/// what the zip writer refuses to (exact duplicate names, CP437 bytes).
pub fn replace_all(raw: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= raw.len() {
        if &raw[i..i + from.len()] == from {
            raw[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
}

// ------------------------------------------------------------------------------------------
// Opening and capturing

/// The importers opened from their parts with limits, and filed under an account when given.
pub trait Importer: Source + Sized + 'static {
    async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<Self, FetchError>;
    #[must_use]
    fn with_account(self, account: AccountId) -> Self;
}

macro_rules! importers {
    ($($t:ty),*) => {$(
        impl Importer for $t {
            async fn open_with(paths: &[PathBuf], limits: ZipLimits) -> Result<Self, FetchError> {
                <$t>::open_with(paths, limits).await
            }
            fn with_account(self, account: AccountId) -> Self {
                <$t>::with_account(self, account)
            }
        }
    )*};
}

importers!(
    InstagramExport,
    FacebookExport,
    SnapchatExport<'static>,
    YouTubeTakeout
);

pub async fn open<I: Importer>(
    paths: &[PathBuf],
    limits: ZipLimits,
    account: Option<&str>,
) -> Result<I, FetchError> {
    let s = I::open_with(paths, limits).await?;
    Ok(match account {
        Some(a) => s.with_account(AccountId::new(a).unwrap()),
        None => s,
    })
}

/// Awaits `open` and (if that passed) captures into a fresh sink.
pub async fn run_source<S: Source>(
    open: impl Future<Output = Result<S, FetchError>>,
) -> (Result<Report, FetchError>, MemorySink) {
    let mut sink = MemorySink::new();
    let result = match open.await {
        Ok(mut s) => s.capture(&mut sink).await,
        Err(e) => Err(e),
    };
    (result, sink)
}

/// Opens and (if that passed) captures into a fresh sink.
pub async fn run<I: Importer>(
    paths: &[PathBuf],
    limits: ZipLimits,
    account: Option<&str>,
) -> (Result<Report, FetchError>, MemorySink) {
    run_source(open::<I>(paths, limits, account)).await
}

/// The conformance harness over two sources made by `open` (re-import is identical).
pub async fn conform_sources<S, F>(open: impl Fn() -> F) -> (Report, MemorySink)
where
    S: Source + 'static,
    F: Future<Output = Result<S, FetchError>>,
{
    let h = Harness::new("");
    let sources = Mutex::new(vec![
        open().await.expect("open"),
        open().await.expect("open"),
    ]);
    conformance(&h, |_| Box::new(sources.lock().unwrap().pop().unwrap())).await
}

/// The conformance harness over two imports of the same parts.
pub async fn conform<I: Importer>(
    paths: &[PathBuf],
    account: Option<&str>,
) -> (Report, MemorySink) {
    conform_sources(|| open::<I>(paths, ZipLimits::default(), account)).await
}

// ------------------------------------------------------------------------------------------
// Checks

/// The private markers the Meta and Snapchat fixtures' private files hold.
pub const PRIVATE_BYTES: [&[u8]; 3] = [
    "رسالة خاصة".as_bytes(),
    b"192.0.2.1",
    b"placeholder private",
];

/// None of `needles` is in any byte the sink holds.
pub fn assert_bytes_absent(sink: &MemorySink, needles: &[&[u8]]) {
    let all = sink.all_bytes();
    for needle in needles {
        assert!(
            !all.windows(needle.len()).any(|w| w == *needle),
            "private bytes {:?} leaked",
            String::from_utf8_lossy(needle)
        );
    }
}

/// Every stored file is byte-exact, and one `IMPORT` log entry per stored file.
pub fn assert_byte_exact(sink: &MemorySink, entries: &[(String, Vec<u8>)]) {
    for (name, (stored, _)) in &sink.export_files {
        let original = entries
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} stored but not in the export"));
        assert_eq!(stored.as_ref(), original.1.as_slice(), "{name} byte-exact");
    }
    assert_eq!(sink.log.len(), sink.export_files.len());
    for e in &sink.log {
        assert_eq!(e.method, "IMPORT");
        let name = e.source_path.as_ref().unwrap();
        assert_eq!(e.body_sha256, Some(sink.export_files[name].1.sha256));
    }
}

pub fn assert_nothing_emitted(sink: &MemorySink) {
    assert!(sink.account.is_none(), "begin was not called");
    assert!(
        sink.export_files.is_empty()
            && sink.items.is_empty()
            && sink.log.is_empty()
            && sink.gaps.is_empty()
            && sink.documents.is_empty()
            && sink.profile.is_none(),
        "nothing emitted"
    );
}

/// A `bad_export` refusal in one line containing `reason`.
pub fn assert_bad_export<T: std::fmt::Debug>(result: Result<T, FetchError>, reason: &str) {
    let e = expect_error(result, "bad_export");
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.contains(reason), "expected {reason:?} in {msg:?}");
}

/// Opening (or capturing) is refused (`bad_export`, one line containing `reason`) with nothing
/// emitted.
pub async fn assert_refused<S: Source>(
    open: impl Future<Output = Result<S, FetchError>>,
    reason: &str,
) {
    let (r, sink) = run_source(open).await;
    assert_bad_export(r, reason);
    assert_nothing_emitted(&sink);
}

/// A refusal of `paths` opened without an account, with nothing emitted.
pub async fn refused<I: Importer>(paths: &[PathBuf], limits: ZipLimits, reason: &str) {
    assert_refused(open::<I>(paths, limits, None), reason).await;
}

pub fn sha_of(sink: &MemorySink, name: &str) -> model::ContentId {
    sink.export_files
        .get(name)
        .unwrap_or_else(|| panic!("{name} not stored"))
        .1
        .sha256
}

pub fn ids(sink: &MemorySink) -> Vec<&str> {
    sink.items.iter().map(|i| i.id.as_str()).collect()
}

// ------------------------------------------------------------------------------------------
// Hostile zips

/// A valid export and where the suite puts its hostile entries.
pub struct HostileZips<'a> {
    /// A valid export; every variant is it plus one entry or part.
    pub base: Entries,
    /// An entry of `base`: named twice, and again in a second part.
    pub victim: &'a str,
    /// A folder of the export (`media/`), under which the traversal, the link and the bomb go.
    pub folder: &'a str,
    /// The name of the valid zip (`<stem>.zip`) and of the second parts (`<stem>-2.zip`…).
    pub stem: &'a str,
    /// The account every import of the suite is opened with.
    pub account: Option<&'a str>,
}

/// Hostile variants of `z.base` are refused with nothing emitted: path traversal, a symlink,
/// a zip bomb, a duplicated name, and across parts the same name with different content, or
/// names differing only by case.
pub async fn hostile_suite<I: Importer>(z: HostileZips<'_>) {
    let HostileZips {
        base,
        victim,
        folder,
        stem,
        account,
    } = z;
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let refused = |paths: Vec<PathBuf>, limits: ZipLimits, reason: &'static str| async move {
        assert_refused(open::<I>(&paths, limits, account), reason).await;
    };
    // Sanity: the base itself imports.
    let ok = write_zip(tmp.path(), &format!("{stem}.zip"), &base);
    let (r, _) = run::<I>(std::slice::from_ref(&ok), d, account).await;
    r.expect("the base export imports");

    let traversal = format!("{folder}../../evil.txt");
    for (i, name) in ["../evil.txt", &traversal, "/etc/passwd"]
        .iter()
        .enumerate()
    {
        let entries = with_entry(&base, name, b"pwned");
        let p = write_zip(tmp.path(), &format!("trav{i}.zip"), &entries);
        let reason = if name.starts_with('/') {
            "absolute path"
        } else {
            "escapes"
        };
        refused(vec![p], d, reason).await;
    }
    assert!(!tmp.path().join("evil.txt").exists());

    let link = format!("{folder}link.jpg");
    let p = write_zip_with_symlink(tmp.path(), "link.zip", &base, &link);
    refused(vec![p], d, "symbolic link").await;

    // 50 MiB of zeros deflate to ~50 KiB.
    let zeros = vec![0u8; 50 * 1024 * 1024];
    let bomb = with_entry(&base, &format!("{folder}bomb.mp4"), &zeros);
    let p = write_zip(tmp.path(), "bomb.zip", &bomb);
    refused(vec![p], bomb_limits(), "zip bomb").await;

    // An exact duplicate name: a same-length twin renamed in the raw bytes.
    let twin = format!("{}~", &victim[..victim.len() - 1]);
    let p = write_zip(tmp.path(), "dup.zip", &with_entry(&base, &twin, b"other"));
    let mut raw = std::fs::read(&p).unwrap();
    replace_all(&mut raw, twin.as_bytes(), victim.as_bytes());
    std::fs::write(&p, &raw).unwrap();
    refused(vec![p], d, "appears twice").await;

    // The same name in two parts with different content.
    let body = &base.iter().find(|(n, _)| n == victim).unwrap().1;
    let mut changed = body.clone();
    changed.push(b' ');
    let part2 = write_zip(
        tmp.path(),
        &format!("{stem}-2.zip"),
        &[(victim.to_owned(), changed)],
    );
    refused(vec![ok.clone(), part2], d, "with different content").await;
    // …and names differing only by case across parts.
    let part3 = write_zip(
        tmp.path(),
        &format!("{stem}-3.zip"),
        &[(victim.to_uppercase(), b"x".to_vec())],
    );
    refused(vec![ok, part3], d, "differ only by case").await;
}
