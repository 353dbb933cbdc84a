//! `tawthiq report`: one row per account of a batch run, as a terminal table, CSV, JSON or an
//! Arabic (right-to-left) HTML page; with `--registry`, joined with the registry's entities.
//!
//! Decisions:
//! - With `--registry`, rows follow the registry's order (the order an auditor's list has),
//!   registry accounts the state has never seen are listed with state `not_in_state`, and
//!   accounts in the state but not in the registry follow, by key, with empty entity columns:
//!   every account of either side appears exactly once.
//! - Values missing for a row (no bundle yet, an account not in the state) are empty cells in
//!   CSV and the table and `null` in JSON, never a made-up 0.
//! - CSV starts with a UTF-8 BOM so spreadsheet programs read Arabic correctly, and holds the
//!   text exactly as stored (RFC 4180 quoting by the `csv` crate). The terminal table replaces
//!   control characters and truncates long values; the other formats never alter text.
//! - HTML is one self-contained page (`lang="ar" dir="rtl"`, inline style, no scripts). Every
//!   value is escaped and isolated in `<bdi>`, ASCII columns with `dir="ltr"`, so neither
//!   markup in a name nor bidi controls in it can change the page or reorder other cells.
//! - Without `--format`, the extension of `-o` chooses (`.csv`, `.json`, `.html`), else the table.
//! - `-o` writes a temporary file beside the target and renames it over the target, so a reader
//!   never sees half a report.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use runner::registry::{Registry, RegistryAccount};
use runner::state::{self, AccountReport};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::status::{DEFAULT_STATE, one_line, open_existing};
use crate::Outcome;
use crate::config::Config;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Html,
}

#[derive(clap::Args)]
pub struct Args {
    /// The run state: `sqlite://PATH`, a file path, or `postgres://USER@HOST/DB`.
    // The value may hold a password: never shown by `--help`.
    #[arg(long, env = "TAWTHIQ_STATE", hide_env_values = true, default_value = DEFAULT_STATE)]
    state: String,
    /// Output format (default: from the extension of -o, else table).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Registry file (.csv or .toml): adds entity columns and lists its accounts missing from
    /// the state as `not_in_state`.
    #[arg(long)]
    registry: Option<PathBuf>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(a: &Args, _cfg: &Config) -> anyhow::Result<Outcome> {
    // The registry first: a mistake in it is reported before any connection is made.
    let registry = a.registry.as_ref().map(Registry::load).transpose()?;
    let accounts = super::runtime()?.block_on(async {
        let store = open_existing(&a.state).await?;
        store
            .report()
            .await
            .map_err(|e| one_line(&a.state, "reading the run state", &e))
    })?;
    let rows = rows(accounts, registry.as_ref());
    let format = a.format.unwrap_or_else(|| {
        match a
            .output
            .as_ref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            Some("html" | "htm") => Format::Html,
            _ => Format::Table,
        }
    });
    let columns = Column::list(registry.is_some());
    let body = match format {
        Format::Table => table(&rows, &columns).into_bytes(),
        Format::Csv => csv(&rows, &columns)?,
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(&rows)?;
            v.push(b'\n');
            v
        }
        Format::Html => html(&rows, &columns, &state::redact_location(&a.state)).into_bytes(),
    };
    match &a.output {
        Some(path) => write_atomically(path, &body)?,
        None => std::io::stdout().lock().write_all(&body)?,
    }
    Ok(Outcome::Ok)
}

/// The registry's side of a row.
#[derive(Serialize, Default)]
struct EntityCells {
    entity_id: Option<String>,
    entity_name: Option<String>,
    entity_kind: Option<&'static str>,
    region: Option<String>,
}

/// One account, as every format shows it (field names are the JSON names and CSV headers).
#[derive(Serialize)]
struct Row {
    key: String,
    #[serde(flatten)]
    entity: Option<EntityCells>,
    platform: &'static str,
    account: String,
    state: &'static str,
    bundle_id: Option<String>,
    bundle_location: Option<String>,
    items: Option<u64>,
    media: Option<u64>,
    gaps: Option<u64>,
    bytes: Option<u64>,
    attempts: Option<u32>,
    last_error: Option<String>,
    /// RFC 3339.
    not_before: Option<String>,
    /// RFC 3339.
    updated_at: Option<String>,
}

fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl Row {
    fn from_state(r: AccountReport, entity: Option<EntityCells>) -> Row {
        Row {
            key: r.key,
            entity,
            platform: r.platform.as_str(),
            account: r.account,
            state: r.state.as_str(),
            bundle_id: r.bundle_id,
            bundle_location: r.location,
            items: Some(r.items),
            media: Some(r.media),
            gaps: Some(r.gaps),
            bytes: Some(r.bytes),
            attempts: Some(r.attempts),
            last_error: r.last_error,
            not_before: r.not_before.map(rfc3339),
            updated_at: Some(rfc3339(r.updated_at)),
        }
    }

    fn not_in_state(a: &RegistryAccount) -> Row {
        Row {
            key: a.key(),
            entity: Some(entity(a)),
            platform: a.platform.as_str(),
            account: a.account.clone(),
            state: "not_in_state",
            bundle_id: None,
            bundle_location: None,
            items: None,
            media: None,
            gaps: None,
            bytes: None,
            attempts: None,
            last_error: None,
            not_before: None,
            updated_at: None,
        }
    }
}

fn entity(a: &RegistryAccount) -> EntityCells {
    EntityCells {
        entity_id: Some(a.entity.id.clone()),
        entity_name: Some(a.entity.name.clone()),
        entity_kind: Some(a.entity.kind.as_str()),
        region: a.entity.region.clone(),
    }
}

/// The state's accounts (by key), or with a registry: its accounts in its order, then the
/// state's accounts it does not list.
fn rows(accounts: Vec<AccountReport>, registry: Option<&Registry>) -> Vec<Row> {
    let Some(registry) = registry else {
        return accounts
            .into_iter()
            .map(|r| Row::from_state(r, None))
            .collect();
    };
    let mut by_key: HashMap<String, AccountReport> =
        accounts.into_iter().map(|r| (r.key.clone(), r)).collect();
    let mut out = Vec::with_capacity(registry.len() + by_key.len());
    let mut listed = HashSet::new();
    for a in registry {
        let key = a.key();
        listed.insert(key.clone());
        out.push(match by_key.remove(&key) {
            Some(r) => Row::from_state(r, Some(entity(a))),
            None => Row::not_in_state(a),
        });
    }
    let mut rest: Vec<AccountReport> = by_key.into_values().collect();
    rest.sort_by(|x, y| x.key.cmp(&y.key));
    out.extend(
        rest.into_iter()
            .map(|r| Row::from_state(r, Some(EntityCells::default()))),
    );
    out
}

/// A column of the text formats, in display order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Key,
    EntityId,
    EntityName,
    EntityKind,
    Region,
    Platform,
    Account,
    State,
    BundleId,
    BundleLocation,
    Items,
    Media,
    Gaps,
    Bytes,
    Attempts,
    LastError,
    NotBefore,
    UpdatedAt,
}

impl Column {
    fn list(with_registry: bool) -> Vec<Column> {
        use Column::{
            Account, Attempts, BundleId, BundleLocation, Bytes, EntityId, EntityKind, EntityName,
            Gaps, Items, Key, LastError, Media, NotBefore, Platform, Region, State, UpdatedAt,
        };
        let mut v = vec![Key];
        if with_registry {
            v.extend([EntityId, EntityName, EntityKind, Region]);
        }
        v.extend([
            Platform,
            Account,
            State,
            BundleId,
            BundleLocation,
            Items,
            Media,
            Gaps,
            Bytes,
            Attempts,
            LastError,
            NotBefore,
            UpdatedAt,
        ]);
        v
    }

    /// The CSV header and JSON field name.
    fn name(self) -> &'static str {
        match self {
            Column::Key => "key",
            Column::EntityId => "entity_id",
            Column::EntityName => "entity_name",
            Column::EntityKind => "entity_kind",
            Column::Region => "region",
            Column::Platform => "platform",
            Column::Account => "account",
            Column::State => "state",
            Column::BundleId => "bundle_id",
            Column::BundleLocation => "bundle_location",
            Column::Items => "items",
            Column::Media => "media",
            Column::Gaps => "gaps",
            Column::Bytes => "bytes",
            Column::Attempts => "attempts",
            Column::LastError => "last_error",
            Column::NotBefore => "not_before",
            Column::UpdatedAt => "updated_at",
        }
    }

    /// The HTML page's heading (the field name is shown under it).
    fn arabic(self) -> &'static str {
        match self {
            Column::Key => "المفتاح",
            Column::EntityId => "رقم الجهة",
            Column::EntityName => "اسم الجهة",
            Column::EntityKind => "نوع الجهة",
            Column::Region => "المنطقة",
            Column::Platform => "المنصة",
            Column::Account => "الحساب",
            Column::State => "الحالة",
            Column::BundleId => "معرّف الحزمة",
            Column::BundleLocation => "موقع الحزمة",
            Column::Items => "العناصر",
            Column::Media => "الوسائط",
            Column::Gaps => "الفجوات",
            Column::Bytes => "البايتات",
            Column::Attempts => "المحاولات",
            Column::LastError => "آخر خطأ",
            Column::NotBefore => "لا يُعاد قبل",
            Column::UpdatedAt => "آخر تحديث",
        }
    }

    /// Free text, possibly Arabic: its direction is left to the text itself.
    fn is_text(self) -> bool {
        matches!(
            self,
            Column::EntityName | Column::Region | Column::LastError
        )
    }

    fn is_number(self) -> bool {
        matches!(
            self,
            Column::Items | Column::Media | Column::Gaps | Column::Bytes | Column::Attempts
        )
    }

    /// Widest the terminal table shows the column; `None`: never truncated.
    fn max_width(self) -> Option<usize> {
        match self {
            Column::Key | Column::BundleId => Some(40),
            Column::EntityName | Column::Account | Column::BundleLocation => Some(32),
            Column::Region => Some(20),
            Column::LastError => Some(48),
            _ => None,
        }
    }

    fn cell(self, r: &Row) -> String {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        let e = r.entity.as_ref();
        match self {
            Column::Key => r.key.clone(),
            Column::EntityId => e.map(|e| text(&e.entity_id)).unwrap_or_default(),
            Column::EntityName => e.map(|e| text(&e.entity_name)).unwrap_or_default(),
            Column::EntityKind => e.and_then(|e| e.entity_kind).unwrap_or_default().to_owned(),
            Column::Region => e.map(|e| text(&e.region)).unwrap_or_default(),
            Column::Platform => r.platform.to_owned(),
            Column::Account => r.account.clone(),
            Column::State => r.state.to_owned(),
            Column::BundleId => text(&r.bundle_id),
            Column::BundleLocation => text(&r.bundle_location),
            Column::Items => num(r.items),
            Column::Media => num(r.media),
            Column::Gaps => num(r.gaps),
            Column::Bytes => num(r.bytes),
            Column::Attempts => num(r.attempts.map(u64::from)),
            Column::LastError => text(&r.last_error),
            Column::NotBefore => text(&r.not_before),
            Column::UpdatedAt => text(&r.updated_at),
        }
    }
}

fn csv(rows: &[Row], columns: &[Column]) -> anyhow::Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(columns.iter().map(|c| c.name()))?;
    for r in rows {
        w.write_record(columns.iter().map(|c| c.cell(r)))?;
    }
    w.into_inner().context("writing CSV")
}

/// Columns padded to their widest value; long values truncated, control characters shown as
/// spaces (a newline in an error message would break the row).
fn table(rows: &[Row], columns: &[Column]) -> String {
    let grid: Vec<Vec<String>> = std::iter::once(
        columns
            .iter()
            .map(|c| c.name().to_owned())
            .collect::<Vec<_>>(),
    )
    .chain(rows.iter().map(|r| {
        columns
            .iter()
            .map(|c| {
                let clean: String = c
                    .cell(r)
                    .chars()
                    .map(|ch| if ch.is_control() { ' ' } else { ch })
                    .collect();
                match c.max_width() {
                    Some(w) if *c == Column::BundleLocation => truncate_start(&clean, w),
                    Some(w) => truncate_end(&clean, w),
                    None => clean,
                }
            })
            .collect()
    }))
    .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| grid.iter().map(|row| width(&row[i])).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &grid {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - width(cell));
            if columns[i].is_number() {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("no accounts\n");
    }
    out
}

/// Terminal columns a value takes: characters, less the zero-width ones (Arabic vowel marks,
/// joiners, bidi controls) so Arabic names line up.
fn width(s: &str) -> usize {
    s.chars().filter(|c| !zero_width(*c)).count()
}

fn zero_width(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E4}'
        | '\u{06E7}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}')
}

/// The first `max - 1` columns and `…`.
fn truncate_end(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = usize::from(!zero_width(c));
        if w + cw > max - 1 {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// `…` and the last `max - 1` columns: for paths and URLs, whose end names the file.
fn truncate_start(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut tail = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = usize::from(!zero_width(c));
        if w + cw > max - 1 {
            break;
        }
        w += cw;
        tail.push(c);
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,'Noto Naskh Arabic',Tahoma,sans-serif;margin:1.5rem}\
table{border-collapse:collapse;font-size:.9rem}\
th,td{border:1px solid #bbb;padding:.25rem .5rem;vertical-align:top}\
th{background:#eee;position:sticky;top:0}th small{display:block;font-weight:normal;color:#555}\
td.n{text-align:left;font-variant-numeric:tabular-nums}\
tr.failed td{background:#fde8e8}tr.not_in_state td{background:#fff3d6}\
tr.partial td{background:#fff8e1}tr.unavailable td{background:#f3e5f5}\
tr.retry td,tr.deferred td{background:#eef4ff}";

fn html(rows: &[Row], columns: &[Column], location: &str) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        match counts.iter_mut().find(|(s, _)| *s == r.state) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.state, 1)),
        }
    }
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"ar\" dir=\"rtl\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>تقرير حسابات التوثيق</title>\n",
    );
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    out.push_str("<h1>تقرير حسابات التوثيق</h1>\n");
    let _ = writeln!(
        out,
        "<p>حالة التشغيل: <bdi dir=\"ltr\">{}</bdi> — أُعدّ في <bdi dir=\"ltr\">{}</bdi> — \
         عدد الحسابات: <bdi dir=\"ltr\">{}</bdi></p>",
        escape(location),
        rfc3339(whole_seconds(OffsetDateTime::now_utc())),
        rows.len()
    );
    out.push_str("<p>");
    for (i, (state, n)) in counts.iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        let _ = write!(out, "<bdi dir=\"ltr\">{}: {n}</bdi>", escape(state));
    }
    out.push_str("</p>\n<table>\n<thead><tr>");
    for c in columns {
        let _ = write!(
            out,
            "<th>{}<small><bdi dir=\"ltr\">{}</bdi></small></th>",
            c.arabic(),
            c.name()
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let _ = write!(out, "<tr class=\"{}\">", escape(r.state));
        for c in columns {
            let value = escape(&c.cell(r));
            if value.is_empty() {
                out.push_str("<td></td>");
            } else if c.is_text() {
                let _ = write!(out, "<td><bdi>{value}</bdi></td>");
            } else if c.is_number() {
                let _ = write!(out, "<td class=\"n\"><bdi dir=\"ltr\">{value}</bdi></td>");
            } else {
                let _ = write!(out, "<td><bdi dir=\"ltr\">{value}</bdi></td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

/// Writes `body` to a temporary file beside `path`, flushes it to disk, and renames it over
/// `path`; on any error the temporary file is removed and `path` is untouched.
fn write_atomically(path: &Path, body: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    // The rename is durable once the directory is flushed (best effort: not every platform
    // lets a directory be opened).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_width_and_ends() {
        assert_eq!(truncate_end("abcdef", 4), "abc…");
        assert_eq!(truncate_end("abc", 4), "abc");
        assert_eq!(truncate_start("/a/b/c/bundle.tar", 8), "…dle.tar");
        // Vowel marks take no column.
        assert_eq!(width("مَدرسة"), 5);
    }

    #[test]
    fn html_escapes_everything() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
