//! The `DescribeImage` client over real HTTP against the in-process simulator (and a scripted
//! server for answers the simulator does not give): paging under a server page cap, concurrency
//! and rate limits, gap filling, inconsistent listings, retries through injected faults, odd
//! and hostile answers, refused credentials and their hints, `ImageIds.N` batching, projects,
//! and that no secret reaches the logs.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagelock::Error;
use imagelock::plan::Listing;
use imagelock::spec::OsType;
use imagelock::ucloud::{
    Client, ClientOptions, Credentials, Endpoint, PrivateKey, RequestEvent, sign,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ucloud_sim::{Catalog, DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, Fault, Query, SimConfig, SimHandle};

fn demo_credentials() -> Credentials {
    Credentials::new(DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY, "the demo pair")
}

fn client_for(url: &str, credentials: Credentials, options: ClientOptions) -> Client {
    let endpoint = Endpoint::parse(url).expect("the simulator's URL is a loopback endpoint");
    Client::new(endpoint, credentials, options).expect("client")
}

fn sim(config: SimConfig) -> SimHandle {
    ucloud_sim::spawn(config).expect("simulator starts")
}

fn catalog() -> Catalog {
    Catalog::generate(2, 180, 7)
}

fn listing(region: &str, os_type: Option<OsType>) -> Listing {
    Listing {
        region: region.to_string(),
        zone: None,
        project_id: None,
        os_type,
        image_type: None,
        func_type: None,
        image_id: None,
    }
}

/// What the catalog holds for a listing, in the API's order.
fn expected_ids(catalog: &Catalog, listing: &Listing) -> Vec<String> {
    let query = Query {
        region: listing.region.clone(),
        os_type: listing.os_type.map(|t| t.as_str().to_string()),
        limit: usize::MAX,
        ..Query::default()
    };
    let (_, images) = catalog.query(&query, usize::MAX);
    images
        .iter()
        .map(|image| {
            image["ImageId"]
                .as_str()
                .expect("ids are strings")
                .to_string()
        })
        .collect()
}

fn ids(images: &[imagelock::ucloud::Image]) -> Vec<String> {
    images.iter().map(|image| image.image_id.clone()).collect()
}

fn first_region(catalog: &Catalog) -> String {
    catalog.regions()[0].to_string()
}

#[tokio::test]
async fn listing_under_a_page_cap_returns_every_image_once_in_order() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog.clone());
    config.page_cap = 7;
    config.latency = Duration::from_millis(20);
    let server = sim(config);
    let mut client = client_for(&server.url(), demo_credentials(), ClientOptions::default());
    let events: Arc<Mutex<Vec<RequestEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    client.set_observer(Arc::new(move |event| {
        sink.lock().expect("event log").push(event)
    }));

    let wanted = listing(&region, Some(OsType::Linux));
    let images = client.list(&wanted).await.expect("listing succeeds");

    let expected = expected_ids(&catalog, &wanted);
    assert!(expected.len() > 50, "the test needs many pages");
    assert_eq!(ids(&images), expected);
    assert!(images.iter().all(|image| image.os_type == "Linux"));

    let requests = server.requests();
    let keys: Vec<String> = requests.iter().map(|r| r.listing_key()).collect();
    let distinct: HashSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "a page was fetched twice");
    assert_eq!(requests.len(), expected.len().div_ceil(7));
    assert!(requests.iter().all(|r| r.params["OsType"] == "Linux"));
    // The first page asks for the configured page size; the rest step by the cap seen.
    assert_eq!(requests[0].params["Limit"], "500");
    assert!(
        server.stats().max_in_flight > 1,
        "pages after the first should be fetched concurrently"
    );

    let events = events.lock().expect("event log");
    assert_eq!(events.len(), requests.len());
    assert!(events.iter().all(|e| e.ok() && e.region == region));
}

#[tokio::test]
async fn concurrency_option_bounds_requests_in_flight() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog.clone());
    config.page_cap = 5;
    config.latency = Duration::from_millis(20);
    let server = sim(config);
    let options = ClientOptions {
        concurrency: 2,
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    let wanted = listing(&region, None);
    let images = client.list(&wanted).await.expect("listing succeeds");
    assert_eq!(ids(&images), expected_ids(&catalog, &wanted));
    assert!(server.stats().max_in_flight <= 2);
}

#[tokio::test]
async fn small_page_size_below_the_cap_still_walks_everything() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog.clone());
    config.page_cap = 100;
    let server = sim(config);
    let options = ClientOptions {
        page_size: 9,
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    let wanted = listing(&region, None);
    let images = client.list(&wanted).await.expect("listing succeeds");
    assert_eq!(ids(&images), expected_ids(&catalog, &wanted));
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.params["Limit"] == "9"));
}

#[tokio::test]
async fn retries_ride_through_faults_with_the_fault_free_result() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let wanted = listing(&region, Some(OsType::Linux));
    let expected = expected_ids(&catalog, &wanted);
    for seed in [1, 2, 3, 4] {
        let mut config = SimConfig::new(catalog.clone());
        config.page_cap = 10;
        config.fault_rate = 0.3;
        config.seed = seed;
        config.slow = Duration::from_millis(1500);
        let server = sim(config);
        let options = ClientOptions {
            timeout: Duration::from_millis(700),
            retry_budget: Duration::from_secs(20),
            max_attempts: 12,
            ..ClientOptions::default()
        };
        let client = client_for(&server.url(), demo_credentials(), options);
        let images = client.list(&wanted).await.expect("retries ride through");
        assert_eq!(ids(&images), expected, "seed {seed}");
        let stats = server.stats();
        let faults: u64 = stats.faults.values().sum();
        assert!(faults > 0, "seed {seed} injected no fault: {stats:?}");
    }
}

#[tokio::test]
async fn every_attempt_failing_is_an_api_error_within_the_budget() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog);
    config.fault_rate = 1.0;
    config.slow = Duration::from_millis(800);
    let server = sim(config);
    let options = ClientOptions {
        timeout: Duration::from_millis(300),
        retry_budget: Duration::from_secs(2),
        max_attempts: 50,
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    let started = Instant::now();
    let error = client
        .list(&listing(&region, None))
        .await
        .expect_err("every attempt fails");
    let elapsed = started.elapsed();
    let Error::Api(api) = &error else {
        panic!("expected an API error (exit 5), got {error:?}");
    };
    let message = api.to_string();
    assert!(
        message.starts_with(&format!("DescribeImage in {region}: failed after ")),
        "{message}"
    );
    assert!(message.contains(" attempts over "), "{message}");
    // The budget bounds the sleeps; one attempt may still be running when it runs out.
    assert!(
        elapsed < Duration::from_millis(2000 + 300 + 500),
        "{elapsed:?}"
    );
    assert!(server.stats().total > 1, "it should have retried");
}

#[tokio::test]
async fn max_attempts_bounds_the_retries() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog);
    config.fault_rate = 1.0;
    config.fault_kinds = vec![Fault::Http503];
    let server = sim(config);
    let options = ClientOptions {
        max_attempts: 3,
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    let error = client
        .list(&listing(&region, None))
        .await
        .expect_err("every attempt fails");
    assert_eq!(
        error.to_string().split(" over ").next(),
        Some(format!("DescribeImage in {region}: failed after 3 attempts").as_str())
    );
    assert!(
        error
            .to_string()
            .ends_with(": HTTP 503 Service Unavailable"),
        "{error}"
    );
    assert_eq!(server.stats().total, 3);
}

#[tokio::test]
async fn wrong_private_key_is_retcode_171_without_retry() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let server = sim(SimConfig::new(catalog));
    let credentials = Credentials::new(
        DEMO_PUBLIC_KEY,
        "not-the-private-key",
        "the variables UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY",
    );
    let client = client_for(&server.url(), credentials, ClientOptions::default());
    let error = client
        .list(&listing(&region, None))
        .await
        .expect_err("refused");
    let Error::Api(api) = &error else {
        panic!("expected exit 5, got {error:?}");
    };
    assert_eq!(api.ret_code, Some(171));
    assert_eq!(api.request_uuid.as_deref(), Some("sim-000000000000"));
    assert_eq!(
        api.to_string(),
        format!(
            "DescribeImage in {region}: RetCode 171 \"Signature VerifyAC Error\" (request \
             sim-000000000000) — UCloud refused the signature: the private key does not belong to \
             the public key (the keys came from the variables UCLOUD_PUBLIC_KEY and \
             UCLOUD_PRIVATE_KEY)"
        )
    );
    assert_eq!(server.stats().total, 1, "171 must not be retried");
}

#[tokio::test]
async fn unknown_public_key_is_retcode_172() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let server = sim(SimConfig::new(catalog));
    let credentials = Credentials::new(
        "nobody",
        DEMO_PRIVATE_KEY,
        "the variables UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY",
    );
    let client = client_for(&server.url(), credentials, ClientOptions::default());
    let error = client
        .list(&listing(&region, None))
        .await
        .expect_err("refused");
    assert!(matches!(error, Error::Api(_)), "{error:?}");
    assert!(error.to_string().contains("RetCode 172"), "{error}");
    assert!(error.to_string().contains("UCLOUD_PUBLIC_KEY"), "{error}");
    assert_eq!(server.stats().total, 1);
}

#[tokio::test]
async fn describe_ids_batches_at_most_100_ids_per_request() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog.clone());
    config.page_cap = 30;
    let server = sim(config);
    let client = client_for(&server.url(), demo_credentials(), ClientOptions::default());

    let mut wanted: Vec<String> = catalog
        .images(&region)
        .iter()
        .filter(|image| {
            image
                .get("ProjectId")
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .is_empty()
        })
        .map(|image| {
            image["ImageId"]
                .as_str()
                .expect("ids are strings")
                .to_string()
        })
        .collect();
    assert!(wanted.len() > 150, "the test needs more than one batch");
    wanted.push("uimage-doesnotexist".to_string());
    wanted.push(wanted[0].clone());

    let images = client
        .describe_ids(&region, None, &wanted)
        .await
        .expect("describe succeeds");
    let found: HashSet<String> = ids(&images).into_iter().collect();
    assert_eq!(found.len(), images.len(), "no duplicates");
    assert_eq!(found.len(), wanted.len() - 2);
    assert!(!found.contains("uimage-doesnotexist"));

    let requests = server.requests();
    let batches: HashSet<String> = requests
        .iter()
        .map(|r| {
            r.params
                .iter()
                .filter(|(k, _)| k.starts_with("ImageIds."))
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(batches.len(), (wanted.len() - 1).div_ceil(100));
    for request in &requests {
        let count = request
            .params
            .keys()
            .filter(|k| k.starts_with("ImageIds."))
            .count();
        assert!((1..=100).contains(&count), "{count} ids in one request");
    }
    let keys: Vec<String> = requests.iter().map(|r| r.listing_key()).collect();
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
}

/// A writer shared with the test, so logs can be searched after the fact.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_never_show_the_private_key_or_a_signature() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog);
    config.page_cap = 20;
    config.fault_rate = 0.2;
    config.fault_kinds = vec![Fault::Http503, Fault::RetCode2000];
    let server = sim(config);

    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // A current-thread runtime runs every spawned request on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = client_for(&server.url(), demo_credentials(), ClientOptions::default());
    client
        .list(&listing(&region, None))
        .await
        .expect("listing succeeds");
    // A refused request logs too.
    let wrong = Credentials::new(DEMO_PUBLIC_KEY, "wrong-private-key-0123456789", "a test");
    let refused = client_for(&server.url(), wrong, ClientOptions::default());
    let _ = refused.list(&listing(&region, None)).await;

    let logs = String::from_utf8(buffer.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(
        logs.contains("DescribeImage request"),
        "no debug logs:\n{logs}"
    );
    assert!(
        logs.contains("Offset"),
        "trace logs should name parameters:\n{logs}"
    );
    assert!(!logs.contains(DEMO_PRIVATE_KEY));
    assert!(!logs.contains("wrong-private-key-0123456789"));
    for request in server.requests() {
        let mut params: Vec<(String, String)> = request.params.clone().into_iter().collect();
        params.push(("PublicKey".into(), DEMO_PUBLIC_KEY.into()));
        for key in [DEMO_PRIVATE_KEY, "wrong-private-key-0123456789"] {
            let signature = sign(&params, &PrivateKey::new(key));
            assert!(!logs.contains(&signature), "a signature was logged");
        }
    }
}

/// What a scripted server answers: HTTP status and body, given the request's Offset, Limit and
/// how many requests came before it.
type Script = dyn Fn(usize, usize, usize) -> (u16, String) + Send + Sync;

/// A tiny HTTP server answering by `script`, for answers the simulator does not give (pages
/// shorter than asked mid-listing, error pages, oversized bodies). Returns its URL and the
/// (Offset, Limit) of every request.
async fn scripted_server(script: Arc<Script>) -> (String, Arc<Mutex<Vec<(usize, usize)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let asked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let log = Arc::clone(&asked);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                let Some(body) = read_form(&mut stream).await else {
                    return;
                };
                let param = |name: &str| {
                    body.split('&')
                        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0)
                };
                let (offset, limit) = (param("Offset"), param("Limit"));
                let seq = {
                    let mut log = log.lock().expect("log");
                    log.push((offset, limit));
                    log.len() - 1
                };
                let (status, json) = script(offset, limit, seq);
                // A rate limiter's 429 says when to come back.
                let retry_after = if status == 429 {
                    "Retry-After: 1\r\n"
                } else {
                    ""
                };
                let response = format!(
                    "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nX-UCLOUD-REQUEST-UUID: scripted-{seq}\r\n{retry_after}Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, asked)
}

/// Reads one request's headers, then its body by Content-Length.
async fn read_form(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return Some(text[end + 4..end + 4 + length].to_string());
            }
        }
    }
}

/// A page of `total` numbered images; the page at `short_at` holds only `short_len`.
fn numbered_pages(total: usize, short_at: usize, short_len: usize) -> Arc<Script> {
    Arc::new(move |offset, limit, _| {
        let len = if offset == short_at { short_len } else { limit };
        let end = (offset + len).min(total);
        let images: Vec<String> = (offset.min(end)..end)
            .map(|i| {
                format!(
                    r#"{{"ImageId":"uimage-{i:04}","CreateTime":{}}}"#,
                    1_700_000_000 + i
                )
            })
            .collect();
        let json = format!(
            r#"{{"RetCode":0,"Action":"DescribeImageResponse","TotalCount":{total},"ImageSet":[{}]}}"#,
            images.join(",")
        );
        (200, json)
    })
}

#[tokio::test]
async fn short_pages_in_the_middle_are_filled_without_refetching() {
    let (url, asked) = scripted_server(numbered_pages(40, 16, 3)).await;
    let options = ClientOptions {
        page_size: 8,
        ..ClientOptions::default()
    };
    let client = client_for(&url, demo_credentials(), options);
    let images = client
        .list(&listing("cn-bj2", None))
        .await
        .expect("listing succeeds");
    let expected: Vec<String> = (0..40).map(|i| format!("uimage-{i:04}")).collect();
    assert_eq!(ids(&images), expected);

    let mut asked = asked.lock().expect("log").clone();
    asked.sort_unstable();
    // Pages at 0, 8, 16 (short: 3 items), 24, 32, and the gap 19..24 asked exactly.
    assert_eq!(asked, [(0, 8), (8, 8), (16, 8), (19, 5), (24, 8), (32, 8)]);
}

#[tokio::test]
async fn short_first_page_reveals_the_cap() {
    // Every page but the one at offset 0 is full: the client must trust the first page's
    // length as the cap, then fill whatever the real cap leaves out.
    let (url, asked) = scripted_server(numbered_pages(20, 0, 6)).await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let images = client
        .list(&listing("hk", None))
        .await
        .expect("listing succeeds");
    let expected: Vec<String> = (0..20).map(|i| format!("uimage-{i:04}")).collect();
    assert_eq!(ids(&images), expected);
    let mut asked = asked.lock().expect("log").clone();
    asked.sort_unstable();
    assert_eq!(asked, [(0, 500), (6, 6), (12, 6), (18, 6)]);
}

#[tokio::test]
async fn garbled_json_is_retried_but_an_error_page_is_not() {
    let pages = numbered_pages(3, usize::MAX, 0);
    let (url, asked) = scripted_server(Arc::new(move |offset, limit, seq| {
        if seq == 0 {
            (200, r#"{"RetCode":0,"TotalCo"#.to_string())
        } else {
            pages(offset, limit, seq)
        }
    }))
    .await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let images = client.list(&listing("hk", None)).await.expect("retried");
    assert_eq!(images.len(), 3);
    assert_eq!(asked.lock().expect("log").len(), 2);

    let (url, asked) = scripted_server(Arc::new(|_, _, _| {
        (404, "<html>Not Found</html>".to_string())
    }))
    .await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("not the API");
    assert!(matches!(error, Error::Api(_)), "{error:?}");
    assert!(error.to_string().contains("HTTP 404"), "{error}");
    assert_eq!(
        asked.lock().expect("log").len(),
        1,
        "a 404 must not be retried"
    );
}

#[tokio::test]
async fn bodies_over_the_size_limit_are_refused() {
    let (url, _) = scripted_server(numbered_pages(400, usize::MAX, 0)).await;
    let options = ClientOptions {
        max_body_bytes: 1000,
        ..ClientOptions::default()
    };
    let client = client_for(&url, demo_credentials(), options);
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("too big");
    assert!(matches!(error, Error::Api(_)), "{error:?}");
    assert!(
        error.to_string().contains("larger than 1000 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn other_retcodes_name_action_region_code_and_message() {
    let (url, asked) = scripted_server(Arc::new(|_, _, _| {
        (
            200,
            r#"{"RetCode":230,"Action":"DescribeImageResponse","Message":"Params [Zone] not valid"}"#
                .to_string(),
        )
    }))
    .await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let error = client
        .list(&listing("cn-bj2", None))
        .await
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .starts_with(r#"DescribeImage in cn-bj2: RetCode 230 "Params [Zone] not valid""#),
        "{error}"
    );
    assert_eq!(asked.lock().expect("log").len(), 1);
}

/// A TCP server on `https://127.0.0.1:PORT` that does something other than TLS with each
/// connection (`respond`), and counts the connections it accepted.
async fn non_tls_server(
    respond: fn(tokio::net::TcpStream) -> tokio::task::JoinHandle<()>,
) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            respond(stream);
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_failed_tls_handshake_is_fatal_at_once_naming_the_host() {
    // Plain HTTP bytes where a TLS ServerHello should be: the handshake fails, and no retry can
    // change what the endpoint speaks or which certificate it holds.
    let (url, accepted) = non_tls_server(|mut stream| {
        tokio::spawn(async move {
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        })
    })
    .await;
    let options = ClientOptions {
        max_attempts: 6,
        ..ClientOptions::default()
    };
    let client = client_for(&url, demo_credentials(), options);
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("not TLS");
    let Error::Api(api) = &error else {
        panic!("expected an API error (exit 5), got {error:?}");
    };
    let message = api.to_string();
    assert!(
        message.contains("the TLS handshake with the endpoint 127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("valid certificate"), "{message}");
    assert!(message.contains("not retried"), "{message}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_closed_during_the_handshake_is_still_retried() {
    // A connection dropped before any answer is the network's doing, not the endpoint's
    // certificate: it stays transient.
    let (url, accepted) = non_tls_server(|stream| tokio::spawn(async move { drop(stream) })).await;
    let options = ClientOptions {
        max_attempts: 3,
        ..ClientOptions::default()
    };
    let client = client_for(&url, demo_credentials(), options);
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("every attempt fails");
    assert!(
        error.to_string().contains("failed after 3 attempts"),
        "{error}"
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// One image of a scripted answer.
fn scripted_image(n: usize) -> String {
    format!(
        r#"{{"ImageId":"uimage-{n:04}","CreateTime":{}}}"#,
        1_700_000_000 + n
    )
}

/// An answer with `TotalCount` `total` holding the images numbered `range`.
fn scripted_page(total: u64, range: std::ops::Range<usize>) -> String {
    let images: Vec<String> = range.map(scripted_image).collect();
    format!(
        r#"{{"RetCode":0,"TotalCount":{total},"ImageSet":[{}]}}"#,
        images.join(",")
    )
}

fn small_pages() -> ClientOptions {
    ClientOptions {
        page_size: 8,
        ..ClientOptions::default()
    }
}

#[tokio::test]
async fn a_rate_limited_api_still_gives_every_image_and_lowers_the_requests_in_flight() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let listing = listing(&region, None);
    let expected = expected_ids(&catalog, &listing);
    let mut config = SimConfig::new(catalog);
    config.page_cap = 10;
    config.latency = Duration::from_millis(30);
    config.max_in_flight = Some(2);
    let server = sim(config);
    let client = client_for(&server.url(), demo_credentials(), ClientOptions::default());
    let images = client.list(&listing).await.expect("rides out the 153s");
    assert_eq!(ids(&images), expected);
    let stats = server.stats();
    assert!(
        stats.by_retcode.get("153").copied().unwrap_or(0) > 0,
        "{stats:?}"
    );
    // Halved from 16 on the first 153s, never below one, and it stays near what the API takes.
    let now = client.current_concurrency();
    assert!((1..=4).contains(&now), "{now}");
}

#[tokio::test]
async fn rate_limiting_for_the_whole_budget_fails_with_a_hint() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let mut config = SimConfig::new(catalog);
    config.fault_rate = 1.0;
    config.fault_kinds = vec![Fault::RetCode153];
    let server = sim(config);
    let options = ClientOptions {
        retry_budget: Duration::from_secs(2),
        max_attempts: 2,
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    let started = Instant::now();
    let error = client
        .list(&listing(&region, None))
        .await
        .expect_err("never let through");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let Error::Api(api) = &error else {
        panic!("expected exit 5, got {error:?}");
    };
    // 153 is not a failed attempt: far more than max_attempts sends fit in the budget.
    let sends = server.stats().total;
    assert!(sends > 2, "{sends}");
    assert_eq!(api.ret_code, Some(153));
    let text = api.to_string();
    assert!(
        text.starts_with(&format!(
            "DescribeImage in {region}: still rate-limited after {sends} sends over "
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            ": RetCode 153 \"API 请求被限流\" (request sim-{:012}) — the API limits how fast it \
             may be called; run again later, or raise --retry-budget",
            sends - 1
        )),
        "{text}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_codes_may_be_strings() {
    let (url, asked) = scripted_server(Arc::new(|_, _, seq| {
        if seq == 0 {
            (429, String::new())
        } else {
            (200, r#"{"RetCode":"0","TotalCount":"2","ImageSet":[{"ImageId":"uimage-a","CreateTime":"1700000000"},{"ImageId":"uimage-b","CreateTime":1700000001}]}"#.to_string())
        }
    }))
    .await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let started = Instant::now();
    let images = client
        .list(&listing("hk", None))
        .await
        .expect("after waiting");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 ignored: {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(ids(&images), ["uimage-a", "uimage-b"]);
    assert_eq!(images[0].create_time, 1_700_000_000);
    assert_eq!(asked.lock().expect("log").len(), 2);

    // The simulator's --string-codes, end to end.
    let catalog = catalog();
    let region = first_region(&catalog);
    let listing = listing(&region, None);
    let expected = expected_ids(&catalog, &listing);
    let mut config = SimConfig::new(catalog);
    config.string_codes = true;
    let server = sim(config);
    let client = client_for(&server.url(), demo_credentials(), ClientOptions::default());
    assert_eq!(ids(&client.list(&listing).await.expect("lists")), expected);
}

#[tokio::test]
async fn outage_retcodes_are_retried() {
    for code in [110, 130, 150, 2000] {
        let (url, asked) = scripted_server(Arc::new(move |_, _, seq| {
            if seq < 2 {
                (200, format!(r#"{{"RetCode":{code},"Message":"busy"}}"#))
            } else {
                (200, scripted_page(1, 0..1))
            }
        }))
        .await;
        let client = client_for(&url, demo_credentials(), ClientOptions::default());
        let images = client.list(&listing("hk", None)).await.expect("retried");
        assert_eq!(ids(&images), ["uimage-0000"], "{code}");
        assert_eq!(asked.lock().expect("log").len(), 3, "{code}");
    }
}

#[tokio::test]
async fn a_malformed_optional_field_is_dropped_but_a_bad_image_id_or_create_time_is_fatal() {
    let (url, _) = scripted_server(Arc::new(|_, _, _| {
        (200, r#"{"RetCode":0,"TotalCount":2,"ImageSet":[
            {"ImageId":"uimage-a","CreateTime":1,"MaintainEol":20300101,"Features":null,"State":"Available"},
            {"ImageId":"uimage-b","CreateTime":2,"MaintainEol":"2030/01/01","Features":["IPv6"]}]}"#.to_string())
    }))
    .await;
    let client = client_for(&url, demo_credentials(), ClientOptions::default());
    let images = client.list(&listing("hk", None)).await.expect("lists");
    assert_eq!(images[0].maintain_eol, "");
    assert_eq!(images[0].maintain_eol_date(), None);
    assert_eq!(images[0].state, "Available");
    assert_eq!(
        images[1]
            .maintain_eol_date()
            .map(|d| d.to_string())
            .as_deref(),
        Some("2030-01-01")
    );

    for (image, problem) in [
        (
            r#"{"ImageId":"uimage-$(touch x)","CreateTime":1}"#,
            r#"ImageId "uimage-$(touch x)" is not a valid image id"#,
        ),
        (r#"{"ImageId":"uimage-a"}"#, "missing field `CreateTime`"),
        (r#"{"CreateTime":1}"#, "missing field `ImageId`"),
    ] {
        let body = format!(r#"{{"RetCode":0,"TotalCount":1,"ImageSet":[{image}]}}"#);
        let (url, asked) = scripted_server(Arc::new(move |_, _, _| (200, body.clone()))).await;
        let client = client_for(&url, demo_credentials(), ClientOptions::default());
        let error = client
            .list(&listing("hk", None))
            .await
            .expect_err("malformed");
        let text = error.to_string();
        assert!(matches!(error, Error::Api(_)), "{error:?}");
        assert!(
            text.starts_with(&format!(
                "DescribeImage in hk: malformed response: {problem}"
            )),
            "{text}"
        );
        assert!(text.ends_with("(request scripted-0)"), "{text}");
        assert_eq!(asked.lock().expect("log").len(), 1, "not retried");
    }
}

/// Answers a listing of 20 numbered images in pages of 8, except where `break_it` says otherwise
/// for (offset, walk); each walk is 3 requests.
fn twenty_with(
    break_it: impl Fn(usize, usize) -> Option<String> + Send + Sync + 'static,
) -> Arc<Script> {
    Arc::new(move |offset, limit, seq| {
        let walk = seq / 3;
        break_it(offset, walk)
            .map(|body| (200, body))
            .unwrap_or_else(|| (200, scripted_page(20, offset..(offset + limit).min(20))))
    })
}

#[tokio::test]
async fn an_inconsistent_listing_is_walked_again_then_refused_naming_the_region() {
    let cases: Vec<(&str, Arc<Script>, &str)> = vec![
        (
            "empty page",
            twenty_with(|offset, _| (offset == 8).then(|| scripted_page(20, 0..0))),
            "an empty page at offset 8 of TotalCount 20",
        ),
        (
            "overlap",
            // An image inserted mid-walk pushes the second page back by one.
            twenty_with(|offset, _| (offset == 8).then(|| scripted_page(20, 7..15))),
            "ImageId uimage-0007 on two pages",
        ),
        (
            "total changed",
            twenty_with(|offset, _| (offset == 16).then(|| scripted_page(21, 16..20))),
            "TotalCount changed from 20 to 21 between pages",
        ),
        (
            "count mismatch",
            // The last page holds more images than TotalCount allows.
            twenty_with(|offset, _| (offset == 16).then(|| scripted_page(20, 16..22))),
            "22 distinct images received for TotalCount 20",
        ),
    ];
    for (name, script, problem) in cases {
        let (url, asked) = scripted_server(script).await;
        let client = client_for(&url, demo_credentials(), small_pages());
        let error = client
            .list(&listing("cn-sh2", None))
            .await
            .expect_err("never used");
        assert!(matches!(error, Error::Api(_)), "{name}: {error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "DescribeImage in cn-sh2: the listing stayed inconsistent over 3 walks ({problem}); \
                 not used — the catalog changed while it was read, or the API pages \
                 inconsistently; run again later"
            ),
            "{name}"
        );
        assert_eq!(
            asked.lock().expect("log").len(),
            9,
            "{name}: three walks of three pages"
        );
    }

    // A listing that settles on the second walk is used.
    let (url, asked) = scripted_server(twenty_with(|offset, walk| {
        (offset == 8 && walk == 0).then(|| scripted_page(20, 7..15))
    }))
    .await;
    let client = client_for(&url, demo_credentials(), small_pages());
    let images = client
        .list(&listing("cn-sh2", None))
        .await
        .expect("second walk");
    let expected: Vec<String> = (0..20).map(|i| format!("uimage-{i:04}")).collect();
    assert_eq!(ids(&images), expected);
    assert_eq!(asked.lock().expect("log").len(), 6);
}

#[tokio::test]
async fn an_absurd_total_count_stops_before_any_further_page() {
    let (url, asked) = scripted_server(Arc::new(|_, _, _| {
        (200, scripted_page(10_000_000_000, 0..8))
    }))
    .await;
    let client = client_for(&url, demo_credentials(), small_pages());
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("refused");
    assert_eq!(
        error.to_string(),
        "DescribeImage in hk: TotalCount 10000000000 is more than --max-listing 100000; not \
         walked — raise --max-listing if the listing really is that large"
    );
    assert_eq!(asked.lock().expect("log").len(), 1);

    // Allowed by --max-listing, a huge total is still asked lazily: the walk stops at the first
    // empty page with a bounded number of requests, not one task per claimed page.
    let (url, asked) = scripted_server(Arc::new(|offset, _, _| {
        let images = if offset == 0 { 0..8 } else { 0..0 };
        (200, scripted_page(1_000_000_000, images))
    }))
    .await;
    let options = ClientOptions {
        max_listing: u64::MAX,
        concurrency: 4,
        ..small_pages()
    };
    let client = client_for(&url, demo_credentials(), options);
    let started = Instant::now();
    let error = client
        .list(&listing("hk", None))
        .await
        .expect_err("inconsistent");
    assert!(
        error.to_string().contains("an empty page at offset"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let requests = asked.lock().expect("log").len();
    assert!(requests <= 3 * (1 + 4), "{requests} requests");
}

#[tokio::test]
async fn refusals_carry_their_hint_and_the_request_id() {
    let cases = [
        (
            160,
            "UCloud saw no Action parameter: something between imagelock and the API (a proxy?) dropped the request body; check the endpoint",
        ),
        (
            170,
            "UCloud saw no signature: something between imagelock and the API (a proxy?) dropped the request body; check the endpoint",
        ),
        (
            172,
            "UCloud does not know this public key (the keys came from the demo pair); check it in the UCloud console's API keys",
        ),
        (
            174,
            "UCloud found no valid token: for an account of a dedicated cloud channel, the profile's channel_key must match it (`ucloud config --channel-key ...`)",
        ),
        (
            292,
            "project \"org-x\" does not exist for this account; check project_id (the spec entry's, else UCLOUD_PROJECT_ID, else the profile's)",
        ),
        (
            293,
            "this account may not use that zone; check the entry's zone",
        ),
        (
            294,
            "UCloud refused this machine's IP address: the API key has an IP allow-list; add this address to it in the UCloud console",
        ),
        (
            299,
            "IAM permission check failed: this (sub-)account needs permission to call DescribeImage (UHost read access) in the project",
        ),
    ];
    for (code, hint) in cases {
        let (url, asked) = scripted_server(Arc::new(move |_, _, _| {
            (
                200,
                format!(r#"{{"RetCode":"{code}","Message":"refused"}}"#),
            )
        }))
        .await;
        let options = ClientOptions {
            project_id: Some("org-x".into()),
            ..ClientOptions::default()
        };
        let client = client_for(&url, demo_credentials(), options);
        let error = client
            .list(&listing("hk", None))
            .await
            .expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!(
                r#"DescribeImage in hk: RetCode {code} "refused" (request scripted-0) — {hint}"#
            )
        );
        assert_eq!(asked.lock().expect("log").len(), 1, "{code} is not retried");
    }
}

#[tokio::test]
async fn the_default_project_is_sent_unless_the_listing_names_one() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let server = sim(SimConfig::new(catalog));
    let options = ClientOptions {
        project_id: Some("org-team-a".into()),
        ..ClientOptions::default()
    };
    let client = client_for(&server.url(), demo_credentials(), options);
    client.list(&listing(&region, None)).await.expect("lists");
    let mut own = listing(&region, None);
    own.project_id = Some("org-demo".into());
    client.list(&own).await.expect("lists");
    // verify asks exactly where a pin was made: no default added.
    client
        .describe_ids(&region, None, &["uimage-none".to_string()])
        .await
        .expect("asks");
    let projects: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|r| r.params.get("ProjectId").cloned())
        .collect();
    assert_eq!(
        projects.first().cloned().flatten().as_deref(),
        Some("org-team-a")
    );
    assert!(projects.contains(&Some("org-demo".to_string())));
    assert_eq!(projects.last(), Some(&None));
}

#[tokio::test]
async fn region_has_images_asks_one_image_of_the_region() {
    let catalog = catalog();
    let region = first_region(&catalog);
    let server = sim(SimConfig::new(catalog));
    let client = client_for(&server.url(), demo_credentials(), ClientOptions::default());
    assert!(client.region_has_images(&region).await.expect("asks"));
    assert!(!client.region_has_images("cn-bj3").await.expect("asks"));
    let asked: Vec<(Option<String>, Option<String>)> = server
        .requests()
        .iter()
        .map(|r| {
            (
                r.params.get("Region").cloned(),
                r.params.get("Limit").cloned(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            (Some(region.clone()), Some("1".to_string())),
            (Some("cn-bj3".to_string()), Some("1".to_string()))
        ]
    );
}
