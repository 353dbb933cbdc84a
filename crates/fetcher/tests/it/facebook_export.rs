//! Facebook's "Download Your Information" export (Page and personal profile): zips built at
//! test time from `tests/fixtures/facebook/export/<case>/` (written by `generate.py` there from
//! the documented shapes, every string Meta-garbled), with the helpers of `export_support.rs`.

use fetcher::Source;
use fetcher::export_zip::ZipLimits;
use fetcher::platforms::facebook::export::FacebookExport;
use model::{GapReason, ItemKind, Platform, Route};

use crate::conformance::expect_error;
use crate::export_support::{
    HostileZips, assert_byte_exact, assert_nothing_emitted, case_entries, conform, hostile_suite,
    ids, refused, run, sha_of, write_zip,
};
use crate::instagram_export::assert_no_private;

type Fb = FacebookExport;
const PAGE_NAME: &str = "مدرسة النور الأهلية";
const POST_A: &str = "حفل التخرج ١٤٤٦هـ 🎓 مبروك لجميع الخريجين والخريجات";
const POST_B: &str = "تعلن المدرسة عن بدء التسجيل للعام ٢٠٢٤/٢٠٢٥ 📢";
const VIDEO: &str = "فيديو الحفل 🎥 الجزء ٢";
const PAGE: &str = "this_profile's_activity_across_facebook/posts/";

#[tokio::test]
async fn imports_a_page_export_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("facebook", "fb_page", "");
    let path = write_zip(tmp.path(), "export.zip", &entries);
    let source = FacebookExport::open(std::slice::from_ref(&path))
        .await
        .unwrap();
    assert_eq!(source.platform(), Platform::Facebook);
    assert_eq!(source.route(), Route::Export);
    let (report, sink) = conform::<Fb>(&[path], None).await;

    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoorschool");
    let profile = sink.profile.as_ref().unwrap();
    assert_eq!(profile.display_name.as_deref(), Some(PAGE_NAME));
    assert_eq!(
        profile.url.as_deref(),
        Some("https://www.facebook.com/alnoorschool")
    );

    // Posts of profile_posts_1 then _2, then the video.
    assert_eq!(
        ids(&sink),
        [
            "post-1725165900",
            "post-1725252300",
            "post-1725338700",
            "video-1725338600"
        ]
    );
    let kinds: Vec<ItemKind> = sink.items.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Post,
            ItemKind::Video
        ]
    );
    let texts: Vec<&str> = sink.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, [POST_A, POST_B, VIDEO, VIDEO]);

    // Media in an Arabic-named album folder: the repaired uri finds the file.
    let album = format!("{PAGE}media/صور الحفل_1234567890/");
    let a = &sink.items[0];
    assert_eq!(a.media.len(), 2);
    assert_eq!(
        a.media[0].sha256,
        Some(sha_of(&sink, &format!("{album}111.jpg")))
    );
    assert_eq!(
        a.media[1].sha256,
        Some(sha_of(&sink, &format!("{album}112.jpg")))
    );
    assert_eq!(
        a.media[0].original_url,
        format!("{album}111.jpg"),
        "an export file is named by its path in the export"
    );
    assert!(sink.items[1].media.is_empty(), "a text-only post");
    // The video attached to a post and listed in videos.json is stored once, used twice.
    assert_eq!(sink.items[2].media[0].sha256, sink.items[3].media[0].sha256);
    assert_eq!(
        sink.items[3].source_path.as_deref(),
        Some(format!("data/original/export/{PAGE}videos.json").as_str())
    );
    assert_eq!(
        sink.items[2].source_path.as_deref(),
        Some(format!("data/original/export/{PAGE}profile_posts_2.json").as_str())
    );

    // Album-only photo and the thumbnail are stored too; nothing private.
    assert!(sink.export_files.contains_key(&format!("{album}113.jpg")));
    assert!(
        sink.export_files
            .contains_key(&format!("{PAGE}media/videos/thumbnails/222.jpg"))
    );
    assert!(
        sink.export_files
            .contains_key(&format!("{PAGE}album/0.json"))
    );
    assert!(
        sink.export_files
            .contains_key("profile_information/profile_information.json")
    );
    assert_eq!(sink.export_files.len(), 10);
    assert_byte_exact(&sink, &entries);
    assert_no_private(&sink);
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);

    assert_eq!(report.captured["posts"], 3);
    assert_eq!(report.captured["videos"], 1);
    assert_eq!(report.captured["albums"], 1);
    assert_eq!(report.captured["media"], 5);
    assert_eq!(report.captured["private_files_skipped"], 2);
    assert!(
        report.statement.contains("messages"),
        "{}",
        report.statement
    );
    assert!(
        report.statement.contains("1 other file (likes"),
        "{}",
        report.statement
    );
}

#[tokio::test]
async fn imports_a_2024_personal_export() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("facebook", "fb2024", "");
    let path = write_zip(tmp.path(), "export.zip", &entries);
    let (report, sink) = conform::<Fb>(&[path], None).await;
    // No username field: the one in profile_uri.
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.person");
    assert_eq!(
        sink.profile.as_ref().unwrap().display_name.as_deref(),
        Some("نور المدرسة")
    );
    assert_eq!(
        ids(&sink),
        [
            "post-1717200000",
            "post-1717300000",
            "post-1717400000",
            "video-1717500000"
        ]
    );
    // A check-in: the shared link and the place (coordinates as given) join the text.
    assert_eq!(
        sink.items[0].text,
        format!(
            "{POST_B}\nhttps://alnoor.example/news/1\n📍 مدرسة النور, الرياض (24.7136, 46.6753)"
        )
    );
    assert!(sink.items[0].media.is_empty());
    // Photo-only: the media description is the text.
    assert_eq!(sink.items[1].text, POST_A);
    // Two attachment groups, one medium each; genuine "café" untouched.
    assert_eq!(sink.items[2].text, "Sortie au café de l'école");
    assert_eq!(sink.items[2].media.len(), 2);
    let m = "your_facebook_activity/posts/media/Yourposts_987/";
    assert_eq!(
        sink.items[2].media[1].sha256,
        Some(sha_of(&sink, &format!("{m}3.jpg")))
    );
    // A video without description: its title.
    assert_eq!(sink.items[3].kind, ItemKind::Video);
    assert_eq!(sink.items[3].text, VIDEO);
    assert!(
        sink.export_files
            .contains_key("your_facebook_activity/posts/your_uncategorized_photos.json")
    );
    assert_byte_exact(&sink, &entries);
    assert_no_private(&sink);
    assert_eq!(report.captured["private_files_skipped"], 2);
}

#[tokio::test]
async fn imports_a_2022_personal_export_with_a_missing_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let top = "facebook-alnoorschool-2023-3-6/";
    let entries = case_entries("facebook", "fb2022", top);
    let path = write_zip(
        tmp.path(),
        "facebook-alnoorschool-2023-3-6-Ab12.zip",
        &entries,
    );
    let (report, sink) = conform::<Fb>(&[path], None).await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoorschool");
    assert_eq!(ids(&sink), ["post-1660000000", "post-1661000000"]);
    assert_eq!(sink.items[0].text, POST_A);
    assert!(sink.items[0].media[0].sha256.is_some());
    let gone = &sink.items[1];
    assert_eq!(gone.media[0].sha256, None);
    let gap = &sink.gaps[0];
    assert_eq!(sink.gaps.len(), 1);
    assert_eq!(gap.reason, GapReason::MissingFromExport);
    assert_eq!(gap.item_id.as_deref(), Some("post-1661000000"));
    assert_eq!(
        gap.url.as_deref(),
        Some(gone.media[0].original_url.as_str())
    );
    assert!(gap.detail.contains("Timeline_1/gone.jpg"), "{}", gap.detail);
    assert_eq!(report.captured["media"], 1);
    assert_byte_exact(&sink, &entries);
}

#[tokio::test]
async fn imports_an_older_personal_export() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("facebook", "fb_old", "");
    let path = write_zip(tmp.path(), "export.zip", &entries);
    let (report, sink) = conform::<Fb>(&[path], None).await;
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor.old");
    // Two posts in the same second keep distinct, stable ids.
    assert_eq!(
        ids(&sink),
        ["post-1500000000", "post-1500000000-2", "video-1400000000"]
    );
    assert_eq!(sink.items[0].text, POST_A);
    assert_eq!(
        sink.items[0].media[0].sha256,
        Some(sha_of(&sink, "photos_and_videos/ألبوم_المدرسة_55/1.jpg"))
    );
    assert_eq!(sink.items[1].text, POST_B);
    assert_eq!(sink.items[2].text, VIDEO);
    assert_eq!(
        sink.export_files.len(),
        entries.len(),
        "every file imported"
    );
    assert_byte_exact(&sink, &entries);
    assert_eq!(report.captured["albums"], 1);
}

#[tokio::test]
async fn imports_a_split_page_export() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = case_entries("facebook", "fb_page", "");
    let whole = write_zip(tmp.path(), "whole.zip", &entries);
    let (one, two): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .partition(|(n, _)| !n.contains("profile_posts_2") && !n.contains("videos"));
    let p1 = write_zip(tmp.path(), "facebook-alnoorschool-1.zip", &one);
    let p2 = write_zip(tmp.path(), "facebook-alnoorschool-2.zip", &two);
    let (_, split) = conform::<Fb>(&[p1, p2], None).await;
    let (_, all) = conform::<Fb>(&[whole], None).await;
    assert_eq!(split.items, all.items);
    assert_eq!(split.items.len(), 4);
}

#[tokio::test]
async fn refuses_html_unknown_and_accountless_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let d = ZipLimits::default();
    let html = write_zip(
        tmp.path(),
        "html.zip",
        &[
            ("index.html".into(), b"<html></html>".to_vec()),
            (
                "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.html"
                    .into(),
                b"<html></html>".to_vec(),
            ),
        ],
    );
    refused::<Fb>(&[html], d, "request it again").await;
    let ig = write_zip(
        tmp.path(),
        "ig.zip",
        &case_entries("instagram", "ig2024", ""),
    );
    refused::<Fb>(
        &[ig],
        d,
        "not a Facebook export (or a layout this version does not know): found media, personal_information, your_instagram_activity",
    )
    .await;

    let path = write_zip(
        tmp.path(),
        "export.zip",
        &case_entries("facebook", "fb2022", ""),
    );
    let (r, sink) = run::<Fb>(std::slice::from_ref(&path), d, None).await;
    let e = expect_error(r, "bad_export");
    assert!(e.to_string().contains("--account"), "{e}");
    assert_nothing_emitted(&sink);
    let (r, sink) = run::<Fb>(&[path], d, Some("alnoor")).await;
    r.unwrap();
    assert_eq!(sink.account.as_ref().unwrap().as_str(), "alnoor");

    // A posts file that is not an array of posts fails loudly, before anything is emitted.
    let mut entries = case_entries("facebook", "fb_page", "");
    for (n, b) in &mut entries {
        if n.ends_with("profile_posts_2.json") {
            *b = br#"[{"data": [{"post": "no timestamp"}]}]"#.to_vec();
        }
    }
    let path = write_zip(tmp.path(), "shape.zip", &entries);
    let (r, sink) = run::<Fb>(&[path], d, None).await;
    let e = expect_error(r, "malformed");
    assert!(e.to_string().contains("profile_posts_2.json"), "{e}");
    assert_nothing_emitted(&sink);
}

#[tokio::test]
async fn refuses_hostile_zips_with_nothing_emitted() {
    hostile_suite::<Fb>(HostileZips {
        base: case_entries("facebook", "fb2024", ""),
        victim: "your_facebook_activity/posts/your_videos.json",
        folder: "media/",
        stem: "ok",
        account: None,
    })
    .await;
}
