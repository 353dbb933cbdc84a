//! Builds sample bundles for the tests.

use std::path::{Path, PathBuf};

use archive::signing::{self, PublicKey, SecretKey};
use archive::verify::{self, Report, VerifyOptions};
use archive::{BundleWriter, Container, Published, WriterOptions};
use model::{BundleId, CaptureLogEntry, Completeness, Item, ItemKind, Platform, Route};

pub struct Keys {
    pub secret: SecretKey,
    pub public: PublicKey,
}

pub fn keys() -> Keys {
    let secret = signing::generate();
    let public = secret.public_key();
    Keys { secret, public }
}

pub fn bundle_id() -> BundleId {
    "x-1409876543210987776-20250504T063000Z".parse().unwrap()
}

pub fn options(container: Container) -> WriterOptions {
    let mut o = WriterOptions::new(bundle_id(), Route::Api);
    o.container = container;
    o.source_organization = "وزارة التعليم".into();
    o.capture_end = Some(bundle_id().capture_start + time::Duration::minutes(7));
    o
}

pub use testkit::{jpeg, mp4, noise};

pub const ARABIC_POST: &str = r#"{"data":[{"id":"1790000000000000001","text":"نرحب بطلابنا في العام الدراسي الجديد ١٤٤٧ هـ 🎓","lang":"ar"}],"meta":{"result_count":1}}"#;

/// A small account capture: Arabic JSON, two images (one twice), a video over one frame.
pub fn write_sample(dir: &Path, keys: &Keys, container: Container) -> Published {
    let mut w = BundleWriter::create(dir, options(container)).unwrap();
    fill_sample(&mut w);
    w.finish(&keys.secret, None).unwrap()
}

pub fn fill_sample(w: &mut BundleWriter) {
    let page = w
        .add_raw_response("users-tweets", "json", &mut ARABIC_POST.as_bytes(), None)
        .unwrap();
    w.log(CaptureLogEntry {
        seq: 0,
        time: bundle_id().capture_start,
        method: "GET".into(),
        url: "https://api.x.com/2/users/1409876543210987776/tweets?max_results=100".into(),
        status: Some(200),
        headers: [
            ("content-type".to_string(), "application/json".to_string()),
            ("authorization".to_string(), "[REDACTED]".to_string()),
        ]
        .into(),
        body_sha256: Some(page.sha256),
        body_bytes: Some(page.size),
        payload_path: Some(page.path.clone()),
        tool: "tawthiq test".into(),
        source_path: None,
        source_sha256: None,
        note: None,
    })
    .unwrap();
    let img = jpeg(1, 300 << 10);
    let a = w
        .add_media(None, &mut &img[..], Some(img.len() as u64))
        .unwrap();
    let again = w.add_media(None, &mut &img[..], None).unwrap();
    assert!(again.duplicate && again.path == a.path);
    let img2 = jpeg(2, 700 << 10);
    w.add_media(None, &mut &img2[..], None).unwrap();
    let video = mp4(3, (2 << 20) + 12345);
    w.add_media(None, &mut &video[..], Some(video.len() as u64))
        .unwrap();
    w.add_item(&Item {
        id: "1790000000000000001".into(),
        platform: Platform::X,
        kind: ItemKind::Post,
        created_at: bundle_id().capture_start,
        text: "نرحب بطلابنا في العام الدراسي الجديد ١٤٤٧ هـ 🎓".into(),
        lang: Some("ar".into()),
        pinned: true,
        metrics: Default::default(),
        media: vec![],
        url: None,
        references: vec![],
        route: Route::Api,
        source_path: Some(page.path),
    })
    .unwrap();
    w.set_completeness(Completeness {
        statement: "test capture".into(),
        ..Default::default()
    });
}

pub fn verify_opts(keys: &Keys) -> VerifyOptions {
    VerifyOptions {
        keys: vec![keys.public.clone()],
        ..Default::default()
    }
}

pub fn verify_bytes(bytes: &[u8], keys: &Keys) -> Report {
    verify::verify_reader(bytes, "test", &verify_opts(keys), false).unwrap()
}

pub fn codes(r: &Report) -> Vec<&'static str> {
    r.errors().map(|f| f.code.as_str()).collect()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn only_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}
