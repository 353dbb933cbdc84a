//! Instagram: the owner's "Download Your Information" export ([`export`]). The pieces
//! Instagram shares with Facebook (DYI machinery, mojibake repair, Graph signals) live in
//! [`super::meta`].

pub mod export;
