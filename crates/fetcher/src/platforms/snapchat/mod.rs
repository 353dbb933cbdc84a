//! Snapchat: the public profile page ([`web`]: profile, current story, saved stories,
//! Spotlight) and the owner's "My Data" export ([`export`]: Memories, with their download
//! links).
//!
//! Snapchat offers account owners no general read API (the Public Profile API is for approved
//! partners), so what is public is read from the profile page, and Memories come from the
//! owner's export (reference §5). Neither holds the other's content: a closing account needs
//! both.

pub mod export;
pub mod web;
