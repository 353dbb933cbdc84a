//! Facebook: the owner's "Download Your Information" export of a Page or a personal profile
//! ([`export`]). The pieces Facebook shares with Instagram (DYI machinery, mojibake repair,
//! Graph signals) live in [`super::meta`].

pub mod export;
