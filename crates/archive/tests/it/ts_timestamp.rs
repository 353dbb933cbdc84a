//! End-to-end tests of `timestamp` against the openssl-backed `LocalTsa` fixture.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use archive::timestamp::{Timestamp, TimestampError, request, verify};
use sha2::Digest as _;
use testkit::Rng;
use testkit::local_tsa::{LocalTsa, TsaKey, TsaMode, TsaOptions};

const DATA: &[u8] = b"0123abcd  bagit.txt\nfeedbeef  manifest-sha256.txt\n";
const TIMEOUT: Duration = Duration::from_secs(10);

fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

fn start(options: TsaOptions) -> (tempfile::TempDir, LocalTsa) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tsa = LocalTsa::start_with(dir.path(), options);
    (dir, tsa)
}

fn issue(tsa: &LocalTsa) -> Timestamp {
    request(&tsa.url, &sha256(DATA), TIMEOUT).expect("timestamp request")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Runs `openssl ts -verify` as an auditor would and returns (success, stdout + stderr).
fn openssl_verify(work: &Path, data: &[u8], ts: &Timestamp, root_pem: &Path) -> (bool, String) {
    std::fs::write(work.join("tagmanifest-sha256.txt"), data).unwrap();
    std::fs::write(work.join("tagmanifest-sha256.txt.tsr"), &ts.response_der).unwrap();
    std::fs::write(work.join("tsa-chain.pem"), &ts.chain_pem).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-data", "tagmanifest-sha256.txt"])
        .args(["-in", "tagmanifest-sha256.txt.tsr", "-CAfile"])
        .arg(root_pem)
        .args(["-untrusted", "tsa-chain.pem"])
        .current_dir(work)
        .output()
        .expect("running openssl ts -verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Writes `DATA` into the TSA's folder and makes a query for it with `openssl ts -query`.
fn openssl_query(tsa: &LocalTsa, args: &[&str], out: &str) -> Vec<u8> {
    std::fs::write(tsa.dir.join("data.txt"), DATA).unwrap();
    let o = Command::new("openssl")
        .args(["ts", "-query", "-data", "data.txt"])
        .args(args)
        .args(["-out", out])
        .current_dir(&tsa.dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read(&tsa.dir.join(out))
}

fn pem_blocks(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let (_, der) = pem_rfc7468::decode_vec(pem).expect("pem");
    der
}

#[test]
fn request_then_verify_with_and_without_root() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let now = time::OffsetDateTime::now_utc();
    assert!(
        (now - ts.gen_time).abs() < time::Duration::minutes(1),
        "{}",
        ts.gen_time
    );

    // Signer first, then the intermediate the TSA put in the token.
    assert_eq!(pem_blocks(&ts.chain_pem), 2);
    let tsa_cert = std::fs::read_to_string(&tsa.tsa_cert_pem).unwrap();
    assert!(
        ts.chain_pem.starts_with(tsa_cert.trim_end()),
        "signer must come first"
    );

    let hash = sha256(DATA);
    let unchecked = verify(&ts.response_der, &hash, Some(ts.chain_pem.as_bytes()), None).unwrap();
    assert!(!unchecked.chain_checked);
    assert_eq!(unchecked.gen_time, ts.gen_time);
    assert_eq!(unchecked.tsa_subject, "CN=Tawthiq Test TSA,O=Tawthiq Test");

    let root = read(&tsa.root_pem);
    let checked = verify(
        &ts.response_der,
        &hash,
        Some(ts.chain_pem.as_bytes()),
        Some(&root),
    )
    .unwrap();
    assert!(checked.chain_checked);
    assert!((now - checked.gen_time).abs() < time::Duration::minutes(1));

    // The token carries the chain, so neither needs tsa-chain.pem.
    assert!(
        !verify(&ts.response_der, &hash, None, None)
            .unwrap()
            .chain_checked
    );
    assert!(
        verify(&ts.response_der, &hash, None, Some(&root))
            .unwrap()
            .chain_checked
    );
    assert_eq!(tsa.requests_served(), 1);
}

#[test]
fn query_is_understood_by_openssl() {
    let (_dir, tsa) = start(TsaOptions::default());
    issue(&tsa);
    let out = Command::new("openssl")
        .args(["ts", "-query", "-in", "last.tsq", "-text"])
        .current_dir(&tsa.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Version: 1"), "{text}");
    assert!(text.contains("Hash Algorithm: sha256"), "{text}");
    assert!(text.contains("Nonce: 0x"), "{text}");
    assert!(text.contains("Certificate required: yes"), "{text}");
}

#[test]
fn stored_response_verifies_with_openssl_cli() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let work = tempfile::tempdir().unwrap();
    let (ok, text) = openssl_verify(work.path(), DATA, &ts, &tsa.root_pem);
    assert!(ok && text.contains("Verification: OK"), "{text}");

    // And the auditor's check fails for other data.
    let (ok, text) = openssl_verify(work.path(), b"other data", &ts, &tsa.root_pem);
    assert!(!ok && !text.contains("Verification: OK"), "{text}");
}

#[test]
fn other_signer_keys_and_digests() {
    let cases = [
        (TsaKey::EcP256, "sha256", "sha256"),
        (TsaKey::EcP384, "sha384", "sha384"),
        (TsaKey::EcP256, "sha512", "sha256"),
        (TsaKey::Rsa2048, "sha384", "sha256"),
        (TsaKey::Rsa2048, "sha512", "sha512"),
        // ESS signing-certificate v1 (SHA-1 certificate hash).
        (TsaKey::Rsa2048, "sha256", "sha1"),
    ];
    let hash = sha256(DATA);
    for (key, signer_digest, ess_cert_id_alg) in cases {
        let label = format!("{key:?}/{signer_digest}/ess {ess_cert_id_alg}");
        let (_dir, tsa) = start(TsaOptions {
            key,
            signer_digest,
            ess_cert_id_alg,
        });
        let ts = issue(&tsa);
        let root = read(&tsa.root_pem);
        let v = verify(
            &ts.response_der,
            &hash,
            Some(ts.chain_pem.as_bytes()),
            Some(&root),
        )
        .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(v.chain_checked, "{label}");
        assert!(matches!(
            verify(&ts.response_der, &sha256(b"x"), None, Some(&root)),
            Err(TimestampError::ImprintMismatch)
        ));
        let work = tempfile::tempdir().unwrap();
        let (ok, text) = openssl_verify(work.path(), DATA, &ts, &tsa.root_pem);
        assert!(ok && text.contains("Verification: OK"), "{label}: {text}");
    }
}

#[test]
fn wrong_data_is_imprint_mismatch() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let root = read(&tsa.root_pem);
    let other = sha256(b"tampered tag manifest");
    for root in [None, Some(root.as_slice())] {
        let err = verify(
            &ts.response_der,
            &other,
            Some(ts.chain_pem.as_bytes()),
            root,
        )
        .unwrap_err();
        assert!(matches!(err, TimestampError::ImprintMismatch), "{err}");
    }
}

#[test]
fn different_root_is_chain_invalid() {
    let (_dir, tsa) = start(TsaOptions::default());
    // Same subject names, different keys.
    let (_other_dir, other) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let hash = sha256(DATA);
    let other_root = read(&other.root_pem);
    let err = verify(
        &ts.response_der,
        &hash,
        Some(ts.chain_pem.as_bytes()),
        Some(&other_root),
    )
    .unwrap_err();
    assert!(matches!(err, TimestampError::ChainInvalid(_)), "{err}");
    let msg = err.to_string();
    assert_eq!(msg, msg.to_lowercase());
    assert!(!msg.contains('\n'));

    // Offering the other TSA's intermediate does not help either.
    let mut chain = std::fs::read_to_string(&other.intermediate_pem).unwrap();
    chain.push_str(&ts.chain_pem);
    let err = verify(
        &ts.response_der,
        &hash,
        Some(chain.as_bytes()),
        Some(&other_root),
    )
    .unwrap_err();
    assert!(matches!(err, TimestampError::ChainInvalid(_)), "{err}");

    // A root bundle that contains the right root works.
    let mut bundle = other_root.clone();
    bundle.extend_from_slice(&read(&tsa.root_pem));
    assert!(
        verify(&ts.response_der, &hash, None, Some(&bundle))
            .unwrap()
            .chain_checked
    );

    // Rubbish as root is a chain error, not a panic.
    for bad in [
        &b""[..],
        b"not pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let err = verify(&ts.response_der, &hash, None, Some(bad)).unwrap_err();
        assert!(matches!(err, TimestampError::ChainInvalid(_)), "{err}");
    }
}

#[test]
fn token_without_certificates_needs_chain_pem() {
    let (_dir, tsa) = start(TsaOptions::default());
    // certReq absent: the TSA leaves its certificates out of the token.
    let tsr = tsa.reply_to_query(&openssl_query(&tsa, &["-sha256"], "nocert.tsq"));
    let hash = sha256(DATA);
    let root = read(&tsa.root_pem);

    let err = verify(&tsr, &hash, None, None).unwrap_err();
    assert!(matches!(err, TimestampError::SignatureInvalid(_)), "{err}");

    let mut chain = std::fs::read_to_string(&tsa.tsa_cert_pem).unwrap();
    let v = verify(&tsr, &hash, Some(chain.as_bytes()), None).unwrap();
    assert!(!v.chain_checked);
    // Signer alone cannot reach the root: the intermediate is missing.
    let err = verify(&tsr, &hash, Some(chain.as_bytes()), Some(&root)).unwrap_err();
    assert!(matches!(err, TimestampError::ChainInvalid(_)), "{err}");
    chain.push_str(&std::fs::read_to_string(&tsa.intermediate_pem).unwrap());
    assert!(
        verify(&tsr, &hash, Some(chain.as_bytes()), Some(&root))
            .unwrap()
            .chain_checked
    );

    // The other TSA's certificate (same names, other key) is not accepted as signer.
    let (_other_dir, other) = start(TsaOptions::default());
    let other_chain = std::fs::read(&other.tsa_cert_pem).unwrap();
    let err = verify(&tsr, &hash, Some(&other_chain), None).unwrap_err();
    assert!(matches!(err, TimestampError::SignatureInvalid(_)), "{err}");
}

#[test]
fn sha384_imprint_is_unsupported() {
    let (_dir, tsa) = start(TsaOptions::default());
    let tsr = tsa.reply_to_query(&openssl_query(&tsa, &["-sha384", "-cert"], "384.tsq"));
    let err = verify(&tsr, &sha256(DATA), None, None).unwrap_err();
    assert!(matches!(err, TimestampError::Unsupported(_)), "{err}");
}

/// Flips bytes of a good response (three ways); none may verify with the root. Without the
/// root, only bytes of the intermediate certificate (which nothing then uses) may change
/// without effect, and the status byte may turn "granted" into "grantedWithMods".
///
/// Every byte outside the intermediate certificate is flipped with every mask; inside it (where
/// each try costs a full chain verification) every second byte with 0xff and every seventh
/// with the other masks.
#[test]
fn flipped_bytes_never_verify() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let hash = sha256(DATA);
    let root = read(&tsa.root_pem);
    let intermediate = pem_to_der(&read(&tsa.intermediate_pem));
    let start = find(&ts.response_der, &intermediate).expect("intermediate in token");
    let unused = start..start + intermediate.len();
    // The PKIStatus INTEGER content: 30 82 LL LL 30 03 02 01 00.
    assert_eq!(&ts.response_der[4..9], &[0x30, 0x03, 0x02, 0x01, 0x00]);
    let status_byte = 8;

    let mut tsr = ts.response_der.clone();
    let mut tried = 0usize;
    for i in 0..tsr.len() {
        for mask in [0xffu8, 0x01, 0x80] {
            let step = if mask == 0xff { 2 } else { 7 };
            if unused.contains(&i) && (i - unused.start) % step != 0 {
                continue;
            }
            tried += 1;
            tsr[i] ^= mask;
            let grantedwithmods = i == status_byte && mask == 0x01;
            let with_root = verify(&tsr, &hash, None, Some(&root));
            assert!(
                with_root.is_err() || grantedwithmods,
                "byte {i} ^ {mask:#04x} verified with the root"
            );
            let without = verify(&tsr, &hash, None, None);
            assert!(
                without.is_err() || unused.contains(&i) || grantedwithmods,
                "byte {i} ^ {mask:#04x} verified without root"
            );
            tsr[i] ^= mask;
        }
    }
    assert!(tried > 2 * tsr.len());
    assert!(verify(&tsr, &hash, None, Some(&root)).is_ok());
}

#[test]
fn truncated_and_extended_inputs_never_verify() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let hash = sha256(DATA);
    let root = read(&tsa.root_pem);
    for len in 0..ts.response_der.len() {
        let cut = &ts.response_der[..len];
        assert!(
            verify(cut, &hash, None, Some(&root)).is_err(),
            "prefix {len}"
        );
        assert!(verify(cut, &hash, None, None).is_err(), "prefix {len}");
        let tail = &ts.response_der[len + 1..];
        assert!(
            verify(tail, &hash, None, None).is_err(),
            "suffix from {}",
            len + 1
        );
    }
    let mut longer = ts.response_der.clone();
    longer.push(0);
    assert!(matches!(
        verify(&longer, &hash, None, None),
        Err(TimestampError::Malformed(_))
    ));
    // The chain PEM: truncated anywhere, it must not panic (and never yields a checked chain
    // through a broken intermediate).
    let chain = ts.chain_pem.as_bytes();
    for len in (0..chain.len()).step_by(7) {
        let _ = verify(&ts.response_der, &hash, Some(&chain[..len]), Some(&root));
    }
}

#[test]
fn random_mutations_never_panic() {
    let (_dir, tsa) = start(TsaOptions::default());
    let ts = issue(&tsa);
    let hash = sha256(DATA);
    let root = read(&tsa.root_pem);
    let mut rng = Rng(0x7a77_7468_6971_0001);
    for round in 0..3000 {
        let mut input = ts.response_der.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(input.len());
            match rng.below(4) {
                0 => input[at] = u8::try_from(rng.next() & 0xff).unwrap(),
                1 => {
                    input.remove(at);
                }
                2 => input.insert(at, u8::try_from(rng.next() & 0xff).unwrap()),
                _ => {
                    // Set a length-ish byte to a large value.
                    input[at] = [0x80, 0x81, 0x82, 0x84, 0xff][rng.below(5)];
                }
            }
        }
        if input != ts.response_der {
            let _ = verify(&input, &hash, None, Some(&root));
            let r = verify(&input, &hash, None, None);
            // Mutations that change a byte to the same value or only touch the unused
            // intermediate may still verify; nothing else should.
            if r.is_ok() && round % 500 == 0 {
                eprintln!("round {round}: mutation still verifies without root");
            }
        }
    }
    // Pure garbage.
    for len in [0usize, 1, 2, 16, 100, 5000] {
        let junk: Vec<u8> = (0..len)
            .map(|_| u8::try_from(rng.next() & 0xff).unwrap())
            .collect();
        assert!(verify(&junk, &hash, None, None).is_err());
        assert!(verify(&junk, &hash, Some(&junk), Some(&junk)).is_err());
    }
}

#[test]
fn oversized_and_hostile_inputs_are_rejected_quickly() {
    let hash = [0u8; 32];
    let big = vec![0x30u8; 1024 * 1024 + 1];
    assert!(matches!(
        verify(&big, &hash, None, None),
        Err(TimestampError::Malformed(_))
    ));

    // A SET OF with many reversed elements (quadratic sorting in a naive decoder), and
    // deep nesting: both must fail fast.
    let mut elems = Vec::new();
    for i in (0u32..60_000).rev() {
        elems.extend_from_slice(&[0x02, 0x04]);
        elems.extend_from_slice(&(i | 0x0100_0000).to_be_bytes());
    }
    let mut set = vec![0x31, 0x84];
    set.extend_from_slice(&u32::try_from(elems.len()).unwrap().to_be_bytes());
    set.extend_from_slice(&elems);
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        deep.extend_from_slice(&[0x30, 0x80]);
    }
    let started = Instant::now();
    for input in [&set, &deep] {
        assert!(matches!(
            verify(input, &hash, None, None),
            Err(TimestampError::Malformed(_))
        ));
        assert!(verify(&hash, &hash, Some(input), Some(input)).is_err());
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn unreachable_tsa_fails_fast() {
    let url = LocalTsa::unreachable_url();
    let started = Instant::now();
    let err = request(&url, &sha256(DATA), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, TimestampError::Unreachable(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let msg = err.to_string();
    assert_eq!(msg, msg.to_lowercase(), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn silent_tsa_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let holder = std::thread::spawn(move || {
        // Accept and keep the connection open without answering.
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let started = Instant::now();
    let err = request(&url, &sha256(DATA), Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, TimestampError::Unreachable(_)), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    holder.join().unwrap();
}

#[test]
fn credentials_never_appear_in_errors() {
    let base = LocalTsa::unreachable_url();
    let url =
        base.replace("http://", "http://alice:Hunter2Secret@") + "?api_key=TopSecretKey123&x=1";
    let err = request(&url, &sha256(DATA), Duration::from_secs(2)).unwrap_err();
    let msg = format!("{err} {err:?}");
    for secret in [
        "alice",
        "hunter2secret",
        "Hunter2Secret",
        "topsecretkey123",
        "TopSecretKey123",
    ] {
        assert!(!msg.contains(secret), "{secret} leaked: {msg}");
    }
    assert!(msg.contains("127.0.0.1"), "{msg}");

    let err = request("not a url user:pw@", &sha256(DATA), TIMEOUT).unwrap_err();
    assert!(matches!(err, TimestampError::Unreachable(_)), "{err}");
    assert!(!err.to_string().contains("pw"));
    let err = request("ftp://u:pw1234@host/", &sha256(DATA), TIMEOUT).unwrap_err();
    assert!(!err.to_string().contains("pw1234"), "{err}");
}

#[test]
fn tsa_failures_are_reported() {
    let (_dir, tsa) = start(TsaOptions::default());
    let hash = sha256(DATA);

    tsa.set_mode(TsaMode::HttpStatus(503));
    let err = request(&tsa.url, &hash, TIMEOUT).unwrap_err();
    assert!(matches!(err, TimestampError::Http(503)), "{err}");

    tsa.set_mode(TsaMode::Reject);
    let err = request(&tsa.url, &hash, TIMEOUT).unwrap_err();
    match &err {
        TimestampError::Rejected { status, text } => {
            assert_eq!(*status, 2, "{err}");
            assert!(text.contains("bad algorithm"), "{err}");
        }
        other => panic!("expected a rejection, got {other}"),
    }
    let msg = err.to_string();
    assert_eq!(msg, msg.to_lowercase());

    // A replayed answer to an earlier query (same data): the nonce gives it away.
    tsa.set_mode(TsaMode::ReplayFirst);
    let err = request(&tsa.url, &hash, TIMEOUT).unwrap_err();
    assert!(matches!(err, TimestampError::NonceMismatch), "{err}");
    // For other data the imprint does.
    let err = request(&tsa.url, &sha256(b"other"), TIMEOUT).unwrap_err();
    assert!(matches!(err, TimestampError::ImprintMismatch), "{err}");

    tsa.set_mode(TsaMode::Normal);
    assert!(request(&tsa.url, &hash, TIMEOUT).is_ok());
}

#[test]
fn fixture_refuses_oversized_and_non_post_requests() {
    use std::io::{Read as _, Write as _};
    let (_dir, tsa) = start(TsaOptions::default());
    let addr = tsa
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/tsa")
        .to_owned();
    let exchange = |raw: &[u8]| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(raw);
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    let big = format!(
        "POST /tsa HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: {}\r\n\r\n",
        70 * 1024
    );
    assert!(exchange(big.as_bytes()).starts_with("HTTP/1.1 413"));
    assert!(exchange(b"GET /tsa HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
}
