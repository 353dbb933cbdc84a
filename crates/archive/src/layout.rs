//! Where everything lives inside a bundle, and the canonical order of its members.
//!
//! Paths are ASCII: platform, ids, hex digests, and escaped names for files taken from exports
//! or folders (an Arabic file name becomes `=D8=B5...`; the original name is kept in
//! `requests.jsonl`). See `docs/bundle-format.md`.
//!
//! The escape character is `=`, not `%`: `BagIt` (RFC 8493, 2.1.3) requires a literal `%` in a
//! manifest path to be written `%25`, which `sha256sum -c` would not understand. With `=` the
//! manifest path, the tar path and the extracted file name are one and the same string.

use model::ContentId;

pub const BAGIT: &str = "bagit.txt";
pub const BAG_INFO: &str = "bag-info.txt";
pub const MANIFEST_SHA256: &str = "manifest-sha256.txt";
pub const MANIFEST_SHA512: &str = "manifest-sha512.txt";
pub const TAGMANIFEST_SHA256: &str = "tagmanifest-sha256.txt";
pub const TAGMANIFEST_SHA512: &str = "tagmanifest-sha512.txt";
pub const SIGNATURE: &str = "signatures/tagmanifest-sha256.txt.minisig";
pub const TIMESTAMP: &str = "signatures/tagmanifest-sha256.txt.tsr";
pub const TSA_CHAIN: &str = "signatures/tsa-chain.pem";
pub const REQUESTS: &str = "data/capture/requests.jsonl";
pub const ACCOUNT: &str = "data/derived/account.json";
pub const POSTS: &str = "data/derived/posts.jsonl";
pub const COMPLETENESS: &str = "data/derived/completeness.json";
pub const ORIGINAL: &str = "data/original/";

pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// Members after the originals, in the order they must appear, and whether each is required.
pub const TAIL: &[(&str, bool)] = &[
    (REQUESTS, true),
    (ACCOUNT, false),
    (POSTS, false),
    (COMPLETENESS, true),
    (BAGIT, true),
    (BAG_INFO, true),
    (MANIFEST_SHA256, true),
    (MANIFEST_SHA512, false),
    (TAGMANIFEST_SHA256, true),
    (TAGMANIFEST_SHA512, false),
    (SIGNATURE, true),
    (TIMESTAMP, false),
    (TSA_CHAIN, false),
];

/// Payload files (under `data/`) are listed in the manifests; tag files are everything else.
pub fn is_payload(rel: &str) -> bool {
    rel.starts_with("data/")
}

/// Escapes every byte outside `[A-Za-z0-9._-]`, and a leading dot, as `=XX` (upper-case hex),
/// so any name becomes one safe ASCII path component (`.`, `..` and hidden names included).
pub fn encode_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let safe = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if safe {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("=00");
    }
    out
}

/// `data/original/export/<each component escaped>` for a file at `rel` inside an export or folder.
pub fn export_path(rel: &str) -> String {
    let parts: Vec<String> = rel
        .split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .map(encode_component)
        .collect();
    format!("{ORIGINAL}export/{}", parts.join("/"))
}

/// `data/original/api/<seq>-<endpoint>.<ext>`.
pub fn api_path(seq: u64, endpoint: &str, ext: &str) -> String {
    format!(
        "{ORIGINAL}api/{seq:06}-{}.{}",
        encode_component(endpoint),
        encode_component(ext)
    )
}

/// `data/original/media/sha256/<2 hex>/<sha256>.<ext>`: content-addressed.
pub fn media_path(id: &ContentId, ext: &str) -> String {
    let hex = id.to_hex();
    format!(
        "{ORIGINAL}media/sha256/{}/{hex}.{}",
        &hex[..2],
        encode_component(ext)
    )
}

/// Is this a path a v1 writer can produce for an original?
pub fn is_original(rel: &str) -> bool {
    rel.starts_with(ORIGINAL)
}

/// Sniffs already-compressed formats from their first bytes, with the extension to use.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("webp")
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        Some(match &head[8..12] {
            b"qt  " => "mov",
            b"heic" | b"heix" | b"mif1" => "heic",
            b"M4A " => "m4a",
            _ => "mp4",
        })
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("webm")
    } else if starts(b"PK\x03\x04") {
        Some("zip")
    } else if starts(&[0x1F, 0x8B]) {
        Some("gz")
    } else if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Some("zst")
    } else if starts(b"OggS") {
        Some("ogg")
    } else if starts(b"ID3") {
        Some("mp3")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_and_hostile_names_become_safe_ascii() {
        assert_eq!(encode_component("صورة.jpg"), "=D8=B5=D9=88=D8=B1=D8=A9.jpg");
        assert_eq!(encode_component(".."), "=2E.");
        assert_eq!(encode_component("a b/c=d%"), "a=20b=2Fc=3Dd=25");
        assert_eq!(
            export_path("../x/./y.json"),
            "data/original/export/=2E./x/=2E/y.json"
        );
        assert!(export_path("مجلد/ملف.txt").is_ascii());
    }

    #[test]
    fn media_paths_fan_out_by_two_hex_digits() {
        let id = ContentId([0xab; 32]);
        assert_eq!(
            media_path(&id, "jpg"),
            format!("data/original/media/sha256/ab/{}.jpg", "ab".repeat(32))
        );
    }

    #[test]
    fn sniffing_knows_common_media() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpg"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some("mp4"));
        assert_eq!(sniff(b"{\"a\":1}"), None);
    }
}
