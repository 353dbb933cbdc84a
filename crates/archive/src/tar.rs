//! The canonical POSIX tar encoding every bundle uses, and its strict decoder.
//!
//! A member is a regular file with mode 0644, uid/gid 0, empty owner names and the bag's
//! mtime. Its path goes in the ustar `name` field when it fits, split over `prefix` and `name`
//! at the first `/` that makes both fit otherwise, and in a pax `x` header (key `path` only)
//! when neither works. The verifier re-encodes every header it reads and compares bytes, so
//! any deviation (a flipped bit in an unused field included) is caught.

pub const BLOCK: usize = 512;
/// Archives end with two zero blocks, then zeros up to a multiple of this (tar's default record).
pub const RECORD: u64 = 10_240;
/// Largest member the 11-digit octal size field holds (8 GiB - 1).
pub const MAX_MEMBER_SIZE: u64 = 0o777_7777_7777;
/// Longest path we write (a pax record can hold more; nothing of ours needs it).
pub const MAX_PATH: usize = 1024;
const PAX_NAME: &[u8] = b"././@PaxHeader";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarError {
    #[error("member {path:?} is {size} bytes; a bundle member holds at most 8 GiB - 1")]
    TooLarge { path: String, size: u64 },
    #[error("member path {0:?} is longer than {MAX_PATH} bytes or not ASCII")]
    BadPath(String),
}

fn put_octal(field: &mut [u8], value: u64) {
    // width-1 octal digits, zero padded, then NUL: the form GNU tar and Python write.
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
}

fn ustar_block(name: &[u8], prefix: &[u8], size: u64, mtime: u64, typeflag: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    put_octal(&mut h[100..108], 0o644);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], size);
    put_octal(&mut h[136..148], mtime);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    put_octal(&mut h[329..337], 0);
    put_octal(&mut h[337..345], 0);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    let sum = checksum(&h);
    // Six octal digits, NUL, space: the historical layout every reader accepts.
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// Sum of the header bytes with the checksum field counted as spaces.
pub fn checksum(h: &[u8; BLOCK]) -> u64 {
    h.iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum()
}

/// Where the ustar fields can hold the path: `(prefix, name)`.
fn ustar_split(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= 100 {
        return Some((&[], path));
    }
    path.iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'/')
        .map(|(i, _)| (&path[..i], &path[i + 1..]))
        .find(|(p, n)| p.len() <= 155 && n.len() <= 100 && !n.is_empty())
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    // "<len> key=value\n" where len counts its own digits.
    let base = key.len() + value.len() + 3;
    let mut len = base + 1;
    while len != base + len.to_string().len() {
        len = base + len.to_string().len();
    }
    format!("{len} {key}={value}\n").into_bytes()
}

/// The canonical header bytes (one block, or a pax header, its records and one block).
pub fn encode_header(path: &str, size: u64, mtime: u64) -> Result<Vec<u8>, TarError> {
    if !path.is_ascii() || path.len() > MAX_PATH || path.is_empty() {
        return Err(TarError::BadPath(path.to_owned()));
    }
    if size > MAX_MEMBER_SIZE {
        return Err(TarError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let bytes = path.as_bytes();
    if let Some((prefix, name)) = ustar_split(bytes) {
        return Ok(ustar_block(name, prefix, size, mtime, b'0').to_vec());
    }
    let records = pax_record("path", path);
    let mut out = ustar_block(PAX_NAME, &[], records.len() as u64, mtime, b'x').to_vec();
    out.extend_from_slice(&records);
    out.resize(out.len() + padding(records.len() as u64), 0);
    out.extend_from_slice(&ustar_block(&bytes[..100], &[], size, mtime, b'0'));
    Ok(out)
}

/// Length of the canonical header for a path of this shape (content does not matter).
pub fn header_len(path: &str) -> Result<usize, TarError> {
    encode_header(path, 0, 0).map(|h| h.len())
}

/// Zero bytes after a member of `size` bytes to reach the next block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// Bytes that close an archive whose members end at `offset`: two zero blocks, then zeros up to
/// the next record boundary.
pub fn end_len(offset: u64) -> u64 {
    let end = offset + 2 * BLOCK as u64;
    end.div_ceil(RECORD) * RECORD - offset
}

/// What a header block says, before any policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    pub typeflag: u8,
    /// `prefix/name` (or `name`), as bytes: may be anything in a hostile archive.
    pub path: Vec<u8>,
    pub size: u64,
    pub mtime: u64,
}

/// Why a header block cannot be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFault {
    Checksum,
    Format,
}

fn field_str(f: &[u8]) -> &[u8] {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..end]
}

fn parse_octal(f: &[u8]) -> Option<u64> {
    let s = field_str(f);
    let s = s.strip_suffix(b" ").unwrap_or(s);
    let s = s
        .iter()
        .skip_while(|&&b| b == b' ')
        .copied()
        .collect::<Vec<u8>>();
    if s.is_empty() || s.len() > 22 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if (b'0'..=b'7').contains(&b) {
            acc.checked_mul(8)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

pub fn is_zero_block(h: &[u8; BLOCK]) -> bool {
    h.iter().all(|&b| b == 0)
}

/// Reads one header block: checksum and ustar magic first, then the fields.
pub fn parse_block(h: &[u8; BLOCK]) -> Result<RawHeader, HeaderFault> {
    let stored = parse_octal(&h[148..156]).ok_or(HeaderFault::Checksum)?;
    if stored != checksum(h) {
        return Err(HeaderFault::Checksum);
    }
    if &h[257..263] != b"ustar\0" || &h[263..265] != b"00" {
        return Err(HeaderFault::Format);
    }
    let size = parse_octal(&h[124..136]).ok_or(HeaderFault::Format)?;
    let mtime = parse_octal(&h[136..148]).ok_or(HeaderFault::Format)?;
    let name = field_str(&h[..100]);
    let prefix = field_str(&h[345..500]);
    let path = if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    };
    Ok(RawHeader {
        typeflag: h[156],
        path,
        size,
        mtime,
    })
}

/// Parses pax extended-header records. Only `path` is allowed in a bundle.
pub fn parse_pax(records: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = records;
    while !rest.is_empty() {
        let sp = rest
            .iter()
            .take(21)
            .position(|&b| b == b' ')
            .ok_or("pax record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record length is not a number")?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("pax record length does not match its content".into());
        }
        let body =
            std::str::from_utf8(&rest[sp + 1..len - 1]).map_err(|_| "pax record is not UTF-8")?;
        let (k, v) = body.split_once('=').ok_or("pax record without '='")?;
        out.push((k.to_owned(), v.to_owned()));
        rest = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_very_long_paths_round_trip() {
        let short = "b/data/x.json".to_string();
        let split = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let pax = format!("{}/{}", "d".repeat(40), "f".repeat(200));
        for (path, blocks) in [(short, 1), (split, 1), (pax.clone(), 3)] {
            let h = encode_header(&path, 1234, 1_700_000_000).unwrap();
            assert_eq!(h.len(), blocks * BLOCK, "{path}");
            let last: [u8; BLOCK] = h[h.len() - BLOCK..].try_into().unwrap();
            let raw = parse_block(&last).unwrap();
            assert_eq!(raw.size, 1234);
            if blocks == 1 {
                assert_eq!(raw.path, path.as_bytes());
            } else {
                let first: [u8; BLOCK] = h[..BLOCK].try_into().unwrap();
                let pax_size = parse_block(&first).unwrap().size as usize;
                let recs = parse_pax(&h[BLOCK..BLOCK + pax_size]).unwrap();
                assert_eq!(recs, vec![("path".to_string(), pax.clone())]);
            }
        }
    }

    #[test]
    fn pax_record_length_counts_itself() {
        for n in [1, 5, 6, 7, 90, 95, 96, 97, 990, 995, 996] {
            let r = pax_record("path", &"a".repeat(n));
            let (len, _) = std::str::from_utf8(&r).unwrap().split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len());
        }
    }

    #[test]
    fn checksum_detects_a_flipped_bit() {
        let mut h: [u8; BLOCK] = encode_header("a/b", 1, 0).unwrap().try_into().unwrap();
        h[3] ^= 1;
        assert_eq!(parse_block(&h), Err(HeaderFault::Checksum));
    }

    #[test]
    fn end_of_archive_reaches_a_record_boundary() {
        assert_eq!(end_len(0), RECORD);
        assert_eq!(end_len(RECORD - 1024), 1024);
        assert_eq!(end_len(RECORD - 512), RECORD + 512);
    }

    #[test]
    fn oversized_members_are_refused() {
        assert!(encode_header("a", MAX_MEMBER_SIZE + 1, 0).is_err());
        assert!(encode_header("a", MAX_MEMBER_SIZE, 0).is_ok());
    }
}
