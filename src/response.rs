//! The response side of one upstream exchange: which headers go back, and the
//! filter every body chunk passes through on its way to the client.

use std::borrow::Cow;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::errors::{Dialect, ProxyError};
use crate::headers::{apply_cors, filtered};
use crate::routing::RouteInfo;

/// A complete answer produced by the proxy itself.
pub type Reply = Response<Vec<u8>>;

/// How the upstream's answer is turned into the client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Passthrough: status, headers and body as the upstream sent them.
    Relay,
    /// Gateway: success relayed as is; error bodies re-shaped into the client's
    /// dialect when they are not in it already.
    Gateway,
}

/// Why the upstream gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// DNS, connection or protocol failure (answered 502).
    Unreachable(String),
    /// A time limit passed (answered 504).
    Timeout(String),
}

/// One request's upstream exchange, as far as the response is concerned.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub dialect: Dialect,
    pub shape: Shape,
    pub info: RouteInfo,
}

/// The head of the client's response and the filter for its body.
#[derive(Debug)]
pub struct ResponseStart {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyFilter,
}

/// Largest upstream error body kept for re-shaping; the rest is dropped.
const ERROR_BODY_CAP: usize = 64 * 1024;

impl Exchange {
    /// Decides the client's response head from the upstream's.
    pub fn on_response(&self, status: StatusCode, upstream: &HeaderMap) -> ResponseStart {
        let body = match self.shape {
            Shape::Gateway if status.is_client_error() || status.is_server_error() => {
                BodyFilter::ReshapeError { status, dialect: self.dialect, buffer: Vec::new() }
            }
            Shape::Relay | Shape::Gateway => BodyFilter::Pass,
        };
        let mut headers = filtered(upstream, |name| {
            !matches!(body, BodyFilter::Pass)
                && (name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING)
        });
        if !matches!(body, BodyFilter::Pass) {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        apply_cors(&mut headers);
        ResponseStart { status, headers, body }
    }

    /// The answer when no upstream response arrived.
    pub fn on_failure(&self, failure: UpstreamFailure) -> Reply {
        let error = match failure {
            UpstreamFailure::Unreachable(why) => {
                ProxyError::BadGateway(format!("upstream {} unreachable: {why}", self.info.upstream_host))
            }
            UpstreamFailure::Timeout(why) => {
                ProxyError::GatewayTimeout(format!("upstream {} timed out: {why}", self.info.upstream_host))
            }
        };
        error_reply(&error, self.dialect)
    }

    /// A proxy error answered in this exchange's dialect.
    pub fn error(&self, error: &ProxyError) -> Reply {
        error_reply(error, self.dialect)
    }
}

/// What happens to each upstream body chunk.
///
/// Protocol: call [`BodyFilter::push`] for every chunk in order, send what it
/// returns at once, then send what [`BodyFilter::finish`] returns.
#[derive(Debug)]
pub enum BodyFilter {
    /// Every chunk goes out unchanged, as soon as it arrives.
    Pass,
    /// An error body, collected (up to a cap) and re-shaped at the end.
    ReshapeError { status: StatusCode, dialect: Dialect, buffer: Vec<u8> },
}

impl BodyFilter {
    /// The bytes to send now for `chunk`.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            BodyFilter::Pass => Cow::Borrowed(chunk),
            BodyFilter::ReshapeError { buffer, .. } => {
                let room = ERROR_BODY_CAP.saturating_sub(buffer.len());
                buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
                Cow::Borrowed(&[])
            }
        }
    }

    /// The bytes to send after the last chunk.
    pub fn finish(self) -> Vec<u8> {
        match self {
            BodyFilter::Pass => Vec::new(),
            BodyFilter::ReshapeError { status, dialect, buffer } => reshape_error(status, dialect, &buffer),
        }
    }
}

/// An upstream error body in the client's dialect: unchanged when it already is,
/// otherwise its message (OpenAI, Anthropic, Cloudflare `errors[]`, plain text)
/// in a new body of the client's shape.
pub fn reshape_error(status: StatusCode, dialect: Dialect, body: &[u8]) -> Vec<u8> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &json {
        let has_message = v["error"]["message"].is_string();
        let native = match dialect {
            Dialect::OpenAi => has_message && v["type"] != "error",
            Dialect::Anthropic => has_message && v["type"] == "error",
        };
        if native {
            return body.to_vec();
        }
    }
    let message = json.as_ref().and_then(error_message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match text.is_empty() {
            true => format!("upstream answered {status}"),
            false => text.chars().take(2000).collect(),
        }
    });
    ProxyError::Upstream { status, message }.body_bytes(dialect)
}

/// The message of an error body in any of the shapes upstreams use.
fn error_message(v: &Value) -> Option<String> {
    if let Some(m) = v["error"]["message"].as_str().or(v["error"].as_str()) {
        return Some(m.to_owned());
    }
    if let Some(errors) = v["errors"].as_array().filter(|e| !e.is_empty()) {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| match (e["code"].as_i64(), e["message"].as_str()) {
                (Some(code), Some(m)) => format!("{m} (code {code})"),
                (None, Some(m)) => m.to_owned(),
                _ => e.to_string(),
            })
            .collect();
        return Some(parts.join("; "));
    }
    v["message"].as_str().or(v["detail"].as_str()).map(str::to_owned)
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
    apply_cors(headers);
    response
}

/// `error` as a complete answer in `dialect`.
pub fn error_reply(error: &ProxyError, dialect: Dialect) -> Reply {
    json_reply(error.status(), error.body_bytes(dialect))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reshape(status: u16, dialect: Dialect, body: &str) -> Value {
        let out = reshape_error(StatusCode::from_u16(status).unwrap(), dialect, body.as_bytes());
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn native_errors_pass_unchanged() {
        let openai = r#"{"error":{"message":"bad","type":"invalid_request_error","code":null}}"#;
        assert_eq!(
            reshape_error(StatusCode::BAD_REQUEST, Dialect::OpenAi, openai.as_bytes()),
            openai.as_bytes()
        );
        let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
        let code = StatusCode::from_u16(529).unwrap();
        assert_eq!(reshape_error(code, Dialect::Anthropic, anthropic.as_bytes()), anthropic.as_bytes());
    }

    #[test]
    fn foreign_shapes_are_translated() {
        assert_eq!(
            reshape(401, Dialect::Anthropic, r#"{"error":{"message":"bad key","type":"x"}}"#),
            json!({"type":"error","error":{"type":"authentication_error","message":"bad key"}})
        );
        assert_eq!(
            reshape(
                429,
                Dialect::OpenAi,
                r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#
            ),
            json!({"error":{"message":"slow","type":"rate_limit_error","code":429}})
        );
        let cloudflare = r#"{"success":false,"errors":[{"code":2009,"message":"Unauthorized"}],"result":{}}"#;
        assert_eq!(reshape(401, Dialect::OpenAi, cloudflare)["error"]["message"], "Unauthorized (code 2009)");
        assert_eq!(reshape(404, Dialect::Anthropic, "no such model\n")["error"]["message"], "no such model");
        assert_eq!(
            reshape(502, Dialect::OpenAi, "")["error"]["message"],
            "upstream answered 502 Bad Gateway"
        );
        assert_eq!(reshape(400, Dialect::OpenAi, r#"{"error":"plain"}"#)["error"]["message"], "plain");
        assert_eq!(
            reshape(422, Dialect::OpenAi, r#"{"detail":"validation"}"#)["error"]["message"],
            "validation"
        );
    }

    #[test]
    fn error_filter_buffers_then_reshapes() {
        let exchange =
            Exchange { dialect: Dialect::Anthropic, shape: Shape::Gateway, info: RouteInfo::default() };
        let mut upstream = HeaderMap::new();
        upstream.insert(header::CONTENT_LENGTH, HeaderValue::from_static("40"));
        upstream.insert("cf-aig-cache-status", HeaderValue::from_static("MISS"));
        let mut start = exchange.on_response(StatusCode::BAD_REQUEST, &upstream);
        assert!(start.headers.get(header::CONTENT_LENGTH).is_none());
        assert_eq!(start.headers["cf-aig-cache-status"], "MISS");
        assert_eq!(start.headers["access-control-allow-origin"], "*");
        assert!(start.body.push(br#"{"error":{"mess"#).is_empty());
        assert!(start.body.push(br#"age":"nope"}}"#).is_empty());
        let out: Value = serde_json::from_slice(&start.body.finish()).unwrap();
        assert_eq!(out, json!({"type":"error","error":{"type":"invalid_request_error","message":"nope"}}));
    }

    #[test]
    fn success_passes_through_with_length() {
        let exchange =
            Exchange { dialect: Dialect::OpenAi, shape: Shape::Gateway, info: RouteInfo::default() };
        let mut upstream = HeaderMap::new();
        upstream.insert(header::CONTENT_LENGTH, HeaderValue::from_static("2"));
        upstream.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        let mut start = exchange.on_response(StatusCode::OK, &upstream);
        assert_eq!(start.headers[header::CONTENT_LENGTH], "2");
        assert!(start.headers.get(header::TRANSFER_ENCODING).is_none());
        assert_eq!(&*start.body.push(b"{}"), b"{}");
        assert!(start.body.finish().is_empty());
    }

    #[test]
    fn failures_map_to_502_and_504() {
        let exchange = Exchange { dialect: Dialect::OpenAi, shape: Shape::Relay, info: RouteInfo::default() };
        assert_eq!(exchange.on_failure(UpstreamFailure::Unreachable("refused".into())).status(), 502);
        assert_eq!(exchange.on_failure(UpstreamFailure::Timeout("slow".into())).status(), 504);
    }
}
