//! Instagram: the Graph API route for professional accounts ([`api`]), with Instagram Login
//! (`graph.instagram.com`) or Facebook Login (`graph.facebook.com`), and the owner's "Download
//! Your Information" export ([`export`]), the only route for personal accounts and for stories
//! older than a day. What Instagram shares with Facebook (Graph paging, time format, error
//! signals, DYI machinery, mojibake repair) lives in [`super::meta`].

pub mod api;
pub mod export;
