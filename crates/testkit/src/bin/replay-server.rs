//! A fast replay server for benchmarks and tests: serves a directory tree over HTTP/1.1, and
//! can stand in for many platform accounts at once (wildcard routes with templates), count
//! requests, and throttle or slow its answers.
//!
//! ```text
//! replay-server DIR [--port N] [--bind ADDR] [--log]
//! ```
//!
//! - `GET /<path>` (and `HEAD`) answers the bytes of `DIR/<path>`, with `Content-Length` and a
//!   `Content-Type` from the extension (`.json` → `application/json`, `.jpg` → `image/jpeg`,
//!   `.mp4` → `video/mp4`, …). The query string is ignored, unless a route says otherwise.
//!   `..` and anything leaving `DIR` is refused (400).
//! - `DIR/routes.json`, if present, maps a path *and* query parameters to a file:
//!
//!   ```json
//!   {"routes": [
//!     {"path": "/api/2/users/1/tweets", "query": {"pagination_token": null}, "file": "api/page-01.json"},
//!     {"path": "/api/2/users/1/tweets", "query": {"pagination_token": "T2"}, "file": "api/page-02.json",
//!      "status": 200, "headers": {"x-rate-limit-remaining": "899"}},
//!     {"path": "/x/2/users/by/username/*", "file": "x/user.json", "template": true},
//!     {"path": "/x/2/users/*/tweets", "times": 1, "status": 429,
//!      "headers": {"x-rate-limit-reset": "{{now+30}}"}},
//!     {"path": "/yt/youtube/v3/channels", "query": {"forHandle": "*"}, "file": "yt/channel.json",
//!      "template": true},
//!     {"path": "/cdn/*", "file": "shared.jpg", "delay_ms": 200, "rate_bytes_per_sec": 40000}
//!   ]}
//!   ```
//!
//!   Route fields (unknown fields are refused at start-up):
//!   - `path` (required): the path, or a pattern where `*` stands for one whole segment
//!     (`/snap/add/*`, `/x/2/users/*/tweets`; `/a*` is refused). Segments are compared
//!     percent-decoded.
//!   - `query`: parameter → required value. `null`: must be absent; `"*"`: present, any value
//!     (captured); `"UU*"`: present and starting with `UU` (the rest is captured); anything
//!     else: exactly that value. Parameters not listed are ignored.
//!   - `file`: the body, relative to `DIR` (no `..`). Absent: an empty body.
//!   - `status` (default 200) and `headers` (name → value). Header values may hold
//!     `{{now}}`, `{{now+N}}`, `{{now-N}}` (current Unix seconds ± N, e.g. a rate-limit reset)
//!     and the captures below (control characters dropped).
//!   - `template`: `true` answers the file's text with placeholders replaced: `{{1}}`, `{{2}}`…
//!     are the captured values (path `*`s left to right, then query `*`s by parameter name),
//!     percent-decoded, then escaped for the file type (`.json`: as JSON string content, so a
//!     `"` becomes `\"`; `.html`: `&<>"'` as entities; otherwise as is). `{{num:N}}` is a
//!     stable 15-digit number derived from capture N (FNV-1a), for per-account numeric ids
//!     from a name. `{{now…}}` as in headers. Unknown `{{…}}` stay as written; a `{{N}}`
//!     beyond the route's captures is refused at start-up. Template files are read once, at
//!     start-up; `Content-Length` is the substituted body's.
//!   - `times`: the route answers only its first K matching requests; after that it is as if
//!     absent, and the request goes to the next matching route (or the file at the path).
//!     So `{"times": 1, "status": 429, …}` listed before the normal route gives one 429, then
//!     normal answers. The count is never reset (restart the server to replay).
//!   - `delay_ms`: wait this long before answering.
//!   - `rate_bytes_per_sec`: send the body at about this rate, in chunks of 1/20 s with sleeps
//!     (a slow download, to kill a client mid-way); the headers go out at once.
//!
//!   Which route answers: among the routes whose path and query match (and whose `times`
//!   remain), an exact path beats a pattern, then the most `query` conditions, then the most
//!   literal segments; the first listed on a tie. A path that routes match but none accepts the
//!   query answers 404 (an unknown `pagination_token` is an error, not page 1).
//! - `GET /__stats` answers `{"requests": N, "by_route": {"<route path or requested path>": n},
//!   "by_status": {"200": n}, "per_second": [[unix_second, count], …]}` (the last ~10 minutes
//!   of seconds that had requests). `POST /__stats/reset` or `GET /__stats?reset=1` answers the
//!   same and zeroes the counters in one step. `/__stats` requests are not counted; every other
//!   answered request is (404s included).
//!
//! Bodies of files are sent with `sendfile(2)` on Linux (elsewhere: copied through a 1 MiB
//! buffer): no copy through user space, memory does not grow with file size. Templates and
//! rate-limited bodies are written from memory or in chunks instead.
//! One thread per connection; keep-alive and pipelining are supported. Prints
//! `listening on http://ADDR:PORT` on stdout (port 0, the default, picks a free port) and serves
//! until killed. With `--log`, one line per request on stderr: `METHOD TARGET STATUS BYTES`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "replay_server/routes.rs"]
mod routes;
#[path = "replay_server/stats.rs"]
mod stats;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use routes::{Escape, Routed, Routes, safe_join, substitute};
use stats::Stats;

const USAGE: &str = "usage: replay-server DIR [--port N] [--bind ADDR] [--log]";
/// Largest request head accepted.
const MAX_HEAD: usize = 64 << 10;
/// A connection idle for this long is closed.
const IDLE: Duration = Duration::from_mins(5);

struct Server {
    root: PathBuf,
    routes: Routes,
    stats: Stats,
    log: bool,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("replay-server: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut root = None;
    let mut port = 0u16;
    let mut bind = "127.0.0.1".to_owned();
    let mut log = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--port needs a number")?;
            }
            "--bind" => bind = args.next().ok_or("--bind needs an address")?,
            "--log" => log = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if root.is_none() && !a.starts_with('-') => root = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a:?}\n{USAGE}")),
        }
    }
    let root = root.ok_or(USAGE)?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let routes = routes::load(&root)?;
    let server = Arc::new(Server {
        root,
        routes,
        stats: Stats::default(),
        log,
    });

    let listener =
        TcpListener::bind((bind.as_str(), port)).map_err(|e| format!("bind {bind}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let server = Arc::clone(&server);
        let spawned = std::thread::Builder::new()
            .name("conn".into())
            .stack_size(256 << 10)
            .spawn(move || {
                if let Err(e) = server.serve(stream)
                    && server.log
                {
                    eprintln!("connection error: {e}");
                }
            });
        if let Err(e) = spawned {
            eprintln!("replay-server: cannot spawn a thread: {e}");
        }
    }
    Ok(())
}

/// Percent-decoding; `plus` also turns `+` into a space (query strings).
fn decode(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Decoded parameters in order (a repeated name: the first one counts when matching).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k, true)?, decode(v, true)?))
        })
        .collect()
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => "application/json",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "m3u8" => "application/x-mpegURL",
        "ts" => "video/mp2t",
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "js" => "text/javascript",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// What one parsed request needs, owned (the buffer it was parsed from is reused).
struct Head {
    method: String,
    target: String,
    keep_alive: bool,
    body_len: usize,
}

/// The body of an answer.
enum Body {
    Empty,
    File { file: File, len: u64 },
    Bytes(Vec<u8>),
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::File { len, .. } => *len,
            Body::Bytes(b) => b.len() as u64,
        }
    }
}

/// A prepared answer: everything but the writing.
struct Answer {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Option<Duration>,
    rate: Option<u64>,
}

impl Answer {
    fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(text.as_bytes().to_vec()),
            delay: None,
            rate: None,
        }
    }

    fn json(v: &serde_json::Value) -> Answer {
        Answer {
            content_type: "application/json",
            ..Answer::text(200, &v.to_string())
        }
    }
}

impl Server {
    fn serve(&self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IDLE))?;
        let mut pending: Vec<u8> = Vec::with_capacity(8 << 10);
        let mut chunk = [0u8; 8 << 10];
        loop {
            // Parse a request head out of what was read; read more while it is incomplete.
            let (head, used) = loop {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&pending) {
                    Ok(httparse::Status::Complete(n)) => break (head_of(&req), n),
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => {
                        respond_text(&mut stream, 400, &format!("bad request: {e}\n"), false)?;
                        return Ok(());
                    }
                }
                if pending.len() > MAX_HEAD {
                    respond_text(&mut stream, 400, "request head too large\n", false)?;
                    return Ok(());
                }
                let n = match stream.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::ConnectionReset
                        ) =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    return Ok(()); // the client closed the connection
                }
                pending.extend_from_slice(&chunk[..n]);
            };
            pending.drain(..used);
            // A request body (none expected): skip it.
            let mut skip = head.body_len;
            while skip > 0 {
                if pending.is_empty() {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        return Ok(());
                    }
                    pending.extend_from_slice(&chunk[..n]);
                }
                let k = skip.min(pending.len());
                pending.drain(..k);
                skip -= k;
            }
            let (key, answer) = self.prepare(&head);
            let status = answer.status;
            if let Some(key) = &key {
                self.stats.count(key, status);
            }
            let bytes = write_answer(&mut stream, answer, head.keep_alive, head.method == "HEAD")?;
            if self.log {
                eprintln!("{} {} {status} {bytes}", head.method, head.target);
            }
            if !head.keep_alive {
                return Ok(());
            }
        }
    }

    /// Decides the answer; the first value is the `/__stats` key (`None`: not counted).
    fn prepare(&self, head: &Head) -> (Option<String>, Answer) {
        let (raw_path, raw_query) = head
            .target
            .split_once('?')
            .unwrap_or((head.target.as_str(), ""));
        let Some(path) = decode(raw_path, false).filter(|p| p.starts_with('/')) else {
            return (Some(raw_path.to_owned()), Answer::text(400, "bad path\n"));
        };
        let query = parse_query(raw_query);
        if path == "/__stats" || path == "/__stats/reset" {
            return (None, self.stats_answer(head, &path, &query));
        }
        if head.method != "GET" && head.method != "HEAD" {
            return (Some(path), Answer::text(405, "only GET and HEAD\n"));
        }
        // Segments are split before decoding, so an encoded `/` stays inside its segment.
        let segments: Option<Vec<String>> =
            raw_path[1..].split('/').map(|s| decode(s, false)).collect();
        let Some(segments) = segments else {
            return (Some(path), Answer::text(400, "bad path\n"));
        };
        match self.routes.route(&path, &segments, &query) {
            Routed::NoMatch => (
                Some(path),
                Answer::text(404, "no route matches this query\n"),
            ),
            Routed::Static => {
                let answer = match safe_join(&self.root, &path) {
                    None => Answer::text(400, "bad path\n"),
                    Some(file) => file_answer(&file, 200),
                };
                (Some(path), answer)
            }
            Routed::Route { route, captures } => {
                let mut answer = match (&route.template, &route.file) {
                    (Some(text), Some(file)) => {
                        let body = substitute(text, &captures, Escape::for_file(file));
                        Answer {
                            status: route.status,
                            content_type: content_type(file),
                            body: Body::Bytes(body.into_bytes()),
                            ..Answer::text(route.status, "")
                        }
                    }
                    (_, Some(file)) => file_answer(file, route.status),
                    (_, None) => Answer {
                        body: Body::Empty,
                        ..Answer::text(route.status, "")
                    },
                };
                if answer.status == route.status {
                    answer.headers = route
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), substitute(v, &captures, Escape::Header)))
                        .collect();
                }
                answer.delay = route.delay;
                answer.rate = route.rate;
                (Some(route.pattern.clone()), answer)
            }
        }
    }

    fn stats_answer(&self, head: &Head, path: &str, query: &[(String, String)]) -> Answer {
        let reset = match (head.method.as_str(), path) {
            ("POST", "/__stats/reset") => true,
            ("GET" | "HEAD", "/__stats") => query
                .iter()
                .any(|(k, v)| k == "reset" && matches!(v.as_str(), "1" | "true")),
            ("GET" | "HEAD", _) => {
                return Answer::text(405, "POST /__stats/reset, or GET /__stats?reset=1\n");
            }
            _ => return Answer::text(405, "GET /__stats\n"),
        };
        Answer::json(&self.stats.snapshot(reset))
    }
}

/// The file as the body, or a 404 when it is not a readable file.
fn file_answer(path: &Path, status: u16) -> Answer {
    let opened = File::open(path).and_then(|f| {
        let meta = f.metadata()?;
        if meta.is_file() {
            Ok((f, meta.len()))
        } else {
            Err(io::ErrorKind::NotFound.into())
        }
    });
    match opened {
        Ok((file, len)) => Answer {
            status,
            content_type: content_type(path),
            headers: Vec::new(),
            body: Body::File { file, len },
            delay: None,
            rate: None,
        },
        Err(_) => Answer::text(404, "not found\n"),
    }
}

/// Writes the answer; returns the body bytes sent.
fn write_answer(
    stream: &mut TcpStream,
    answer: Answer,
    keep_alive: bool,
    is_head: bool,
) -> io::Result<u64> {
    if let Some(d) = answer.delay {
        std::thread::sleep(d);
    }
    let len = answer.body.len();
    let status = answer.status;
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nServer: tawthiq-replay\r\nContent-Length: {len}\r\nContent-Type: {}\r\n",
        reason(status),
        answer.content_type,
    );
    for (k, v) in &answer.headers {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    if !keep_alive {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    stream.write_all(h.as_bytes())?;
    if is_head {
        return Ok(0);
    }
    let sent = match (answer.body, answer.rate) {
        (Body::Empty, _) => 0,
        (Body::Bytes(b), None) => {
            stream.write_all(&b)?;
            b.len() as u64
        }
        (Body::Bytes(b), Some(rate)) => send_paced(stream, &mut b.as_slice(), rate)?,
        (Body::File { file, len }, None) => send_body(stream, &file, len)?,
        (Body::File { file, len }, Some(rate)) => send_paced(stream, &mut (&file).take(len), rate)?,
    };
    if sent != len {
        // The file shrank under us: the response is broken, close the connection.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("sent {sent} of {len} bytes"),
        ));
    }
    Ok(sent)
}

/// Copies `body` to the socket at about `rate` bytes per second: chunks of 1/20 s, each sent
/// when the bytes before it are due.
fn send_paced(stream: &mut TcpStream, body: &mut dyn Read, rate: u64) -> io::Result<u64> {
    let chunk_len = usize::try_from((rate / 20).clamp(1, 256 << 10)).unwrap_or(1);
    let mut buf = vec![0u8; chunk_len];
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(sent),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // `sent` bytes take sent/rate seconds: wait until then before sending more.
        let nanos = u128::from(sent) * 1_000_000_000 / u128::from(rate);
        let due = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        stream.write_all(&buf[..n])?;
        sent += n as u64;
    }
}

/// File → socket with sendfile(2): the bytes go from the page cache to the socket without a
/// copy through user space. (`std::io::copy` deliberately does not use sendfile towards a
/// socket, it copies through an 8 KiB buffer.)
#[cfg(target_os = "linux")]
fn send_body(stream: &mut TcpStream, file: &File, len: u64) -> io::Result<u64> {
    use rustix::io::Errno;
    let mut off = 0u64;
    while off < len {
        let want = usize::try_from((len - off).min(1 << 30)).unwrap_or(1 << 30);
        match rustix::fs::sendfile(&*stream, file, Some(&mut off), want) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e == Errno::INTR || e == Errno::AGAIN => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(off)
}

#[cfg(not(target_os = "linux"))]
fn send_body(stream: &mut TcpStream, file: &File, len: u64) -> io::Result<u64> {
    let mut buf = io::BufReader::with_capacity(1 << 20, file.take(len));
    io::copy(&mut buf, stream)
}

fn head_of(req: &httparse::Request<'_, '_>) -> Head {
    let version = req.version.unwrap_or(1);
    let mut keep_alive = version >= 1;
    let mut body_len = 0;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            if v.split(',').any(|t| t.trim() == "close") {
                keep_alive = false;
            } else if v.split(',').any(|t| t.trim() == "keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            body_len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        }
    }
    Head {
        method: req.method.unwrap_or("").to_owned(),
        target: req.path.unwrap_or("").to_owned(),
        keep_alive,
        body_len,
    }
}

fn respond_text(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let conn = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    let msg = format!(
        "HTTP/1.1 {status} {}\r\nServer: tawthiq-replay\r\nContent-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\n{conn}\r\n{body}",
        reason(status),
        body.len()
    );
    stream.write_all(msg.as_bytes())
}
