//! The CSV registry: a header row, then one account per row.
//!
//! Spreadsheets written in Arabic often separate fields with the Arabic comma `،` (U+060C). The
//! `csv` crate takes a one-byte delimiter, so when the header is separated by `،` every `،`
//! outside quotes becomes U+001F (a control character no registry holds) before parsing; the
//! replacement keeps lines intact, so line numbers still match the file.

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

pub(super) fn read(text: &str, b: &mut Builder) {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let arabic =
        header_line(text).is_some_and(|h| h.matches(ARABIC_COMMA).count() > h.matches(',').count());
    let owned;
    let (text, delimiter) = if arabic {
        if let Some(line) = text
            .lines()
            .position(|l| l.contains(UNIT_SEPARATOR))
            .map(|i| i + 1)
        {
            b.problem(
                &at(line),
                "the file holds a U+001F control character: remove it",
            );
            return;
        }
        owned = split_arabic_commas(text);
        (owned.as_str(), b'\x1f')
    } else {
        (text, b',')
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut columns: Option<Vec<Option<Column>>> = None;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(csv::Position::line);
                let place = super::Place {
                    line: line.and_then(|l| usize::try_from(l).ok()),
                    context: None,
                };
                b.problem(&place, format!("unreadable CSV: {e}"));
                return;
            }
        }
        let line = record.position().map_or(0, |p| record_line(text, p));
        // Lines of only spaces (or only separators) are blank too.
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &columns else {
            match header(b, line, &record) {
                Some(c) => columns = Some(c),
                None => return,
            }
            continue;
        };
        row(b, cols, &record, line, arabic);
    }
    if columns.is_none() {
        b.problem(
            &Place::default(),
            "the registry is empty: it needs a header row and one row per account",
        );
    }
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
fn header(b: &mut Builder, line: usize, record: &csv::StringRecord) -> Option<Vec<Option<Column>>> {
    let place = at(line);
    let mut cols = Vec::with_capacity(record.len());
    let mut ok = true;
    for h in record {
        let c = column(h);
        if c.is_none() && !ignored(h) {
            let message = format!(
                "unknown column {:?}: use entity_id, entity_name, entity_type, region, platform, \
                 account, route, credential, exports (name extra columns \"notes\" or start them \
                 with \"_\")",
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

/// The line a record starts on. The `csv` crate gives the position where it began reading,
/// before the empty and comment lines it skipped; count those too.
fn record_line(text: &str, p: &csv::Position) -> usize {
    let mut line = usize::try_from(p.line()).unwrap_or(0);
    let mut rest = usize::try_from(p.byte())
        .ok()
        .and_then(|b| text.get(b..))
        .unwrap_or_default();
    loop {
        let skipped = if rest.starts_with('#') {
            rest.find('\n').map_or(rest.len(), |i| i + 1)
        } else if rest.starts_with('\n') {
            1
        } else if rest.starts_with("\r\n") {
            2
        } else {
            break;
        };
        rest = &rest[skipped..];
        line += 1;
    }
    line
}

/// The first line that is neither blank nor a comment.
fn header_line(text: &str) -> Option<&str> {
    text.lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
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
