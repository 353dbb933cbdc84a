//! `tawthiq status`: a batch run's figures per platform, read from its state store.
//!
//! Decisions:
//! - `status` and `report` only read: a state location that does not exist is an error naming
//!   how to start a run, never an empty database created as a side effect ([`open_existing`]).
//! - A platform block that has already ended is not shown (in the table or the JSON): the
//!   store keeps the last `blocked_until`, but only a block in force matters to an operator.
//! - `--json` carries the same figures with stable `snake_case` names and bytes as integers; it is
//!   the form scripts and dashboards on other machines read.
//! - Errors opening the store are one line, with any password in the location removed twice
//!   over: the location is redacted, and the password itself is scrubbed from the message in
//!   case an engine repeats the URL it was given.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;

use anyhow::anyhow;
use runner::state::{self, Location, PlatformSummary, StateCounts, StateStore, Summary};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Outcome;
use crate::config::Config;
use crate::progress::human_bytes;

/// Where `tawthiq run`, `status` and `report` keep the run state unless told otherwise.
pub const DEFAULT_STATE: &str = "sqlite://tawthiq-run/state.db";

#[derive(clap::Args)]
pub struct Args {
    /// The run state: `sqlite://PATH`, a file path, or `postgres://USER@HOST/DB`.
    // The value may hold a password: never shown by `--help`.
    #[arg(long, env = "TAWTHIQ_STATE", hide_env_values = true, default_value = DEFAULT_STATE)]
    state: String,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &Args, _cfg: &Config) -> anyhow::Result<Outcome> {
    let summary = super::runtime()?.block_on(async {
        let store = open_existing(&a.state).await?;
        store
            .summary()
            .await
            .map_err(|e| one_line(&a.state, "reading the run state", &e))
    })?;
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let figures = Figures::new(&summary, now);
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &figures)?;
        writeln!(out)?;
    } else {
        render(&mut out, &figures, &state::redact_location(&a.state), now)?;
    }
    Ok(Outcome::Ok)
}

/// Opens the run state at `location` for reading, refusing to create one: a SQLite path that
/// does not exist is answered with how to start a run.
pub async fn open_existing(location: &str) -> anyhow::Result<Arc<dyn StateStore>> {
    if let Location::Sqlite(path) =
        Location::parse(location).map_err(|e| one_line(location, "", &e))?
        && !std::path::Path::new(&path).exists()
    {
        return Err(anyhow!(
            "no run state at {path}: start one with `tawthiq run <registry>`"
        ));
    }
    state::open(location)
        .await
        .map_err(|e| one_line(location, "", &e))
}

/// `e` and its causes as one message without the location's password; no source chain is kept
/// (a cause could quote the URL).
pub fn one_line(
    location: &str,
    context: &str,
    e: &(dyn std::error::Error + 'static),
) -> anyhow::Error {
    let mut text = context.to_owned();
    let mut cause = Some(e);
    while let Some(err) = cause {
        let part = err.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        cause = err.source();
    }
    anyhow!(scrub(&text, location))
}

/// Removes the password of `location` (as written and percent-decoded) from `text`.
fn scrub(text: &str, location: &str) -> String {
    let mut out = text.replace('\n', " ");
    if let Some(pw) = password(location) {
        out = out.replace(pw, "REDACTED");
        let decoded = percent_decode(pw);
        if !decoded.is_empty() {
            out = out.replace(&decoded, "REDACTED");
        }
    }
    out
}

/// The password of a `scheme://user:password@host/...` location, as written.
fn password(location: &str) -> Option<&str> {
    let (_, rest) = location.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then_some(pw)
}

/// `%XX` escapes decoded; anything else kept (lossy for invalid UTF-8).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The figures of one platform, or of all: what a line of the table shows.
#[derive(Serialize)]
struct Line {
    accounts: u64,
    complete: u64,
    partial: u64,
    unavailable: u64,
    failed: u64,
    retry: u64,
    deferred: u64,
    running: u64,
    pending: u64,
    /// Accounts with a recorded bundle (complete, partial or unavailable) of all, in percent
    /// with one decimal; 0 without accounts.
    percent_recorded: f64,
    items: u64,
    media: u64,
    bytes: u64,
}

impl Line {
    fn new(counts: &StateCounts, items: u64, media: u64, bytes: u64) -> Line {
        let accounts = counts.total();
        #[allow(clippy::cast_precision_loss)]
        let percent_recorded = if accounts == 0 {
            0.0
        } else {
            (counts.recorded() as f64 * 1000.0 / accounts as f64).round() / 10.0
        };
        Line {
            accounts,
            complete: counts.complete,
            partial: counts.partial,
            unavailable: counts.unavailable,
            failed: counts.failed,
            retry: counts.retry,
            deferred: counts.deferred,
            running: counts.running,
            pending: counts.pending,
            percent_recorded,
            items,
            media,
            bytes,
        }
    }
}

/// One platform with accounts: its figures and limits.
#[derive(Serialize)]
struct PlatformLine {
    platform: &'static str,
    #[serde(flatten)]
    figures: Line,
    /// RFC 3339; only while the block is in force.
    blocked_until: Option<String>,
    max_concurrent: Option<u32>,
}

impl PlatformLine {
    fn new(p: &PlatformSummary, now: OffsetDateTime) -> PlatformLine {
        PlatformLine {
            platform: p.platform.as_str(),
            figures: Line::new(&p.counts, p.items, p.media, p.bytes),
            blocked_until: p
                .blocked_until
                .filter(|until| *until > now)
                .and_then(|until| until.format(&Rfc3339).ok()),
            max_concurrent: p.max_concurrent,
        }
    }
}

/// What `status` shows: one line per platform with accounts, and the totals.
#[derive(Serialize)]
struct Figures {
    /// When the figures were read (RFC 3339, UTC).
    as_of: String,
    platforms: Vec<PlatformLine>,
    total: Line,
}

impl Figures {
    fn new(summary: &Summary, now: OffsetDateTime) -> Figures {
        let sum = |f: fn(&PlatformSummary) -> u64| summary.platforms.iter().map(f).sum::<u64>();
        Figures {
            as_of: now.format(&Rfc3339).unwrap_or_default(),
            platforms: summary
                .platforms
                .iter()
                .map(|p| PlatformLine::new(p, now))
                .collect(),
            total: Line::new(
                &summary.counts(),
                sum(|p| p.items),
                sum(|p| p.media),
                sum(|p| p.bytes),
            ),
        }
    }
}

const HEADERS: [&str; 14] = [
    "platform",
    "accounts",
    "complete",
    "partial",
    "unavailable",
    "failed",
    "retry",
    "deferred",
    "running",
    "pending",
    "% recorded",
    "items",
    "media",
    "bytes",
];

fn cells(name: &str, l: &Line) -> [String; 14] {
    [
        name.to_owned(),
        l.accounts.to_string(),
        l.complete.to_string(),
        l.partial.to_string(),
        l.unavailable.to_string(),
        l.failed.to_string(),
        l.retry.to_string(),
        l.deferred.to_string(),
        l.running.to_string(),
        l.pending.to_string(),
        format!("{:.1}%", l.percent_recorded),
        l.items.to_string(),
        l.media.to_string(),
        human_bytes(l.bytes),
    ]
}

fn render(
    out: &mut impl Write,
    f: &Figures,
    location: &str,
    now: OffsetDateTime,
) -> std::io::Result<()> {
    writeln!(out, "run state {location}, as of {}", f.as_of)?;
    let mut rows: Vec<[String; 14]> = vec![HEADERS.map(str::to_owned)];
    rows.extend(f.platforms.iter().map(|p| cells(p.platform, &p.figures)));
    rows.push(cells("total", &f.total));
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for (cell, w) in row.iter().zip(&widths).skip(1) {
            let _ = write!(line, "  {cell:>w$}");
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    if f.platforms.is_empty() {
        writeln!(
            out,
            "no accounts yet: `tawthiq run <registry>` feeds them in"
        )?;
    }
    for p in &f.platforms {
        if let Some(until) = &p.blocked_until {
            let left = OffsetDateTime::parse(until, &Rfc3339)
                .map(|t| t - now)
                .unwrap_or_default();
            let minutes = left.whole_minutes().max(1);
            writeln!(
                out,
                "{}: blocked until {until} (in {}h {:02}m)",
                p.platform,
                minutes / 60,
                minutes % 60
            )?;
        }
        if let Some(cap) = p.max_concurrent {
            writeln!(
                out,
                "{}: at most {cap} accounts running at once",
                p.platform
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_passwords_as_written_and_decoded() {
        let loc = "postgres://tawthiq:s%40cret@db:5432/run";
        let text = scrub("failed for tawthiq:s@cret and s%40cret", loc);
        assert_eq!(text, "failed for tawthiq:REDACTED and REDACTED");
        assert_eq!(scrub("a\nb", "state.db"), "a b");
    }

    #[test]
    fn percent_recorded_has_one_decimal_and_counts_every_recorded_outcome() {
        let counts = StateCounts {
            complete: 1,
            unavailable: 1,
            failed: 1,
            ..StateCounts::default()
        };
        assert!((Line::new(&counts, 0, 0, 0).percent_recorded - 66.7).abs() < 1e-9);
        assert!(
            Line::new(&StateCounts::default(), 0, 0, 0)
                .percent_recorded
                .abs()
                < 1e-9
        );
    }
}
