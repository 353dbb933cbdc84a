//! Test support for tawthiq (never a dependency of the shipped binary).
//!
//! - [`LocalTsa`]: a local RFC 3161 time-stamping authority made with the `openssl` CLI, so
//!   timestamp tests need no network.

pub mod local_tsa;

pub use local_tsa::{LocalTsa, TsaKey, TsaMode, TsaOptions};

/// Deterministic pseudo-random bytes (xorshift64): incompressible, like real media.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Incompressible bytes behind a JPEG signature.
pub fn jpeg(seed: u64, len: usize) -> Vec<u8> {
    let mut v = noise(seed, len);
    v[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    v
}

/// Incompressible bytes behind an MP4 `ftyp` box.
pub fn mp4(seed: u64, len: usize) -> Vec<u8> {
    let mut v = noise(seed, len);
    v[..12].copy_from_slice(b"\0\0\0\x18ftypmp42");
    v
}

/// A small deterministic PRNG (xorshift64*) for mutation and fuzz-style tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n")
    }

    pub fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}
