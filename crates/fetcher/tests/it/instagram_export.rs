//! Instagram's "Download Your Information" export: zips are built at test time from
//! `tests/fixtures/instagram/export/<case>/` (one case per layout generation, written by
//! `generate.py` there from the documented shapes, every string Meta-garbled: one `\u00XX`
//! escape per UTF-8 byte), plus hand-crafted hostile zips. The Meta privacy check here is shared
//! with `facebook_export.rs`; the other helpers are in `export_support.rs`.

use fetcher::export_zip::{ExportParts, ZipLimits};
use fetcher::platforms::instagram::export::InstagramExport;
use fetcher::{MemorySink, Source};
use model::{GapReason, ItemKind, Platform, Route};
use time::macros::datetime;

use crate::conformance::expect_error;
use crate::export_support::{
    HostileZips, PRIVATE_BYTES, assert_byte_exact, assert_bytes_absent, assert_nothing_emitted,
    case_entries, conform, hostile_suite, ids, refused, run, sha_of, write_zip,
};

/// No private byte reached the sink, nor any private file of a Meta export.
pub fn assert_no_private(sink: &MemorySink) {
    assert_bytes_absent(sink, &PRIVATE_BYTES);
    assert!(!sink.export_files.keys().any(|k| {
        k.contains("/messages/")
            || k.starts_with("messages")
            || k.contains("contacts")
            || k.contains("security_and_login")
            || k.contains("logged_information")
            || k.contains("ads_information")
    }));
}

// ------------------------------------------------------------------------------------------
// Instagram

type Ig = InstagramExport;
const NAME: &str = "مدرسة النور 🏫";
const BIO: &str = "الحساب الرسمي لمدرسة النور — تأسست عام ١٩٩٥ 📚";
const SINGLE: &str = "اليوم الوطني ٩٤ 🇸🇦 فخورون بطلابنا";
const CAROUSEL: &str = "حفل التخرج ١٤٤٦هـ 🎓 مبروك للخريجين";
const CAFE: &str = "Sortie au café de l'école";
const SECOND: &str = "بداية العام الدراسي ٢٠٢٤ ✏️📖";
const REEL: &str = "جولة في المدرسة 🎬 الجزء ١";
const STORY: &str = "صباح الخير ☀️";

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn imports_the_2025_layout_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("instagram", "ig2025", "");
    let path = write_zip(tmp.path(), "export.zip", &entries);
    let source = InstagramExport::open(std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(source.platform(), Platform::Instagram);
    assert_eq!(source.route(), Route::Export);
    let (report, sink) = conform::<Ig>(&[path], None).await;

    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.school");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username.as_deref(), Some("alnoor.school"));
    assert_eq!(profile.display_name.as_deref(), Some(NAME));
    assert_eq!(profile.description.as_deref(), Some(BIO));
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.instagram.com/alnoor.school/")
    );
    assert!(
        sink.export_files
            .contains_key("media/profile/202401/profile.jpg"),
        "the profile picture is stored as a file of the export"
    );

    // Items: posts in file-number order, then archived, reels, stories.
    assert_eq!(
        ids(&sink),
        [
            "post-1725165900",
            "post-1725252300",
            "post-1725338700",
            "post-1728000000",
            "archived-1673000000",
            "reel-1725400000",
            "story-1725500000",
            "story-1725500000-2",
        ]
    );
    let kinds: Vec<ItemKind> = sink.items.iter().map(|i| i.kind).collect();
    let (post, reel, story) = (ItemKind::Post, ItemKind::Reel, ItemKind::Story);
    assert_eq!(kinds, [post, post, post, post, post, reel, story, story]);
    let texts: Vec<&str> = sink.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            SINGLE,
            CAROUSEL,
            CAFE,
            SECOND,
            "منشور مؤرشف ١",
            REEL,
            STORY,
            ""
        ],
        "Meta-garbled Arabic, emoji and Eastern Arabic digits come back exactly; café is untouched"
    );

    // Single item: caption from media[0]; carousel: top-level caption, every medium.
    let single = &sink.items[0];
    assert_eq!(single.created_at, datetime!(2024-09-01 04:45:00 UTC));
    assert_eq!(single.media.len(), 1);
    assert_eq!(
        single.media[0].sha256,
        Some(sha_of(&sink, "media/posts/202409/17900000000000001.jpg"))
    );
    assert_eq!(
        single.media[0].original_url, "media/posts/202409/17900000000000001.jpg",
        "an export file is named by its path in the export"
    );
    let carousel = &sink.items[1];
    assert_eq!(carousel.media.len(), 2);
    assert_eq!(
        carousel.media[1].sha256,
        Some(sha_of(&sink, "media/posts/202409/17900000000000003.mp4"))
    );
    assert_eq!(
        carousel.source_path.as_deref(),
        Some("data/original/export/your_instagram_activity/media/posts_1.json")
    );
    assert_eq!(
        sink.items[3].source_path.as_deref(),
        Some("data/original/export/your_instagram_activity/media/posts_2.json"),
        "split posts_1/posts_2 are both read"
    );
    for item in &sink.items {
        assert_eq!(item.platform, Platform::Instagram);
        assert_eq!(item.route, Route::Export);
        assert!(item.url.is_none(), "DYI has no permalinks");
    }

    // Stored: every JSON read, every media file (also the unreferenced one), nothing private.
    let stored: Vec<&str> = sink.export_files.keys().map(String::as_str).collect();
    assert_eq!(
        stored,
        [
            "media/archived_posts/202301/17900000000000030.jpg",
            "media/other/17900000000000099.jpg",
            "media/posts/202409/17900000000000001.jpg",
            "media/posts/202409/17900000000000002.jpg",
            "media/posts/202409/17900000000000003.mp4",
            "media/posts/202409/17900000000000004.jpg",
            "media/posts/202410/17900000000000005.jpg",
            "media/profile/202401/profile.jpg",
            "media/reels/202409/17900000000000010.mp4",
            "media/stories/202409/17900000000000020.jpg",
            "media/stories/202409/17900000000000021.mp4",
            "personal_information/personal_information/personal_information.json",
            "your_instagram_activity/media/archived_posts.json",
            "your_instagram_activity/media/other_content.json",
            "your_instagram_activity/media/posts_1.json",
            "your_instagram_activity/media/posts_2.json",
            "your_instagram_activity/media/reels.json",
            "your_instagram_activity/media/stories.json",
        ]
    );
    assert_byte_exact(&sink, &entries);
    assert_no_private(&sink);
    assert_eq!(
        sink.log[0].source_path.as_deref(),
        Some("personal_information/personal_information/personal_information.json")
    );
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);

    assert_eq!(report.captured["posts"], 5);
    assert_eq!(report.captured["reels"], 1);
    assert_eq!(report.captured["stories"], 2);
    assert_eq!(report.captured["media"], 11);
    assert_eq!(report.captured["files"], 18);
    assert_eq!(report.captured["private_files_skipped"], 6);
    for needle in [
        "messages",
        "contacts",
        "login and security information",
        "search history",
        "ads information",
        "1 other file (likes",
    ] {
        assert!(
            report.statement.contains(needle),
            "{needle}: {}",
            report.statement
        );
    }
}

#[tokio::test]
async fn imports_the_2024_layout_under_a_top_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let top = "instagram-alnoor.school-2024-06-01-x1/";
    let entries = case_entries("instagram", "ig2024", top);
    let path = write_zip(tmp.path(), "download.zip", &entries);
    let (report, sink) = conform::<Ig>(&[path], None).await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.school");
    assert_eq!(
        ids(&sink),
        ["post-1715500000", "post-1715600000", "story-1715700000"]
    );
    assert_eq!(sink.items[0].text, CAROUSEL);
    assert_eq!(sink.items[0].media.len(), 2);
    assert_eq!(sink.items[1].text, SINGLE);
    assert_eq!(sink.items[2].kind, ItemKind::Story);
    assert_eq!(sink.items[2].text, STORY);
    assert_eq!(
        sink.items[2].media[0].sha256,
        Some(sha_of(&sink, &format!("{top}media/stories/202405/4.jpg")))
    );
    assert_eq!(
        sink.export_files.len(),
        entries.len(),
        "every file imported"
    );
    assert_byte_exact(&sink, &entries);
    assert_eq!(report.captured["posts"], 2);
}

#[tokio::test]
async fn imports_the_2022_layout_with_the_account_from_the_zip_name_and_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("instagram", "ig2022", "");
    let path = write_zip(
        tmp.path(),
        "instagram-alnoor.school-20230105-a1b2c3.zip",
        &entries,
    );
    let (report, sink) = conform::<Ig>(&[path], None).await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.school");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.username, None, "no profile file in this export");
    assert_eq!(
        ids(&sink),
        ["post-1652000000", "post-1655000000", "reel-1657000000"]
    );
    assert_eq!(sink.items[0].text, SINGLE);
    assert_eq!(sink.items[1].text, SECOND);
    assert_eq!(sink.items[2].text, REEL);

    // The missing file is a gap naming the item, not a failure.
    let gone = &sink.items[1];
    assert_eq!(gone.media[0].sha256, None);
    assert_eq!(sink.gaps.len(), 1);
    let gap = &sink.gaps[0];
    assert_eq!(gap.reason, GapReason::MissingFromExport);
    assert_eq!(gap.item_id.as_deref(), Some("post-1655000000"));
    assert_eq!(
        gap.url.as_deref(),
        Some(gone.media[0].original_url.as_str())
    );
    assert!(
        gap.detail.contains("media/posts/202206/gone.jpg"),
        "{}",
        gap.detail
    );
    assert!(
        report
            .statement
            .contains("1 referenced media file is not in the export")
    );
    assert_eq!(report.captured["media"], 2);
}

#[tokio::test]
async fn imports_the_2020_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("instagram", "ig2020", "");
    let path = write_zip(tmp.path(), "old.zip", &entries);
    let (report, sink) = conform::<Ig>(&[path], None).await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor_old");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.display_name.as_deref(), Some(NAME));
    assert_eq!(profile.description.as_deref(), Some(BIO));
    assert_eq!(
        ids(&sink),
        ["post-1556704800", "post-1559383200", "story-1561964400"]
    );
    assert_eq!(sink.items[0].text, "رحلة مدرسية ٢٠١٩ 🚌");
    assert_eq!(sink.items[1].text, "");
    assert_eq!(sink.items[2].text, STORY);
    assert_eq!(
        sink.items[1].media[0].sha256,
        Some(sha_of(&sink, "videos/201906/def.mp4"))
    );
    assert!(!sink.export_files.contains_key("messages.json"));
    assert_no_private(&sink);
    assert_byte_exact(&sink, &entries);
    assert_eq!(report.captured["private_files_skipped"], 1);
}

#[tokio::test]
async fn imports_an_export_split_in_two_zips_like_one() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("instagram", "ig2025", "");
    let single = write_zip(tmp.path(), "one.zip", &entries);
    // Part 2 holds posts_2.json and its media; the profile file is in both parts (identical).
    let profile = "personal_information/personal_information/personal_information.json";
    let (two, one): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|(n, _)| n.contains("posts_2") || n.contains("202410"));
    let mut two = two;
    two.push(entries.iter().find(|(n, _)| n == profile).unwrap().clone());
    let p1 = write_zip(
        tmp.path(),
        "instagram-alnoor.school-20250101-a-part1.zip",
        &one,
    );
    let p2 = write_zip(
        tmp.path(),
        "instagram-alnoor.school-20250101-a-part2.zip",
        &two,
    );
    let parts = ExportParts::open(&[p1.clone(), p2.clone()], ZipLimits::default())
        .await
        .unwrap();
    assert_eq!(
        parts.entries().len(),
        entries.len(),
        "the shared file listed once"
    );

    let (split_report, split) = conform::<Ig>(&[p1, p2], None).await;
    let (whole_report, whole) = conform::<Ig>(&[single], None).await;
    assert_eq!(split.items, whole.items);
    assert_eq!(split.gaps, whole.gaps);
    assert_eq!(
        split.export_files.keys().collect::<Vec<_>>(),
        whole.export_files.keys().collect::<Vec<_>>()
    );
    assert_eq!(split_report.captured, whole_report.captured);

    // Only part 1: posts_2's post is simply absent (it is not a gap: the file is absent too).
    let only = write_zip(tmp.path(), "instagram-alnoor.school-x.zip", &one);
    let (r, sink) = run::<Ig>(&[only], ZipLimits::default(), None).await;
    r.unwrap();
    assert_eq!(sink.items.len(), 7);
}

#[tokio::test]
async fn the_account_comes_from_with_account_or_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("instagram", "ig2022", "");
    let path = write_zip(tmp.path(), "export.zip", &entries);
    let (r, sink) = run::<Ig>(std::slice::from_ref(&path), ZipLimits::default(), None).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("--account"), "{e}");
    assert_nothing_emitted(&sink);

    let (r, sink) = run::<Ig>(&[path], ZipLimits::default(), Some("alnoor-school")).await;
    r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor-school");

    // with_account wins over the profile file too.
    let path = write_zip(
        tmp.path(),
        "p.zip",
        &case_entries("instagram", "ig2024", ""),
    );
    let (r, sink) = run::<Ig>(&[path], ZipLimits::default(), Some("override")).await;
    r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "override");
    assert_eq!(sink.profile.as_ref().unwrap().id, "override");
}

#[tokio::test]
async fn refuses_html_unknown_and_malformed_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let html = write_zip(
        tmp.path(),
        "html.zip",
        &[
            ("start_here.html".into(), b"<html></html>".to_vec()),
            (
                "your_instagram_activity/media/posts_1.html".into(),
                b"<html></html>".to_vec(),
            ),
        ],
    );
    refused::<Ig>(&[html], d, "Format: JSON").await;

    let other = write_zip(
        tmp.path(),
        "other.zip",
        &[
            ("notes.txt".into(), b"hi".to_vec()),
            (
                "data/tweets.js".into(),
                b"window.YTD.tweets.part0 = []".to_vec(),
            ),
        ],
    );
    refused::<Ig>(
        &[other],
        d,
        "not an Instagram export (or a layout this version does not know): found data, notes.txt",
    )
    .await;

    // A Facebook export is not an Instagram one.
    let fb = write_zip(
        tmp.path(),
        "fb.zip",
        &case_entries("facebook", "fb2024", ""),
    );
    refused::<Ig>(&[fb], d, "not an Instagram export").await;

    // A known file in an unknown shape fails loudly, before anything is emitted.
    let mut entries = case_entries("instagram", "ig2025", "");
    for (n, b) in &mut entries {
        if n.ends_with("posts_2.json") {
            *b = br#"{"posts": []}"#.to_vec();
        }
    }
    let path = write_zip(tmp.path(), "shape.zip", &entries);
    let (r, sink) = run::<Ig>(&[path], d, None).await;
    let e = expect_error(r, "malformed");
    assert!(e.to_string().contains("posts_2.json"), "{e}");
    assert_nothing_emitted(&sink);

    let e = expect_error(
        InstagramExport::open(&[tmp.path().join("absent.zip")]).await,
        "bad_export",
    );
    assert!(e.to_string().contains("cannot open"), "{e}");
    let e = expect_error(InstagramExport::open(&[]).await, "bad_export");
    assert!(e.to_string().contains("no export file"), "{e}");
}

#[tokio::test]
async fn refuses_hostile_zips_with_nothing_emitted() {
    hostile_suite::<Ig>(HostileZips {
        base: case_entries("instagram", "ig2024", ""),
        victim: "your_instagram_activity/content/posts_1.json",
        folder: "media/",
        stem: "ok",
        account: None,
    })
    .await;
}
