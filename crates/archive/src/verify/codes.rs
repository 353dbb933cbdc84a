//! The verifier's stable finding codes. Codes are never renumbered or reused; the normative
//! list with meanings is `docs/bundle-format.md` (a test keeps the two in step).

use serde::Serialize;

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $meaning:literal;)*) => {
        /// One kind of finding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            /// `TQ-E0xx` (error) or `TQ-W0xx` (warning).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
            /// What the code means, in one line.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)* }
            }
        }
    };
}

codes! {
    NotABundle = "TQ-E001", Error, "the input is neither a seekable-zstd nor a plain tar bundle";
    ZstdTruncated = "TQ-E010", Error, "the file ends inside a zstd frame";
    ZstdFrameHeader = "TQ-E011", Error, "a zstd frame header is invalid, needs a dictionary, or its content size is wrong";
    ZstdBlock = "TQ-E012", Error, "a zstd block is invalid (reserved type or oversized)";
    ZstdChecksum = "TQ-E013", Error, "a zstd frame's content checksum does not match its content";
    ZstdNoChecksum = "TQ-E014", Error, "a zstd frame has no content checksum";
    ZstdFrameTooLarge = "TQ-E015", Error, "a zstd frame claims or needs more than the 8 MiB limit (refused, not allocated)";
    ZstdCorrupt = "TQ-E016", Error, "libzstd could not decode a compressed frame";
    SeekTableMissing = "TQ-E017", Error, "the seek table is not the last frame";
    SeekTableInvalid = "TQ-E018", Error, "the seek table frame or its footer is malformed";
    SeekTableMismatch = "TQ-E019", Error, "the seek table disagrees with the frames in the file";
    IndexMissing = "TQ-E020", Error, "the member index frame is missing or misplaced";
    IndexMismatch = "TQ-E021", Error, "the member index disagrees with the tar members or the stored frames";
    UnexpectedSkippable = "TQ-E022", Error, "an unknown skippable frame, or a frame after the index";
    TrailingData = "TQ-E023", Error, "bytes follow the end of the bundle";
    TarTruncated = "TQ-E030", Error, "the tar stream ends inside a member or before its end-of-archive blocks";
    TarHeaderChecksum = "TQ-E031", Error, "a tar header's checksum does not match";
    TarHeaderFormat = "TQ-E032", Error, "a tar header is not ustar or has an unreadable field";
    TarNonCanonical = "TQ-E033", Error, "a tar header or padding differs from the canonical encoding";
    MemberLink = "TQ-E034", Error, "a member is a symbolic or hard link";
    MemberDevice = "TQ-E035", Error, "a member is a device or FIFO";
    MemberType = "TQ-E036", Error, "a member is of a type bundles never hold (directory, GNU long name, unknown)";
    PaxGlobal = "TQ-E037", Error, "the archive has a pax global header";
    PaxInvalid = "TQ-E038", Error, "a pax extended header is malformed or has keys other than path";
    PathAbsolute = "TQ-E039", Error, "a member path is absolute";
    PathDotDot = "TQ-E040", Error, "a member path has a '..' component";
    PathUnsafe = "TQ-E041", Error, "a member path is not ASCII or has empty, '.', backslash or control characters";
    PathDuplicate = "TQ-E042", Error, "two members have the same path (also after case folding)";
    PathOutsideBag = "TQ-E043", Error, "a member is not inside the one top folder named after a valid bundle id";
    MemberOrder = "TQ-E044", Error, "members are not in canonical order";
    TarEnd = "TQ-E045", Error, "the end-of-archive blocks or the padding after them are not canonical";
    MtimeMismatch = "TQ-E046", Error, "member mtimes differ from the Bagging-Date";
    MemberTooLarge = "TQ-E047", Error, "a tag file is larger than its limit (refused, not read into memory)";
    TooManyMembers = "TQ-E048", Error, "the bundle has more members than the verifier's limit";
    BagitDeclaration = "TQ-E050", Error, "bagit.txt is not exactly the BagIt 1.0 declaration";
    TagFileMissing = "TQ-E051", Error, "a required file is missing (bag-info, manifests, capture log, completeness, signature)";
    UnknownMember = "TQ-E052", Error, "a file that no v1 bundle holds (extra tag file, unknown folder)";
    BagInfoInvalid = "TQ-E053", Error, "bag-info.txt is malformed or disagrees with the bundle id";
    ManifestInvalid = "TQ-E054", Error, "a payload manifest is malformed, unsorted or lists a path outside data/";
    PayloadNotInManifest = "TQ-E055", Error, "a payload file is not listed in the manifest";
    PayloadMissing = "TQ-E056", Error, "a file listed in the manifest is not in the bundle";
    PayloadDigest = "TQ-E057", Error, "a payload file's digest does not match the manifest";
    TagDigest = "TQ-E058", Error, "a tag file's digest does not match the tag manifest";
    TagManifestInvalid = "TQ-E059", Error, "a tag manifest is malformed or does not list exactly the tag files";
    PayloadOxum = "TQ-E060", Error, "Payload-Oxum does not match the payload";
    ManifestAlgorithms = "TQ-E061", Error, "the SHA-512 manifests are incomplete or list other paths than the SHA-256 ones";
    MediaName = "TQ-E062", Error, "a content-addressed media file is not named after its own SHA-256";
    SignatureMissing = "TQ-E070", Error, "the signature file is missing";
    SignatureMalformed = "TQ-E071", Error, "the signature file is malformed or not canonical";
    SignatureKeyMismatch = "TQ-E072", Error, "the signature was made by a key other than the given public key(s)";
    SignatureInvalid = "TQ-E073", Error, "the signature does not verify over the tag manifest";
    TrustedComment = "TQ-E074", Error, "the trusted comment is forged or names another bundle, account or tag manifest";
    TimestampMissing = "TQ-E080", Error, "a timestamp was required but the bundle has none";
    TimestampMalformed = "TQ-E081", Error, "the timestamp token or its certificate chain is malformed";
    TimestampImprint = "TQ-E082", Error, "the timestamp is over other data than the tag manifest";
    TimestampSignature = "TQ-E083", Error, "the timestamp token's signature does not verify";
    TimestampChain = "TQ-E084", Error, "the timestamp does not chain to the given TSA root";
    TimestampTime = "TQ-E085", Error, "the timestamp's time is outside the capture window";
    ChainUnresolved = "TQ-E090", Error, "Previous-Bundle-Tagmanifest-SHA256 names no bundle in the set";
    ChainFork = "TQ-E091", Error, "another bundle of the same account names the same previous bundle (a fork)";
    TimestampChainUnchecked = "TQ-W001", Warning, "the timestamp was checked but not its chain (no TSA root given)";
    TimestampAbsent = "TQ-W002", Warning, "the bundle has no timestamp";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c:?}");
            let prefix = match c.severity() {
                Severity::Error => "TQ-E",
                Severity::Warning => "TQ-W",
            };
            assert!(c.as_str().starts_with(prefix) && c.as_str().len() == 7);
        }
    }

    /// The normative spec lists every code with its meaning.
    #[test]
    fn the_spec_lists_every_code() {
        let spec =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bundle-format.md");
        let text = std::fs::read_to_string(&spec).unwrap();
        for c in Code::ALL {
            let row = text
                .lines()
                .find(|l| l.starts_with(&format!("| `{}`", c.as_str())));
            let row = row.unwrap_or_else(|| {
                panic!(
                    "{} is missing from the code table of {}",
                    c.as_str(),
                    spec.display()
                )
            });
            assert!(
                row.contains(c.meaning()),
                "{}: the spec's meaning differs from codes.rs",
                c.as_str()
            );
        }
    }
}
