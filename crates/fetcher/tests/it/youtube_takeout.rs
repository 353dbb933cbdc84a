//! A channel's Google Takeout (`YouTube and YouTube Music`): exports built at test time as zip
//! and as tgz (whole, or split into two parts) from `tests/fixtures/youtube/takeout/<case>/`,
//! plus hand-crafted hostile archives.
//!
//! Case `a` is a 2024-style Takeout: two videos sharing an Arabic title (` (1)` for the newer),
//! a title with `:` and `|`, one with diacritics and emoji, a video without its file, a file
//! without its row, community posts (one image missing), a BOM, and private folders. Case `b`
//! is an older one: headers in other case and spacing, other timestamp formats, no channel.csv,
//! no `Takeout/` prefix.

use std::path::{Path, PathBuf};

use fetcher::export_zip::ZipLimits;
use fetcher::platforms::youtube::takeout::YouTubeTakeout;
use fetcher::{MemorySink, Report, Source};
use flate2::Compression;
use flate2::write::GzEncoder;
use model::{GapReason, ItemKind, Platform, Route};
use time::macros::datetime;

use crate::conformance::expect_error;
use crate::export_support::{
    self, Entries, assert_bytes_absent, assert_nothing_emitted, bomb_limits, conform,
    fixture_entries, ids, refused, run, sha_of, with_entry, write_zip, write_zip_with_symlink,
};

const ROOT: &str = "Takeout/YouTube and YouTube Music/";
const CHANNEL: &str = "UCa1B2c3D4e5F6g7H8i9J0kL";
const GRAD: &str = "حفل التخرج ١٤٤٦هـ 🎓";

type Yt = YouTubeTakeout;

/// The files of fixture `case`, every name under `prefix`.
fn case(name: &str, prefix: &str) -> Entries {
    fixture_entries(&format!("youtube/takeout/{name}"), prefix)
}

/// Case `a` as Takeout delivers it, with Takeout's index beside the product folder.
fn sample() -> Entries {
    let mut e = vec![(
        "Takeout/archive_browser.html".to_owned(),
        b"<html><body>Archive overview</body></html>".to_vec(),
    )];
    e.extend(case("a", ROOT));
    e
}

/// A .tgz of `entries` (names through `tar`'s own path handling: long Arabic names become GNU
/// long-name records).
fn write_tgz(dir: &Path, name: &str, entries: &[(String, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    let gz = GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    for (n, body) in entries {
        let mut h = file_header(body.len());
        h.set_mtime(1_727_000_000);
        b.append_data(&mut h, n, body.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    path
}

/// A GNU header for a regular file of `len` bytes, mode 0644.
fn file_header(len: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h
}

#[derive(Clone, Copy)]
enum Raw<'a> {
    File(&'a [u8], &'a [u8]),
    Symlink(&'a [u8]),
    Hardlink(&'a [u8]),
}

/// A .tgz of `entries` plus raw entries whose names are written unchecked.
fn write_hostile_tgz(
    dir: &Path,
    name: &str,
    entries: &[(String, Vec<u8>)],
    raw: &[Raw],
) -> PathBuf {
    let path = dir.join(name);
    let gz = GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    for (n, body) in entries {
        b.append_data(&mut file_header(body.len()), n, body.as_slice())
            .unwrap();
    }
    for r in raw {
        let (n, kind, body): (&[u8], tar::EntryType, &[u8]) = match *r {
            Raw::File(n, body) => (n, tar::EntryType::Regular, body),
            Raw::Symlink(n) => (n, tar::EntryType::Symlink, b""),
            Raw::Hardlink(n) => (n, tar::EntryType::Link, b""),
        };
        let mut h = file_header(body.len());
        h.as_old_mut().name[..n.len()].copy_from_slice(n);
        h.set_entry_type(kind);
        if kind != tar::EntryType::Regular {
            h.set_link_name_literal(b"/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
    path
}

/// Every stored file is byte-exact, with one `IMPORT` log entry each; nothing private stored.
fn assert_byte_exact(sink: &MemorySink, entries: &Entries) {
    export_support::assert_byte_exact(sink, entries);
    assert_bytes_absent(sink, &[&b"placeholder private"[..], b"UCprivate"]);
    assert!(!sink.export_files.keys().any(|k| {
        k.contains("/history/") || k.contains("/subscriptions/") || k.contains("/music (")
    }));
}

/// What a user relies on in an import of case `a`, whatever its format or parts.
#[allow(clippy::too_many_lines)]
fn assert_sample_imported(report: &Report, sink: &MemorySink, entries: &Entries) {
    assert_eq!(sink.account.as_ref().unwrap().as_str(), CHANNEL);
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.id, CHANNEL);
    assert_eq!(
        profile.display_name.as_deref(),
        Some("مدرسة النور الأهلية 🏫")
    );
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.youtube.com/channel/UCa1B2c3D4e5F6g7H8i9J0kL")
    );

    assert_eq!(
        ids(sink),
        [
            "Grad2024bBB",
            "Grad2024aAA",
            "National94x",
            "Teacher5Day",
            "SciFair2024",
            "UgkxPost1aaa",
            "UgkxPost2bbb",
            "UgkxPost3ccc"
        ]
    );
    let videos = &sink.items[..5];
    assert!(videos.iter().all(|i| i.kind == ItemKind::Video));
    assert!(sink.items[5..].iter().all(|i| i.kind == ItemKind::Post));
    assert!(sink.items.iter().all(|i| i.route == Route::Export));
    assert!(sink.items.iter().all(|i| i.platform == Platform::Youtube));

    // Every video matched to its own file: the two of one title by upload order (the newer,
    // listed first in the CSV, is " (1)"); `:` and `|` became `_`; diacritics and emoji kept.
    let v = |name: &str| format!("{ROOT}videos/{name}");
    let expect = [
        (0, v(&format!("{GRAD} (1).mp4"))),
        (1, v(&format!("{GRAD}.mp4"))),
        (2, v("اليوم الوطني_ فعاليات _ الجزء ٢.mov")),
        (3, v("يَوْمُ المُعَلِّم 🎉.webm")),
    ];
    for (i, file) in &expect {
        let m = &sink.items[*i].media;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].original_url, *file, "item {i}");
        assert_eq!(m[0].sha256, Some(sha_of(sink, file)), "item {i}");
    }
    assert!(
        sink.export_files[&v(&format!("{GRAD}.mp4"))]
            .0
            .ends_with(b"(Grad2024aAA)"),
        "the plain name is the older video's file"
    );

    // Text: the title, a blank line and the description, exactly as in the CSV.
    assert_eq!(
        sink.items[0].text,
        format!("{GRAD}\n\nالجزء الثاني من الحفل")
    );
    assert_eq!(sink.items[2].text, "اليوم الوطني: فعاليات | الجزء ٢");
    assert_eq!(
        sink.items[3].text,
        "يَوْمُ المُعَلِّم 🎉\n\nسطر أول\nسطر ثانٍ، مع فاصلة, و\"اقتباس\" 🎉"
    );
    assert_eq!(sink.items[0].lang.as_deref(), Some("ar"));
    // Publish time (fractional create time ignored), Z form, and create time when unpublished.
    assert_eq!(sink.items[0].created_at, datetime!(2024-06-03 10:00:00 UTC));
    assert_eq!(sink.items[3].created_at, datetime!(2024-10-05 07:30:00 UTC));
    assert_eq!(sink.items[4].created_at, datetime!(2024-03-10 12:00:00 UTC));
    assert_eq!(
        sink.items[0].url.as_deref(),
        Some("https://www.youtube.com/watch?v=Grad2024bBB")
    );
    assert_eq!(
        sink.items[0].source_path.as_deref(),
        Some(format!("data/original/export/{ROOT}video metadata/videos.csv").as_str())
    );

    // The video without a file keeps its watch URL, unstored, with a gap.
    let sci = &sink.items[4];
    assert_eq!(sci.media[0].sha256, None);
    assert_eq!(
        sci.media[0].original_url,
        "https://www.youtube.com/watch?v=SciFair2024"
    );

    // Posts: text exact, images found in posts/, the missing one a gap.
    let p1 = &sink.items[5];
    assert_eq!(p1.text, "بداية العام الدراسي ٢٠٢٤ ✏️📖");
    assert_eq!(p1.created_at, datetime!(2024-09-01 05:00:00 UTC));
    assert_eq!(
        p1.url.as_deref(),
        Some("https://www.youtube.com/post/UgkxPost1aaa")
    );
    let img = format!("{ROOT}posts/post_image_1.jpg");
    assert_eq!(p1.media[0].sha256, Some(sha_of(sink, &img)));
    assert_eq!(p1.media[0].original_url, img);
    assert_eq!(sink.items[6].text, "تذكير: الاجتماع غدًا, الساعة ٨");
    assert!(sink.items[6].media.is_empty());
    let p3 = &sink.items[7];
    assert_eq!(p3.media.len(), 2);
    assert!(p3.media[0].sha256.is_some());
    assert!(p3.media[1].sha256.is_none());

    // Gaps: the missing video, the missing post image, the file no row names.
    let gaps: Vec<(GapReason, Option<&str>)> = sink
        .gaps
        .iter()
        .map(|g| (g.reason.clone(), g.item_id.as_deref()))
        .collect();
    assert_eq!(
        gaps,
        [
            (GapReason::MissingFromExport, Some("SciFair2024")),
            (GapReason::MissingFromExport, Some("UgkxPost3ccc")),
            (GapReason::Other, None),
        ]
    );
    assert!(
        sink.gaps[0].detail.contains("yt-dlp"),
        "{}",
        sink.gaps[0].detail
    );
    assert!(sink.gaps[1].detail.contains("trip_2.jpg"));
    assert!(
        sink.gaps[2]
            .detail
            .contains("video file not matched to any video id"),
        "{}",
        sink.gaps[2].detail
    );
    assert!(sink.gaps[2].detail.contains("مقطع قديم.mp4"));
    assert!(
        sink.export_files.contains_key(&v("مقطع قديم.mp4")),
        "an unmatched video file is still stored"
    );

    // Every file of the channel stored (playlists, comments, metadata, the Takeout index).
    for f in [
        "Takeout/archive_browser.html".to_owned(),
        format!("{ROOT}playlists/حفلات المدرسة-videos.csv"),
        format!("{ROOT}comments/comments.csv"),
        format!("{ROOT}video metadata/video texts.csv"),
        format!("{ROOT}channels/channel.csv"),
    ] {
        assert!(sink.export_files.contains_key(&f), "{f} stored");
    }
    assert_eq!(sink.export_files.len(), 15);
    assert_byte_exact(sink, entries);

    assert_eq!(report.captured["videos"], 5);
    assert_eq!(report.captured["video_files"], 5);
    assert_eq!(report.captured["posts"], 3);
    assert_eq!(report.captured["media"], 7);
    assert_eq!(report.captured["files"], 15);
    assert_eq!(report.captured["private_files_skipped"], 2);
    assert_eq!(report.captured["unmatched_video_files"], 1);
    let s = &report.statement;
    assert!(s.contains("5 videos (4 with their original file)"), "{s}");
    assert!(s.contains("subscriptions, watch and search history"), "{s}");
    assert!(s.contains("music (library and songs)"), "{s}");
    assert!(s.contains("1 video file could not be matched"), "{s}");
}

#[tokio::test]
async fn imports_a_zip_takeout_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = sample();
    let path = write_zip(tmp.path(), "takeout-20250504T063000Z-001.zip", &entries);
    let source = YouTubeTakeout::open(std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(source.platform(), Platform::Youtube);
    assert_eq!(source.route(), Route::Export);
    let (report, sink) = conform::<Yt>(&[path], None).await;
    assert_sample_imported(&report, &sink, &entries);
    assert!(
        report.statement.contains("(1 zip part)"),
        "{}",
        report.statement
    );
}

#[tokio::test]
async fn a_tgz_takeout_imports_like_the_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = sample();
    let zip = write_zip(tmp.path(), "t.zip", &entries);
    let tgz = write_tgz(tmp.path(), "takeout-20250504T063000Z-001.tgz", &entries);
    let (report, sink) = conform::<Yt>(&[tgz], None).await;
    assert_sample_imported(&report, &sink, &entries);
    assert!(
        report.statement.contains("(1 tgz part)"),
        "{}",
        report.statement
    );

    let (zr, zs) = run::<Yt>(&[zip], ZipLimits::default(), None).await;
    zr.unwrap();
    assert_eq!(sink.items, zs.items, "same items from zip and tgz");
    assert_eq!(sink.gaps, zs.gaps);
    assert_eq!(sink.profile, zs.profile);
    assert_eq!(
        sink.export_files.keys().collect::<Vec<_>>(),
        zs.export_files.keys().collect::<Vec<_>>()
    );
    // Log entries timed by the tar header's mtime.
    assert!(
        sink.log
            .iter()
            .all(|e| e.time.unix_timestamp() == 1_727_000_000)
    );
}

/// Splits `entries` into two parts: the videos in the second, the rest (with channel.csv
/// repeated, as Takeout repeats some files) in the first.
fn split(entries: &Entries) -> (Entries, Entries) {
    let (mut one, two): (Entries, Entries) = entries
        .iter()
        .cloned()
        .partition(|(n, _)| !n.contains("/videos/"));
    let mut two = two;
    let channel = one
        .iter()
        .find(|(n, _)| n.ends_with("channel.csv"))
        .unwrap()
        .clone();
    two.push(channel);
    one.reverse(); // file order inside a part does not matter
    (one, two)
}

#[tokio::test]
async fn split_takeouts_import_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = sample();
    let (one, two) = split(&entries);
    let whole = write_zip(tmp.path(), "whole.zip", &entries);
    let (_, reference) = run::<Yt>(&[whole], ZipLimits::default(), None).await;

    let tgz = [
        write_tgz(tmp.path(), "takeout-001.tgz", &one),
        write_tgz(tmp.path(), "takeout-002.tgz", &two),
    ];
    let (report, sink) = conform::<Yt>(&tgz, None).await;
    assert_sample_imported(&report, &sink, &entries);
    assert!(
        report.statement.contains("(2 tgz parts)"),
        "{}",
        report.statement
    );
    assert_eq!(sink.items, reference.items);

    let zip = [
        write_zip(tmp.path(), "takeout-001.zip", &one),
        write_zip(tmp.path(), "takeout-002.zip", &two),
    ];
    let (report, sink) = conform::<Yt>(&zip, None).await;
    assert_sample_imported(&report, &sink, &entries);
    assert_eq!(sink.items, reference.items);

    // One zip and one tgz: not the parts of one export.
    refused::<Yt>(
        &[zip[0].clone(), tgz[1].clone()],
        ZipLimits::default(),
        "mix",
    )
    .await;
}

#[tokio::test]
async fn headers_in_other_case_and_spacing_and_no_channel_file() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case("b", "YouTube and YouTube Music/");
    for (name, path) in [
        ("b.zip", write_zip(tmp.path(), "b.zip", &entries)),
        ("b.tgz", write_tgz(tmp.path(), "b.tgz", &entries)),
    ] {
        // No channel.csv nor Channel ID column: the account must be given.
        let (r, sink) = run::<Yt>(std::slice::from_ref(&path), ZipLimits::default(), None).await;
        let e = expect_error(r, "bad_export");
        assert!(e.to_string().contains("--account"), "{name}: {e}");
        assert_nothing_emitted(&sink);

        let (report, sink) = conform::<Yt>(
            std::slice::from_ref(&path),
            Some("UCb0000000000000000000000"),
        )
        .await;
        assert_eq!(
            sink.account.as_ref().unwrap().as_str(),
            "UCb0000000000000000000000"
        );
        assert!(sink.profile.is_none());
        assert_eq!(ids(&sink), ["FieldTrip01", "Assembly002"]);
        assert_eq!(
            sink.items[0].text,
            "رحلة: المتحف الوطني\n\nزيارة الصف الخامس"
        );
        assert_eq!(sink.items[1].text, "الإذاعة الصباحية?");
        // "YYYY-MM-DD HH:MM:SS UTC", and a zone-less create time when unpublished.
        assert_eq!(sink.items[0].created_at, datetime!(2023-11-05 09:00:00 UTC));
        assert_eq!(sink.items[1].created_at, datetime!(2023-11-06 06:30:00 UTC));
        for (i, f) in ["رحلة_ المتحف الوطني.mp4", "الإذاعة الصباحية_.mp4"]
            .iter()
            .enumerate()
        {
            let f = format!("YouTube and YouTube Music/videos/{f}");
            assert_eq!(
                sink.items[i].media[0].sha256,
                Some(sha_of(&sink, &f)),
                "{name}"
            );
        }
        assert!(sink.gaps.is_empty(), "{name}: {:?}", sink.gaps);
        assert_eq!(report.captured["video_files"], 2);
        assert_byte_exact(&sink, &entries);
    }
}

#[tokio::test]
async fn a_missing_required_column_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut entries = sample();
    let csv = entries
        .iter_mut()
        .find(|(n, _)| n.ends_with("video metadata/videos.csv"))
        .unwrap();
    csv.1 = "\u{feff}Video ID,Privacy,Video Create Timestamp\r\nGrad2024aAA,Public,2024-06-01T08:00:00+00:00\r\n"
        .as_bytes()
        .to_vec();
    for path in [
        write_zip(tmp.path(), "t.zip", &entries),
        write_tgz(tmp.path(), "t.tgz", &entries),
    ] {
        let (r, sink) = run::<Yt>(&[path], ZipLimits::default(), None).await;
        let e = expect_error(r, "malformed");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{ROOT}video metadata/videos.csv")),
            "{msg}"
        );
        assert!(msg.contains("Video Title"), "{msg}");
        assert!(
            msg.contains(r#"columns found: "Video ID", "Privacy", "Video Create Timestamp""#),
            "{msg}"
        );
        assert_nothing_emitted(&sink);
    }
}

#[tokio::test]
async fn account_given_must_be_the_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_zip(tmp.path(), "t.zip", &sample());
    let (r, sink) = run::<Yt>(
        std::slice::from_ref(&path),
        ZipLimits::default(),
        Some("someoneelse"),
    )
    .await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains(CHANNEL), "{e}");
    assert_nothing_emitted(&sink);
    let (r, sink) = run::<Yt>(&[path], ZipLimits::default(), Some(CHANNEL)).await;
    r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), CHANNEL);
}

#[tokio::test]
async fn not_a_takeout_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let z = write_zip(
        tmp.path(),
        "x.zip",
        &[("Takeout/Drive/notes.txt".to_owned(), b"x".to_vec())],
    );
    refused::<Yt>(&[z], ZipLimits::default(), "not a YouTube Takeout").await;
    let junk = tmp.path().join("junk.tgz");
    std::fs::write(&junk, b"plain text").unwrap();
    refused::<Yt>(&[junk], ZipLimits::default(), "neither a .zip nor a .tgz").await;
    // Video files without videos.csv cannot be joined to their ids: refused, not guessed.
    let entries: Entries = sample()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("videos.csv"))
        .collect();
    let z = write_zip(tmp.path(), "nometa.zip", &entries);
    let (r, sink) = run::<Yt>(&[z], ZipLimits::default(), None).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("video metadata"), "{e}");
    assert_nothing_emitted(&sink);
}

#[tokio::test]
async fn hostile_tgz_is_refused_with_nothing_emitted() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let base = sample();
    let t = |name: &str, raw: &[Raw]| write_hostile_tgz(tmp.path(), name, &base, raw);
    for (name, raw, reason) in [
        ("trav1.tgz", Raw::File(b"../evil.txt", b"pwned"), "escapes"),
        (
            "trav2.tgz",
            Raw::File(b"Takeout/../../evil.txt", b"pwned"),
            "escapes",
        ),
        (
            "abs.tgz",
            Raw::File(b"/etc/cron.d/x", b"pwned"),
            "absolute path",
        ),
        (
            "link.tgz",
            Raw::Symlink(b"Takeout/YouTube and YouTube Music/videos/l.mp4"),
            "symbolic link",
        ),
        (
            "hard.tgz",
            Raw::Hardlink(b"Takeout/YouTube and YouTube Music/videos/h.mp4"),
            "hard link",
        ),
        (
            "dup.tgz",
            Raw::File(b"Takeout/archive_browser.html", b"other"),
            "appears twice",
        ),
        (
            "case.tgz",
            Raw::File(b"Takeout/ARCHIVE_browser.html", b"other"),
            "differ only by case",
        ),
    ] {
        refused::<Yt>(&[t(name, &[raw])], d, reason).await;
    }
    assert!(!tmp.path().join("evil.txt").exists());

    // 40 MiB of zeros gzip to ~40 KiB.
    let zeros = vec![0u8; 40 << 20];
    let p = t(
        "bomb.tgz",
        &[Raw::File(
            b"Takeout/YouTube and YouTube Music/videos/bomb.mp4",
            &zeros,
        )],
    );
    refused::<Yt>(&[p], bomb_limits(), "gzip bomb").await;

    // Across parts: different content under one name, and names differing only by case.
    let ok = write_tgz(tmp.path(), "ok.tgz", &base);
    let victim = format!("{ROOT}channels/channel.csv");
    let p2 = write_tgz(
        tmp.path(),
        "p2.tgz",
        &[(victim.clone(), b"Channel ID\nUCx\n".to_vec())],
    );
    refused::<Yt>(&[ok.clone(), p2], d, "with different content").await;
    let p3 = write_tgz(
        tmp.path(),
        "p3.tgz",
        &[(victim.to_uppercase(), b"x".to_vec())],
    );
    refused::<Yt>(&[ok, p3], d, "differ only by case").await;
}

#[tokio::test]
async fn hostile_zip_is_refused_with_nothing_emitted() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let base = sample();
    let with = |name: &str, body: &[u8]| with_entry(&base, name, body);
    let p = write_zip(
        tmp.path(),
        "trav.zip",
        &with("Takeout/../../evil.txt", b"pwned"),
    );
    refused::<Yt>(&[p], d, "escapes").await;
    let p = write_zip(tmp.path(), "abs.zip", &with("/etc/passwd", b"pwned"));
    refused::<Yt>(&[p], d, "absolute path").await;

    let link = format!("{ROOT}videos/l.mp4");
    let p = write_zip_with_symlink(tmp.path(), "link.zip", &base, &link);
    refused::<Yt>(&[p], d, "symbolic link").await;

    let p = write_zip(
        tmp.path(),
        "bomb.zip",
        &with(&format!("{ROOT}videos/bomb.mp4"), &vec![0u8; 40 << 20]),
    );
    refused::<Yt>(&[p], bomb_limits(), "zip bomb").await;

    let p = write_zip(
        tmp.path(),
        "case.zip",
        &with("Takeout/ARCHIVE_browser.html", b"other"),
    );
    refused::<Yt>(&[p], d, "differ only by case").await;
}

#[tokio::test]
async fn a_tgz_changed_after_checking_is_not_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = sample();
    let path = write_tgz(tmp.path(), "t.tgz", &entries);
    let mut source = YouTubeTakeout::open(std::slice::from_ref(&path))
        .await
        .unwrap();
    // Same names and lengths, one video's bytes changed: only the CRC-32 tells.
    let victim = format!("{ROOT}videos/{GRAD}.mp4");
    let changed: Entries = entries
        .iter()
        .map(|(n, b)| {
            let mut b = b.clone();
            if *n == victim {
                let last = b.len() - 2;
                b[last] ^= 0x20;
            }
            (n.clone(), b)
        })
        .collect();
    write_tgz(tmp.path(), "t.tgz", &changed);
    let mut sink = MemorySink::new();
    let e = expect_error(source.capture(&mut sink).await, "bad_export");
    assert!(e.to_string().contains("changed since"), "{e}");
    assert_eq!(sink.discarded, 1, "the sink discarded the changed file");
    assert!(!sink.export_files.contains_key(&victim));
    assert!(
        sink.items.is_empty(),
        "no item derived from a partial import"
    );
}
