//! HTTP lookups: a URL, an optional body and header values filled from
//! the row, and a JSON answer.
//!
//! Values go into the URL percent-encoded (so a value cannot add a path
//! segment or a query parameter), into the body as JSON literals
//! (strings quoted and escaped), and into header values as plain text
//! (a value that is not valid in a header, such as one with a line
//! break, fails that lookup rather than splitting the header). 2xx answers are parsed as JSON (an empty
//! body is "nothing found"), 404 is "nothing found", anything else is an
//! error: 429 and 5xx are retried, other statuses are not.

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quiver_spec::{HttpLookup, HttpMethod, Located};
use quiver_types::{Diagnostic, Diagnostics, Value};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value as Json;

use super::{LookupError, Template, json_literal, text};

/// Encoded in a URL: everything but RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An HTTP lookup, planned.
#[derive(Debug)]
pub(crate) struct HttpPlan {
    url: Template,
    method: reqwest::Method,
    body: Option<Template>,
    /// Headers without placeholders.
    headers: HeaderMap,
    /// Headers filled from the row, in file order.
    filled: Vec<(HeaderName, Template)>,
    capacity: usize,
    connect_timeout: Duration,
}

pub(crate) fn plan(
    h: &HttpLookup,
    capacity: usize,
    timeout: i64,
    errors: &mut Diagnostics,
) -> Option<Arc<HttpPlan>> {
    let url = Template::new(&h.url.value);
    let probe = url.render(&vec![Value::Int64(1); url.holes()], text);
    if let Err(e) = reqwest::Url::parse(&probe) {
        errors.push(
            Diagnostic::at(h.url.pos, format!("the `http` url is not a valid URL: {e}"))
                .with_help("url: \"http://customers.internal:8080/customers/%s\""),
        );
        return None;
    }
    let (mut headers, filled) = request_headers(&h.headers, true, errors);
    let body = h.body.as_ref().map(|b| Template::new(&b.value));
    if body.is_some() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Some(Arc::new(HttpPlan {
        url,
        method: match h.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
        },
        body,
        headers,
        filled,
        capacity,
        connect_timeout: Duration::from_millis(timeout.max(1) as u64),
    }))
}

/// Fixed request headers, checked; values are marked sensitive (a `%s`
/// is sent as written).
pub(crate) fn header_map(
    headers: &[(String, Located<String>)],
    errors: &mut Diagnostics,
) -> HeaderMap {
    request_headers(headers, false, errors).0
}

/// Request headers, checked: with `fill`, those whose value has a `%s`
/// become templates filled per request; the rest form a map whose values
/// are marked sensitive (they often carry credentials: keep them out of
/// logs).
fn request_headers(
    headers: &[(String, Located<String>)],
    fill: bool,
    errors: &mut Diagnostics,
) -> (HeaderMap, Vec<(HeaderName, Template)>) {
    let mut map = HeaderMap::new();
    let mut filled = Vec::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes());
        let template = Template::new(&value.value);
        let holes = if fill { template.holes() } else { 0 };
        // Checked as it would be sent, with each placeholder filled.
        let sent = if holes > 0 {
            template.render(&vec![Value::Int64(1); holes], text)
        } else {
            value.value.clone()
        };
        match (n, HeaderValue::from_str(&sent)) {
            (Ok(n), Ok(_)) if holes > 0 => filled.push((n, template)),
            (Ok(n), Ok(mut v)) => {
                v.set_sensitive(true);
                map.insert(n, v);
            }
            (Err(_), _) => errors.push(Diagnostic::at(
                value.pos,
                format!("`{name}` is not a valid HTTP header name"),
            )),
            (_, Err(_)) => errors.push(Diagnostic::at(
                value.pos,
                format!("the value of header `{name}` is not valid in HTTP (control characters?)"),
            )),
        }
    }
    (map, filled)
}

/// A worker's HTTP client (a connection pool).
pub(crate) struct HttpClient {
    plan: Arc<HttpPlan>,
    client: reqwest::Client,
}

impl HttpClient {
    pub(crate) fn new(plan: Arc<HttpPlan>) -> Result<HttpClient, String> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(plan.capacity)
            .connect_timeout(plan.connect_timeout)
            .build()
            .map_err(|e| format!("enrich: cannot create the HTTP client: {e}"))?;
        Ok(HttpClient { plan, client })
    }

    pub(crate) async fn fetch(&self, vars: &[Value]) -> Result<Option<Json>, LookupError> {
        let p = &*self.plan;
        let (in_url, rest) = vars.split_at(p.url.holes().min(vars.len()));
        let body_holes = p.body.as_ref().map_or(0, Template::holes);
        let (in_body, mut in_headers) = rest.split_at(body_holes.min(rest.len()));
        let url = p.url.render(in_url, |v, out| {
            let mut t = String::new();
            text(v, &mut t);
            out.extend(utf8_percent_encode(&t, COMPONENT));
        });
        let mut req = self
            .client
            .request(p.method.clone(), url)
            .headers(p.headers.clone());
        if let Some(b) = &p.body {
            req = req.body(b.render(in_body, json_literal));
        }
        for (name, template) in &p.filled {
            let (mine, rest) = in_headers.split_at(template.holes().min(in_headers.len()));
            in_headers = rest;
            let mut v = HeaderValue::from_str(&template.render(mine, text)).map_err(|_| {
                LookupError::Failed(format!(
                    "a value for header `{name}` is not valid in HTTP (a line break or control character?)"
                ))
            })?;
            v.set_sensitive(true);
            req = req.header(name.clone(), v);
        }
        let resp = req.send().await.map_err(request_error)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(LookupError::Status(status.as_u16()));
        }
        let body = resp.bytes().await.map_err(request_error)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| LookupError::Failed(format!("the answer is not JSON ({e})")))
    }
}

pub(crate) fn request_error(e: reqwest::Error) -> LookupError {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        LookupError::Unreachable(format!("timed out ({msg})"))
    } else if e.is_connect() || e.is_request() || e.is_body() {
        LookupError::Unreachable(msg)
    } else {
        LookupError::Failed(msg)
    }
}
