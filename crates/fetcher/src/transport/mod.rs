//! [`Transport`]: the one HTTP client every source uses.
//!
//! One place for rate limits (per host), retries with backoff that honour the platforms' own
//! signals, classification into [`FetchError`]s, streaming media straight into the sink with a
//! size cap and completeness checks, a capture-log entry for every exchange (every attempt,
//! failed ones included) with secrets redacted, and host rewrites (proxies, replay servers).
//!
//! Every wait (a platform's reset time, a backoff, a spent budget) goes through [`waits`], so
//! whoever drives the capture can show it. A reset time already past, or further away than
//! [`retry::RESET_HORIZON`], is not believed: the retry falls back to exponential backoff and
//! no such time is ever reported.

pub mod body;
pub mod classify;
pub mod gate;
pub mod ratelimit;
pub mod retry;
pub mod waits;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use model::redact::{redact_headers, redact_url};
use model::{CaptureLogEntry, Platform};
use reqwest::header::HeaderMap;
use time::OffsetDateTime;
use url::Url;

use crate::auth::Auth;
use crate::clock::{Clock, SystemClock};
use crate::config::FetchConfig;
use crate::error::{FetchError, Result};
use crate::source::{Sink, Stored};
use body::CappedBody;
use classify::{Exchange, Signals, Verdict};
use gate::{Gate, Outgoing};
use ratelimit::HostLimiter;
use waits::{WaitCause, Waits};

/// One GET, or a POST of a form ([`Request::post_form`]).
pub struct Request<'a> {
    pub platform: Platform,
    /// Short ASCII name for the stored body, e.g. `users-me`, `users-123-tweets`.
    pub endpoint: &'a str,
    /// The platform's real URL, without credentials.
    pub url: Url,
    pub auth: Option<Auth<'a>>,
    /// The platform's reading of its responses, consulted before the generic rules.
    pub signals: Option<&'a dyn Signals>,
    /// A form body (`application/x-www-form-urlencoded`): the request is a POST. Snapchat's
    /// "My Data" download links are answered only to a POST of their own query string.
    pub form: Option<&'a str>,
    /// A public web page (HTML expected), not an API document.
    pub web_page: bool,
    /// Quota units one attempt spends (1 unless the platform documents otherwise).
    pub cost: u32,
    /// A host that cannot be reached fails the request at once (see [`Request::reach_once`]).
    pub reach_once: bool,
}

impl<'a> Request<'a> {
    pub fn new(platform: Platform, endpoint: &'a str, url: Url) -> Request<'a> {
        Request {
            platform,
            endpoint,
            url,
            auth: None,
            signals: None,
            form: None,
            web_page: false,
            cost: 1,
            reach_once: false,
        }
    }

    /// When the host cannot be reached (connection refused, no route, name not resolved,
    /// connect timeout), fails with [`FetchError::Connect`] after this one attempt instead of
    /// retrying with backoff: for optional fetches an offline import must not wait minutes on
    /// (the caller records a gap). Answers that do arrive are retried as usual.
    #[must_use]
    pub fn reach_once(mut self) -> Self {
        self.reach_once = true;
        self
    }

    /// Sets the quota units one attempt spends (see [`gate::Outgoing::cost`]).
    #[must_use]
    pub fn cost(mut self, units: u32) -> Self {
        self.cost = units;
        self
    }

    /// Asks for a public web page: an HTML answer is accepted (and stored as `.html`).
    #[must_use]
    pub fn web_page(mut self) -> Self {
        self.web_page = true;
        self
    }

    /// Makes the request a POST of `form` (already URL-encoded).
    #[must_use]
    pub fn post_form(mut self, form: &'a str) -> Self {
        self.form = Some(form);
        self
    }

    fn method(&self) -> &'static str {
        if self.form.is_some() { "POST" } else { "GET" }
    }

    #[must_use]
    pub fn auth(mut self, auth: Option<Auth<'a>>) -> Self {
        self.auth = auth;
        self
    }

    #[must_use]
    pub fn signals(mut self, signals: &'a dyn Signals) -> Self {
        self.signals = Some(signals);
        self
    }
}

/// An accepted API document, already stored and logged.
#[derive(Debug, Clone)]
pub struct Document {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub stored: Stored,
    /// The request URL, redacted, as logged.
    pub url: String,
}

/// The shared HTTP client. Cheap to share by reference across sources and tasks.
pub struct Transport {
    client: reqwest::Client,
    cfg: FetchConfig,
    clock: Arc<dyn Clock>,
    limiter: HostLimiter,
    /// Hosts whose platform said the budget is spent, and until when.
    spent: std::sync::Mutex<std::collections::HashMap<String, OffsetDateTime>>,
    /// Budgets shared with other workers (batch runs only).
    gate: Option<Arc<dyn Gate>>,
    waits: Waits,
}

/// Status, headers and body of one exchange that produced a response.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Transport {
    pub fn new(cfg: FetchConfig) -> Result<Transport> {
        Transport::with_clock(cfg, Arc::new(SystemClock))
    }

    pub fn with_clock(cfg: FetchConfig, clock: Arc<dyn Clock>) -> Result<Transport> {
        let mut builder = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            .pool_max_idle_per_host(16);
        if let Some(proxy) = &cfg.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
                FetchError::Config(format!("proxy {}: {}", redact_url(proxy), e.without_url()))
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Config(format!("HTTP client: {}", e.without_url())))?;
        let limiter = HostLimiter::new(cfg.limits.clone());
        let waits = Waits::new(cfg.waits.clone(), Arc::clone(&clock));
        Ok(Transport {
            client,
            cfg,
            clock,
            limiter,
            spent: std::sync::Mutex::default(),
            gate: None,
            waits,
        })
    }

    /// Shares request budgets through `gate`: asked before every attempt, told of every
    /// announced spent budget.
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn Gate>) -> Transport {
        self.gate = Some(gate);
        self
    }

    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// GETs an API document: stores every body received (evidence, errors included), logs every
    /// attempt, retries what is retryable, and returns the accepted document.
    pub async fn document(&self, sink: &mut dyn Sink, req: &Request<'_>) -> Result<Document> {
        let shown = redact_url(req.url.as_str());
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace(req).await?;
            let started = self.clock.now();
            let answer = self.fetch_document(req, &shown).await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    self.log_failure(sink, req, &shown, started, None, &HeaderMap::new(), &e)
                        .await?;
                    self.before_retry(req, attempt, None, &e.to_string(), e)
                        .await?;
                    continue;
                }
            };
            let (body, scrubbed) = scrub_secret(answer.body, req.auth.as_ref());
            let ext = document_ext(&answer.headers);
            let stored = sink.document(req.endpoint, ext, body.clone()).await?;
            let mut entry = self.entry(req, &shown, started, Some(answer.status), &answer.headers);
            entry.body_sha256 = Some(stored.sha256);
            entry.body_bytes = Some(stored.size);
            entry.payload_path = Some(stored.path.clone());
            if scrubbed {
                // The stored body is not byte-exact: say so, and why, next to its digest.
                let why = "the access token echoed in this body was replaced by [REDACTED]";
                entry.note = Some(match entry.note.take() {
                    Some(n) => format!("{why}; {n}"),
                    None => why.to_owned(),
                });
            }
            let ex = Exchange {
                platform: req.platform,
                url: &shown,
                status: answer.status,
                headers: &answer.headers,
                body: &body,
                now: self.clock.now(),
                expect_json: !req.web_page,
                web_page: req.web_page,
            };
            match verdict(req, &ex) {
                Verdict::Accept => {
                    if let Some(until) = spent_until(req, &ex) {
                        self.mark_spent(req, until, "the platform reports its budget spent")
                            .await;
                    }
                    sink.log(entry).await?;
                    return Ok(Document {
                        status: answer.status,
                        headers: answer.headers,
                        body,
                        stored,
                        url: shown,
                    });
                }
                Verdict::Fail(e) => {
                    entry.note = Some(e.to_string());
                    sink.log(entry).await?;
                    return Err(e);
                }
                Verdict::Retry { at, reason } => {
                    entry.note = Some(format!("will retry: {reason}"));
                    sink.log(entry).await?;
                    if let Some(at) = at {
                        self.mark_spent(req, at, &reason).await;
                    }
                    let e = exhausted(req, &shown, answer.status, at);
                    self.before_retry(req, attempt, at, &reason, e).await?;
                }
            }
        }
    }

    /// GETs a media file and streams it into the sink: size cap, Content-Length check,
    /// truncated transfers retried (the sink discards a failed attempt), one log entry per
    /// attempt. `ext` is the extension to store under, if the caller knows it.
    pub async fn media(
        &self,
        sink: &mut dyn Sink,
        req: &Request<'_>,
        ext: Option<&str>,
    ) -> Result<Stored> {
        let shown = redact_url(req.url.as_str());
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.pace(req).await?;
            let started = self.clock.now();
            let response = match self.send(req, &shown, None).await {
                Ok(r) => r,
                Err(e) => {
                    self.log_failure(sink, req, &shown, started, None, &HeaderMap::new(), &e)
                        .await?;
                    self.before_retry(req, attempt, None, &e.to_string(), e)
                        .await?;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let failure = self.media_refusal(req, &shown, response).await;
            let response = match failure {
                Ok(r) => r,
                Err(MediaRefusal::Retry { at, reason, error }) => {
                    if let Some(at) = at {
                        self.mark_spent(req, at, &reason).await;
                    }
                    let e = error.unwrap_or(FetchError::Server {
                        status,
                        url: shown.clone(),
                    });
                    self.log_failure(sink, req, &shown, started, Some(status), &headers, &e)
                        .await?;
                    self.before_retry(req, attempt, at, &reason, e).await?;
                    continue;
                }
                Err(MediaRefusal::Fail(e)) => {
                    self.log_failure(sink, req, &shown, started, Some(status), &headers, &e)
                        .await?;
                    return Err(e);
                }
            };
            let mut body = CappedBody::new(
                response,
                shown.clone(),
                self.cfg.max_media_bytes,
                self.cfg.read_timeout,
            );
            let expected = body.expected_len();
            let ext = ext.or_else(|| media_ext(&headers, &req.url));
            match sink.media(ext, expected, &mut body).await {
                Ok(stored) => {
                    let mut entry = self.entry(req, &shown, started, Some(status), &headers);
                    entry.body_sha256 = Some(stored.sha256);
                    entry.body_bytes = Some(stored.size);
                    entry.payload_path = Some(stored.path.clone());
                    sink.log(entry).await?;
                    return Ok(stored);
                }
                Err(e) => {
                    self.log_failure(sink, req, &shown, started, Some(status), &headers, &e)
                        .await?;
                    self.before_retry(req, attempt, None, &e.to_string(), e)
                        .await?;
                }
            }
        }
    }

    /// Sends the request (rate limited), returning the response head.
    async fn send(
        &self,
        req: &Request<'_>,
        shown: &str,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let host = req.url.host_str().unwrap_or_default().to_ascii_lowercase();
        self.limiter.until_ready(&host).await;
        if let Some(gate) = &self.gate {
            gate.admit(Outgoing {
                platform: req.platform,
                host: &host,
                cost: req.cost,
                waits: &self.waits,
            })
            .await?;
        }
        let mut target = self.cfg.hosts.rewrite(&req.url);
        if let Some(Auth::Query { param, secret }) = req.auth {
            target.query_pairs_mut().append_pair(param, secret.expose());
        }
        let mut builder = match req.form {
            None => self.client.get(target),
            Some(form) => self
                .client
                .post(target)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.to_owned()),
        };
        if let Some(Auth::Bearer(secret)) = req.auth {
            builder = builder.bearer_auth(secret.expose());
        }
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        builder
            .send()
            .await
            .map_err(|e| request_error(&e, shown, timeout.unwrap_or(self.cfg.connect_timeout)))
    }

    async fn fetch_document(&self, req: &Request<'_>, shown: &str) -> Result<Answer> {
        let timeout = self.cfg.request_timeout;
        let response = self.send(req, shown, Some(timeout)).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(len) = response.content_length()
            && len > self.cfg.max_document_bytes
        {
            return Err(FetchError::TooLarge {
                url: shown.to_owned(),
                limit: self.cfg.max_document_bytes,
            });
        }
        let body = CappedBody::new(
            response,
            shown.to_owned(),
            self.cfg.max_document_bytes,
            timeout,
        )
        .collect()
        .await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Checks a media response before streaming it: status, HTML instead of media, size.
    async fn media_refusal(
        &self,
        req: &Request<'_>,
        shown: &str,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, MediaRefusal> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let is_html = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
        if (200..300).contains(&status) && !is_html {
            if let Some(len) = response.content_length()
                && len > self.cfg.max_media_bytes
            {
                return Err(MediaRefusal::Fail(FetchError::TooLarge {
                    url: shown.to_owned(),
                    limit: self.cfg.max_media_bytes,
                }));
            }
            return Ok(response);
        }
        // An error page: read a little of it to classify, never all of it.
        let mut small =
            CappedBody::new(response, shown.to_owned(), 64 << 10, self.cfg.read_timeout);
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = crate::source::ByteStream::next_chunk(&mut small).await {
            body.extend_from_slice(&chunk);
        }
        let ex = Exchange {
            platform: req.platform,
            url: shown,
            status,
            headers: &headers,
            body: &body,
            now: self.clock.now(),
            expect_json: false,
            web_page: false,
        };
        match verdict(req, &ex) {
            Verdict::Accept => Err(MediaRefusal::Fail(FetchError::UnexpectedHtml {
                url: shown.to_owned(),
            })),
            Verdict::Fail(e) => Err(MediaRefusal::Fail(e)),
            Verdict::Retry { at, reason } => Err(MediaRefusal::Retry {
                at,
                reason,
                error: (status == 429).then(|| FetchError::RateLimited {
                    host: req.url.host_str().unwrap_or_default().to_owned(),
                    until: at,
                }),
            }),
        }
    }

    /// When the platform said this host's budget is spent, and until when (for schedulers).
    pub fn spent_until(&self, host: &str) -> Option<OffsetDateTime> {
        let spent = self.spent.lock().expect("spent lock");
        spent.get(&host.to_ascii_lowercase()).copied()
    }

    async fn mark_spent(&self, req: &Request<'_>, until: OffsetDateTime, reason: &str) {
        let host = req.url.host_str().unwrap_or_default().to_ascii_lowercase();
        tracing::info!(host, %until, reason, "the platform asks us to wait; pausing this host");
        if let Some(gate) = &self.gate {
            gate.spent(req.platform, &host, until, reason).await;
        }
        self.spent.lock().expect("spent lock").insert(host, until);
    }

    /// Holds a request while its host's budget is spent: waits until the announced time, or
    /// defers the account when that is beyond the maximum wait. Nothing is sent or logged.
    async fn pace(&self, req: &Request<'_>) -> Result<()> {
        let host = req.url.host_str().unwrap_or_default().to_ascii_lowercase();
        let Some(until) = self.spent_until(&host) else {
            return Ok(());
        };
        let now = self.clock.now();
        if until <= now {
            self.spent.lock().expect("spent lock").remove(&host);
            return Ok(());
        }
        let wait =
            Duration::from_millis(u64::try_from((until - now).whole_milliseconds()).unwrap_or(0))
                + Duration::from_secs(1);
        let reason = format!("{host} reports its request budget spent");
        if wait > self.cfg.retry.max_wait {
            return Err(FetchError::Deferred {
                reason,
                until,
                max_wait: self.cfg.retry.max_wait,
            });
        }
        self.waits
            .sleep(req.platform, &host, WaitCause::Reset, &reason, wait)
            .await;
        self.spent.lock().expect("spent lock").remove(&host);
        Ok(())
    }

    /// Decides whether to try again after `error`, and waits if so. `at` is a reset time the
    /// platform named, already checked by [`verdict`] to be plausible.
    async fn before_retry(
        &self,
        req: &Request<'_>,
        attempt: u32,
        at: Option<OffsetDateTime>,
        reason: &str,
        error: FetchError,
    ) -> Result<()> {
        if !error.is_retryable() {
            return Err(error);
        }
        // Nothing answered at all: the caller would rather record a gap than wait minutes.
        if req.reach_once && matches!(error, FetchError::Connect { .. }) {
            return Err(error);
        }
        let policy = &self.cfg.retry;
        let now = self.clock.now();
        let named_wait = at.map(|at| {
            // One second of margin: resets are announced in whole seconds.
            let secs = (at - now).whole_milliseconds().max(0);
            Duration::from_millis(u64::try_from(secs).unwrap_or(0)) + Duration::from_secs(1)
        });
        if let (Some(at), Some(wait)) = (at, named_wait)
            && wait > policy.max_wait
        {
            return Err(FetchError::Deferred {
                reason: error.to_string(),
                until: at,
                max_wait: policy.max_wait,
            });
        }
        if attempt >= policy.max_attempts {
            return Err(error);
        }
        let (wait, cause) = match named_wait {
            Some(w) => (w, WaitCause::Reset),
            None => (retry::backoff(policy, attempt), WaitCause::Backoff),
        };
        tracing::info!(attempt, ?wait, reason, "retrying");
        let host = req.url.host_str().unwrap_or_default().to_ascii_lowercase();
        self.waits
            .sleep(req.platform, &host, cause, reason, wait)
            .await;
        Ok(())
    }

    fn entry(
        &self,
        req: &Request<'_>,
        shown: &str,
        started: OffsetDateTime,
        status: Option<u16>,
        headers: &HeaderMap,
    ) -> CaptureLogEntry {
        let target = self.cfg.hosts.rewrite(&req.url);
        let note = (target != req.url).then(|| {
            let mut base = target.clone();
            base.set_path("");
            base.set_query(None);
            format!("sent to {}", redact_url(base.as_str()))
        });
        CaptureLogEntry {
            seq: 0,
            time: started,
            method: req.method().into(),
            url: shown.to_owned(),
            status,
            headers: redact_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))),
            body_sha256: None,
            body_bytes: None,
            payload_path: None,
            tool: self.cfg.user_agent.clone(),
            source_path: None,
            source_sha256: None,
            note,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn log_failure(
        &self,
        sink: &mut dyn Sink,
        req: &Request<'_>,
        shown: &str,
        started: OffsetDateTime,
        status: Option<u16>,
        headers: &HeaderMap,
        error: &FetchError,
    ) -> Result<()> {
        if matches!(error, FetchError::Sink(_)) {
            return Ok(());
        }
        let mut entry = self.entry(req, shown, started, status, headers);
        entry.note = Some(match entry.note {
            Some(n) => format!("{error} ({n})"),
            None => error.to_string(),
        });
        sink.log(entry).await
    }
}

enum MediaRefusal {
    Retry {
        at: Option<OffsetDateTime>,
        reason: String,
        error: Option<FetchError>,
    },
    Fail(FetchError),
}

/// The platform's reading of a response, else the generic rules; a named reset time that
/// cannot be right is dropped (see [`plausible_reset`]), so the retry backs off instead.
fn verdict(req: &Request<'_>, ex: &Exchange<'_>) -> Verdict {
    let v = req
        .signals
        .and_then(|s| s.classify(ex))
        .unwrap_or_else(|| classify::generic(ex));
    match v {
        Verdict::Retry {
            at: Some(at),
            reason,
        } => match plausible_reset(at, ex.now) {
            Ok(at) => Verdict::Retry {
                at: Some(at),
                reason,
            },
            Err(why) => Verdict::Retry {
                at: None,
                reason: format!("{reason} ({why}; backing off instead)"),
            },
        },
        other => other,
    }
}

/// A spent budget announced in an accepted answer, when its reset time is believable.
fn spent_until(req: &Request<'_>, ex: &Exchange<'_>) -> Option<OffsetDateTime> {
    let until = req.signals.and_then(|s| s.spent_until(ex))?;
    match plausible_reset(until, ex.now) {
        Ok(until) => Some(until),
        Err(why) => {
            tracing::warn!(url = ex.url, "ignoring a spent-budget signal: {why}");
            None
        }
    }
}

/// `at` when it is a time to wait for: after `now` and within [`retry::RESET_HORIZON`]. A
/// reset already past (a stale header, a skewed clock: waiting "until then" would retry at
/// once, again and again) or absurdly far (a misread unit) is refused with the reason.
fn plausible_reset(at: OffsetDateTime, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let shown = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string());
    if at <= now {
        Err(format!("its reset time {shown} is already past"))
    } else if at - now > retry::RESET_HORIZON {
        Err(format!(
            "its reset time {shown} is more than {} hours away",
            retry::RESET_HORIZON.whole_hours()
        ))
    } else {
        Ok(at)
    }
}

/// The error to report when a retryable response keeps coming back: a server failure (5xx,
/// 408), else a rate limit (429, or a platform's throttling signal on another status).
fn exhausted(
    req: &Request<'_>,
    shown: &str,
    status: u16,
    at: Option<OffsetDateTime>,
) -> FetchError {
    if status == 408 || (500..600).contains(&status) {
        FetchError::Server {
            status,
            url: shown.to_owned(),
        }
    } else {
        FetchError::RateLimited {
            host: req.url.host_str().unwrap_or_default().to_owned(),
            until: at,
        }
    }
}

/// Maps a reqwest error without ever printing its URL (which may carry a token).
fn request_error(e: &reqwest::Error, shown: &str, timeout: Duration) -> FetchError {
    // A connect timeout is a host that cannot be reached, like a refused connection: `Connect`
    // (see `Request::reach_once`), its detail saying it timed out.
    if e.is_timeout() && !e.is_connect() {
        FetchError::Timeout {
            url: shown.to_owned(),
            after: timeout,
        }
    } else if e.is_builder() {
        FetchError::Config(format!("cannot request {shown}"))
    } else {
        let mut detail = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            let text = s.to_string();
            if !text.contains("://") && !detail.contains(&text) {
                if !detail.is_empty() {
                    detail.push_str(": ");
                }
                detail.push_str(&text);
            }
            source = s.source();
        }
        FetchError::Connect {
            url: shown.to_owned(),
            detail,
        }
    }
}

/// Replaces any echo of the token in a body (some platforms put it in paging links) with
/// `[REDACTED]`: a bundle must never hold a credential, even where the platform sent one.
/// Returns the body and whether it was changed.
fn scrub_secret(body: Bytes, auth: Option<&Auth<'_>>) -> (Bytes, bool) {
    let Some(secret) = auth.map(|a| a.secret().expose().as_bytes()) else {
        return (body, false);
    };
    if secret.len() < 8 || !body.windows(secret.len()).any(|w| w == secret) {
        return (body, false);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(secret) {
            out.extend_from_slice(model::redact::REDACTED.as_bytes());
            i += secret.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    tracing::warn!(
        "the platform echoed the access token in a response; it was redacted before storing"
    );
    (Bytes::from(out), true)
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn document_ext(headers: &HeaderMap) -> &'static str {
    let t = content_type(headers);
    if t.contains("json") {
        "json"
    } else if t.contains("html") {
        "html"
    } else if t.contains("xml") {
        "xml"
    } else if t.starts_with("text/") {
        "txt"
    } else {
        "bin"
    }
}

/// The extension a media file is stored under: from its Content-Type, else its URL path, else
/// left to the sink's sniffing.
fn media_ext(headers: &HeaderMap, url: &Url) -> Option<&'static str> {
    let t = content_type(headers);
    let by_type = [
        ("image/jpeg", "jpg"),
        ("image/png", "png"),
        ("image/gif", "gif"),
        ("image/webp", "webp"),
        ("image/heic", "heic"),
        ("video/mp4", "mp4"),
        ("video/quicktime", "mov"),
        ("video/webm", "webm"),
        ("audio/mp4", "m4a"),
        ("audio/mpeg", "mp3"),
        ("application/x-mpegurl", "m3u8"),
        ("application/vnd.apple.mpegurl", "m3u8"),
    ];
    if let Some((_, ext)) = by_type.iter().find(|(ty, _)| t.starts_with(ty)) {
        return Some(ext);
    }
    let path = url.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.')?.1;
    [
        "jpg", "jpeg", "png", "gif", "webp", "mp4", "mov", "webm", "m4a", "mp3",
    ]
    .into_iter()
    .find(|e| *e == ext)
    .map(|e| if e == "jpeg" { "jpg" } else { e })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    #[test]
    fn echoed_tokens_are_scrubbed_from_bodies() {
        let s = Secret::new("EAAGm0PX4ZCpsBA-token");
        let body = Bytes::from_static(
            b"{\"paging\":{\"next\":\"https://graph/x?access_token=EAAGm0PX4ZCpsBA-token&after=Q\"}}",
        );
        let (out, scrubbed) = scrub_secret(body, Some(&Auth::Bearer(&s)));
        assert!(scrubbed);
        assert_eq!(
            &out[..],
            b"{\"paging\":{\"next\":\"https://graph/x?access_token=[REDACTED]&after=Q\"}}"
        );
    }

    #[test]
    fn media_extensions_come_from_type_then_path() {
        let mut h = HeaderMap::new();
        let u = Url::parse("https://pbs.twimg.com/media/AbC.jpg?name=orig").unwrap();
        assert_eq!(media_ext(&h, &u), Some("jpg"));
        h.insert("content-type", "video/mp4".parse().unwrap());
        assert_eq!(media_ext(&h, &u), Some("mp4"));
        let u = Url::parse("https://cdn/x").unwrap();
        assert_eq!(media_ext(&HeaderMap::new(), &u), None);
    }
}
