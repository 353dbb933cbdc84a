//! Meta (Instagram and Facebook share the Graph API's error object and usage headers): the
//! signals module is used by both platforms' adapters.

pub mod signals;
