//! One module per platform, each with its routes (`api`, `export`, `web`) and its signals.

pub mod x;
