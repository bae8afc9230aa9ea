//! The HTTP server: hyper 1 over tokio, HTTP/1.1 with keep-alive, one task per connection so
//! parallel clients are served concurrently. Routes `/__sim/*` to the control endpoints and
//! everything else to the API.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::catalog::{Catalog, Edit};
use crate::faults::{self, Fault};
use crate::protocol::{self, ApiError, Params};
use crate::stats::Recorder;

/// Larger request bodies are refused; DescribeImage requests are tiny.
const MAX_BODY: usize = 1 << 20;

/// Everything a request handler needs, shared by all connections.
pub(crate) struct State {
    pub catalog: RwLock<Catalog>,
    pub keys: Vec<(String, String)>,
    pub latency: Duration,
    pub page_cap: usize,
    pub fault_rate: f64,
    pub fault_kinds: Vec<Fault>,
    pub seed: u64,
    pub slow: Duration,
    pub max_in_flight: Option<usize>,
    /// Requests admitted by the `max_in_flight` limiter and not yet answered.
    pub admitted: AtomicU64,
    pub string_codes: bool,
    pub default_project: String,
    pub recorder: Recorder,
    pub arrivals: AtomicU64,
}

/// A response body that can also lie about its length (the `truncated` fault).
pub(crate) struct SimBody {
    data: Option<Bytes>,
    fail: bool,
    /// Holds the failure back until hyper has flushed the partial body; failing at once would
    /// make hyper drop the buffered head too, turning a truncation into a reset.
    delay: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SimBody {
    fn full(data: impl Into<Bytes>) -> Self {
        SimBody {
            data: Some(data.into()),
            fail: false,
            delay: None,
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(delay) = self.delay.as_mut() {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.delay = None;
        }
        if self.fail {
            self.fail = false;
            return Poll::Ready(Some(Err(io::Error::other("simulated truncated body"))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.data, self.fail) {
            (Some(d), false) => SizeHint::with_exact(d.len() as u64),
            (None, false) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<SimBody> {
    let mut resp = Response::new(SimBody::full(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// Accepts connections until `shutdown` flips to true.
pub(crate) async fn run(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(req, state.clone()));
                    // Errors here are clients going away or our own simulated resets.
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Response<SimBody>, io::Error> {
    if let Some(route) = req.uri().path().strip_prefix("/__sim/") {
        let route = route.to_owned();
        let method = req.method().clone();
        let body = Limited::new(req.into_body(), 64 * MAX_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        return Ok(control(&route, method, &body, &state));
    }
    let seq = state.arrivals.fetch_add(1, Ordering::SeqCst);
    let _in_flight = state.recorder.enter();
    // The rate limiter decides on arrival, like a gateway: a refused request does not hold a slot
    // (its answer still takes the round trip's latency).
    let admitted = match state.max_in_flight {
        None => None,
        Some(max) => {
            let now = state.admitted.fetch_add(1, Ordering::SeqCst) + 1;
            let admission = Admission {
                state: &state,
                refused: now > max as u64,
            };
            if admission.refused {
                admission.release();
            }
            Some(admission)
        }
    };
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let channel_key = req
        .headers()
        .get("channel-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let query = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let body = Limited::new(req.into_body(), MAX_BODY).collect().await;

    // The Go SDK's spelling of a JSON request, which the real API also accepts for signatures.
    let mut go_style: Option<Params> = None;
    let parsed: Result<Params, ApiError> = match body {
        Err(_) => Err(ApiError {
            code: 230,
            message: "request body unreadable or too large".into(),
        }),
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let mut params = protocol::parse_form(&query);
            if method == Method::POST && !bytes.is_empty() {
                let ct = content_type.to_ascii_lowercase();
                if ct.contains("json") {
                    protocol::parse_json_signed(&bytes)
                        .map(|(p, go)| {
                            let mut alternative = params.clone();
                            alternative.extend(go);
                            go_style = Some(alternative);
                            params.extend(p);
                            params
                        })
                        .map_err(|m| ApiError {
                            code: 230,
                            message: m,
                        })
                } else {
                    params.extend(protocol::parse_form(&bytes));
                    Ok(params)
                }
            } else {
                Ok(params)
            }
        }
    };

    let fault = faults::decide(state.seed, seq, state.fault_rate, &state.fault_kinds);
    let empty = Params::new();
    let params_ref = parsed.as_ref().unwrap_or(&empty);
    state.recorder.record(
        seq,
        method.as_str(),
        &content_type,
        params_ref,
        fault,
        channel_key,
    );

    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }

    let action = protocol::response_action(params_ref);
    let error_answer = |code: i64, message: &str| {
        state.recorder.retcode(code);
        let mut body = protocol::error_body(
            &action,
            &ApiError {
                code,
                message: message.into(),
            },
        );
        if state.string_codes {
            protocol::stringify_codes(&mut body);
        }
        with_uuid(json_response(StatusCode::OK, &body), seq)
    };
    // A per-account rate limiter: too many requests at once, and the extra ones are refused.
    if admitted.as_ref().is_some_and(|a| a.refused) {
        return Ok(error_answer(153, "API 请求被限流"));
    }
    match fault {
        Some(Fault::Reset) => return Err(io::Error::other("simulated connection reset")),
        Some(Fault::Http503) => return Ok(status_page(StatusCode::SERVICE_UNAVAILABLE)),
        Some(Fault::Http502) => return Ok(status_page(StatusCode::BAD_GATEWAY)),
        Some(Fault::Http429) => return Ok(status_page(StatusCode::TOO_MANY_REQUESTS)),
        Some(kind @ (Fault::RetCode2000 | Fault::RetCode150 | Fault::RetCode153)) => {
            let (code, message) = kind.ret_code().unwrap_or((2000, "Internal Error"));
            return Ok(error_answer(code, message));
        }
        Some(Fault::Slow) => tokio::time::sleep(state.slow).await,
        Some(Fault::Truncated) | None => {}
    }

    let mut answer = match &parsed {
        Err(e) => protocol::error_body(&action, e),
        Ok(params) => {
            let catalog = state.catalog.read().unwrap_or_else(|e| e.into_inner());
            let options = protocol::AnswerOptions {
                page_cap: state.page_cap,
                string_codes: false,
                default_project: &state.default_project,
                alternative: go_style.as_ref(),
            };
            protocol::answer_with(&catalog, &state.keys, params, &options)
        }
    };
    state
        .recorder
        .retcode(answer.get("RetCode").and_then(Value::as_i64).unwrap_or(-1));
    if state.string_codes {
        protocol::stringify_codes(&mut answer);
    }
    let mut resp = with_uuid(json_response(StatusCode::OK, &answer), seq);
    if fault == Some(Fault::Truncated) {
        let full = answer.to_string().into_bytes();
        let cut = full.len() / 2;
        resp.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(full.len() as u64));
        *resp.body_mut() = SimBody {
            data: Some(Bytes::from(full[..cut].to_vec())),
            fail: true,
            delay: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
        };
    }
    Ok(resp)
}

/// One request counted by the `max_in_flight` limiter: a refused one gives its slot back at once,
/// an admitted one when it is answered.
struct Admission<'a> {
    state: &'a State,
    refused: bool,
}

impl Admission<'_> {
    fn release(&self) {
        self.state.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if !self.refused {
            self.release();
        }
    }
}

/// Every API answer carries a request id, as UCloud's do (`X-UCLOUD-REQUEST-UUID`).
fn with_uuid(mut resp: Response<SimBody>, seq: u64) -> Response<SimBody> {
    resp.headers_mut().insert(
        "X-UCLOUD-REQUEST-UUID",
        HeaderValue::from_str(&format!("sim-{seq:012}")).unwrap_or(HeaderValue::from_static("sim")),
    );
    resp
}

/// A gateway-style error page: not JSON, as a real load balancer would send.
fn status_page(status: StatusCode) -> Response<SimBody> {
    let text = format!(
        "<html><body><h1>{} {}</h1></body></html>",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut resp = Response::new(SimBody::full(text));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert("Retry-After", HeaderValue::from_static("1"));
    }
    resp
}

fn control(route: &str, method: Method, body: &[u8], state: &State) -> Response<SimBody> {
    match (method, route) {
        (Method::GET, "stats") => json_response(
            StatusCode::OK,
            &serde_json::to_value(state.recorder.stats()).unwrap_or(Value::Null),
        ),
        (Method::GET, "requests") => json_response(
            StatusCode::OK,
            &serde_json::to_value(state.recorder.requests()).unwrap_or(Value::Null),
        ),
        (Method::POST, "reset-stats") => {
            state.recorder.reset();
            json_response(StatusCode::OK, &json!({"ok": true}))
        }
        (Method::GET, "catalog") => {
            let catalog = state.catalog.read().unwrap_or_else(|e| e.into_inner());
            json_response(
                StatusCode::OK,
                &serde_json::to_value(&*catalog).unwrap_or(Value::Null),
            )
        }
        (Method::POST, "catalog") => {
            let edits: Vec<Edit> = match serde_json::from_slice(body) {
                Ok(edits) => edits,
                Err(e) => {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("expected a JSON list of edits ({{\"op\": \"add\" | \"update\" | \"remove\" | \"replace\", ...}}): {e}")}),
                    );
                }
            };
            let mut catalog = state.catalog.write().unwrap_or_else(|e| e.into_inner());
            match catalog.apply(&edits) {
                Ok(()) => json_response(
                    StatusCode::OK,
                    &json!({"ok": true, "edits": edits.len(), "images": catalog.len()}),
                ),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e })),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown /__sim endpoint; try GET /__sim/stats, GET /__sim/requests, GET /__sim/catalog, POST /__sim/catalog, POST /__sim/reset-stats"}),
        ),
    }
}
