//! The registry: the entities (schools, offices…) and the accounts a batch run archives.
//!
//! Two formats, chosen by the file's extension (`.csv`, `.toml`); `examples/registry/` holds one
//! sample of each and its README is the format's reference. Every account is validated and
//! normalised before a run starts:
//! - the account, however written (`@Name`, `https://x.com/name`, a numeric id in Eastern Arabic
//!   digits), becomes one canonical string ([`handle::canonical_account`]), and
//!   [`RegistryAccount::key`] (`x:@madrasat_alnoor`) names it in the state store;
//! - an account listed twice, even spelled differently, is an error;
//! - a credential is only a *name* (`NOOR_X`), looked up later as `TAWTHIQ_CRED_NOOR_X` or
//!   `cred_noor_x` in the secrets file; a value that looks like a token is refused;
//! - the route, credential, auth choice, export files and account must make a capture the
//!   sources accept ([`fetcher::sources::Plan::new`], the same check a worker's claim and
//!   `tawthiq archive` go through), so a line its adapter would refuse is refused here;
//! - lines that list the same export file are named together as a warning ([`Checked`]):
//!   they may be one account written two ways (archived once: the run records the other line
//!   as its duplicate) or an export put on the wrong line (its identity check fails that line).
//!
//! Problems are collected, not stopped at: [`RegistryError::Invalid`] lists every one (up to
//! [`MAX_PROBLEMS`]), each on one line with its line number and what to fix.
//!
//! ```
//! let registry = runner::registry::Registry::parse_csv(
//!     "entity_id,entity_name,entity_type,region,platform,account,credential\n\
//!      ١٠٠١,مدرسة النور,school,الرياض,x,https://x.com/Madrasat_AlNoor,X_TOKEN\n",
//! )
//! .unwrap();
//! let account = &registry.accounts()[0];
//! assert_eq!(account.entity.id, "1001");
//! assert_eq!(account.key(), "x:@madrasat_alnoor");
//! ```

pub mod handle;
pub mod sources;

mod csv_format;
mod toml_format;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use fetcher::sources::{Plan, SourceRequest};
use model::Platform;

/// How many problems an error lists; the rest are counted.
pub const MAX_PROBLEMS: usize = 100;

/// The kinds of entity that own accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    School,
    Office,
    Administration,
    Club,
    Attache,
    SchoolAbroad,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::School => "school",
            EntityKind::Office => "office",
            EntityKind::Administration => "administration",
            EntityKind::Club => "club",
            EntityKind::Attache => "attache",
            EntityKind::SchoolAbroad => "school_abroad",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every accepted spelling of an entity type: the English names (any case; a space or `-` for
/// `_`; `attaché` with its accent) and the Arabic words registries are written in.
const ENTITY_KINDS: &[(&str, EntityKind)] = &[
    ("school", EntityKind::School),
    ("office", EntityKind::Office),
    ("administration", EntityKind::Administration),
    ("club", EntityKind::Club),
    ("attache", EntityKind::Attache),
    ("attaché", EntityKind::Attache),
    ("school_abroad", EntityKind::SchoolAbroad),
    ("مدرسة", EntityKind::School),
    ("مكتب", EntityKind::Office),
    ("مكتب تعليم", EntityKind::Office),
    ("إدارة", EntityKind::Administration),
    ("ادارة", EntityKind::Administration),
    ("إدارة تعليم", EntityKind::Administration),
    ("ادارة تعليم", EntityKind::Administration),
    ("نادي", EntityKind::Club),
    ("ملحقية", EntityKind::Attache),
    ("ملحقية ثقافية", EntityKind::Attache),
    ("مدرسة بالخارج", EntityKind::SchoolAbroad),
    ("مدرسة في الخارج", EntityKind::SchoolAbroad),
    ("مدرسة خارجية", EntityKind::SchoolAbroad),
];

impl FromStr for EntityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let key = words(s).to_lowercase().replace([' ', '-'], "_");
        let arabic = words(s);
        ENTITY_KINDS
            .iter()
            .find(|(name, _)| *name == key || *name == arabic)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                format!(
                    "entity type {:?} is unknown: use school, office, administration, club, \
                     attache or school_abroad (or مدرسة، مكتب، إدارة، نادي، ملحقية، مدرسة بالخارج)",
                    s.trim()
                )
            })
    }
}

/// `s` trimmed, with runs of whitespace inside made one space.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The route a batch run should take for an account, and the auth choice of an API line: the
/// rules are the sources' own ([`fetcher::sources`]), which the registry check applies to every
/// line.
pub use fetcher::sources::{AuthChoice, RoutePreference};
pub use sources::{RegistrySources, SourceOptions};

/// A school, office, administration, club, attaché or school abroad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// ASCII: Eastern Arabic and Persian digits are converted.
    pub id: String,
    /// As written (only the whitespace around it is trimmed).
    pub name: String,
    pub kind: EntityKind,
    /// As written; `None` when empty.
    pub region: Option<String>,
}

/// One account to archive, validated and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAccount {
    pub entity: Entity,
    pub platform: Platform,
    /// Canonical: see [`handle::canonical_account`].
    pub account: String,
    pub route: RoutePreference,
    /// A credential *name*, upper-case ASCII; see [`RegistryAccount::credential_env_var`].
    pub credential: Option<String>,
    /// How the API credential is used, where the platform offers a choice (Instagram Login or
    /// Facebook Login; a `YouTube` OAuth token or API key); `None`: the platform's default.
    pub auth: Option<AuthChoice>,
    /// The owner's export files, for route `export` (or `auto`). [`Registry::load`] resolves
    /// relative paths against the registry's directory; the `parse_*` functions keep them.
    pub exports: Vec<PathBuf>,
    /// The line the account is on (CSV: its row; TOML: its `account` key).
    pub line: usize,
}

impl RegistryAccount {
    /// `<platform>:<canonical account>`: stable across spellings, the state store's key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.platform, self.account)
    }

    /// The environment variable holding the credential: `TAWTHIQ_CRED_<NAME>`.
    pub fn credential_env_var(&self) -> Option<String> {
        self.credential.as_deref().map(credential_env_var)
    }

    /// The credential's key in the secrets file; see [`credential_secrets_key`].
    pub fn credential_secrets_key(&self) -> Option<String> {
        self.credential.as_deref().map(credential_secrets_key)
    }

    /// The route as the run state keeps it: `auto`, `api`, `export` or `web`, followed by the
    /// auth choice after a `/` when the line makes one (`api/api_key`); read back with
    /// [`parse_route_text`].
    pub fn route_text(&self) -> String {
        match self.auth {
            None => self.route.as_str().to_owned(),
            Some(auth) => format!("{}/{auth}", self.route),
        }
    }

    /// The account as the run state takes it: everything a worker needs to open its source
    /// travels in the claim.
    pub fn account_spec(&self) -> crate::state::AccountSpec {
        crate::state::AccountSpec {
            key: self.key(),
            platform: self.platform,
            account: self.account.clone(),
            route: Some(self.route_text()),
            credential_ref: self.credential.clone(),
            exports: self
                .exports
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        }
    }
}

/// A route as [`RegistryAccount::route_text`] writes it (an empty text is `auto`).
pub fn parse_route_text(text: &str) -> Result<(RoutePreference, Option<AuthChoice>), String> {
    match text.split_once('/') {
        None => Ok((text.parse()?, None)),
        Some((route, auth)) => Ok((route.parse()?, Some(auth.parse()?))),
    }
}

/// The environment variable holding credential `name`: `TAWTHIQ_CRED_<NAME>`.
pub fn credential_env_var(name: &str) -> String {
    format!("TAWTHIQ_CRED_{name}")
}

/// Credential `name`'s key in the secrets file: `cred_<name>`, the same key the CLI's secret
/// lookup maps to `TAWTHIQ_CRED_<NAME>`.
pub fn credential_secrets_key(name: &str) -> String {
    format!("cred_{}", name.to_ascii_lowercase())
}

/// A validated registry: accounts in file order, each listed once.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    accounts: Vec<RegistryAccount>,
}

/// One problem in a registry, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based; `None` when the format gives no position.
    pub line: Option<usize>,
    /// Where in a TOML file: `entity 3, account 2`.
    pub context: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.context) {
            (Some(line), Some(ctx)) => write!(f, "line {line} ({ctx}): ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            (None, Some(ctx)) => write!(f, "{ctx}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("reading registry {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("registry {}: unknown format: name it .csv or .toml", path.display())]
    UnknownFormat { path: PathBuf },
    /// Every problem found, up to [`MAX_PROBLEMS`]; `total` counts them all.
    #[error("{}", render_problems(path.as_deref(), problems, *total))]
    Invalid {
        path: Option<PathBuf>,
        problems: Vec<Problem>,
        total: usize,
    },
}

impl RegistryError {
    /// The problems listed, if the registry was read but is invalid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            RegistryError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn render_problems(path: Option<&Path>, problems: &[Problem], total: usize) -> String {
    use fmt::Write as _;
    let name = path.map_or_else(|| "registry".to_owned(), |p| p.display().to_string());
    let plural = if total == 1 { "" } else { "s" };
    let mut out = format!("{name}: {total} problem{plural}");
    for p in problems {
        let _ = write!(out, "\n  {p}");
    }
    if total > problems.len() {
        let _ = write!(out, "\n  … and {} more", total - problems.len());
    }
    out
}

/// What [`Registry::check`] found in a valid registry, without holding its accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub accounts: usize,
    /// Every credential name the registry uses, once.
    pub credentials: BTreeSet<String>,
    /// The accounts' keys, 8 bytes each.
    pub keys: KeySet,
    /// What is worth a look but runs: lines that list an export file another line lists too.
    pub warnings: Vec<Problem>,
}

/// A set of account keys kept as 64-bit hashes: a batch run asks whether a claimed account is
/// still in its registry without holding the registry (a false "yes" needs two keys among a
/// few hundred thousand to share 64 bits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet(std::collections::HashSet<u64>);

impl KeySet {
    fn hash(key: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // A fixed-key hasher: the same key gives the same hash in every call of a process.
        BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
    }

    pub fn insert(&mut self, key: &str) {
        self.0.insert(KeySet::hash(key));
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains(&KeySet::hash(key))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Registry {
    /// Reads a `.csv` or `.toml` registry; relative export paths are resolved against the
    /// registry's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Registry, RegistryError> {
        let mut accounts = Vec::new();
        Registry::read(path.as_ref(), &mut |a| accounts.push(a))?;
        Ok(Registry { accounts })
    }

    /// The line that lists the account with this key, read from the file (a run names the
    /// other line of a duplicate account this way, without holding the registry).
    pub fn line_of(path: impl AsRef<Path>, key: &str) -> Result<Option<usize>, RegistryError> {
        let mut line = None;
        Registry::read(path.as_ref(), &mut |a| {
            if line.is_none() && a.key() == key {
                line = Some(a.line);
            }
        })?;
        Ok(line)
    }

    /// Validates a registry and lists its credential names, keeping one key per account
    /// (for duplicates) but not the accounts: a batch run checks a registry of any size this
    /// way before it changes anything, then feeds it with [`Registry::for_each_batch`].
    pub fn check(path: impl AsRef<Path>) -> Result<Checked, RegistryError> {
        let mut checked = Checked::default();
        let warnings = Registry::read(path.as_ref(), &mut |a| {
            checked.accounts += 1;
            checked.keys.insert(&a.key());
            checked.credentials.extend(a.credential);
        })?;
        checked.warnings = warnings;
        Ok(checked)
    }

    /// Hands the accounts over in file order, `size` at a time, as they are read. Accounts
    /// before an invalid line have been handed over when the error returns, so check the
    /// registry first ([`Registry::check`]) when that matters.
    pub fn for_each_batch(
        path: impl AsRef<Path>,
        size: usize,
        each: &mut dyn FnMut(Vec<RegistryAccount>),
    ) -> Result<(), RegistryError> {
        let size = size.max(1);
        let mut batch = Vec::with_capacity(size);
        Registry::read(path.as_ref(), &mut |a| {
            batch.push(a);
            if batch.len() == size {
                each(std::mem::replace(&mut batch, Vec::with_capacity(size)));
            }
        })?;
        if !batch.is_empty() {
            each(batch);
        }
        Ok(())
    }

    /// Reads the file (a CSV streamed line by line, a TOML whole), handing each valid account
    /// to `sink` with its export paths resolved against the registry's directory; returns the
    /// warnings.
    fn read(
        path: &Path,
        sink: &mut dyn FnMut(RegistryAccount),
    ) -> Result<Vec<Problem>, RegistryError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let io = |source| RegistryError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut resolve = |mut account: RegistryAccount| {
            for export in &mut account.exports {
                if export.is_relative() {
                    *export = dir.join(&*export);
                }
            }
            sink(account);
        };
        let mut b = Builder::new(&mut resolve);
        match ext.as_deref() {
            Some("csv") => {
                let file = std::fs::File::open(path).map_err(io)?;
                csv_format::read(std::io::BufReader::new(file), &mut b);
            }
            Some("toml") => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                toml_format::read(&text, &mut b);
            }
            _ => {
                return Err(RegistryError::UnknownFormat {
                    path: path.to_owned(),
                });
            }
        }
        b.finish().map_err(|e| match e {
            RegistryError::Invalid {
                problems, total, ..
            } => RegistryError::Invalid {
                path: Some(path.to_owned()),
                problems,
                total,
            },
            other => other,
        })
    }

    /// A CSV registry (see the module docs); `,` or `،` as the separator.
    pub fn parse_csv(text: &str) -> Result<Registry, RegistryError> {
        let mut accounts = Vec::new();
        let mut sink = |a| accounts.push(a);
        let mut b = Builder::new(&mut sink);
        csv_format::read(text.as_bytes(), &mut b);
        b.finish()?;
        Ok(Registry { accounts })
    }

    /// A TOML registry: `[[entity]]` tables holding `[[entity.account]]` tables.
    pub fn parse_toml(text: &str) -> Result<Registry, RegistryError> {
        let mut accounts = Vec::new();
        let mut sink = |a| accounts.push(a);
        let mut b = Builder::new(&mut sink);
        toml_format::read(text, &mut b);
        b.finish()?;
        Ok(Registry { accounts })
    }

    /// The accounts, in the order the file lists them.
    pub fn accounts(&self) -> &[RegistryAccount] {
        &self.accounts
    }

    pub fn iter(&self) -> std::slice::Iter<'_, RegistryAccount> {
        self.accounts.iter()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'a RegistryAccount;
    type IntoIter = std::slice::Iter<'a, RegistryAccount>;
    fn into_iter(self) -> Self::IntoIter {
        self.accounts.iter()
    }
}

/// Where a value was written, for messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    pub line: Option<usize>,
    pub context: Option<String>,
}

/// An entity as written, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawEntity {
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
    pub region: Option<String>,
}

/// An account as written, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawAccount {
    pub platform: Option<String>,
    pub account: Option<String>,
    pub route: Option<String>,
    pub credential: Option<String>,
    pub auth: Option<String>,
    /// Already split into entries (CSV: at `;`, `,` or `،`).
    pub exports: Vec<String>,
}

/// Both formats feed the same checks, so the rules and messages are the same. Valid accounts
/// go to the sink as they are read; the builder keeps only what the checks need.
pub(crate) struct Builder<'s> {
    sink: &'s mut dyn FnMut(RegistryAccount),
    problems: Vec<Problem>,
    total: usize,
    /// key → (line, as written) of its first listing.
    seen: HashMap<Box<str>, (usize, Box<str>)>,
    /// entity id → (entity, line) of its first listing.
    entities: HashMap<String, (Entity, usize)>,
    /// Hash of an export path (as resolved lexically) → the line that first lists it.
    exports: HashMap<u64, usize>,
    warnings: Vec<Problem>,
}

impl<'s> Builder<'s> {
    pub fn new(sink: &'s mut dyn FnMut(RegistryAccount)) -> Builder<'s> {
        Builder {
            sink,
            problems: Vec::new(),
            total: 0,
            seen: HashMap::new(),
            entities: HashMap::new(),
            exports: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    pub fn problem(&mut self, place: &Place, message: impl Into<String>) {
        self.total += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                line: place.line,
                context: place.context.clone(),
                message: message.into(),
            });
        }
    }

    /// Validates an entity; `None` (with problems recorded) when it is unusable.
    pub fn entity(&mut self, place: &Place, raw: RawEntity) -> Option<Entity> {
        let id = match non_empty(raw.id) {
            None => {
                self.problem(
                    place,
                    "entity_id is empty: give the entity's id (e.g. 1001)",
                );
                None
            }
            Some(written) => match entity_id(&written) {
                Ok(id) => Some(id),
                Err(message) => {
                    self.problem(place, message);
                    None
                }
            },
        };
        let name = non_empty(raw.name);
        if name.is_none() {
            self.problem(place, "entity_name is empty: give the entity's name");
        }
        let kind = match non_empty(raw.kind) {
            None => {
                self.problem(
                    place,
                    "entity_type is empty: use school, office, administration, club, attache or \
                     school_abroad",
                );
                None
            }
            Some(k) => k.parse::<EntityKind>().map_or_else(
                |message| {
                    self.problem(place, message);
                    None
                },
                Some,
            ),
        };
        let entity = Entity {
            id: id?,
            name: name?,
            kind: kind?,
            region: non_empty(raw.region),
        };
        let line = place.line.unwrap_or(0);
        if let Some((first, first_line)) = self.entities.get(&entity.id) {
            let conflict = if first.name != entity.name {
                Some(format!("named {:?} here but {:?}", entity.name, first.name))
            } else if first.kind != entity.kind {
                Some(format!("a {} here but a {}", entity.kind, first.kind))
            } else if first.region != entity.region {
                Some(format!(
                    "in region {:?} here but {:?}",
                    entity.region.as_deref().unwrap_or(""),
                    first.region.as_deref().unwrap_or("")
                ))
            } else {
                None
            };
            if let Some(conflict) = conflict {
                let message = format!(
                    "entity {} is {conflict} on line {first_line}: write it the same way on every \
                     line, or give it another id",
                    entity.id
                );
                self.problem(place, message);
                return None;
            }
        } else {
            self.entities
                .insert(entity.id.clone(), (entity.clone(), line));
        }
        Some(entity)
    }

    /// Validates an account; it is kept only when `entity` is valid too.
    pub fn account(&mut self, place: &Place, entity: Option<Entity>, raw: RawAccount) {
        let platform = self.platform(place, raw.platform);
        let written = non_empty(raw.account);
        let account = match (platform, &written) {
            (_, None) => {
                self.problem(
                    place,
                    "account is empty: give a handle (@name), a profile URL or a numeric id",
                );
                None
            }
            (None, Some(_)) => None,
            (Some(p), Some(w)) => handle::canonical_account(p, w)
                .map_err(|message| self.problem(place, message))
                .ok(),
        };
        let route = raw
            .route
            .as_deref()
            .unwrap_or_default()
            .parse::<RoutePreference>()
            .map_err(|message| self.problem(place, message))
            .ok();
        let credential = match non_empty(raw.credential) {
            None => Some(None),
            Some(c) => credential_name(&c)
                .map(Some)
                .map_err(|message| self.problem(place, message))
                .ok(),
        };
        let auth = match non_empty(raw.auth) {
            None => Some(None),
            Some(a) => a
                .parse::<AuthChoice>()
                .map(Some)
                .map_err(|message| self.problem(place, message))
                .ok(),
        };
        let exports: Vec<PathBuf> = raw
            .exports
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(PathBuf::from)
            .collect();
        let (Some(platform), Some(account), Some(route), Some(credential), Some(auth)) =
            (platform, account, route, credential, auth)
        else {
            return;
        };
        let line = place.line.unwrap_or(0);
        let candidate = RegistryAccount {
            entity: Entity {
                id: String::new(),
                name: String::new(),
                kind: EntityKind::School,
                region: None,
            },
            platform,
            account,
            route,
            credential,
            auth,
            exports,
            line,
        };
        let key = candidate.key();
        let written = written.unwrap_or_default();
        if let Some((first_line, first_written)) = self.seen.get(key.as_str()) {
            let message = format!(
                "duplicate account {key} (written {:?} here, {first_written:?} on line \
                 {first_line}): remove one of them",
                written.trim()
            );
            self.problem(place, message);
            return;
        }
        self.seen.insert(key.into(), (line, written.trim().into()));
        // The sources' own rules: a line its adapter would refuse is refused here, not when a
        // worker claims it.
        let request = SourceRequest {
            platform,
            route,
            account: Some(&candidate.account),
            has_credential: candidate.credential.is_some(),
            auth,
            exports: &candidate.exports,
        };
        if let Err(e) = Plan::new(&request) {
            self.problem(place, e.to_string());
            return;
        }
        self.shared_exports(line, &candidate.exports);
        // Once a problem is found nothing more is handed on: the registry will be refused.
        if let Some(entity) = entity
            && self.total == 0
        {
            (self.sink)(RegistryAccount {
                entity,
                ..candidate
            });
        }
    }

    fn platform(&mut self, place: &Place, written: Option<String>) -> Option<Platform> {
        let Some(p) = non_empty(written) else {
            self.problem(
                place,
                "platform is empty: use x, instagram, facebook, youtube or snapchat",
            );
            return None;
        };
        if let Ok(p) = Platform::from_str(&p) {
            return Some(p);
        }
        let message = format!(
            "platform {p:?} is unknown: use x (or twitter), instagram, facebook, youtube or \
             snapchat"
        );
        self.problem(place, message);
        None
    }

    /// Names the lines that list an export file an earlier line lists too.
    fn shared_exports(&mut self, line: usize, exports: &[PathBuf]) {
        for export in exports {
            // `a/./b.zip` and `a/b.zip` are one file; links are not followed (the file may not
            // be there yet).
            let normal: PathBuf = export
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            let hash = KeySet::hash(&normal.to_string_lossy());
            match self.exports.get(&hash) {
                Some(&first) if first != line && self.warnings.len() < MAX_PROBLEMS => {
                    self.warnings.push(Problem {
                        line: Some(line),
                        context: None,
                        message: format!(
                            "export {} is also listed on line {first}: if both lines name one \
                         account it is archived once (the other line is recorded as its \
                         duplicate); an export of another account fails its line",
                            export.display()
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    self.exports.insert(hash, line);
                }
            }
        }
    }

    fn finish(self) -> Result<Vec<Problem>, RegistryError> {
        if self.total > 0 {
            return Err(RegistryError::Invalid {
                path: None,
                problems: self.problems,
                total: self.total,
            });
        }
        Ok(self.warnings)
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// An entity id: 1 to 64 ASCII letters, digits, `-`, `_` or `.`, after converting Eastern
/// Arabic and Persian digits.
fn entity_id(written: &str) -> Result<String, String> {
    let id: String = written
        .chars()
        .map(|c| handle::ascii_digit(c).unwrap_or(c))
        .collect();
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if valid {
        Ok(id)
    } else {
        Err(format!(
            "entity_id {written:?} is not valid: use 1 to 64 ASCII letters, digits, \"-\", \"_\" \
             or \".\" (Arabic digits are converted)"
        ))
    }
}

/// A credential reference: a name, never the secret. Stored upper-case.
///
/// A value that looks like a token is refused without being repeated in the message, since
/// messages reach logs.
fn credential_name(written: &str) -> Result<String, String> {
    if looks_like_secret(written) {
        return Err(format!(
            "credential holds what looks like a secret token ({} characters, not repeated here): \
             put the token in TAWTHIQ_CRED_<NAME> or as cred_<name> in the secrets file, and \
             write only NAME here",
            written.chars().count()
        ));
    }
    let valid = (1..=64).contains(&written.len())
        && written.starts_with(|c: char| c.is_ascii_alphabetic())
        && written
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(written.to_ascii_uppercase())
    } else {
        let shown: String = written.chars().take(24).collect();
        Err(format!(
            "credential {shown:?} is not a valid name: use up to 64 letters, digits and \"_\", \
             starting with a letter (it names TAWTHIQ_CRED_<NAME> or cred_<name> in the secrets \
             file)"
        ))
    }
}

/// Whether a credential value is more likely a token than a name. Names are words joined by
/// `_` (`NOOR_X_TOKEN`); tokens are long runs of mixed characters or carry a known prefix.
fn looks_like_secret(s: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "EAA", "IGQ", "ya29.", "AIza", "AAAAAAAA", "Bearer ", "ghp_", "xox",
    ];
    let len = s.chars().count();
    if len < 20 {
        return false;
    }
    if PREFIXES.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    // Token alphabets (base64, URL-safe, JWT, app|secret): a name has none of these.
    if s.chars().any(|c| "-.=/+%|~:".contains(c)) {
        return true;
    }
    let longest_word = s.split('_').map(str::len).max().unwrap_or(0);
    let has = |f: fn(&char) -> bool| s.chars().any(|c| f(&c));
    let mixed = has(char::is_ascii_digit) && has(char::is_ascii_alphabetic);
    let all_cases = mixed && has(char::is_ascii_lowercase) && has(char::is_ascii_uppercase);
    (longest_word >= 20 && mixed) || (all_cases && entropy(s) >= 3.5) || entropy(s) >= 4.2
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts: HashMap<char, u32> = HashMap::new();
    let mut n = 0u32;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    let n = f64::from(n);
    counts
        .values()
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_kinds_in_english_and_arabic() {
        for (s, kind) in [
            ("School", EntityKind::School),
            ("school abroad", EntityKind::SchoolAbroad),
            ("School-Abroad", EntityKind::SchoolAbroad),
            ("Attaché", EntityKind::Attache),
            ("مدرسة", EntityKind::School),
            (" إدارة  تعليم ", EntityKind::Administration),
            ("ملحقية", EntityKind::Attache),
            ("مدرسة بالخارج", EntityKind::SchoolAbroad),
        ] {
            assert_eq!(s.parse::<EntityKind>(), Ok(kind), "{s}");
        }
        assert!(
            "hospital"
                .parse::<EntityKind>()
                .unwrap_err()
                .contains("use school, office")
        );
    }

    #[test]
    fn entity_ids_take_eastern_and_persian_digits() {
        assert_eq!(entity_id("١٠٠١").unwrap(), "1001");
        assert_eq!(entity_id("۲۰۲۵").unwrap(), "2025");
        assert_eq!(entity_id("RYD-٠٠٧").unwrap(), "RYD-007");
        assert!(entity_id("مدرسة").is_err());
    }

    #[test]
    fn credential_names_and_tokens() {
        for name in [
            "noor_x",
            "NOOR_X",
            "MINISTRY_RIYADH_REGION_OFFICE_TOKEN_2",
            "A1",
        ] {
            assert!(credential_name(name).is_ok(), "{name}");
        }
        assert_eq!(credential_name("noor_x").unwrap(), "NOOR_X");
        for token in [
            "EAAGm0PX4ZCpsBAKZCeL0wK1Z",
            "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI",
            "ya29.a0AfH6SMBx7example",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "0123456789abcdef0123456789abcdef",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
        ] {
            let message = credential_name(token).unwrap_err();
            assert!(message.contains("looks like a secret token"), "{token}");
            assert!(!message.contains(token));
        }
        assert!(
            credential_name("noor x")
                .unwrap_err()
                .contains("is not a valid name")
        );
    }

    #[test]
    fn problems_render_one_per_line_with_the_rest_counted() {
        let mut sink = |_| {};
        let mut b = Builder::new(&mut sink);
        for line in 1..=MAX_PROBLEMS + 5 {
            let place = Place {
                line: Some(line),
                context: None,
            };
            b.problem(&place, "bad");
        }
        let err = b.finish().unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("registry: 105 problems\n  line 1: bad\n"));
        assert!(text.ends_with("\n  … and 5 more"));
        assert_eq!(err.problems().len(), MAX_PROBLEMS);
    }
}
