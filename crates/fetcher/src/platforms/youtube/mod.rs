//! `YouTube`: the Data API route (with optional yt-dlp video files) and the API's quota and
//! error signals.

pub mod api;
pub mod signals;
pub mod ytdlp;
