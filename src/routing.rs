//! The request pipeline of SPEC §2: from a request head to a [`Step`] the host
//! carries out.
//!
//! Protocol for a host:
//! 1. `plan(&config, &head)`;
//! 2. on [`Step::NeedBody`], read the whole body (more than [`NeedBody::limit`]
//!    bytes: answer [`NeedBody::too_large`]) and call [`NeedBody::with_body`],
//!    which yields the request to send or the answer;
//! 3. on [`Step::Forward`], send the request upstream (streaming the client's
//!    body when [`ForwardBody::StreamClient`]), then answer through
//!    [`Exchange::on_response`](crate::response::Exchange::on_response) or
//!    [`Exchange::on_failure`](crate::response::Exchange::on_failure).

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, StatusCode, Uri};
use serde_json::json;

use crate::config::{Config, Timeouts};
use crate::errors::{Dialect, ProxyError};
use crate::response::{Exchange, Reply, error_reply, json_reply};
use crate::{gateway, passthrough};

/// The header that selects passthrough mode.
pub const PROVIDER_HEADER: &str = "x-apex-ai-proxy-provider";
/// The informational dialect header of passthrough mode.
pub const TYPE_HEADER: &str = "x-apex-ai-proxy-type";

/// What the host does next.
#[derive(Debug)]
pub enum Step {
    /// Answer with this; nothing goes upstream.
    Respond(Reply),
    /// Read the request body, then continue with [`NeedBody::with_body`].
    NeedBody(Box<NeedBody>),
    /// Send this upstream.
    Forward(Box<Forward>),
}

/// Which behaviour served a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Answered by the proxy itself (preflight, health, early errors).
    #[default]
    Local,
    Gateway,
    Passthrough,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Gateway => "gateway",
            Mode::Passthrough => "passthrough",
        }
    }
}

/// What the proxy decided about a request: for the response side and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInfo {
    pub mode: Mode,
    /// Gateway provider name, or the passthrough provider header.
    pub provider: String,
    /// `model` as the client sent it (empty when the body was not read).
    pub model: String,
    /// `model` as the upstream receives it.
    pub upstream_model: String,
    /// `chat_completions`, `messages`, or the path.
    pub endpoint_type: String,
    pub stream: bool,
    /// The upstream's authority.
    pub upstream_host: String,
}

/// A request ready to go upstream.
#[derive(Debug)]
pub struct Forward {
    pub method: Method,
    /// Absolute: scheme, authority, path and query.
    pub uri: Uri,
    /// Complete: includes `content-length` whenever the length is known.
    pub headers: HeaderMap,
    pub body: ForwardBody,
    pub timeouts: Timeouts,
    pub exchange: Exchange,
}

/// The upstream request's body.
#[derive(Debug)]
pub enum ForwardBody {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The client's body, streamed unchanged; the host stops (413) past the limit.
    StreamClient { limit: usize },
}

/// A request whose plan depends on its body.
#[derive(Debug)]
pub struct NeedBody {
    limit: usize,
    dialect: Dialect,
    pending: Pending,
}

#[derive(Debug)]
pub(crate) enum Pending {
    Gateway(gateway::Pending),
    Passthrough(Box<passthrough::Pending>),
}

impl NeedBody {
    /// The step that asks the host for the body.
    pub(crate) fn step(cfg: &Config, dialect: Dialect, pending: Pending) -> Step {
        Step::NeedBody(Box::new(NeedBody { limit: cfg.max_body_bytes, dialect, pending }))
    }

    /// The largest body accepted, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The 413 answer for a body over [`NeedBody::limit`].
    pub fn too_large(&self) -> Reply {
        let mode = match self.pending {
            Pending::Gateway(_) => Mode::Gateway,
            Pending::Passthrough(_) => Mode::Passthrough,
        };
        stamped(error_reply(&ProxyError::PayloadTooLarge { limit: self.limit }, self.dialect), mode)
    }

    /// Finishes planning with the whole body: a request to send, or the answer
    /// (`Err`: an error, or a reply the proxy gives itself).
    // Called once per request; boxing the reply would only add an allocation.
    #[allow(clippy::result_large_err)]
    pub fn with_body(self, cfg: &Config, body: Vec<u8>) -> Result<Forward, Reply> {
        match self.pending {
            Pending::Gateway(p) => match p.with_body(cfg, body) {
                Ok(gateway::Routed::Forward(forward)) => Ok(*forward),
                Ok(gateway::Routed::Answer(reply)) => Err(stamped(reply, Mode::Gateway)),
                Err(e) => Err(stamped(error_reply(&e, self.dialect), Mode::Gateway)),
            },
            Pending::Passthrough(p) => Ok(p.with_body(body)),
        }
    }
}

/// Plans a request from its head (SPEC §2).
pub fn plan(cfg: &Config, head: &Parts) -> Step {
    if head.method == Method::OPTIONS {
        return Step::Respond(json_reply(StatusCode::NO_CONTENT, Vec::new()));
    }
    let path = head.uri.path();
    if path == "/healthz" && head.method == Method::GET {
        let body = json!({"status": "ok", "version": crate::VERSION}).to_string();
        return Step::Respond(json_reply(StatusCode::OK, body.into_bytes()));
    }
    let dialect = request_dialect(head);
    if !path.starts_with('/') {
        let error = ProxyError::BadRequest("the request target must be a path starting with /".into());
        return Step::Respond(error_reply(&error, dialect));
    }
    if let Err(error) = crate::header_typos::check(&head.headers) {
        return Step::Respond(error_reply(&error, dialect));
    }
    let provider = match head.headers.get(PROVIDER_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(text)) => Some(text.trim()),
        Some(Err(_)) => {
            let error = ProxyError::BadRequest(
                "X-APEX-AI-PROXY-PROVIDER must be ASCII host[:port][/base-path] (use punycode for international names)"
                    .into(),
            );
            return Step::Respond(error_reply(&error, dialect));
        }
    };
    if declared_length(&head.headers).is_some_and(|n| n > cfg.max_body_bytes as u64) {
        return Step::Respond(error_reply(
            &ProxyError::PayloadTooLarge { limit: cfg.max_body_bytes },
            dialect,
        ));
    }
    let (mode, step) = match provider.filter(|p| !p.is_empty()) {
        Some(provider) => (Mode::Passthrough, passthrough::plan(cfg, head, provider, dialect)),
        None => (Mode::Gateway, gateway::plan(cfg, head)),
    };
    match step.unwrap_or_else(|e| Step::Respond(error_reply(&e, dialect))) {
        Step::Respond(reply) => Step::Respond(stamped(reply, mode)),
        step => step,
    }
}

/// `reply`, marked with the mode that answered it.
fn stamped(mut reply: Reply, mode: Mode) -> Reply {
    crate::headers::stamp(reply.headers_mut(), mode, "");
    reply
}

/// The client's dialect: the path decides; for paths that do not,
/// `X-APEX-AI-PROXY-TYPE: anthropic` does, and for the models list the
/// `anthropic-version` header the Anthropic SDKs send.
pub fn request_dialect(head: &Parts) -> Dialect {
    if Dialect::from_path(head.uri.path()) == Dialect::Anthropic {
        return Dialect::Anthropic;
    }
    if let Some(t) = crate::headers::text(&head.headers, TYPE_HEADER) {
        return match t.trim().eq_ignore_ascii_case("anthropic") {
            true => Dialect::Anthropic,
            false => Dialect::OpenAi,
        };
    }
    match gateway::Endpoint::from_path(head.uri.path()) {
        Ok(endpoint) => endpoint.dialect(&head.headers),
        Err(_) => Dialect::OpenAi,
    }
}

/// The client's `content-length`, when present and numeric.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    crate::headers::text(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Parses an upstream URL built by the core.
pub(crate) fn upstream_uri(url: &str, what: impl FnOnce(String) -> ProxyError) -> Result<Uri, ProxyError> {
    url.parse::<Uri>().map_err(|e| what(format!("{} is not a valid URL: {e}", crate::translate::quoted(url))))
}

/// A 32-hex-digit id, distinct per call within a process (std's randomly keyed
/// hasher; the core has no other source of randomness).
pub fn unique_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    let seed = ID_SEED.load(std::sync::atomic::Ordering::Relaxed);
    format!("{:016x}{:016x}", state.hash_one((seed, 1u8)), state.hash_one((seed, 2u8)))
}

/// Host entropy mixed into [`unique_id`].
static ID_SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Gives [`unique_id`] entropy from the host. Needed where std has none of its
/// own (wasm32-unknown-unknown, the Worker: its ids would repeat from one
/// isolate to the next); harmless elsewhere.
pub fn seed_ids(entropy: u64) {
    ID_SEED.store(entropy, std::sync::atomic::Ordering::Relaxed);
}

/// `chat_completions`, `messages`, `count_tokens`, `models`, or the path itself:
/// the endpoint a path names.
pub fn endpoint_type(path: &str) -> String {
    match gateway::Endpoint::from_path(path) {
        Ok(endpoint) => endpoint.name().into(),
        Err(_) => path.trim_end_matches('/').into(),
    }
}

/// Sets `content-length` to `len`.
pub(crate) fn set_length(headers: &mut HeaderMap, len: u64) {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}
