//! `YouTube`: the Data API route ([`api`], with optional yt-dlp video files through [`ytdlp`]),
//! the owner's Google Takeout ([`takeout`], the only complete source of the original video
//! files), and the API's quota and error signals.

pub mod api;
pub mod signals;
pub mod takeout;
pub mod ytdlp;
