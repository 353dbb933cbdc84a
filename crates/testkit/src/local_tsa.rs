//! Test fixture: a local RFC 3161 time-stamping authority built with the `openssl` CLI.
//!
//! [`LocalTsa::start`] creates a small PKI in a caller-owned directory (root CA →
//! "TSA CA" intermediate → TSA signer with `extendedKeyUsage = critical,timeStamping`) and
//! serves `openssl ts -reply` answers over minimal HTTP/1.1 on `127.0.0.1`. The server handles
//! one connection at a time and stops when the [`LocalTsa`] is dropped.
//!
//! Everything here panics on failure: it is meant for tests, which must fail (not skip) when
//! `openssl` is missing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest HTTP request (headers and body) the server accepts.
const MAX_REQUEST: usize = 64 * 1024;
/// Read/write timeout on each connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Key type of the TSA signer certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaKey {
    /// RSA 2048 (PKCS#1 v1.5 signatures).
    Rsa2048,
    /// ECDSA on P-256.
    EcP256,
    /// ECDSA on P-384.
    EcP384,
}

/// How the fixture TSA is set up.
#[derive(Clone, Copy, Debug)]
pub struct TsaOptions {
    /// Signer key type.
    pub key: TsaKey,
    /// `signer_digest` of the openssl ts config (`sha256`, `sha384`, `sha512`).
    pub signer_digest: &'static str,
    /// `ess_cert_id_alg` of the openssl ts config: `sha1` gives an ESS signing-certificate
    /// (v1) attribute, anything else signing-certificate-v2.
    pub ess_cert_id_alg: &'static str,
}

impl Default for TsaOptions {
    fn default() -> Self {
        TsaOptions {
            key: TsaKey::Rsa2048,
            signer_digest: "sha256",
            ess_cert_id_alg: "sha256",
        }
    }
}

/// What the server answers to the next POSTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaMode {
    /// A proper `openssl ts -reply` answer to the query.
    Normal,
    /// Only this HTTP status, empty body.
    HttpStatus(u16),
    /// A proper answer, but to the first query this server ever received (a replay).
    ReplayFirst,
    /// A `PKIStatus` rejection (the query's digest is not allowed by the config section used).
    Reject,
}

/// A running local TSA. Dropping it stops the server thread.
pub struct LocalTsa {
    /// `http://127.0.0.1:<port>/tsa`.
    pub url: String,
    /// The root CA certificate (PEM) to pass as `root_pem` / `-CAfile`.
    pub root_pem: PathBuf,
    /// The directory holding keys, certificates, config and the last query/response.
    pub dir: PathBuf,
    /// The TSA signer certificate (PEM).
    pub tsa_cert_pem: PathBuf,
    /// The intermediate "TSA CA" certificate (PEM), included in every token.
    pub intermediate_pem: PathBuf,
    mode: Arc<Mutex<TsaMode>>,
    served: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

const PKI_CNF: &str = "\
[ req ]
distinguished_name = dn
prompt = no

[ dn ]
CN = unused

[ v3_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[ v3_ca ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_tsa ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
";

fn ts_cnf(options: &TsaOptions) -> String {
    let section = |name: &str, digests: &str| {
        format!(
            "[ {name} ]
serial = ./tsaserial
signer_digest = {signer_digest}
default_policy = 1.3.6.1.4.1.55555.1.1
other_policies = 1.3.6.1.4.1.55555.1.2
digests = {digests}
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = {ess}

",
            signer_digest = options.signer_digest,
            ess = options.ess_cert_id_alg,
        )
    };
    format!(
        "[ tsa ]\ndefault_tsa = tsa_main\n\n{}{}",
        section("tsa_main", "sha256, sha384, sha512"),
        section("tsa_reject", "sha512")
    )
}

/// Runs `openssl` in `dir`; panics with openssl's stderr when it fails.
fn openssl(dir: &Path, args: &[&str]) -> Output {
    try_openssl(dir, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `openssl` in `dir`; panics only when the tool is missing.
fn try_openssl(dir: &Path, args: &[&str]) -> Result<Output, String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            assert!(
                e.kind() != io::ErrorKind::NotFound,
                "LocalTsa needs the `openssl` command-line tool, which is not on PATH \
                 (install the openssl package): {e}"
            );
            panic!("could not run openssl {}: {e}", args.join(" "))
        });
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn genkey(dir: &Path, key: TsaKey, out: &str) {
    match key {
        TsaKey::Rsa2048 => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                out,
            ],
        ),
        TsaKey::EcP256 | TsaKey::EcP384 => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                if key == TsaKey::EcP256 {
                    "ec_paramgen_curve:P-256"
                } else {
                    "ec_paramgen_curve:P-384"
                },
                "-out",
                out,
            ],
        ),
    };
}

/// Issues `name.crt` for `name.key`, signed by `ca` (`ca.crt`/`ca.key`).
#[allow(clippy::too_many_arguments)]
fn issue(dir: &Path, name: &str, subject: &str, ca: &str, serial: &str, md: &str, ext: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    let ca_crt = format!("{ca}.crt");
    let ca_key = format!("{ca}.key");
    openssl(
        dir,
        &[
            "req", "-new", "-key", &key, "-subj", subject, "-config", "pki.cnf", "-out", &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-set_serial",
            serial,
            "-days",
            "3650",
            &format!("-{md}"),
            "-extfile",
            "pki.cnf",
            "-extensions",
            ext,
            "-out",
            &crt,
        ],
    );
}

impl LocalTsa {
    /// A TSA with an RSA-2048 signer, SHA-256 signer digest and an ESS
    /// signing-certificate-v2 attribute. See [`LocalTsa::start_with`].
    ///
    /// # Panics
    ///
    /// If `openssl` is missing or fails, or the listener cannot be bound.
    #[must_use]
    pub fn start(dir: &Path) -> LocalTsa {
        Self::start_with(dir, TsaOptions::default())
    }

    /// Creates the PKI and ts config in `dir` (a directory the caller owns and removes) and
    /// starts the HTTP server on `127.0.0.1:0`.
    ///
    /// # Panics
    ///
    /// If `openssl` is missing or fails, or the listener cannot be bound.
    #[must_use]
    pub fn start_with(dir: &Path, options: TsaOptions) -> LocalTsa {
        std::fs::create_dir_all(dir).expect("creating the LocalTsa directory");
        let dir = dir
            .canonicalize()
            .expect("canonicalising the LocalTsa directory");
        let version = openssl(&dir, &["version"]);
        assert!(
            String::from_utf8_lossy(&version.stdout).contains("SSL"),
            "`openssl version` printed something unexpected"
        );
        std::fs::write(dir.join("pki.cnf"), PKI_CNF).expect("writing pki.cnf");
        std::fs::write(dir.join("ts.cnf"), ts_cnf(&options)).expect("writing ts.cnf");
        std::fs::write(dir.join("tsaserial"), "01\n").expect("writing tsaserial");

        // Root CA: RSA 2048, self-signed.
        genkey(&dir, TsaKey::Rsa2048, "root.key");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "root.key",
                "-subj",
                "/O=Tawthiq Test/CN=Tawthiq Test Root CA",
                "-set_serial",
                "1",
                "-days",
                "3650",
                "-sha256",
                "-config",
                "pki.cnf",
                "-extensions",
                "v3_root",
                "-out",
                "root.crt",
            ],
        );
        // Intermediate: ECDSA P-384, signed by the root with sha384WithRSAEncryption.
        genkey(&dir, TsaKey::EcP384, "tsaca.key");
        issue(
            &dir,
            "tsaca",
            "/O=Tawthiq Test/CN=Tawthiq Test TSA CA",
            "root",
            "2",
            "sha384",
            "v3_ca",
        );
        // TSA signer, signed by the intermediate with ecdsa-with-SHA256.
        genkey(&dir, options.key, "tsa.key");
        issue(
            &dir,
            "tsa",
            "/O=Tawthiq Test/CN=Tawthiq Test TSA",
            "tsaca",
            "3",
            "sha256",
            "v3_tsa",
        );

        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let mode = Arc::new(Mutex::new(TsaMode::Normal));
        let served = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Server {
            dir: dir.clone(),
            mode: Arc::clone(&mode),
            served: Arc::clone(&served),
        };
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("local-tsa".to_owned())
            .spawn(move || {
                for stream in listener.incoming() {
                    if thread_stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A broken client connection is not the server's problem.
                        let _ = handler.handle(stream);
                    }
                }
            })
            .expect("spawning the LocalTsa thread");

        LocalTsa {
            url: format!("http://{addr}/tsa"),
            root_pem: dir.join("root.crt"),
            tsa_cert_pem: dir.join("tsa.crt"),
            intermediate_pem: dir.join("tsaca.crt"),
            dir,
            mode,
            served,
            stop,
            addr,
            thread: Some(thread),
        }
    }

    /// An `http://` URL where nothing listens (a port that was just free).
    ///
    /// # Panics
    ///
    /// If no local port can be bound.
    #[must_use]
    pub fn unreachable_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("listener address").port();
        drop(listener);
        format!("http://127.0.0.1:{port}/tsa")
    }

    /// Changes what the server answers from now on.
    pub fn set_mode(&self, mode: TsaMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// How many HTTP requests were answered (with any status).
    #[must_use]
    pub fn requests_served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Runs `openssl ts -reply` on an arbitrary DER query (for instance one made with
    /// `openssl ts -query`) and returns the DER response, without HTTP.
    ///
    /// # Panics
    ///
    /// If openssl fails.
    #[must_use]
    pub fn reply_to_query(&self, query_der: &[u8]) -> Vec<u8> {
        reply(&self.dir, query_der, "tsa_main", "direct").unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for LocalTsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; the thread sees the flag and leaves.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `openssl ts -reply` for `query` using config section `section`.
fn reply(dir: &Path, query: &[u8], section: &str, tag: &str) -> Result<Vec<u8>, String> {
    let q = format!("q-{tag}.tsq");
    let r = format!("r-{tag}.tsr");
    std::fs::write(dir.join(&q), query).map_err(|e| format!("writing {q}: {e}"))?;
    try_openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "ts.cnf",
            "-section",
            section,
            "-queryfile",
            &q,
            "-signer",
            "tsa.crt",
            "-inkey",
            "tsa.key",
            "-chain",
            "tsaca.crt",
            "-out",
            &r,
        ],
    )?;
    std::fs::read(dir.join(&r)).map_err(|e| format!("reading {r}: {e}"))
}

struct Server {
    dir: PathBuf,
    mode: Arc<Mutex<TsaMode>>,
    served: Arc<AtomicUsize>,
}

impl Server {
    fn handle(&self, mut stream: TcpStream) -> io::Result<()> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let (status, content_type, body) = match read_request(&mut stream)? {
            Err(status) => (status, "text/plain", Vec::new()),
            Ok(query) => self.answer(&query),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            405 => "Method Not Allowed",
            411 => "Length Required",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // Counted before the answer leaves: a client that has read it must see it counted.
        self.served.fetch_add(1, Ordering::SeqCst);
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)?;
        stream.flush()?;
        let _ = stream.shutdown(Shutdown::Write);
        Ok(())
    }

    fn answer(&self, query: &[u8]) -> (u16, &'static str, Vec<u8>) {
        let first = self.dir.join("first.tsq");
        if !first.exists() {
            let _ = std::fs::write(&first, query);
        }
        let _ = std::fs::write(self.dir.join("last.tsq"), query);
        let mode = *self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = |q: &[u8], section: &str| match reply(&self.dir, q, section, "http") {
            Ok(der) => (200, "application/timestamp-reply", der),
            Err(e) => (500, "text/plain", e.into_bytes()),
        };
        match mode {
            TsaMode::Normal => answer(query, "tsa_main"),
            TsaMode::HttpStatus(code) => (code, "text/plain", Vec::new()),
            TsaMode::Reject => answer(query, "tsa_reject"),
            TsaMode::ReplayFirst => {
                let first = std::fs::read(&first).unwrap_or_default();
                answer(&first, "tsa_main")
            }
        }
    }
}

/// Reads one request: `Ok(Ok(body))` for a POST with a timestamp query, `Ok(Err(status))`
/// for requests to refuse.
fn read_request(stream: &mut TcpStream) -> io::Result<Result<Vec<u8>, u16>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > MAX_REQUEST {
            return Ok(Err(413));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    if !request_line.starts_with("POST ") {
        return Ok(Err(405));
    }
    let mut content_length = None;
    let mut content_type = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_ascii_lowercase());
            }
        }
    }
    let Some(len) = content_length else {
        return Ok(Err(411));
    };
    if header_end.saturating_add(len) > MAX_REQUEST {
        return Ok(Err(413));
    }
    if content_type.as_deref() != Some("application/timestamp-query") {
        return Ok(Err(415));
    }
    while buf.len() < header_end + len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Ok(buf[header_end..header_end + len].to_vec()))
}
