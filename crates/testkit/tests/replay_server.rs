//! The replay server as a client sees it: a real process on a real socket, plain HTTP/1.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `replay-server dir` and waits for its address.
fn start(dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_replay-server"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start replay-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(addr) = line.trim().strip_prefix("listening on http://") else {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("replay-server did not start: {line:?} {err}");
    };
    Server {
        addr: addr.to_owned(),
        child,
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One request on its own connection; the body is read by `Content-Length` and must be whole.
fn request(s: &Server, method: &str, target: &str) -> Response {
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    write!(
        conn,
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let r = Response {
        status,
        headers,
        body,
    };
    if method != "HEAD" {
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        assert_eq!(
            len,
            r.body.len(),
            "Content-Length matches the body of {target}"
        );
    }
    r
}

fn get(s: &Server, target: &str) -> Response {
    request(s, "GET", target)
}

fn write(dir: &Path, rel: &str, contents: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, contents).unwrap();
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn wildcard_templates_answer_each_name_with_its_own_body() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "user.json",
        br#"{"data":{"id":"{{num:1}}","username":"{{1}}","name":"School {{1}}"}}"#,
    );
    write(d.path(), "page.html", b"<title>{{1}} | Snapchat</title>");
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[
          {"path":"/x/2/users/by/username/*","file":"user.json","template":true},
          {"path":"/snap/add/*","file":"page.html","template":true}
        ]}"#,
    );
    let s = start(d.path());

    let a = get(&s, "/x/2/users/by/username/school1?user.fields=id");
    let b = get(&s, "/x/2/users/by/username/school2");
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.header("content-type"), Some("application/json"));
    let (a, b) = (a.json(), b.json());
    assert_eq!(a["data"]["username"], "school1");
    assert_eq!(b["data"]["name"], "School school2");
    let (ia, ib) = (
        a["data"]["id"].as_str().unwrap(),
        b["data"]["id"].as_str().unwrap(),
    );
    assert_ne!(ia, ib, "two names get two ids");
    assert!(
        ia.len() == 15 && ia.bytes().all(|c| c.is_ascii_digit()),
        "{ia}"
    );
    // The same name always gets the same id.
    let again = get(&s, "/x/2/users/by/username/school1").json();
    assert_eq!(again["data"]["id"], ia);

    // Percent-decoded, then JSON-escaped: the body stays valid JSON holding the exact name.
    let quoted = get(&s, "/x/2/users/by/username/a%22b%5C%D9%85").json();
    assert_eq!(quoted["data"]["username"], "a\"b\\م");

    // HTML-escaped in .html.
    let html = get(&s, "/snap/add/%3Cb%3E");
    assert_eq!(html.text(), "<title>&lt;b&gt; | Snapchat</title>");

    // A wildcard is one whole segment: more or fewer segments do not match.
    assert_eq!(get(&s, "/x/2/users/by/username/a/b").status, 404);
    assert_eq!(get(&s, "/x/2/users/by/username").status, 404);

    // HEAD gives the substituted length without the body.
    let head = request(&s, "HEAD", "/x/2/users/by/username/school1");
    assert_eq!(
        head.header("content-length").unwrap(),
        get(&s, "/x/2/users/by/username/school1")
            .body
            .len()
            .to_string()
    );
}

#[test]
fn query_wildcards_capture_values_and_prefixes() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "ch.json",
        br#"{"handle":"{{1}}","id":"UC{{num:1}}"}"#,
    );
    write(d.path(), "pl.json", br#"{"channel":"UC{{1}}"}"#);
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[
          {"path":"/yt/channels","query":{"forHandle":"*"},"file":"ch.json","template":true},
          {"path":"/yt/playlistItems","query":{"playlistId":"UU*","pageToken":null},"file":"pl.json","template":true}
        ]}"#,
    );
    let s = start(d.path());
    let ch = get(&s, "/yt/channels?part=snippet&forHandle=%40school9").json();
    assert_eq!(ch["handle"], "@school9");
    let pl = get(&s, "/yt/playlistItems?playlistId=UUabc&maxResults=50").json();
    assert_eq!(pl["channel"], "UCabc");
    // A condition that fails: the path has routes, so 404 rather than a file.
    assert_eq!(get(&s, "/yt/playlistItems?playlistId=PLabc").status, 404);
    assert_eq!(
        get(&s, "/yt/playlistItems?playlistId=UUabc&pageToken=T").status,
        404
    );
    assert_eq!(get(&s, "/yt/channels?id=UC1").status, 404);
}

#[test]
fn an_exact_path_beats_a_wildcard() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "any.txt", b"any");
    write(d.path(), "special.txt", b"special");
    write(d.path(), "mid.txt", b"mid");
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[
          {"path":"/u/*/*","file":"any.txt"},
          {"path":"/u/*/tweets","file":"mid.txt"},
          {"path":"/u/42/tweets","file":"special.txt"}
        ]}"#,
    );
    let s = start(d.path());
    assert_eq!(get(&s, "/u/42/tweets").text(), "special");
    assert_eq!(
        get(&s, "/u/43/tweets").text(),
        "mid",
        "more literal segments win"
    );
    assert_eq!(get(&s, "/u/43/likes").text(), "any");
}

#[test]
fn times_gives_a_429_with_a_reset_once_then_normal_answers() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "limited.json",
        br#"{"title":"Too Many Requests"}"#,
    );
    write(d.path(), "page.json", br#"{"data":[]}"#);
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[
          {"path":"/x/2/users/*/tweets","times":1,"status":429,"file":"limited.json",
           "headers":{"x-rate-limit-reset":"{{now+30}}","x-rate-limit-remaining":"0"}},
          {"path":"/x/2/users/*/tweets","file":"page.json"}
        ]}"#,
    );
    let s = start(d.path());
    let first = get(&s, "/x/2/users/7/tweets");
    assert_eq!(first.status, 429);
    assert_eq!(first.header("x-rate-limit-remaining"), Some("0"));
    let reset: u64 = first.header("x-rate-limit-reset").unwrap().parse().unwrap();
    let want = unix_now() + 30;
    assert!(
        reset.abs_diff(want) <= 2,
        "reset {reset}, expected about {want}"
    );
    let second = get(&s, "/x/2/users/7/tweets");
    assert_eq!(second.status, 200);
    assert_eq!(second.text(), r#"{"data":[]}"#);
    assert_eq!(second.header("x-rate-limit-reset"), None);
    assert_eq!(get(&s, "/x/2/users/8/tweets").status, 200, "once in all");
}

#[test]
fn stats_count_requests_by_route_and_second_and_reset() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.json", b"{}");
    write(d.path(), "static/f.txt", b"f");
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[{"path":"/a/*","file":"a.json"}]}"#,
    );
    let s = start(d.path());
    let before = unix_now();
    for name in ["x", "y", "z"] {
        assert_eq!(get(&s, &format!("/a/{name}")).status, 200);
    }
    assert_eq!(get(&s, "/static/f.txt").status, 200);
    assert_eq!(get(&s, "/missing").status, 404);

    let st = get(&s, "/__stats").json();
    assert_eq!(st["requests"], 5, "{st}");
    assert_eq!(st["by_route"]["/a/*"], 3);
    assert_eq!(st["by_route"]["/static/f.txt"], 1);
    assert_eq!(st["by_route"]["/missing"], 1);
    assert_eq!(st["by_status"]["404"], 1);
    let per_second = st["per_second"].as_array().unwrap();
    let total: u64 = per_second.iter().map(|p| p[1].as_u64().unwrap()).sum();
    assert_eq!(total, 5);
    for p in per_second {
        let sec = p[0].as_u64().unwrap();
        assert!(sec >= before && sec <= unix_now(), "{p}");
    }
    // Reading the stats is not counted.
    assert_eq!(get(&s, "/__stats").json()["requests"], 5);

    // POST /__stats/reset answers the counts and zeroes them.
    let r = request(&s, "POST", "/__stats/reset");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["requests"], 5);
    let st = get(&s, "/__stats").json();
    assert_eq!(st["requests"], 0);
    assert_eq!(st["by_route"], serde_json::json!({}));
    assert_eq!(st["per_second"], serde_json::json!([]));

    get(&s, "/a/w");
    assert_eq!(get(&s, "/__stats?reset=1").json()["requests"], 1);
    assert_eq!(get(&s, "/__stats").json()["requests"], 0);
}

#[test]
fn delay_ms_waits_before_answering() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.txt", b"a");
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[{"path":"/slow","file":"a.txt","delay_ms":300},{"path":"/fast","file":"a.txt"}]}"#,
    );
    let s = start(d.path());
    let t = Instant::now();
    assert_eq!(get(&s, "/slow").text(), "a");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    get(&s, "/fast");
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_rate_limited_body_streams_slowly_and_whole() {
    let d = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    write(d.path(), "big.bin", &data);
    write(d.path(), "t.json", br#"{"n":"{{1}}","pad":"0123456789"}"#);
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[
          {"path":"/big","file":"big.bin","rate_bytes_per_sec":40000},
          {"path":"/t/*","file":"t.json","template":true,"rate_bytes_per_sec":100}
        ]}"#,
    );
    let s = start(d.path());
    let t = Instant::now();
    let r = get(&s, "/big");
    let took = t.elapsed();
    assert_eq!(r.body, data);
    assert!(
        took >= Duration::from_millis(400),
        "20 KB at 40 KB/s took {took:?}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");

    // Templates stream too (33 bytes at 100 B/s: about 0.3 s).
    let t = Instant::now();
    assert_eq!(get(&s, "/t/ab").json()["n"], "ab");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_client_can_leave_mid_download_and_the_server_goes_on() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "big.bin", &vec![7u8; 100_000]);
    write(
        d.path(),
        "routes.json",
        br#"{"routes":[{"path":"/big","file":"big.bin","rate_bytes_per_sec":20000}]}"#,
    );
    let s = start(d.path());
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut some = [0u8; 4096];
    let n = conn.read(&mut some).unwrap();
    assert!(n > 0);
    drop(conn);
    assert_eq!(get(&s, "/__stats").status, 200);
}

#[test]
fn static_files_still_work_and_traversal_is_refused() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "site/a.json", br#"{"a":1}"#);
    write(d.path(), "secret.txt", b"no");
    let s = start(&d.path().join("site"));
    let r = get(&s, "/a.json?ignored=1");
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"a":1}"#));
    assert_eq!(r.header("content-type"), Some("application/json"));
    for bad in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a/../../secret.txt",
    ] {
        let r = get(&s, bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_ne!(r.text(), "no");
    }
    assert_eq!(get(&s, "/nope.json").status, 404);
    assert_eq!(request(&s, "DELETE", "/a.json").status, 405);
}

#[test]
fn a_bad_routes_file_stops_the_server_with_the_reason() {
    for (routes, says) in [
        (r#"{"routes":[{"path":"/a*","file":"f"}]}"#, "whole segment"),
        (
            r#"{"routes":[{"path":"/a","file":"f","tmes":1}]}"#,
            "unknown field \"tmes\"",
        ),
        (r#"{"routes":[{"path":"/a","file":"../f"}]}"#, "bad file"),
        (
            r#"{"routes":[{"path":"/a/*","file":"t.json","template":true}]}"#,
            "uses {{2}}",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "t.json", b"{{1}}{{2}}");
        write(d.path(), "routes.json", routes.as_bytes());
        let out = Command::new(env!("CARGO_BIN_EXE_replay-server"))
            .arg(d.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{routes}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{routes}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
