//! Response bodies, read with a size cap and checked for completeness.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::error::{FetchError, Result};
use crate::source::ByteStream;

/// Streams a response body: stops at the cap, and turns a short transfer into
/// [`FetchError::Truncated`] whether the connection broke or closed early.
pub struct CappedBody {
    response: reqwest::Response,
    url: String,
    cap: u64,
    expected: Option<u64>,
    got: u64,
    read_timeout: Duration,
}

impl CappedBody {
    pub fn new(response: reqwest::Response, url: String, cap: u64, read_timeout: Duration) -> Self {
        let expected = response.content_length();
        CappedBody {
            response,
            url,
            cap,
            expected,
            got: 0,
            read_timeout,
        }
    }

    pub fn expected_len(&self) -> Option<u64> {
        self.expected
    }

    /// Reads everything into memory (API documents).
    pub async fn collect(mut self) -> Result<Bytes> {
        let mut buf = BytesMut::with_capacity(
            usize::try_from(self.expected.unwrap_or(16 << 10).min(self.cap)).unwrap_or(0),
        );
        while let Some(chunk) = self.next_chunk().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    fn cut_short(&self) -> FetchError {
        FetchError::Truncated {
            url: self.url.clone(),
            got: self.got,
            expected: self.expected.unwrap_or(self.got + 1),
        }
    }
}

#[async_trait]
impl ByteStream for CappedBody {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let next = tokio::time::timeout(self.read_timeout, self.response.chunk()).await;
        match next {
            Err(_) => Err(FetchError::Timeout {
                url: self.url.clone(),
                after: self.read_timeout,
            }),
            Ok(Err(e)) if e.is_timeout() => Err(FetchError::Timeout {
                url: self.url.clone(),
                after: self.read_timeout,
            }),
            Ok(Err(_)) => Err(self.cut_short()),
            Ok(Ok(Some(chunk))) => {
                self.got += chunk.len() as u64;
                if self.got > self.cap {
                    return Err(FetchError::TooLarge {
                        url: self.url.clone(),
                        limit: self.cap,
                    });
                }
                if self.expected.is_some_and(|e| self.got > e) {
                    // More than announced: the framing is broken; do not trust the body.
                    return Err(self.cut_short());
                }
                Ok(Some(chunk))
            }
            Ok(Ok(None)) => match self.expected {
                Some(e) if e != self.got => Err(self.cut_short()),
                _ => Ok(None),
            },
        }
    }
}
