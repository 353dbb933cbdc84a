//! The X owner's archive: zips are built at test time from `tests/fixtures/x/export/<case>/`
//! (written from the documented archive shapes: `window.YTD.…`, string numbers, ` : ` and `[ ]`,
//! Arabic with emoji and Eastern Arabic digits), plus hand-crafted hostile zips.

use std::io::Write;
use std::path::{Path, PathBuf};

use fetcher::export_zip::ZipLimits;
use fetcher::platforms::x::export::XExport;
use fetcher::{FetchError, MemorySink, Report, Source};
use model::{GapReason, ItemKind, Platform, Route};
use time::macros::datetime;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::conformance::expect_error;
use crate::export_support::{
    Entries, assert_bad_export, bomb_limits, case_entries, conform_sources, fixture, opts,
    replace_all, run_source, with_entry, write_zip, write_zip_with_symlink,
};

/// The zip of fixture `case`, every file under `prefix`; returns the zip's entries too.
fn zip_case(dir: &Path, case: &str, prefix: &str) -> (PathBuf, Entries) {
    let entries = case_entries("x", case, prefix);
    (write_zip(dir, &format!("{case}.zip"), &entries), entries)
}

async fn run(path: &Path) -> (Result<Report, FetchError>, MemorySink) {
    run_source(async { Ok(XExport::open(path).await.expect("open")) }).await
}

/// Runs the conformance harness over two imports of the same zip.
async fn conform(path: &Path) -> (Report, MemorySink) {
    conform_sources(|| XExport::open(path)).await
}

const ID1: &str = "1790000000000000001";

#[tokio::test]
async fn imports_a_full_archive_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, entries) = zip_case(tmp.path(), "happy", "");
    let source = XExport::open(&path).await.unwrap();
    assert_eq!(source.platform(), Platform::X);
    assert_eq!(source.route(), Route::Export);
    let (report, sink) = conform(&path).await;

    assert_eq!(
        sink.account.as_ref().unwrap().as_str(),
        "1234567890123456789"
    );
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username.as_deref(), Some("alnoor_school"));
    assert_eq!(profile.display_name.as_deref(), Some("مدرسة النور 🏫"));
    assert_eq!(
        profile.description.as_deref(),
        Some("الحساب الرسمي لمدرسة النور — تأسست عام ١٩٩٥ 📚")
    );
    assert_eq!(profile.route, Route::Export);
    assert_eq!(profile.url.as_deref(), Some("https://x.com/alnoor_school"));

    // Every imported file is byte-exact; private and other files are not imported.
    let imported: Vec<&str> = sink.export_files.keys().map(String::as_str).collect();
    assert_eq!(
        imported,
        vec![
            "Your archive.html",
            "data/account.js",
            "data/manifest.js",
            "data/note-tweet.js",
            "data/profile.js",
            "data/tweets.js",
            "data/tweets_media/1790000000000000001-GNa1bC2XsAAq9Zk.jpg",
            "data/tweets_media/1790000000000000002-Rq8sT3uVwXyZ1aB2.mp4",
        ]
    );
    for (name, body) in &entries {
        if let Some((stored, _)) = sink.export_files.get(name) {
            assert_eq!(stored.as_ref(), body.as_slice(), "{name} stored byte-exact");
        }
    }
    let all = sink.all_bytes();
    let dm = "رسالة خاصة".as_bytes();
    assert!(!all.windows(dm.len()).any(|w| w == dm), "a DM leaked");
    assert!(!sink.log.iter().any(|e| {
        e.source_path
            .as_deref()
            .is_some_and(|p| p.contains("direct") || p.contains("ad-"))
    }));

    // One IMPORT log entry per stored file, reproducible time, hashes.
    assert_eq!(sink.log.len(), sink.export_files.len());
    for e in &sink.log {
        assert_eq!(e.method, "IMPORT");
        assert_eq!(e.url, "");
        assert!(e.tool.starts_with("tawthiq "));
        let name = e.source_path.as_ref().unwrap();
        let (_, stored) = &sink.export_files[name];
        assert_eq!(e.payload_path.as_deref(), Some(stored.path.as_str()));
        assert_eq!(e.body_sha256, Some(stored.sha256));
        assert_eq!(e.source_sha256, Some(stored.sha256));
        assert_eq!(e.body_bytes, Some(stored.size));
        assert_eq!(
            e.time,
            datetime!(1980-01-01 00:00:00 UTC),
            "the zip's DOS time"
        );
    }
    assert_eq!(sink.log[0].source_path.as_deref(), Some("data/account.js"));

    let tweets_path = sink.export_files["data/tweets.js"].1.path.clone();
    let photo_sha = sink.export_files[&format!("data/tweets_media/{ID1}-GNa1bC2XsAAq9Zk.jpg")]
        .1
        .sha256;
    let video_sha = sink.export_files["data/tweets_media/1790000000000000002-Rq8sT3uVwXyZ1aB2.mp4"]
        .1
        .sha256;

    assert_eq!(sink.items.len(), 7);
    for i in &sink.items {
        assert_eq!(i.platform, Platform::X);
        assert_eq!(i.route, Route::Export);
        assert_eq!(i.lang.as_deref(), Some("ar"));
        assert_eq!(i.source_path.as_deref(), Some(tweets_path.as_str()));
        assert_eq!(
            i.url.as_deref(),
            Some(format!("https://x.com/alnoor_school/status/{}", i.id).as_str())
        );
    }
    let photo = &sink.items[0];
    assert_eq!(photo.id, ID1);
    assert_eq!(photo.kind, ItemKind::Post);
    assert_eq!(photo.created_at, datetime!(2024-05-12 08:00:00 UTC));
    assert_eq!(
        photo.text,
        "احتفلنا اليوم بطلابنا ١٢٣ 🎉 #يوم_التأسيس https://t.co/Ph0t0AbCd"
    );
    assert_eq!(photo.metrics["likes"], 42);
    assert_eq!(photo.metrics["reposts"], 7);
    assert_eq!(photo.media.len(), 1);
    assert_eq!(photo.media[0].sha256, Some(photo_sha));
    assert_eq!(
        photo.media[0].original_url,
        "https://pbs.twimg.com/media/GNa1bC2XsAAq9Zk.jpg"
    );
    assert!(photo.references.is_empty());

    let video = &sink.items[1];
    assert_eq!(video.kind, ItemKind::Post);
    assert_eq!(video.created_at, datetime!(2024-05-12 08:30:05 UTC));
    assert_eq!(video.metrics["likes"], 100);
    let v = &video.media[0];
    assert_eq!(v.sha256, Some(video_sha));
    assert_eq!(v.offered.len(), 4);
    let chosen = v.chosen.as_ref().unwrap();
    assert_eq!(chosen.bitrate, Some(2_176_000));
    assert_eq!(v.original_url, chosen.url);
    assert!(chosen.url.contains("HighQ.mp4"));
    assert!(
        v.offered.iter().any(|r| r.bitrate.is_none()),
        "HLS kept as offered"
    );

    let reply = &sink.items[2];
    assert_eq!(reply.kind, ItemKind::Reply);
    assert_eq!(reply.references, vec!["1780000000000000009".to_owned()]);
    assert_eq!(reply.metrics["likes"], 0);
    assert_eq!(
        reply.text,
        "@parent_sa شكراً لكم، الدوام يبدأ الساعة ٧:٣٠ صباحاً 🙏"
    );

    let repost = &sink.items[3];
    assert_eq!(repost.kind, ItemKind::Repost);
    assert!(repost.text.starts_with("RT @moe_gov_sa: "));
    assert_eq!(repost.metrics["reposts"], 35);

    let quote = &sink.items[4];
    assert_eq!(quote.kind, ItemKind::Quote);
    assert_eq!(quote.references, vec!["1780000000000000777".to_owned()]);

    let long = &sink.items[5];
    assert_eq!(
        long.kind,
        ItemKind::Post,
        "a permalink to itself is not a quote"
    );
    assert!(long.text.starts_with("تعلن إدارة مدرسة النور"));
    assert!(long.text.ends_with("بالتوفيق لجميع طلابنا وطالباتنا 🌟📖"));
    assert!(!long.text.contains('…'));
    let b = &sink.items[6];
    assert_eq!(
        b.text,
        "تذكير: اجتماع أولياء الأمور يوم الخميس ٣٠ مايو في قاعة المدرسة الساعة ٦:٠٠ مساءً. الحضور مهم لمناقشة نتائج الفصل ✅"
    );

    // Gaps: only the note about archive image sizes.
    assert_eq!(sink.gaps.len(), 1, "{:?}", sink.gaps);
    assert_eq!(sink.gaps[0].reason, GapReason::Other);
    assert!(sink.gaps[0].detail.contains("smaller"));

    assert_eq!(report.captured["posts"], 7);
    assert_eq!(report.captured["media"], 2);
    assert_eq!(report.captured["files"], 8);
    assert_eq!(report.captured["private_files_skipped"], 3);
    assert_eq!(report.platform_reported["posts"], 7);
    assert!(
        report.statement.contains("3 private files"),
        "{}",
        report.statement
    );
    assert!(report.statement.contains("direct messages"));
    assert!(report.statement.contains("API route"));
}

#[tokio::test]
async fn imports_split_and_old_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = zip_case(tmp.path(), "split", "");
    let (report, sink) = conform(&path).await;
    let ids: Vec<&str> = sink.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["1700000000000000001", "1700000000000000002"]);
    assert_eq!(
        sink.items[0].source_path.as_deref(),
        Some(sink.export_files["data/tweets-part1.js"].1.path.as_str())
    );
    assert_eq!(
        sink.items[1].source_path.as_deref(),
        Some(sink.export_files["data/tweets-part2.js"].1.path.as_str())
    );
    assert_eq!(
        sink.items[1].media[0].sha256,
        Some(
            sink.export_files["data/tweets_media/1700000000000000002-FaB2cD.jpg"]
                .1
                .sha256
        )
    );
    assert_eq!(report.captured["posts"], 2);

    // An old archive: tweet.js with bare objects, tweet_media/, all under one top-level folder.
    let top = "twitter-2019-03-01-5f0a1b2c/";
    let (path, entries) = zip_case(tmp.path(), "old", top);
    let (_, sink) = conform(&path).await;
    assert_eq!(sink.items.len(), 1);
    let item = &sink.items[0];
    assert_eq!(item.id, "1100000000000000001");
    assert_eq!(item.created_at, datetime!(2019-03-01 12:00:00 UTC));
    assert_eq!(item.text, "أرشيف قديم ٢٠١٩ 🗂️ https://t.co/OldPic");
    assert_eq!(item.metrics["likes"], 4);
    let media_name = format!("{top}data/tweet_media/1100000000000000001-DzOld9Pic.jpg");
    assert_eq!(
        item.media[0].sha256,
        Some(sink.export_files[&media_name].1.sha256)
    );
    assert_eq!(
        sink.export_files.len(),
        entries.len(),
        "every file imported"
    );
    assert!(
        sink.export_files
            .contains_key(&format!("{top}data/tweet.js"))
    );
}

#[tokio::test]
async fn missing_media_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = zip_case(tmp.path(), "missing", "");
    let (report, sink) = conform(&path).await;
    let item = &sink.items[0];
    assert_eq!(item.media[0].sha256, None);
    assert_eq!(
        item.media[0].original_url,
        "https://pbs.twimg.com/media/GoneAway1.jpg"
    );
    let gap = sink
        .gaps
        .iter()
        .find(|g| g.reason == GapReason::MissingFromExport)
        .expect("a MissingFromExport gap");
    assert_eq!(gap.item_id.as_deref(), Some(ID1));
    assert_eq!(
        gap.url.as_deref(),
        Some("https://pbs.twimg.com/media/GoneAway1.jpg")
    );
    assert_eq!(report.captured["media"], 0);
}

#[tokio::test]
async fn malformed_and_empty_archives_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = zip_case(tmp.path(), "malformed", "");
    let (r, sink) = run(&path).await;
    let e = expect_error(r, "malformed");
    assert!(e.to_string().contains("data/tweets.js"), "{e}");
    assert!(
        sink.account.is_none() && sink.export_files.is_empty(),
        "nothing emitted"
    );

    let (path, _) = zip_case(tmp.path(), "empty", "");
    let (r, sink) = run(&path).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("tweets.js"), "{e}");
    assert!(
        sink.account.is_none() && sink.export_files.is_empty(),
        "not an empty bundle"
    );

    // No account.js.
    let entries = vec![(
        "data/tweets.js".to_owned(),
        std::fs::read(fixture("x/export/happy/data/tweets.js")).unwrap(),
    )];
    let path = write_zip(tmp.path(), "noaccount.zip", &entries);
    let (r, sink) = run(&path).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("account.js"), "{e}");
    assert!(sink.account.is_none());

    // No data/ at all.
    let path = write_zip(
        tmp.path(),
        "other.zip",
        &[("notes.txt".into(), b"hi".to_vec())],
    );
    let e = expect_error(XExport::open(&path).await, "bad_export");
    assert!(e.to_string().contains("not an X archive"), "{e}");
}

// ------------------------------------------------------------------------------------------
// Hostile zips

fn happy_entries() -> Entries {
    case_entries("x", "happy", "")
}

/// Opens (and if that passes, imports) `path`; asserts a `bad_export` refusal whose message
/// contains `reason`, that nothing reached the sink, and that nothing was written anywhere.
async fn refused(path: &Path, limits: ZipLimits, reason: &str) -> MemorySink {
    let out = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    let (result, sink) = run_source(XExport::open_with(path, limits)).await;
    assert_bad_export(result, reason);
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "output folder stays empty"
    );
    let after: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "no file created next to the zip");
    assert!(
        !path
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("evil.txt")
            .exists()
    );
    sink
}

async fn refused_at_open(entries: Entries, limits: ZipLimits, reason: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_zip(tmp.path(), "hostile.zip", &entries);
    let sink = refused(&path, limits, reason).await;
    assert!(sink.account.is_none() && sink.export_files.is_empty() && sink.log.is_empty());
}

fn with(extra: &str, body: &[u8]) -> Entries {
    with_entry(&happy_entries(), extra, body)
}

#[tokio::test]
async fn refuses_escaping_names() {
    let d = ZipLimits::default();
    refused_at_open(with("../evil.txt", b"pwned"), d, "escapes").await;
    refused_at_open(with("data/../../evil.txt", b"pwned"), d, "escapes").await;
    refused_at_open(with("/etc/passwd", b"root:x:0:0"), d, "absolute path").await;
    refused_at_open(with("data\\..\\..\\x", b"x"), d, "escapes").await;
    refused_at_open(with("C:/Windows/evil.dll", b"x"), d, "drive letter").await;
    refused_at_open(with("data/a\u{1}b.js", b"x"), d, "control character").await;
}

#[tokio::test]
async fn refuses_symlinks_and_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_zip_with_symlink(
        tmp.path(),
        "link.zip",
        &happy_entries(),
        "data/tweets_media/1-x.jpg",
    );
    refused(&path, ZipLimits::default(), "symbolic link").await;

    refused_at_open(
        with("data/Tweets.js", b"window.YTD.tweets.part0 = [ ]"),
        ZipLimits::default(),
        "duplicate",
    )
    .await;

    // Exact duplicates (the zip crate keeps one per name): a same-length twin renamed in the
    // raw bytes.
    let mut entries = happy_entries();
    entries.push(("data/accoun2.js".into(), b"x".to_vec()));
    let path = write_zip(tmp.path(), "dup.zip", &entries);
    let mut raw = std::fs::read(&path).unwrap();
    replace_all(&mut raw, b"data/accoun2.js", b"data/account.js");
    std::fs::write(&path, &raw).unwrap();
    refused(&path, ZipLimits::default(), "appears twice").await;

    // Encrypted: set the encryption flag of an entry in both headers.
    let path = write_zip(tmp.path(), "enc.zip", &happy_entries());
    let mut raw = std::fs::read(&path).unwrap();
    patch_headers(&mut raw, b"data/profile.js", |h, local| {
        let at = if local { 6 } else { 8 };
        h[at] |= 1;
    });
    std::fs::write(&path, &raw).unwrap();
    refused(&path, ZipLimits::default(), "encrypted").await;
}

/// Calls `f(header, is_local)` on the local and central headers of entry `name`.
fn patch_headers(raw: &mut [u8], name: &[u8], f: impl Fn(&mut [u8], bool)) {
    let mut hits = 0;
    for p in 0..raw.len().saturating_sub(name.len()) {
        if &raw[p..p + name.len()] != name {
            continue;
        }
        if p >= 30 && raw[p - 30..p - 26] == [0x50, 0x4b, 0x03, 0x04] {
            f(&mut raw[p - 30..p], true);
            hits += 1;
        } else if p >= 46 && raw[p - 46..p - 42] == [0x50, 0x4b, 0x01, 0x02] {
            f(&mut raw[p - 46..p], false);
            hits += 1;
        }
    }
    assert_eq!(
        hits,
        2,
        "found both headers of {}",
        String::from_utf8_lossy(name)
    );
}

#[tokio::test]
async fn refuses_oversized_entries_and_bombs() {
    let small = ZipLimits {
        max_entry_bytes: 1024 * 1024,
        ..ZipLimits::default()
    };
    // Pseudo-random bytes: they do not compress, so only the size cap applies.
    let mut x: u32 = 0x9e37_79b9;
    let big: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    refused_at_open(
        with("data/tweets_media/1790000000000000001-huge.mp4", &big),
        small,
        "more than the 1048576 allowed per entry",
    )
    .await;
    let total = ZipLimits {
        max_total_bytes: 1024 * 1024,
        ..ZipLimits::default()
    };
    refused_at_open(
        with("data/tweets_media/1790000000000000001-huge.mp4", &big),
        total,
        "declared total",
    )
    .await;
    let few = ZipLimits {
        max_entries: 5,
        ..ZipLimits::default()
    };
    refused_at_open(happy_entries(), few, "entries, more than the 5 allowed").await;

    // 50 MiB of zeros deflate to ~50 KiB.
    let zeros = vec![0u8; 50 * 1024 * 1024];
    refused_at_open(
        with("data/tweets_media/1-bomb.mp4", &zeros),
        bomb_limits(),
        "zip bomb",
    )
    .await;
}

#[tokio::test]
async fn refuses_lying_and_damaged_entries_mid_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let media = format!("data/tweets_media/{ID1}-GNa1bC2XsAAq9Zk.jpg");

    // The header declares 100 bytes; the deflated data holds more.
    let path = write_zip(tmp.path(), "liar.zip", &happy_entries());
    let mut raw = std::fs::read(&path).unwrap();
    patch_headers(&mut raw, media.as_bytes(), |h, local| {
        let at = if local { 22 } else { 24 };
        h[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
    });
    std::fs::write(&path, &raw).unwrap();
    let sink = refused(
        &path,
        ZipLimits::default(),
        "more than the 100 bytes its header declares",
    )
    .await;
    assert!(
        !sink.export_files.contains_key(&media),
        "the partial body was discarded"
    );
    assert_eq!(sink.discarded, 1);
    assert!(sink.items.is_empty(), "the refusal stops the import");

    // A stored (uncompressed) entry with one flipped byte: CRC-32 mismatch.
    let path = tmp.path().join("crc.zip");
    let mut w = ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (n, b) in happy_entries() {
        let o = if n == media {
            SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
        } else {
            opts()
        };
        w.start_file(n, o).unwrap();
        w.write_all(&b).unwrap();
    }
    w.finish().unwrap();
    let mut raw = std::fs::read(&path).unwrap();
    let jfif = raw.windows(5).position(|w| w == b"JFIF\0").unwrap();
    raw[jfif + 100] ^= 0xff;
    std::fs::write(&path, &raw).unwrap();
    let sink = refused(&path, ZipLimits::default(), "CRC-32 mismatch").await;
    assert!(!sink.export_files.contains_key(&media));
    assert_eq!(sink.discarded, 1);
}

#[tokio::test]
async fn refuses_what_is_not_a_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("archive.zip");
    std::fs::write(&path, "window.YTD.tweets.part0 = [ ]").unwrap();
    refused(&path, ZipLimits::default(), "not a zip archive").await;

    let good = write_zip(tmp.path(), "good.zip", &happy_entries());
    let raw = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.zip");
    std::fs::write(&cut, &raw[..raw.len() / 2]).unwrap();
    refused(&cut, ZipLimits::default(), "not a zip archive").await;

    let e = expect_error(
        XExport::open(&tmp.path().join("absent.zip")).await,
        "bad_export",
    );
    assert!(e.to_string().contains("cannot open"), "{e}");
}

#[tokio::test]
async fn keeps_cp437_names_as_decoded() {
    // Without the UTF-8 flag, names are CP437: "é" is 0x82. The zip writer sets the flag for
    // non-ASCII names, so patch a same-length ASCII name to the CP437 byte.
    let tmp = tempfile::tempdir().unwrap();
    let mut entries = happy_entries();
    entries.push(("data/profile_media/caf~.jpg".into(), b"img".to_vec()));
    let path = write_zip(tmp.path(), "cp437.zip", &entries);
    let mut raw = std::fs::read(&path).unwrap();
    replace_all(&mut raw, b"caf~.jpg", b"caf\x82.jpg");
    std::fs::write(&path, &raw).unwrap();
    let (r, sink) = run(&path).await;
    r.unwrap();
    assert!(
        sink.export_files
            .contains_key("data/profile_media/café.jpg")
    );
}
