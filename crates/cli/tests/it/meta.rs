//! `tawthiq archive|import instagram|facebook` end to end: the binary against a local replay of
//! the Graph API and Meta's CDNs, and over "Download Your Information" zips written the way Meta
//! writes them (every non-ASCII character as one `\u00XX` escape per UTF-8 byte).

use std::path::Path;
use std::process::Output;

use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, cat, contains, keygen, media_bytes, only_file, tawthiq, write_zip};

const TOKEN: &str = "TQ-META-SECRET-bWV0YSB0b2tlbg-0099";
const CAPTION: &str = "حفل اليوم الوطني ٩٤ في مدرستنا 🇸🇦🎉";

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// Writes `text` as Meta's exporter does: one `\u00XX` escape per byte of its UTF-8.
fn meta_escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii() {
                (b as char).to_string()
            } else {
                format!("\\u00{b:02x}")
            }
        })
        .collect()
}

async fn run(
    args: &[&str],
    server: &MockServer,
    out: &Path,
    key: &Path,
    token_var: &str,
) -> Output {
    let u = server.uri();
    let hosts = format!(
        "graph.instagram.com={u}/graph,graph.facebook.com={u}/graph,\
         *.cdninstagram.com={u}/cdn,*.fbcdn.net={u}/cdn"
    );
    support::capture(args, &hosts, out, key, &[(token_var, TOKEN)]).await
}

fn assert_published(o: &Output) {
    support::assert_published(o, TOKEN);
}

/// An Instagram professional account (Instagram Login): profile, one page of media, a story.
async fn instagram_server(account_type: &str) -> MockServer {
    let server = MockServer::start().await;
    let cdn = "https://scontent-ams2-1.cdninstagram.com/v/t51.29350-15";
    Mock::given(method("GET"))
        .and(path("/graph/v23.0/me"))
        .and(query_param("access_token", TOKEN))
        .respond_with(json(&format!(
            r#"{{"user_id":"17841400000000001","id":"9000000000000001","username":"alamal_school",
            "name":"مدرسة الأمل","account_type":"{account_type}","followers_count":1200,"follows_count":10,
            "media_count":1,"profile_picture_url":"{cdn}/avatar.jpg?oe=6800AAAA"}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/\d+/media$"))
        .respond_with(json(&format!(
            r#"{{"data":[{{"id":"18000000000000001","caption":"{CAPTION}","media_type":"IMAGE",
            "media_product_type":"FEED","media_url":"{cdn}/post1.jpg?oe=6800AAAA",
            "permalink":"https://www.instagram.com/p/C1aBcDeFgHi/","timestamp":"2024-09-23T06:05:00+0000",
            "like_count":42,"comments_count":3}}],"paging":{{"cursors":{{"before":"a","after":"b"}}}}}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/\d+/stories$"))
        .respond_with(json(r#"{"data":[]}"#))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/cdn/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(7, 80_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg"),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_instagram_me_keeps_the_arabic_caption_and_not_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = instagram_server("BUSINESS").await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "instagram", "me"],
        &server,
        &out,
        &keys.secret,
        "TAWTHIQ_INSTAGRAM_TOKEN",
    )
    .await;
    assert_published(&o);
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("instagram-17841400000000001-"), "{name}");
    assert!(!contains(&std::fs::read(&bundle).unwrap(), TOKEN));
    let posts = cat(&bundle, "data/derived/posts.jsonl", &keys.public);
    assert!(posts.contains(CAPTION), "{posts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_instagram_account_is_sent_to_the_export_route() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = instagram_server("PERSONAL").await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "instagram", "me"],
        &server,
        &out,
        &keys.secret,
        "TAWTHIQ_INSTAGRAM_TOKEN",
    )
    .await;
    assert_eq!(o.status.code(), Some(5), "a failed capture");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(last.contains("import instagram"), "{stderr}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_facebook_page_with_a_page_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/graph/v23.0/(me|104000000000001)$"))
        .and(query_param("access_token", TOKEN))
        .respond_with(json(
            r#"{"id":"104000000000001","name":"مدرسة الأمل الابتدائية","username":"alamal.school",
            "link":"https://www.facebook.com/alamal.school","fan_count":5400,"followers_count":5600}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/graph/v23.0/[^/]+/published_posts$"))
        .respond_with(json(&format!(
            r#"{{"data":[{{"id":"104000000000001_2000000000000001","created_time":"2024-09-23T06:05:00+0000",
            "message":"{CAPTION}","permalink_url":"https://www.facebook.com/alamal.school/posts/pfbid0abc",
            "status_type":"mobile_status_update","is_published":true}}],"paging":{{"cursors":{{"before":"a","after":"b"}}}}}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path_regex(
        r"^/graph/v23.0/[^/]+/(photos|videos|video_reels)$",
    ))
    .respond_with(json(r#"{"data":[]}"#))
    .mount(&server)
    .await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "facebook", "me"],
        &server,
        &out,
        &keys.secret,
        "TAWTHIQ_FACEBOOK_TOKEN",
    )
    .await;
    assert_published(&o);
    let bundle = only_file(&out);
    assert!(!contains(&std::fs::read(&bundle).unwrap(), TOKEN));
    let posts = cat(&bundle, "data/derived/posts.jsonl", &keys.public);
    assert!(posts.contains(CAPTION), "{posts}");
}

/// Instagram's 2025 layout, in two zips as Meta splits large exports.
fn instagram_export(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let posts = format!(
        r#"[{{"media":[{{"uri":"media/posts/202409/18000000000000001.jpg","creation_timestamp":1727071500,"title":"{}"}}]}}]"#,
        meta_escape(CAPTION)
    );
    let profile = r#"{"profile_user":[{"string_map_data":{"Username":{"href":"","value":"alamal_school","timestamp":0}}}]}"#;
    let part1 = dir.join("instagram-alamal_school-2025-05-04-abc.zip");
    let part2 = dir.join("instagram-alamal_school-2025-05-04-abc-2.zip");
    write_zip(
        &part1,
        &[
            (
                "personal_information/personal_information/personal_information.json",
                profile.as_bytes(),
            ),
            (
                "your_instagram_activity/media/posts_1.json",
                posts.as_bytes(),
            ),
        ],
    );
    write_zip(
        &part2,
        &[(
            "media/posts/202409/18000000000000001.jpg",
            &media_bytes(3, 50_000, b"\xFF\xD8\xFF\xE0"),
        )],
    );
    (part1, part2)
}

#[test]
fn import_instagram_repairs_the_arabic_and_keeps_the_files_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let (part1, part2) = instagram_export(dir.path());
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "instagram"])
            .arg(&part1)
            .arg(&part2)
            .arg("-o")
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("instagram-alamal_school-"), "{name}");
    let posts = cat(&bundle, "data/derived/posts.jsonl", &keys.public);
    assert!(posts.contains(CAPTION), "the caption is repaired: {posts}");
    let original = cat(
        &bundle,
        "data/original/export/your_instagram_activity/media/posts_1.json",
        &keys.public,
    );
    assert!(
        original.contains("\\u00d8") && !original.contains(CAPTION),
        "the export file is stored as Meta wrote it"
    );
}

#[test]
fn a_zip_that_is_not_a_facebook_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let not_meta = dir.path().join("photos.zip");
    write_zip(
        &not_meta,
        &[("holiday/1.jpg", b"\xFF\xD8\xFF\xE0 just a photo")],
    );
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "facebook"])
            .arg(&not_meta)
            .arg("-o")
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret),
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.to_lowercase().contains("facebook"), "{stderr}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);
}
