//! One module per platform, each with its routes (`api`, `export`, `web`) and its signals.
//! Meta's Graph API signals are shared by Instagram and Facebook.

pub mod facebook;
pub mod meta;
pub mod x;
pub mod youtube;
