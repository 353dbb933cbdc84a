//! `routes.json`: loading, matching a request to a route, and template substitution.
//!
//! Decisions (the user-facing rules are in the binary's module doc):
//! - Routes keep their file order; a request is matched by scanning them all (a few dozen
//!   routes, microseconds). The best match is the highest (exact path, query conditions,
//!   literal segments), the first listed on a tie.
//! - `times` is claimed with one atomic increment: under concurrency exactly K requests get
//!   the configured answer.
//! - Template files are read once at start-up and kept in memory (they are small); `{{N}}`
//!   beyond the route's captures is refused then, not at request time.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What a query parameter must be.
#[derive(Debug)]
pub enum Want {
    /// `null`: absent.
    Absent,
    /// A literal value.
    Is(String),
    /// `"*"` or `"prefix*"`: present, starting with the prefix; the rest is captured.
    Glob(String),
}

#[derive(Debug)]
pub struct Route {
    /// The `path` as written: the key in `/__stats`.
    pub pattern: String,
    /// `Some`: the path has `*` segments (each `None` here).
    segments: Option<Vec<Option<String>>>,
    /// Sorted by parameter name (captures are numbered in this order).
    query: Vec<(String, Want)>,
    /// `None`: an empty body.
    pub file: Option<PathBuf>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The file's text for `"template": true`.
    pub template: Option<String>,
    times: Option<u64>,
    used: AtomicU64,
    pub delay: Option<Duration>,
    pub rate: Option<u64>,
}

impl Route {
    fn literal_segments(&self) -> usize {
        self.segments
            .as_ref()
            .map_or(usize::MAX, |s| s.iter().filter(|x| x.is_some()).count())
    }

    fn captures_declared(&self) -> usize {
        let path = self
            .segments
            .as_ref()
            .map_or(0, |s| s.iter().filter(|x| x.is_none()).count());
        path + self
            .query
            .iter()
            .filter(|(_, w)| matches!(w, Want::Glob(_)))
            .count()
    }

    /// The captured path segments when the path matches.
    fn match_path(&self, path: &str, segments: &[String]) -> Option<Vec<String>> {
        match &self.segments {
            None => (self.pattern == path).then(Vec::new),
            Some(want) => {
                if want.len() != segments.len() {
                    return None;
                }
                let mut caps = Vec::new();
                for (w, got) in want.iter().zip(segments) {
                    match w {
                        Some(lit) if lit != got => return None,
                        Some(_) => {}
                        None => caps.push(got.clone()),
                    }
                }
                Some(caps)
            }
        }
    }

    /// The query captures when every condition holds.
    fn match_query(&self, query: &[(String, String)]) -> Option<Vec<String>> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let mut caps = Vec::new();
        for (k, want) in &self.query {
            match (want, get(k)) {
                (Want::Absent, None) => {}
                (Want::Is(v), Some(got)) if v == got => {}
                (Want::Glob(prefix), Some(got)) if got.starts_with(prefix.as_str()) => {
                    caps.push(got[prefix.len()..].to_owned());
                }
                _ => return None,
            }
        }
        Some(caps)
    }

    /// Takes one of the route's `times`; `false` once they are used up.
    fn claim(&self) -> bool {
        match self.times {
            None => true,
            Some(k) => self.used.fetch_add(1, Ordering::Relaxed) < k,
        }
    }
}

/// How a request was routed.
pub enum Routed<'r> {
    /// A route answers; `captures` are the `*` values, path first, then query.
    Route {
        route: &'r Route,
        captures: Vec<String>,
    },
    /// Routes exist for this path but none accepts the query.
    NoMatch,
    /// No route: serve the file at the path.
    Static,
}

#[derive(Debug, Default)]
pub struct Routes {
    list: Vec<Route>,
}

impl Routes {
    /// Picks the route for a request. `path` is the decoded path, `segments` its decoded
    /// segments (split before decoding, so `%2F` stays inside a segment), `query` the decoded
    /// parameters. Routes whose `times` are used up are as if absent.
    pub fn route(&self, path: &str, segments: &[String], query: &[(String, String)]) -> Routed<'_> {
        let mut path_matched = false;
        let mut candidates: Vec<(&Route, Vec<String>)> = Vec::new();
        for r in &self.list {
            if r.times.is_some_and(|k| r.used.load(Ordering::Relaxed) >= k) {
                continue;
            }
            let Some(mut caps) = r.match_path(path, segments) else {
                continue;
            };
            path_matched = true;
            let Some(q) = r.match_query(query) else {
                continue;
            };
            caps.extend(q);
            candidates.push((r, caps));
        }
        let rank = |r: &Route| (r.segments.is_none(), r.query.len(), r.literal_segments());
        // Best first, file order kept among equals (the sort is stable).
        candidates.sort_by_key(|c| std::cmp::Reverse(rank(c.0)));
        // A route whose `times` ran out between the check and the claim falls through.
        for (route, captures) in candidates {
            if route.claim() {
                return Routed::Route { route, captures };
            }
        }
        if path_matched {
            Routed::NoMatch
        } else {
            Routed::Static
        }
    }
}

/// Reads `root/routes.json` (absent: no routes).
pub fn load(root: &Path) -> Result<Routes, String> {
    let path = root.join("routes.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Routes::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = doc
        .get("routes")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: expected {{\"routes\": [...]}}", path.display()))?;
    let mut routes = Routes::default();
    for (i, r) in list.iter().enumerate() {
        let route =
            parse_route(root, r).map_err(|e| format!("{}: route {i}: {e}", path.display()))?;
        routes.list.push(route);
    }
    Ok(routes)
}

const FIELDS: &[&str] = &[
    "path",
    "query",
    "file",
    "status",
    "headers",
    "template",
    "times",
    "delay_ms",
    "rate_bytes_per_sec",
];

fn parse_route(root: &Path, r: &Value) -> Result<Route, String> {
    let obj = r.as_object().ok_or("not an object")?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {k:?} (known: {})",
            FIELDS.join(", ")
        ));
    }
    let pattern = obj
        .get("path")
        .and_then(Value::as_str)
        .ok_or("no \"path\"")?
        .to_owned();
    if !pattern.starts_with('/') {
        return Err(format!("path {pattern:?} must start with /"));
    }
    let segments = if pattern.contains('*') {
        let mut segs = Vec::new();
        for s in pattern[1..].split('/') {
            if s == "*" {
                segs.push(None);
            } else if s.contains('*') {
                return Err(format!(
                    "path {pattern:?}: `*` must be a whole segment (\"/a/*/b\")"
                ));
            } else {
                segs.push(Some(s.to_owned()));
            }
        }
        Some(segs)
    } else {
        None
    };
    let file = match obj.get("file") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => {
            Some(safe_join(root, f).ok_or_else(|| format!("bad file {f:?}"))?)
        }
        Some(other) => return Err(format!("file {other} is not a string")),
    };
    let mut query = Vec::new();
    if let Some(q) = obj.get("query") {
        let q = q.as_object().ok_or("\"query\" is not an object")?;
        for (k, v) in q {
            let want = match v {
                Value::Null => Want::Absent,
                Value::String(s) => match s.strip_suffix('*') {
                    Some(prefix) => Want::Glob(prefix.to_owned()),
                    None => Want::Is(s.clone()),
                },
                other => Want::Is(other.to_string()),
            };
            query.push((k.clone(), want));
        }
    }
    query.sort_by(|a, b| a.0.cmp(&b.0));
    let status = match obj.get("status") {
        None => 200,
        Some(v) => v
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or_else(|| format!("bad status {v}"))?,
    };
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        let h = h.as_object().ok_or("\"headers\" is not an object")?;
        for (k, v) in h {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            if k.is_empty() || k.contains(['\r', '\n', ':', ' ']) || v.contains(['\r', '\n']) {
                return Err(format!("bad header {k:?}"));
            }
            headers.push((k.clone(), v));
        }
    }
    let number = |key: &str| -> Result<Option<u64>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{key} {v} is not a whole number")),
        }
    };
    let times = number("times")?;
    let delay = number("delay_ms")?.map(Duration::from_millis);
    let rate = number("rate_bytes_per_sec")?;
    if rate == Some(0) {
        return Err("rate_bytes_per_sec must be at least 1".into());
    }
    let is_template = match obj.get("template") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(v) => return Err(format!("template {v} is not true or false")),
    };
    let mut route = Route {
        pattern,
        segments,
        query,
        file,
        status,
        headers,
        template: None,
        times,
        used: AtomicU64::new(0),
        delay,
        rate,
    };
    if is_template {
        let file = route
            .file
            .as_ref()
            .ok_or("\"template\": true needs a \"file\"")?;
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("template {}: {e}", file.display()))?;
        let declared = route.captures_declared();
        if let Some(n) = max_capture_used(&text)
            && n > declared
        {
            return Err(format!(
                "template {} uses {{{{{n}}}}} but the route captures {declared} value(s)",
                file.display()
            ));
        }
        route.template = Some(text);
    }
    Ok(route)
}

/// `root` + a relative or `/`-rooted path, refusing `..` and anything that leaves `root`.
pub fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
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

// ---------------------------------------------------------------------------------------------
// Templates.

/// How a capture is escaped in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Json,
    Html,
    /// Header values: control characters dropped.
    Header,
    None,
}

impl Escape {
    pub fn for_file(path: &Path) -> Escape {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => Escape::Json,
            Some("html" | "htm") => Escape::Html,
            _ => Escape::None,
        }
    }

    fn push(self, out: &mut String, s: &str) {
        match self {
            Escape::Json => {
                let quoted = serde_json::to_string(s).unwrap_or_default();
                // Always `"…"`: drop the quotes.
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
            Escape::Html => {
                for c in s.chars() {
                    match c {
                        '&' => out.push_str("&amp;"),
                        '<' => out.push_str("&lt;"),
                        '>' => out.push_str("&gt;"),
                        '"' => out.push_str("&quot;"),
                        '\'' => out.push_str("&#39;"),
                        c => out.push(c),
                    }
                }
            }
            Escape::Header => out.extend(s.chars().filter(|c| !c.is_control())),
            Escape::None => out.push_str(s),
        }
    }
}

/// One `{{…}}` placeholder.
enum Placeholder {
    /// `{{N}}`: capture N (1-based).
    Capture(usize),
    /// `{{num:N}}`: a 15-digit number derived from capture N.
    Num(usize),
    /// `{{now}}`, `{{now+S}}`, `{{now-S}}`: Unix seconds.
    Now(i64),
}

fn placeholder(inner: &str) -> Option<Placeholder> {
    let inner = inner.trim();
    if let Ok(n) = inner.parse::<usize>() {
        return (n >= 1).then_some(Placeholder::Capture(n));
    }
    if let Some(n) = inner.strip_prefix("num:") {
        return n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Placeholder::Num);
    }
    let rest = inner.strip_prefix("now")?.trim();
    if rest.is_empty() {
        return Some(Placeholder::Now(0));
    }
    let (sign, n) = match rest.split_at(1) {
        ("+", n) => (1, n),
        ("-", n) => (-1, n),
        _ => return None,
    };
    n.trim()
        .parse::<i64>()
        .ok()
        .map(|n| Placeholder::Now(sign * n))
}

fn max_capture_used(text: &str) -> Option<usize> {
    let mut max = None;
    scan(text, |p| {
        if let Some(Placeholder::Capture(n) | Placeholder::Num(n)) = p {
            max = max.max(Some(n));
        }
    });
    max
}

/// Calls `f` for each `{{…}}` (with `None` for unknown ones).
fn scan(text: &str, mut f: impl FnMut(Option<Placeholder>)) {
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        f(placeholder(&after[..j]));
        rest = &after[j + 2..];
    }
}

/// `text` with every known placeholder replaced; unknown `{{…}}` are kept as written.
pub fn substitute(text: &str, captures: &[String], escape: Escape) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let whole = &rest[i..i + 2 + j + 2];
        match placeholder(&after[..j]) {
            Some(Placeholder::Capture(n)) => match captures.get(n - 1) {
                Some(c) => escape.push(&mut out, c),
                None => out.push_str(whole),
            },
            Some(Placeholder::Num(n)) => match captures.get(n - 1) {
                Some(c) => out.push_str(&number_of(c).to_string()),
                None => out.push_str(whole),
            },
            Some(Placeholder::Now(d)) => out.push_str(&now_plus(d).to_string()),
            None => out.push_str(whole),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

fn now_plus(d: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX));
    now.saturating_add(d)
}

/// A stable 15-digit number (first digit non-zero) for a captured value: FNV-1a, so the same
/// name always gets the same id, across runs and machines.
pub fn number_of(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    100_000_000_000_000 + h % 900_000_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_escaped() {
        let caps = vec!["a\"b".to_owned(), "<x>".to_owned()];
        assert_eq!(substitute("{{1}}|{{2}}", &caps, Escape::Json), "a\\\"b|<x>");
        assert_eq!(
            substitute("{{2}} {{1}}", &caps, Escape::Html),
            "&lt;x&gt; a&quot;b"
        );
        assert_eq!(
            substitute("{{3}} {{x}} {{", &caps, Escape::None),
            "{{3}} {{x}} {{"
        );
        let n = substitute("{{num:1}}", &caps, Escape::None);
        assert_eq!(n.len(), 15);
        assert_eq!(n, number_of("a\"b").to_string());
        let t: i64 = substitute("{{now+30}}", &[], Escape::None).parse().unwrap();
        assert!((t - now_plus(30)).abs() <= 1);
    }
}
