//! `tawthiq status` and `tawthiq report` over a run state written by the real SQLite engine:
//! the figures an operator reads, and the per-account report an auditor files.

use std::path::{Path, PathBuf};
use std::process::Output;

use model::{Outcome, Platform};
use runner::registry::Registry;
use runner::state::{
    AccountSpec, Completion, Disposition, Failure, SqliteOptions, SqliteStateStore, StateStore,
};
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// An entity name with markup characters, as a registry may hold one.
const NOOR: &str = "مدرسة النور <الابتدائية> & البنات";
const NORTH: &str = "مكتب التعليم بشمال الرياض";
const YASMIN: &str = "نادي الحي بحي الياسمين";
/// The permanent failure's message: Arabic, a quote and a comma (CSV must quote it).
const NOT_FOUND: &str = "الحساب \"noor.school\" غير موجود، أو حُذف";

fn registry_csv() -> String {
    format!(
        "entity_id,entity_name,entity_type,region,platform,account,credential,exports\n\
         1001,{NOOR},school,الرياض,x,@Noor_School,NOOR_X,\n\
         1001,{NOOR},school,الرياض,instagram,noor.school,,noor-ig.zip\n\
         2001,{NORTH},office,الرياض,x,@NorthEdu,NORTH_X,\n\
         2001,{NORTH},office,الرياض,youtube,@NorthRiyadhEdu,NORTH_YT,\n\
         ١٠٠٢,ثانوية الملك عبدالعزيز,مدرسة,مكة المكرمة,facebook,https://www.facebook.com/KAAZHigh,,kaaz-fb.zip\n\
         1002,ثانوية الملك عبدالعزيز,مدرسة,مكة المكرمة,snapchat,kaaz.school,,\n\
         4001,{YASMIN},club,الرياض,instagram,@yasmin.club,,yasmin.zip\n"
    )
}

struct Run {
    /// Keeps the directory alive.
    _dir: tempfile::TempDir,
    dir: PathBuf,
    db: PathBuf,
    registry: PathBuf,
}

/// A run part-way through: of the registry's seven accounts six are in the state (the
/// yasmin club's is not), plus one the registry does not list. x: one complete, one partial, one running (and
/// the platform blocked for 3 hours); instagram: failed for good (capped at 2 at once);
/// youtube: deferred; facebook: to be retried; snapchat: pending.
fn run_in_progress() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let registry = dir.join("schools.csv");
    std::fs::write(&registry, registry_csv()).unwrap();
    let db = dir.join("state.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(fill(&db, &registry));
    Run {
        _dir: tmp,
        dir,
        db,
        registry,
    }
}

async fn fill(db: &Path, registry: &Path) {
    let reg = Registry::load(registry).unwrap();
    let mut specs: Vec<AccountSpec> = reg
        .iter()
        .filter(|a| a.account != "@yasmin.club")
        .map(|a| AccountSpec {
            key: a.key(),
            platform: a.platform,
            account: a.account.clone(),
            route: None,
            credential_ref: None,
            exports: Vec::new(),
        })
        .collect();
    assert_eq!(specs.len(), 6, "{specs:?}");
    specs.push(AccountSpec {
        key: "x:@orphan_account".into(),
        platform: Platform::X,
        account: "@orphan_account".into(),
        route: None,
        credential_ref: None,
        exports: Vec::new(),
    });
    let store = SqliteStateStore::open(db, SqliteOptions::default())
        .await
        .unwrap();
    // The CLI compares blocks and retries with its own clock: use the real one.
    let now = OffsetDateTime::now_utc();
    let lease = Duration::minutes(30);
    assert_eq!(store.upsert_accounts(&specs, now).await.unwrap(), 7);
    for platform in [
        Platform::X,
        Platform::Instagram,
        Platform::Youtube,
        Platform::Facebook,
    ] {
        while let Some(c) = store
            .claim("worker-1", Some(&[platform]), now, lease)
            .await
            .unwrap()
        {
            let done = |items, media, bytes, gaps| Completion {
                outcome: if gaps == 0 {
                    Outcome::Complete
                } else {
                    Outcome::Partial
                },
                bundle_id: format!("{}-20250101T000000Z", c.key.replace([':', '@'], "")),
                location: format!("file:///bundles/{}.tawthiq", c.key.replace([':', '@'], "")),
                items,
                media,
                gaps,
                bytes,
                tag_manifest_sha256: None,
                previous_bundle: None,
            };
            match c.key.as_str() {
                "x:@noor_school" => store
                    .complete(&c.key, c.fence, &done(120, 30, 2_500_000, 0), now)
                    .await
                    .unwrap(),
                "x:@northedu" => store
                    .complete(&c.key, c.fence, &done(40, 5, 600_000, 1), now)
                    .await
                    .unwrap(),
                "x:@orphan_account" => {} // left running under its lease
                "instagram:@noor.school" => {
                    let failure = Failure {
                        kind: "not_found".into(),
                        message: NOT_FOUND.into(),
                        disposition: Disposition::Permanent,
                    };
                    store.fail(&c.key, c.fence, &failure, now).await.unwrap();
                }
                "youtube:@northriyadhedu" => store
                    .defer(&c.key, c.fence, now + Duration::hours(2), "quota", now)
                    .await
                    .unwrap(),
                key if key.starts_with("facebook:") => {
                    let failure = Failure {
                        kind: "transport".into(),
                        message: "connection reset".into(),
                        disposition: Disposition::RetryAt(now + Duration::minutes(10)),
                    };
                    store.fail(&c.key, c.fence, &failure, now).await.unwrap();
                }
                other => panic!("unexpected account {other}"),
            }
        }
    }
    store
        .block_platform(Platform::X, now + Duration::hours(3), "429", now)
        .await
        .unwrap();
    store
        .set_platform_cap(Platform::Instagram, Some(2), now)
        .await
        .unwrap();
    store.close().await;
}

fn state_arg(run: &Run) -> String {
    format!("sqlite://{}", run.db.display())
}

fn tawthiq_in(dir: &Path) -> std::process::Command {
    let mut c = tawthiq();
    c.env_remove("TAWTHIQ_STATE").current_dir(dir);
    c
}

fn report(run: &Run, args: &[&str]) -> String {
    ok(tawthiq_in(&run.dir)
        .args(["report", "--state", &state_arg(run)])
        .args(args))
}

/// CSV output: starts with a BOM; the header and the records after it.
fn parse_csv(text: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let body = text
        .strip_prefix('\u{FEFF}')
        .unwrap_or_else(|| panic!("no BOM: {text}"));
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let headers = r.headers().unwrap().iter().map(str::to_owned).collect();
    let records = r.records().map(Result::unwrap).collect();
    (headers, records)
}

fn field<'a>(headers: &[String], record: &'a csv::StringRecord, name: &str) -> &'a str {
    let i = headers
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {headers:?}"));
    &record[i]
}

fn row<'a>(
    headers: &[String],
    records: &'a [csv::StringRecord],
    key: &str,
) -> &'a csv::StringRecord {
    records
        .iter()
        .find(|r| field(headers, r, "key") == key)
        .unwrap_or_else(|| panic!("no row {key}"))
}

#[test]
fn status_shows_each_platform_its_limits_and_the_totals() {
    let run = run_in_progress();
    let out = ok(tawthiq_in(&run.dir).args(["status", "--state", &state_arg(&run)]));
    let line = |name: &str| -> Vec<&str> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} line in\n{out}"))
            .split_whitespace()
            .collect()
    };
    // platform accounts complete partial unavailable failed retry deferred running pending
    // %recorded items media bytes
    let x = [
        "x", "3", "1", "1", "0", "0", "0", "0", "1", "0", "66.7%", "160", "35", "3.1", "MB",
    ];
    assert_eq!(line("x"), x, "{out}");
    let instagram = [
        "instagram",
        "1",
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
        "0",
        "0",
        "0.0%",
        "0",
        "0",
        "0",
        "B",
    ];
    assert_eq!(line("instagram"), instagram, "{out}");
    assert_eq!(line("youtube")[7], "1", "deferred\n{out}");
    assert_eq!(line("facebook")[6], "1", "retry\n{out}");
    assert_eq!(line("snapchat")[9], "1", "pending\n{out}");
    let total = [
        "total", "7", "1", "1", "0", "1", "1", "1", "1", "1", "28.6%", "160", "35", "3.1", "MB",
    ];
    assert_eq!(line("total"), total, "{out}");
    assert!(out.contains("x: blocked until 20"), "{out}");
    assert!(
        out.contains("instagram: at most 2 accounts running at once"),
        "{out}"
    );
    assert!(!out.contains("youtube: blocked"), "{out}");
}

#[test]
fn status_json_carries_the_same_figures() {
    let run = run_in_progress();
    // The location through the environment, as a remote operator would set it.
    let out = ok(tawthiq_in(&run.dir)
        .args(["status", "--json"])
        .env("TAWTHIQ_STATE", state_arg(&run)));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let platforms = v["platforms"].as_array().unwrap();
    let names: Vec<&str> = platforms
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["x", "instagram", "facebook", "youtube", "snapchat"],
        "{out}"
    );
    let x = &platforms[0];
    assert_eq!(x["accounts"], 3);
    assert_eq!(
        (x["complete"].as_u64(), x["partial"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(x["running"], 1);
    assert_eq!(x["items"], 160);
    assert_eq!(x["media"], 35);
    assert_eq!(x["bytes"], 3_100_000);
    assert_eq!(x["percent_recorded"], 66.7);
    let until = OffsetDateTime::parse(
        x["blocked_until"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = until - OffsetDateTime::now_utc();
    assert!(
        left > Duration::hours(2) && left <= Duration::hours(3),
        "{left}"
    );
    assert!(x["max_concurrent"].is_null());
    assert_eq!(platforms[1]["failed"], 1);
    assert_eq!(platforms[1]["max_concurrent"], 2);
    assert!(platforms[1]["blocked_until"].is_null());
    let total = &v["total"];
    for (name, n) in [
        ("accounts", 7),
        ("complete", 1),
        ("partial", 1),
        ("unavailable", 0),
        ("failed", 1),
        ("retry", 1),
        ("deferred", 1),
        ("running", 1),
        ("pending", 1),
        ("bytes", 3_100_000),
    ] {
        assert_eq!(total[name], n, "{name}: {out}");
    }
}

#[test]
fn report_csv_has_a_bom_one_row_per_account_and_the_text_as_stored() {
    let run = run_in_progress();
    let out = report(&run, &["--format", "csv"]);
    assert!(out.as_bytes().starts_with(b"\xEF\xBB\xBF"));
    let (headers, records) = parse_csv(&out);
    assert_eq!(
        headers,
        [
            "key",
            "platform",
            "account",
            "state",
            "bundle_id",
            "bundle_location",
            "items",
            "media",
            "gaps",
            "bytes",
            "attempts",
            "last_error",
            "not_before",
            "updated_at"
        ]
    );
    assert_eq!(records.len(), 7, "{out}");
    let keys: Vec<&str> = records.iter().map(|r| field(&headers, r, "key")).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "ordered by key");

    let failed = row(&headers, &records, "instagram:@noor.school");
    assert_eq!(field(&headers, failed, "state"), "failed");
    assert_eq!(field(&headers, failed, "attempts"), "1");
    assert_eq!(
        field(&headers, failed, "last_error"),
        format!("not_found: {NOT_FOUND}")
    );
    // Byte-exact in the file itself, quotes doubled as RFC 4180 wants.
    let quoted = format!("\"not_found: {}\"", NOT_FOUND.replace('"', "\"\""));
    assert!(contains(out.as_bytes(), &quoted), "{out}");

    let done = row(&headers, &records, "x:@noor_school");
    assert_eq!(field(&headers, done, "state"), "complete");
    assert_eq!(
        field(&headers, done, "bundle_id"),
        "xnoor_school-20250101T000000Z"
    );
    assert_eq!(field(&headers, done, "items"), "120");
    assert_eq!(field(&headers, done, "bytes"), "2500000");
    assert_eq!(field(&headers, done, "last_error"), "");
    OffsetDateTime::parse(
        field(&headers, done, "updated_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    let deferred = row(&headers, &records, "youtube:@northriyadhedu");
    assert_eq!(field(&headers, deferred, "state"), "deferred");
    assert!(field(&headers, deferred, "not_before").ends_with('Z'));
    assert_eq!(
        field(
            &headers,
            row(&headers, &records, "snapchat:@kaaz.school"),
            "state"
        ),
        "pending"
    );
}

#[test]
fn report_with_the_registry_lists_every_account_with_its_entity() {
    let run = run_in_progress();
    let registry = run.registry.to_str().unwrap();
    let out = report(&run, &["--format", "csv", "--registry", registry]);
    let (headers, records) = parse_csv(&out);
    assert_eq!(
        headers[..6],
        [
            "key",
            "entity_id",
            "entity_name",
            "entity_kind",
            "region",
            "platform"
        ]
    );
    // Seven registry accounts in the registry's order, then the one only the state knows.
    let keys: Vec<&str> = records.iter().map(|r| field(&headers, r, "key")).collect();
    assert_eq!(
        keys,
        [
            "x:@noor_school",
            "instagram:@noor.school",
            "x:@northedu",
            "youtube:@northriyadhedu",
            "facebook:@kaazhigh",
            "snapchat:@kaaz.school",
            "instagram:@yasmin.club",
            "x:@orphan_account",
        ],
        "{out}"
    );
    let noor = row(&headers, &records, "x:@noor_school");
    assert_eq!(field(&headers, noor, "entity_id"), "1001");
    assert_eq!(field(&headers, noor, "entity_name"), NOOR);
    assert_eq!(field(&headers, noor, "entity_kind"), "school");
    assert_eq!(field(&headers, noor, "region"), "الرياض");
    assert!(contains(out.as_bytes(), NOOR), "byte-exact Arabic");
    let kaaz = row(&headers, &records, "snapchat:@kaaz.school");
    assert_eq!(field(&headers, kaaz, "entity_id"), "1002");
    assert_eq!(field(&headers, kaaz, "entity_kind"), "school");

    let missing = row(&headers, &records, "instagram:@yasmin.club");
    assert_eq!(field(&headers, missing, "state"), "not_in_state");
    assert_eq!(field(&headers, missing, "entity_name"), YASMIN);
    assert_eq!(field(&headers, missing, "items"), "");
    assert_eq!(field(&headers, missing, "updated_at"), "");
    let orphan = row(&headers, &records, "x:@orphan_account");
    assert_eq!(field(&headers, orphan, "state"), "running");
    assert_eq!(field(&headers, orphan, "entity_name"), "");

    // The same in JSON: numbers as numbers, what is unknown as null.
    let json = report(&run, &["--format", "json", "--registry", registry]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0]["entity_name"], NOOR);
    assert_eq!(rows[0]["items"], 120);
    assert_eq!(rows[6]["state"], "not_in_state");
    assert!(rows[6]["items"].is_null() && rows[6]["bundle_id"].is_null());
    assert!(rows[7]["entity_id"].is_null());
}

#[test]
fn report_json_without_registry_has_no_entity_fields() {
    let run = run_in_progress();
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&report(&run, &["--format", "json"])).unwrap();
    assert_eq!(rows.len(), 7);
    let failed = rows
        .iter()
        .find(|r| r["key"] == "instagram:@noor.school")
        .unwrap();
    assert_eq!(failed["last_error"], format!("not_found: {NOT_FOUND}"));
    assert_eq!(failed["attempts"], 1);
    assert!(failed.get("entity_name").is_none(), "{failed}");
}

#[test]
fn report_html_is_right_to_left_and_escapes_every_value() {
    let run = run_in_progress();
    let registry = run.registry.to_str().unwrap();
    let page = report(&run, &["--format", "html", "--registry", registry]);
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"), "{page}");
    assert!(page.contains("<meta charset=\"utf-8\">"));
    assert!(
        page.contains("<bdi>مدرسة النور &lt;الابتدائية&gt; &amp; البنات</bdi>"),
        "{page}"
    );
    assert!(!page.contains("<الابتدائية>"), "unescaped name");
    assert!(page.contains("<bdi dir=\"ltr\">xnoor_school-20250101T000000Z</bdi>"));
    assert!(page.contains("<bdi dir=\"ltr\">instagram:@yasmin.club</bdi>"));
    assert!(
        page.contains("&quot;noor.school&quot;"),
        "escaped error text"
    );
    assert_eq!(page.matches("<tr class=").count(), 8);
}

#[test]
fn report_table_and_output_file() {
    let run = run_in_progress();
    let table = report(&run, &[]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 8, "{table}");
    assert!(lines[0].starts_with("key "), "{table}");
    // Columns line up: every row has its state where the header has "state".
    let at = lines[0].find("state").unwrap();
    let failed = lines
        .iter()
        .find(|l| l.starts_with("instagram:@noor.school"))
        .unwrap();
    assert!(
        failed
            .get(at..)
            .is_some_and(|rest| rest.starts_with("failed ")),
        "{table}"
    );

    // -o: the format from the extension, the same bytes as stdout, nothing else left behind.
    let out_dir = run.dir.join("reports");
    std::fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("run.csv");
    ok(tawthiq_in(&run.dir)
        .args(["report", "--state", &state_arg(&run), "-o"])
        .arg(&target));
    let written = std::fs::read_to_string(&target).unwrap();
    assert_eq!(written, report(&run, &["--format", "csv"]));
    assert_eq!(only_file(&out_dir), target);
    // A second run replaces it whole.
    ok(tawthiq_in(&run.dir)
        .args([
            "report",
            "--state",
            &state_arg(&run),
            "--format",
            "json",
            "-o",
        ])
        .arg(&target));
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(only_file(&out_dir), target);
}

fn one_line_error(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn a_missing_state_is_reported_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let missing = dir.join("nowhere").join("state.db");
    for location in [
        missing.display().to_string(),
        format!("sqlite://{}", missing.display()),
    ] {
        for cmd in [&["status"][..], &["report", "--format", "csv"]] {
            let o = run(tawthiq_in(dir).args(cmd).args(["--state", &location]));
            let err = one_line_error(&o);
            assert!(
                err.contains(&format!("no run state at {}", missing.display()))
                    && err.contains("tawthiq run <registry>"),
                "{err}"
            );
            assert!(o.stdout.is_empty());
        }
    }
    // The default location, relative to the working directory, is not created either.
    let o = run(tawthiq_in(dir).arg("status"));
    assert!(one_line_error(&o).contains("no run state at tawthiq-run/state.db"));
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0, "created files");
}

#[test]
fn an_unreachable_postgres_state_never_shows_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    // Port 1 on the loopback: nothing listens there.
    let location = "postgres://tawthiq:Sup3r%2FS3cret@127.0.0.1:1/run";
    for cmd in [&["status"][..], &["report"]] {
        let o = run(tawthiq_in(tmp.path()).args(cmd).args(["--state", location]));
        let err = one_line_error(&o);
        assert!(
            !err.contains("Sup3r") && !err.contains("S3cret"),
            "password leaked: {err}"
        );
        assert!(err.contains("127.0.0.1"), "names the store: {err}");
        // Nor does `--help`, which clap would otherwise show the environment's value in.
        let help = ok(tawthiq_in(tmp.path())
            .args(cmd)
            .arg("--help")
            .env("TAWTHIQ_STATE", location));
        assert!(help.contains("TAWTHIQ_STATE"), "{help}");
        assert!(!help.contains("Sup3r"), "password leaked: {help}");
    }
}
