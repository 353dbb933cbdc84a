//! Where finished bundles go: [`BundleStore`], a local directory by default, or S3, GCS or Azure
//! for scale-out, all through the `object_store` crate.
//!
//! A worker opens the store named by `--store` once, checks it before any work starts, then
//! publishes each finished bundle and records it as done only after [`BundleStore::publish`]
//! returned `Ok`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), runner::store::StoreError> {
//! use runner::store::BundleStore;
//!
//! let store = BundleStore::open("s3://evidence/2025")?;
//! store.check().await?; // unreachable endpoint, missing bucket, bad credentials: found here
//! let published = store
//!     .publish(std::path::Path::new("/tmp/x-42-20250504T063000Z.tawthiq"), "x-42-20250504T063000Z.tawthiq")
//!     .await?;
//! println!("{} {} bytes sha256 {}", published.location, published.bytes, published.sha256);
//! # Ok(()) }
//! ```
//!
//! # Decisions
//!
//! - Locations: a directory path (created if missing) or `file:///DIR`; `s3://BUCKET/PREFIX`
//!   (also `s3a://`); `gs://BUCKET/PREFIX`; `az://CONTAINER/PREFIX` (also `azure://`, `abfs://`,
//!   `abfss://`). Cloud settings come from the standard environment (`AWS_ENDPOINT_URL`,
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`, `GOOGLE_*`,
//!   `AZURE_*`: the builders' `from_env`), then from [`StoreOptions::config`], whose keys are the
//!   builders' own configuration keys (`aws_endpoint`, `aws_secret_access_key`, `timeout`,
//!   `connect_timeout`, ...). An unknown key is refused rather than ignored, so a typo cannot
//!   silently send bundles to the wrong place.
//! - Never a half-written object under the final name. Small files (up to
//!   [`StoreOptions::multipart_threshold`]) are one `put`; larger ones a multipart upload in
//!   [`StoreOptions::part_size`] parts. A local file is written to a temporary name and renamed
//!   by `LocalFileSystem`; a cloud object appears only when its upload completes. Any failure
//!   (reading the source, uploading a part, completing) aborts the multipart upload, so no
//!   parts are left behind either.
//! - The source is hashed (sha256) while it is read for upload; after upload the object's size
//!   is checked with `head` and the object is read back and hashed. Only if both match does
//!   `publish` return `Ok`. A mismatch is [`StoreError::Verify`] and deletes nothing: the object
//!   is left for inspection, never silently replaced.
//! - Idempotent, never overwriting: if the name already exists, its content is compared with the
//!   local file (sizes first, then sha256 of both, by reading them): the same content is `Ok`
//!   without an upload ([`Upload::AlreadyPresent`]), different content is
//!   [`StoreError::Conflict`]. Single puts also ask the backend to create only
//!   (`PutMode::Create`) so a concurrent writer cannot be overwritten; multipart completion has
//!   no such guard in `object_store`, but the state store's leases already give each bundle
//!   one writer. The sha256 is not stored as object metadata: `LocalFileSystem` has no
//!   attributes, and the read-back comparison is what proves the content anyway.
//! - Transfers ride out transient failures with `object_store`'s retries
//!   ([`StoreOptions::max_retries`], [`StoreOptions::retry_timeout`]); [`BundleStore::check`]
//!   uses at most two retries and 30 seconds so a wrong endpoint is reported at once.
//! - Errors are one line naming what to fix, and never contain a secret: every message is
//!   scrubbed of the secret values given in options or in the `AWS_*`, `AZURE_*` and
//!   `GOOGLE_*` environment, and `BundleStore`'s `Debug` shows only the location.
//! - Object names are ASCII letters, digits, `.`, `-`, `_`, with `/` between parts
//!   (`<bundle_id>.tawthiq`); `..`, a leading `/` and anything else is refused.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientConfigKey, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig, WriteMultipart,
};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

const MIB: u64 = 1024 * 1024;
/// S3 and GCS refuse multipart parts smaller than this (except the last one).
const MIN_CLOUD_PART: usize = 5 * 1024 * 1024;
/// `object_store`'s 30 s request timeout would fail a 64 MiB single put on a link slower than
/// about 2 MB/s; a bundle upload may take minutes. Overridable with the `timeout` key.
const DEFAULT_REQUEST_TIMEOUT: &str = "300s";
/// Chunk size when reading a source or an object only to hash it.
const HASH_CHUNK: usize = 1024 * 1024;

/// How a store uploads, and backend settings beyond the environment.
#[derive(Clone)]
pub struct StoreOptions {
    /// Files larger than this are uploaded in parts (multipart); others with one `put`, held in
    /// memory. Default 64 MiB.
    pub multipart_threshold: u64,
    /// Size of each multipart part (the last may be smaller). Default 16 MiB; S3 and GCS
    /// require at least 5 MiB.
    pub part_size: usize,
    /// Parts uploaded at once. Default 4 (memory: about `part_size` times this).
    pub upload_concurrency: usize,
    /// Backend configuration keys and values, applied over the environment: for S3
    /// `aws_endpoint`, `aws_access_key_id`, `aws_secret_access_key`, `aws_region`,
    /// `aws_allow_http`, ...; for GCS `google_service_account`, ...; for Azure
    /// `azure_storage_account_name`, ...; for every cloud backend the HTTP client's
    /// `timeout`, `connect_timeout`, `allow_http`. Refused for a local directory.
    pub config: Vec<(String, String)>,
    /// Retries of one failed request during transfers. Default 10.
    pub max_retries: usize,
    /// No retry is started after this long since a request's first attempt. Default 3 minutes.
    pub retry_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            multipart_threshold: 64 * MIB,
            part_size: 16 * 1024 * 1024,
            upload_concurrency: 4,
            config: Vec::new(),
            max_retries: 10,
            retry_timeout: Duration::from_mins(3),
        }
    }
}

impl fmt::Debug for StoreOptions {
    // Config values may be secrets: show the keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field(
                "config_keys",
                &self.config.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .finish()
    }
}

/// A bundle that is in the store, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// URL of the object: `s3://bucket/prefix/NAME`, `file:///dir/NAME`, ...
    pub location: String,
    pub bytes: u64,
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
    /// How it got there.
    pub upload: Upload,
}

/// How [`BundleStore::publish`] put an object in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// An object with the same content was already there; nothing was uploaded.
    AlreadyPresent,
    /// One `put`.
    Single,
    /// A multipart upload of this many parts.
    Multipart { parts: u64 },
}

/// Why a store operation failed. Every message is one line, names what to fix, and contains no
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store location or its options are wrong. Not retryable: fix `--store`.
    #[error("{0}")]
    Location(String),
    /// The object name is not acceptable. Not retryable.
    #[error("{0}")]
    Name(String),
    /// The backend could not be reached (connection refused, DNS, timeout). Retryable.
    #[error("{0}")]
    Unreachable(String),
    /// The backend answered but refused: bad credentials, no permission, no such bucket or
    /// container. Not retryable without fixing the configuration.
    #[error("{0}")]
    Access(String),
    /// The local file could not be read completely, or changed while it was read. Nothing was
    /// left under the object's name. Retryable once the file is whole.
    #[error("{0}")]
    Source(String),
    /// A transfer failed after the backend's own retries. Nothing was left under the object's
    /// name by a failed upload. Retryable.
    #[error("{0}")]
    Transfer(String),
    /// The uploaded object does not read back as what was sent. It was left in place for
    /// inspection. Not retryable: a new attempt would meet a [`StoreError::Conflict`].
    #[error("{0}")]
    Verify(String),
    /// An object with that name exists with different content; it was not overwritten.
    /// Not retryable.
    #[error(
        "{location} already exists with different content ({detail}); it was not overwritten — publish under another name or remove the stored object"
    )]
    Conflict { location: String, detail: String },
    /// No object with that name.
    #[error("{0}")]
    NotFound(String),
    /// A local file could not be written (downloads).
    #[error("{0}")]
    Local(String),
}

impl StoreError {
    /// Whether the same call may succeed later without anyone fixing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable(_) | StoreError::Transfer(_) | StoreError::Source(_)
        )
    }
}

/// What the store is, for messages.
#[derive(Debug, Clone)]
enum Backend {
    Local { dir: PathBuf },
    S3 { bucket: String, endpoint: String },
    Gcs { bucket: String },
    Azure { container: String },
}

impl Backend {
    fn target(&self) -> String {
        match self {
            Backend::Local { dir } => format!("directory {}", dir.display()),
            Backend::S3 { bucket, endpoint } => {
                format!("S3 endpoint {endpoint} for bucket {bucket}")
            }
            Backend::Gcs { bucket } => format!("GCS bucket {bucket}"),
            Backend::Azure { container } => format!("Azure container {container}"),
        }
    }

    fn reach_hint(&self) -> &'static str {
        match self {
            Backend::Local { .. } => "check --store",
            Backend::S3 { .. } => "check --store and AWS_ENDPOINT_URL",
            Backend::Gcs { .. } => "check --store and the network path to storage.googleapis.com",
            Backend::Azure { .. } => "check --store and AZURE_STORAGE_ACCOUNT_NAME",
        }
    }

    fn access_hint(&self) -> &'static str {
        match self {
            Backend::Local { .. } => "check the directory's permissions",
            Backend::S3 { .. } => {
                "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy"
            }
            Backend::Gcs { .. } => {
                "check GOOGLE_SERVICE_ACCOUNT / GOOGLE_APPLICATION_CREDENTIALS and the bucket's IAM"
            }
            Backend::Azure { .. } => {
                "check AZURE_STORAGE_ACCOUNT_KEY (or the SAS token / client secret) and the container's access"
            }
        }
    }

    fn missing(&self) -> String {
        match self {
            Backend::Local { dir } => format!("directory {} does not exist", dir.display()),
            Backend::S3 { bucket, endpoint } => {
                format!("bucket {bucket} does not exist at S3 endpoint {endpoint}")
            }
            Backend::Gcs { bucket } => format!("GCS bucket {bucket} does not exist"),
            Backend::Azure { container } => format!("Azure container {container} does not exist"),
        }
    }

    fn min_part(&self) -> usize {
        match self {
            Backend::S3 { .. } | Backend::Gcs { .. } => MIN_CLOUD_PART,
            Backend::Local { .. } | Backend::Azure { .. } => 1,
        }
    }
}

/// The bundle store named by `--store`.
pub struct BundleStore {
    /// For transfers, with the configured retries.
    store: Arc<dyn ObjectStore>,
    /// For [`BundleStore::check`]: the same backend with few retries, to fail fast.
    probe: Arc<dyn ObjectStore>,
    /// Prefix of every object inside the bucket (empty for a local directory, whose store is
    /// rooted at the directory).
    base: ObjectPath,
    /// URL of the root, without a trailing `/`; an object's location is `root/NAME`.
    root: String,
    backend: Backend,
    secrets: Vec<String>,
    options: StoreOptions,
}

impl fmt::Debug for BundleStore {
    // The inner stores' Debug would print their configuration, credentials included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl BundleStore {
    /// Opens the store at `location` with default options and settings from the environment.
    /// Nothing is contacted yet: call [`BundleStore::check`].
    pub fn open(location: &str) -> Result<BundleStore, StoreError> {
        BundleStore::open_with(location, StoreOptions::default())
    }

    /// Opens the store at `location`; `options.config` is applied over the environment.
    pub fn open_with(location: &str, options: StoreOptions) -> Result<BundleStore, StoreError> {
        let secrets = collect_secrets(&options.config);
        let redacted = |message: String| redact(&message, &secrets);
        let trimmed = location.trim();
        if trimmed.is_empty() {
            return Err(StoreError::Location(format!(
                "empty store location: {ACCEPTED}"
            )));
        }
        if options.multipart_threshold == 0
            || options.part_size == 0
            || options.upload_concurrency == 0
        {
            return Err(StoreError::Location(
                "store options: multipart_threshold, part_size and upload_concurrency must be above zero".into(),
            ));
        }
        let opened = match trimmed.split_once("://") {
            None => open_local(Path::new(trimmed), &options),
            Some(("file", _)) => {
                let url = url::Url::parse(trimmed).map_err(|e| {
                    StoreError::Location(redacted(format!("{trimmed}: not a file URL ({e})")))
                })?;
                let dir = url
                    .to_file_path()
                    .ok()
                    .filter(|_| url.host_str().is_none_or(str::is_empty))
                    .ok_or_else(|| {
                        StoreError::Location(format!(
                            "{trimmed}: a file URL needs an absolute path, e.g. file:///srv/bundles"
                        ))
                    })?;
                open_local(&dir, &options)
            }
            Some((scheme, _)) => open_cloud(scheme, trimmed, &options),
        };
        let (store, probe, base, root, backend) =
            opened.map_err(|e| StoreError::Location(redacted(e)))?;
        if options.part_size < backend.min_part() {
            return Err(StoreError::Location(format!(
                "store options: part_size {} bytes is below the {} MiB minimum of {}",
                options.part_size,
                backend.min_part() / (1024 * 1024),
                backend.target()
            )));
        }
        Ok(BundleStore {
            store,
            probe,
            base,
            root,
            backend,
            secrets,
            options,
        })
    }

    /// The URL of the store's root (`s3://bucket/prefix`, `file:///dir`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The URL an object of this name has (or would have) in the store.
    pub fn location_of(&self, name: &str) -> Result<String, StoreError> {
        validate_name(name)?;
        Ok(format!("{}/{name}", self.root))
    }

    /// Writes, reads back and deletes a small probe object, so that an unreachable endpoint, a
    /// missing bucket, bad credentials or a read-only directory are found before any work
    /// starts.
    pub async fn check(&self) -> Result<(), StoreError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        // Named after this process, so that one killed before deleting it can be found.
        let name = format!(
            "{}{}-{nanos}",
            crate::liveness::PROBE_PREFIX,
            crate::liveness::process_tag()
        );
        let path = self.object_path(&name);
        let body = Bytes::from_static(b"tawthiq store probe\n");
        self.probe
            .put(&path, PutPayload::from_bytes(body.clone()))
            .await
            .map_err(|e| self.backend_error("writing a probe object", &e, true))?;
        let read = async { self.probe.get(&path).await?.bytes().await }
            .await
            .map_err(|e| self.backend_error("reading the probe object back", &e, false))?;
        // Delete before judging what was read, so a bad read does not leave the probe behind.
        let deleted = self
            .probe
            .delete(&path)
            .await
            .map_err(|e| self.backend_error("deleting the probe object", &e, false));
        if read != body {
            return Err(StoreError::Verify(format!(
                "{}: the probe object read back differently ({} bytes instead of {}) — the store does not keep what it is given",
                self.backend.target(),
                read.len(),
                body.len()
            )));
        }
        deleted
    }

    /// Uploads the finished bundle at `local` as `name`, then verifies it (size and sha256
    /// read back). Idempotent: if `name` already holds the same content, nothing is uploaded;
    /// if it holds different content, [`StoreError::Conflict`] and nothing is overwritten.
    pub async fn publish(&self, local: &Path, name: &str) -> Result<Published, StoreError> {
        validate_name(name)?;
        let source_error = |e: std::io::Error| {
            StoreError::Source(format!("cannot read bundle {}: {e}", local.display()))
        };
        let file = tokio::fs::File::open(local).await.map_err(source_error)?;
        let meta = file.metadata().await.map_err(source_error)?;
        if !meta.is_file() {
            return Err(StoreError::Source(format!(
                "bundle {} is not a regular file",
                local.display()
            )));
        }
        let label = local.display().to_string();
        self.publish_source(Source::new(file, Some(meta.len()), label), name)
            .await
    }

    /// [`BundleStore::publish`] from any reader (a pipe, a bundle being streamed). The reader
    /// is read once; an error from it aborts the upload and leaves nothing under `name`.
    pub async fn publish_reader<R>(&self, reader: R, name: &str) -> Result<Published, StoreError>
    where
        R: AsyncRead + Unpin + Send,
    {
        validate_name(name)?;
        self.publish_source(Source::new(reader, None, "the source stream".into()), name)
            .await
    }

    /// Whether an object of this name exists.
    pub async fn exists(&self, name: &str) -> Result<bool, StoreError> {
        validate_name(name)?;
        match self.store.head(&self.object_path(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.backend_error(&format!("looking up {name}"), &e, false)),
        }
    }

    /// Downloads `name` to `dest` (written to a temporary file beside it, then renamed).
    /// Returns the number of bytes.
    pub async fn get_to_file(&self, name: &str, dest: &Path) -> Result<u64, StoreError> {
        validate_name(name)?;
        let location = format!("{}/{name}", self.root);
        let result = match self.store.get(&self.object_path(name)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StoreError::NotFound(format!("{location} does not exist")));
            }
            Err(e) => return Err(self.backend_error(&format!("downloading {name}"), &e, false)),
        };
        let file_name = dest
            .file_name()
            .ok_or_else(|| StoreError::Local(format!("{}: not a file path", dest.display())))?;
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(file_name);
        partial_name.push(format!(".partial-{}", std::process::id()));
        let partial = dest.with_file_name(partial_name);
        let local_error = |e: std::io::Error, what: &Path| {
            StoreError::Local(format!("cannot write {}: {e}", what.display()))
        };
        let written = async {
            let mut file = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| local_error(e, &partial))?;
            let mut bytes = 0u64;
            let mut stream = result.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| self.backend_error(&format!("downloading {name}"), &e, false))?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| local_error(e, &partial))?;
                bytes += chunk.len() as u64;
            }
            file.sync_all()
                .await
                .map_err(|e| local_error(e, &partial))?;
            tokio::fs::rename(&partial, dest)
                .await
                .map_err(|e| local_error(e, dest))?;
            Ok(bytes)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        written
    }

    /// Removes the object `name`; one that is not there is not an error.
    pub async fn remove(&self, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        match self.store.delete(&self.object_path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend_error(&format!("removing {name}"), &e, false)),
        }
    }

    /// What killed processes leave in a local store: the staging files of unfinished uploads
    /// (`NAME#N`, which listings skip) and probe objects ([`BundleStore::check`]), as names
    /// relative to the store, sorted. Cloud stores have none: an unfinished multipart upload
    /// is not an object (the bucket's lifecycle rule for incomplete uploads removes its parts).
    pub fn leftovers(&self) -> Result<Vec<String>, StoreError> {
        let Backend::Local { dir } = &self.backend else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut folders = vec![dir.clone()];
        while let Some(folder) = folders.pop() {
            let entries = std::fs::read_dir(&folder)
                .map_err(|e| StoreError::Local(format!("listing {}: {e}", folder.display())))?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| StoreError::Local(format!("listing {}: {e}", folder.display())))?;
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    folders.push(path);
                    continue;
                }
                let Some(name) = path
                    .strip_prefix(dir)
                    .ok()
                    .and_then(|p| p.to_str())
                    .map(str::to_owned)
                else {
                    continue;
                };
                if staged_object(&name).is_some() || is_probe(&name) {
                    found.push(name);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Removes one of [`BundleStore::leftovers`]; anything else is refused.
    pub fn remove_leftover(&self, name: &str) -> Result<(), StoreError> {
        let Backend::Local { dir } = &self.backend else {
            return Ok(());
        };
        if name.split('/').any(|part| part.is_empty() || part == "..")
            || (staged_object(name).is_none() && !is_probe(name))
        {
            return Err(StoreError::Name(format!(
                "{name} is not an upload leftover"
            )));
        }
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Local(format!("removing {name}: {e}"))),
        }
    }

    /// Names of the objects whose name starts with `prefix` (`""` for all), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let base = (!self.base.as_ref().is_empty()).then_some(&self.base);
        let mut stream = self.store.list(base);
        let mut names = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.backend_error("listing objects", &e, false))?;
            let full = meta.location.as_ref();
            let name = if self.base.as_ref().is_empty() {
                full
            } else {
                full.strip_prefix(self.base.as_ref())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .unwrap_or(full)
            };
            if name.starts_with(prefix) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn publish_source<R>(
        &self,
        mut source: Source<R>,
        name: &str,
    ) -> Result<Published, StoreError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let path = self.object_path(name);
        let location = format!("{}/{name}", self.root);
        match self.store.head(&path).await {
            Ok(existing) => {
                return self
                    .compare_existing(&mut source, existing.size, &path, &location)
                    .await;
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.backend_error(&format!("looking up {name}"), &e, true)),
        }

        let threshold = usize::try_from(self.options.multipart_threshold).unwrap_or(usize::MAX);
        let first = source.next_chunk(threshold.saturating_add(1)).await?;
        let upload = if source.eof && first.len() <= threshold {
            match self.put_single(&path, first).await {
                Ok(()) => Upload::Single,
                Err(object_store::Error::AlreadyExists { .. }) => {
                    // Someone else created it since our `head`: same rule as above.
                    let existing = self.store.head(&path).await.map_err(|e| {
                        self.backend_error(&format!("looking up {name}"), &e, false)
                    })?;
                    return self
                        .compare_existing(&mut source, existing.size, &path, &location)
                        .await;
                }
                Err(e) => return Err(self.backend_error(&format!("uploading {name}"), &e, true)),
            }
        } else {
            self.put_multipart(&path, name, &mut source, first).await?
        };
        let (bytes, sha256) = (source.bytes, source.hex());
        tracing::debug!(%location, bytes, ?upload, "uploaded; verifying");

        let stored = self
            .store
            .head(&path)
            .await
            .map_err(|e| self.backend_error(&format!("verifying {name}"), &e, false))?;
        if stored.size != bytes {
            return Err(StoreError::Verify(format!(
                "{location}: {} bytes were uploaded but the store reports {}; the object was left for inspection",
                bytes, stored.size
            )));
        }
        let (read_bytes, read_sha) = self.hash_object(&path, name).await?;
        if read_bytes != bytes || read_sha != sha256 {
            return Err(StoreError::Verify(format!(
                "{location}: uploaded {bytes} bytes with sha256 {sha256} but read back {read_bytes} bytes with sha256 {read_sha}; the object was left for inspection"
            )));
        }
        tracing::info!(%location, bytes, %sha256, ?upload, "bundle published and verified");
        Ok(Published {
            location,
            bytes,
            sha256,
            upload,
        })
    }

    /// One `put` that creates only; a backend without conditional puts overwrites, which the
    /// `head` before it makes safe enough.
    async fn put_single(&self, path: &ObjectPath, body: Bytes) -> object_store::Result<()> {
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from_bytes(body.clone()), create)
            .await
        {
            Err(object_store::Error::NotImplemented) => self
                .store
                .put(path, PutPayload::from_bytes(body))
                .await
                .map(|_| ()),
            other => other.map(|_| ()),
        }
    }

    async fn put_multipart<R>(
        &self,
        path: &ObjectPath,
        name: &str,
        source: &mut Source<R>,
        first: Bytes,
    ) -> Result<Upload, StoreError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let upload_error =
            |e: &object_store::Error| self.backend_error(&format!("uploading {name}"), e, true);
        let upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| upload_error(&e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.options.part_size);
        writer.put(first);
        let streamed: Result<(), StoreError> = async {
            while !source.eof {
                writer
                    .wait_for_capacity(self.options.upload_concurrency)
                    .await
                    .map_err(|e| upload_error(&e))?;
                writer.put(source.next_chunk(self.options.part_size).await?);
            }
            writer
                .wait_for_capacity(0)
                .await
                .map_err(|e| upload_error(&e))
        }
        .await;
        if let Err(error) = streamed {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(
                    object = name,
                    error = %self.redact(&one_line(&abort.to_string())),
                    "could not abort a failed multipart upload; the backend's lifecycle rules must clean up its parts"
                );
            }
            return Err(error);
        }
        // Every part is uploaded; `finish` completes, and aborts if completion fails.
        writer.finish().await.map_err(|e| upload_error(&e))?;
        let parts = source.bytes.div_ceil(self.options.part_size as u64).max(1);
        Ok(Upload::Multipart { parts })
    }

    /// An object already holds `name`: same content is success, different content a conflict.
    async fn compare_existing<R>(
        &self,
        source: &mut Source<R>,
        stored_size: u64,
        path: &ObjectPath,
        location: &str,
    ) -> Result<Published, StoreError>
    where
        R: AsyncRead + Unpin + Send,
    {
        if let Some(expected) = source.expected.filter(|&len| len != stored_size) {
            return Err(StoreError::Conflict {
                location: location.to_owned(),
                detail: format!("stored {stored_size} bytes, local {expected} bytes"),
            });
        }
        while !source.eof {
            source.next_chunk(HASH_CHUNK).await?;
        }
        let name = location.rsplit('/').next().unwrap_or(location);
        let (stored_bytes, stored_sha) = self.hash_object(path, name).await?;
        let (bytes, sha256) = (source.bytes, source.hex());
        if stored_bytes != bytes || stored_sha != sha256 {
            return Err(StoreError::Conflict {
                location: location.to_owned(),
                detail: format!(
                    "stored {stored_bytes} bytes sha256 {stored_sha}, local {bytes} bytes sha256 {sha256}"
                ),
            });
        }
        tracing::info!(%location, bytes, %sha256, "bundle already in the store with the same content");
        Ok(Published {
            location: location.to_owned(),
            bytes,
            sha256,
            upload: Upload::AlreadyPresent,
        })
    }

    /// Reads an object through and returns its size and sha256 (hex).
    async fn hash_object(
        &self,
        path: &ObjectPath,
        name: &str,
    ) -> Result<(u64, String), StoreError> {
        let read_error =
            |e: &object_store::Error| self.backend_error(&format!("reading {name} back"), e, false);
        let mut stream = self
            .store
            .get(path)
            .await
            .map_err(|e| read_error(&e))?
            .into_stream();
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| read_error(&e))?;
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
        }
        Ok((bytes, hex(&hasher.finalize())))
    }

    fn object_path(&self, name: &str) -> ObjectPath {
        // Names are validated (safe ASCII, no empty or dot-dot parts), so parsing cannot fail.
        let joined = if self.base.as_ref().is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.base)
        };
        ObjectPath::parse(&joined).unwrap_or_else(|_| ObjectPath::from(joined.as_str()))
    }

    fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    /// Turns an `object_store` error into a one-line [`StoreError`] naming what to fix.
    /// `not_found_is_container`: a `NotFound` here means the bucket (or directory) is missing,
    /// not an object (writes).
    fn backend_error(
        &self,
        doing: &str,
        error: &object_store::Error,
        not_found_is_container: bool,
    ) -> StoreError {
        let target = self.backend.target();
        let cause = self.redact(&cause(error));
        if is_unreachable(error) {
            return StoreError::Unreachable(format!(
                "cannot reach {target}: {cause} — {}",
                self.backend.reach_hint()
            ));
        }
        if chain_text(error).contains("URL scheme is not allowed") {
            return StoreError::Location(format!(
                "{target}: the endpoint is plain http but http is not allowed — set AWS_ALLOW_HTTP=true (or the allow_http option) or use https"
            ));
        }
        match error {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => StoreError::Access(format!(
                "{target} refused access while {doing}: {cause} — {}",
                self.backend.access_hint()
            )),
            object_store::Error::NotFound { .. } if not_found_is_container => {
                StoreError::Access(format!(
                    "{} ({doing}: {cause}) — create it or fix --store",
                    self.backend.missing()
                ))
            }
            object_store::Error::NotFound { .. } => {
                StoreError::NotFound(format!("{target}: {doing}: not found ({cause})"))
            }
            _ => StoreError::Transfer(format!("{doing} on {target} failed: {cause}")),
        }
    }
}

/// The object a local staging file `NAME#N` was being written for.
pub fn staged_object(name: &str) -> Option<&str> {
    let (object, n) = name.rsplit_once('#')?;
    (!object.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(object)
}

fn is_probe(name: &str) -> bool {
    name.rsplit('/')
        .next()
        .is_some_and(|file| file.starts_with(crate::liveness::PROBE_PREFIX))
}

const ACCEPTED: &str = "give a directory, file:///DIR, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX";

type Opened = (
    Arc<dyn ObjectStore>,
    Arc<dyn ObjectStore>,
    ObjectPath,
    String,
    Backend,
);

fn open_local(dir: &Path, options: &StoreOptions) -> Result<Opened, String> {
    if let Some((key, _)) = options.config.first() {
        return Err(format!(
            "store option {key:?} does not apply to a local directory"
        ));
    }
    let dir =
        std::path::absolute(dir).map_err(|e| format!("bundle directory {}: {e}", dir.display()))?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create bundle directory {}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| format!("bundle directory {}: {e}", dir.display()))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let store: Arc<dyn ObjectStore> = Arc::new(
        LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| format!("bundle directory {}: {e}", dir.display()))?,
    );
    let root = url::Url::from_directory_path(&dir)
        .map_err(|()| format!("bundle directory {} has no file URL", dir.display()))?
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    Ok((
        Arc::clone(&store),
        store,
        ObjectPath::default(),
        root,
        Backend::Local { dir },
    ))
}

/// What every cloud location shares, parsed from its URL.
struct Cloud<'a> {
    location: &'a str,
    url: url::Url,
    /// Bucket or container (the URL's host).
    host: String,
    base: ObjectPath,
    transfer_retry: RetryConfig,
    probe_retry: RetryConfig,
}

impl Cloud<'_> {
    fn opened(self, store: impl ObjectStore, probe: impl ObjectStore, backend: Backend) -> Opened {
        let root = self.location.trim_end_matches('/').to_owned();
        (Arc::new(store), Arc::new(probe), self.base, root, backend)
    }

    fn build_error(&self, error: &object_store::Error) -> String {
        format!("{}: {}", self.location, one_line(&error.to_string()))
    }

    /// The transfer store and the probe store (quick to give up), from one configured builder.
    fn build<B: Clone, S>(
        &self,
        builder: B,
        with_retry: fn(B, RetryConfig) -> B,
        build: fn(B) -> object_store::Result<S>,
    ) -> Result<(S, S), String> {
        let store = build(with_retry(builder.clone(), self.transfer_retry.clone()))
            .map_err(|e| self.build_error(&e))?;
        let probe = build(with_retry(builder, self.probe_retry.clone()))
            .map_err(|e| self.build_error(&e))?;
        Ok((store, probe))
    }
}

/// The backend's own configuration keys for `options.config`; an unknown key is an error.
fn config_keys<K: std::str::FromStr>(
    options: &StoreOptions,
    backend: &str,
) -> Result<Vec<(K, String)>, String> {
    options
        .config
        .iter()
        .map(|(key, value)| {
            key.to_ascii_lowercase()
                .parse::<K>()
                .map(|parsed| (parsed, value.clone()))
                .map_err(|_| format!("unknown {backend} store option {key:?}"))
        })
        .collect()
}

fn open_cloud(scheme: &str, location: &str, options: &StoreOptions) -> Result<Opened, String> {
    let url = url::Url::parse(location).map_err(|e| format!("{location}: not a URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{location}: a store URL takes no ?query or #fragment; pass settings as options or environment"
        ));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    if host.is_empty() {
        return Err(format!(
            "{location}: no bucket or container name; {ACCEPTED}"
        ));
    }
    let prefix = url.path().trim_matches('/');
    let base = ObjectPath::parse(prefix)
        .map_err(|e| format!("{location}: bad prefix {prefix:?} ({e})"))?;
    let cloud = Cloud {
        location,
        host,
        base,
        transfer_retry: RetryConfig {
            max_retries: options.max_retries,
            retry_timeout: options.retry_timeout,
            ..RetryConfig::default()
        },
        probe_retry: RetryConfig {
            max_retries: options.max_retries.min(2),
            retry_timeout: options.retry_timeout.min(Duration::from_secs(30)),
            ..RetryConfig::default()
        },
        url,
    };
    match scheme {
        "s3" | "s3a" => open_s3(cloud, options),
        "gs" => open_gcs(cloud, options),
        "az" | "azure" | "abfs" | "abfss" => open_azure(cloud, options),
        other => Err(format!("{other}:// is not a bundle store: {ACCEPTED}")),
    }
}

fn open_s3(cloud: Cloud<'_>, options: &StoreOptions) -> Result<Opened, String> {
    let mut builder = AmazonS3Builder::from_env().with_config(
        AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
        DEFAULT_REQUEST_TIMEOUT,
    );
    for (key, value) in config_keys::<AmazonS3ConfigKey>(options, "S3")? {
        builder = builder.with_config(key, value);
    }
    builder = builder.with_url(cloud.location);
    let endpoint = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .unwrap_or_else(|| {
            let region = builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .unwrap_or_else(|| "us-east-1".into());
            format!("https://s3.{region}.amazonaws.com")
        });
    let allow_http = builder
        .get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
        .is_some_and(|v| ["true", "1", "yes", "on"].contains(&v.to_ascii_lowercase().as_str()));
    // object_store would only say "builder error" on the first request.
    if endpoint.starts_with("http://") && !allow_http {
        return Err(format!(
            "S3 endpoint {endpoint} is plain http, which is refused unless allowed — set AWS_ALLOW_HTTP=true (or the aws_allow_http option) or use https"
        ));
    }
    let (store, probe) =
        cloud.build(builder, AmazonS3Builder::with_retry, AmazonS3Builder::build)?;
    let bucket = cloud.host.clone();
    Ok(cloud.opened(store, probe, Backend::S3 { bucket, endpoint }))
}

fn open_gcs(cloud: Cloud<'_>, options: &StoreOptions) -> Result<Opened, String> {
    let mut builder = GoogleCloudStorageBuilder::from_env().with_config(
        GoogleConfigKey::Client(ClientConfigKey::Timeout),
        DEFAULT_REQUEST_TIMEOUT,
    );
    for (key, value) in config_keys::<GoogleConfigKey>(options, "GCS")? {
        builder = builder.with_config(key, value);
    }
    builder = builder.with_url(cloud.location);
    let (store, probe) = cloud.build(
        builder,
        GoogleCloudStorageBuilder::with_retry,
        GoogleCloudStorageBuilder::build,
    )?;
    let bucket = cloud.host.clone();
    Ok(cloud.opened(store, probe, Backend::Gcs { bucket }))
}

fn open_azure(cloud: Cloud<'_>, options: &StoreOptions) -> Result<Opened, String> {
    let mut builder = MicrosoftAzureBuilder::from_env().with_config(
        AzureConfigKey::Client(ClientConfigKey::Timeout),
        DEFAULT_REQUEST_TIMEOUT,
    );
    for (key, value) in config_keys::<AzureConfigKey>(options, "Azure")? {
        builder = builder.with_config(key, value);
    }
    builder = builder.with_url(cloud.location);
    let (store, probe) = cloud.build(
        builder,
        MicrosoftAzureBuilder::with_retry,
        MicrosoftAzureBuilder::build,
    )?;
    // abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/ names the container before the @.
    let container = if cloud.url.username().is_empty() {
        cloud.host.clone()
    } else {
        cloud.url.username().to_owned()
    };
    Ok(cloud.opened(store, probe, Backend::Azure { container }))
}

/// A source being read for upload: hashed and counted as it goes, and held to the length it
/// had when opened (a file that shrinks or grows meanwhile is still being written).
struct Source<R> {
    reader: R,
    hasher: Sha256,
    bytes: u64,
    expected: Option<u64>,
    eof: bool,
    label: String,
}

impl<R: AsyncRead + Unpin + Send> Source<R> {
    fn new(reader: R, expected: Option<u64>, label: String) -> Self {
        Source {
            reader,
            hasher: Sha256::new(),
            bytes: 0,
            expected,
            eof: false,
            label,
        }
    }

    /// Reads up to `max` bytes; fewer means the end was reached (`eof` is then set).
    async fn next_chunk(&mut self, max: usize) -> Result<Bytes, StoreError> {
        let mut buf = Vec::with_capacity(max.min(64 * 1024 * 1024));
        (&mut self.reader)
            .take(max as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| {
                StoreError::Source(format!(
                    "reading {} failed after {} bytes: {e}",
                    self.label,
                    self.bytes + buf.len() as u64
                ))
            })?;
        self.hasher.update(&buf);
        self.bytes += buf.len() as u64;
        if buf.len() < max {
            self.eof = true;
        }
        if let Some(expected) = self.expected
            && (self.bytes > expected || (self.eof && self.bytes != expected))
        {
            return Err(StoreError::Source(format!(
                "{} changed while it was read ({expected} bytes when opened, {} read) — publish a bundle only once it is finished",
                self.label, self.bytes
            )));
        }
        Ok(Bytes::from(buf))
    }

    fn hex(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let refuse = |why: &str| {
        Err(StoreError::Name(format!(
            "invalid bundle name {name:?}: {why} — use ASCII letters, digits, '.', '-', '_' (and '/' between parts), e.g. <bundle_id>.tawthiq"
        )))
    };
    if name.is_empty() {
        return refuse("empty");
    }
    if !name.is_ascii() {
        return refuse("not ASCII");
    }
    if name.starts_with('/') {
        return refuse("starts with '/'");
    }
    if name.contains("..") {
        return refuse("contains '..'");
    }
    if name.len() > 512 {
        return refuse("longer than 512 characters");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/')))
    {
        return refuse(&format!("character {bad:?} is not allowed"));
    }
    if name.split('/').any(|part| part.is_empty() || part == ".") {
        return refuse("has an empty or '.' part");
    }
    Ok(())
}

/// Values that must never appear in a message: secret-looking option values and the cloud
/// credentials in the environment.
fn collect_secrets(config: &[(String, String)]) -> Vec<String> {
    let secret_name = |name: &str| {
        let name = name.to_ascii_lowercase();
        !name.ends_with("key_id")
            && ["secret", "token", "password", "sas", "key", "credential"]
                .iter()
                .any(|word| name.contains(word))
    };
    let mut secrets: Vec<String> = config
        .iter()
        .filter(|(key, _)| secret_name(key))
        .map(|(_, value)| value.clone())
        .chain(std::env::vars().filter_map(|(key, value)| {
            let cloud = ["AWS_", "AZURE_", "GOOGLE_"]
                .iter()
                .any(|p| key.starts_with(p));
            (cloud && secret_name(&key)).then_some(value)
        }))
        // Shorter values are not real secrets and would garble every message.
        .filter(|value| value.len() >= 4)
        .collect();
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "REDACTED")
    })
}

/// Whether the error is a failure to reach the backend at all (connect, DNS, timeout), as
/// opposed to an answer from it. `object_store` wraps its `HttpError` transparently in some
/// paths, so the OS error and the client's wording are looked at too.
fn is_unreachable(error: &object_store::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(http) = current.downcast_ref::<HttpError>()
            && matches!(http.kind(), HttpErrorKind::Connect | HttpErrorKind::Timeout)
        {
            return true;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::TimedOut
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            ) {
                return true;
            }
        }
        let text = current.to_string();
        if [
            "dns error",
            "tcp connect error",
            "error trying to connect",
            "operation timed out",
        ]
        .iter()
        .any(|needle| text.contains(needle))
        {
            return true;
        }
        next = current.source();
    }
    false
}

/// Every message in the error's chain, joined.
fn chain_text(error: &object_store::Error) -> String {
    let mut parts = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        parts.push(current.to_string());
        next = current.source();
    }
    parts.join(": ")
}

/// The useful part of an `object_store` error, on one line: an OS error ("connection
/// refused"), an S3-style `<Code>`/`<Message>` from the response body, or the error's text.
fn cause(error: &object_store::Error) -> String {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::TimedOut => "timed out".into(),
                _ => one_line(&io.to_string()),
            };
        }
        next = current.source();
    }
    let text = error.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let len = text[start..].find(&format!("</{name}>"))?;
        Some(text[start..start + len].to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => one_line(&format!("{code}: {message}")),
        (Some(code), None) => code,
        _ => one_line(&text),
    }
}

/// Collapses whitespace (response bodies carry newlines) and bounds the length.
fn one_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > 400 {
        let mut cut = 400;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    digest.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["x-42-20250504T063000Z.tawthiq", "2025/x.tawthiq", "a_b.c"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/../b",
            "x..tawthiq",
            "/x",
            "ü.tawthiq",
            "a//b",
            "a/",
            "./a",
            "a b",
            "a#1",
            "a\\b",
        ] {
            let err = validate_name(bad).unwrap_err().to_string();
            assert!(err.contains("invalid bundle name"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn secrets_are_replaced_longest_first() {
        let secrets = collect_secrets(&[
            ("aws_secret_access_key".into(), "abcdEFGH".into()),
            ("aws_access_key_id".into(), "test".into()),
            ("aws_session_token".into(), "abcd".into()),
        ]);
        assert_eq!(
            redact("key abcdEFGH id test token abcd", &secrets),
            "key REDACTED id test token REDACTED"
        );
    }

    #[test]
    fn one_line_collapses_and_bounds() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        assert!(one_line(&"é".repeat(500)).len() <= 404);
    }

    /// A store that keeps what it is given but, on reading, hands back the object with its
    /// first byte changed: a backend corrupting data at rest or in transit.
    #[derive(Debug)]
    struct Corrupting(object_store::memory::InMemory);

    impl fmt::Display for Corrupting {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Corrupting")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Corrupting {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: object_store::PutPayload,
            opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            self.0.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }

        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            let got = self.0.get_opts(location, options).await?;
            let (meta, range, attributes) =
                (got.meta.clone(), got.range.clone(), got.attributes.clone());
            let mut body = got.bytes().await?.to_vec();
            if let Some(first) = body.first_mut() {
                *first ^= 0xff;
            }
            let body = Bytes::from(body);
            Ok(object_store::GetResult {
                payload: object_store::GetResultPayload::Stream(
                    futures::stream::once(async move { Ok(body) }).boxed(),
                ),
                meta,
                range,
                attributes,
            })
        }

        async fn delete(&self, location: &ObjectPath) -> object_store::Result<()> {
            self.0.delete(location).await
        }

        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
        {
            self.0.list(prefix)
        }

        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<object_store::ListResult> {
            self.0.list_with_delimiter(prefix).await
        }

        async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
            self.0.copy(from, to).await
        }

        async fn copy_if_not_exists(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
        ) -> object_store::Result<()> {
            self.0.copy_if_not_exists(from, to).await
        }
    }

    /// A bundle whose read-back differs from what was uploaded is never reported published:
    /// `publish` answers `Verify` (so the run records no completion) and leaves the object for
    /// inspection; publishing it again is refused the same way, never taken as present.
    #[tokio::test]
    async fn a_read_back_that_differs_is_a_verify_error() {
        let corrupting: Arc<dyn ObjectStore> =
            Arc::new(Corrupting(object_store::memory::InMemory::new()));
        let store = BundleStore {
            store: Arc::clone(&corrupting),
            probe: Arc::clone(&corrupting),
            base: ObjectPath::from("bundles"),
            root: "memory://test/bundles".into(),
            backend: Backend::S3 {
                bucket: "test".into(),
                endpoint: "memory://".into(),
            },
            secrets: Vec::new(),
            options: StoreOptions::default(),
        };
        let bundle = b"a bundle's bytes, as written and verified locally".to_vec();
        let name = "x-42-20250504T063000Z.tar.zst";
        let err = store
            .publish_reader(&bundle[..], name)
            .await
            .expect_err("a corrupted read-back must not publish");
        let StoreError::Verify(message) = &err else {
            panic!("expected Verify, got {err:?}");
        };
        assert!(message.contains("read back"), "{message}");
        assert!(message.contains("left for inspection"), "{message}");
        assert!(!err.is_retryable());
        // The object is still there, as uploaded.
        let kept = corrupting
            .head(&ObjectPath::from(format!("bundles/{name}")))
            .await
            .unwrap();
        assert_eq!(kept.size, bundle.len() as u64);
        // A second publish of the same content compares with what the store returns: a
        // conflict or a verify error, never "already present".
        let again = store.publish_reader(&bundle[..], name).await;
        assert!(
            matches!(
                again,
                Err(StoreError::Conflict { .. } | StoreError::Verify(_))
            ),
            "{again:?}"
        );
    }
}
