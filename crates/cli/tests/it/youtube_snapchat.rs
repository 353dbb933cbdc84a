//! `tawthiq archive|import youtube|snapchat` end to end: the binary against a local replay of
//! the `YouTube` Data API, a Snapchat public profile page and their CDNs, and over a Google
//! Takeout and a Snapchat "My Data" zip built here.

use std::path::Path;
use std::process::Output;

use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, cat, contains, keygen, media_bytes, only_file, tawthiq, write_zip};

const TOKEN: &str = "TQ-YT-SECRET-eW91dHViZSB0b2tlbg-0077";
const CHANNEL: &str = "UCa1b2c3d4e5f6g7h8i9j0kL";
const TITLE: &str = "حفل اليوم الوطني ٩٤ 🇸🇦";

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

async fn run(
    args: &[&str],
    server: &MockServer,
    out: &Path,
    key: &Path,
    env: &[(&str, &str)],
) -> Output {
    let u = server.uri();
    let hosts = format!(
        "www.googleapis.com={u}/googleapis,*.ytimg.com={u}/ytimg,www.snapchat.com={u}/snap,\
         *.sc-cdn.net={u}/sccdn"
    );
    // No yt-dlp (whatever the machine has), no credentials but those given.
    let mut all = vec![
        ("TAWTHIQ_YT_DLP", "/nonexistent/yt-dlp"),
        ("TAWTHIQ_YOUTUBE_TOKEN", ""),
        ("TAWTHIQ_YOUTUBE_API_KEY", ""),
    ];
    all.extend_from_slice(env);
    support::capture(args, &hosts, out, key, &all).await
}

fn assert_published(o: &Output) {
    support::assert_published(o, TOKEN);
}

/// A channel with one upload, no comments, no captions.
async fn youtube_server() -> MockServer {
    let server = MockServer::start().await;
    let api = "/googleapis/youtube/v3";
    Mock::given(method("GET"))
        .and(path(format!("{api}/channels")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json(&format!(
            r#"{{"kind":"youtube#channelListResponse","pageInfo":{{"totalResults":1,"resultsPerPage":5}},
            "items":[{{"kind":"youtube#channel","id":"{CHANNEL}",
            "snippet":{{"title":"مدرسة الأمل","description":"القناة الرسمية","customUrl":"@alamalschool",
              "publishedAt":"2019-02-01T08:00:00.123456Z",
              "thumbnails":{{"high":{{"url":"https://yt3.ytimg.com/ytc/avatar=s800","width":800,"height":800}}}}}},
            "contentDetails":{{"relatedPlaylists":{{"uploads":"UUa1b2c3d4e5f6g7h8i9j0kL"}}}},
            "statistics":{{"viewCount":"1200","subscriberCount":"340","hiddenSubscriberCount":false,"videoCount":"1"}}}}]}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path(format!("{api}/playlistItems")))
        .respond_with(json(&format!(
            r#"{{"kind":"youtube#playlistItemListResponse","pageInfo":{{"totalResults":1,"resultsPerPage":50}},
            "items":[{{"kind":"youtube#playlistItem","id":"UExp1",
            "snippet":{{"publishedAt":"2024-09-23T06:05:00Z","channelId":"{CHANNEL}","title":"{TITLE}",
              "resourceId":{{"kind":"youtube#video","videoId":"dQw4w9WgXcQ"}},"videoOwnerChannelId":"{CHANNEL}",
              "thumbnails":{{"default":{{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg","width":120,"height":90}}}}}},
            "contentDetails":{{"videoId":"dQw4w9WgXcQ","videoPublishedAt":"2024-09-23T06:05:00Z"}},
            "status":{{"privacyStatus":"public"}}}}]}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path(format!("{api}/videos")))
        .respond_with(json(&format!(
            r#"{{"kind":"youtube#videoListResponse","pageInfo":{{"totalResults":1,"resultsPerPage":1}},
            "items":[{{"kind":"youtube#video","id":"dQw4w9WgXcQ",
            "snippet":{{"publishedAt":"2024-09-23T06:05:00Z","channelId":"{CHANNEL}","title":"{TITLE}",
              "description":"فقرات الحفل ١ و٢","defaultAudioLanguage":"ar",
              "thumbnails":{{"default":{{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg","width":120,"height":90}},
                "high":{{"url":"https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg","width":480,"height":360}}}}}},
            "contentDetails":{{"duration":"PT12M48S","caption":"false"}},
            "status":{{"privacyStatus":"public"}},
            "statistics":{{"viewCount":"530","likeCount":"41","commentCount":"0"}}}}]}}"#
        )))
        .mount(&server)
        .await;
    Mock::given(path_regex(format!(
        "^{api}/(commentThreads|comments|captions)$"
    )))
    .respond_with(json(
        r#"{"kind":"youtube#listResponse","pageInfo":{"totalResults":0},"items":[]}"#,
    ))
    .mount(&server)
    .await;
    Mock::given(path_regex(r"^/ytimg/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(5, 40_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg"),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_youtube_mine_without_yt_dlp_says_where_the_videos_are() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = youtube_server().await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "youtube", "mine"],
        &server,
        &out,
        &keys.secret,
        &[("TAWTHIQ_YOUTUBE_TOKEN", TOKEN)],
    )
    .await;
    // The video file the API cannot give is a gap: a partial capture, exit 3.
    support::assert_published_as(&o, TOKEN, 3);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.to_lowercase().contains("takeout"), "{stdout}");
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("youtube-{CHANNEL}-")), "{name}");
    assert!(!contains(&std::fs::read(&bundle).unwrap(), TOKEN));
    let posts = cat(&bundle, "data/derived/posts.jsonl", &keys.public);
    assert!(posts.contains(TITLE), "{posts}");
}

#[test]
fn archive_youtube_without_credentials_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let o = support::run(
        tawthiq()
            .args(["archive", "youtube", "mine", "--key"])
            .arg(&keys.secret)
            .env_remove("TAWTHIQ_YOUTUBE_TOKEN")
            .env_remove("TAWTHIQ_YOUTUBE_API_KEY"),
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("TAWTHIQ_YOUTUBE_TOKEN") && stderr.contains("TAWTHIQ_YOUTUBE_API_KEY"),
        "{stderr}"
    );
}

fn snapchat_page(profile: &str) -> String {
    let data = format!(
        r#"{{"props":{{"pageProps":{{"userProfile":{profile},
        "story":{{"storyId":{{"value":"alnoor_school"}},"snapList":[{{"snapIndex":0,"snapId":{{"value":"W7_EDlXWTBiXAEEniNoMPwAAYc2pld2ZyaGNvAZPzxB2zAZPzxB2lAAAAAQ"}},
          "snapMediaType":0,"snapUrls":{{"mediaUrl":"https://cf-st.sc-cdn.net/d/story1.jpg?mo=sig","mediaPreviewUrl":{{"value":"https://cf-st.sc-cdn.net/d/story1-preview.jpg?mo=sig"}}}},
          "timestampInSec":{{"value":"1727071500"}}}}]}},
        "curatedHighlights":[],"spotlightHighlights":[]}}}},"page":"/add/[username]","query":{{"username":"alnoor_school"}}}}"#
    );
    format!(
        "<!DOCTYPE html><html><head><title>مدرسة النور</title></head><body><div id=\"__next\"></div>\
         <script id=\"__NEXT_DATA__\" type=\"application/json\">{data}</script></body></html>"
    )
}

async fn snapchat_server(profile: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/snap/add/alnoor_school"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            snapchat_page(profile).into_bytes(),
            "text/html; charset=utf-8",
        ))
        .mount(&server)
        .await;
    Mock::given(path_regex(r"^/sccdn/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(media_bytes(9, 30_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg"),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_snapchat_public_profile_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = snapchat_server(
        r#"{"$case":"publicProfileInfo","publicProfileInfo":{"username":"alnoor_school","title":"مدرسة النور","bio":"الحساب الرسمي","subscriberCount":"2100","profilePictureUrl":"https://cf-st.sc-cdn.net/aps/bolt/avatar.jpg"}}"#,
    )
    .await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "snapchat", "alnoor_school"],
        &server,
        &out,
        &keys.secret,
        &[],
    )
    .await;
    assert_published(&o);
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("snapchat-alnoor_school-"), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_snapchat_profile_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let server = snapchat_server(
        r#"{"$case":"userInfo","userInfo":{"displayName":"مدرسة النور","snapcodeImageUrl":"https://app.snapchat.com/web/deeplink/snapcode?username=alnoor_school"}}"#,
    )
    .await;
    let out = dir.path().join("out");
    let o = run(
        &["archive", "snapchat", "alnoor_school"],
        &server,
        &out,
        &keys.secret,
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    // A private profile is the account's state: published as evidence, or refused; never a
    // silent empty success.
    assert!(
        stdout.to_lowercase().contains("private") || stderr.to_lowercase().contains("private"),
        "{stdout}\n{stderr}"
    );
    assert_ne!(o.status.code(), Some(0), "{stdout}");
}

#[test]
fn import_youtube_takeout_matches_videos_to_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let root = "Takeout/YouTube and YouTube Music";
    let channel = format!(
        "Channel ID,Channel Title (Original),Channel Visibility\n{CHANNEL},مدرسة الأمل,Public\n"
    );
    let videos = format!(
        "Video ID,Approx Duration (ms),Video Audio Language,Video Category,Video Description (Original),Channel ID,Video Title (Original),Privacy,Video State,Video Create Timestamp,Video Publish Timestamp\n\
         dQw4w9WgXcQ,768000,ar,Education,فقرات الحفل,{CHANNEL},{TITLE},Public,Processed,2024-09-23T06:00:00+00:00,2024-09-23T06:05:00+00:00\n"
    );
    let video = media_bytes(4, 60_000, b"\0\0\0\x18ftypmp42");
    let zip = dir.path().join("takeout-20250504T000000Z-001.zip");
    write_zip(
        &zip,
        &[
            (&format!("{root}/channels/channel.csv"), channel.as_bytes()),
            (
                &format!("{root}/video metadata/videos.csv"),
                videos.as_bytes(),
            ),
            (&format!("{root}/videos/{TITLE}.mp4"), &video),
        ],
    );
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "youtube"])
            .arg(&zip)
            .arg("-o")
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    let bundle = only_file(&out);
    let posts = cat(&bundle, "data/derived/posts.jsonl", &keys.public);
    assert!(
        posts.contains("dQw4w9WgXcQ") && posts.contains(TITLE),
        "{posts}"
    );
}

#[test]
fn import_snapchat_my_data_without_fetching_links() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keygen(dir.path());
    let memories = r#"{"Saved Media":[{"Date":"2024-09-23 06:05:00 UTC","Media Type":"Image","Location":"Latitude, Longitude: 0.0, 0.0",
        "Download Link":"https://app.snapchat.com/dmd/memories?uid=u1&sid=s1&mid=0b6a1c7e-2f4d-4c1a-9e8b-7d6c5b4a3f21&ts=1727071500&sig=abc",
        "Media Download Url":"https://cf-st.sc-cdn.net/d/mem1.jpg?sig=abc"}]}"#;
    let zip = dir.path().join("mydata~1746340200000.zip");
    write_zip(
        &zip,
        &[
            ("json/memories_history.json", memories.as_bytes()),
            (
                "memories/2024-09-23_0b6a1c7e-2f4d-4c1a-9e8b-7d6c5b4a3f21-main.jpg",
                &media_bytes(6, 20_000, b"\xFF\xD8\xFF\xE0"),
            ),
            (
                "json/chat_history.json",
                br#"{"Received Saved Chat History":[]}"#,
            ),
        ],
    );
    let out = dir.path().join("out");
    let o = support::run(
        tawthiq()
            .args(["import", "snapchat"])
            .arg(&zip)
            .args(["--account", "alnoor_school", "--no-fetch", "-o"])
            .arg(&out)
            .arg("--key")
            .arg(&keys.secret),
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    let bundle = only_file(&out);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("snapchat-alnoor_school-"), "{name}");
    let ls = support::ok(
        tawthiq()
            .arg("ls")
            .arg(&bundle)
            .arg("--pubkey")
            .arg(&keys.public),
    );
    assert!(
        !ls.contains("chat_history"),
        "chats are never imported: {ls}"
    );
}

/// A flag meant for another platform is refused with one line, not silently ignored.
#[test]
fn flags_for_another_platform_are_refused() {
    for (args, flag) in [
        (
            &["archive", "x", "me", "--login", "facebook"][..],
            "--login",
        ),
        (
            &["archive", "x", "me", "--yt-dlp", "/bin/true"][..],
            "--yt-dlp",
        ),
        (&["import", "x", "a.zip", "--no-fetch"][..], "--no-fetch"),
    ] {
        let o = support::run(tawthiq().args(args).env("TAWTHIQ_X_TOKEN", "t"));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
}
