//! Everything the proxy can say no to, and how each client dialect writes an
//! error.
//!
//! Errors are values: constructing one logs nothing. [`ProxyError::status`] is
//! the one place that decides a status code; an [`ErrorShape`] (one per
//! dialect family: OpenAI's here, the others beside their dialect in
//! `translate/`) the one place that decides a body.

use std::fmt;

use http::StatusCode;
use serde_json::{Value, json};

use crate::json::Json;

/// How one client dialect writes an error body.
pub trait ErrorShape: fmt::Debug + Sync {
    /// The error body for `status` saying `message`.
    fn body(&self, status: StatusCode, message: &str) -> Value;
    /// `true` when `body` (an upstream's error) is already in this shape.
    fn is_own(&self, body: Json) -> bool;
}

/// The error shape of a dialect: a static of its `translate/` folder.
pub type Shape = &'static dyn ErrorShape;

/// OpenAI's errors: `{"error":{"message","type","param","code"}}` (chat
/// completions, Responses, and every path no dialect claims).
#[derive(Debug)]
pub struct OpenAiErrors;

pub static OPENAI: OpenAiErrors = OpenAiErrors;

impl ErrorShape for OpenAiErrors {
    fn body(&self, status: StatusCode, message: &str) -> Value {
        let kind = match status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            504 => "timeout_error",
            421 => "api_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        };
        json!({"error": {"message": message, "type": kind, "param": null, "code": openai_code(status)}})
    }

    fn is_own(&self, body: Json) -> bool {
        let Some(object) = body.object() else { return false };
        let message = object.object("error").is_some_and(|e| e.get("message").is_some_and(Json::is_string));
        message && object.str("type").as_deref() != Some("error")
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
            | ProxyError::BadGateway(m)
            | ProxyError::GatewayTimeout(m)
            | ProxyError::Upstream { message: m, .. } => m.clone(),
        }
    }

    /// The JSON error body in `shape`.
    pub fn body(&self, shape: Shape) -> Value {
        shape.body(self.status(), &self.message())
    }

    /// The JSON error body, serialized.
    pub fn body_bytes(&self, shape: Shape) -> Vec<u8> {
        self.body(shape).to_string().into_bytes()
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status().as_u16(), self.message())
    }
}

impl std::error::Error for ProxyError {}

/// An upstream error body in `shape`: unchanged when it already is, otherwise
/// its message (OpenAI, Anthropic, Gemini, Cloudflare `errors[]`, plain text)
/// in a new body of that shape.
pub fn reshape(status: StatusCode, shape: Shape, body: &[u8]) -> Vec<u8> {
    let json = std::str::from_utf8(body).ok().and_then(|text| Json::parse(text).ok());
    if json.is_some_and(|j| shape.is_own(j)) {
        return body.to_vec();
    }
    let message = json.and_then(error_message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match text.is_empty() {
            true => format!("upstream answered {status}"),
            false => text.chars().take(2000).collect(),
        }
    });
    ProxyError::Upstream { status, message }.body_bytes(shape)
}

/// The message of an error body in any of the shapes upstreams use.
fn error_message(body: Json) -> Option<String> {
    let object = body.object()?;
    if let Some(error) = object.get("error") {
        if let Some(text) = error.as_str() {
            return Some(text.into_owned());
        }
        if let Some(message) = error.object().and_then(|e| e.str("message")) {
            return Some(message.into_owned());
        }
    }
    if let Some(errors) = object.array("errors").filter(|e| !e.is_empty()) {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| {
                let fields = e.object().unwrap_or_default();
                match (fields.u64("code"), fields.str("message")) {
                    (Some(code), Some(m)) => format!("{m} (code {code})"),
                    (None, Some(m)) => m.into_owned(),
                    _ => e.text().to_owned(),
                }
            })
            .collect();
        return Some(parts.join("; "));
    }
    object.str("message").or_else(|| object.str("detail")).map(|m| m.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reshape_json(status: u16, body: &str) -> Value {
        let out = reshape(StatusCode::from_u16(status).unwrap(), &OPENAI, body.as_bytes());
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn openai_shape() {
        let e = ProxyError::Unauthorized("bad token".into());
        assert_eq!(
            e.body(&OPENAI),
            json!({"error": {"message": "bad token", "type": "authentication_error", "param": null,
                   "code": "invalid_api_key"}})
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
            (ProxyError::BadGateway(String::new()), 502),
            (ProxyError::GatewayTimeout(String::new()), 504),
            (ProxyError::Upstream { status: StatusCode::TOO_MANY_REQUESTS, message: String::new() }, 429),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
        }
    }

    #[test]
    fn native_errors_pass_unchanged_and_foreign_ones_are_reshaped() {
        let openai = r#"{"error":{"message":"bad","type":"invalid_request_error","code":null}}"#;
        assert_eq!(reshape(StatusCode::BAD_REQUEST, &OPENAI, openai.as_bytes()), openai.as_bytes());
        let cloudflare = r#"{"success":false,"errors":[{"code":2009,"message":"Unauthorized"}],"result":{}}"#;
        assert_eq!(reshape_json(401, cloudflare)["error"]["message"], "Unauthorized (code 2009)");
        let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
        assert_eq!(reshape_json(529, anthropic)["error"]["message"], "busy");
        assert_eq!(reshape_json(502, "")["error"]["message"], "upstream answered 502 Bad Gateway");
        assert_eq!(reshape_json(400, r#"{"error":"plain"}"#)["error"]["message"], "plain");
        assert_eq!(reshape_json(422, r#"{"detail":"validation"}"#)["error"]["message"], "validation");
        assert_eq!(reshape_json(404, "no such model\n")["error"]["message"], "no such model");
    }
}
