//! The TOML registry: one `[[entity]]` table per entity, holding its `[[entity.account]]`
//! tables. Unknown keys are refused (a misspelt `credential` would otherwise be lost); line
//! numbers come from the spans of the values.

use serde::Deserialize;
use toml::Spanned;

use super::{Builder, Place, RawAccount, RawEntity};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    entity: Vec<TomlEntity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlEntity {
    /// A string, or an integer for plain numeric ids.
    id: Option<Spanned<toml::Value>>,
    name: Option<Spanned<String>>,
    #[serde(rename = "type", alias = "kind")]
    kind: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    #[serde(default)]
    account: Vec<TomlAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlAccount {
    platform: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    route: Option<Spanned<String>>,
    credential: Option<Spanned<String>>,
    auth: Option<Spanned<String>>,
    /// A list of paths, or one path.
    #[serde(alias = "export")]
    exports: Option<Spanned<toml::Value>>,
}

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }
    fn line<T>(&self, s: &Spanned<T>) -> usize {
        self.0.partition_point(|&start| start <= s.span().start)
    }
}

pub(super) fn read(text: &str, b: &mut Builder) {
    // The BOM is on line 1, so dropping it changes no line number.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines = Lines::new(text);
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let place = Place {
                line: e
                    .span()
                    .map(|s| lines.0.partition_point(|&st| st <= s.start)),
                context: None,
            };
            b.problem(&place, format!("invalid TOML: {}", e.message()));
            return;
        }
    };
    if file.entity.is_empty() {
        b.problem(
            &Place::default(),
            "the registry has no [[entity]] tables: add one per entity, each with its \
             [[entity.account]] tables",
        );
    }
    for (i, entity) in file.entity.into_iter().enumerate() {
        let n = i + 1;
        let first_line = [
            entity.id.as_ref().map(|s| lines.line(s)),
            entity.name.as_ref().map(|s| lines.line(s)),
            entity.kind.as_ref().map(|s| lines.line(s)),
            entity.region.as_ref().map(|s| lines.line(s)),
        ]
        .into_iter()
        .flatten()
        .min();
        let place = Place {
            line: first_line,
            context: Some(format!("entity {n}")),
        };
        let id = match entity.id.map(Spanned::into_inner) {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(toml::Value::Integer(i)) => Some(i.to_string()),
            // Reported by the id check, as written.
            Some(other) => Some(other.to_string()),
        };
        let valid = b.entity(
            &place,
            RawEntity {
                id,
                name: entity.name.map(Spanned::into_inner),
                kind: entity.kind.map(Spanned::into_inner),
                region: entity.region.map(Spanned::into_inner),
            },
        );
        if entity.account.is_empty() {
            b.problem(
                &place,
                "the entity has no [[entity.account]] tables: add its accounts",
            );
        }
        for (j, account) in entity.account.into_iter().enumerate() {
            let line = account
                .account
                .as_ref()
                .or(account.platform.as_ref())
                .map(|s| lines.line(s))
                .or(first_line);
            let place = Place {
                line,
                context: Some(format!("entity {n}, account {}", j + 1)),
            };
            let exports = exports(b, &place, account.exports);
            b.account(
                &place,
                valid.clone(),
                RawAccount {
                    platform: account.platform.map(Spanned::into_inner),
                    account: account.account.map(Spanned::into_inner),
                    route: account.route.map(Spanned::into_inner),
                    credential: account.credential.map(Spanned::into_inner),
                    auth: account.auth.map(Spanned::into_inner),
                    exports,
                },
            );
        }
    }
}

/// `exports`: a list of paths or one path.
fn exports(b: &mut Builder, place: &Place, value: Option<Spanned<toml::Value>>) -> Vec<String> {
    let wrong = "exports must be a list of paths (strings)";
    match value.map(Spanned::into_inner) {
        None => Vec::new(),
        Some(toml::Value::String(s)) => vec![s],
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| {
                if let toml::Value::String(s) = v {
                    Some(s)
                } else {
                    b.problem(place, wrong);
                    None
                }
            })
            .collect(),
        Some(_) => {
            b.problem(place, wrong);
            Vec::new()
        }
    }
}
