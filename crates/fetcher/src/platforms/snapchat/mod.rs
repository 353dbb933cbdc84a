//! Snapchat: the public profile page ([`web`]), and the owner's "My Data" export.
//!
//! Snapchat offers account owners no general read API (the Public Profile API is for approved
//! partners), so what is public is read from the profile page, and Memories come from the
//! owner's export (reference §5).

pub mod web;
