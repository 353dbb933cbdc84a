//! Snapchat: the owner's "My Data" export ([`export`]: Memories, with their download links).

pub mod export;
