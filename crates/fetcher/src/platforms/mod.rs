//! One module per platform, each with its routes (`api`, `export`, `web`) and its signals.
//! What Instagram and Facebook share (Graph API, signals, DYI exports) lives in `meta`.

pub mod facebook;
pub mod instagram;
pub mod meta;
pub mod snapchat;
pub mod x;
pub mod youtube;
