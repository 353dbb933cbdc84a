//! A fast static replay server for benchmarks and tests: serves a directory tree over HTTP/1.1.
//!
//! ```text
//! replay-server DIR [--port N] [--bind ADDR] [--log]
//! ```
//!
//! - `GET /<path>` (and `HEAD`) answers the bytes of `DIR/<path>`, with `Content-Length` and a
//!   `Content-Type` from the extension (`.json` → `application/json`, `.jpg` → `image/jpeg`,
//!   `.mp4` → `video/mp4`, …). The query string is ignored, unless a route says otherwise:
//! - `DIR/routes.json`, if present, maps a path *and* query parameters to a file:
//!
//!   ```json
//!   {"routes": [
//!     {"path": "/api/2/users/1/tweets", "query": {"pagination_token": null}, "file": "api/page-01.json"},
//!     {"path": "/api/2/users/1/tweets", "query": {"pagination_token": "T2"}, "file": "api/page-02.json",
//!      "status": 200, "headers": {"x-rate-limit-remaining": "899"}}
//!   ]}
//!   ```
//!
//!   A route matches when every listed parameter has the given value (`null`: is absent); other
//!   parameters are ignored. The route with the most parameters wins (the first one on a tie).
//!   A path that has routes but none matching answers 404 (an unknown `pagination_token` is an
//!   error, not page 1).
//!
//! Bodies are sent from the file with `sendfile(2)` on Linux (elsewhere: copied through a 1 MiB
//! buffer): no copy through user space, memory does not grow with file size.
//! One thread per connection; keep-alive and pipelining are supported. Prints
//! `listening on http://ADDR:PORT` on stdout (port 0, the default, picks a free port) and serves
//! until killed. With `--log`, one line per request on stderr: `METHOD TARGET STATUS BYTES`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: replay-server DIR [--port N] [--bind ADDR] [--log]";
/// Largest request head accepted.
const MAX_HEAD: usize = 64 << 10;
/// A connection idle for this long is closed.
const IDLE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Route {
    /// Parameter → required value (`None`: must be absent).
    query: Vec<(String, Option<String>)>,
    file: PathBuf,
    status: u16,
    headers: Vec<(String, String)>,
}

struct Server {
    root: PathBuf,
    routes: HashMap<String, Vec<Route>>,
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
    let routes = load_routes(&root)?;
    let server = Arc::new(Server { root, routes, log });

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

fn load_routes(root: &Path) -> Result<HashMap<String, Vec<Route>>, String> {
    let path = root.join("routes.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |what: &str| format!("{}: {what}", path.display());
    let list = doc
        .get("routes")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("expected {\"routes\": [...]}"))?;
    let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
    for r in list {
        let p = r
            .get("path")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad("a route without \"path\""))?;
        let file = r
            .get("file")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad("a route without \"file\""))?;
        let file = safe_join(root, file).ok_or_else(|| bad(&format!("bad file {file:?}")))?;
        let mut query = Vec::new();
        if let Some(q) = r.get("query").and_then(serde_json::Value::as_object) {
            for (k, v) in q {
                let v = match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                query.push((k.clone(), v));
            }
        }
        let status = r
            .get("status")
            .and_then(serde_json::Value::as_u64)
            .map_or(Ok(200), u16::try_from)
            .map_err(|_| bad("bad status"))?;
        let mut headers = Vec::new();
        if let Some(h) = r.get("headers").and_then(serde_json::Value::as_object) {
            for (k, v) in h {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
                    return Err(bad(&format!("bad header {k:?}")));
                }
                headers.push((k.clone(), v));
            }
        }
        routes.entry(p.to_owned()).or_default().push(Route {
            query,
            file,
            status,
            headers,
        });
    }
    Ok(routes)
}

/// `root` + a relative or `/`-rooted path, refusing `..` and anything that leaves `root`.
fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel.trim_start_matches('/'));
    let mut out = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
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

fn parse_query(q: &str) -> HashMap<String, String> {
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
            let (status, bytes) = self.answer(&mut stream, &head)?;
            if self.log {
                eprintln!("{} {} {status} {bytes}", head.method, head.target);
            }
            if !head.keep_alive {
                return Ok(());
            }
        }
    }

    /// Writes the response; returns the status and the body bytes sent.
    fn answer(&self, stream: &mut TcpStream, head: &Head) -> io::Result<(u16, u64)> {
        let ka = head.keep_alive;
        let is_head = head.method == "HEAD";
        if head.method != "GET" && !is_head {
            respond_text(stream, 405, "only GET and HEAD\n", ka)?;
            return Ok((405, 0));
        }
        let (raw_path, raw_query) = head
            .target
            .split_once('?')
            .unwrap_or((head.target.as_str(), ""));
        let Some(path) = decode(raw_path, false).filter(|p| p.starts_with('/')) else {
            respond_text(stream, 400, "bad path\n", ka)?;
            return Ok((400, 0));
        };
        let (file, status, extra) = if let Some(routes) = self.routes.get(&path) {
            let query = parse_query(raw_query);
            let best = routes
                .iter()
                .filter(|r| {
                    r.query
                        .iter()
                        .all(|(k, v)| query.get(k).map(String::as_str) == v.as_deref())
                })
                .fold(None::<&Route>, |best, r| match best {
                    Some(b) if b.query.len() >= r.query.len() => Some(b),
                    _ => Some(r),
                });
            let Some(route) = best else {
                respond_text(stream, 404, "no route matches this query\n", ka)?;
                return Ok((404, 0));
            };
            (route.file.clone(), route.status, route.headers.as_slice())
        } else {
            let Some(file) = safe_join(&self.root, &path) else {
                respond_text(stream, 400, "bad path\n", ka)?;
                return Ok((400, 0));
            };
            (file, 200, &[][..])
        };
        let opened = File::open(&file).and_then(|f| {
            let meta = f.metadata()?;
            if meta.is_file() {
                Ok((f, meta.len()))
            } else {
                Err(io::ErrorKind::NotFound.into())
            }
        });
        let Ok((f, len)) = opened else {
            respond_text(stream, 404, "not found\n", ka)?;
            return Ok((404, 0));
        };
        let mut h = format!(
            "HTTP/1.1 {status} {}\r\nServer: tawthiq-replay\r\nContent-Length: {len}\r\nContent-Type: {}\r\n",
            reason(status),
            content_type(&file)
        );
        for (k, v) in extra {
            h.push_str(k);
            h.push_str(": ");
            h.push_str(v);
            h.push_str("\r\n");
        }
        if !ka {
            h.push_str("Connection: close\r\n");
        }
        h.push_str("\r\n");
        stream.write_all(h.as_bytes())?;
        if is_head {
            return Ok((status, 0));
        }
        let sent = send_body(stream, &f, len)?;
        if sent != len {
            // The file shrank under us: the response is broken, close the connection.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: sent {sent} of {len} bytes", file.display()),
            ));
        }
        Ok((status, sent))
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
