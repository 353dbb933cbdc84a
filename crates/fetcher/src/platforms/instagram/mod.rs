//! Instagram: the Graph API route for professional accounts ([`api`]), with Instagram Login
//! (`graph.instagram.com`) or Facebook Login (`graph.facebook.com`). Personal accounts have no
//! API: they are archived from the owner's "Download Your Information" export. The Graph pieces
//! Instagram shares with Facebook (paging, time format, error signals) live in
//! [`super::meta`].

pub mod api;
