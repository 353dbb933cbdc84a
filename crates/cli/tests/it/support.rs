//! Runs the binary and external tools; builds sample folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn tawthiq() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tawthiq"));
    c.env_remove("TAWTHIQ_KEY")
        .env_remove("TAWTHIQ_PUBKEY")
        .env_remove("TAWTHIQ_TSA_URL")
        .env_remove("TAWTHIQ_CONFIG")
        // Never the developer's own keys: tests name theirs, or give a home of their own.
        .env("XDG_CONFIG_HOME", "/nonexistent/tawthiq-tests/config");
    c.stdin(Stdio::null());
    c
}

pub fn run(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

pub fn ok(c: &mut Command) -> String {
    let o = run(c);
    assert!(
        o.status.success(),
        "{c:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// An external tool the tests need: missing means the test fails (CI installs them).
pub fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: run .ci/run (it installs zstd, minisign, openssl and bagit)"
    );
    Command::new(name)
}

pub struct Keys {
    pub secret: PathBuf,
    pub public: PathBuf,
}

pub fn keygen(dir: &Path) -> Keys {
    let keys = Keys {
        secret: dir.join("k.key"),
        public: dir.join("k.pub"),
    };
    ok(tawthiq()
        .arg("keygen")
        .arg("--secret")
        .arg(&keys.secret)
        .arg("--public")
        .arg(&keys.public));
    keys
}

/// A school account's files: Arabic JSON and names, images, and a video-sized file.
pub fn sample_folder(dir: &Path, video_bytes: usize) -> PathBuf {
    let root = dir.join("account");
    std::fs::create_dir_all(root.join("posts")).unwrap();
    std::fs::create_dir_all(root.join("صور")).unwrap();
    std::fs::create_dir_all(root.join("videos")).unwrap();
    let post = r#"{"id":"1790000000000000001","text":"نرحب بطلابنا في العام الدراسي الجديد ١٤٤٧ هـ 🎓","lang":"ar"}"#;
    std::fs::write(root.join("posts/page-1.json"), post).unwrap();
    std::fs::write(
        root.join("posts/إعلان.json"),
        r#"{"text":"إعلان مثبت: الاختبارات يوم الأحد"}"#,
    )
    .unwrap();
    for i in 0..5u64 {
        let img = testkit::jpeg(i, 150_000 + 90_000 * i as usize);
        std::fs::write(root.join(format!("صور/صورة-{i}.jpg")), img).unwrap();
    }
    let video = testkit::mp4(99, video_bytes);
    std::fs::write(root.join("videos/clip.mp4"), video).unwrap();
    root
}

pub fn bundle(folder: &Path, keys: &Keys, out: &Path, extra: &[&str]) -> PathBuf {
    let stdout = ok(tawthiq()
        .arg("bundle")
        .arg(folder)
        .args([
            "--platform",
            "instagram",
            "--account",
            "school_123",
            "--organization",
            "وزارة التعليم",
        ])
        .arg("--key")
        .arg(&keys.secret)
        .arg("-o")
        .arg(out)
        .args(extra));
    PathBuf::from(stdout.trim())
}

pub fn media_bytes(seed: u8, n: usize, head: &[u8]) -> Vec<u8> {
    let mut v = head.to_vec();
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)));
    v
}

/// The one file in `dir`, or `None` when it holds no file (folders are not counted).
pub fn only_file_or_none(dir: &Path) -> Option<PathBuf> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(files.len() <= 1, "{files:?}");
    files.into_iter().next()
}

pub fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

pub fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, body) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, body).unwrap();
    }
    z.finish().unwrap();
}

/// Runs a capture command (`archive …` / `import …`) writing a plain tar into `out`, with the
/// platforms' hosts sent to local servers (`TAWTHIQ_HOSTS` syntax) and extra environment.
pub async fn capture(
    args: &[&str],
    hosts: &str,
    out: &Path,
    key: &Path,
    env: &[(&str, &str)],
) -> Output {
    let mut c = tawthiq();
    c.args(args)
        .arg("-o")
        .arg(out)
        .arg("--key")
        .arg(key)
        .arg("--tar")
        .env("TAWTHIQ_HOSTS", hosts)
        .env("TAWTHIQ_LOG", "debug");
    for (k, v) in env {
        c.env(k, v);
    }
    tokio::task::spawn_blocking(move || run(&mut c))
        .await
        .unwrap()
}

/// Exit 0 (complete), the bundle verified, and `secret` in neither output stream.
pub fn assert_published(o: &Output, secret: &str) {
    assert_published_as(o, secret, 0);
}

/// Exit `code` (0 complete, 3 partial, 4 unavailable), the bundle verified, and `secret` in
/// neither output stream.
pub fn assert_published_as(o: &Output, secret: &str, code: i32) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{stdout}\n{stderr}");
    assert!(stdout.contains("verified   VALID"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
}

/// One member of a bundle, read back with `tawthiq cat`.
pub fn cat(bundle: &Path, member: &str, public: &Path) -> String {
    ok(tawthiq()
        .arg("cat")
        .arg(bundle)
        .arg(member)
        .arg("--pubkey")
        .arg(public))
}
