//! Running yt-dlp: the only way this route gets `YouTube` video files (the Data API has no
//! download, reference §4.3). Best effort and only for the owner's own channel; Google Takeout
//! remains the complete source of the original uploads.
//!
//! Decisions an integrator should know:
//! - The program is run directly (no shell), with `--ignore-config` so that the command in the
//!   capture log is everything that shaped the download (a user's config file could add cookies,
//!   other formats or post-processing the bundle would not mention). Private videos therefore
//!   fail (yt-dlp would need the owner's cookies): that video gets a gap.
//! - `-f "bv*+ba/b"`: the best video with the best audio (merged when ffmpeg is present), else
//!   the best single file. Every file yt-dlp leaves for the video is stored, so a run without
//!   ffmpeg that leaves a separate video and audio file loses nothing.
//! - Each video is downloaded into its own fresh temporary folder (under `TMPDIR`: point it to
//!   a disk with room for the largest video), removed afterwards.
//! - No credential is ever passed to the program, in arguments or otherwise.
//! - A run has a time limit ([`DEFAULT_TIMEOUT`], configurable); past it the process is killed.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use crate::error::{FetchError, Result};
use crate::source::ByteStream;

/// Generous: a long lecture in 4K on a slow line takes hours.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_hours(4);

/// `--version` answers at once; a program that does not is not yt-dlp.
const VERSION_TIMEOUT: Duration = Duration::from_mins(1);

/// Chunk size when streaming a produced file into the sink.
const CHUNK: usize = 1 << 20;

/// The format selection: best video + best audio, else the best single file.
pub const FORMAT: &str = "bv*+ba/b";

/// `yt-dlp` on `PATH`, if there is an executable one.
pub fn find_on_path() -> Option<PathBuf> {
    find_in(&std::env::var_os("PATH")?)
}

fn find_in(path: &OsStr) -> Option<PathBuf> {
    let names: &[&str] = if cfg!(windows) {
        &["yt-dlp.exe", "yt-dlp"]
    } else {
        &["yt-dlp"]
    };
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Why a run produced nothing usable, in one line (it goes into a gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One download attempt: the exact command and what it left.
#[derive(Debug)]
pub struct Outcome {
    /// The command line, shell-quoted, as recorded in the capture log.
    pub command: String,
    /// The files produced (sorted), or why there are none.
    pub result: std::result::Result<Vec<PathBuf>, RunError>,
}

/// The yt-dlp program and its time limit.
#[derive(Debug, Clone)]
pub struct YtDlp {
    program: PathBuf,
    timeout: Duration,
}

impl YtDlp {
    pub fn new(program: PathBuf, timeout: Duration) -> YtDlp {
        YtDlp { program, timeout }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `yt-dlp --version`: the first line it prints (e.g. `2025.01.15`).
    pub async fn version(&self) -> std::result::Result<String, RunError> {
        let out = self
            .run(
                &[OsString::from("--version")],
                VERSION_TIMEOUT.min(self.timeout),
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next().unwrap_or_default().trim();
        if version.is_empty() || version.len() > 100 {
            return Err(RunError(format!(
                "{} --version printed no version",
                self.program.display()
            )));
        }
        Ok(version.to_owned())
    }

    /// The arguments that download `watch_url` into `dir` as `<id>.<ext>`.
    pub fn download_args(dir: &Path, watch_url: &str) -> Vec<OsString> {
        let mut template = dir.as_os_str().to_owned();
        template.push(std::path::MAIN_SEPARATOR_STR);
        template.push("%(id)s.%(ext)s");
        let mut args: Vec<OsString> = [
            "--ignore-config",
            "--no-progress",
            "--no-playlist",
            "-f",
            FORMAT,
            "-o",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        args.push(template);
        args.push(OsString::from(watch_url));
        args
    }

    /// Downloads one video into `dir` (which should be empty) and lists what it left.
    pub async fn download(&self, watch_url: &str, dir: &Path) -> Outcome {
        let args = YtDlp::download_args(dir, watch_url);
        let command = command_line(&self.program, &args);
        let result = match self.run(&args, self.timeout).await {
            Ok(_) => produced_files(dir).and_then(|files| {
                if files.is_empty() {
                    Err(RunError("yt-dlp finished but left no file".to_owned()))
                } else {
                    Ok(files)
                }
            }),
            Err(e) => Err(e),
        };
        Outcome { command, result }
    }

    async fn run(
        &self,
        args: &[OsString],
        timeout: Duration,
    ) -> std::result::Result<std::process::Output, RunError> {
        let child = tokio::process::Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A run that outlives its time limit is killed when its future is dropped.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RunError(format!("cannot run {}: {e}", self.program.display())))?;
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Err(_) => Err(RunError(format!(
                "yt-dlp did not finish within {timeout:?} and was stopped"
            ))),
            Ok(Err(e)) => Err(RunError(format!("waiting for yt-dlp: {e}"))),
            Ok(Ok(out)) if !out.status.success() => Err(RunError(format!(
                "yt-dlp failed ({}): {}",
                out.status,
                stderr_tail(&out.stderr)
            ))),
            Ok(Ok(out)) => Ok(out),
        }
    }
}

/// The last few lines yt-dlp wrote to stderr, on one line (its `ERROR:` line is last).
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        "no message".to_owned()
    } else {
        tail.chars().take(400).collect()
    }
}

/// Regular files in `dir`, sorted, without yt-dlp's leftovers of unfinished parts.
fn produced_files(dir: &Path) -> std::result::Result<Vec<PathBuf>, RunError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| RunError(format!("reading {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RunError(format!("reading {}: {e}", dir.display())))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let unfinished = [".part", ".ytdl", ".temp"]
            .iter()
            .any(|s| name.ends_with(s));
        if path.is_file() && !unfinished {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The command as one line a person could paste into a POSIX shell.
pub fn command_line(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The extension of a produced file, if it is a plain short one (`mp4`, `webm`, `m4a`).
pub fn file_ext(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    (!ext.is_empty() && ext.len() <= 5 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(ext)
}

/// A [`ByteStream`] over a file on disk, read in chunks: a video of several gigabytes never
/// sits in memory. A file that changes size while it is read is reported as cut short.
pub struct FileStream {
    file: tokio::fs::File,
    /// What errors name (the watch URL the file came from).
    url: String,
    len: u64,
    got: u64,
}

impl FileStream {
    /// Opens `path`; `url` is what errors name.
    pub async fn open(path: &Path, url: &str) -> std::io::Result<FileStream> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        Ok(FileStream {
            file,
            url: url.to_owned(),
            len,
            got: 0,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn cut_short(&self) -> FetchError {
        FetchError::Truncated {
            url: self.url.clone(),
            got: self.got,
            expected: self.len,
        }
    }
}

#[async_trait]
impl ByteStream for FileStream {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let mut buf = BytesMut::with_capacity(CHUNK);
        let n = self
            .file
            .read_buf(&mut buf)
            .await
            .map_err(|_| self.cut_short())?;
        if n == 0 {
            return if self.got == self.len {
                Ok(None)
            } else {
                Err(self.cut_short())
            };
        }
        self.got += n as u64;
        if self.got > self.len {
            return Err(self.cut_short());
        }
        Ok(Some(buf.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_for_a_shell() {
        let args = YtDlp::download_args(
            Path::new("/tmp/t q"),
            "https://www.youtube.com/watch?v=a-B_c",
        );
        let line = command_line(Path::new("/usr/bin/yt-dlp"), &args);
        assert_eq!(
            line,
            "/usr/bin/yt-dlp --ignore-config --no-progress --no-playlist -f 'bv*+ba/b' -o \
             '/tmp/t q/%(id)s.%(ext)s' 'https://www.youtube.com/watch?v=a-B_c'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn extensions_are_plain() {
        assert_eq!(file_ext(Path::new("/t/abc.MP4")).as_deref(), Some("mp4"));
        assert_eq!(
            file_ext(Path::new("/t/abc.f137.webm")).as_deref(),
            Some("webm")
        );
        assert_eq!(file_ext(Path::new("/t/abc")), None);
        assert_eq!(file_ext(Path::new("/t/abc.verylongext")), None);
    }

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let e = b"[youtube] x: Downloading webpage\n\nWARNING: a\nERROR: [youtube] x: Video unavailable\n";
        assert_eq!(
            stderr_tail(e),
            "[youtube] x: Downloading webpage | WARNING: a | ERROR: [youtube] x: Video unavailable"
        );
        assert_eq!(stderr_tail(b""), "no message");
    }

    #[cfg(unix)]
    #[test]
    fn the_program_is_found_on_path_only_when_executable() {
        use std::os::unix::fs::PermissionsExt;
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let plain = a.path().join("yt-dlp");
        std::fs::write(&plain, "not executable").unwrap();
        let exe = b.path().join("yt-dlp");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        assert_eq!(find_in(&path), Some(exe));
        let only_plain = std::env::join_paths([a.path()]).unwrap();
        assert_eq!(find_in(&only_plain), None);
    }

    #[tokio::test]
    async fn files_stream_in_chunks_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.mp4");
        let body: Vec<u8> = (0..(CHUNK * 2 + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &body).unwrap();
        let mut s = FileStream::open(&p, "https://www.youtube.com/watch?v=x")
            .await
            .unwrap();
        assert_eq!(s.len(), body.len() as u64);
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(c) = s.next_chunk().await.unwrap() {
            chunks += 1;
            got.extend_from_slice(&c);
        }
        assert_eq!(got, body);
        assert!(chunks >= 3, "{chunks} chunks");
    }
}
