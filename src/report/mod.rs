//! aepipe reports (SPEC §6): a [`Recorder`] the host feeds as the request goes
//! by, and the two aepipe calls it builds at the end.
//!
//! Protocol for a host: `Recorder::new` when the request arrives; `request_chunk`
//! for each request body chunk (or `request_body` once); `route` when a plan is
//! known; `response_head` and `response_chunk` for what the client receives (or
//! `reply` for a proxy answer); `upstream_failed` if the upstream failed; then,
//! after the client has its whole response, `finish(duration_ms)` and send every
//! [`AepipeCall`] it returns, independently, with a bounded timeout. Times come
//! in as arguments: the core has no clock.

pub mod capture;
mod point;
pub mod redact;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};

use crate::config::Config;
use crate::json_body::JsonBody;
use crate::response::Reply;
use crate::routing::{Mode, PROVIDER_HEADER, RouteInfo};
use capture::{Capture, Tokens, UsageMeter};

/// Bodies are captured up to this many bytes each.
pub const BODY_CAP: usize = 256 * 1024;

/// One aepipe request to send.
#[derive(Debug, Clone)]
pub struct AepipeCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Everything a report says about one request, collected as it happens.
#[derive(Debug)]
pub struct Recorder {
    /// `None` when reporting is off or the request is not reported.
    state: Option<Box<State>>,
}

#[derive(Debug)]
struct State {
    method: String,
    path: String,
    url: String,
    request_id: String,
    request_headers: HeaderMap,
    request: Capture,
    info: RouteInfo,
    status: u16,
    response_headers: HeaderMap,
    response: Capture,
    usage: UsageMeter,
    ttfb_ms: Option<f64>,
    failed: Option<Side>,
}

/// Which side of the proxy broke an exchange off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The upstream failed, went silent or sent a wrong body.
    Upstream,
    /// The client hung up or stopped reading: not an upstream fault.
    Client,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Upstream => "upstream",
            Side::Client => "client",
        }
    }
}

impl Recorder {
    /// Starts a record, unless reporting is off (no `AEPIPE_BASE_URL` or token) or
    /// the request is a preflight or a health check.
    pub fn new(cfg: &Config, head: &Parts, request_id: &str) -> Recorder {
        let configured = cfg.aepipe_base_url.is_some() && cfg.aepipe_token.is_some();
        let exempt = head.method == Method::OPTIONS || head.uri.path() == "/healthz";
        if !configured || exempt {
            return Recorder { state: None };
        }
        let passthrough = head.headers.get(PROVIDER_HEADER).is_some_and(|v| !v.is_empty());
        let info = RouteInfo {
            mode: if passthrough { Mode::Passthrough } else { Mode::Gateway },
            endpoint_type: crate::routing::endpoint_type(head.uri.path()),
            ..RouteInfo::default()
        };
        let state = State {
            method: head.method.to_string(),
            path: head.uri.path().to_owned(),
            url: head.uri.path_and_query().map_or_else(|| head.uri.path().to_owned(), |p| p.to_string()),
            request_id: request_id.to_owned(),
            // What the client sent: the host runtime's own metadata left out.
            request_headers: crate::headers::filtered(&head.headers, crate::headers::is_host_metadata),
            request: Capture::new(BODY_CAP),
            info,
            status: 0,
            response_headers: HeaderMap::new(),
            response: Capture::new(BODY_CAP),
            usage: UsageMeter::new(false),
            ttfb_ms: None,
            failed: None,
        };
        Recorder { state: Some(Box::new(state)) }
    }

    /// A recorder that records nothing (a placeholder while the real one is lent).
    pub fn off() -> Recorder {
        Recorder { state: None }
    }

    /// `true` when a report will be built: hosts may skip work otherwise.
    pub fn is_on(&self) -> bool {
        self.state.is_some()
    }

    pub fn request_chunk(&mut self, chunk: &[u8]) {
        if let Some(s) = &mut self.state {
            s.request.push(chunk);
        }
    }

    pub fn route(&mut self, info: &RouteInfo) {
        if let Some(s) = &mut self.state {
            s.info = info.clone();
        }
    }

    /// The response head as sent to the client, at `ttfb_ms` after arrival.
    pub fn response_head(&mut self, status: StatusCode, headers: &HeaderMap, ttfb_ms: f64) {
        if let Some(s) = &mut self.state {
            s.status = status.as_u16();
            s.response_headers = headers.clone();
            s.ttfb_ms.get_or_insert(ttfb_ms);
            s.usage = UsageMeter::new(crate::headers::is_event_stream(headers));
        }
    }

    /// Response body bytes as sent to the client.
    pub fn response_chunk(&mut self, chunk: &[u8]) {
        if let Some(s) = &mut self.state {
            s.response.push(chunk);
            s.usage.push(chunk);
        }
    }

    /// A complete proxy answer, sent at `ttfb_ms`.
    pub fn reply(&mut self, reply: &Reply, ttfb_ms: f64) {
        if let Some(info) = reply.extensions().get::<RouteInfo>() {
            self.route(info);
        }
        self.response_head(reply.status(), reply.headers(), ttfb_ms);
        self.response_chunk(reply.body());
    }

    /// The upstream failed (the first side to fail is the one reported).
    pub fn upstream_failed(&mut self) {
        if let Some(s) = &mut self.state {
            s.failed.get_or_insert(Side::Upstream);
        }
    }

    /// The client hung up or stopped reading.
    pub fn client_gone(&mut self) {
        if let Some(s) = &mut self.state {
            s.failed.get_or_insert(Side::Client);
        }
    }

    /// The aepipe calls for this request (none when reporting is off).
    pub fn finish(self, cfg: &Config, duration_ms: f64) -> Vec<AepipeCall> {
        let (Some(s), Some(base), Some(token)) = (self.state, &cfg.aepipe_base_url, &cfg.aepipe_token) else {
            return Vec::new();
        };
        let s = *s;
        let mut info = s.info;
        if info.model.is_empty()
            && let Ok(body) = JsonBody::parse(s.request.bytes().to_vec())
        {
            info.model = body.model().unwrap_or_default().to_owned();
            info.stream = info.stream || body.stream();
        }
        let tokens: Tokens = s.usage.finish(s.response.bytes());
        let facts = point::Facts {
            method: &s.method,
            path: &s.path,
            info: &info,
            status: s.status,
            failed: s.failed == Some(Side::Upstream) || s.status >= 400,
            failed_side: s.failed,
            cache_status: crate::headers::text(&s.response_headers, "cf-aig-cache-status")
                .unwrap_or_default(),
            request_id: &s.request_id,
            duration_ms,
            ttfb_ms: s.ttfb_ms.unwrap_or(duration_ms),
            request_bytes: s.request.total(),
            response_bytes: s.response.total(),
            tokens,
        };
        let raw = point::raw_entry(
            &facts,
            &s.url,
            &s.request_headers,
            &s.request,
            &s.response_headers,
            &s.response,
        );
        let auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(auth) = auth {
            headers.insert(HeaderName::from_static("authorization"), auth);
        }
        let call = |logstore: &str, body: serde_json::Value| AepipeCall {
            url: format!("{base}/v1/apex-ai-proxy/{logstore}"),
            headers: headers.clone(),
            body: body.to_string().into_bytes(),
        };
        vec![
            call("requests/ingest", serde_json::json!({"points": [point::point(&facts)]})),
            call("raw/log", serde_json::json!({"logs": [raw]})),
        ]
    }
}

/// A request id for reports: distinct per request within a process.
pub fn new_request_id() -> String {
    crate::routing::unique_id()
}

#[cfg(test)]
mod tests;
