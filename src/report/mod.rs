//! What the proxy says about each request: one access-log line on the host's
//! log, and (when configured) the two aepipe calls (docs/operations.md,
//! "Observability (aepipe)"). The exchange feeds a [`Recorder`] as the
//! request goes by and asks for both at the end.
//!
//! Protocol: `Recorder::new` when the request arrives; `request_chunk` for
//! each request body chunk; `route` when a plan is known; `response_head` and
//! `response_chunk` for what the client receives; `failed` when a side broke
//! the exchange off; then, after the client has its whole response,
//! `finish(duration_ms, unix_ms)`. Times come in as arguments: the core has
//! no clock.

pub mod access;
pub mod backlog;
pub mod batch;
pub mod capture;
mod point;
pub mod redact;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode};

use crate::config::Config;
use crate::failure::{FailureKind, UpstreamFailure};
use crate::headers::PROVIDER_HEADER;
use crate::plan::{Mode, RouteInfo};
use capture::{Capture, UsageMeter};

/// The response header that carries the request id (as in the log and reports).
pub const REQUEST_ID_HEADER: &str = "x-apex-ai-proxy-request-id";

/// Bodies are captured up to this many bytes each.
pub const BODY_CAP: usize = 256 * 1024;

/// One aepipe request to send.
#[derive(Debug, Clone)]
pub struct AepipeCall {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl AepipeCall {
    /// The call as an upstream request, with its body's length (the body is
    /// [`AepipeCall::body`]).
    pub fn request(&self) -> Result<crate::plan::Outgoing, UpstreamFailure> {
        let uri = self.url.parse().map_err(|e| {
            UpstreamFailure::new(FailureKind::Other, format!("AEPIPE_BASE_URL gives an invalid URL: {e}"))
        })?;
        let mut headers = self.headers.clone();
        crate::plan::set_length(&mut headers, self.body.len() as u64);
        let body = crate::plan::Upload::Client;
        Ok(crate::plan::Outgoing { method: http::Method::POST, uri, headers, body })
    }
}

/// The log line for an aepipe call that was not taken (`None` when it was):
/// the status it got, or why it failed (a denied connection says what to
/// allow). Reports are dropped after this one line.
pub fn delivery(url: &str, outcome: Result<StatusCode, UpstreamFailure>) -> Option<String> {
    let problem = match outcome {
        Ok(status) if status.is_success() => return None,
        Ok(status) => format!("answered {status}"),
        Err(failure) if failure.kind == FailureKind::Denied => {
            let origin = url.parse().map(|uri| crate::plan::origin_of(&uri)).unwrap_or_default();
            format!("failed: {failure} ({})", crate::failure::denied_hint(&origin))
        }
        Err(failure) => format!("failed: {failure}"),
    };
    Some(format!("apex-ai-proxy: aepipe report to {url} {problem}"))
}

/// Which side of the proxy broke an exchange off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The upstream failed, went silent or sent a wrong body.
    Upstream,
    /// The client hung up, stopped reading or sent a broken body: not an
    /// upstream fault.
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

/// What a request ends with: its log line and its reports.
#[derive(Debug)]
pub struct Finished {
    /// The access-log line (`None` when `LOG_LEVEL` leaves it out).
    pub log: Option<String>,
    pub calls: Vec<AepipeCall>,
}

/// The facts every request has, reported or not.
#[derive(Debug, Default)]
struct Facts {
    method: String,
    path: String,
    request_id: String,
    info: RouteInfo,
    status: u16,
    request_bytes: u64,
    response_bytes: u64,
    ttfb_ms: Option<f64>,
    failed: Option<(Side, String)>,
    /// `OPTIONS` and `/healthz`: logged only at `LOG_LEVEL=debug`, never reported.
    routine: bool,
    /// The models tried, when the request had fallbacks.
    attempts: Vec<crate::gateway::fallback::Attempt>,
}

/// What only the aepipe reports need: headers, bodies, usage.
#[derive(Debug)]
struct Captured {
    url: String,
    request_headers: HeaderMap,
    request: Capture,
    response_headers: HeaderMap,
    response: Capture,
    usage: UsageMeter,
}

/// Everything said about one request, collected as it happens.
#[derive(Debug)]
pub struct Recorder {
    facts: Box<Facts>,
    /// `None` when reporting is off or the request is not reported.
    captured: Option<Box<Captured>>,
}

impl Recorder {
    /// Starts a record. Bodies and headers are captured only when aepipe
    /// reporting is on (`AEPIPE_BASE_URL` and token) and the request is not a
    /// preflight or a health check.
    pub fn new(cfg: &Config, head: &Parts, request_id: &str) -> Recorder {
        let routine = head.method == Method::OPTIONS || head.uri.path() == "/healthz";
        let passthrough = head.headers.get(PROVIDER_HEADER).is_some_and(|v| !v.is_empty());
        let info = RouteInfo {
            mode: if routine {
                Mode::Local
            } else if passthrough {
                Mode::Passthrough
            } else {
                Mode::Gateway
            },
            endpoint_type: crate::gateway::endpoint_type(head.uri.path()),
            ..RouteInfo::default()
        };
        let facts = Facts {
            method: head.method.to_string(),
            path: head.uri.path().to_owned(),
            request_id: request_id.to_owned(),
            info,
            routine,
            ..Facts::default()
        };
        let reporting = cfg.reporting();
        let captured = (reporting && !routine).then(|| {
            Box::new(Captured {
                url: head.uri.path_and_query().map_or_else(|| head.uri.path().to_owned(), |p| p.to_string()),
                // What the client sent: the host runtime's own metadata left out.
                request_headers: crate::headers::filtered(&head.headers, crate::headers::is_host_metadata),
                request: Capture::new(BODY_CAP),
                response_headers: HeaderMap::new(),
                response: Capture::new(BODY_CAP),
                usage: UsageMeter::new(false),
            })
        });
        Recorder { facts: Box::new(facts), captured }
    }

    /// `true` when aepipe reports will be built: hosts may skip work otherwise.
    pub fn is_on(&self) -> bool {
        self.captured.is_some()
    }

    pub fn request_chunk(&mut self, chunk: &[u8]) {
        self.facts.request_bytes += chunk.len() as u64;
        if let Some(c) = &mut self.captured {
            c.request.push(chunk);
        }
    }

    pub fn route(&mut self, info: &RouteInfo) {
        self.facts.info = info.clone();
    }

    /// The upstream's authority, once a route chose one.
    pub fn upstream_host(&self) -> &str {
        &self.facts.info.upstream_host
    }

    /// One model tried, for a request with fallbacks.
    pub fn attempt(&mut self, attempt: crate::gateway::fallback::Attempt) {
        self.facts.attempts.push(attempt);
    }

    /// `true` once a response head went to the client.
    pub fn answered(&self) -> bool {
        self.facts.status != 0
    }

    /// Marks a response with the mode that served it and its upstream
    /// (preflights and health checks are not marked).
    pub fn stamp(&self, headers: &mut HeaderMap) {
        if self.facts.info.mode != Mode::Local {
            self.facts.info.stamp(headers);
        }
    }

    /// The response head as sent to the client, at `ttfb_ms` after arrival.
    /// Adds the request id to `headers`, so a client can find this request's
    /// log line and reports.
    pub fn response_head(&mut self, status: StatusCode, headers: &mut HeaderMap, ttfb_ms: f64) {
        if let Ok(id) = HeaderValue::from_str(&self.facts.request_id) {
            headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), id);
        }
        self.facts.status = status.as_u16();
        self.facts.ttfb_ms.get_or_insert(ttfb_ms);
        if let Some(c) = &mut self.captured {
            c.response_headers = headers.clone();
            c.usage = UsageMeter::new(crate::headers::is_event_stream(headers));
        }
    }

    /// Response body bytes as sent to the client.
    pub fn response_chunk(&mut self, chunk: &[u8]) {
        self.facts.response_bytes += chunk.len() as u64;
        if let Some(c) = &mut self.captured {
            c.response.push(chunk);
            c.usage.push(chunk);
        }
    }

    /// `side` broke the exchange off; `why` in words for the log (never a
    /// secret). The first side to fail is the one recorded.
    pub fn failed(&mut self, side: Side, why: &str) {
        self.facts.failed.get_or_insert_with(|| (side, why.to_owned()));
    }

    /// The log line and the aepipe calls for this request. `unix_ms` is the
    /// wall-clock time the request ended.
    pub fn finish(self, cfg: &Config, duration_ms: f64, unix_ms: u64) -> Finished {
        let Recorder { facts, captured } = self;
        let mut facts = *facts;
        let calls = match captured {
            Some(captured) => aepipe_calls(cfg, &mut facts, *captured, duration_ms),
            None => Vec::new(),
        };
        let log = access::line(&cfg.log, &facts_view(&facts, duration_ms), unix_ms);
        Finished { log, calls }
    }
}

/// The facts as the log and the payloads read them.
fn facts_view(f: &Facts, duration_ms: f64) -> access::View<'_> {
    access::View {
        method: &f.method,
        path: &f.path,
        info: &f.info,
        status: f.status,
        request_id: &f.request_id,
        duration_ms,
        ttfb_ms: f.ttfb_ms.unwrap_or(duration_ms),
        request_bytes: f.request_bytes,
        response_bytes: f.response_bytes,
        failed: f.failed.as_ref().map(|(side, why)| (*side, why.as_str())),
        routine: f.routine,
        attempts: &f.attempts,
    }
}

/// What a report reads of a request body the route did not parse
/// (passthrough): two fields, borrowed and read only if well-typed.
#[derive(serde::Deserialize)]
struct ModelAndStream<'a> {
    #[serde(borrow, default)]
    model: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a serde_json::value::RawValue>,
}

/// The two aepipe calls (none when reporting is off). A passthrough request's
/// model is read from its captured body.
fn aepipe_calls(cfg: &Config, f: &mut Facts, c: Captured, duration_ms: f64) -> Vec<AepipeCall> {
    let (Some(base), Some(token)) = (&cfg.aepipe_base_url, &cfg.aepipe_token) else {
        return Vec::new();
    };
    if f.info.model.is_empty()
        && let Ok(body) = serde_json::from_slice::<ModelAndStream>(c.request.bytes())
    {
        let model = body.model.and_then(|m| serde_json::from_str::<std::borrow::Cow<str>>(m.get()).ok());
        f.info.model = model.unwrap_or_default().into_owned();
        f.info.stream = f.info.stream || body.stream.is_some_and(|s| s.get() == "true");
    }
    let Captured { url, request_headers, request, response_headers, response, usage } = c;
    let tokens = usage.finish(response.bytes());
    let view = facts_view(f, duration_ms);
    let facts = point::Facts {
        view: &view,
        cache_status: crate::headers::text(&response_headers, "cf-aig-cache-status").unwrap_or_default(),
        tokens,
    };
    let raw = point::raw_payload(&facts, &url, &request_headers, &request, &response_headers, &response);
    let auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()));
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(auth) = auth {
        headers.insert(HeaderName::from_static("authorization"), auth);
    }
    let call = |logstore: &str, body: Vec<u8>| AepipeCall {
        url: format!("{base}/v1/apex-ai-proxy/{logstore}"),
        headers: headers.clone(),
        body,
    };
    vec![call("requests/ingest", point::points_payload(&facts)), call("raw/log", raw)]
}

#[cfg(test)]
mod tests;
