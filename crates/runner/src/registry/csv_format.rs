//! The CSV registry: a header row, then one account per row.
//!
//! The file is read one record at a time (a record is one line, or several when a quoted field
//! holds line breaks), so a registry of any size costs only the record being read.
//!
//! Spreadsheets written in Arabic often separate fields with the Arabic comma `،` (U+060C). The
//! `csv` crate takes a one-byte delimiter, so when the header is separated by `،` every `،`
//! outside quotes becomes U+001F (a control character no registry holds) before parsing.

use std::borrow::Cow;
use std::io::BufRead;

use super::{Builder, Place, RawAccount, RawEntity};

/// The registry's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    EntityId,
    EntityName,
    EntityType,
    Region,
    Platform,
    Account,
    Route,
    Credential,
    Auth,
    Exports,
}

impl Column {
    const REQUIRED: [Column; 5] = [
        Column::EntityId,
        Column::EntityName,
        Column::EntityType,
        Column::Platform,
        Column::Account,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::EntityId => "entity_id",
            Column::EntityName => "entity_name",
            Column::EntityType => "entity_type",
            Column::Region => "region",
            Column::Platform => "platform",
            Column::Account => "account",
            Column::Route => "route",
            Column::Credential => "credential",
            Column::Auth => "auth",
            Column::Exports => "exports",
        }
    }
}

/// Header spellings: the English names (any case, space or `-` for `_`), a few short forms,
/// and Arabic headers.
const HEADERS: &[(&str, Column)] = &[
    ("entity_id", Column::EntityId),
    ("entity_name", Column::EntityName),
    ("name", Column::EntityName),
    ("entity_type", Column::EntityType),
    ("type", Column::EntityType),
    ("kind", Column::EntityType),
    ("region", Column::Region),
    ("platform", Column::Platform),
    ("account", Column::Account),
    ("handle", Column::Account),
    ("url", Column::Account),
    ("route", Column::Route),
    ("credential", Column::Credential),
    ("credential_ref", Column::Credential),
    ("auth", Column::Auth),
    ("exports", Column::Exports),
    ("export", Column::Exports),
    ("export_paths", Column::Exports),
    ("رقم الجهة", Column::EntityId),
    ("معرف الجهة", Column::EntityId),
    ("اسم الجهة", Column::EntityName),
    ("نوع الجهة", Column::EntityType),
    ("المنطقة", Column::Region),
    ("المنصة", Column::Platform),
    ("الحساب", Column::Account),
    ("المسار", Column::Route),
    ("الاعتماد", Column::Credential),
    ("المصادقة", Column::Auth),
    ("ملفات التصدير", Column::Exports),
];

const ARABIC_COMMA: char = '\u{060C}';
const UNIT_SEPARATOR: char = '\u{1F}';

fn column(header: &str) -> Option<Column> {
    let words = super::words(header);
    let key = words.to_lowercase().replace([' ', '-'], "_");
    HEADERS
        .iter()
        .find(|(h, _)| *h == key || *h == words)
        .map(|(_, c)| *c)
}

/// Columns the registry ignores: notes for people, or anything starting with `_`.
fn ignored(header: &str) -> bool {
    let h = header.trim().to_lowercase();
    h.is_empty()
        || h.starts_with('_')
        || matches!(h.as_str(), "notes" | "note" | "comment" | "ملاحظات")
}

/// The header's columns and separator.
struct Header {
    columns: Vec<Option<Column>>,
    arabic: bool,
}

pub(super) fn read(mut input: impl BufRead, b: &mut Builder) {
    let mut header: Option<Header> = None;
    let mut number = 0;
    let mut text = String::new();
    let mut record = csv::StringRecord::new();
    loop {
        text.clear();
        match next_line(&mut input, &mut text, &mut number) {
            Ok(false) => break,
            Ok(true) => {}
            Err(message) => return b.problem(&at(number + 1), message),
        }
        if number == 1 && text.starts_with('\u{FEFF}') {
            text.drain(..'\u{FEFF}'.len_utf8());
        }
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        let first = number;
        // A quoted field may hold line breaks: the record goes on until its quotes balance.
        let mut quotes = text.matches('"').count();
        while quotes % 2 == 1 {
            let from = text.len();
            match next_line(&mut input, &mut text, &mut number) {
                Ok(true) => quotes += text[from..].matches('"').count(),
                Ok(false) => {
                    return b.problem(
                        &at(first),
                        "a double quote opened on this line is never closed: close the quoted \
                         field (\"…\")",
                    );
                }
                Err(message) => return b.problem(&at(number + 1), message),
            }
        }
        let arabic = header.as_ref().map_or_else(
            || text.matches(ARABIC_COMMA).count() > text.matches(',').count(),
            |h| h.arabic,
        );
        let fields: Cow<'_, str> = if arabic {
            if text.contains(UNIT_SEPARATOR) {
                return b.problem(
                    &at(first),
                    "the line holds a U+001F control character: remove it",
                );
            }
            Cow::Owned(split_arabic_commas(&text))
        } else {
            Cow::Borrowed(&text)
        };
        if let Err(e) = parse_record(&fields, arabic, &mut record) {
            return b.problem(&at(first), format!("unreadable CSV: {e}"));
        }
        // Lines of only spaces (or only separators) are blank too.
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match &header {
            None => match columns(b, first, &record) {
                Some(columns) => header = Some(Header { columns, arabic }),
                None => return,
            },
            Some(h) => row(b, &h.columns, &record, first, h.arabic),
        }
    }
    if header.is_none() {
        b.problem(
            &Place::default(),
            "the registry is empty: it needs a header row and one row per account",
        );
    }
}

/// Appends the next line to `text`; `false` at the end of the file.
fn next_line(
    input: &mut impl BufRead,
    text: &mut String,
    number: &mut usize,
) -> Result<bool, String> {
    match input.read_line(text) {
        Ok(0) => Ok(false),
        Ok(_) => {
            *number += 1;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(
            "the line is not UTF-8 text: save the registry as UTF-8 (in Excel: CSV UTF-8)".into(),
        ),
        Err(e) => Err(format!("cannot read the registry: {e}")),
    }
}

/// One record's fields.
fn parse_record(text: &str, arabic: bool, record: &mut csv::StringRecord) -> csv::Result<()> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(if arabic { b'\x1f' } else { b',' })
        .from_reader(text.as_bytes())
        .read_record(record)
        .map(drop)
}

/// One account row, checked against the header's columns.
fn row(
    b: &mut Builder,
    cols: &[Option<Column>],
    record: &csv::StringRecord,
    line: usize,
    arabic: bool,
) {
    let place = at(line);
    if record.len() != cols.len() {
        let sep = if arabic { "،" } else { "," };
        let message = format!(
            "{} fields but the header has {}: put a field that contains \"{sep}\" in \
             double quotes",
            record.len(),
            cols.len()
        );
        b.problem(&place, message);
        return;
    }
    let get = |want: Column| {
        cols.iter()
            .zip(record.iter())
            .find(|(c, _)| **c == Some(want))
            .map(|(_, v)| v.to_owned())
    };
    let entity = b.entity(
        &place,
        RawEntity {
            id: get(Column::EntityId),
            name: get(Column::EntityName),
            kind: get(Column::EntityType),
            region: get(Column::Region),
        },
    );
    let exports = get(Column::Exports)
        .map(|e| split_list(&e))
        .unwrap_or_default();
    b.account(
        &place,
        entity,
        RawAccount {
            platform: get(Column::Platform),
            account: get(Column::Account),
            route: get(Column::Route),
            credential: get(Column::Credential),
            auth: get(Column::Auth),
            exports,
        },
    );
}

fn at(line: usize) -> Place {
    Place {
        line: Some(line),
        context: None,
    }
}

/// The header's columns, or `None` after recording why it is unusable.
fn columns(
    b: &mut Builder,
    line: usize,
    record: &csv::StringRecord,
) -> Option<Vec<Option<Column>>> {
    let place = at(line);
    let mut cols = Vec::with_capacity(record.len());
    let mut ok = true;
    for h in record {
        let c = column(h);
        if c.is_none() && !ignored(h) {
            let message = format!(
                "unknown column {:?}: use entity_id, entity_name, entity_type, region, platform, \
                 account, route, credential, auth, exports (name extra columns \"notes\" or start \
                 them with \"_\")",
                h.trim()
            );
            b.problem(&place, message);
            ok = false;
        }
        if let Some(c) = c
            && cols.contains(&Some(c))
        {
            b.problem(
                &place,
                format!("column {} appears twice: keep one", c.name()),
            );
            ok = false;
        }
        cols.push(c);
    }
    for required in Column::REQUIRED {
        if !cols.contains(&Some(required)) {
            let message = format!(
                "missing required column {:?}: add it to the header row (required: entity_id, \
                 entity_name, entity_type, platform, account)",
                required.name()
            );
            b.problem(&place, message);
            ok = false;
        }
    }
    ok.then_some(cols)
}

/// `text` with every `،` outside double quotes replaced by U+001F.
fn split_arabic_commas(text: &str) -> String {
    let mut quoted = false;
    text.chars()
        .map(|c| match c {
            '"' => {
                quoted = !quoted;
                c
            }
            ARABIC_COMMA if !quoted => UNIT_SEPARATOR,
            _ => c,
        })
        .collect()
}

/// A list inside one field: entries separated by `;`, `,` or `،`.
fn split_list(field: &str) -> Vec<String> {
    field
        .split([';', ',', ARABIC_COMMA])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_commas_inside_quotes_stay() {
        assert_eq!(split_arabic_commas("a،\"b،c\"،d"), "a\u{1f}\"b،c\"\u{1f}d");
    }

    #[test]
    fn headers_match_loosely() {
        assert_eq!(column(" Entity ID "), Some(Column::EntityId));
        assert_eq!(column("ENTITY-NAME"), Some(Column::EntityName));
        assert_eq!(column("اسم  الجهة"), Some(Column::EntityName));
        assert_eq!(column("acount"), None);
        assert!(ignored("_internal") && ignored("Notes"));
    }

    #[test]
    fn lists_split_at_any_comma_or_semicolon() {
        assert_eq!(
            split_list("a.zip; b.zip،c.zip,"),
            ["a.zip", "b.zip", "c.zip"]
        );
    }
}
