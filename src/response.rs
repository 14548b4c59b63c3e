//! The response side of one upstream exchange: which headers go back, and the
//! filter every body chunk passes through on its way to the client.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::errors::{Dialect, ProxyError};
use crate::filter::BodyFilter;
use crate::headers::{apply_cors, filtered};
use crate::routing::RouteInfo;
use crate::translate::anthropic::stream::AnthropicStream;

/// A complete answer produced by the proxy itself.
pub type Reply = Response<Vec<u8>>;

/// How the upstream's answer is turned into the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Passthrough: status, headers and body as the upstream sent them.
    Relay,
    /// Gateway: success relayed as is; error bodies re-shaped into the client's
    /// dialect when they are not in it already.
    Gateway,
    /// Gateway, OpenAI-format upstream, Anthropic client: success bodies are
    /// translated (SPEC §7); `model` is the model as the client sent it.
    AnthropicFromOpenAi { model: String },
}

pub use crate::failure::{FailureKind, UpstreamFailure};

/// One request's upstream exchange, as far as the response is concerned.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub dialect: Dialect,
    pub shape: Shape,
    pub info: RouteInfo,
    /// Connection failures all read the same (passthrough to public hosts).
    pub neutral_failures: bool,
}

/// The head of the client's response and the filter for its body.
#[derive(Debug)]
pub struct ResponseStart {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyFilter,
}

impl Exchange {
    /// Decides the client's response head from the upstream's.
    pub fn on_response(&self, status: StatusCode, upstream: &HeaderMap) -> ResponseStart {
        let failed = status.is_client_error() || status.is_server_error();
        let event_stream = crate::headers::is_event_stream(upstream);
        let (body, content_type) = match &self.shape {
            Shape::Relay => (BodyFilter::Pass, None),
            Shape::Gateway | Shape::AnthropicFromOpenAi { .. } if failed => {
                let filter = BodyFilter::ReshapeError { status, dialect: self.dialect, buffer: Vec::new() };
                (filter, Some("application/json"))
            }
            Shape::Gateway => (BodyFilter::Pass, None),
            Shape::AnthropicFromOpenAi { model } if event_stream => (
                BodyFilter::AnthropicStream(Box::new(AnthropicStream::new(model))),
                Some("text/event-stream"),
            ),
            Shape::AnthropicFromOpenAi { model } => (
                BodyFilter::AnthropicMessage { model: model.clone(), buffer: Vec::new() },
                Some("application/json"),
            ),
        };
        let pass = body.is_pass();
        let mut headers = filtered(upstream, |name| {
            !pass && (name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING)
        });
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        apply_cors(&mut headers);
        ResponseStart { status, headers, body }
    }

    /// The answer when no upstream response arrived.
    pub fn on_failure(&self, failure: &UpstreamFailure) -> Reply {
        let message = failure.message(&self.info.upstream_host, self.neutral_failures);
        let error = match failure.kind.is_timeout() {
            true => ProxyError::GatewayTimeout(message),
            false => ProxyError::BadGateway(message),
        };
        error_reply(&error, self.dialect)
    }

    /// A proxy error answered in this exchange's dialect.
    pub fn error(&self, error: &ProxyError) -> Reply {
        error_reply(error, self.dialect)
    }
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

/// `reply` carrying what the proxy decided about the request (for reports),
/// when the proxy answered after routing it.
pub fn with_route(mut reply: Reply, info: RouteInfo) -> Reply {
    reply.extensions_mut().insert(info);
    reply
}

/// `error` as a complete answer in `dialect`.
pub fn error_reply(error: &ProxyError, dialect: Dialect) -> Reply {
    json_reply(error.status(), error.body_bytes(dialect))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn error_filter_buffers_then_reshapes() {
        let exchange = Exchange {
            dialect: Dialect::Anthropic,
            shape: Shape::Gateway,
            info: RouteInfo::default(),
            neutral_failures: false,
        };
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
        let exchange = Exchange {
            dialect: Dialect::OpenAi,
            shape: Shape::Gateway,
            info: RouteInfo::default(),
            neutral_failures: false,
        };
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
        let exchange = Exchange {
            dialect: Dialect::OpenAi,
            shape: Shape::Relay,
            info: RouteInfo::default(),
            neutral_failures: false,
        };
        let refused = UpstreamFailure::new(FailureKind::Refused, "ECONNREFUSED");
        let reply = exchange.on_failure(&refused);
        assert_eq!(reply.status(), 502);
        assert!(
            !String::from_utf8_lossy(reply.body()).contains("ECONNREFUSED"),
            "runtime text stays in the log"
        );
        assert_eq!(
            exchange.on_failure(&UpstreamFailure::new(FailureKind::ResponseTimeout, "")).status(),
            504
        );
    }
}
