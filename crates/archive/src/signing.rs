//! Minisign-compatible Ed25519 signing of evidence files.
//!
//! Everything produced here can be checked with the stock `minisign` tool, and
//! keys generated with `minisign -G -W` (unencrypted) can be loaded.
//!
//! Formats (all binary blobs are standard base64 with padding):
//!
//! * public key: `"Ed" || keynum(8) || ed25519 public key(32)`;
//! * signature line: `"ED" || keynum(8) || ed25519(BLAKE2b-512(message))`, i.e.
//!   minisign's pre-hashed algorithm (the legacy, non pre-hashed `"Ed"` is refused);
//! * global signature: `ed25519(signature(64) || trusted comment bytes)`, which
//!   authenticates the trusted comment;
//! * secret key: `"Ed" || kdf_alg(2) || "B2" || salt(32) || opslimit(8) ||
//!   memlimit(8) || keynum(8) || seed(32) || public key(32) || checksum(32)` where
//!   the checksum is BLAKE2b-256 of `"Ed" || keynum || seed || public key` and
//!   `kdf_alg` is two zero bytes for an unencrypted key (the only kind supported).
//!
//! The key id shown to users is the keynum read as a little-endian `u64`, printed
//! as 16 upper-case hex digits (minisign prints the same number, but without
//! leading zeros).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Largest signature file [`SignatureFile::parse`] looks at; anything longer is
/// [`SigError::Malformed`].
pub const MAX_SIGNATURE_FILE_LEN: usize = 4096;

/// Longest trusted comment (in bytes) accepted by [`SecretKey::sign`]; chosen so
/// that every signature file we produce fits in [`MAX_SIGNATURE_FILE_LEN`].
pub const MAX_TRUSTED_COMMENT_LEN: usize = MAX_SIGNATURE_FILE_LEN
    - (SIGNATURE_UNTRUSTED_LINE.len() + 1)
    - (SIGNATURE_B64_LEN + 1)
    - (TRUSTED_PREFIX.len() + 1)
    - (GLOBAL_SIGNATURE_B64_LEN + 1);

const SIG_ALG: [u8; 2] = *b"Ed";
const SIG_ALG_PREHASHED: [u8; 2] = *b"ED";
const KDF_NONE: [u8; 2] = [0, 0];
const KDF_SCRYPT: [u8; 2] = *b"Sc";
const CHK_ALG: [u8; 2] = *b"B2";

const KEYNUM_LEN: usize = 8;
const SECRET_KEY_BLOB_LEN: usize = 158;
const SECRET_KEY_B64_LEN: usize = 212;
const PUBLIC_KEY_BLOB_LEN: usize = 42;
const PUBLIC_KEY_B64_LEN: usize = 56;
const SIGNATURE_BLOB_LEN: usize = 74;
const SIGNATURE_B64_LEN: usize = 100;
const GLOBAL_SIGNATURE_B64_LEN: usize = 88;
/// Key files are tiny; refuse to read anything bigger than this.
const MAX_KEY_FILE_LEN: u64 = 4096;

const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
const TRUSTED_PREFIX: &str = "trusted comment: ";
const SIGNATURE_UNTRUSTED_COMMENT: &str = "tawthiq signature";
const SIGNATURE_UNTRUSTED_LINE: &str = "untrusted comment: tawthiq signature";
const SECRET_KEY_UNTRUSTED_LINE: &str = "untrusted comment: minisign unencrypted secret key";

/// Base64 decoder that tolerates missing padding and non-zero trailing bits, so
/// that such input is reported as non-canonical rather than as garbage.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---------------------------------------------------------------------------
// Errors

/// Errors about key files and key text.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be created, opened, read, written or synced.
    #[error("cannot access key file {}: {source}", path.display())]
    Io {
        /// The file (or, when syncing, its directory) concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A secret key file has a group or other permission bit set.
    #[error(
        "secret key {} is readable by group or others (mode {mode:04o}): run chmod 600 {}",
        path.display(),
        path.display()
    )]
    LoosePermissions {
        /// The secret key file.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
    /// The secret key is password-protected, which is not supported.
    #[error(
        "secret key {} is encrypted with a password, which is not supported: use an unencrypted key (for example one made with minisign -G -W)",
        path.display()
    )]
    Encrypted {
        /// The secret key file.
        path: PathBuf,
    },
    /// The file is not a valid minisign key file.
    #[error("key file {} is corrupt or not a minisign key: {reason}", path.display())]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never contains key material).
        reason: String,
    },
    /// `write_new` found a file already at the destination; nothing was written.
    #[error(
        "key file {} already exists: refusing to overwrite it; move it away or choose another path",
        path.display()
    )]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Text given to [`PublicKey::parse`] is not a minisign public key.
    #[error("invalid minisign public key: {reason}")]
    InvalidPublicKey {
        /// What is wrong.
        reason: String,
    },
}

/// Errors about signature files and signature verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    /// The input is not a minisign signature file at all.
    #[error("malformed signature file: {0}")]
    Malformed(String),
    /// The input is a well-formed minisign signature, but not byte-for-byte in the
    /// canonical layout that [`SecretKey::sign`] produces.
    #[error("signature file is not in canonical tawthiq form: {0}")]
    NonCanonical(String),
    /// The signature was made by a different key than the one supplied.
    #[error(
        "signature was made by key {found} but the public key given is {expected}: verify with the signer's public key"
    )]
    KeyMismatch {
        /// Key id of the public key supplied for verification.
        expected: String,
        /// Key id recorded in the signature.
        found: String,
    },
    /// The signature does not match the message.
    #[error(
        "signature does not match the data: the data was modified or the signature belongs to other data"
    )]
    Invalid,
    /// The signature matches the message but the trusted comment was altered.
    #[error("the trusted comment of the signature was altered: do not trust this signature file")]
    TrustedCommentForged,
}

// ---------------------------------------------------------------------------
// Keys

/// An Ed25519 secret key together with its minisign key number.
///
/// The secret scalar is wiped from memory on drop (`ed25519-dalek`'s
/// `SigningKey` zeroizes itself). `Debug` prints only the key id.
pub struct SecretKey {
    keynum: [u8; KEYNUM_LEN],
    signing: SigningKey,
}

/// A minisign public key: key number plus Ed25519 verifying key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    keynum: [u8; KEYNUM_LEN],
    verifying: VerifyingKey,
}

/// Generates a fresh key pair with a random key number, using the operating
/// system's random number generator.
///
/// # Panics
///
/// Panics if the operating system cannot provide random bytes (`getrandom`
/// failure), since no safe key can be made without them.
#[must_use]
pub fn generate() -> SecretKey {
    let mut seed = [0u8; 32];
    let mut keynum = [0u8; KEYNUM_LEN];
    getrandom::fill(&mut seed).expect("the operating system random number generator failed");
    getrandom::fill(&mut keynum).expect("the operating system random number generator failed");
    let signing = SigningKey::from_bytes(&seed);
    wipe(&mut seed);
    SecretKey { keynum, signing }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", key_id_hex(self.keynum))
    }
}

impl SecretKey {
    /// Writes the unencrypted secret key in minisign's secret-key file format
    /// (an untrusted comment line and one base64 line).
    ///
    /// The file is created with `create_new` (an existing file is never
    /// overwritten) and mode 0600 from the start, then fsynced, and so is its
    /// directory. If writing fails, the partly written file is removed.
    ///
    /// # Errors
    ///
    /// [`KeyError::Exists`] if `path` already exists, [`KeyError::Io`] for any
    /// other failure.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let mut keypair = self.signing.to_keypair_bytes();
        let mut checksum = secret_key_checksum(self.keynum, &keypair);

        let mut blob = [0u8; SECRET_KEY_BLOB_LEN];
        blob[0..2].copy_from_slice(&SIG_ALG);
        blob[2..4].copy_from_slice(&KDF_NONE);
        blob[4..6].copy_from_slice(&CHK_ALG);
        // salt (32), opslimit (8) and memlimit (8) stay zero: they are unused
        // for unencrypted keys, and minisign writes zeros there too.
        blob[54..62].copy_from_slice(&self.keynum);
        blob[62..126].copy_from_slice(&keypair);
        blob[126..158].copy_from_slice(&checksum);
        wipe(&mut keypair);
        wipe(&mut checksum);

        let mut b64 = [0u8; SECRET_KEY_B64_LEN];
        let encoded = STANDARD.encode_slice(blob, &mut b64);
        wipe(&mut blob);
        if !matches!(encoded, Ok(SECRET_KEY_B64_LEN)) {
            wipe(&mut b64);
            return Err(io_error(
                path,
                io::Error::other("internal error: could not encode the secret key"),
            ));
        }
        // Sized up front so that no reallocation leaves stray copies behind.
        let mut contents = Vec::with_capacity(SECRET_KEY_UNTRUSTED_LINE.len() + b64.len() + 2);
        contents.extend_from_slice(SECRET_KEY_UNTRUSTED_LINE.as_bytes());
        contents.push(b'\n');
        contents.extend_from_slice(&b64);
        contents.push(b'\n');
        wipe(&mut b64);

        let result = write_new_file(path, &contents, 0o600);
        wipe(&mut contents);
        result
    }

    /// Loads an unencrypted minisign secret key file.
    ///
    /// Contract:
    /// * refuses a file whose mode has any group/other bit (`mode & 0o077 != 0`);
    /// * refuses password-encrypted keys;
    /// * verifies the BLAKE2b-256 checksum and that the stored public half
    ///   matches the secret seed. An all-zero checksum is accepted because
    ///   `minisign -G -W` (0.11) writes unencrypted keys without a checksum; the
    ///   public-half check still catches corruption of the key itself.
    ///
    /// # Errors
    ///
    /// [`KeyError::LoosePermissions`], [`KeyError::Encrypted`],
    /// [`KeyError::Corrupt`] (bad layout, unknown algorithm, checksum mismatch,
    /// not a regular file, too large) or [`KeyError::Io`].
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let mut file = File::open(path).map_err(|e| io_error(path, e))?;
        let metadata = file.metadata().map_err(|e| io_error(path, e))?;
        if !metadata.is_file() {
            return Err(corrupt(path, "not a regular file"));
        }
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::LoosePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut contents = read_bounded(&mut file, path)?;
        let result = parse_secret_key(&contents).map_err(|e| match e {
            SecretKeyParseError::Encrypted => KeyError::Encrypted {
                path: path.to_path_buf(),
            },
            SecretKeyParseError::Corrupt(reason) => corrupt(path, reason),
        });
        wipe(&mut contents);
        result
    }

    /// Returns the matching public key (same key id).
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            keynum: self.keynum,
            verifying: self.signing.verifying_key(),
        }
    }

    /// Returns the key id as 16 upper-case hex digits (see [`PublicKey::key_id_hex`]).
    #[must_use]
    pub fn key_id_hex(&self) -> String {
        key_id_hex(self.keynum)
    }

    /// Signs `message` and returns the complete canonical `.minisig` file bytes,
    /// using minisign's pre-hashed `"ED"` algorithm:
    ///
    /// ```text
    /// untrusted comment: tawthiq signature\n
    /// <base64 signature>\n
    /// trusted comment: <trusted_comment>\n
    /// <base64 global signature>\n
    /// ```
    ///
    /// The output always parses with [`SignatureFile::parse`] and verifies with
    /// `minisign -V`.
    ///
    /// # Panics
    ///
    /// Panics if `trusted_comment` is not valid per [`is_valid_trusted_comment`]
    /// (longer than [`MAX_TRUSTED_COMMENT_LEN`] bytes, or containing a control
    /// character other than tab). Check untrusted input with that function first.
    #[must_use]
    pub fn sign(&self, message: &[u8], trusted_comment: &str) -> Vec<u8> {
        assert!(
            is_valid_trusted_comment(trusted_comment),
            "invalid trusted comment: it must be at most {MAX_TRUSTED_COMMENT_LEN} bytes without control characters other than tab"
        );
        let hash = Blake2b512::digest(message);
        let signature = self.signing.sign(&hash).to_bytes();
        let global_signature = self
            .signing
            .sign(&global_signature_input(&signature, trusted_comment))
            .to_bytes();
        SignatureFile {
            keynum: self.keynum,
            signature,
            trusted_comment: trusted_comment.to_owned(),
            global_signature,
        }
        .to_canonical_bytes()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", key_id_hex(self.keynum))
    }
}

impl PublicKey {
    /// Returns the minisign public key file text:
    /// `"untrusted comment: minisign public key <KEY ID>\n<base64>\n"`.
    #[must_use]
    pub fn to_file_string(&self) -> String {
        format!(
            "{UNTRUSTED_PREFIX}minisign public key {}\n{}\n",
            self.key_id_hex(),
            self.to_base64()
        )
    }

    /// Writes [`Self::to_file_string`] to a new file (`create_new`, mode 0644
    /// before umask), then fsyncs it and its directory.
    ///
    /// # Errors
    ///
    /// [`KeyError::Exists`] if `path` already exists, [`KeyError::Io`] otherwise.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        write_new_file(path, self.to_file_string().as_bytes(), 0o644)
    }

    /// Parses a minisign public key: either the whole file (an
    /// `untrusted comment:` line, then the base64 line) or just the bare base64
    /// line, as `minisign -P` takes. Surrounding whitespace and CRLF line ends are
    /// tolerated. Small-order ("weak") keys are refused.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidPublicKey`] describing the problem.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        parse_public_key(text).map_err(|reason| KeyError::InvalidPublicKey {
            reason: reason.to_owned(),
        })
    }

    /// Reads and parses a public key file (see [`Self::parse`]).
    ///
    /// # Errors
    ///
    /// [`KeyError::Io`] if it cannot be read, [`KeyError::Corrupt`] if it is
    /// not a regular file, too large, or not a valid public key.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let mut file = File::open(path).map_err(|e| io_error(path, e))?;
        let metadata = file.metadata().map_err(|e| io_error(path, e))?;
        if !metadata.is_file() {
            return Err(corrupt(path, "not a regular file"));
        }
        let contents = read_bounded(&mut file, path)?;
        let text = std::str::from_utf8(&contents).map_err(|_| corrupt(path, "not utf-8 text"))?;
        parse_public_key(text).map_err(|reason| corrupt(path, reason))
    }

    /// Returns the key id as 16 upper-case hex digits: the key number read as a
    /// little-endian `u64`, i.e. the number minisign prints (minisign omits
    /// leading zeros).
    #[must_use]
    pub fn key_id_hex(&self) -> String {
        key_id_hex(self.keynum)
    }

    /// Returns the bare base64 public key line, as taken by `minisign -P`.
    #[must_use]
    pub fn to_base64(&self) -> String {
        let mut blob = [0u8; PUBLIC_KEY_BLOB_LEN];
        blob[0..2].copy_from_slice(&SIG_ALG);
        blob[2..10].copy_from_slice(&self.keynum);
        blob[10..].copy_from_slice(self.verifying.as_bytes());
        STANDARD.encode(blob)
    }
}

// ---------------------------------------------------------------------------
// Signature files

/// A parsed, canonical `.minisig` signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFile {
    keynum: [u8; KEYNUM_LEN],
    signature: [u8; 64],
    trusted_comment: String,
    global_signature: [u8; 64],
}

impl SignatureFile {
    /// Strictly parses a signature file.
    ///
    /// Never panics and is bounded: input longer than
    /// [`MAX_SIGNATURE_FILE_LEN`] bytes is rejected without further work. Only
    /// the exact canonical layout produced by [`SecretKey::sign`] is accepted:
    /// the fixed line `untrusted comment: tawthiq signature`, the pre-hashed
    /// `"ED"` algorithm, canonical padded base64, LF line ends, a final LF and
    /// nothing else. Parsing does not check any signature; use
    /// [`Self::verify`].
    ///
    /// # Errors
    ///
    /// [`SigError::NonCanonical`] for a well-formed minisign signature in any
    /// other layout (CRLF, missing final newline, other untrusted comment,
    /// legacy `"Ed"` algorithm, extra whitespace or blank lines, unpadded
    /// base64, control characters in the trusted comment);
    /// [`SigError::Malformed`] for anything else.
    pub fn parse(bytes: &[u8]) -> Result<Self, SigError> {
        if bytes.len() > MAX_SIGNATURE_FILE_LEN {
            return Err(SigError::Malformed(format!(
                "larger than {MAX_SIGNATURE_FILE_LEN} bytes"
            )));
        }
        let lenient = parse_signature_lenient(bytes)?;
        let non_canonical = |reason: &str| Err(SigError::NonCanonical(reason.to_owned()));
        if bytes.contains(&b'\r') {
            return non_canonical("contains a carriage return; line ends must be LF only");
        }
        if !bytes.ends_with(b"\n") {
            return non_canonical("missing final newline");
        }
        if lenient.untrusted_comment != SIGNATURE_UNTRUSTED_COMMENT.as_bytes() {
            return non_canonical("the untrusted comment must be exactly \"tawthiq signature\"");
        }
        if lenient.algorithm != SIG_ALG_PREHASHED {
            return non_canonical(
                "legacy non-prehashed (\"Ed\") signature; only pre-hashed \"ED\" signatures are accepted",
            );
        }
        if !is_valid_trusted_comment(&lenient.file.trusted_comment) {
            return non_canonical("the trusted comment contains control characters");
        }
        if lenient.file.to_canonical_bytes() != bytes {
            return non_canonical("extra whitespace, blank lines or non-canonical base64");
        }
        Ok(lenient.file)
    }

    /// Returns the id (16 upper-case hex digits) of the key that made the signature.
    #[must_use]
    pub fn key_id_hex(&self) -> String {
        key_id_hex(self.keynum)
    }

    /// Returns the trusted comment. It is only authenticated once
    /// [`Self::verify`] has returned `Ok`.
    #[must_use]
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// Verifies the signature of `message` with `key`, checking in this order:
    /// the key id, the signature over the BLAKE2b-512 hash of `message`, and the
    /// global signature over the trusted comment. Only `Ok(())` means both the
    /// message and the trusted comment are authentic.
    ///
    /// # Errors
    ///
    /// [`SigError::KeyMismatch`] when the signature names another key,
    /// [`SigError::Invalid`] when the signature does not match `message`,
    /// [`SigError::TrustedCommentForged`] when the trusted comment was altered.
    pub fn verify(&self, key: &PublicKey, message: &[u8]) -> Result<(), SigError> {
        if self.keynum != key.keynum {
            return Err(SigError::KeyMismatch {
                expected: key.key_id_hex(),
                found: self.key_id_hex(),
            });
        }
        let hash = Blake2b512::digest(message);
        key.verifying
            .verify_strict(&hash, &Signature::from_bytes(&self.signature))
            .map_err(|_| SigError::Invalid)?;
        key.verifying
            .verify_strict(
                &global_signature_input(&self.signature, &self.trusted_comment),
                &Signature::from_bytes(&self.global_signature),
            )
            .map_err(|_| SigError::TrustedCommentForged)
    }

    fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut blob = [0u8; SIGNATURE_BLOB_LEN];
        blob[0..2].copy_from_slice(&SIG_ALG_PREHASHED);
        blob[2..10].copy_from_slice(&self.keynum);
        blob[10..].copy_from_slice(&self.signature);
        format!(
            "{SIGNATURE_UNTRUSTED_LINE}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            STANDARD.encode(blob),
            self.trusted_comment,
            STANDARD.encode(self.global_signature),
        )
        .into_bytes()
    }
}

/// Returns whether `comment` can be used as a trusted comment by
/// [`SecretKey::sign`]: at most [`MAX_TRUSTED_COMMENT_LEN`] bytes and no control
/// characters except tab (so it stays on one line and minisign reads it back
/// unchanged).
#[must_use]
pub fn is_valid_trusted_comment(comment: &str) -> bool {
    comment.len() <= MAX_TRUSTED_COMMENT_LEN
        && !comment.chars().any(|c| c.is_control() && c != '\t')
}

// ---------------------------------------------------------------------------
// Internals

/// A signature file parsed with tolerance for non-canonical layout.
struct LenientSignature<'a> {
    untrusted_comment: &'a [u8],
    algorithm: [u8; 2],
    file: SignatureFile,
}

fn parse_signature_lenient(bytes: &[u8]) -> Result<LenientSignature<'_>, SigError> {
    let malformed = |reason: &str| SigError::Malformed(reason.to_owned());
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    if lines.len() < 4 {
        return Err(malformed("expected four lines"));
    }
    if !lines[4..].iter().all(|line| line.trim_ascii().is_empty()) {
        return Err(malformed("unexpected data after the global signature"));
    }
    let untrusted_comment = lines[0]
        .strip_prefix(UNTRUSTED_PREFIX.as_bytes())
        .ok_or_else(|| malformed("first line is not an untrusted comment"))?;

    let blob = decode_lenient(lines[1], SIGNATURE_BLOB_LEN)
        .ok_or_else(|| malformed("second line is not a base64 minisign signature"))?;
    let algorithm = [blob[0], blob[1]];
    if algorithm != SIG_ALG_PREHASHED && algorithm != SIG_ALG {
        return Err(malformed("unknown signature algorithm"));
    }
    let mut keynum = [0u8; KEYNUM_LEN];
    keynum.copy_from_slice(&blob[2..10]);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&blob[10..]);

    let trusted_comment = lines[2]
        .strip_prefix(TRUSTED_PREFIX.as_bytes())
        .ok_or_else(|| malformed("third line is not a trusted comment"))?;
    let trusted_comment = std::str::from_utf8(trusted_comment)
        .map_err(|_| malformed("trusted comment is not valid utf-8"))?;

    let global = decode_lenient(lines[3], 64)
        .ok_or_else(|| malformed("fourth line is not a base64 global signature"))?;
    let mut global_signature = [0u8; 64];
    global_signature.copy_from_slice(&global);

    Ok(LenientSignature {
        untrusted_comment,
        algorithm,
        file: SignatureFile {
            keynum,
            signature,
            trusted_comment: trusted_comment.to_owned(),
            global_signature,
        },
    })
}

/// Decodes a base64 line (whitespace trimmed, padding optional) that must hold
/// exactly `len` bytes.
fn decode_lenient(line: &[u8], len: usize) -> Option<Vec<u8>> {
    let line = line.trim_ascii();
    // Bound the work before decoding: 4 chars per 3 bytes, plus padding.
    if line.len() > len.div_ceil(3) * 4 {
        return None;
    }
    LENIENT_BASE64
        .decode(line)
        .ok()
        .filter(|decoded| decoded.len() == len)
}

/// `signature || trusted comment`, the message of the global signature.
fn global_signature_input(signature: &[u8; 64], trusted_comment: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(signature.len() + trusted_comment.len());
    input.extend_from_slice(signature);
    input.extend_from_slice(trusted_comment.as_bytes());
    input
}

enum SecretKeyParseError {
    Encrypted,
    Corrupt(&'static str),
}

fn parse_secret_key(contents: &[u8]) -> Result<SecretKey, SecretKeyParseError> {
    use SecretKeyParseError::Corrupt;
    let text = std::str::from_utf8(contents).map_err(|_| Corrupt("not utf-8 text"))?;
    let b64 = key_file_base64_line(text).map_err(Corrupt)?.as_bytes();
    if b64.len() != SECRET_KEY_B64_LEN {
        return Err(Corrupt(
            "the key line has the wrong length for a secret key",
        ));
    }
    // 212 base64 characters decode to at most 159 bytes.
    let mut blob = [0u8; SECRET_KEY_BLOB_LEN + 3];
    let result = match STANDARD.decode_slice(b64, &mut blob) {
        Ok(SECRET_KEY_BLOB_LEN) => parse_secret_key_blob(&blob[..SECRET_KEY_BLOB_LEN]),
        Ok(_) => Err(Corrupt(
            "the key line has the wrong length for a secret key",
        )),
        Err(_) => Err(Corrupt("the key line is not valid base64")),
    };
    wipe(&mut blob);
    result
}

fn parse_secret_key_blob(blob: &[u8]) -> Result<SecretKey, SecretKeyParseError> {
    use SecretKeyParseError::{Corrupt, Encrypted};
    if blob[0..2] != SIG_ALG {
        return Err(Corrupt(
            "unsupported signature algorithm (expected Ed25519)",
        ));
    }
    if blob[2..4] == KDF_SCRYPT {
        return Err(Encrypted);
    }
    if blob[2..4] != KDF_NONE {
        return Err(Corrupt("unknown key derivation algorithm"));
    }
    if blob[4..6] != CHK_ALG {
        return Err(Corrupt("unsupported checksum algorithm (expected BLAKE2b)"));
    }
    let mut keynum = [0u8; KEYNUM_LEN];
    keynum.copy_from_slice(&blob[54..62]);
    let mut keypair = [0u8; 64];
    keypair.copy_from_slice(&blob[62..126]);
    let stored = &blob[126..158];

    let mut computed = secret_key_checksum(keynum, &keypair);
    let checksum_ok = constant_time_eq(stored, &computed) || stored.iter().all(|&b| b == 0);
    wipe(&mut computed);
    let result = if checksum_ok {
        SigningKey::from_keypair_bytes(&keypair)
            .map(|signing| SecretKey { keynum, signing })
            .map_err(|_| Corrupt("the public half does not match the secret key"))
    } else {
        Err(Corrupt("checksum mismatch"))
    };
    wipe(&mut keypair);
    result
}

fn secret_key_checksum(keynum: [u8; KEYNUM_LEN], keypair: &[u8; 64]) -> [u8; 32] {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(SIG_ALG);
    hasher.update(keynum);
    hasher.update(keypair);
    hasher.finalize().into()
}

fn parse_public_key(text: &str) -> Result<PublicKey, &'static str> {
    let b64 = key_file_base64_line(text)?;
    if b64.len() != PUBLIC_KEY_B64_LEN {
        return Err("the key line has the wrong length for a public key");
    }
    let blob = STANDARD
        .decode(b64)
        .map_err(|_| "the key line is not valid base64")?;
    if blob.len() != PUBLIC_KEY_BLOB_LEN {
        return Err("the key line has the wrong length for a public key");
    }
    if blob[0..2] != SIG_ALG {
        return Err("unsupported signature algorithm (expected Ed25519)");
    }
    let mut keynum = [0u8; KEYNUM_LEN];
    keynum.copy_from_slice(&blob[2..10]);
    let mut point = [0u8; 32];
    point.copy_from_slice(&blob[10..]);
    let verifying =
        VerifyingKey::from_bytes(&point).map_err(|_| "not a valid Ed25519 public key")?;
    if verifying.is_weak() {
        return Err("weak (small-order) Ed25519 public key");
    }
    Ok(PublicKey { keynum, verifying })
}

/// Returns the base64 line of a key file: either the only line, or the line
/// after an untrusted comment line.
fn key_file_base64_line(text: &str) -> Result<&str, &'static str> {
    const LAYOUT: &str = "expected an untrusted comment line and one key line";
    let mut lines = text.trim().lines().map(str::trim);
    let first = lines.next().unwrap_or("");
    let second = lines.next();
    if lines.next().is_some() {
        return Err(LAYOUT);
    }
    let is_comment = first.starts_with(UNTRUSTED_PREFIX.trim_end());
    match second {
        None if !first.is_empty() && !is_comment => Ok(first),
        Some(key) if is_comment => Ok(key),
        _ => Err(LAYOUT),
    }
}

fn key_id_hex(keynum: [u8; KEYNUM_LEN]) -> String {
    format!("{:016X}", u64::from_le_bytes(keynum))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Best-effort wipe of secret bytes (without `unsafe`, a volatile write is not
/// available; `black_box` keeps the stores from being optimised away).
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

fn io_error(path: &Path, source: io::Error) -> KeyError {
    KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, reason: &str) -> KeyError {
    KeyError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

/// Reads at most [`MAX_KEY_FILE_LEN`] bytes; a longer file is corrupt.
fn read_bounded(file: &mut File, path: &Path) -> Result<Vec<u8>, KeyError> {
    let limit = usize::try_from(MAX_KEY_FILE_LEN).unwrap_or(usize::MAX);
    let mut contents = Vec::with_capacity(limit + 1);
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut contents)
        .map_err(|e| io_error(path, e))?;
    if contents.len() > limit {
        wipe(&mut contents);
        return Err(corrupt(path, "file is too large to be a minisign key"));
    }
    Ok(contents)
}

/// Creates `path` (never overwriting) with `mode`, writes `contents`, fsyncs the
/// file and its directory. Removes the file again if writing it fails.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io_error(path, e)
            }
        })?;
    if let Err(e) = file.write_all(contents).and_then(|()| file.sync_all()) {
        drop(file);
        // Best effort: do not leave a truncated key behind.
        let _ = fs::remove_file(path);
        return Err(io_error(path, e));
    }
    drop(file);
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Output};

    const MESSAGE: &[u8] = b"evidence bytes\x00\xff with binary content\n";
    const COMMENT: &str = "tawthiq v1\tfile:evidence.bin\tsha256:abc";

    use testkit::Rng;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn round_trip() {
        let sk = generate();
        let pk = sk.public_key();
        let sig = sk.sign(MESSAGE, COMMENT);
        let parsed = SignatureFile::parse(&sig).unwrap();
        assert_eq!(parsed.trusted_comment(), COMMENT);
        assert_eq!(parsed.key_id_hex(), pk.key_id_hex());
        assert_eq!(sk.key_id_hex(), pk.key_id_hex());
        parsed.verify(&pk, MESSAGE).unwrap();

        let text = std::str::from_utf8(&sig).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "untrusted comment: tawthiq signature");
        assert!(lines[1].starts_with("RU")); // base64 of "ED"
        assert_eq!(lines[2], format!("trusted comment: {COMMENT}"));
        assert_eq!(lines[4], "");
    }

    #[test]
    fn empty_and_maximal_comments_round_trip() {
        let sk = generate();
        for comment in [String::new(), "é".repeat(MAX_TRUSTED_COMMENT_LEN / 2)] {
            let sig = sk.sign(b"", &comment);
            assert!(sig.len() <= MAX_SIGNATURE_FILE_LEN);
            let parsed = SignatureFile::parse(&sig).unwrap();
            parsed.verify(&sk.public_key(), b"").unwrap();
            assert_eq!(parsed.trusted_comment(), comment);
        }
        let longest = "x".repeat(MAX_TRUSTED_COMMENT_LEN);
        assert_eq!(sk.sign(b"", &longest).len(), MAX_SIGNATURE_FILE_LEN);
        assert!(!is_valid_trusted_comment(&format!("{longest}x")));
    }

    #[test]
    fn trusted_comment_validation() {
        assert!(is_valid_trusted_comment("a\tb ü"));
        for bad in ["a\nb", "a\rb", "a\0b", "a\u{7f}", "a\u{85}"] {
            assert!(!is_valid_trusted_comment(bad), "{bad:?}");
        }
    }

    #[test]
    #[should_panic(expected = "invalid trusted comment")]
    fn sign_panics_on_newline_in_comment() {
        let _ = generate().sign(b"m", "line\ninjected");
    }

    #[test]
    fn tampered_message_is_invalid() {
        let sk = generate();
        let sig = SignatureFile::parse(&sk.sign(MESSAGE, COMMENT)).unwrap();
        let mut tampered = MESSAGE.to_vec();
        tampered[0] ^= 1;
        assert_eq!(
            sig.verify(&sk.public_key(), &tampered),
            Err(SigError::Invalid)
        );
        assert_eq!(sig.verify(&sk.public_key(), b""), Err(SigError::Invalid));
    }

    #[test]
    fn other_key_is_key_mismatch() {
        let sk = generate();
        let other = generate();
        let sig = SignatureFile::parse(&sk.sign(MESSAGE, COMMENT)).unwrap();
        assert_eq!(
            sig.verify(&other.public_key(), MESSAGE),
            Err(SigError::KeyMismatch {
                expected: other.public_key().key_id_hex(),
                found: sk.public_key().key_id_hex(),
            })
        );
        // Same key material under another key number is still a mismatch.
        let renumbered = PublicKey {
            keynum: [9; 8],
            verifying: sk.signing.verifying_key(),
        };
        assert!(matches!(
            sig.verify(&renumbered, MESSAGE),
            Err(SigError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn edited_trusted_comment_is_forged() {
        let sk = generate();
        let sig = sk.sign(MESSAGE, "timestamp:1700000000");
        for edited in ["timestamp:1700000001", "timestamp:170000000", ""] {
            let text = String::from_utf8(sig.clone())
                .unwrap()
                .replace("timestamp:1700000000", edited);
            let parsed = SignatureFile::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed.trusted_comment(), edited);
            assert_eq!(
                parsed.verify(&sk.public_key(), MESSAGE),
                Err(SigError::TrustedCommentForged)
            );
        }
    }

    #[test]
    fn every_single_byte_flip_is_rejected() {
        let sk = generate();
        let pk = sk.public_key();
        let sig = sk.sign(MESSAGE, COMMENT);
        let masks = [0x01u8, 0x20, 0x80, 0xff];
        for i in 0..sig.len() {
            for mask in masks {
                let mut flipped = sig.clone();
                flipped[i] ^= mask;
                let outcome = SignatureFile::parse(&flipped).and_then(|s| s.verify(&pk, MESSAGE));
                assert!(
                    outcome.is_err(),
                    "flip {mask:#04x} at byte {i} was accepted"
                );
            }
        }
        for len in 0..sig.len() {
            assert!(
                SignatureFile::parse(&sig[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let len = rng.below(MAX_SIGNATURE_FILE_LEN + 200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            assert!(SignatureFile::parse(&bytes).is_err());
        }
        // Mutations of a valid file (replacements, insertions, deletions).
        let sk = generate();
        let pk = sk.public_key();
        let sig = sk.sign(MESSAGE, COMMENT);
        let alphabet = b"ABCDEFabcdef0123456789+/=\n\r \t:";
        for _ in 0..3000 {
            let mut bytes = sig.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let b = if rng.below(2) == 0 {
                    alphabet[rng.below(alphabet.len())]
                } else {
                    rng.byte()
                };
                match rng.below(3) {
                    0 if at < bytes.len() => bytes[at] = b,
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b),
                }
            }
            let outcome = SignatureFile::parse(&bytes).and_then(|s| s.verify(&pk, MESSAGE));
            if bytes != sig {
                assert!(outcome.is_err(), "mutation accepted: {bytes:?}");
            }
        }
    }

    #[test]
    fn non_canonical_and_malformed_inputs() {
        let sk = generate();
        let sig = String::from_utf8(sk.sign(MESSAGE, COMMENT)).unwrap();
        let non_canonical = |s: &str| {
            assert!(
                matches!(
                    SignatureFile::parse(s.as_bytes()),
                    Err(SigError::NonCanonical(_))
                ),
                "{s:?}: {:?}",
                SignatureFile::parse(s.as_bytes())
            );
        };
        non_canonical(&sig.replace('\n', "\r\n"));
        non_canonical(sig.trim_end_matches('\n'));
        non_canonical(&format!("{sig}\n"));
        non_canonical(&sig.replace("tawthiq signature", "signature from minisign secret key"));
        let lines: Vec<&str> = sig.lines().collect();
        non_canonical(&format!(
            "{}\n{} \n{}\n{}\n",
            lines[0], lines[1], lines[2], lines[3]
        ));
        non_canonical(&format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            lines[1],
            lines[2],
            lines[3].trim_end_matches('=')
        ));
        non_canonical(&format!(
            "{}\n{}\n{}\u{1b}\n{}\n",
            lines[0], lines[1], lines[2], lines[3]
        ));

        // A legacy (non-prehashed "Ed") signature made the way minisign -l does.
        let legacy_sig = sk.signing.sign(MESSAGE).to_bytes();
        let mut blob = Vec::new();
        blob.extend_from_slice(b"Ed");
        blob.extend_from_slice(&sk.keynum);
        blob.extend_from_slice(&legacy_sig);
        let global = sk
            .signing
            .sign(&global_signature_input(&legacy_sig, COMMENT))
            .to_bytes();
        let legacy = format!(
            "{SIGNATURE_UNTRUSTED_LINE}\n{}\n{TRUSTED_PREFIX}{COMMENT}\n{}\n",
            STANDARD.encode(&blob),
            STANDARD.encode(global)
        );
        non_canonical(&legacy);

        let malformed = |bytes: &[u8]| {
            assert!(
                matches!(SignatureFile::parse(bytes), Err(SigError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        };
        malformed(b"");
        malformed(b"\n\n\n\n");
        malformed(&vec![b'a'; MAX_SIGNATURE_FILE_LEN + 1]);
        malformed(format!("{sig}extra line\n").as_bytes());
        malformed(sig.replace("trusted comment: ", "trusted: ").as_bytes());
        malformed(
            sig.replacen("untrusted comment: ", "comment: ", 1)
                .as_bytes(),
        );
        malformed(&[sig.as_bytes(), &[0u8; 3000]].concat());
        let mut not_utf8 = sig.clone().into_bytes();
        let at = sig.find(COMMENT).unwrap();
        not_utf8[at] = 0xff;
        malformed(&not_utf8);
    }

    #[test]
    fn secret_key_write_load_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tawthiq.key");
        let sk = generate();
        sk.write_new(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);

        let before = fs::read(&path).unwrap();
        let again = generate().write_new(&path);
        assert!(matches!(again, Err(KeyError::Exists { .. })), "{again:?}");
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "existing key was modified"
        );

        let loaded = SecretKey::load(&path).unwrap();
        assert_eq!(loaded.public_key(), sk.public_key());
        let sig = SignatureFile::parse(&loaded.sign(MESSAGE, COMMENT)).unwrap();
        sig.verify(&sk.public_key(), MESSAGE).unwrap();

        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            match SecretKey::load(&path) {
                Err(e @ KeyError::LoosePermissions { mode: found, .. }) => {
                    assert_eq!(found, mode);
                    let msg = e.to_string();
                    assert!(msg.contains("chmod 600"), "{msg}");
                    assert!(msg.contains(&format!("(mode {mode:04o})")), "{msg}");
                }
                other => panic!("mode {mode:o} was accepted: {other:?}"),
            }
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        SecretKey::load(&path).unwrap();
    }

    #[test]
    fn secret_key_debug_and_errors_hide_key_material() {
        let sk = generate();
        assert_eq!(format!("{sk:?}"), format!("SecretKey({})", sk.key_id_hex()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        sk.write_new(&path).unwrap();
        let file = fs::read_to_string(&path).unwrap();
        let b64 = file.lines().nth(1).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretKey::load(&path).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(&b64[..20]));
    }

    /// Rewrites the decoded secret key blob of the file at `path`.
    fn edit_secret_blob(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let text = fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let comment = lines.next().unwrap();
        let mut blob = STANDARD.decode(lines.next().unwrap()).unwrap();
        edit(&mut blob);
        fs::write(path, format!("{comment}\n{}\n", STANDARD.encode(&blob))).unwrap();
    }

    type BlobEdit = fn(&mut Vec<u8>);

    #[test]
    fn corrupt_and_encrypted_secret_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, BlobEdit); 7] = [
            ("checksum", |b| b[140] ^= 1),
            ("seed", |b| b[70] ^= 1),
            ("public half", |b| b[100] ^= 1),
            ("keynum", |b| b[55] ^= 1),
            ("algorithm", |b| b[1] = b'x'),
            ("truncated", |b| b.truncate(157)),
            ("encrypted", |b| b[2..4].copy_from_slice(b"Sc")),
        ];
        for (name, edit) in cases {
            let path = dir.path().join(name);
            generate().write_new(&path).unwrap();
            edit_secret_blob(&path, edit);
            let result = SecretKey::load(&path);
            if name == "encrypted" {
                assert!(
                    matches!(result, Err(KeyError::Encrypted { .. })),
                    "{result:?}"
                );
            } else {
                assert!(
                    matches!(result, Err(KeyError::Corrupt { .. })),
                    "{name}: {result:?}"
                );
            }
        }

        // Garbage and oversized files.
        for (name, contents) in [
            ("garbage", b"not a key".to_vec()),
            ("empty", Vec::new()),
            ("huge", vec![b'A'; 10_000]),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, contents).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            let result = SecretKey::load(&path);
            assert!(
                matches!(result, Err(KeyError::Corrupt { .. })),
                "{name}: {result:?}"
            );
        }
        let missing = SecretKey::load(&dir.path().join("missing"));
        assert!(matches!(missing, Err(KeyError::Io { .. })), "{missing:?}");
    }

    #[test]
    fn zero_checksum_is_accepted_like_minisign_w_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let sk = generate();
        sk.write_new(&path).unwrap();
        edit_secret_blob(&path, |b| b[126..].fill(0));
        assert_eq!(
            SecretKey::load(&path).unwrap().public_key(),
            sk.public_key()
        );
    }

    #[test]
    fn public_key_formats() {
        let pk = generate().public_key();
        let id = pk.key_id_hex();
        assert_eq!(id.len(), 16);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        let file = pk.to_file_string();
        assert_eq!(
            file,
            format!(
                "untrusted comment: minisign public key {id}\n{}\n",
                pk.to_base64()
            )
        );
        assert_eq!(PublicKey::parse(&file).unwrap(), pk);
        assert_eq!(PublicKey::parse(&pk.to_base64()).unwrap(), pk);
        assert_eq!(PublicKey::parse(&file.replace('\n', "\r\n")).unwrap(), pk);
        assert_eq!(format!("{pk:?}"), format!("PublicKey({id})"));

        let b64 = pk.to_base64();
        for bad in [
            String::new(),
            "untrusted comment: only a comment".to_owned(),
            format!("{file}{b64}\n"),
            b64[1..].to_owned(),
            format!("x{}", &b64[1..]),
            b64.replacen("RW", "RU", 1),
            format!("comment\n{b64}"),
        ] {
            let result = PublicKey::parse(&bad);
            assert!(
                matches!(result, Err(KeyError::InvalidPublicKey { .. })),
                "{bad:?}: {result:?}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pub");
        pk.write_new(&path).unwrap();
        assert_eq!(mode_of(&path) & 0o600, 0o600);
        assert!(matches!(pk.write_new(&path), Err(KeyError::Exists { .. })));
        assert_eq!(PublicKey::load(&path).unwrap(), pk);
        fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            PublicKey::load(&path),
            Err(KeyError::Corrupt { .. })
        ));
    }

    #[test]
    fn key_id_is_little_endian_like_minisign() {
        assert_eq!(
            key_id_hex([0x92, 0x68, 0x8b, 0xd8, 0x3f, 0x63, 0x2c, 0x00]),
            "002C633FD88B6892"
        );
    }

    // -----------------------------------------------------------------------
    // Interoperability with the real minisign CLI. These tests fail (they do
    // not skip) when `minisign` is not installed.

    fn minisign(args: &[&std::ffi::OsStr]) -> Output {
        Command::new("minisign")
            .args(args)
            .output()
            .expect("the minisign CLI is required for these tests: apt-get install minisign")
    }

    fn combined(output: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    #[test]
    fn minisign_cli_verifies_our_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let msg = dir.path().join("msg");
        let sig_path = dir.path().join("msg.minisig");
        let pub_path = dir.path().join("key.pub");
        let sk = generate();
        let pk = sk.public_key();
        pk.write_new(&pub_path).unwrap();
        fs::write(&msg, MESSAGE).unwrap();

        let long_comment = "z".repeat(MAX_TRUSTED_COMMENT_LEN);
        for comment in [
            COMMENT,
            "",
            " spaces and\ttab ",
            "ünïcödé",
            long_comment.as_str(),
        ] {
            fs::write(&sig_path, sk.sign(MESSAGE, comment)).unwrap();
            let b64 = pk.to_base64();
            for key_args in [["-P", b64.as_str()], ["-p", pub_path.to_str().unwrap()]] {
                let out = minisign(&[
                    "-V".as_ref(),
                    "-m".as_ref(),
                    msg.as_os_str(),
                    "-x".as_ref(),
                    sig_path.as_os_str(),
                    key_args[0].as_ref(),
                    key_args[1].as_ref(),
                ]);
                let text = combined(&out);
                assert!(out.status.success(), "minisign rejected: {text}");
                assert!(
                    text.contains(&format!("Trusted comment: {comment}\n")),
                    "{text}"
                );
            }
        }

        // And minisign must reject a tampered message.
        fs::write(&sig_path, sk.sign(MESSAGE, COMMENT)).unwrap();
        fs::write(&msg, b"tampered").unwrap();
        let out = minisign(&[
            "-V".as_ref(),
            "-m".as_ref(),
            msg.as_os_str(),
            "-x".as_ref(),
            sig_path.as_os_str(),
            "-P".as_ref(),
            pk.to_base64().as_ref(),
        ]);
        assert!(!out.status.success(), "{}", combined(&out));
    }

    #[test]
    fn minisign_cli_signs_with_our_secret_key() {
        let dir = tempfile::tempdir().unwrap();
        let msg = dir.path().join("msg");
        let sk_path = dir.path().join("key");
        let sk = generate();
        sk.write_new(&sk_path).unwrap();
        fs::write(&msg, MESSAGE).unwrap();

        let out = minisign(&[
            "-S".as_ref(),
            "-s".as_ref(),
            sk_path.as_os_str(),
            "-m".as_ref(),
            msg.as_os_str(),
            "-t".as_ref(),
            "signed by the minisign cli".as_ref(),
        ]);
        assert!(
            out.status.success(),
            "minisign -S failed: {}",
            combined(&out)
        );

        let out = minisign(&[
            "-V".as_ref(),
            "-m".as_ref(),
            msg.as_os_str(),
            "-P".as_ref(),
            sk.public_key().to_base64().as_ref(),
        ]);
        assert!(out.status.success(), "{}", combined(&out));
        assert!(combined(&out).contains("Trusted comment: signed by the minisign cli"));

        // Its file uses minisign's own untrusted comment, so it is not canonical.
        let theirs = fs::read(dir.path().join("msg.minisig")).unwrap();
        assert!(matches!(
            SignatureFile::parse(&theirs),
            Err(SigError::NonCanonical(_))
        ));
    }

    #[test]
    fn minisign_cli_generated_unencrypted_key_loads() {
        let dir = tempfile::tempdir().unwrap();
        let sk_path = dir.path().join("mkey");
        let pub_path = dir.path().join("mkey.pub");
        let out = minisign(&[
            "-G".as_ref(),
            "-W".as_ref(),
            "-s".as_ref(),
            sk_path.as_os_str(),
            "-p".as_ref(),
            pub_path.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "minisign -G -W failed: {}",
            combined(&out)
        );

        let sk = SecretKey::load(&sk_path).unwrap();
        let pk = PublicKey::load(&pub_path).unwrap();
        assert_eq!(sk.public_key(), pk);

        // minisign prints the same key id number, without leading zeros.
        let pub_text = fs::read_to_string(&pub_path).unwrap();
        let their_id = pub_text.lines().next().unwrap().rsplit(' ').next().unwrap();
        assert_eq!(
            u64::from_str_radix(their_id, 16).unwrap(),
            u64::from_str_radix(&pk.key_id_hex(), 16).unwrap()
        );

        let msg = dir.path().join("msg");
        let sig_path = dir.path().join("msg.minisig");
        fs::write(&msg, MESSAGE).unwrap();
        fs::write(&sig_path, sk.sign(MESSAGE, COMMENT)).unwrap();
        let out = minisign(&[
            "-V".as_ref(),
            "-m".as_ref(),
            msg.as_os_str(),
            "-p".as_ref(),
            pub_path.as_os_str(),
        ]);
        assert!(out.status.success(), "{}", combined(&out));
    }
}
