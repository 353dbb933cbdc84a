//! One rule for every adapter's media downloads: a failure of one file is a gap, a failure of
//! the account, the token, the network or the bundle stops the capture.

use model::{Gap, GapReason};

use crate::error::{FetchError, Result};
use crate::source::{Sink, Stored};
use crate::transport::{Request, Transport};

/// Failures that concern this file alone (gone, refused, too large, an error page, cut short
/// after the retries): the capture goes on with a gap.
pub fn is_per_file(e: &FetchError) -> bool {
    matches!(
        e,
        FetchError::NotFound { .. }
            | FetchError::Protected { .. }
            | FetchError::TooLarge { .. }
            | FetchError::UnexpectedHtml { .. }
            | FetchError::Http { .. }
            | FetchError::Truncated { .. }
            | FetchError::Malformed { .. }
    )
}

/// What a gap says about a file that could not be downloaded.
#[derive(Debug, Clone, Copy)]
pub struct Missing<'a> {
    /// `"the profile picture"`, `"media 3_1234"`…
    pub what: &'a str,
    pub item_id: Option<&'a str>,
    /// The URL the platform gave (the gap names it, never a rewritten one).
    pub url: &'a str,
}

/// Downloads `req` into the sink. `Ok(None)` means this file failed alone and a gap saying so
/// was emitted; `Err` means the capture must stop.
pub async fn download_or_gap(
    transport: &Transport,
    sink: &mut dyn Sink,
    req: &Request<'_>,
    ext: Option<&str>,
    missing: Missing<'_>,
) -> Result<Option<Stored>> {
    match transport.media(sink, req, ext).await {
        Ok(stored) => Ok(Some(stored)),
        Err(e) if is_per_file(&e) => {
            let reason = if matches!(e, FetchError::NotFound { .. }) {
                GapReason::Unavailable
            } else {
                GapReason::Other
            };
            sink.gap(Gap {
                reason,
                detail: format!("{} could not be downloaded: {e}", missing.what),
                item_id: missing.item_id.map(str::to_owned),
                url: Some(missing.url.to_owned()),
            })
            .await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
