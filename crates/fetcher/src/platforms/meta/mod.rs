//! Meta: Instagram and Facebook share the Graph API (hosts, token parameter, paging, error
//! object, usage headers) and the "Download Your Information" export with its mojibake.

pub mod export;
pub mod graph;
pub mod mojibake;
pub mod signals;
