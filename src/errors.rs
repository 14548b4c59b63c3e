//! Everything the proxy can say no to, rendered in the client's dialect.
//!
//! Errors are values: constructing one logs nothing. [`ProxyError::status`] is the
//! one place that decides a status code; [`ProxyError::render`] the one place that
//! decides a body.

use std::fmt;

use http::StatusCode;
use serde_json::json;

/// Which API family the client speaks, chosen by the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/chat/completions` and every other OpenAI-style path.
    OpenAi,
    /// `/messages`.
    Anthropic,
}

impl Dialect {
    /// Anthropic for paths ending in `/messages` or `/messages/count_tokens`,
    /// OpenAI for everything else.
    pub fn from_path(path: &str) -> Self {
        let path = path.trim_end_matches('/');
        match path.ends_with("/messages") || path.ends_with("/messages/count_tokens") {
            true => Dialect::Anthropic,
            false => Dialect::OpenAi,
        }
    }
}

/// A refusal or failure produced by the proxy itself (not relayed from upstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// Malformed input: bad JSON, bad model reference, bad provider header.
    BadRequest(String),
    /// Gateway mode without a token, or with the wrong one.
    Unauthorized(String),
    /// Passthrough target refused by the SSRF guard or the host allowlist.
    Forbidden(String),
    /// No route for this path.
    NotFound(String),
    /// The route exists but not for this method.
    MethodNotAllowed(String),
    /// The request body is over `MAX_BODY_BYTES`.
    PayloadTooLarge { limit: usize },
    /// The deployment lacks a setting this request needs. Answered `421
    /// Misdirected Request`: this deployment cannot serve the request, and no
    /// SDK retries a 4xx other than 408, 409 and 429 (a 500 made them retry a
    /// configuration error for over a second).
    NotConfigured(String),
    /// A feature this build does not provide yet.
    NotImplemented(String),
    /// The upstream could not be reached or sent something unusable.
    BadGateway(String),
    /// The upstream did not answer in time.
    GatewayTimeout(String),
    /// An error status relayed from the upstream, re-shaped into the client's dialect.
    Upstream { status: StatusCode, message: String },
}

impl ProxyError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ProxyError::Forbidden(_) => StatusCode::FORBIDDEN,
            ProxyError::NotFound(_) => StatusCode::NOT_FOUND,
            ProxyError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::NotConfigured(_) => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ProxyError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ProxyError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Upstream { status, .. } => *status,
        }
    }

    /// The client's body could not be read (a host logs the runtime's own words;
    /// the client reads these).
    pub fn client_body() -> ProxyError {
        ProxyError::BadRequest(
            "reading the request body failed: the client stopped sending, stalled or sent it malformed"
                .into(),
        )
    }

    /// The human-readable message: what was wrong and how to fix it.
    pub fn message(&self) -> String {
        match self {
            ProxyError::PayloadTooLarge { limit } => {
                format!("request body is larger than {limit} bytes (MAX_BODY_BYTES); send a smaller body")
            }
            ProxyError::BadRequest(m)
            | ProxyError::Unauthorized(m)
            | ProxyError::Forbidden(m)
            | ProxyError::NotFound(m)
            | ProxyError::MethodNotAllowed(m)
            | ProxyError::NotConfigured(m)
            | ProxyError::NotImplemented(m)
            | ProxyError::BadGateway(m)
            | ProxyError::GatewayTimeout(m)
            | ProxyError::Upstream { message: m, .. } => m.clone(),
        }
    }

    /// The error `type` for this error's status, in the given dialect.
    pub fn error_type(&self, dialect: Dialect) -> &'static str {
        error_type_for(self.status(), dialect)
    }

    /// The JSON error body in the client's dialect.
    pub fn body(&self, dialect: Dialect) -> serde_json::Value {
        let message = self.message();
        let kind = self.error_type(dialect);
        match dialect {
            Dialect::OpenAi => json!({
                "error": { "message": message, "type": kind, "param": null, "code": openai_code(self.status()) }
            }),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": { "type": kind, "message": message }
            }),
        }
    }

    /// The JSON error body, serialized.
    pub fn body_bytes(&self, dialect: Dialect) -> Vec<u8> {
        self.body(dialect).to_string().into_bytes()
    }

    /// The same error as one SSE `error` event (for failures after a stream started).
    pub fn sse_event(&self, dialect: Dialect) -> Vec<u8> {
        let body = self.body(dialect);
        match dialect {
            Dialect::Anthropic => format!("event: error\ndata: {body}\n\n").into_bytes(),
            Dialect::OpenAi => format!("data: {body}\n\n").into_bytes(),
        }
    }
}

/// OpenAI's own string `code` for a status, where it has one (`null`
/// otherwise, as OpenAI answers most errors).
pub fn openai_code(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        401 => Some("invalid_api_key"),
        413 => Some("request_too_large"),
        421 => Some("proxy_not_configured"),
        429 => Some("rate_limit_exceeded"),
        _ => None,
    }
}

/// The conventional error `type` for a status: Anthropic's names (documented in its
/// API errors page) and OpenAI's (`invalid_request_error` and friends).
pub fn error_type_for(status: StatusCode, dialect: Dialect) -> &'static str {
    match (dialect, status.as_u16()) {
        (_, 401) => "authentication_error",
        (_, 403) => "permission_error",
        (_, 404) => "not_found_error",
        (Dialect::Anthropic, 413) => "request_too_large",
        (_, 429) => "rate_limit_error",
        (Dialect::Anthropic, 529) => "overloaded_error",
        (Dialect::OpenAi, 504) => "timeout_error",
        (_, 421) => "api_error",
        (_, 400..=499) => "invalid_request_error",
        _ => "api_error",
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status().as_u16(), self.message())
    }
}

impl std::error::Error for ProxyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_path() {
        assert_eq!(Dialect::from_path("/v1/messages"), Dialect::Anthropic);
        assert_eq!(Dialect::from_path("/anthropic/v1/messages/"), Dialect::Anthropic);
        assert_eq!(Dialect::from_path("/v1/chat/completions"), Dialect::OpenAi);
        assert_eq!(Dialect::from_path("/v1/messages/count_tokens"), Dialect::Anthropic);
        assert_eq!(Dialect::from_path("/v1/embeddings"), Dialect::OpenAi);
    }

    #[test]
    fn openai_shape() {
        let e = ProxyError::Unauthorized("bad token".into());
        assert_eq!(
            e.body(Dialect::OpenAi),
            json!({"error": {"message": "bad token", "type": "authentication_error", "param": null,
                   "code": "invalid_api_key"}})
        );
    }

    #[test]
    fn anthropic_shape() {
        let e = ProxyError::BadRequest("no model".into());
        assert_eq!(
            e.body(Dialect::Anthropic),
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "no model"}})
        );
    }

    #[test]
    fn every_variant_has_its_status() {
        let cases = [
            (ProxyError::BadRequest(String::new()), 400),
            (ProxyError::Unauthorized(String::new()), 401),
            (ProxyError::Forbidden(String::new()), 403),
            (ProxyError::NotFound(String::new()), 404),
            (ProxyError::MethodNotAllowed(String::new()), 405),
            (ProxyError::PayloadTooLarge { limit: 1 }, 413),
            (ProxyError::NotConfigured(String::new()), 421),
            (ProxyError::NotImplemented(String::new()), 501),
            (ProxyError::BadGateway(String::new()), 502),
            (ProxyError::GatewayTimeout(String::new()), 504),
            (ProxyError::Upstream { status: StatusCode::TOO_MANY_REQUESTS, message: String::new() }, 429),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn anthropic_types_by_status() {
        let kind = |s: u16| error_type_for(StatusCode::from_u16(s).unwrap(), Dialect::Anthropic);
        assert_eq!(kind(400), "invalid_request_error");
        assert_eq!(kind(401), "authentication_error");
        assert_eq!(kind(403), "permission_error");
        assert_eq!(kind(404), "not_found_error");
        assert_eq!(kind(429), "rate_limit_error");
        assert_eq!(kind(500), "api_error");
        assert_eq!(kind(529), "overloaded_error");
    }

    #[test]
    fn sse_error_event() {
        let e = ProxyError::BadGateway("upstream closed".into());
        let text = String::from_utf8(e.sse_event(Dialect::Anthropic)).unwrap();
        assert!(text.starts_with("event: error\ndata: {"));
        assert!(text.ends_with("\n\n"));
    }
}
