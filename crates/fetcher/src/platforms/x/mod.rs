//! X (Twitter): the API v2 route ([`api`]), the owner's archive ([`export`]), and X's own
//! rate-limit and error signals ([`signals`]).

pub mod api;
pub mod export;
pub mod signals;
