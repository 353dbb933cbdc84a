//! Registries: the shipped samples, every validation rule (message and line), Arabic text kept
//! byte for byte, the Arabic comma, Eastern Arabic digits, a BOM, and a large registry.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use model::Platform;
use runner::registry::{
    AuthChoice, EntityKind, Registry, RegistryAccount, RegistryError, RoutePreference,
};

const HEADER: &str =
    "entity_id,entity_name,entity_type,region,platform,account,route,credential,exports\n";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/registry")
}

/// The problems of an invalid CSV registry, rendered one per string.
fn csv_problems(text: &str) -> Vec<String> {
    match Registry::parse_csv(text) {
        Ok(r) => panic!("expected problems, got {} accounts", r.len()),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

fn toml_problems(text: &str) -> Vec<String> {
    match Registry::parse_toml(text) {
        Ok(r) => panic!("expected problems, got {} accounts", r.len()),
        Err(e) => e.problems().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_samples_load_and_agree() {
    let csv = Registry::load(examples().join("schools.csv")).unwrap();
    let toml = Registry::load(examples().join("schools.toml")).unwrap();
    assert_eq!(csv.len(), 19);
    let keys = |r: &Registry| r.iter().map(RegistryAccount::key).collect::<Vec<_>>();
    assert_eq!(keys(&csv), keys(&toml));
    let entities = |r: &Registry| {
        r.iter()
            .map(|a| {
                (
                    a.entity.clone(),
                    a.route,
                    a.credential.clone(),
                    a.exports.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(entities(&csv), entities(&toml));
    let ids: std::collections::BTreeSet<_> = csv.iter().map(|a| a.entity.id.as_str()).collect();
    assert_eq!(ids.len(), 10);
    for platform in Platform::ALL {
        assert!(csv.iter().any(|a| a.platform == platform), "{platform}");
    }
    let first = &csv.accounts()[0];
    assert_eq!(first.key(), "x:@madrasat_alnoor");
    assert_eq!(first.entity.name, "مدرسة النور الابتدائية");
    assert_eq!(first.entity.kind, EntityKind::School);
    assert_eq!(first.entity.region.as_deref(), Some("الرياض"));
    assert_eq!(first.route, RoutePreference::Api);
    assert_eq!(
        first.credential_env_var().as_deref(),
        Some("TAWTHIQ_CRED_NOOR_X")
    );
    assert_eq!(
        first.credential_secrets_key().as_deref(),
        Some("cred_noor_x")
    );
    assert_eq!(first.line, 5);
    // Relative export paths are read from the registry's folder.
    let noor_ig = &csv.accounts()[1];
    assert_eq!(
        noor_ig.exports,
        [examples().join("exports/noor-instagram.zip")]
    );
    let yasmin = csv
        .iter()
        .find(|a| a.key() == "instagram:@yasmin.club")
        .unwrap();
    assert_eq!(yasmin.exports.len(), 2);
    // A quoted name keeps its Arabic comma; Eastern digits in an id become ASCII.
    assert!(
        csv.iter()
            .any(|a| a.entity.name == "إدارة التعليم بمحافظة جدة، مكتب الإعلام")
    );
    assert!(
        csv.iter()
            .any(|a| a.key() == "x:@kaaz_highschool" && a.entity.id == "1002")
    );
}

#[test]
fn arabic_text_is_kept_byte_for_byte() {
    // Diacritics, tatweel, a right-to-left mark, and alef forms: nothing is normalised.
    let name = "مَدرسة الـنور\u{200F} «أ» إ آ ى ة ١٢";
    let region = "منطقة الجوف";
    let text = format!("{HEADER}1,\"{name}\",school,{region},x,@a,,C,\n");
    let r = Registry::parse_csv(&text).unwrap();
    assert_eq!(r.accounts()[0].entity.name.as_bytes(), name.as_bytes());
    assert_eq!(r.accounts()[0].entity.region.as_deref(), Some(region));
    let toml = format!(
        "[[entity]]\nid = \"1\"\nname = \"{name}\"\ntype = \"school\"\nregion = \"{region}\"\n\
         [[entity.account]]\nplatform = \"x\"\naccount = \"@a\"\ncredential = \"C\"\n"
    );
    let r = Registry::parse_toml(&toml).unwrap();
    assert_eq!(r.accounts()[0].entity.name.as_bytes(), name.as_bytes());
}

#[test]
fn the_arabic_comma_separates_fields_and_list_entries() {
    let text = "entity_id،entity_name،entity_type،region،platform،account،route،credential،exports\n\
                ١٠٠١،مدرسة النور، الابتدائية?،مدرسة،الرياض،x،@noor،export،،a.zip، b.zip\n";
    // Unquoted, the comma inside the name splits it: reported with the line.
    assert_eq!(
        csv_problems(text),
        [
            "line 2: 11 fields but the header has 9: put a field that contains \"،\" in double quotes"
        ]
    );
    let text = "entity_id،entity_name،entity_type،region،platform،account،route،credential،exports\n\
                ١٠٠١،\"مدرسة النور، الابتدائية\"،مدرسة،الرياض،instagram،@noor،export،،\"a.zip، b.zip;c.zip\"\n";
    let r = Registry::parse_csv(text).unwrap();
    let a = &r.accounts()[0];
    assert_eq!(a.entity.id, "1001");
    assert_eq!(a.entity.name, "مدرسة النور، الابتدائية");
    assert_eq!(
        a.exports,
        [PathBuf::from("a.zip"), "b.zip".into(), "c.zip".into()]
    );
}

#[test]
fn eastern_arabic_and_persian_digits_in_ids() {
    let text = format!(
        "{HEADER}١٢٣٤٥٦٧٨٩٠,أ,school,,x,@a,,C,\n۱۲۳۴۵,ب,school,,facebook,۱۰۰۰۶۴۵۱۲۳,,C,\n\
         ٩٩,ج,school,,instagram,١٧٨٤١٤٠٥٨٢٢,,C,\n"
    );
    let r = Registry::parse_csv(&text).unwrap();
    let ids: Vec<_> = r.iter().map(|a| a.entity.id.as_str()).collect();
    assert_eq!(ids, ["1234567890", "12345", "99"]);
    assert_eq!(r.accounts()[1].key(), "facebook:1000645123");
    assert_eq!(r.accounts()[2].key(), "instagram:17841405822");
}

#[test]
fn a_bom_blank_lines_and_comments_are_skipped() {
    let text = format!(
        "\u{FEFF}# a comment before the header\n\n{HEADER}\n# a comment\n1,أ,school,,x,@a,,C,\n   \n\
         ,,,,,,,,\n1,أ,school,,x,@b,,C,\n"
    );
    let r = Registry::parse_csv(&text).unwrap();
    assert_eq!(r.iter().map(|a| a.line).collect::<Vec<_>>(), [6, 9]);
    let toml = "\u{FEFF}[[entity]]\nid = 1\nname = \"أ\"\ntype = \"club\"\n[[entity.account]]\n\
                platform = \"snapchat\"\naccount = \"@noor\"\n";
    assert_eq!(Registry::parse_toml(toml).unwrap().accounts()[0].line, 7);
}

#[test]
fn headers_match_case_insensitively_and_in_arabic() {
    let text = " Entity ID , ENTITY_NAME,Type,Platform ,Account,Notes\n1,أ,school,snapchat,@noor,anything\n";
    assert_eq!(Registry::parse_csv(text).unwrap().len(), 1);
    let text =
        "رقم الجهة,اسم الجهة,نوع الجهة,المنطقة,المنصة,الحساب,الاعتماد\n١,أ,مدرسة,الرياض,x,@a,C\n";
    assert_eq!(
        Registry::parse_csv(text).unwrap().accounts()[0].entity.id,
        "1"
    );
}

#[test]
fn missing_and_unknown_columns() {
    let problems = csv_problems("# header next\nentity_id,name,acount,platform\n1,أ,@a,x\n");
    assert_eq!(
        problems,
        [
            "line 2: unknown column \"acount\": use entity_id, entity_name, entity_type, region, \
             platform, account, route, credential, auth, exports (name extra columns \"notes\" or \
             start them with \"_\")",
            "line 2: missing required column \"entity_type\": add it to the header row \
             (required: entity_id, entity_name, entity_type, platform, account)",
            "line 2: missing required column \"account\": add it to the header row (required: \
             entity_id, entity_name, entity_type, platform, account)",
        ]
    );
    assert_eq!(
        csv_problems("platform,account,platform,entity_id,entity_name,entity_type\n"),
        ["line 1: column platform appears twice: keep one"]
    );
    assert_eq!(
        csv_problems("# only a comment\n\n"),
        ["the registry is empty: it needs a header row and one row per account"]
    );
}

#[test]
fn every_row_problem_is_reported_with_its_line() {
    let text = format!(
        "{HEADER}\
         1,مدرسة,school,,x,@Noor,,C,\n\
         2,مكتب,office,,tiktok,@noor,,,\n\
         3,نادي,club,,x,@madrasa-noor,,,\n\
         4,نادي,hospital,,x,@four,,C,\n\
         ,,school,,x,@five,,C,\n\
         6,مدرسة,school,,x,https://x.com/noor,,C,\n\
         7,مدرسة,school,,x,@seven,rss,,\n\
         8,مدرسة,school,,x,@eight,export,,\n\
         9,مدرسة,school,,x,@nine,api,,a.zip\n\
         10,مدرسة,school,,x,@ten,,noor x,\n\
         1,مدرسة أخرى,school,,x,@eleven,,C,\n\
         12,مدرسة,school,,youtube,https://www.youtube.com/c/Noor,,,\n\
         13,مدرسة,school,,x,,,,\n\
         ١٤ب,مدرسة,school,,x,@fourteen,,C,\n\
         15,مدرسة,school,x,@fifteen\n"
    );
    let problems = csv_problems(&text);
    let expected = [
        "line 3: platform \"tiktok\" is unknown: use x (or twitter), instagram, facebook, youtube \
         or snapchat",
        "line 4: account \"@madrasa-noor\" is not a valid handle: an X handle is 1 to 50 letters, \
         digits or \"_\"",
        "line 5: entity type \"hospital\" is unknown: use school, office, administration, club, \
         attache or school_abroad (or مدرسة، مكتب، إدارة، نادي، ملحقية، مدرسة بالخارج)",
        "line 6: entity_id is empty: give the entity's id (e.g. 1001)",
        "line 6: entity_name is empty: give the entity's name",
        "line 7: duplicate account x:@noor (written \"https://x.com/noor\" here, \"@Noor\" on line \
         2): remove one of them",
        "line 8: route \"rss\" is unknown: use api, export, web or auto (empty means auto)",
        "line 9: route is export but no export file is given: list the owner's export files in \
         exports",
        "line 10: export files are given but the route is api: set the route to export or auto, \
         or remove the exports",
        "line 11: credential \"noor x\" is not a valid name: use up to 64 letters, digits and \
         \"_\", starting with a letter (it names TAWTHIQ_CRED_<NAME> or cred_<name> in the \
         secrets file)",
        "line 12: entity 1 is named \"مدرسة أخرى\" here but \"مدرسة\" on line 2: write it the same \
         way on every line, or give it another id",
        "line 13: account \"https://www.youtube.com/c/Noor\" is a legacy YouTube URL: open it and \
         copy the @handle or the /channel/UC… address",
        "line 14: account is empty: give a handle (@name), a profile URL or a numeric id",
        "line 15: entity_id \"١٤ب\" is not valid: use 1 to 64 ASCII letters, digits, \"-\", \"_\" \
         or \".\" (Arabic digits are converted)",
        "line 16: 5 fields but the header has 9: put a field that contains \",\" in double quotes",
    ];
    assert_eq!(problems, expected);
}

#[test]
fn a_token_in_the_credential_column_is_refused_and_not_repeated() {
    let token = "EAAGm0PX4ZCpsBAKZCeL0wK1ZBxyz7Qq";
    let text = format!("{HEADER}1,أ,school,,facebook,@noorschool,api,{token},\n");
    let err = Registry::parse_csv(&text).unwrap_err();
    let message = err.to_string();
    assert_eq!(
        err.problems()[0].to_string(),
        "line 2: credential holds what looks like a secret token (32 characters, not repeated \
         here): put the token in TAWTHIQ_CRED_<NAME> or as cred_<name> in the secrets file, and \
         write only NAME here"
    );
    assert!(!message.contains(token) && !format!("{err:?}").contains(token));
}

#[test]
fn problems_are_all_collected_up_to_the_cap() {
    let mut text = HEADER.to_owned();
    for i in 0..250 {
        writeln!(text, "{i},أ,school,,tiktok,@a{i},,,").unwrap();
    }
    let err = Registry::parse_csv(&text).unwrap_err();
    let RegistryError::Invalid {
        problems, total, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((problems.len(), *total), (100, 250));
    assert_eq!(problems[99].line, Some(101));
    assert!(
        err.to_string()
            .starts_with("registry: 250 problems\n  line 2: platform")
    );
    assert!(err.to_string().ends_with("\n  … and 150 more"));
}

#[test]
fn toml_problems_name_the_entity_the_account_and_the_line() {
    let text = r#"
[[entity]]
id = "1"
name = "مدرسة"
type = "school"

  [[entity.account]]
  platform = "x"
  account = "@noor"

  [[entity.account]]
  platform = "myspace"
  account = "@noor"

[[entity]]
id = "2"
type = "club"

  [[entity.account]]
  platform = "twitter"
  account = "https://x.com/Noor"

[[entity]]
id = "3"
name = "نادي"
type = "club"
"#;
    assert_eq!(
        toml_problems(text),
        [
            "line 9 (entity 1, account 1): no export and no credential: name a credential (API) \
             or the owner's export files",
            "line 13 (entity 1, account 2): platform \"myspace\" is unknown: use x (or twitter), \
             instagram, facebook, youtube or snapchat",
            "line 16 (entity 2): entity_name is empty: give the entity's name",
            "line 21 (entity 2, account 1): duplicate account x:@noor (written \
             \"https://x.com/Noor\" here, \"@noor\" on line 9): remove one of them",
            "line 24 (entity 3): the entity has no [[entity.account]] tables: add its accounts",
        ]
    );
    assert_eq!(
        toml_problems("[[entity]]\nid = \"1\"\nnmae = \"x\"\n"),
        [
            "line 3: invalid TOML: unknown field `nmae`, expected one of `id`, `name`, `kind`, \
          `type`, `region`, `account`"
        ]
    );
}

#[test]
fn load_names_the_file_and_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("r.csv");
    std::fs::write(
        &bad,
        format!("{HEADER}1,أ,school,,x,@a,,C,\n1,أ,school,,x,@A,,C,\n"),
    )
    .unwrap();
    let message = Registry::load(&bad).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "{}: 1 problem\n  line 3: duplicate account x:@a (written \"@A\" here, \"@a\" on line \
             2): remove one of them",
            bad.display()
        )
    );
    let xlsx = dir.path().join("r.xlsx");
    std::fs::write(&xlsx, "").unwrap();
    assert!(matches!(
        Registry::load(&xlsx),
        Err(RegistryError::UnknownFormat { .. })
    ));
    assert!(matches!(
        Registry::load(dir.path().join("missing.toml")),
        Err(RegistryError::Io { .. })
    ));
}

#[test]
fn a_registry_of_ten_thousand_rows_parses() {
    // Each platform by a route its adapter takes a handle on.
    let platforms = [
        ("x", "api,C,"),
        ("instagram", "export,,ig.zip"),
        ("facebook", "export,,fb.zip"),
        ("youtube", "api,C,"),
        ("snapchat", "web,,"),
    ];
    let mut text = HEADER.to_owned();
    for i in 0..10_000 {
        let (platform, rest) = platforms[i % 5];
        let rest = rest.replace(".zip", &format!("-{i}.zip"));
        writeln!(
            text,
            "{},مدرسة رقم {},school,الرياض,{platform},@school{i:05},{rest}",
            i / 5,
            i / 5
        )
        .unwrap();
    }
    let r = Registry::parse_csv(&text).unwrap();
    assert_eq!(r.len(), 10_000);
    assert_eq!(r.accounts()[9_999].key(), "snapchat:@school09999");
    assert_eq!(r.accounts()[9_999].line, 10_001);
}

#[test]
fn a_quoted_field_may_span_lines_and_line_numbers_stay_true() {
    let text = format!(
        "{HEADER}1,\"مدرسة\nالنور\",school,,x,@a,,C,\n\n2,ب,school,,x,@b,,C,\n3,\"لم يغلق,school,,x,@c,,,\n"
    );
    let problems = csv_problems(&text);
    assert_eq!(
        problems,
        [
            "line 6: a double quote opened on this line is never closed: close the quoted field (\"…\")"
        ]
    );
    let text = format!("{HEADER}1,\"مدرسة\nالنور\",school,,x,@a,,C,\n\n2,ب,school,,x,@b,,C,\n");
    let r = Registry::parse_csv(&text).unwrap();
    assert_eq!(r.accounts()[0].entity.name, "مدرسة\nالنور");
    assert_eq!(r.iter().map(|a| a.line).collect::<Vec<_>>(), [2, 5]);
}

#[test]
fn a_line_that_is_not_utf8_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cp1256.csv");
    // "مدرسة" in Windows-1256, as an old Excel saves it.
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"1,\xe3\xcf\xd1\xd3\xc9,school,,x,@a,,,\n");
    std::fs::write(&path, bytes).unwrap();
    let err = Registry::load(&path).unwrap_err();
    assert_eq!(
        err.problems()[0].to_string(),
        "line 2: the line is not UTF-8 text: save the registry as UTF-8 (in Excel: CSV UTF-8)"
    );
}

/// A batch run checks the whole file, then feeds it in batches, without ever holding it.
#[test]
fn check_then_batches_stream_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = HEADER.to_owned();
    for i in 0..2_500 {
        let credential = ["NOOR_X", "NOOR_X", "RAWDA_X"][i % 3];
        writeln!(text, "{i},مدرسة {i},school,,x,@s{i:05},auto,{credential},").unwrap();
    }
    std::fs::write(&path, &text).unwrap();
    let checked = Registry::check(&path).unwrap();
    assert_eq!(checked.accounts, 2_500);
    assert_eq!(
        checked.credentials.iter().collect::<Vec<_>>(),
        ["NOOR_X", "RAWDA_X"]
    );
    let mut sizes = Vec::new();
    let mut last = None;
    Registry::for_each_batch(&path, 1_000, &mut |batch| {
        sizes.push(batch.len());
        last = batch.last().map(RegistryAccount::key);
    })
    .unwrap();
    assert_eq!(sizes, [1_000, 1_000, 500]);
    assert_eq!(last.as_deref(), Some("x:@s02499"));

    // A problem on the last line: check refuses the file, naming the line.
    writeln!(text, "9,ط,school,,x,@s00001,,NOOR_X,").unwrap();
    std::fs::write(&path, &text).unwrap();
    let err = Registry::check(&path).unwrap_err();
    assert_eq!(err.problems()[0].line, Some(2_502));
}

/// The check applies the sources' own rules (issue 13): a line its adapter would refuse is
/// refused with its line, whatever the route choice that led there.
#[test]
fn lines_the_adapters_would_refuse_are_refused_with_their_line() {
    let text = format!(
        "{HEADER}\
         1,أ,school,,instagram,@noor.school,api,NOOR_IG,\n\
         1,أ,school,,instagram,@noor.club,,NOOR_IG,\n\
         1,أ,school,,facebook,https://www.facebook.com/NoorSchool,api,NOOR_FB,\n\
         1,أ,school,,youtube,@noor,web,,\n\
         1,أ,school,,youtube,@noor_tv,export,,takeout.zip\n\
         1,أ,school,,x,@noor,,,\n\
         1,أ,school,,snapchat,@noor,api,SNAP,\n\
         1,أ,school,,x,@noor_x,export,,a.zip;b.zip\n"
    );
    let problems = csv_problems(&text);
    let expected: [(&str, &str); 8] = [
        ("line 2", "not a username"),
        ("line 3", "not a username"),
        ("line 4", "the Page's numeric id"),
        ("line 5", "no public-web route for youtube"),
        ("line 6", "a Google Takeout names its channel only by id"),
        ("line 7", "no export and no credential"),
        ("line 8", "Snapchat has no API for public profiles"),
        ("line 9", "an X archive is one zip; 2 were given"),
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, (line, why)) in problems.iter().zip(expected) {
        assert!(
            problem.starts_with(&format!("{line}: ")) && problem.contains(why),
            "{problem}"
        );
    }
}

/// `auth` gives a batch the choices `tawthiq archive` offers (Instagram's login, YouTube's
/// OAuth token or API key); the run state keeps it with the route.
#[test]
fn the_auth_choice_is_read_checked_and_kept_with_the_route() {
    let header =
        "entity_id,entity_name,entity_type,platform,account,route,credential,auth,exports\n";
    let r = Registry::parse_csv(&format!(
        "{header}1,أ,school,instagram,1784,api,IG,facebook_login,\n\
         1,أ,school,youtube,@noor_tv,,YT,API key,\n\
         1,أ,school,youtube,@noor_school,api,YT2,,\n"
    ))
    .unwrap();
    let texts: Vec<String> = r.iter().map(RegistryAccount::route_text).collect();
    assert_eq!(texts, ["api/facebook_login", "auto/api_key", "api"]);
    for (account, text) in r.iter().zip(&texts) {
        assert_eq!(
            runner::registry::parse_route_text(text).unwrap(),
            (account.route, account.auth)
        );
        assert_eq!(account.account_spec().route.as_deref(), Some(text.as_str()));
    }
    assert_eq!(r.accounts()[0].auth, Some(AuthChoice::FacebookLogin));
    let problems = csv_problems(&format!(
        "{header}1,أ,school,x,@noor,api,X,oauth,\n\
         1,أ,school,instagram,@noor.school,export,,facebook,ig.zip\n\
         1,أ,school,youtube,@noor_tv,api,YT,bearer,\n"
    ));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("line 2: auth oauth is a youtube choice, not x's"));
    assert!(problems[1].contains("line 3: auth facebook_login applies to the api route"));
    assert!(problems[2].contains("line 4: auth \"bearer\" is unknown"));
    let toml = "[[entity]]\nid = 1\nname = \"أ\"\ntype = \"school\"\n[[entity.account]]\n\
                platform = \"youtube\"\naccount = \"@noor_tv\"\ncredential = \"YT\"\n\
                auth = \"api_key\"\n";
    assert_eq!(
        Registry::parse_toml(toml).unwrap().accounts()[0].auth,
        Some(AuthChoice::ApiKey)
    );
}

/// Two lines listing one export file: maybe one account written two ways, maybe an export on
/// the wrong line. The check names both lines and lets the run tell.
#[test]
fn lines_sharing_an_export_are_named_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(
        &path,
        format!(
            "{HEADER}1,أ,school,,x,@alnoor_school,export,,exports/x.zip\n\
             1,أ,school,,x,1234567890123456789,export,,./exports/x.zip\n\
             1,أ,school,,instagram,@alnoor.school,export,,exports/ig.zip\n"
        ),
    )
    .unwrap();
    let checked = Registry::check(&path).unwrap();
    assert_eq!(checked.accounts, 3);
    let warnings: Vec<String> = checked.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("line 3: export ./exports/x.zip is also listed on line 2"),
        "{warnings:?}"
    );
    assert_eq!(
        Registry::line_of(&path, "x:1234567890123456789").unwrap(),
        Some(3)
    );
    assert_eq!(Registry::line_of(&path, "x:@nobody").unwrap(), None);
}
