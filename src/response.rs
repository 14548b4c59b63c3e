//! The response side of one upstream exchange: which headers go back, and the
//! filter every body chunk passes through on its way to the client.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::buffered::{Buffered, Whole};
use crate::errors::{Dialect, ProxyError};
use crate::filter::BodyFilter;
use crate::headers::{apply_cors, filtered};
use crate::routing::RouteInfo;
use crate::translate::anthropic::stream::AnthropicStream;
use crate::translate::responses::ResponsesContext;
use crate::translate::responses::stream::ResponsesStream;

/// A complete answer produced by the proxy itself.
pub type Reply = Response<Vec<u8>>;

/// How the upstream's answer is turned into the client's.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Passthrough: status, headers and body as the upstream sent them.
    Relay,
    /// Gateway: success relayed as is; error bodies re-shaped into the client's
    /// dialect when they are not in it already.
    Gateway,
    /// Gateway, OpenAI-format upstream, Anthropic client: success bodies are
    /// translated (SPEC §7); `model` is the model as the client sent it.
    AnthropicFromOpenAi { model: String },
    /// Gateway, OpenAI chat upstream, Responses API client: success bodies are
    /// translated with what the request said.
    ResponsesFromChat(Box<ResponsesContext>),
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
    /// The upstream's `scheme://host:port`.
    pub origin: String,
}

/// What the host does with an upstream answer.
#[derive(Debug)]
pub enum Answer {
    /// Send this head now, then stream the body through a
    /// [`Relay`](crate::relay::Relay).
    Stream(ResponseStart),
    /// Read the whole body into this first; it gives the complete answer.
    Buffer(Buffered),
}

/// The head of a streamed response and what its body goes through.
#[derive(Debug)]
pub struct ResponseStart {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: BodyFilter,
    /// The upstream's `content-length`, forwarded in `headers`: the relay
    /// verifies the body against it.
    pub length: Option<u64>,
}

impl Exchange {
    /// Decides how the upstream's answer reaches the client.
    pub fn on_response(&self, status: StatusCode, upstream: &HeaderMap) -> Answer {
        let failed = status.is_client_error() || status.is_server_error();
        let event_stream = crate::headers::is_event_stream(upstream);
        let whole = match &self.shape {
            Shape::Relay => None,
            _ if failed => Some(Whole::Error),
            Shape::AnthropicFromOpenAi { model } if !event_stream => {
                Some(Whole::AnthropicMessage { model: model.clone() })
            }
            Shape::ResponsesFromChat(context) if !event_stream => Some(Whole::Response(context.clone())),
            Shape::Gateway | Shape::AnthropicFromOpenAi { .. } | Shape::ResponsesFromChat(_) => None,
        };
        if let Some(whole) = whole {
            let mut headers =
                filtered(upstream, |name| name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING);
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            apply_cors(&mut headers);
            self.stamp(&mut headers);
            return Answer::Buffer(Buffered::new(status, headers, self.dialect, whole));
        }
        let (body, content_type) = match &self.shape {
            Shape::AnthropicFromOpenAi { model } => (
                BodyFilter::AnthropicStream(Box::new(AnthropicStream::new(model))),
                Some("text/event-stream"),
            ),
            Shape::ResponsesFromChat(context) => {
                let stream = ResponsesStream::new((**context).clone());
                (BodyFilter::ResponsesStream(Box::new(stream)), Some("text/event-stream"))
            }
            Shape::Relay | Shape::Gateway => (BodyFilter::Pass, None),
        };
        let pass = body.is_pass();
        let mut headers = filtered(upstream, |name| {
            !pass && (name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING)
        });
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        apply_cors(&mut headers);
        self.stamp(&mut headers);
        // 204 and 304 carry no body whatever their content-length says.
        let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let length = match pass && !bodiless {
            true => crate::routing::declared_length(&headers),
            false => None,
        };
        if pass && !bodiless && length.is_none() {
            headers.remove(header::CONTENT_LENGTH); // not a number: never forwarded
        }
        Answer::Stream(ResponseStart { status, headers, body, length })
    }

    /// The answer when no upstream response arrived.
    pub fn on_failure(&self, failure: &UpstreamFailure) -> Reply {
        let message = failure.message(&self.info.upstream_host, &self.origin, self.neutral_failures);
        let error = match failure.kind.is_timeout() {
            true => ProxyError::GatewayTimeout(message),
            false => ProxyError::BadGateway(message),
        };
        self.error(&error)
    }

    /// Marks a response head with this exchange's mode and upstream.
    fn stamp(&self, headers: &mut HeaderMap) {
        crate::headers::stamp(headers, self.info.mode, &self.info.upstream_host);
    }

    /// `failure` in words for the operator's log: precise even where the
    /// client's message is neutral.
    pub fn describe(&self, failure: &UpstreamFailure) -> String {
        failure.message(&self.info.upstream_host, &self.origin, false)
    }

    /// A proxy error answered in this exchange's dialect.
    pub fn error(&self, error: &ProxyError) -> Reply {
        let mut reply = error_reply(error, self.dialect);
        self.stamp(reply.headers_mut());
        reply
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

    fn exchange(dialect: Dialect, shape: Shape) -> Exchange {
        Exchange {
            dialect,
            shape,
            info: RouteInfo::default(),
            neutral_failures: false,
            origin: String::new(),
        }
    }

    #[test]
    fn errors_are_read_whole_then_reshaped() {
        let mut upstream = HeaderMap::new();
        upstream.insert(header::CONTENT_LENGTH, HeaderValue::from_static("40"));
        upstream.insert("cf-aig-cache-status", HeaderValue::from_static("MISS"));
        let Answer::Buffer(mut whole) =
            exchange(Dialect::Anthropic, Shape::Gateway).on_response(StatusCode::BAD_REQUEST, &upstream)
        else {
            panic!("errors are read whole")
        };
        assert!(whole.push(br#"{"error":{"mess"#) && whole.push(br#"age":"nope"}}"#));
        let reply = whole.finish();
        assert_eq!(reply.status(), 400);
        assert_eq!(reply.headers()["cf-aig-cache-status"], "MISS");
        assert_eq!(reply.headers()["access-control-allow-origin"], "*");
        assert_eq!(reply.headers()[header::CONTENT_LENGTH], reply.body().len().to_string().as_str());
        let out: Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(out, json!({"type":"error","error":{"type":"invalid_request_error","message":"nope"}}));
    }

    #[test]
    fn success_passes_through_with_a_length_to_verify() {
        let mut upstream = HeaderMap::new();
        upstream.insert(header::CONTENT_LENGTH, HeaderValue::from_static("2"));
        upstream.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        let Answer::Stream(start) =
            exchange(Dialect::OpenAi, Shape::Gateway).on_response(StatusCode::OK, &upstream)
        else {
            panic!("success streams")
        };
        assert_eq!(start.headers[header::CONTENT_LENGTH], "2");
        assert_eq!(start.length, Some(2));
        assert!(start.headers.get(header::TRANSFER_ENCODING).is_none());
        assert!(start.body.is_pass());

        upstream.insert(header::CONTENT_LENGTH, HeaderValue::from_static("ten"));
        let Answer::Stream(start) =
            exchange(Dialect::OpenAi, Shape::Relay).on_response(StatusCode::OK, &upstream)
        else {
            panic!("relayed")
        };
        assert!(start.headers.get(header::CONTENT_LENGTH).is_none() && start.length.is_none());
    }

    #[test]
    fn translated_answers_stream_or_are_read_whole() {
        let shape = Shape::AnthropicFromOpenAi { model: "m".into() };
        let mut sse = HeaderMap::new();
        sse.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        sse.insert(header::CONTENT_LENGTH, HeaderValue::from_static("100"));
        let Answer::Stream(start) =
            exchange(Dialect::Anthropic, shape.clone()).on_response(StatusCode::OK, &sse)
        else {
            panic!("streams")
        };
        assert!(start.length.is_none() && start.headers.get(header::CONTENT_LENGTH).is_none());
        assert!(matches!(
            exchange(Dialect::Anthropic, shape).on_response(StatusCode::OK, &HeaderMap::new()),
            Answer::Buffer(_)
        ));
    }

    #[test]
    fn failures_map_to_502_and_504() {
        let exchange = exchange(Dialect::OpenAi, Shape::Relay);
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
