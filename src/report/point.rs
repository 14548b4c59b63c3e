//! The two payloads: the Analytics Engine point (`requests`) and the raw log
//! entry (`raw`). Field order is fixed: SQL written against the original keeps
//! working; new fields go at the end.

use http::HeaderMap;
use serde::Serialize;

use crate::json::to_bytes;

use super::access::{View, round};
use super::capture::{Capture, Tokens};
use super::redact;

/// Analytics Engine limits: at most 15 blobs, 20 doubles, 16 KB of blobs.
pub const MAX_BLOBS: usize = 15;
pub const MAX_DOUBLES: usize = 20;
pub const MAX_BLOB_BYTES: usize = 16 * 1024;
/// No single blob takes more than this, so the others always fit.
const BLOB_CAP: usize = 1024;
const BLOBS: usize = 10;
const DOUBLES: usize = 7;
// The limits hold by construction.
const _: () = assert!(BLOBS <= MAX_BLOBS && BLOBS * BLOB_CAP < MAX_BLOB_BYTES && DOUBLES <= MAX_DOUBLES);

/// The facts both payloads share.
pub struct Facts<'a> {
    pub view: &'a View<'a>,
    pub cache_status: &'a str,
    pub tokens: Tokens,
}

impl Facts<'_> {
    fn event(&self) -> String {
        format!("{} {}", self.view.method, self.view.path)
    }

    fn level(&self) -> &'static str {
        if self.view.is_error() { "error" } else { "info" }
    }

    fn stream(&self) -> &'static str {
        if self.view.info.stream { "stream" } else { "sync" }
    }

    /// `[provider, model, endpoint_type, status, stream|sync, mode, upstream_model,
    /// upstream_host, cache_status, request_id]`.
    fn blobs(&self) -> [String; BLOBS] {
        let i = self.view.info;
        [
            i.provider.as_str(),
            i.model.as_str(),
            i.endpoint_type.as_str(),
            &self.view.status.to_string(),
            self.stream(),
            i.mode.as_str(),
            i.upstream_model.as_str(),
            i.upstream_host.as_str(),
            self.cache_status,
            self.view.request_id,
        ]
        .map(|b| truncate(b, BLOB_CAP))
    }

    /// `[duration_ms, status, request_bytes, response_bytes, ttfb_ms,
    /// input_tokens, output_tokens]`.
    fn doubles(&self) -> [f64; DOUBLES] {
        let v = self.view;
        [
            round(v.duration_ms),
            f64::from(v.status),
            v.request_bytes as f64,
            v.response_bytes as f64,
            round(v.ttfb_ms),
            self.tokens.input as f64,
            self.tokens.output as f64,
        ]
    }
}

/// The Analytics Engine point.
#[derive(Serialize)]
struct Point<'a> {
    event: String,
    level: &'a str,
    blobs: [String; BLOBS],
    doubles: [f64; DOUBLES],
}

/// The `requests` payload, `{"points": [point]}`, serialized straight from
/// the facts (no intermediate JSON tree: reporting runs on every request).
pub fn points_payload(f: &Facts) -> Vec<u8> {
    #[derive(Serialize)]
    struct Points<'a> {
        points: [Point<'a>; 1],
    }
    let point = Point { event: f.event(), level: f.level(), blobs: f.blobs(), doubles: f.doubles() };
    to_bytes(&Points { points: [point] })
}

/// The raw log entry: the same fields, plus URL, headers and bodies.
#[derive(Serialize)]
struct RawEntry<'a> {
    message: String,
    level: &'a str,
    provider: &'a str,
    model: &'a str,
    endpoint_type: &'a str,
    status: u16,
    stream: bool,
    mode: &'a str,
    upstream_model: &'a str,
    upstream_host: &'a str,
    cache_status: &'a str,
    request_id: &'a str,
    duration_ms: f64,
    ttfb_ms: f64,
    request_bytes: u64,
    response_bytes: u64,
    input_tokens: u64,
    output_tokens: u64,
    url: String,
    request_headers: redact::Headers<'a>,
    response_headers: redact::Headers<'a>,
    request_body: String,
    response_body: String,
    failed_side: &'a str,
    /// Every model tried, when the request had fallbacks (else left out).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attempts: &'a [crate::gateway::fallback::Attempt],
    /// Tools the client offered that the provider could not be given (else left out).
    #[serde(skip_serializing_if = "str::is_empty")]
    unavailable_tools: &'a str,
}

/// The `raw` payload, `{"logs": [entry]}`, serialized straight from the facts.
pub fn raw_payload(
    f: &Facts,
    url: &str,
    request_headers: &HeaderMap,
    request: &Capture,
    response_headers: &HeaderMap,
    response: &Capture,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Logs<'a> {
        logs: [RawEntry<'a>; 1],
    }
    let v = f.view;
    let target = match (v.info.provider.is_empty(), v.info.model.is_empty()) {
        (true, true) => String::new(),
        _ => format!(" [{}/{}]", v.info.provider, v.info.model),
    };
    let entry = RawEntry {
        message: format!("{} {} {}ms{target}", f.event(), v.status, round(v.duration_ms)),
        level: f.level(),
        provider: &v.info.provider,
        model: &v.info.model,
        endpoint_type: &v.info.endpoint_type,
        status: v.status,
        stream: v.info.stream,
        mode: v.info.mode.as_str(),
        upstream_model: &v.info.upstream_model,
        upstream_host: &v.info.upstream_host,
        cache_status: f.cache_status,
        request_id: v.request_id,
        duration_ms: round(v.duration_ms),
        ttfb_ms: round(v.ttfb_ms),
        request_bytes: v.request_bytes,
        response_bytes: v.response_bytes,
        input_tokens: f.tokens.input,
        output_tokens: f.tokens.output,
        url: redact::url(url),
        request_headers: redact::Headers(request_headers),
        response_headers: redact::Headers(response_headers),
        request_body: request.text(),
        response_body: response.text(),
        failed_side: v.failed.map_or("", |(side, _)| side.as_str()),
        attempts: v.attempts,
        unavailable_tools: &v.info.unavailable_tools,
    };
    to_bytes(&Logs { logs: [entry] })
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
