//! `BagIt` tag files: `bag-info.txt` and the manifests.

use model::{BundleId, ContentId, Route};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Everything `bag-info.txt` says, in its canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagInfo {
    pub source_organization: String,
    pub bagging_date: Date,
    pub payload_bytes: u64,
    pub payload_files: u64,
    pub group: String,
    pub bundle_id: BundleId,
    pub capture_start: OffsetDateTime,
    pub capture_end: OffsetDateTime,
    pub tool: String,
    pub route: Route,
    pub previous: Option<ContentId>,
}

const KEYS: [&str; 12] = [
    "Source-Organization",
    "External-Identifier",
    "Bagging-Date",
    "Payload-Oxum",
    "Bag-Group-Identifier",
    "Bundle-Id",
    "Bundle-Format-Version",
    "Capture-Start",
    "Capture-End",
    "Capture-Tool",
    "Capture-Route",
    "Previous-Bundle-Tagmanifest-SHA256",
];

/// A tag value must fit on one line: no control characters.
pub fn is_tag_value(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control) && s.trim() == s
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("valid")
        .format(&Rfc3339)
        .expect("UTC times always format")
}

impl BagInfo {
    pub fn render(&self) -> String {
        let values = [
            self.source_organization.clone(),
            self.bundle_id.external_identifier(),
            self.bagging_date.to_string(),
            format!("{}.{}", self.payload_bytes, self.payload_files),
            self.group.clone(),
            self.bundle_id.to_string(),
            "1".to_owned(),
            rfc3339(self.capture_start),
            rfc3339(self.capture_end),
            self.tool.clone(),
            self.route.to_string(),
            self.previous
                .map_or_else(|| "none".to_owned(), |p| p.to_hex()),
        ];
        KEYS.iter()
            .zip(values)
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect()
    }

    /// Strict parse: exactly our keys, in our order, each once, each value well-formed.
    pub fn parse(text: &str) -> Result<BagInfo, String> {
        if !text.ends_with('\n') {
            return Err("bag-info.txt does not end with a line feed".into());
        }
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        if lines.len() != KEYS.len() {
            return Err(format!(
                "bag-info.txt has {} lines, expected {}",
                lines.len(),
                KEYS.len()
            ));
        }
        let mut v = Vec::with_capacity(KEYS.len());
        for (line, key) in lines.iter().zip(KEYS) {
            let value = line
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix(": "))
                .ok_or_else(|| format!("bag-info.txt: expected {key:?} at {line:?}"))?;
            if !is_tag_value(value) {
                return Err(format!("bag-info.txt: {key} has an invalid value"));
            }
            v.push(value);
        }
        let bad = |k: &str| format!("bag-info.txt: {k} is malformed");
        let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
        let bagging_date = Date::parse(v[2], date_fmt).map_err(|_| bad(KEYS[2]))?;
        let (bytes, files) = v[3].split_once('.').ok_or_else(|| bad(KEYS[3]))?;
        let num = |s: &str| {
            if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
                None
            } else {
                s.parse::<u64>().ok()
            }
        };
        let payload_bytes = num(bytes).ok_or_else(|| bad(KEYS[3]))?;
        let payload_files = num(files).ok_or_else(|| bad(KEYS[3]))?;
        let bundle_id: BundleId = v[5].parse().map_err(|_| bad(KEYS[5]))?;
        if v[1] != bundle_id.external_identifier() {
            return Err("bag-info.txt: External-Identifier does not match Bundle-Id".into());
        }
        if v[6] != "1" {
            return Err(format!(
                "bag-info.txt: unsupported Bundle-Format-Version {}",
                v[6]
            ));
        }
        let time = |i: usize| OffsetDateTime::parse(v[i], &Rfc3339).map_err(|_| bad(KEYS[i]));
        let capture_start = time(7)?;
        let capture_end = time(8)?;
        if capture_start != bundle_id.capture_start {
            return Err("bag-info.txt: Capture-Start does not match Bundle-Id".into());
        }
        if capture_end < capture_start {
            return Err("bag-info.txt: Capture-End is before Capture-Start".into());
        }
        let route = v[10].parse().map_err(|_| bad(KEYS[10]))?;
        let previous = match v[11] {
            "none" => None,
            hex => Some(hex.parse().map_err(|_| bad(KEYS[11]))?),
        };
        let info = BagInfo {
            source_organization: v[0].to_owned(),
            bagging_date,
            payload_bytes,
            payload_files,
            group: v[4].to_owned(),
            bundle_id,
            capture_start,
            capture_end,
            tool: v[9].to_owned(),
            route,
            previous,
        };
        if info.render() != text {
            return Err("bag-info.txt is not in canonical form".into());
        }
        Ok(info)
    }

    /// Unix time of midnight UTC on the bagging date: every member's mtime.
    pub fn mtime(&self) -> u64 {
        mtime_of(self.bagging_date)
    }
}

pub fn mtime_of(date: Date) -> u64 {
    u64::try_from(date.midnight().assume_utc().unix_timestamp()).unwrap_or(0)
}

/// `<hex>  <path>\n` lines sorted by path (byte order), as `sha256sum -c` reads them.
pub fn render_manifest<'a>(entries: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut rows: Vec<(&str, String)> = entries.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows.into_iter()
        .map(|(path, hex)| format!("{hex}  {path}\n"))
        .collect()
}

/// Strict manifest parse: lower-case hex of `hex_len` digits, two spaces, a path; sorted,
/// unique, LF-terminated. Returns `(path, hex)` rows.
pub fn parse_manifest(text: &str, hex_len: usize) -> Result<Vec<(String, String)>, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("manifest does not end with a line feed".into());
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for (n, line) in text.split_terminator('\n').enumerate() {
        let (hex, path) = line
            .split_once("  ")
            .ok_or_else(|| format!("manifest line {} is malformed", n + 1))?;
        let hex_ok =
            hex.len() == hex_len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok || path.is_empty() || path.contains("  ") || path.chars().any(char::is_control) {
            return Err(format!("manifest line {} is malformed", n + 1));
        }
        if let Some((last, _)) = rows.last()
            && last.as_str() >= path
        {
            return Err(format!(
                "manifest line {} is out of order or repeated",
                n + 1
            ));
        }
        rows.push((path.to_owned(), hex.to_owned()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> BagInfo {
        let id: BundleId = "x-42-20250504T063000Z".parse().unwrap();
        BagInfo {
            source_organization: "وزارة التعليم".into(),
            bagging_date: id.capture_start.date(),
            payload_bytes: 10,
            payload_files: 2,
            group: "run-1".into(),
            capture_start: id.capture_start,
            capture_end: id.capture_start + time::Duration::minutes(5),
            bundle_id: id,
            tool: "tawthiq 0.1.0".into(),
            route: Route::Api,
            previous: None,
        }
    }

    #[test]
    fn bag_info_round_trips_and_rejects_edits() {
        let text = info().render();
        assert_eq!(BagInfo::parse(&text).unwrap(), info());
        assert!(BagInfo::parse(&text.replace("x:42", "x:43")).is_err());
        assert!(BagInfo::parse(&text.replace("10.2", "010.2")).is_err());
        assert!(BagInfo::parse(&format!("{text}Extra: 1\n")).is_err());
    }

    #[test]
    fn manifests_are_sorted_and_strict() {
        let m = render_manifest([("data/b", "ab".repeat(32)), ("data/a", "cd".repeat(32))]);
        assert!(m.starts_with(&format!("{}  data/a\n", "cd".repeat(32))));
        assert_eq!(parse_manifest(&m, 64).unwrap().len(), 2);
        let unsorted: String = m.lines().rev().map(|l| format!("{l}\n")).collect();
        assert!(parse_manifest(&unsorted, 64).is_err());
        assert!(parse_manifest(&m.to_uppercase(), 64).is_err());
    }
}
