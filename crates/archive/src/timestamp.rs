//! RFC 3161 timestamps: request one from a TSA over HTTP and verify stored
//! `TimeStampResp` files strictly, offline, without shelling out.
//!
//! The verifier is deliberately strict: DER only (no BER indefinite lengths),
//! exactly one signer, signed attributes required, ESS signing-certificate
//! attribute required and bound to the signer certificate, SHA-256 message
//! imprints only, RSA PKCS#1 v1.5 or ECDSA P-256/P-384 signatures with
//! SHA-256/384/512.

use std::fmt::{Display, Write as _};
use std::io::Read as _;
use std::time::Duration;

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{BitString, Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tag, Tagged};
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::serial_number::SerialNumber;

/// Largest `.tsr` (and largest PEM input) accepted; larger input is rejected before parsing.
pub const MAX_RESPONSE_LEN: usize = 1024 * 1024;
/// Nesting depth limit for the pre-parse DER shape check.
const MAX_DER_DEPTH: usize = 32;
/// Limit on the number of elements directly inside one constructed DER value. It keeps the
/// `SET OF` sorting done while decoding cheap on hostile input.
const MAX_DER_CHILDREN: usize = 256;
/// Limit on certificates taken from a PEM input.
const MAX_PEM_CERTS: usize = 64;
/// Limit on intermediate certificates between the signer and the root.
const MAX_CHAIN_DEPTH: usize = 8;

// Object identifiers.
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_ATTR_CONTENT_TYPE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_ATTR_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_ATTR_SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const OID_ATTR_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_CURVE_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_CURVE_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Certificate extensions whose semantics this verifier handles (or that carry no constraint);
/// any other extension marked critical makes the certificate unacceptable.
const KNOWN_CRITICAL_EXTENSIONS: [ObjectIdentifier; 7] = [
    ObjectIdentifier::new_unwrap("2.5.29.14"), // subjectKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.15"), // keyUsage
    ObjectIdentifier::new_unwrap("2.5.29.17"), // subjectAltName
    ObjectIdentifier::new_unwrap("2.5.29.19"), // basicConstraints
    ObjectIdentifier::new_unwrap("2.5.29.32"), // certificatePolicies
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
    ObjectIdentifier::new_unwrap("2.5.29.37"), // extKeyUsage
];

/// A timestamp obtained from a TSA.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// The full DER `TimeStampResp`, as stored in `tagmanifest-sha256.txt.tsr`.
    pub response_der: Vec<u8>,
    /// The certificates carried in the token, PEM, signer first (`tsa-chain.pem`).
    pub chain_pem: String,
    /// `TSTInfo.genTime`.
    pub gen_time: OffsetDateTime,
}

/// The result of a successful offline verification.
#[derive(Debug, Clone)]
pub struct VerifiedTimestamp {
    /// `TSTInfo.genTime`.
    pub gen_time: OffsetDateTime,
    /// True when the signer certificate was chained to the supplied root.
    pub chain_checked: bool,
    /// Subject of the TSA signer certificate (RFC 4514 form).
    pub tsa_subject: String,
}

/// Why getting or verifying a timestamp failed. Messages are one line, lower case, and never
/// contain credentials from the TSA URL.
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    /// The TSA could not be reached (connection, TLS, timeout, invalid URL).
    #[error("tsa unreachable: {0}")]
    Unreachable(String),
    /// The TSA answered with an HTTP status other than 200.
    #[error("tsa answered with http status {0}")]
    Http(u16),
    /// The TSA answered with a `PKIStatus` other than granted / grantedWithMods.
    #[error("tsa rejected the request (status {status}): {text}")]
    Rejected {
        /// The `PKIStatus` value.
        status: i64,
        /// Status text and failure information from the TSA (sanitised).
        text: String,
    },
    /// The response is not a well-formed timestamp response.
    #[error("malformed timestamp response: {0}")]
    Malformed(String),
    /// The token does not cover the given data.
    #[error("timestamp does not match the data (message imprint mismatch)")]
    ImprintMismatch,
    /// The TSA did not echo the request nonce.
    #[error("timestamp nonce does not match the request")]
    NonceMismatch,
    /// A signature, digest or signer binding check failed.
    #[error("timestamp signature invalid: {0}")]
    SignatureInvalid(String),
    /// The signer certificate is unacceptable or does not chain to the given root.
    #[error("tsa certificate chain invalid: {0}")]
    ChainInvalid(String),
    /// The token uses an algorithm or feature this verifier does not support.
    #[error("unsupported timestamp: {0}")]
    Unsupported(String),
}

// ---------------------------------------------------------------------------------------------
// ASN.1 structures (RFC 3161, RFC 2634 / RFC 5035)

#[derive(Clone, Debug, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Clone, Debug, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<ContentInfo>,
}

#[derive(Clone, Debug, Sequence)]
struct PkiStatusInfo {
    status: i64,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<BitString>,
}

#[derive(Clone, Debug, Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u32>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u32>,
}

#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    /// `GeneralizedTime`, parsed by hand because it may carry fractional seconds.
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

// ---------------------------------------------------------------------------------------------
// Request

/// DER `TimeStampReq` v1: messageImprint (SHA-256 of the data), the given 64-bit nonce,
/// certReq = TRUE.
#[must_use]
pub fn build_request(data_sha256: &[u8; 32], nonce: u64) -> Vec<u8> {
    // Everything is short, so every length fits the one-byte DER form.
    let nonce = integer_content(&nonce.to_be_bytes());
    let mut imprint = Vec::with_capacity(51);
    // AlgorithmIdentifier { id-sha256, NULL } (as `openssl ts -query` sends it).
    imprint.extend_from_slice(&[
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ]);
    imprint.extend_from_slice(&[0x04, 0x20]);
    imprint.extend_from_slice(data_sha256);

    let mut body = Vec::with_capacity(72);
    body.extend_from_slice(&[0x02, 0x01, 0x01]); // version v1
    push_tlv(&mut body, 0x30, &imprint);
    push_tlv(&mut body, 0x02, &nonce);
    body.extend_from_slice(&[0x01, 0x01, 0xff]); // certReq TRUE

    let mut out = Vec::with_capacity(body.len() + 2);
    push_tlv(&mut out, 0x30, &body);
    out
}

/// Appends a TLV whose content is shorter than 128 bytes.
fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    debug_assert!(content.len() < 0x80);
    out.push(tag);
    out.push(u8::try_from(content.len()).unwrap_or(0x7f) & 0x7f);
    out.extend_from_slice(content);
}

/// Minimal DER INTEGER content for an unsigned big-endian number.
fn integer_content(be: &[u8]) -> Vec<u8> {
    let start = be
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(be.len().saturating_sub(1));
    let digits = &be[start.min(be.len())..];
    let mut out = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|&b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(digits);
    out
}

/// Requests a timestamp for `data_sha256` from the TSA at `url`.
///
/// POSTs a [`build_request`] query (`Content-Type: application/timestamp-query`) with a random
/// nonce, then checks the answer: HTTP 200, status granted or grantedWithMods, nonce echoed,
/// imprint equal to `data_sha256`, and the token's signature valid for the signer certificate the
/// token carries (no chain to a root is checked here).
///
/// # Errors
///
/// [`TimestampError::Unreachable`] for invalid URLs, connection failures and timeouts,
/// [`TimestampError::Http`] for non-200 answers, and the verification errors of [`verify`]
/// plus [`TimestampError::NonceMismatch`] for bad responses. No message contains the URL's
/// userinfo or query.
pub fn request(
    url: &str,
    data_sha256: &[u8; 32],
    timeout: Duration,
) -> Result<Timestamp, TimestampError> {
    request_inner(url, data_sha256, timeout).map_err(TimestampError::normalized)
}

fn request_inner(
    url: &str,
    data_sha256: &[u8; 32],
    timeout: Duration,
) -> Result<Timestamp, TimestampError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| TimestampError::Unreachable(format!("invalid tsa url ({})", one_line(&e))))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(TimestampError::Unreachable(
            "tsa url scheme must be http or https".to_owned(),
        ));
    }
    let secrets = url_secrets(&parsed);
    let shown_url = redact_url(&parsed);
    // Lower-cased before redaction so that no case variant of a secret survives.
    let unreachable = |detail: String| {
        TimestampError::Unreachable(redact(
            &one_line(&format!("{shown_url}: {detail}")),
            &secrets,
        ))
    };

    let nonce = random_nonce().map_err(|e| unreachable(format!("no randomness for nonce: {e}")))?;
    let query = build_request(data_sha256, nonce);

    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| unreachable(reqwest_detail(e, timeout)))?;
    let mut response = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
        .header(reqwest::header::ACCEPT, "application/timestamp-reply")
        .body(query)
        .send()
        .map_err(|e| unreachable(reqwest_detail(e, timeout)))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(TimestampError::Http(status.as_u16()));
    }
    let mut body = Vec::new();
    (&mut response)
        .take(MAX_RESPONSE_LEN as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| unreachable(format!("reading the response failed: {}", one_line(&e))))?;
    if body.len() > MAX_RESPONSE_LEN {
        return Err(TimestampError::Malformed(
            "response larger than 1 mib".to_owned(),
        ));
    }

    let checked = check_response(&body, data_sha256, None, None)?;
    if checked.nonce.as_deref() != Some(integer_content(&nonce.to_be_bytes()).as_slice()) {
        return Err(TimestampError::NonceMismatch);
    }
    let mut chain_pem = String::new();
    for der in &checked.token_certs_signer_first {
        chain_pem.push_str(
            &pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
                .map_err(|e| malformed("encoding certificate pem", e))?,
        );
    }
    Ok(Timestamp {
        response_der: body,
        chain_pem,
        gen_time: checked.gen_time,
    })
}

fn random_nonce() -> Result<u64, getrandom::Error> {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf)?;
    Ok(u64::from_be_bytes(buf))
}

/// Describes a reqwest error without its URL, following the source chain.
fn reqwest_detail(err: reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    let mut depth = 0;
    while let Some(s) = source {
        let piece = s.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    one_line(&text)
}

/// `scheme://[redacted]@host:port/path?[redacted]`: the URL without userinfo or query.
fn redact_url(url: &reqwest::Url) -> String {
    let mut out = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str("[redacted]@");
    }
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        let _ = write!(out, ":{port}");
    }
    out.push_str(url.path());
    if url.query().is_some() {
        out.push_str("?[redacted]");
    }
    if url.fragment().is_some() {
        out.push_str("#[redacted]");
    }
    out
}

/// Pieces of the URL that may be credentials, raw and percent-decoded.
fn url_secrets(url: &reqwest::Url) -> Vec<String> {
    let mut raw = vec![url.username().to_owned()];
    raw.extend(url.password().map(str::to_owned));
    raw.extend(url.query().map(str::to_owned));
    raw.extend(url.fragment().map(str::to_owned));
    raw.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
    let mut secrets = Vec::new();
    for piece in raw {
        let decoded = percent_decode(&piece);
        for s in [piece, decoded] {
            if s.len() >= 3 && !secrets.contains(&s) {
                secrets.push(s.to_lowercase());
                secrets.push(s);
            }
        }
    }
    // Longest first so that a secret containing another one is removed whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Strict offline verification of a stored `.tsr` (a DER `TimeStampResp`) for data whose
/// SHA-256 is `data_sha256`.
///
/// Checks: input at most 1 MiB; status granted or grantedWithMods; the token is CMS
/// `SignedData` with eContentType id-ct-TSTInfo and exactly one signer;
/// `TSTInfo.messageImprint` is SHA-256 and equals `data_sha256`; the signed attributes carry
/// content-type id-ct-TSTInfo, message-digest over the eContent and an ESS
/// signing-certificate (v1 or v2) naming the signer certificate; the signature over the
/// signed attributes verifies with the signer certificate (taken from the token or
/// `chain_pem`, matched by issuerAndSerialNumber or subjectKeyIdentifier); the signer
/// certificate has a critical extendedKeyUsage of exactly timeStamping and is valid at genTime.
///
/// With `root_pem` the signer must chain to one of its certificates through the token's
/// certificates and `chain_pem`, every certificate signature verified with its issuer's key
/// and every validity period covering genTime; then `chain_checked` is true. Without it
/// `chain_checked` is false and the caller should warn that the TSA is not authenticated.
///
/// # Errors
///
/// Any failed check, as the matching [`TimestampError`] variant. Never panics.
pub fn verify(
    tsr: &[u8],
    data_sha256: &[u8; 32],
    chain_pem: Option<&[u8]>,
    root_pem: Option<&[u8]>,
) -> Result<VerifiedTimestamp, TimestampError> {
    let checked = check_response(tsr, data_sha256, chain_pem, root_pem)
        .map_err(TimestampError::normalized)?;
    Ok(VerifiedTimestamp {
        gen_time: checked.gen_time,
        chain_checked: checked.chained_to_root,
        tsa_subject: checked.tsa_subject,
    })
}

/// Everything the checks learn about a response.
struct Checked {
    gen_time: OffsetDateTime,
    nonce: Option<Vec<u8>>,
    tsa_subject: String,
    chained_to_root: bool,
    /// Certificates carried in the token, as DER, signer first.
    token_certs_signer_first: Vec<Vec<u8>>,
}

/// A parsed certificate with its DER encoding.
struct Cert {
    cert: Certificate,
    der: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha-256",
            HashAlg::Sha384 => "sha-384",
            HashAlg::Sha512 => "sha-512",
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Signature scheme of a signature algorithm identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Rsa,
    Ecdsa,
}

/// Why a signature did not verify.
enum SigFailure {
    Unsupported(String),
    Invalid(String),
}

fn malformed(what: &str, err: impl Display) -> TimestampError {
    TimestampError::Malformed(format!("{what}: {}", one_line(&err)))
}

/// Lower-case, single-line, bounded rendering of a message.
/// Idempotent, so errors may pass through it more than once.
fn one_line(msg: &impl Display) -> String {
    const MAX_CHARS: usize = 300;
    let text = msg.to_string();
    let mut out = String::with_capacity(text.len().min(4 * MAX_CHARS));
    let mut chars = 0usize;
    let mut last_space = true; // also drops leading spaces
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        for lower in c.to_lowercase() {
            chars += 1;
            if chars > MAX_CHARS {
                let kept: String = out.chars().take(MAX_CHARS - 1).collect();
                return format!("{}…", kept.trim_end());
            }
            out.push(lower);
        }
    }
    out.trim_end().to_owned()
}

impl TimestampError {
    /// Every message one line and lower case, whatever produced it.
    fn normalized(self) -> Self {
        match self {
            Self::Unreachable(m) => Self::Unreachable(one_line(&m)),
            Self::Rejected { status, text } => Self::Rejected {
                status,
                text: one_line(&text),
            },
            Self::Malformed(m) => Self::Malformed(one_line(&m)),
            Self::SignatureInvalid(m) => Self::SignatureInvalid(one_line(&m)),
            Self::ChainInvalid(m) => Self::ChainInvalid(one_line(&m)),
            Self::Unsupported(m) => Self::Unsupported(one_line(&m)),
            other @ (Self::Http(_) | Self::ImprintMismatch | Self::NonceMismatch) => other,
        }
    }
}

#[allow(clippy::too_many_lines)]
fn check_response(
    tsr: &[u8],
    data_sha256: &[u8; 32],
    chain_pem: Option<&[u8]>,
    root_pem: Option<&[u8]>,
) -> Result<Checked, TimestampError> {
    if tsr.len() > MAX_RESPONSE_LEN {
        return Err(TimestampError::Malformed(
            "response larger than 1 mib".to_owned(),
        ));
    }
    check_der_shape(tsr).map_err(|e| TimestampError::Malformed(one_line(&e)))?;
    let resp = TimeStampResp::from_der(tsr).map_err(|e| TimestampError::Malformed(one_line(&e)))?;

    // Status.
    if resp.status.status != 0 && resp.status.status != 1 {
        return Err(TimestampError::Rejected {
            status: resp.status.status,
            text: status_text(&resp.status),
        });
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| TimestampError::Malformed("granted response without a token".to_owned()))?;

    // SignedData.
    if token.content_type != OID_SIGNED_DATA {
        return Err(TimestampError::Malformed(format!(
            "token content type {} is not signed-data",
            token.content_type
        )));
    }
    let signed_data: SignedData = token
        .content
        .decode_as()
        .map_err(|e| malformed("token signed-data", e))?;
    if signed_data.version != CmsVersion::V3 {
        return Err(TimestampError::Malformed(format!(
            "signed-data version {} is not 3",
            signed_data.version as u8
        )));
    }
    if signed_data.encap_content_info.econtent_type != OID_CT_TST_INFO {
        return Err(TimestampError::Malformed(format!(
            "encapsulated content type {} is not id-ct-tstinfo",
            signed_data.encap_content_info.econtent_type
        )));
    }
    let econtent = signed_data
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| TimestampError::Malformed("token has no tstinfo content".to_owned()))?;
    if econtent.tag() != Tag::OctetString {
        return Err(TimestampError::Malformed(
            "tstinfo content is not an octet string".to_owned(),
        ));
    }
    let tst_der = econtent.value();

    // TSTInfo.
    check_der_shape(tst_der).map_err(|e| malformed("tstinfo", e))?;
    let tst = TstInfo::from_der(tst_der).map_err(|e| malformed("tstinfo", e))?;
    if tst.version != 1 {
        return Err(TimestampError::Malformed(format!(
            "tstinfo version {} is not 1",
            tst.version
        )));
    }
    let imprint_alg = hash_alg(&tst.message_imprint.hash_algorithm)
        .map_err(|e| TimestampError::Unsupported(format!("message imprint: {e}")))?;
    if imprint_alg != HashAlg::Sha256 {
        return Err(TimestampError::Unsupported(format!(
            "message imprint uses {}, only sha-256 is supported",
            imprint_alg.name()
        )));
    }
    if tst.message_imprint.hashed_message.as_bytes() != data_sha256 {
        return Err(TimestampError::ImprintMismatch);
    }
    if tst.gen_time.tag() != Tag::GeneralizedTime {
        return Err(TimestampError::Malformed(
            "tstinfo gentime is not a generalizedtime".to_owned(),
        ));
    }
    let gen_time = parse_generalized_time(tst.gen_time.value()).ok_or_else(|| {
        TimestampError::Malformed("tstinfo gentime is not a valid der generalizedtime".to_owned())
    })?;

    // The signer.
    let infos = signed_data.signer_infos.0.as_slice();
    let [signer] = infos else {
        return Err(TimestampError::Malformed(format!(
            "token has {} signers, expected exactly one",
            infos.len()
        )));
    };
    let expected_version = match signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => CmsVersion::V1,
        SignerIdentifier::SubjectKeyIdentifier(_) => CmsVersion::V3,
    };
    if signer.version != expected_version {
        return Err(TimestampError::Malformed(format!(
            "signer-info version {} does not match its signer identifier",
            signer.version as u8
        )));
    }
    let digest_alg = hash_alg(&signer.digest_alg)
        .map_err(|e| TimestampError::Unsupported(format!("signer digest: {e}")))?;
    for alg in signed_data.digest_algorithms.iter() {
        hash_alg(alg)
            .map_err(|e| TimestampError::Unsupported(format!("digest algorithms: {e}")))?;
    }
    if !signed_data
        .digest_algorithms
        .iter()
        .any(|a| a.oid == signer.digest_alg.oid && a.parameters == signer.digest_alg.parameters)
    {
        return Err(TimestampError::Malformed(
            "signer digest algorithm is not listed in signed-data digest algorithms".to_owned(),
        ));
    }

    // Signed attributes.
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| {
        TimestampError::Malformed("signer-info has no signed attributes".to_owned())
    })?;
    let content_type = single_attr(attrs, OID_ATTR_CONTENT_TYPE, "content-type")?
        .ok_or_else(|| TimestampError::Malformed("content-type attribute missing".to_owned()))?;
    let content_type: ObjectIdentifier = content_type
        .decode_as()
        .map_err(|e| malformed("content-type attribute", e))?;
    if content_type != OID_CT_TST_INFO {
        return Err(TimestampError::Malformed(
            "content-type attribute is not id-ct-tstinfo".to_owned(),
        ));
    }
    let message_digest = single_attr(attrs, OID_ATTR_MESSAGE_DIGEST, "message-digest")?
        .ok_or_else(|| TimestampError::Malformed("message-digest attribute missing".to_owned()))?;
    let message_digest: OctetString = message_digest
        .decode_as()
        .map_err(|e| malformed("message-digest attribute", e))?;
    if message_digest.as_bytes() != digest_alg.digest(tst_der).as_slice() {
        return Err(TimestampError::SignatureInvalid(
            "message-digest attribute does not match the tstinfo content".to_owned(),
        ));
    }
    let ess = EssBinding::from_attrs(attrs)?;

    // Certificates: the token's, then the caller's chain.
    let mut token_certs = Vec::new();
    if let Some(set) = &signed_data.certificates {
        for choice in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = choice {
                let der = cert
                    .to_der()
                    .map_err(|e| malformed("token certificate", e))?;
                token_certs.push(Cert {
                    cert: cert.clone(),
                    der,
                });
            }
        }
    }
    let extra_certs = match chain_pem {
        Some(pem) => parse_pem_certs(pem)
            .map_err(|e| TimestampError::ChainInvalid(format!("chain pem: {}", one_line(&e))))?,
        None => Vec::new(),
    };
    let all_certs: Vec<&Cert> = token_certs.iter().chain(extra_certs.iter()).collect();

    let signer_index = find_signer(&all_certs, &signer.sid, &ess)?;
    let signer_cert = all_certs[signer_index];

    // The signature over the DER SET OF signed attributes.
    let signed_attrs_der = attrs
        .to_der()
        .map_err(|e| malformed("signed attributes", e))?;
    match verify_cms_signature(signer, digest_alg, signer_cert, &signed_attrs_der) {
        Ok(()) => {}
        Err(SigFailure::Unsupported(m)) => return Err(TimestampError::Unsupported(m)),
        Err(SigFailure::Invalid(m)) => return Err(TimestampError::SignatureInvalid(m)),
    }

    // The signer certificate itself.
    check_signer_cert(&signer_cert.cert, gen_time)?;

    // The chain to the root.
    let chain_checked = match root_pem {
        Some(root_pem) => {
            let roots = parse_pem_certs(root_pem)
                .map_err(|e| TimestampError::ChainInvalid(format!("root pem: {}", one_line(&e))))?;
            if roots.is_empty() {
                return Err(TimestampError::ChainInvalid(
                    "root pem holds no certificate".to_owned(),
                ));
            }
            check_chain(signer_cert, &all_certs, &roots, gen_time)?;
            true
        }
        None => false,
    };

    // Token certificates, signer first (when the signer came from the token).
    let mut token_certs_signer_first: Vec<Vec<u8>> = Vec::with_capacity(token_certs.len());
    if signer_index < token_certs.len() {
        token_certs_signer_first.push(token_certs[signer_index].der.clone());
    }
    for (i, c) in token_certs.iter().enumerate() {
        if i != signer_index {
            token_certs_signer_first.push(c.der.clone());
        }
    }

    Ok(Checked {
        gen_time,
        nonce: tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
        tsa_subject: printable(&signer_cert.cert.tbs_certificate.subject.to_string()),
        chained_to_root: chain_checked,
        token_certs_signer_first,
    })
}

/// `text` with control characters replaced, bounded in length (case kept).
fn printable(text: &str) -> String {
    text.chars()
        .take(512)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Status text of a rejection: the TSA's free text and failure bits.
fn status_text(info: &PkiStatusInfo) -> String {
    let mut parts: Vec<String> = Vec::new();
    let name = match info.status {
        2 => "rejection",
        3 => "waiting",
        4 => "revocation warning",
        5 => "revocation notification",
        _ => "unknown status",
    };
    parts.push(name.to_owned());
    if let Some(texts) = &info.status_string {
        for t in texts.iter().take(4) {
            parts.push(t.clone());
        }
    }
    if let Some(bits) = &info.fail_info {
        const NAMES: [(usize, &str); 8] = [
            (0, "bad algorithm"),
            (2, "bad request"),
            (5, "bad data format"),
            (14, "time not available"),
            (15, "unaccepted policy"),
            (16, "unaccepted extension"),
            (17, "additional info not available"),
            (25, "system failure"),
        ];
        let set: Vec<usize> = bits
            .bits()
            .enumerate()
            .filter_map(|(i, b)| b.then_some(i))
            .collect();
        for i in set.iter().take(8) {
            match NAMES.iter().find(|(n, _)| n == i) {
                Some((_, name)) => parts.push((*name).to_owned()),
                None => parts.push(format!("failure bit {i}")),
            }
        }
    }
    one_line(&parts.join("; "))
}

/// The value of the attribute `oid`, which must occur at most once with exactly one value.
fn single_attr<'a>(
    attrs: &'a x509_cert::attr::Attributes,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<Option<&'a Any>, TimestampError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(TimestampError::Malformed(format!(
            "{name} attribute occurs more than once"
        )));
    }
    let values = attr.values.as_slice();
    let [value] = values else {
        return Err(TimestampError::Malformed(format!(
            "{name} attribute has {} values, expected one",
            values.len()
        )));
    };
    Ok(Some(value))
}

/// The ESS signing-certificate attribute: which certificate the TSA says it signed with.
struct EssBinding {
    hash_alg: EssHash,
    cert_hash: Vec<u8>,
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Copy)]
enum EssHash {
    Sha1,
    Other(HashAlg),
}

impl EssBinding {
    fn from_attrs(attrs: &x509_cert::attr::Attributes) -> Result<Self, TimestampError> {
        if let Some(v2) = single_attr(attrs, OID_ATTR_SIGNING_CERT_V2, "signing-certificate-v2")? {
            let sc: SigningCertificateV2 = v2
                .decode_as()
                .map_err(|e| malformed("signing-certificate-v2 attribute", e))?;
            let first = sc.certs.into_iter().next().ok_or_else(|| {
                TimestampError::Malformed("signing-certificate-v2 lists no certificate".to_owned())
            })?;
            let hash_alg = match &first.hash_algorithm {
                None => HashAlg::Sha256,
                Some(alg) => hash_alg(alg).map_err(|e| {
                    TimestampError::Unsupported(format!("signing-certificate-v2: {e}"))
                })?,
            };
            return Ok(EssBinding {
                hash_alg: EssHash::Other(hash_alg),
                cert_hash: first.cert_hash.as_bytes().to_vec(),
                issuer_serial: first.issuer_serial,
            });
        }
        if let Some(v1) = single_attr(attrs, OID_ATTR_SIGNING_CERT, "signing-certificate")? {
            let sc: SigningCertificate = v1
                .decode_as()
                .map_err(|e| malformed("signing-certificate attribute", e))?;
            let first = sc.certs.into_iter().next().ok_or_else(|| {
                TimestampError::Malformed("signing-certificate lists no certificate".to_owned())
            })?;
            return Ok(EssBinding {
                hash_alg: EssHash::Sha1,
                cert_hash: first.cert_hash.as_bytes().to_vec(),
                issuer_serial: first.issuer_serial,
            });
        }
        Err(TimestampError::Malformed(
            "signing-certificate attribute missing".to_owned(),
        ))
    }

    fn matches(&self, cert: &Cert) -> bool {
        let hash = match self.hash_alg {
            EssHash::Sha1 => {
                use sha1::Digest as _;
                sha1::Sha1::digest(&cert.der).to_vec()
            }
            EssHash::Other(alg) => alg.digest(&cert.der),
        };
        if hash != self.cert_hash {
            return false;
        }
        match &self.issuer_serial {
            None => true,
            Some(is) => {
                is.serial_number == cert.cert.tbs_certificate.serial_number
                    && is.issuer.iter().any(|n| {
                        matches!(n, GeneralName::DirectoryName(name) if *name == cert.cert.tbs_certificate.issuer)
                    })
            }
        }
    }
}

/// Index of the signer certificate: matches the signer identifier and the ESS binding.
fn find_signer(
    certs: &[&Cert],
    sid: &SignerIdentifier,
    ess: &EssBinding,
) -> Result<usize, TimestampError> {
    let mut candidates = certs
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let tbs = &c.cert.tbs_certificate;
            match sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => {
                    tbs.issuer == ias.issuer && tbs.serial_number == ias.serial_number
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(tbs.get::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
                }
            }
        })
        .peekable();
    if candidates.peek().is_none() {
        return Err(TimestampError::SignatureInvalid(
            "signer certificate not found in the token or the chain".to_owned(),
        ));
    }
    candidates
        .find(|(_, c)| ess.matches(c))
        .map(|(i, _)| i)
        .ok_or_else(|| {
            TimestampError::SignatureInvalid(
                "signer certificate does not match the signing-certificate attribute".to_owned(),
            )
        })
}

/// Hash algorithm of an `AlgorithmIdentifier` whose parameters are absent or NULL.
fn hash_alg(alg: &AlgorithmIdentifierOwned) -> Result<HashAlg, String> {
    let hash = match alg.oid {
        OID_SHA256 => HashAlg::Sha256,
        OID_SHA384 => HashAlg::Sha384,
        OID_SHA512 => HashAlg::Sha512,
        OID_SHA1 => return Err("sha-1 is not supported".to_owned()),
        other => return Err(format!("hash algorithm {other} is not supported")),
    };
    if !params_absent_or_null(alg) {
        return Err(format!("{} parameters must be absent or null", hash.name()));
    }
    Ok(hash)
}

fn params_absent_or_null(alg: &AlgorithmIdentifierOwned) -> bool {
    match &alg.parameters {
        None => true,
        Some(p) => p.tag() == Tag::Null && p.value().is_empty(),
    }
}

/// Scheme and hash of a signature algorithm; `digest` is used for the bare key-type OIDs
/// (rsaEncryption, id-ecPublicKey) that CMS allows as signature algorithms.
fn signature_alg(
    alg: &AlgorithmIdentifierOwned,
    digest: Option<HashAlg>,
) -> Result<(Scheme, HashAlg), String> {
    let (scheme, hash) = match alg.oid {
        OID_SHA256_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha256)),
        OID_SHA384_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha384)),
        OID_SHA512_WITH_RSA => (Scheme::Rsa, Some(HashAlg::Sha512)),
        OID_RSA_ENCRYPTION if digest.is_some() => (Scheme::Rsa, None),
        OID_ECDSA_SHA256 => (Scheme::Ecdsa, Some(HashAlg::Sha256)),
        OID_ECDSA_SHA384 => (Scheme::Ecdsa, Some(HashAlg::Sha384)),
        OID_ECDSA_SHA512 => (Scheme::Ecdsa, Some(HashAlg::Sha512)),
        OID_EC_PUBLIC_KEY if digest.is_some() => (Scheme::Ecdsa, None),
        other => return Err(format!("signature algorithm {other} is not supported")),
    };
    let params_ok = match scheme {
        Scheme::Rsa => params_absent_or_null(alg),
        Scheme::Ecdsa => alg.parameters.is_none(),
    };
    if !params_ok {
        return Err(format!(
            "signature algorithm {} has unexpected parameters",
            alg.oid
        ));
    }
    match (hash, digest) {
        (Some(h), Some(d)) if h != d => Err(format!(
            "signature algorithm hash {} differs from digest algorithm {}",
            h.name(),
            d.name()
        )),
        (Some(h), _) | (None, Some(h)) => Ok((scheme, h)),
        (None, None) => Err("signature algorithm without a hash".to_owned()),
    }
}

fn verify_cms_signature(
    signer: &SignerInfo,
    digest_alg: HashAlg,
    cert: &Cert,
    signed_attrs_der: &[u8],
) -> Result<(), SigFailure> {
    let (scheme, hash) = signature_alg(&signer.signature_algorithm, Some(digest_alg))
        .map_err(SigFailure::Unsupported)?;
    verify_with_key(
        &cert.cert.tbs_certificate.subject_public_key_info,
        scheme,
        hash,
        signed_attrs_der,
        signer.signature.as_bytes(),
    )
}

/// Verifies `sig` over `msg` with the public key `spki`.
fn verify_with_key(
    spki: &SubjectPublicKeyInfoOwned,
    scheme: Scheme,
    hash: HashAlg,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SigFailure> {
    let key_der = spki
        .to_der()
        .map_err(|e| SigFailure::Invalid(format!("public key: {}", one_line(&e))))?;
    match (scheme, spki.algorithm.oid) {
        (Scheme::Rsa, OID_RSA_ENCRYPTION) => verify_rsa(&key_der, hash, msg, sig),
        (Scheme::Ecdsa, OID_EC_PUBLIC_KEY) => {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok())
                .ok_or_else(|| {
                    SigFailure::Unsupported("ec public key without a named curve".to_owned())
                })?;
            let prehash = hash.digest(msg);
            match curve {
                OID_CURVE_P256 => verify_p256(&key_der, &prehash, sig),
                OID_CURVE_P384 => verify_p384(&key_der, &prehash, sig),
                other => Err(SigFailure::Unsupported(format!(
                    "elliptic curve {other} is not supported"
                ))),
            }
        }
        (_, key_oid) => Err(SigFailure::Unsupported(format!(
            "public key algorithm {key_oid} does not fit the signature algorithm"
        ))),
    }
}

fn verify_rsa(key_der: &[u8], hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), SigFailure> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    use rsa::traits::PublicKeyParts as _;

    let key = rsa::RsaPublicKey::from_public_key_der(key_der)
        .map_err(|e| SigFailure::Unsupported(format!("rsa public key: {}", one_line(&e))))?;
    if key.n().bits() < 2048 {
        return Err(SigFailure::Unsupported(
            "rsa keys shorter than 2048 bits are not supported".to_owned(),
        ));
    }
    if sig.len() != key.size() {
        return Err(SigFailure::Invalid(
            "rsa signature length differs from the modulus length".to_owned(),
        ));
    }
    let signature = rsa::pkcs1v15::Signature::try_from(sig)
        .map_err(|_| SigFailure::Invalid("rsa signature is malformed".to_owned()))?;
    let result = match hash {
        HashAlg::Sha256 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(msg, &signature)
        }
        HashAlg::Sha384 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify(msg, &signature)
        }
        HashAlg::Sha512 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify(msg, &signature)
        }
    };
    result.map_err(|_| SigFailure::Invalid("rsa signature does not verify".to_owned()))
}

fn verify_p256(key_der: &[u8], prehash: &[u8], sig: &[u8]) -> Result<(), SigFailure> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    use p256::pkcs8::DecodePublicKey as _;

    let key = p256::ecdsa::VerifyingKey::from_public_key_der(key_der)
        .map_err(|e| SigFailure::Invalid(format!("p-256 public key: {}", one_line(&e))))?;
    let signature = p256::ecdsa::Signature::from_der(sig)
        .map_err(|_| SigFailure::Invalid("ecdsa signature is malformed".to_owned()))?;
    key.verify_prehash(prehash, &signature)
        .map_err(|_| SigFailure::Invalid("ecdsa signature does not verify".to_owned()))
}

fn verify_p384(key_der: &[u8], prehash: &[u8], sig: &[u8]) -> Result<(), SigFailure> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier as _;
    use p384::pkcs8::DecodePublicKey as _;

    let key = p384::ecdsa::VerifyingKey::from_public_key_der(key_der)
        .map_err(|e| SigFailure::Invalid(format!("p-384 public key: {}", one_line(&e))))?;
    let signature = p384::ecdsa::Signature::from_der(sig)
        .map_err(|_| SigFailure::Invalid("ecdsa signature is malformed".to_owned()))?;
    key.verify_prehash(prehash, &signature)
        .map_err(|_| SigFailure::Invalid("ecdsa signature does not verify".to_owned()))
}

/// Signer certificate policy: critical EKU of exactly timeStamping, a key usage (if any)
/// allowing signatures, no unknown critical extension, valid at `gen_time`.
fn check_signer_cert(cert: &Certificate, gen_time: OffsetDateTime) -> Result<(), TimestampError> {
    let tbs = &cert.tbs_certificate;
    let invalid = |m: &str| TimestampError::ChainInvalid(format!("tsa certificate: {m}"));
    check_critical_extensions(cert).map_err(|m| invalid(&m))?;
    match tbs.get::<ExtendedKeyUsage>() {
        Ok(Some((true, eku))) if eku.0.as_slice() == [OID_KP_TIME_STAMPING] => {}
        Ok(Some((false, _))) => {
            return Err(invalid("extended key usage is not marked critical"));
        }
        Ok(Some(_)) => {
            return Err(invalid("extended key usage must be exactly timestamping"));
        }
        Ok(None) => return Err(invalid("no timestamping extended key usage")),
        Err(e) => return Err(invalid(&format!("extended key usage: {}", one_line(&e)))),
    }
    match tbs.get::<KeyUsage>() {
        Ok(None) => {}
        Ok(Some((_, ku)))
            if ku.0.contains(KeyUsages::DigitalSignature)
                || ku.0.contains(KeyUsages::NonRepudiation) => {}
        Ok(Some(_)) => return Err(invalid("key usage does not allow signatures")),
        Err(e) => return Err(invalid(&format!("key usage: {}", one_line(&e)))),
    }
    check_validity(cert, gen_time).map_err(|m| invalid(&m))
}

fn check_critical_extensions(cert: &Certificate) -> Result<(), String> {
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.critical && !KNOWN_CRITICAL_EXTENSIONS.contains(&ext.extn_id) {
            return Err(format!("unsupported critical extension {}", ext.extn_id));
        }
    }
    Ok(())
}

fn check_validity(cert: &Certificate, gen_time: OffsetDateTime) -> Result<(), String> {
    let validity = &cert.tbs_certificate.validity;
    let at = gen_time.unix_timestamp_nanos();
    let not_before = i128::from(validity.not_before.to_unix_duration().as_secs()) * 1_000_000_000;
    let not_after = i128::from(validity.not_after.to_unix_duration().as_secs()) * 1_000_000_000;
    // notAfter is inclusive to the second.
    if at < not_before || at >= not_after + 1_000_000_000 {
        return Err(format!(
            "not valid at the timestamp time (valid {} to {})",
            validity.not_before, validity.not_after
        ));
    }
    Ok(())
}

/// Builds a path from `signer` to one of `roots` through `pool`, verifying every signature
/// and validity period.
fn check_chain(
    signer: &Cert,
    pool: &[&Cert],
    roots: &[Cert],
    gen_time: OffsetDateTime,
) -> Result<(), TimestampError> {
    let chain_err = |m: String| TimestampError::ChainInvalid(m);
    let mut current = signer;
    let mut used: Vec<usize> = Vec::new();
    let mut intermediates = 0usize;
    let mut last_failure = String::from("no issuer certificate found");
    loop {
        // The signer itself may be a trusted root.
        if roots.iter().any(|r| r.der == current.der) {
            return Ok(());
        }
        // Issued directly by a root?
        for root in roots {
            if root.cert.tbs_certificate.subject != current.cert.tbs_certificate.issuer {
                continue;
            }
            match verify_cert_signature(current, root) {
                Ok(()) => {
                    return check_validity(&root.cert, gen_time)
                        .map_err(|m| chain_err(format!("root certificate: {m}")));
                }
                Err(m) => last_failure = m,
            }
        }
        if intermediates >= MAX_CHAIN_DEPTH {
            return Err(chain_err("chain is too long".to_owned()));
        }
        // Otherwise through an intermediate CA.
        let mut next = None;
        for (i, cand) in pool.iter().enumerate() {
            if used.contains(&i)
                || cand.der == current.der
                || cand.cert.tbs_certificate.subject != current.cert.tbs_certificate.issuer
            {
                continue;
            }
            match verify_cert_signature(current, cand)
                .and_then(|()| check_ca(&cand.cert, intermediates))
                .and_then(|()| check_validity(&cand.cert, gen_time))
            {
                Ok(()) => {
                    next = Some(i);
                    break;
                }
                Err(m) => last_failure = m,
            }
        }
        let Some(i) = next else {
            return Err(chain_err(format!(
                "does not chain to the given root ({last_failure})"
            )));
        };
        used.push(i);
        intermediates += 1;
        current = pool[i];
    }
}

/// An intermediate must be a CA allowed to sign certificates, with a path length constraint
/// (if any) not exceeded by the `below` intermediates under it.
fn check_ca(cert: &Certificate, below: usize) -> Result<(), String> {
    check_critical_extensions(cert)?;
    match cert.tbs_certificate.get::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => {
            if let Some(max) = bc.path_len_constraint
                && below > usize::from(max)
            {
                return Err("intermediate path length constraint exceeded".to_owned());
            }
        }
        Ok(_) => return Err("intermediate certificate is not a ca".to_owned()),
        Err(e) => return Err(format!("basic constraints: {}", one_line(&e))),
    }
    match cert.tbs_certificate.get::<KeyUsage>() {
        Ok(None) => Ok(()),
        Ok(Some((_, ku))) if ku.0.contains(KeyUsages::KeyCertSign) => Ok(()),
        Ok(Some(_)) => Err("intermediate key usage does not allow certificate signing".to_owned()),
        Err(e) => Err(format!("key usage: {}", one_line(&e))),
    }
}

/// Verifies the signature on `cert` with `issuer`'s key.
fn verify_cert_signature(cert: &Cert, issuer: &Cert) -> Result<(), String> {
    let c = &cert.cert;
    if c.signature_algorithm != c.tbs_certificate.signature {
        return Err("certificate signature algorithms disagree".to_owned());
    }
    let (scheme, hash) = signature_alg(&c.signature_algorithm, None)?;
    let sig = c
        .signature
        .as_bytes()
        .ok_or_else(|| "certificate signature has unused bits".to_owned())?;
    let tbs = c
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("certificate: {}", one_line(&e)))?;
    match verify_with_key(
        &issuer.cert.tbs_certificate.subject_public_key_info,
        scheme,
        hash,
        &tbs,
        sig,
    ) {
        Ok(()) => Ok(()),
        Err(SigFailure::Unsupported(m) | SigFailure::Invalid(m)) => {
            Err(format!("certificate signature: {m}"))
        }
    }
}

/// All `CERTIFICATE` blocks of a PEM text (other blocks and text between blocks are ignored).
fn parse_pem_certs(pem: &[u8]) -> Result<Vec<Cert>, String> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    if pem.len() > MAX_RESPONSE_LEN {
        return Err("larger than 1 mib".to_owned());
    }
    let text = std::str::from_utf8(pem).map_err(|_| "not utf-8 text".to_owned())?;
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let label_end = block[BEGIN.len()..]
            .find(DASHES)
            .ok_or_else(|| "unterminated pem header".to_owned())?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| format!("pem block {label} is not terminated"))?;
        let whole = &block[..end + end_marker.len()];
        rest = &block[end + end_marker.len()..];
        if label != "CERTIFICATE" {
            continue;
        }
        if certs.len() >= MAX_PEM_CERTS {
            return Err("too many certificates".to_owned());
        }
        let (_, der) =
            pem_rfc7468::decode_vec(whole.as_bytes()).map_err(|e| format!("pem: {e}"))?;
        check_der_shape(&der)?;
        let cert = Certificate::from_der(&der).map_err(|e| format!("certificate: {e}"))?;
        certs.push(Cert { cert, der });
    }
    Ok(certs)
}

/// Parses a DER `GeneralizedTime` value: `YYYYMMDDHHMMSS[.f+]Z`, no trailing zeros in the
/// fraction.
fn parse_generalized_time(b: &[u8]) -> Option<OffsetDateTime> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(r)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() < 15 || b.last() != Some(&b'Z') {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let hour = u8::try_from(num(8..10)?).ok()?;
    let minute = u8::try_from(num(10..12)?).ok()?;
    let second = u8::try_from(num(12..14)?).ok()?;
    let frac = &b[14..b.len() - 1];
    let nanos = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix(b".")?;
        if digits.is_empty() || digits.len() > 9 || digits.last() == Some(&b'0') {
            return None;
        }
        let value = num(15..15 + digits.len())?;
        let scale = 10u32.pow(u32::try_from(9 - digits.len()).ok()?);
        value * scale
    };
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

/// Walks the DER tree of `bytes` before the real decoder sees it: definite lengths only,
/// bounded nesting and bounded element counts, exactly one top-level element.
fn check_der_shape(bytes: &[u8]) -> Result<(), String> {
    let count = walk_der(bytes, 0)?;
    if count != 1 {
        return Err(format!("expected one der element, found {count}"));
    }
    Ok(())
}

fn walk_der(mut bytes: &[u8], depth: usize) -> Result<usize, String> {
    if depth > MAX_DER_DEPTH {
        return Err("der nesting too deep".to_owned());
    }
    let mut count = 0usize;
    while !bytes.is_empty() {
        count += 1;
        if count > MAX_DER_CHILDREN {
            return Err("too many der elements in one value".to_owned());
        }
        let first = bytes[0];
        let mut pos = 1usize;
        if first & 0x1f == 0x1f {
            // High tag number form: up to four continuation bytes.
            loop {
                let b = *bytes.get(pos).ok_or("truncated der tag")?;
                pos += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if pos > 5 {
                    return Err("der tag number too large".to_owned());
                }
            }
        }
        let len_byte = *bytes.get(pos).ok_or("truncated der length")?;
        pos += 1;
        let len = match len_byte {
            0..0x80 => usize::from(len_byte),
            0x80 => return Err("indefinite der length".to_owned()),
            _ => {
                let n = usize::from(len_byte & 0x7f);
                if n > 4 {
                    return Err("der length too large".to_owned());
                }
                let len_bytes = bytes.get(pos..pos + n).ok_or("truncated der length")?;
                pos += n;
                len_bytes
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
            }
        };
        let end = pos.checked_add(len).ok_or("der length overflow")?;
        let content = bytes.get(pos..end).ok_or("der length beyond the input")?;
        if first & 0x20 != 0 {
            walk_der(content, depth + 1)?;
        }
        bytes = &bytes[end..];
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_der_and_decodes() {
        #[derive(Sequence)]
        struct Req {
            version: u8,
            imprint: MessageImprint,
            nonce: Int,
            wants_cert: bool,
        }
        for nonce in [0u64, 1, 0x7f, 0x80, 0xff, 0x1234, u64::MAX, 1 << 63] {
            let data = [7u8; 32];
            let der = build_request(&data, nonce);
            check_der_shape(&der).unwrap();
            let req = Req::from_der(&der).unwrap();
            assert_eq!(req.version, 1);
            assert_eq!(req.imprint.hashed_message.as_bytes(), &data);
            assert_eq!(hash_alg(&req.imprint.hash_algorithm), Ok(HashAlg::Sha256));
            assert!(req.wants_cert);
            let expected = der::asn1::Uint::new(&nonce.to_be_bytes()).unwrap();
            assert_eq!(req.nonce.as_bytes(), integer_content(&nonce.to_be_bytes()));
            assert_eq!(req.nonce.to_der().unwrap(), expected.to_der().unwrap());
        }
    }

    #[test]
    fn generalized_time_parsing() {
        let t = parse_generalized_time(b"20240229235959Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_709_251_199);
        let t = parse_generalized_time(b"20240229235959.123Z").unwrap();
        assert_eq!(t.nanosecond(), 123_000_000);
        for bad in [
            &b"20240229235959"[..],
            b"20240229235959.Z",
            b"20240229235959.120Z",
            b"20230229235959Z",
            b"20240229236059Z",
            b"2024022923595Z",
            b"20240229235959+0100",
            b"20240229235959.1234567891Z",
            b"",
            b"Z",
        ] {
            assert!(parse_generalized_time(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn der_shape_limits() {
        assert!(check_der_shape(&[0x30, 0x80, 0, 0]).is_err());
        assert!(check_der_shape(&[0x30, 0x00]).is_ok());
        assert!(check_der_shape(&[0x30, 0x00, 0x05, 0x00]).is_err());
        assert!(check_der_shape(&[0x30, 0x85, 1, 0, 0, 0, 0]).is_err());
        let mut deep = vec![0x05, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, u8::try_from(deep.len()).unwrap_or(0)];
            if deep.len() > 127 {
                break;
            }
            outer.extend_from_slice(&deep);
            deep = outer;
        }
        assert!(check_der_shape(&deep).is_err());
        let mut many = vec![0x31, 0x82, 0x02, 0x02];
        many.extend(std::iter::repeat_n([0x05u8, 0x00], 257).flatten());
        assert!(check_der_shape(&many).is_err());
    }

    #[test]
    fn url_redaction() {
        let url =
            reqwest::Url::parse("https://alice:s3cr%21t@tsa.example:8443/ts?apikey=XYZ123#frag")
                .unwrap();
        let shown = redact_url(&url);
        assert_eq!(
            shown,
            "https://[redacted]@tsa.example:8443/ts?[redacted]#[redacted]"
        );
        let secrets = url_secrets(&url);
        let msg = redact("failed for alice with s3cr!t and apikey=xyz123", &secrets);
        assert!(!msg.contains("alice") && !msg.contains("s3cr") && !msg.contains("xyz123"));
    }

    #[test]
    fn one_line_is_lower_case_single_line() {
        assert_eq!(one_line(&"  Bad\nThing\r\n  Here "), "bad thing here");
        let long = "X".repeat(1000);
        let once = one_line(&long);
        assert_eq!(once.chars().count(), 300);
        assert_eq!(one_line(&once), once);
        assert_eq!(one_line(&"İstanbul"), "i̇stanbul");
    }
}
