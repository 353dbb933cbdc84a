//! Facebook Pages: the Graph API route with a Page access token ([`api`]). Graph hosts, paging,
//! times and error signals are shared with Instagram in [`super::meta`].

pub mod api;
