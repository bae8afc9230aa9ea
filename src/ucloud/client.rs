//! The `DescribeImage` client: signed form POSTs over one keep-alive pool, paging that never uses
//! an inconsistent listing, retries within a time budget, and an adaptive limit on requests in
//! flight that backs off when the API says "slow down".
//!
//! Paging is shaped by round trips: the first page tells the total and the server's page cap,
//! then the remaining pages are asked as the limit on requests in flight allows (never all at
//! once, whatever `TotalCount` claims), so a listing of any size costs about two round trips of
//! latency and bounded memory.
//!
//! Conventions taken from UCloud's own clients: the `X-UCLOUD-REQUEST-UUID` header is kept for
//! every error (`ucloud/client.go` in `ucloud/ucloud-sdk-go`); a profile's `channel_key` is sent as
//! the `channel-key` header (`cmd/internal/platform/client.go` in `ucloud/ucloud-cli`); the project
//! of the profile or `UCLOUD_PROJECT_ID` is sent with every call unless the call names its own
//! (`external/env_config.go` in the Go SDK, `ProjectId` of the CLI's config).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use tracing::{debug, trace};

use super::Image;
use super::credentials::Credentials;
use super::endpoint::Endpoint;
use super::error::ApiError;
use super::lenient;
use super::limit::AdaptiveLimit;
use super::retry::{self, Detail, Failure};
use super::sign::sign;
use crate::error::Error;
use crate::plan::Listing;

const ACTION: &str = "DescribeImage";
/// The most `ImageIds.N` sent in one request. UCloud does not publish a limit (not published; our
/// choice): 100 keeps a request's form well under any proxy's size limits.
pub const MAX_IDS_PER_REQUEST: usize = 100;
/// How many times an inconsistent listing is walked again before the run fails.
pub const MAX_REWALKS: u32 = 2;

/// Tuning knobs and per-run settings; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Per HTTP attempt, from connecting to the last byte of the body.
    pub timeout: Duration,
    /// Total time spent on one request including its retries and slow-down waits: no retry is
    /// started whose sleep would end past it, and each attempt's timeout is cut to what is left
    /// of it (down to one second), so a request gives up within about the budget.
    pub retry_budget: Duration,
    /// Attempts per request, the first included; "slow down" answers do not count.
    pub max_attempts: u32,
    /// The most requests in flight for the whole client; the limit starts here and is lowered
    /// (then grown back) when the API answers "slow down".
    pub concurrency: usize,
    /// The `Limit` asked for; the server may cap it lower (its cap is not published).
    pub page_size: u32,
    /// A larger response body is refused rather than buffered.
    pub max_body_bytes: usize,
    /// A listing whose `TotalCount` is larger fails before any further page is asked.
    pub max_listing: u64,
    /// The project sent when a listing names none: `UCLOUD_PROJECT_ID`, else the profile's.
    pub project_id: Option<String>,
    /// Sent as the `channel-key` header (dedicated-channel accounts).
    pub channel_key: Option<String>,
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
            max_listing: 100_000,
            project_id: None,
            channel_key: None,
        }
    }
}

/// What one HTTP attempt did, for progress reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestEvent {
    pub region: String,
    pub offset: u64,
    pub limit: u32,
    /// 1 for the first send of a request (slow-down resends count here too).
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
    /// The answer's `X-UCLOUD-REQUEST-UUID`, when one came.
    pub request_uuid: Option<String>,
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
    limit: AdaptiveLimit,
    observer: RwLock<Option<Observer>>,
}

/// One successful answer.
#[derive(Debug)]
struct Page {
    offset: u64,
    limit: u32,
    total_count: Option<u64>,
    images: Vec<Image>,
}

/// The body of a `DescribeImage` answer; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    #[serde(deserialize_with = "lenient::flexible_int")]
    ret_code: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    message: String,
    #[serde(default, deserialize_with = "lenient::flexible_count")]
    total_count: Option<u64>,
    #[serde(default)]
    image_set: Option<Vec<Image>>,
}

/// Only the status of an answer, for when the rest of it is malformed.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Head {
    #[serde(deserialize_with = "lenient::flexible_int")]
    ret_code: i64,
    #[serde(default, deserialize_with = "lenient::string")]
    message: String,
}

/// Why a complete walk of a listing cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inconsistency {
    EmptyPage { offset: u64, total: u64 },
    Duplicate { image_id: String },
    TotalChanged { from: u64, to: u64 },
    CountMismatch { distinct: u64, total: u64 },
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::EmptyPage { offset, total } => {
                write!(f, "an empty page at offset {offset} of TotalCount {total}")
            }
            Inconsistency::Duplicate { image_id } => {
                write!(f, "ImageId {image_id} on two pages")
            }
            Inconsistency::TotalChanged { from, to } => {
                write!(f, "TotalCount changed from {from} to {to} between pages")
            }
            Inconsistency::CountMismatch { distinct, total } => {
                write!(
                    f,
                    "{distinct} distinct images received for TotalCount {total}"
                )
            }
        }
    }
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
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = options.channel_key.as_deref() {
            let value = reqwest::header::HeaderValue::from_str(key.trim()).map_err(|_| {
                Error::Invalid(
                    "the profile's channel_key is not a valid HTTP header value (letters, digits \
                     and punctuation only)"
                        .into(),
                )
            })?;
            headers.insert("channel-key", value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("imagelock/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
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
                limit: AdaptiveLimit::new(options.concurrency),
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

    /// The requests allowed in flight now (lower than `concurrency` after "slow down" answers).
    pub fn current_concurrency(&self) -> usize {
        self.inner.limit.current()
    }

    /// The `ProjectId` actually sent for a listing whose spec entry names `spec_project`: the
    /// entry's, else `UCLOUD_PROJECT_ID`'s, else the profile's, else none (the account's default
    /// project). A pin records this.
    pub fn effective_project<'a>(&'a self, spec_project: Option<&'a str>) -> Option<&'a str> {
        spec_project.or(self.inner.options.project_id.as_deref())
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

    /// Every image of one listing, in the API's order, each once. The listing's `project_id`,
    /// else the default project (see [`Client::effective_project`]), is sent.
    pub async fn list(&self, listing: &Listing) -> Result<Vec<Image>, Error> {
        let mut params = vec![("Region".to_string(), listing.region.clone())];
        let mut push = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                params.push((name.to_string(), value.to_string()));
            }
        };
        push("Zone", listing.zone.as_deref());
        push(
            "ProjectId",
            self.effective_project(listing.project_id.as_deref()),
        );
        push("ImageType", listing.image_type.map(|t| t.as_str()));
        push("OsType", listing.os_type.map(|t| t.as_str()));
        push("FuncType", listing.func_type.map(|t| t.as_str()));
        push("ImageId", listing.image_id.as_deref());
        self.inner.walk(&listing.region, &params).await
    }

    /// The images among `ids` that exist in `region` (as seen from exactly `project_id`: no
    /// default project is added, so `verify` asks where the pin was made), in the order of `ids`'
    /// batches; missing ids are simply absent. Batches of at most [`MAX_IDS_PER_REQUEST`] ids.
    pub async fn describe_ids(
        &self,
        region: &str,
        project_id: Option<&str>,
        ids: &[String],
    ) -> Result<Vec<Image>, Error> {
        let mut distinct = HashSet::new();
        let ids: Vec<&String> = ids.iter().filter(|id| distinct.insert(*id)).collect();
        let batches = ids.chunks(MAX_IDS_PER_REQUEST).map(|batch| {
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
            let inner = &self.inner;
            async move { inner.walk(region, &params).await }
        });
        // In order, at most as many batches at once as requests may be in flight.
        let results: Vec<Vec<Image>> = stream::iter(batches)
            .buffered(self.inner.options.concurrency)
            .try_collect()
            .await?;
        let mut seen = HashSet::new();
        Ok(results
            .into_iter()
            .flatten()
            .filter(|image| seen.insert(image.image_id.clone()))
            .collect())
    }

    /// Whether `region` has any image at all: one request with only `Region` (and the default
    /// project, without which a sub-account cannot call at all) and `Limit=1`. For the hint
    /// "no images at all in region X: is the name right?" when an entry finds nothing; that
    /// UCloud has Base images in every region is our belief, not published.
    pub async fn region_has_images(&self, region: &str) -> Result<bool, Error> {
        let mut params = vec![("Region".to_string(), region.to_string())];
        if let Some(project) = self.effective_project(None) {
            params.push(("ProjectId".to_string(), project.to_string()));
        }
        let page = self.inner.fetch(region, &params, 0, 1).await?;
        Ok(page.total_count.unwrap_or(0) > 0 || !page.images.is_empty())
    }
}

impl Inner {
    fn error(&self, region: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ACTION, Some(region), message)
    }

    /// Every image of one query, from a walk that is consistent: walked again (at most
    /// [`MAX_REWALKS`] times, within the retry budget) when it is not, never used when it stays so.
    async fn walk(&self, region: &str, params: &[(String, String)]) -> Result<Vec<Image>, Error> {
        let started = Instant::now();
        let mut walks = 0;
        loop {
            walks += 1;
            let problem = match self.walk_once(region, params).await? {
                Ok(images) => return Ok(images),
                Err(problem) => problem,
            };
            let over_budget = started.elapsed() >= self.options.retry_budget;
            if walks > MAX_REWALKS || over_budget {
                return Err(self
                    .error(
                        region,
                        format!(
                            "the listing stayed inconsistent over {walks} walk{} ({problem}); \
                             not used",
                            if walks == 1 { "" } else { "s" }
                        ),
                    )
                    .with_hint(
                        "the catalog changed while it was read, or the API pages inconsistently; \
                         run again later",
                    )
                    .into());
            }
            debug!(region, walk = walks, %problem, "inconsistent listing; walking it again");
        }
    }

    /// One walk: the first page, then the rest as the limit allows, then any gaps short pages
    /// left; then the checks that make it trustworthy.
    async fn walk_once(
        &self,
        region: &str,
        params: &[(String, String)],
    ) -> Result<Result<Vec<Image>, Inconsistency>, Error> {
        let page_size = self.options.page_size;
        let first = self.fetch(region, params, 0, page_size).await?;
        let Some(total) = first.total_count else {
            // Without a total the only walk is page after page until an empty one.
            return self.walk_without_total(region, params, first).await;
        };
        self.check_total(region, total)?;
        let received = first.images.len() as u64;
        if received == 0 {
            return Ok(if total == 0 {
                Ok(Vec::new())
            } else {
                Err(Inconsistency::EmptyPage { offset: 0, total })
            });
        }
        // A short first page shows the server's cap; stepping by it makes every later page full.
        let step = received.min(u64::from(page_size));
        let limit = u32::try_from(step).unwrap_or(page_size);
        let mut pages = BTreeMap::from([(0u64, first.images)]);
        // Offsets are generated lazily: at most `concurrency` pages are asked at a time.
        let offsets = (1..).map(|n| n * step).take_while(|offset| *offset < total);
        let mut rest = stream::iter(offsets)
            .map(|offset| self.fetch(region, params, offset, limit))
            .buffer_unordered(self.options.concurrency);
        while let Some(page) = rest.next().await {
            let page = page?;
            if let Some(problem) = page_problem(&page, total) {
                return Ok(Err(problem));
            }
            pages.insert(page.offset, page.images);
        }
        drop(rest);
        let images = match self.fill(region, params, pages, total).await? {
            Ok(images) => images,
            Err(problem) => return Ok(Err(problem)),
        };
        Ok(check_listing(images, Some(total)))
    }

    fn check_total(&self, region: &str, total: u64) -> Result<(), Error> {
        let max = self.options.max_listing;
        if total > max {
            return Err(self
                .error(
                    region,
                    format!("TotalCount {total} is more than --max-listing {max}; not walked"),
                )
                .with_hint("raise --max-listing if the listing really is that large")
                .into());
        }
        Ok(())
    }

    /// Page after page until an empty one, for an answer without `TotalCount`.
    async fn walk_without_total(
        &self,
        region: &str,
        params: &[(String, String)],
        first: Page,
    ) -> Result<Result<Vec<Image>, Inconsistency>, Error> {
        let mut images = first.images;
        let mut limit = first.limit;
        let mut last = images.len();
        while last > 0 {
            self.check_total(region, images.len() as u64)?;
            let page = self
                .fetch(region, params, images.len() as u64, limit)
                .await?;
            last = page.images.len();
            limit = limit.min(u32::try_from(last).unwrap_or(limit)).max(1);
            images.extend(page.images);
        }
        Ok(check_listing(images, None))
    }

    /// Stitches pages together in offset order, fetching whatever short pages left out.
    async fn fill(
        &self,
        region: &str,
        params: &[(String, String)],
        mut pages: BTreeMap<u64, Vec<Image>>,
        total: u64,
    ) -> Result<Result<Vec<Image>, Inconsistency>, Error> {
        let mut images = Vec::new();
        let mut cursor = 0u64;
        while cursor < total {
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
            if let Some(problem) = page_problem(&page, total) {
                return Ok(Err(problem));
            }
            cursor += page.images.len() as u64;
            images.extend(page.images);
        }
        Ok(Ok(images))
    }

    /// One page, with retries and slow-down waits.
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

        let budget = self.options.retry_budget;
        let started = Instant::now();
        let mut sends = 0;
        // Failed attempts; "slow down" answers are not counted.
        let mut failures = 0;
        let mut slow_downs = 0;
        loop {
            sends += 1;
            let permit = self.limit.acquire().await;
            // Measured after the permit: waiting for a slot counts against the budget too.
            let timeout = retry::attempt_timeout(self.options.timeout, budget, started.elapsed());
            let attempt_started = Instant::now();
            let (status, uuid, outcome) = self.attempt(region, &params, timeout).await;
            let elapsed = attempt_started.elapsed();
            let (delay, will_retry) = match &outcome {
                Ok(_) => (Duration::ZERO, false),
                Err(Failure::Fatal(_)) => (Duration::ZERO, false),
                Err(Failure::SlowDown { retry_after, .. }) => {
                    slow_downs += 1;
                    let left = budget.saturating_sub(started.elapsed());
                    // The first time, the halved limit is the wait: the request queues for a
                    // slot. Refused again, it also backs off (0-200 ms, doubling).
                    let wanted = retry_after.unwrap_or_else(|| match slow_downs {
                        1 => Duration::ZERO,
                        n => retry::backoff(n - 1),
                    });
                    (wanted.min(left), !left.is_zero())
                }
                Err(Failure::Transient(_)) => {
                    failures += 1;
                    let delay = retry::backoff(failures);
                    let again = retry::should_retry(
                        failures,
                        self.options.max_attempts,
                        started.elapsed(),
                        delay,
                        budget,
                    );
                    (delay, again)
                }
            };
            debug!(
                region,
                offset,
                limit,
                status,
                request_uuid = %uuid.as_deref().unwrap_or("-"),
                elapsed_ms = elapsed.as_millis() as u64,
                attempt = sends,
                in_flight_limit = self.limit.current(),
                ok = outcome.is_ok(),
                "DescribeImage request"
            );
            let error = match &outcome {
                Ok(_) => None,
                Err(Failure::Transient(detail)) | Err(Failure::SlowDown { detail, .. }) => {
                    Some(detail.message.clone())
                }
                Err(Failure::Fatal(error)) => Some(error.to_string()),
            };
            self.notify(RequestEvent {
                region: region.to_string(),
                offset,
                limit,
                attempt: sends,
                elapsed,
                items: outcome.as_ref().map_or(0, |(_, images)| images.len()),
                total_count: outcome.as_ref().ok().and_then(|(total, _)| *total),
                error,
                will_retry,
                request_uuid: uuid.clone(),
            });
            match outcome {
                Ok((total_count, images)) => {
                    permit.succeeded();
                    return Ok(Page {
                        offset,
                        limit,
                        total_count,
                        images,
                    });
                }
                Err(Failure::Fatal(error)) => return Err(Error::Api(error)),
                Err(Failure::SlowDown { detail, .. }) => {
                    if permit.slowed_down() {
                        debug!(
                            region,
                            in_flight_limit = self.limit.current(),
                            "the API asked to slow down; fewer requests in flight"
                        );
                    }
                    if !will_retry {
                        return Err(self.final_error(region, &detail, sends, started, true));
                    }
                    tokio::time::sleep(delay).await;
                }
                Err(Failure::Transient(detail)) => {
                    drop(permit);
                    if !will_retry {
                        return Err(self.final_error(region, &detail, failures, started, false));
                    }
                    debug!(region, offset, attempt = sends, delay_ms = delay.as_millis() as u64, error = %detail.message, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn final_error(
        &self,
        region: &str,
        detail: &Detail,
        attempts: u32,
        started: Instant,
        slowed: bool,
    ) -> Error {
        let plural = if attempts == 1 { "" } else { "s" };
        let secs = started.elapsed().as_secs_f64();
        let message = if slowed {
            format!(
                "still rate-limited after {attempts} send{plural} over {secs:.1}s: {}",
                detail.message
            )
        } else {
            format!(
                "failed after {attempts} attempt{plural} over {secs:.1}s: {}",
                detail.message
            )
        };
        let mut error = self
            .error(region, message)
            .with_request_uuid(detail.request_uuid.clone());
        error.ret_code = detail.ret_code;
        if slowed {
            error = error.with_hint(
                "the API limits how fast it may be called; run again later, or raise \
                 --retry-budget",
            );
        }
        error.into()
    }

    /// One HTTP round trip: the status and request UUID (if an answer came) and the page or why
    /// it failed.
    async fn attempt(
        &self,
        region: &str,
        params: &[(String, String)],
        timeout: Duration,
    ) -> (
        Option<u16>,
        Option<String>,
        Result<(Option<u64>, Vec<Image>), Failure>,
    ) {
        let sent = self
            .http
            .post(self.endpoint.url().clone())
            .timeout(timeout)
            .form(params)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return (None, None, Err(http_failure(&e, &self.endpoint))),
        };
        let status = response.status();
        let uuid = response
            .headers()
            .get("X-UCLOUD-REQUEST-UUID")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string);
        if retry::is_transient_status(status.as_u16()) {
            let detail = Detail {
                message: format!("HTTP {status}"),
                ret_code: None,
                request_uuid: uuid.clone(),
            };
            let failure = if retry::is_slow_down_status(status.as_u16()) {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry::parse_retry_after);
                Failure::SlowDown {
                    detail,
                    retry_after,
                }
            } else {
                Failure::Transient(detail)
            };
            return (Some(status.as_u16()), uuid, Err(failure));
        }
        let body = match self.read_body(region, &mut response).await {
            Ok(body) => body,
            Err(failure) => return (Some(status.as_u16()), uuid, Err(failure)),
        };
        let outcome = self.parse(region, params, status, &body, uuid.as_deref());
        (Some(status.as_u16()), uuid, outcome)
    }

    async fn read_body(
        &self,
        region: &str,
        response: &mut reqwest::Response,
    ) -> Result<Vec<u8>, Failure> {
        let max = self.options.max_body_bytes;
        let too_big = || {
            Failure::Fatal(Box::new(self.error(
                region,
                format!(
                    "the response body is larger than {max} bytes; raise the body size limit if \
                     this is expected"
                ),
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
        params: &[(String, String)],
        status: reqwest::StatusCode,
        body: &[u8],
        uuid: Option<&str>,
    ) -> Result<(Option<u64>, Vec<Image>), Failure> {
        let uuid = uuid.map(str::to_string);
        let fatal =
            |error: ApiError| Failure::Fatal(Box::new(error.with_request_uuid(uuid.clone())));
        let response: Response = match serde_json::from_slice(body) {
            Ok(response) => response,
            // A garbled or cut-off answer is transient; an error page from something that is not
            // the API (a proxy's 404, a redirect) will not get better by asking again.
            Err(e) if (e.is_syntax() || e.is_eof()) && status.is_success() => {
                return Err(Failure::Transient(Detail {
                    message: format!("HTTP {status} with a body that is not valid JSON ({e})"),
                    ret_code: None,
                    request_uuid: uuid.clone(),
                }));
            }
            Err(_) if status.is_redirection() => {
                return Err(fatal(self.error(
                    region,
                    format!("HTTP {status}; redirects are not followed, check the endpoint URL"),
                )));
            }
            Err(_) if !status.is_success() => {
                return Err(fatal(self.error(
                    region,
                    format!("HTTP {status} without an API answer; check the endpoint URL"),
                )));
            }
            Err(e) => {
                // An error answer whose other fields are odd is still that error.
                if let Ok(head) = serde_json::from_slice::<Head>(body)
                    && head.ret_code != 0
                {
                    return Err(self.ret_code_failure(
                        region,
                        params,
                        head.ret_code,
                        &head.message,
                        uuid,
                    ));
                }
                return Err(fatal(
                    self.error(region, format!("malformed response: {e}")),
                ));
            }
        };
        if response.ret_code != 0 {
            return Err(self.ret_code_failure(
                region,
                params,
                response.ret_code,
                &response.message,
                uuid,
            ));
        }
        if !status.is_success() {
            return Err(fatal(self.error(region, format!("HTTP {status}"))));
        }
        Ok((response.total_count, response.image_set.unwrap_or_default()))
    }

    fn ret_code_failure(
        &self,
        region: &str,
        params: &[(String, String)],
        code: i64,
        message: &str,
        uuid: Option<String>,
    ) -> Failure {
        let described = format!("RetCode {code} {:?}", lenient::shorten(message));
        let detail = Detail {
            message: described.clone(),
            ret_code: Some(code),
            request_uuid: uuid.clone(),
        };
        if code == retry::RATE_LIMITED {
            return Failure::SlowDown {
                detail,
                retry_after: None,
            };
        }
        if retry::is_transient_ret_code(code) {
            return Failure::Transient(detail);
        }
        let mut error = self
            .error(region, described)
            .with_ret_code(code)
            .with_request_uuid(uuid);
        error.hint = self.hint(code, params);
        Failure::Fatal(Box::new(error))
    }

    /// What to check for a RetCode, from UCloud's common error codes.
    fn hint(&self, code: i64, params: &[(String, String)]) -> Option<String> {
        let keys = &self.credentials.source;
        let sent = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        Some(match code {
            160 => "UCloud saw no Action parameter: something between imagelock and the API (a \
                    proxy?) dropped the request body; check the endpoint"
                .to_string(),
            161 => format!(
                "the endpoint does not know the {ACTION} action; check that {} ({}) is UCloud's API",
                self.endpoint.origin(),
                self.endpoint.source()
            ),
            170 => "UCloud saw no signature: something between imagelock and the API (a proxy?) \
                    dropped the request body; check the endpoint"
                .to_string(),
            171 => format!(
                "UCloud refused the signature: the private key does not belong to the public key \
                 (the keys came from {keys})"
            ),
            172 => format!(
                "UCloud does not know this public key (the keys came from {keys}); check it in \
                 the UCloud console's API keys"
            ),
            174 => "UCloud found no valid token: for an account of a dedicated cloud channel, \
                    the profile's channel_key must match it (`ucloud config --channel-key ...`)"
                .to_string(),
            230 => "a parameter is invalid; check region, zone and project_id".to_string(),
            292 => match sent("ProjectId") {
                Some(project) => format!(
                    "project {project:?} does not exist for this account; check project_id (the \
                     spec entry's, else UCLOUD_PROJECT_ID, else the profile's)"
                ),
                None => "the account's default project was used; check project_id (the spec \
                         entry's, UCLOUD_PROJECT_ID or the profile's)"
                    .to_string(),
            },
            293 => "this account may not use that zone; check the entry's zone".to_string(),
            294 => {
                let mut hint = "UCloud refused this machine's IP address: the API key has an IP \
                                allow-list; add this address to it in the UCloud console"
                    .to_string();
                // UCloud's API overview (`summary/README.md` in UCloudDoc-Team/api): calls through
                // the intranet gateway come from 10.10.10.10.
                if self.endpoint.origin() == super::INTRANET_ENDPOINT {
                    hint.push_str(" (through the intranet gateway, the address is 10.10.10.10)");
                }
                hint
            }
            299 => "IAM permission check failed: this (sub-)account needs permission to call \
                    DescribeImage (UHost read access) in the project"
                .to_string(),
            _ => return None,
        })
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

/// Whether a later page breaks the walk: empty before the total, or another total.
fn page_problem(page: &Page, total: u64) -> Option<Inconsistency> {
    if let Some(now) = page.total_count
        && now != total
    {
        return Some(Inconsistency::TotalChanged {
            from: total,
            to: now,
        });
    }
    (page.images.is_empty() && page.offset < total).then_some(Inconsistency::EmptyPage {
        offset: page.offset,
        total,
    })
}

/// A walk is used only if no ImageId repeats and, with a total, it holds exactly that many.
fn check_listing(images: Vec<Image>, total: Option<u64>) -> Result<Vec<Image>, Inconsistency> {
    let mut seen = HashSet::with_capacity(images.len());
    for image in &images {
        if !seen.insert(image.image_id.as_str()) {
            return Err(Inconsistency::Duplicate {
                image_id: image.image_id.clone(),
            });
        }
    }
    match total {
        Some(total) if images.len() as u64 != total => Err(Inconsistency::CountMismatch {
            distinct: images.len() as u64,
            total,
        }),
        _ => Ok(images),
    }
}

/// Network-level failures are transient, except ones that come from building the request and
/// failed TLS handshakes: the endpoint presents the same certificate (or speaks the same non-TLS
/// protocol) on every attempt, so retrying would only delay the error by the whole budget.
fn http_failure(error: &reqwest::Error, endpoint: &Endpoint) -> Failure {
    if let Some(problem) = tls_problem(error) {
        return Failure::Fatal(Box::new(ApiError::new(
            ACTION,
            None,
            problem.message(endpoint),
        )));
    }
    let what = if error.is_timeout() {
        "timed out waiting for"
    } else if error.is_connect() {
        "cannot connect to"
    } else if error.is_body() {
        "the response body was cut off from"
    } else if error.is_decode() {
        "the response could not be decoded from"
    } else {
        "the request failed at"
    };
    // The endpoint as scheme://host[:port] (never a path, query or credentials) and the setting
    // that chose it, so a wrong one is easy to find.
    let mut message = format!(
        "{what} {} (endpoint from {})",
        endpoint.origin(),
        endpoint.source()
    );
    // The causes say what actually happened ("connection refused", "connection reset").
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // reqwest's causes may repeat the URL; the origin above already names it.
        if !cause_text.contains(endpoint.as_str()) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    if error.is_builder() || error.is_redirect() {
        Failure::Fatal(Box::new(ApiError::new(ACTION, None, message)))
    } else {
        Failure::Transient(Detail::new(message))
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
        let check = format!(
            "check the endpoint URL (it came from {})",
            endpoint.source()
        );
        match self {
            TlsProblem::Certificate(cause) => format!(
                "TLS certificate problem with the endpoint {host}: {cause}; not retried, \
                 since the endpoint presents the same certificate every time — {check}, and \
                 whether a proxy or firewall intercepts TLS on this network"
            ),
            TlsProblem::Handshake(cause) => format!(
                "the TLS handshake with the endpoint {host} failed: {cause}; not \
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
        let message =
            ApiError::new(ACTION, None, problem.expect("a problem").message(&endpoint)).to_string();
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
