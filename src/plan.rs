//! What a route decides about a request: the types `gateway` and
//! `passthrough` produce and the exchange carries out (docs/architecture.md).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use crate::config::Timeouts;
use crate::errors::{ProxyError, Shape};
use crate::headers::apply_cors;
use crate::translate::Answer;

/// A complete answer produced by the proxy itself.
pub type Reply = Response<Vec<u8>>;

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

/// Which behaviour served a response (`gateway` or `passthrough`).
pub const MODE_HEADER: &str = "x-apex-ai-proxy-mode";
/// The upstream a response came from (or was meant to), as `host[:port]`.
pub const UPSTREAM_HEADER: &str = "x-apex-ai-proxy-upstream";
/// The proxy's version, on the answers it makes itself (`/healthz`, its
/// errors, model lists, token estimates).
pub const VERSION_HEADER: &str = "x-apex-ai-proxy-version";
/// Tools the client offered that the provider could not be given (server
/// tools such as Anthropic's `web_search`), comma-separated.
pub const UNAVAILABLE_TOOLS_HEADER: &str = "x-apex-ai-proxy-unavailable-tools";

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
    /// Tools the client offered that the translated request could not carry
    /// (comma-separated names; empty: none).
    pub unavailable_tools: String,
}

impl RouteInfo {
    /// Marks a response with the mode that served it and its upstream (when
    /// one was chosen), so a user can see which way a request went.
    pub fn stamp(&self, headers: &mut HeaderMap) {
        headers.insert(HeaderName::from_static(MODE_HEADER), HeaderValue::from_static(self.mode.as_str()));
        if let Ok(host) = HeaderValue::from_str(&self.upstream_host)
            && !self.upstream_host.is_empty()
        {
            headers.insert(HeaderName::from_static(UPSTREAM_HEADER), host);
        }
        if let Ok(tools) = HeaderValue::from_str(&self.unavailable_tools)
            && !self.unavailable_tools.is_empty()
        {
            headers.insert(HeaderName::from_static(UNAVAILABLE_TOOLS_HEADER), tools);
        }
    }
}

/// A request ready to go upstream.
#[derive(Debug)]
pub struct Outgoing {
    pub method: Method,
    /// Absolute: scheme, authority, path and query.
    pub uri: Uri,
    /// Complete: includes `content-length` whenever the length is known.
    pub headers: HeaderMap,
    pub body: Upload,
}

/// The upstream request's body.
#[derive(Debug)]
pub enum Upload {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The client's body, streamed on unchanged (413 past the body limit).
    Client,
}

impl Upload {
    /// The bytes, when the body is planned rather than the client's.
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Upload::Bytes(bytes) => Some(bytes),
            Upload::Client => None,
        }
    }
}

/// How the upstream's answer becomes the client's.
#[derive(Debug)]
pub enum Reading {
    /// Passthrough: status, headers and body as the upstream sent them.
    Relay,
    /// Gateway: success relayed as is; error bodies re-shaped into the
    /// client's dialect when they are not in it already.
    Gateway,
    /// Gateway, chat upstream, another dialect's client: success bodies are
    /// translated by this answer.
    Translated(Box<dyn Answer>),
}

/// A request to send upstream, and everything its answer needs.
#[derive(Debug)]
pub struct Forward {
    pub request: Outgoing,
    pub reading: Reading,
    pub info: RouteInfo,
    /// The client's error shape.
    pub shape: Shape,
    /// Connection failures all read the same (passthrough to public hosts).
    pub neutral_failures: bool,
    pub timeouts: Timeouts,
}

/// A JSON answer with CORS headers and its length (no body for 204).
pub fn json_reply(status: StatusCode, body: Vec<u8>) -> Reply {
    let length = body.len();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if status != StatusCode::NO_CONTENT {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(VERSION_HEADER, HeaderValue::from_static(crate::VERSION));
    apply_cors(headers);
    response
}

/// `error` as a complete answer in `shape`.
pub fn error_reply(error: &ProxyError, shape: Shape) -> Reply {
    json_reply(error.status(), error.body_bytes(shape))
}

/// `reply`, marked with what the proxy decided about the request (the
/// exchange records it for reports and stamps the mode headers).
pub fn with_route(mut reply: Reply, info: RouteInfo) -> Reply {
    reply.extensions_mut().insert(info);
    reply
}

/// The client's `content-length`, when present and numeric.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    crate::headers::text(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Sets `content-length` to `len`.
pub fn set_length(headers: &mut HeaderMap, len: u64) {
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
}

/// Parses an upstream URL built by the core.
pub fn upstream_uri(url: &str, what: impl FnOnce(String) -> ProxyError) -> Result<Uri, ProxyError> {
    url.parse::<Uri>().map_err(|e| what(format!("{} is not a valid URL: {e}", crate::json::quoted(url))))
}

/// The `scheme://host:port` of a URI (the port made explicit, as Spin's
/// `allowed_outbound_hosts` wants it).
pub fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if scheme == "http" { 80 } else { 443 });
    format!("{scheme}://{host}:{port}")
}
