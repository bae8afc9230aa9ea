//! The `DescribeImage` client: signed form POSTs over one keep-alive pool, concurrent paging that
//! never loses or repeats an image, and bounded retries (docs/reliability.md).
//!
//! Paging is shaped by round trips: the first page tells the total and the server's page cap,
//! then every remaining page is asked at once (bounded by one semaphore for the whole client), so
//! a listing of any size costs about two round trips of latency.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, trace};

use super::Image;
use super::credentials::Credentials;
use super::endpoint::Endpoint;
use super::retry::{self, Failure};
use super::sign::sign;
use crate::error::Error;
use crate::plan::Listing;

const ACTION: &str = "DescribeImage";
/// The API takes at most this many `ImageIds.N` in one request.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// Tuning knobs; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Per HTTP attempt, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// Total time spent on one request including its retries: no retry is started whose sleep
    /// would end past it, and each attempt's timeout is cut to what is left of it (down to
    /// one second), so a request gives up within about the budget.
    pub retry_budget: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Requests in flight for the whole client.
    pub concurrency: usize,
    /// The `Limit` asked for; the server may cap it lower.
    pub page_size: u32,
    /// A larger response body is refused rather than buffered.
    pub max_body_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_budget: Duration::from_secs(30),
            max_attempts: 6,
            concurrency: 16,
            page_size: 500,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What one HTTP attempt did, for progress reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEvent {
    pub region: String,
    pub offset: u64,
    pub limit: u32,
    /// 1 for the first try of a request.
    pub attempt: u32,
    pub elapsed: Duration,
    /// Images in the page (0 on failure).
    pub items: usize,
    /// `TotalCount` of the answer, when it succeeded.
    pub total_count: Option<u64>,
    /// Why the attempt failed; `None` on success.
    pub error: Option<String>,
    /// Whether a failed attempt will be tried again.
    pub will_retry: bool,
}

impl RequestEvent {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

type Observer = Arc<dyn Fn(RequestEvent) + Send + Sync>;

/// A `DescribeImage` client. Cheap to clone; clones share the connection pool and the limit on
/// requests in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Endpoint,
    credentials: Credentials,
    options: ClientOptions,
    in_flight: Semaphore,
    observer: RwLock<Option<Observer>>,
}

/// One successful answer.
#[derive(Debug)]
struct Page {
    offset: u64,
    total_count: Option<u64>,
    images: Vec<Image>,
}

/// The body of a `DescribeImage` answer; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    ret_code: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    total_count: Option<u64>,
    #[serde(default)]
    image_set: Option<Vec<Image>>,
}

impl Client {
    pub fn new(
        endpoint: Endpoint,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        if options.max_attempts == 0 || options.page_size == 0 || options.concurrency == 0 {
            return Err(Error::Invalid(
                "retry attempts, page size and concurrency must each be at least 1".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("imagelock/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .pool_max_idle_per_host(options.concurrency)
            // A redirect would re-send the signed form somewhere unchecked by `Endpoint`.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Internal(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                credentials,
                in_flight: Semaphore::new(options.concurrency),
                options,
                observer: RwLock::new(None),
            }),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Called after every HTTP attempt, from whatever task made it.
    pub fn set_observer(&mut self, observer: Arc<dyn Fn(RequestEvent) + Send + Sync>) {
        // A poisoned lock only means an observer panicked; replacing it is still right.
        let mut slot = match self.inner.observer.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Some(observer);
    }

    /// Every image of one listing, in the API's order, each once.
    pub async fn list(&self, listing: &Listing) -> Result<Vec<Image>, Error> {
        let mut params = vec![("Region".to_string(), listing.region.clone())];
        let mut push = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                params.push((name.to_string(), value.to_string()));
            }
        };
        push("Zone", listing.zone.as_deref());
        push("ProjectId", listing.project_id.as_deref());
        push("ImageType", listing.image_type.map(|t| t.as_str()));
        push("OsType", listing.os_type.map(|t| t.as_str()));
        push("FuncType", listing.func_type.map(|t| t.as_str()));
        push("ImageId", listing.image_id.as_deref());
        let images = Arc::clone(&self.inner)
            .walk(listing.region.clone(), params)
            .await?;
        Ok(dedupe(images))
    }

    /// The images among `ids` that exist in `region` (as seen from `project_id`, when given), in
    /// the order of `ids`' batches; missing ids are simply absent. Batches of at most 100 ids are
    /// asked concurrently.
    pub async fn describe_ids(
        &self,
        region: &str,
        project_id: Option<&str>,
        ids: &[String],
    ) -> Result<Vec<Image>, Error> {
        let mut distinct = HashSet::new();
        let ids: Vec<&String> = ids.iter().filter(|id| distinct.insert(*id)).collect();
        let mut batches = JoinSet::new();
        for (index, batch) in ids.chunks(MAX_IDS_PER_REQUEST).enumerate() {
            let mut params = vec![("Region".to_string(), region.to_string())];
            if let Some(project_id) = project_id {
                params.push(("ProjectId".to_string(), project_id.to_string()));
            }
            params.extend(
                batch
                    .iter()
                    .enumerate()
                    .map(|(n, id)| (format!("ImageIds.{n}"), (*id).clone())),
            );
            let inner = Arc::clone(&self.inner);
            let region = region.to_string();
            batches.spawn(
                async move { (index, inner.walk(region, params).await) }
                    .instrument(tracing::Span::current()),
            );
        }
        let mut results = BTreeMap::new();
        while let Some(joined) = batches.join_next().await {
            let (index, images) = joined.map_err(join_error)?;
            results.insert(index, images?);
        }
        Ok(dedupe(results.into_values().flatten().collect()))
    }
}

impl Inner {
    /// All pages of one query: the first page, then the rest concurrently, then any gaps that
    /// short pages left, walked one page at a time.
    async fn walk(
        self: Arc<Self>,
        region: String,
        params: Vec<(String, String)>,
    ) -> Result<Vec<Image>, Error> {
        let page_size = self.options.page_size;
        let first = self.fetch(&region, &params, 0, page_size).await?;
        let received = first.images.len() as u64;
        let Some(total) = first.total_count else {
            // Without a total the only safe walk is page after page until an empty one.
            return self
                .fill(&region, &params, BTreeMap::from([(0, first.images)]), None)
                .await;
        };
        if received == 0 || received >= total {
            return Ok(first.images);
        }
        // A short first page shows the server's cap; stepping by it makes every later page full.
        let step = if received < u64::from(page_size) {
            received
        } else {
            u64::from(page_size)
        };
        let limit = u32::try_from(step).unwrap_or(page_size);

        let mut pages = BTreeMap::from([(0u64, first.images)]);
        let mut rest = JoinSet::new();
        let mut offset = received;
        while offset < total {
            let inner = Arc::clone(&self);
            let region = region.clone();
            let params = params.clone();
            rest.spawn(
                async move { inner.fetch(&region, &params, offset, limit).await }
                    .instrument(tracing::Span::current()),
            );
            offset += step;
        }
        while let Some(joined) = rest.join_next().await {
            let page = joined.map_err(join_error)??;
            pages.insert(page.offset, page.images);
        }
        self.fill(&region, &params, pages, Some(total)).await
    }

    /// Stitches pages together in offset order, fetching whatever short pages left out.
    async fn fill(
        &self,
        region: &str,
        params: &[(String, String)],
        mut pages: BTreeMap<u64, Vec<Image>>,
        total: Option<u64>,
    ) -> Result<Vec<Image>, Error> {
        let mut images = Vec::new();
        let mut cursor = 0u64;
        let mut total = total;
        loop {
            if total.is_some_and(|t| cursor >= t) {
                break;
            }
            // A fetched page covering the cursor (normally one starting exactly there).
            let covering = pages
                .range(..=cursor)
                .next_back()
                .map(|(start, items)| (*start, items.len() as u64))
                .filter(|(start, len)| start + len > cursor);
            if let Some((start, _)) = covering {
                let items = pages.remove(&start).unwrap_or_default();
                let skip = usize::try_from(cursor - start).unwrap_or(usize::MAX);
                let taken: Vec<Image> = items.into_iter().skip(skip).collect();
                cursor += taken.len() as u64;
                images.extend(taken);
                continue;
            }
            if pages.get(&cursor).is_some_and(Vec::is_empty) {
                break;
            }
            // A gap: ask exactly up to the next fetched page so nothing is asked twice.
            let next_start = pages.range(cursor..).next().map(|(start, _)| *start);
            let want = next_start.map_or(u64::from(self.options.page_size), |s| s - cursor);
            let limit = u32::try_from(want.min(u64::from(self.options.page_size)))
                .unwrap_or(self.options.page_size);
            debug!(
                region,
                offset = cursor,
                limit,
                "filling a gap left by a short page"
            );
            let page = self.fetch(region, params, cursor, limit).await?;
            if let Some(t) = page.total_count {
                total = Some(t);
            }
            if page.images.is_empty() {
                break;
            }
            cursor += page.images.len() as u64;
            images.extend(page.images);
        }
        Ok(images)
    }

    /// One page, with retries.
    async fn fetch(
        &self,
        region: &str,
        base: &[(String, String)],
        offset: u64,
        limit: u32,
    ) -> Result<Page, Error> {
        let mut params = Vec::with_capacity(base.len() + 5);
        params.push(("Action".to_string(), ACTION.to_string()));
        params.push(("PublicKey".to_string(), self.credentials.public_key.clone()));
        params.extend(base.iter().cloned());
        params.push(("Offset".to_string(), offset.to_string()));
        params.push(("Limit".to_string(), limit.to_string()));
        trace!(
            region,
            params = ?params.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(),
            "DescribeImage parameters"
        );
        let signature = sign(&params, &self.credentials.private_key);
        params.push(("Signature".to_string(), signature));

        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let attempt_started = Instant::now();
            let outcome = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .map_err(|_| Error::Internal("the request limiter was closed".into()))?;
                // Measured after the permit: waiting for a slot counts against the budget too.
                let timeout = retry::attempt_timeout(
                    self.options.timeout,
                    self.options.retry_budget,
                    started.elapsed(),
                );
                self.attempt(region, &params, timeout).await
            };
            let elapsed = attempt_started.elapsed();
            let (status, outcome) = outcome;
            let delay = retry::backoff(attempt);
            let will_retry = matches!(outcome, Err(Failure::Transient(_)))
                && retry::should_retry(
                    attempt,
                    self.options.max_attempts,
                    started.elapsed(),
                    delay,
                    self.options.retry_budget,
                );
            debug!(
                region,
                offset,
                limit,
                status,
                elapsed_ms = elapsed.as_millis() as u64,
                attempt,
                ok = outcome.is_ok(),
                "DescribeImage attempt"
            );
            let error = match &outcome {
                Ok(_) => None,
                Err(Failure::Transient(message)) => Some(message.clone()),
                Err(Failure::Fatal(error)) => Some(error.to_string()),
            };
            self.notify(RequestEvent {
                region: region.to_string(),
                offset,
                limit,
                attempt,
                elapsed,
                items: outcome.as_ref().map_or(0, |(_, images)| images.len()),
                total_count: outcome.as_ref().ok().and_then(|(total, _)| *total),
                error,
                will_retry,
            });
            match outcome {
                Ok((total_count, images)) => {
                    return Ok(Page {
                        offset,
                        total_count,
                        images,
                    });
                }
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Transient(message)) if !will_retry => {
                    return Err(Error::Api(format!(
                        "{ACTION} in {region} failed after {attempt} attempt{} over {:.1}s: {message}",
                        if attempt == 1 { "" } else { "s" },
                        started.elapsed().as_secs_f64()
                    )));
                }
                Err(Failure::Transient(message)) => {
                    debug!(region, offset, attempt, delay_ms = delay.as_millis() as u64, error = %message, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One HTTP round trip: the status (if any answer came) and the page or why it failed.
    async fn attempt(
        &self,
        region: &str,
        params: &[(String, String)],
        timeout: Duration,
    ) -> (Option<u16>, Result<(Option<u64>, Vec<Image>), Failure>) {
        let sent = self
            .http
            .post(self.endpoint.url().clone())
            .timeout(timeout)
            .form(params)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return (None, Err(http_failure(&e, &self.endpoint))),
        };
        let status = response.status();
        if retry::is_transient_status(status.as_u16()) {
            return (
                Some(status.as_u16()),
                Err(Failure::Transient(format!("HTTP {status}"))),
            );
        }
        let body = match self.read_body(&mut response).await {
            Ok(body) => body,
            Err(failure) => return (Some(status.as_u16()), Err(failure)),
        };
        (Some(status.as_u16()), self.parse(region, status, &body))
    }

    async fn read_body(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, Failure> {
        let max = self.options.max_body_bytes;
        let too_big = || {
            Failure::Fatal(Error::Api(format!(
                "{ACTION}: the response body is larger than {max} bytes; raise the body size limit if this is expected"
            )))
        };
        if response
            .content_length()
            .is_some_and(|length| length > max as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(too_big());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(http_failure(&e, &self.endpoint)),
            }
        }
    }

    fn parse(
        &self,
        region: &str,
        status: reqwest::StatusCode,
        body: &[u8],
    ) -> Result<(Option<u64>, Vec<Image>), Failure> {
        let response: Response = match serde_json::from_slice(body) {
            Ok(response) => response,
            // A garbled or cut-off answer is transient; an error page from something that is not
            // the API (a proxy's 404, a redirect) will not get better by asking again.
            Err(e) if (e.is_syntax() || e.is_eof()) && status.is_success() => {
                return Err(Failure::Transient(format!(
                    "HTTP {status} with a body that is not valid JSON ({e})"
                )));
            }
            Err(_) if status.is_redirection() => {
                return Err(Failure::Fatal(Error::Api(format!(
                    "{ACTION} in {region}: HTTP {status}; redirects are not followed, check the endpoint URL"
                ))));
            }
            Err(_) if !status.is_success() => {
                return Err(Failure::Fatal(Error::Api(format!(
                    "{ACTION} in {region}: HTTP {status} without an API answer; check the endpoint URL"
                ))));
            }
            Err(e) => {
                return Err(Failure::Fatal(Error::Api(format!(
                    "{ACTION} in {region}: unexpected response ({e})"
                ))));
            }
        };
        let message = response.message.unwrap_or_default();
        if response.ret_code != 0 {
            let described = format!("RetCode {} {message:?}", response.ret_code);
            if retry::is_transient_ret_code(response.ret_code) {
                return Err(Failure::Transient(described));
            }
            let hint = match response.ret_code {
                171 => {
                    " — UCloud refused the credentials; check UCLOUD_PUBLIC_KEY/UCLOUD_PRIVATE_KEY"
                }
                172 => " — UCloud does not know this public key; check UCLOUD_PUBLIC_KEY",
                160 | 230 => {
                    " — a parameter is missing or invalid; check region, zone and project_id"
                }
                _ => "",
            };
            return Err(Failure::Fatal(Error::Api(format!(
                "{ACTION} in {region}: {described}{hint}"
            ))));
        }
        if !status.is_success() {
            return Err(Failure::Fatal(Error::Api(format!(
                "{ACTION} in {region}: HTTP {status}"
            ))));
        }
        Ok((response.total_count, response.image_set.unwrap_or_default()))
    }

    fn notify(&self, event: RequestEvent) {
        let observer = match self.observer.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(observer) = observer {
            observer(event);
        }
    }
}

/// Network-level failures are transient, except ones that come from building the request and
/// failed TLS handshakes: the endpoint presents the same certificate (or speaks the same non-TLS
/// protocol) on every attempt, so retrying would only delay the error by the whole budget.
fn http_failure(error: &reqwest::Error, endpoint: &Endpoint) -> Failure {
    if let Some(problem) = tls_problem(error) {
        return Failure::Fatal(Error::Api(problem.message(endpoint)));
    }
    let mut message = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() {
        "the response body was cut off"
    } else if error.is_decode() {
        "the response could not be decoded"
    } else {
        "the request failed"
    }
    .to_string();
    // The causes say what actually happened ("connection refused", "connection reset").
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_builder() || error.is_redirect() {
        Failure::Fatal(Error::Api(format!("{ACTION}: {message}")))
    } else {
        Failure::Transient(message)
    }
}

/// A TLS handshake that failed for a reason the endpoint will repeat.
#[derive(Debug, PartialEq, Eq)]
enum TlsProblem {
    /// The certificate is untrusted, expired, for another name, or missing.
    Certificate(String),
    /// Anything else rustls refused: most often a server that does not speak TLS at all.
    Handshake(String),
}

impl TlsProblem {
    fn message(&self, endpoint: &Endpoint) -> String {
        let url = endpoint.url();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => endpoint.as_str().to_string(),
        };
        let check =
            "check the endpoint URL (--endpoint, UCLOUD_BASE_URL or the profile's base_url)";
        match self {
            TlsProblem::Certificate(cause) => format!(
                "{ACTION}: TLS certificate problem with the endpoint {host}: {cause}; not retried, \
                 since the endpoint presents the same certificate every time — {check}, and \
                 whether a proxy or firewall intercepts TLS on this network"
            ),
            TlsProblem::Handshake(cause) => format!(
                "{ACTION}: the TLS handshake with the endpoint {host} failed: {cause}; not \
                 retried, since the endpoint answers the same way every time — {check}: it must \
                 be an https:// API endpoint with a valid certificate, not a plain-HTTP server"
            ),
        }
    }
}

/// The TLS failure somewhere among `error`'s causes, if any. rustls' errors reach us inside an
/// `io::Error`, whose `source()` skips the error it wraps, so those are unwrapped by hand.
/// Connection refused / reset / timeouts are plain `io::Error`s and are not TLS problems.
fn tls_problem(error: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(match tls {
                rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::InvalidCertRevocationList(_)
                | rustls::Error::UnsupportedNameType => TlsProblem::Certificate(tls.to_string()),
                _ => TlsProblem::Handshake(tls.to_string()),
            });
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(problem) = tls_problem(inner)
        {
            return Some(problem);
        }
        cause = current.source();
    }
    None
}

fn join_error(error: tokio::task::JoinError) -> Error {
    Error::Internal(format!("a request task failed: {error}"))
}

/// Keeps the first of each ImageId, in order: a catalog that shifts between pages can show an
/// image on two of them.
fn dedupe(images: Vec<Image>) -> Vec<Image> {
    let mut seen = HashSet::new();
    images
        .into_iter()
        .filter(|image| seen.insert(image.image_id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// An error whose cause is `inner`, like hyper's connect error around the TLS stream's.
    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn wrapped(error: io::Error) -> Option<TlsProblem> {
        tls_problem(&Wrapper(error))
    }

    #[test]
    fn an_untrusted_certificate_is_a_certificate_problem() {
        let unknown_issuer =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let problem = wrapped(io::Error::new(io::ErrorKind::InvalidData, unknown_issuer));
        assert_eq!(
            problem,
            Some(TlsProblem::Certificate(
                "invalid peer certificate: UnknownIssuer".into()
            ))
        );
        let endpoint = Endpoint::parse("https://api.example.test:8443/").expect("endpoint");
        let message = problem.expect("a problem").message(&endpoint);
        assert!(
            message.starts_with(
                "DescribeImage: TLS certificate problem with the endpoint api.example.test:8443: \
                 invalid peer certificate: UnknownIssuer; not retried"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_non_tls_answer_is_a_handshake_problem() {
        let garbage = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let problem = wrapped(io::Error::new(io::ErrorKind::InvalidData, garbage));
        assert!(
            matches!(problem, Some(TlsProblem::Handshake(_))),
            "{problem:?}"
        );
    }

    #[test]
    fn network_errors_are_not_tls_problems() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::TimedOut,
            io::ErrorKind::UnexpectedEof,
        ] {
            assert_eq!(wrapped(io::Error::from(kind)), None, "{kind:?}");
            assert_eq!(
                wrapped(io::Error::new(kind, "tls handshake eof")),
                None,
                "{kind:?}"
            );
        }
    }
}
