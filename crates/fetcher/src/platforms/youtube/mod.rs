//! `YouTube`: the Data API's quota and error signals.

pub mod signals;
pub mod takeout;
