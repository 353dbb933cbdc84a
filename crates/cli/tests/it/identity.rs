//! Truthful accounts: a registry line is refused at check time exactly when its adapter would
//! refuse it; the account a capture holds must be the one its line names; one account named on
//! two lines is archived once (issue 13, items 2 and 3).

use std::path::{Path, PathBuf};

use crate::support::{keygen, ok, run, tawthiq};

fn exports() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry/exports")
}

const HEADER: &str =
    "entity_id,entity_name,entity_type,platform,account,route,credential,exports\n";

/// A registry in a fresh folder, with a key, a SQLite state and a bundle folder.
struct Setup {
    dir: tempfile::TempDir,
    keys: crate::support::Keys,
    registry: PathBuf,
}

impl Setup {
    fn new(rows: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let keys = keygen(dir.path());
        let registry = dir.path().join("registry.csv");
        std::fs::write(&registry, format!("{HEADER}{rows}")).unwrap();
        Setup {
            dir,
            keys,
            registry,
        }
    }

    fn state(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("state.db").display())
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("bundles")
    }

    /// `tawthiq run`, offline, JSON summary, no waiting for retries.
    fn run(&self) -> std::process::Output {
        run(tawthiq()
            .current_dir(self.dir.path())
            .arg("run")
            .arg(&self.registry)
            .args(["--state", &self.state(), "--store"])
            .arg(self.store())
            .arg("--key")
            .arg(&self.keys.secret)
            .args([
                "--no-fetch",
                "--json",
                "--workers",
                "2",
                "--linger-secs",
                "0",
            ])
            .env("TAWTHIQ_CRED_NOOR_IG", "token-not-used"))
    }

    /// `tawthiq report --format json`: one object per account.
    fn report(&self) -> Vec<serde_json::Value> {
        let text = ok(tawthiq().args(["report", "--state", &self.state(), "--format", "json"]));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array()
            .or_else(|| v["accounts"].as_array())
            .unwrap()
            .clone()
    }

    fn bundles(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.store())
            .map(|rd| {
                rd.map(|e| e.unwrap().path())
                    .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// `instagram,@name,api,CRED` used to pass the check and fail at claim: the Instagram API looks
/// accounts up by number only. The check refuses it with its line, before anything is written,
/// and `tawthiq archive` refuses the same account with the same words.
#[test]
fn a_line_its_adapter_would_refuse_is_refused_by_the_check() {
    let x_archive = exports().join("alnoor-x-archive.zip");
    let setup = Setup::new(&format!(
        "1001,مدرسة النور,school,x,@alnoor_school,export,,{}\n\
         1001,مدرسة النور,school,instagram,@alnoor.school,api,NOOR_IG,\n\
         1001,مدرسة النور,school,youtube,@alnoor,web,,\n",
        x_archive.display()
    ));
    let o = setup.run();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("line 3: Instagram account \"@alnoor.school\"")
            && err.contains("not a username"),
        "{err}"
    );
    assert!(
        err.contains("line 4: tawthiq has no public-web route for youtube"),
        "{err}"
    );
    assert!(!setup.dir.path().join("state.db").exists(), "state written");
    assert!(setup.bundles().is_empty());

    let o = run(tawthiq()
        .current_dir(setup.dir.path())
        .args(["archive", "instagram", "@alnoor.school"])
        .env("TAWTHIQ_INSTAGRAM_TOKEN", "token-not-used"));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("Instagram account \"@alnoor.school\"") && err.contains("not a username"),
        "{err}"
    );
}

/// Exports put on the wrong registry lines: every line fails, naming the account the line
/// names and the account the export holds; nothing is done and no bundle is stored.
#[test]
fn an_export_of_another_account_fails_its_line_naming_both() {
    let e = exports();
    let setup = Setup::new(&format!(
        "1001,مدرسة النور,school,x,@other_school,export,,{}\n\
         1001,مدرسة النور,school,instagram,@other.school,export,,{}\n\
         1001,مدرسة النور,school,youtube,UCzzzzzzzzzzzzzzzzzzzzzz,export,,{}\n\
         1001,مدرسة النور,school,snapchat,@otherschool,export,,{}\n\
         1001,مدرسة النور,school,facebook,@otherschool,export,,{}\n",
        e.join("alnoor-x-archive.zip").display(),
        e.join("alnoor-instagram.zip").display(),
        e.join("alnoor-takeout.zip").display(),
        e.join("alnoor-snapchat-mydata.zip").display(),
        e.join("alnoor-facebook.zip").display(),
    ));
    let o = setup.run();
    assert_eq!(o.status.code(), Some(5), "every line failed: {o:?}");
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for outcome in ["complete", "partial", "unavailable"] {
        assert_eq!(summary["state"][outcome], 0, "{summary}");
    }
    assert_eq!(summary["state"]["failed"], 5, "{summary}");
    assert!(setup.bundles().is_empty(), "{:?}", setup.bundles());

    let rows = setup.report();
    let expect = [
        ("x", "@other_school", "1234567890123456789 (@alnoor_school)"),
        ("instagram", "@other.school", "@alnoor.school"),
        (
            "youtube",
            "UCzzzzzzzzzzzzzzzzzzzzzz",
            "UCa1B2c3D4e5F6g7H8i9J0kL",
        ),
        ("snapchat", "@otherschool", "@alnoor.school"),
        ("facebook", "@otherschool", "@alnoorschool"),
    ];
    for (platform, named, held) in expect {
        let row = rows.iter().find(|r| r["platform"] == platform).unwrap();
        assert_eq!(row["state"], "failed", "{row}");
        assert_eq!(row["bundle_id"], serde_json::Value::Null, "{row}");
        let error = row["last_error"].as_str().unwrap();
        assert!(
            error.contains("account mismatch")
                && error.contains(&format!("{named} was named"))
                && error.contains(&format!("belongs to {held}")),
            "{platform}: {error}"
        );
    }
}

/// One account named by handle on one line and by id on another, both with its export: the
/// check names both lines, and the run archives the account once, recording the other line as
/// its duplicate (naming the line). A second run archives nothing.
#[test]
fn one_account_on_two_lines_is_named_by_the_check_and_archived_once() {
    let zip = exports().join("alnoor-x-archive.zip");
    let setup = Setup::new(&format!(
        "1001,مدرسة النور,school,x,@alnoor_school,export,,{0}\n\
         1001,مدرسة النور,school,x,1234567890123456789,export,,{0}\n",
        zip.display()
    ));
    let o = setup.run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 3: export") && err.contains("is also listed on line 2"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recorded = ["complete", "partial", "unavailable"]
        .iter()
        .map(|k| summary["state"][k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(recorded, 1, "{summary}");
    assert_eq!(summary["state"]["failed"], 1, "{summary}");
    assert_eq!(setup.bundles().len(), 1, "{:?}", setup.bundles());

    let rows = setup.report();
    let done = rows
        .iter()
        .find(|r| ["complete", "partial"].contains(&r["state"].as_str().unwrap_or_default()))
        .unwrap();
    let other = rows.iter().find(|r| r["state"] == "failed").unwrap();
    let line_of = |key: &serde_json::Value| {
        if key == "x:@alnoor_school" { 2 } else { 3 }
    };
    let error = other["last_error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "also named on line {} ({})",
            line_of(&done["key"]),
            done["key"].as_str().unwrap()
        )) && error.contains("not archived again"),
        "{error}"
    );
    assert!(
        done["bundle_id"]
            .as_str()
            .unwrap()
            .starts_with("x-1234567890123456789-"),
        "{done}"
    );

    let again = setup.run();
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["this_run"]["claimed"], 0, "{summary}");
    assert_eq!(setup.bundles().len(), 1);
}

/// A batch makes the choices `tawthiq archive` offers: a registry line with `auth = api_key`
/// reads `YouTube` with the API key (`key=`), not as an OAuth bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_line_reads_youtube_with_an_api_key() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const KEY: &str = "AIza-test-key-not-a-real-one";
    let json = |body: &str| {
        ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
    };
    let server = MockServer::start().await;
    let api = "/googleapis/youtube/v3";
    Mock::given(method("GET"))
        .and(path(format!("{api}/channels")))
        .and(query_param("key", KEY))
        .respond_with(json(
            r#"{"kind":"youtube#channelListResponse","pageInfo":{"totalResults":1,"resultsPerPage":5},
            "items":[{"kind":"youtube#channel","id":"UCa1b2c3d4e5f6g7h8i9j0kL",
            "snippet":{"title":"مدرسة الأمل","customUrl":"@alamalschool","publishedAt":"2019-02-01T08:00:00Z"},
            "contentDetails":{"relatedPlaylists":{"uploads":"UUa1b2c3d4e5f6g7h8i9j0kL"}},
            "statistics":{"viewCount":"0","subscriberCount":"3","hiddenSubscriberCount":false,"videoCount":"0"}}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{api}/playlistItems")))
        .and(query_param("key", KEY))
        .respond_with(json(
            r#"{"kind":"youtube#playlistItemListResponse","pageInfo":{"totalResults":0,"resultsPerPage":50},"items":[]}"#,
        ))
        .mount(&server)
        .await;
    let setup = Setup::new("");
    std::fs::write(
        &setup.registry,
        "entity_id,entity_name,entity_type,platform,account,route,credential,auth\n\
         3001,مدرسة الأمل,school,youtube,@AlAmalSchool,api,AMAL_YT,api_key\n",
    )
    .unwrap();
    let mut c = tawthiq();
    c.current_dir(setup.dir.path())
        .arg("run")
        .arg(&setup.registry)
        .args(["--state", &setup.state(), "--store"])
        .arg(setup.store())
        .arg("--key")
        .arg(&setup.keys.secret)
        .args(["--json", "--linger-secs", "0"])
        .env(
            "TAWTHIQ_HOSTS",
            format!("www.googleapis.com={}/googleapis", server.uri()),
        )
        .env("TAWTHIQ_YT_DLP", "/nonexistent/yt-dlp")
        .env("TAWTHIQ_CRED_AMAL_YT", KEY);
    let o = tokio::task::spawn_blocking(move || run(&mut c))
        .await
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let recorded = ["complete", "partial", "unavailable"]
        .iter()
        .map(|k| summary["state"][k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(recorded, 1, "{summary}");
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    for r in &requests {
        assert!(r.headers.get("authorization").is_none(), "{}", r.url);
    }
    let bundles = setup.bundles();
    assert_eq!(bundles.len(), 1);
    let name = bundles[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("youtube-UCa1b2c3d4e5f6g7h8i9j0kL-"),
        "{name}"
    );
}
