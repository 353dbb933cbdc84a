//! Tokens edited and re-signed with the fixture TSA's own (P-256) key, to reach verifier paths
//! that `openssl ts -reply` never produces: a subjectKeyIdentifier signer, missing or wrong
//! signed attributes, extra signers, signatures by other keys.

use archive::timestamp::{TimestampError, VerifiedTimestamp, request, verify};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey as _;
use sha2::Digest as _;
use testkit::local_tsa::{LocalTsa, TsaKey, TsaOptions};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::SubjectKeyIdentifier;

const DATA: &[u8] = b"tag manifest for re-signing tests\n";
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

#[derive(Sequence)]
struct Resp {
    status: Any,
    token: ContentInfo,
}

struct Fixture {
    _dir: tempfile::TempDir,
    tsa: LocalTsa,
    tsr: Vec<u8>,
    key: p256::ecdsa::SigningKey,
    root: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tsa = LocalTsa::start_with(
        dir.path(),
        TsaOptions {
            key: TsaKey::EcP256,
            ..TsaOptions::default()
        },
    );
    let ts = request(&tsa.url, &hash(DATA), std::time::Duration::from_secs(10)).unwrap();
    let key_pem = std::fs::read_to_string(tsa.dir.join("tsa.key")).unwrap();
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&key_pem).unwrap();
    let root = std::fs::read(&tsa.root_pem).unwrap();
    Fixture {
        _dir: dir,
        tsa,
        tsr: ts.response_der,
        key,
        root,
    }
}

fn hash(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// Decodes the token, lets `edit` change it, re-signs the (first) signer's signed attributes
/// with `key` and re-encodes the response.
fn resign(
    tsr: &[u8],
    key: &p256::ecdsa::SigningKey,
    edit: impl FnOnce(&mut SignedData),
) -> Vec<u8> {
    let mut resp = Resp::from_der(tsr).unwrap();
    let mut sd: SignedData = resp.token.content.decode_as().unwrap();
    edit(&mut sd);
    let mut infos = sd.signer_infos.0.into_vec();
    if let Some(attrs) = &infos[0].signed_attrs {
        let sig: p256::ecdsa::Signature = key.sign(&attrs.to_der().unwrap());
        infos[0].signature = OctetString::new(sig.to_der().as_bytes()).unwrap();
    }
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
    resp.token.content = Any::encode_from(&sd).unwrap();
    resp.to_der().unwrap()
}

/// Replaces the attributes of the first signer.
fn edit_attrs(sd: &mut SignedData, f: impl FnOnce(&mut Vec<Attribute>)) {
    let mut infos = sd.signer_infos.0.clone().into_vec();
    let mut attrs = infos[0].signed_attrs.take().unwrap().into_vec();
    f(&mut attrs);
    infos[0].signed_attrs = Some(SetOfVec::try_from(attrs).unwrap());
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
}

fn check(f: &Fixture, tsr: &[u8]) -> Result<VerifiedTimestamp, TimestampError> {
    verify(tsr, &hash(DATA), None, Some(&f.root))
}

#[test]
fn resigning_unchanged_token_still_verifies() {
    let f = fixture();
    let tsr = resign(&f.tsr, &f.key, |_| {});
    assert!(check(&f, &tsr).unwrap().chain_checked);
}

#[test]
fn subject_key_identifier_signer_is_found() {
    let f = fixture();
    let cert_pem = std::fs::read(&f.tsa.tsa_cert_pem).unwrap();
    let (_, cert_der) = pem_rfc7468::decode_vec(&cert_pem).unwrap();
    let cert = Certificate::from_der(&cert_der).unwrap();
    let (_, ski) = cert
        .tbs_certificate
        .get::<SubjectKeyIdentifier>()
        .unwrap()
        .unwrap();

    let set_sid = |ski: SubjectKeyIdentifier| {
        move |sd: &mut SignedData| {
            let mut infos = sd.signer_infos.0.clone().into_vec();
            infos[0].sid = SignerIdentifier::SubjectKeyIdentifier(ski);
            infos[0].version = CmsVersion::V3;
            sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
        }
    };
    let tsr = resign(&f.tsr, &f.key, set_sid(ski.clone()));
    assert!(check(&f, &tsr).unwrap().chain_checked);

    // (`openssl ts -verify` cannot check this one: its PKCS#7 code only knows
    // issuerAndSerialNumber signer identifiers.)

    let mut other = ski.0.as_bytes().to_vec();
    other[0] ^= 1;
    let tsr = resign(
        &f.tsr,
        &f.key,
        set_sid(SubjectKeyIdentifier(OctetString::new(other).unwrap())),
    );
    assert!(matches!(
        check(&f, &tsr),
        Err(TimestampError::SignatureInvalid(_))
    ));
}

#[test]
fn signed_attribute_problems_are_rejected() {
    let f = fixture();

    // No ESS signing-certificate attribute.
    let tsr = resign(&f.tsr, &f.key, |sd| {
        edit_attrs(sd, |a| a.retain(|x| x.oid != OID_SIGNING_CERT_V2));
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");

    // Wrong content type.
    let tsr = resign(&f.tsr, &f.key, |sd| {
        edit_attrs(sd, |a| {
            for x in a.iter_mut().filter(|x| x.oid == OID_CONTENT_TYPE) {
                x.values =
                    SetOfVec::try_from(vec![Any::encode_from(&OID_ID_DATA).unwrap()]).unwrap();
            }
        });
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");

    // Message digest of something else, properly signed.
    let tsr = resign(&f.tsr, &f.key, |sd| {
        edit_attrs(sd, |a| {
            for x in a.iter_mut().filter(|x| x.oid == OID_MESSAGE_DIGEST) {
                let other = OctetString::new(hash(b"other").to_vec()).unwrap();
                x.values = SetOfVec::try_from(vec![Any::encode_from(&other).unwrap()]).unwrap();
            }
        });
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::SignatureInvalid(_)), "{err}");

    // Two message digests.
    let tsr = resign(&f.tsr, &f.key, |sd| {
        edit_attrs(sd, |a| {
            for x in a.iter_mut().filter(|x| x.oid == OID_MESSAGE_DIGEST) {
                let mut values = x.values.clone().into_vec();
                let other = OctetString::new(hash(b"other").to_vec()).unwrap();
                values.push(Any::encode_from(&other).unwrap());
                x.values = SetOfVec::try_from(values).unwrap();
            }
        });
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");

    // No signed attributes at all (signature over the content instead is not accepted).
    let tsr = resign(&f.tsr, &f.key, |sd| {
        let mut infos = sd.signer_infos.0.clone().into_vec();
        infos[0].signed_attrs = None;
        sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");
}

#[test]
fn signatures_by_other_keys_and_extra_signers_are_rejected() {
    let f = fixture();
    let stranger = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let tsr = resign(&f.tsr, &stranger, |_| {});
    for root in [None, Some(f.root.as_slice())] {
        let err = verify(&tsr, &hash(DATA), None, root).unwrap_err();
        assert!(matches!(err, TimestampError::SignatureInvalid(_)), "{err}");
    }

    // A second (identical but for the signature) signer.
    let tsr = resign(&f.tsr, &f.key, |sd| {
        let mut infos = sd.signer_infos.0.clone().into_vec();
        let mut second = infos[0].clone();
        second.signature = OctetString::new(vec![0x30, 0x00]).unwrap();
        infos.push(second);
        sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).unwrap());
    });
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");

    // A token whose SignedData version is wrong.
    let tsr = resign(&f.tsr, &f.key, |sd| sd.version = CmsVersion::V1);
    let err = check(&f, &tsr).unwrap_err();
    assert!(matches!(err, TimestampError::Malformed(_)), "{err}");
}
