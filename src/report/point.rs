//! The two payloads: the Analytics Engine point (`requests`) and the raw log
//! entry (`raw`). Field order is fixed: SQL written against the original keeps
//! working; new fields go at the end.

use http::HeaderMap;
use serde_json::{Value, json};

use super::capture::{Capture, Tokens};
use super::redact;
use crate::routing::RouteInfo;

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
    pub method: &'a str,
    pub path: &'a str,
    pub info: &'a RouteInfo,
    pub status: u16,
    /// An error: status ≥ 400 or an upstream failure.
    pub failed: bool,
    /// Which side broke the exchange off, if one did.
    pub failed_side: Option<super::Side>,
    pub cache_status: &'a str,
    pub request_id: &'a str,
    pub duration_ms: f64,
    pub ttfb_ms: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub tokens: Tokens,
}

impl Facts<'_> {
    fn event(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn level(&self) -> &'static str {
        if self.failed { "error" } else { "info" }
    }

    fn stream(&self) -> &'static str {
        if self.info.stream { "stream" } else { "sync" }
    }

    /// `[provider, model, endpoint_type, status, stream|sync, mode, upstream_model,
    /// upstream_host, cache_status, request_id]`.
    fn blobs(&self) -> [String; BLOBS] {
        let i = self.info;
        [
            i.provider.as_str(),
            i.model.as_str(),
            i.endpoint_type.as_str(),
            &self.status.to_string(),
            self.stream(),
            i.mode.as_str(),
            i.upstream_model.as_str(),
            i.upstream_host.as_str(),
            self.cache_status,
            self.request_id,
        ]
        .map(|b| truncate(b, BLOB_CAP))
    }

    /// `[duration_ms, status, request_bytes, response_bytes, ttfb_ms,
    /// input_tokens, output_tokens]`.
    fn doubles(&self) -> [f64; DOUBLES] {
        [
            round(self.duration_ms),
            f64::from(self.status),
            self.request_bytes as f64,
            self.response_bytes as f64,
            round(self.ttfb_ms),
            self.tokens.input as f64,
            self.tokens.output as f64,
        ]
    }
}

/// The Analytics Engine point.
pub fn point(f: &Facts) -> Value {
    json!({"event": f.event(), "level": f.level(), "blobs": f.blobs(), "doubles": f.doubles()})
}

/// The raw log entry: the same fields, plus URL, headers and bodies.
pub fn raw_entry(
    f: &Facts,
    url: &str,
    request_headers: &HeaderMap,
    request: &Capture,
    response_headers: &HeaderMap,
    response: &Capture,
) -> Value {
    let target = match (f.info.provider.is_empty(), f.info.model.is_empty()) {
        (true, true) => String::new(),
        _ => format!(" [{}/{}]", f.info.provider, f.info.model),
    };
    let message = format!("{} {} {}ms{target}", f.event(), f.status, round(f.duration_ms));
    json!({
        "message": message,
        "level": f.level(),
        "provider": f.info.provider,
        "model": f.info.model,
        "endpoint_type": f.info.endpoint_type,
        "status": f.status,
        "stream": f.info.stream,
        "mode": f.info.mode.as_str(),
        "upstream_model": f.info.upstream_model,
        "upstream_host": f.info.upstream_host,
        "cache_status": f.cache_status,
        "request_id": f.request_id,
        "duration_ms": round(f.duration_ms),
        "ttfb_ms": round(f.ttfb_ms),
        "request_bytes": f.request_bytes,
        "response_bytes": f.response_bytes,
        "input_tokens": f.tokens.input,
        "output_tokens": f.tokens.output,
        "url": redact::url(url),
        "request_headers": redact::headers(request_headers),
        "response_headers": redact::headers(response_headers),
        "request_body": request.text(),
        "response_body": response.text(),
        "failed_side": f.failed_side.map_or("", super::Side::as_str),
    })
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

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
