//! The wire protocol: turning a form, JSON or GET request into flat `name → value` parameters
//! (exactly the strings a client signed), verifying the signature, and answering `DescribeImage`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::catalog::{Catalog, Query};

/// Request parameters by name; a `BTreeMap` because signing needs them sorted in byte order.
pub type Params = BTreeMap<String, String>;

/// Default `Limit` of the real API.
pub const DEFAULT_LIMIT: usize = 20;

/// Parses `a=1&b=2` (query string or form body). Bad UTF-8 is replaced, never fatal: the
/// signature check then fails cleanly instead of the server erroring.
pub fn parse_form(bytes: &[u8]) -> Params {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Parses a JSON object body, flattening lists to `Key.N` and objects to `Key.Sub` and
/// stringifying scalars the way UCloud's SDKs do before signing.
pub fn parse_json(bytes: &[u8]) -> Result<Params, String> {
    parse_json_signed(bytes).map(|(params, _)| params)
}

/// [`parse_json`], and the parameters as UCloud's Go SDK signs a JSON body: one entry per
/// top-level key, a list's (or object's) values concatenated with no separator
/// (`ImageIds` + `uimage-auimage-b`; `any2String` in `ucloud/auth/signature.go` of
/// `ucloud/ucloud-sdk-go`). The real API accepts both spellings of a JSON request's signature.
pub fn parse_json_signed(bytes: &[u8]) -> Result<(Params, Params), String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("request body must be a JSON object".to_owned());
    };
    let mut out = Params::new();
    let mut go = Params::new();
    for (k, v) in obj {
        if !v.is_null() {
            go.insert(k.clone(), concatenated(&v));
        }
        flatten(k, &v, &mut out);
    }
    Ok((out, go))
}

/// The Go SDK's `any2String`: scalars as text, lists and objects (by sorted key) concatenated.
fn concatenated(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_string(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(concatenated).collect(),
        Value::Object(obj) => {
            let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
            sorted
                .into_iter()
                .map(|(k, v)| format!("{k}{}", concatenated(v)))
                .collect()
        }
    }
}

fn flatten(key: String, value: &Value, out: &mut Params) {
    match value {
        // The SDK drops unset (None) arguments rather than sending them.
        Value::Null => {}
        Value::Bool(b) => {
            out.insert(key, b.to_string());
        }
        Value::Number(n) => {
            out.insert(key, number_string(n));
        }
        Value::String(s) => {
            out.insert(key, s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(format!("{key}.{i}"), item, out);
            }
        }
        Value::Object(obj) => {
            for (k, v) in obj {
                flatten(format!("{key}.{k}"), v, out);
            }
        }
    }
}

/// Whole floats are sent as integers (the SDK's `encode_value` does `str(int(v))`).
fn number_string(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

/// UCloud's request signature: every parameter but `Signature`, sorted by name, `name` +
/// `value` concatenated, the private key appended, SHA-1, lowercase hex.
pub fn sign(params: &Params, private_key: &str) -> String {
    let mut h = Sha1::new();
    for (k, v) in params {
        if k != "Signature" {
            h.update(k.as_bytes());
            h.update(v.as_bytes());
        }
    }
    h.update(private_key.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An API-level error: HTTP 200 with a non-zero `RetCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
}

impl ApiError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// Checks `PublicKey`/`Signature` against the accepted key pairs: 170 without a signature,
/// 172 for an unknown public key, 171 for a wrong signature (UCloud's common error codes).
pub fn verify(params: &Params, keys: &[(String, String)]) -> Result<(), ApiError> {
    verify_any(params, None, keys)
}

/// [`verify`], also accepting a signature over `alternative` (the Go SDK's JSON spelling).
pub fn verify_any(
    params: &Params,
    alternative: Option<&Params>,
    keys: &[(String, String)],
) -> Result<(), ApiError> {
    let given = params.get("Signature").map(String::as_str).unwrap_or("");
    if given.is_empty() {
        return Err(ApiError::new(170, "Missing signature"));
    }
    let public = params.get("PublicKey").map(String::as_str).unwrap_or("");
    let Some((_, private)) = keys.iter().find(|(p, _)| !public.is_empty() && p == public) else {
        return Err(ApiError::new(172, "User Not Exists"));
    };
    let matches = |p: &Params| given.eq_ignore_ascii_case(&sign(p, private));
    if !matches(params) && !alternative.is_some_and(matches) {
        return Err(ApiError::new(171, "Signature VerifyAC Error"));
    }
    Ok(())
}

fn nonempty(params: &Params, name: &str) -> Option<String> {
    params.get(name).filter(|v| !v.is_empty()).cloned()
}

fn number(params: &Params, name: &str, default: usize) -> Result<usize, ApiError> {
    match params.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ApiError::new(230, format!("Params [{name}] not valid"))),
    }
}

/// Builds the `DescribeImage` query from verified parameters.
pub fn describe_image_query(params: &Params) -> Result<Query, ApiError> {
    // UCloud documents 160 as a missing Action; what it answers for a missing Region is not
    // published: 230 (bad parameter) is our choice.
    let region =
        nonempty(params, "Region").ok_or_else(|| ApiError::new(230, "Missing params [Region]"))?;
    let offset = number(params, "Offset", 0)?;
    // Limit=0 means "default" on the real API rather than "nothing".
    let limit = match number(params, "Limit", DEFAULT_LIMIT)? {
        0 => DEFAULT_LIMIT,
        n => n,
    };
    let price_set = match params.get("PriceSet").map(String::as_str) {
        None | Some("") | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => return Err(ApiError::new(230, "Params [PriceSet] not valid")),
    };
    // ImageIds.N in index order, so the JSON-array and form spellings behave alike.
    let mut ids: Vec<(usize, String)> = params
        .iter()
        .filter_map(|(k, v)| {
            let i = k.strip_prefix("ImageIds.")?.parse::<usize>().ok()?;
            (!v.is_empty()).then(|| (i, v.clone()))
        })
        .collect();
    ids.sort();
    Ok(Query {
        region,
        zone: nonempty(params, "Zone"),
        project_id: nonempty(params, "ProjectId"),
        image_type: nonempty(params, "ImageType"),
        os_type: nonempty(params, "OsType"),
        func_type: nonempty(params, "FuncType"),
        image_id: nonempty(params, "ImageId"),
        image_ids: ids.into_iter().map(|(_, v)| v).collect(),
        offset,
        limit,
        price_set,
    })
}

/// The `Action` echoed in a response: `<Action>Response`.
pub fn response_action(params: &Params) -> String {
    format!(
        "{}Response",
        params.get("Action").map(String::as_str).unwrap_or("")
    )
}

/// The JSON body of an error answer.
pub fn error_body(action: &str, err: &ApiError) -> Value {
    json!({ "Action": action, "RetCode": err.code, "Message": err.message })
}

/// How an answer is spelled and what the account sees.
#[derive(Debug, Clone, Default)]
pub struct AnswerOptions<'a> {
    /// Most images in one page.
    pub page_cap: usize,
    /// `RetCode` and `TotalCount` as JSON strings.
    pub string_codes: bool,
    /// The project a request without `ProjectId` sees.
    pub default_project: &'a str,
    /// The Go SDK's spelling of a JSON request, also accepted for the signature.
    pub alternative: Option<&'a Params>,
}

/// Answers one API request end to end (signature, action, parameters, catalog).
pub fn answer(
    catalog: &Catalog,
    keys: &[(String, String)],
    params: &Params,
    page_cap: usize,
) -> Value {
    answer_with(
        catalog,
        keys,
        params,
        &AnswerOptions {
            page_cap,
            default_project: crate::DEFAULT_PROJECT,
            ..AnswerOptions::default()
        },
    )
}

/// [`answer`] with every option.
pub fn answer_with(
    catalog: &Catalog,
    keys: &[(String, String)],
    params: &Params,
    options: &AnswerOptions<'_>,
) -> Value {
    let action = response_action(params);
    let result = verify_any(params, options.alternative, keys).and_then(|()| {
        match params.get("Action").map(String::as_str) {
            None | Some("") => Err(ApiError::new(160, "Missing Action")),
            Some("DescribeImage") => describe_image_query(params),
            Some(other) => Err(ApiError::new(161, format!("Action [{other}] not found"))),
        }
    });
    let mut body = match result {
        Err(e) => error_body(&action, &e),
        Ok(mut q) => {
            if q.project_id.is_none() {
                q.project_id = Some(options.default_project.to_owned());
            }
            let (total, page) = catalog.query(&q, options.page_cap);
            json!({
                "Action": action,
                "RetCode": 0,
                "TotalCount": total,
                "ImageSet": page,
            })
        }
    };
    if options.string_codes {
        stringify_codes(&mut body);
    }
    body
}

/// `"RetCode": 0` → `"RetCode": "0"`, and the same for `TotalCount`.
pub fn stringify_codes(body: &mut Value) {
    for key in ["RetCode", "TotalCount"] {
        if let Some(value) = body.get_mut(key)
            && value.is_number()
        {
            *value = Value::String(value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn published_signature_example() {
        let params = p(&[
            ("Action", "DescribeUHostInstance"),
            ("Region", "cn-bj2"),
            ("Limit", "10"),
            ("PublicKey", "ucloudsomeone@example.com1296235120854146120"),
        ]);
        assert_eq!(
            sign(&params, "46f09bb9fab4f12dfc160dae12273d5332b5debe"),
            "cba5cf5ec4d4233d206b1b54951e3787350a642f"
        );
    }

    #[test]
    fn sdk_doctest_signature() {
        // From verify_ac's doctest in ucloud-sdk-python3.
        assert_eq!(
            sign(&p(&[("foo", "bar")]), "my_private_key"),
            "634edc1bb957c0d65e5ab5494cf3b7784fbc87af"
        );
    }

    #[test]
    fn json_flattening_matches_sdk_encoding() {
        let got = parse_json(
            br#"{"Limit":10,"Offset":0.0,"PriceSet":true,"ImageIds":["a","b"],"Zone":null,"X":{"Y":1.5}}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            p(&[
                ("Limit", "10"),
                ("Offset", "0"),
                ("PriceSet", "true"),
                ("ImageIds.0", "a"),
                ("ImageIds.1", "b"),
                ("X.Y", "1.5"),
            ])
        );
        assert!(parse_json(b"[1]").is_err());
        assert!(parse_json(b"\xff").is_err());
    }

    #[test]
    fn verify_and_errors() {
        let keys = vec![("pub".to_owned(), "priv".to_owned())];
        let mut params = p(&[
            ("Action", "DescribeImage"),
            ("PublicKey", "pub"),
            ("Limit", "x"),
        ]);
        let sig = sign(&params, "priv");
        params.insert("Signature".into(), sig);
        assert!(verify(&params, &keys).is_ok());
        assert_eq!(describe_image_query(&params).unwrap_err().code, 230);
        params.insert("Region".into(), "cn-bj2".into());
        assert_eq!(verify(&params, &keys).unwrap_err().code, 171);
        params.insert("PublicKey".into(), "other".into());
        assert_eq!(verify(&params, &keys).unwrap_err().code, 172);
        assert_eq!(describe_image_query(&params).unwrap_err().code, 230);
        params.remove("Signature");
        assert_eq!(verify(&params, &keys).unwrap_err().code, 170);
    }

    #[test]
    fn go_sdk_json_signatures_are_accepted() {
        let keys = vec![("pub".to_owned(), "priv".to_owned())];
        let body = br#"{"Action":"DescribeImage","PublicKey":"pub","Region":"hk","ImageIds":["a","b"],"Limit":2}"#;
        let (flat, go) = parse_json_signed(body).unwrap();
        assert_eq!(go.get("ImageIds").map(String::as_str), Some("ab"));
        assert_eq!(flat.get("ImageIds.1").map(String::as_str), Some("b"));
        for signed in [&flat, &go] {
            let mut params = flat.clone();
            params.insert("Signature".into(), sign(signed, "priv"));
            assert!(verify_any(&params, Some(&go), &keys).is_ok());
        }
        let mut params = flat.clone();
        params.insert("Signature".into(), sign(&go, "priv"));
        assert_eq!(verify(&params, &keys).unwrap_err().code, 171);
    }

    #[test]
    fn string_codes() {
        let mut body = json!({"RetCode": 0, "TotalCount": 12, "Message": 1});
        stringify_codes(&mut body);
        assert_eq!(
            body,
            json!({"RetCode": "0", "TotalCount": "12", "Message": 1})
        );
    }
}
