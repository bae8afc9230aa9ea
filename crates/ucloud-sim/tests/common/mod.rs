//! A tiny hand-written HTTP/1.1 client, so the tests see exactly what goes over the wire
//! (including resets and truncated bodies) without pulling in a client crate.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use ucloud_sim::{Catalog, DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, sign};

pub fn example_catalog() -> Catalog {
    Catalog::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/catalog.json"
    ))
    .unwrap()
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request on a fresh connection; `Err` when the connection closed before a full
/// status line and headers arrived.
pub fn send(
    url: &str,
    method: &str,
    target: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::io::Result<Reply> {
    let host = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    // A reset may surface as an error or as EOF; both count as "no response".
    let _ = s.read_to_end(&mut raw);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "no response",
        ));
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

pub fn signed(pairs: &[(&str, &str)], public: &str, private: &str) -> BTreeMap<String, String> {
    let mut p: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    p.insert("PublicKey".into(), public.into());
    let sig = sign(&p, private);
    p.insert("Signature".into(), sig);
    p
}

pub fn form(p: &BTreeMap<String, String>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p)
        .finish()
}

/// POST form, signed with the demo key.
pub fn call(url: &str, pairs: &[(&str, &str)]) -> Value {
    let p = signed(pairs, DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY);
    let r = send(
        url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&p).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    r.json()
}

pub fn ids(v: &Value) -> Vec<String> {
    v["ImageSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ImageId"].as_str().unwrap().to_owned())
        .collect()
}

/// All pages of a listing, following Offset by the items received.
pub fn list_all(url: &str, pairs: &[(&str, &str)], limit: usize) -> (usize, Vec<String>) {
    let mut out = Vec::new();
    let mut total;
    loop {
        let off = out.len().to_string();
        let lim = limit.to_string();
        let mut p = pairs.to_vec();
        p.push(("Offset", &off));
        p.push(("Limit", &lim));
        let v = call(url, &p);
        assert_eq!(v["RetCode"], 0, "{v}");
        total = v["TotalCount"].as_u64().unwrap() as usize;
        let page = ids(&v);
        if page.is_empty() {
            break;
        }
        out.extend(page);
        if out.len() >= total {
            break;
        }
    }
    (total, out)
}
