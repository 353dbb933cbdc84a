//! Facebook Pages: the Graph API route with a Page access token ([`api`]) and the owner's
//! "Download Your Information" export of a Page or a personal profile ([`export`]), the
//! complete record where the Graph API's ranked feed may omit posts. What Facebook shares with
//! Instagram (Graph hosts, paging, times, error signals, DYI machinery, mojibake repair) lives
//! in [`super::meta`].

pub mod api;
pub mod export;
