//! Conversions between `wasi:http` resources and the core's `http` types, and the
//! blocking body loops. Pitfall handled here: `outgoing_handler::handle` is
//! called before the request body is written (writing a large body first hangs).

use std::io::Write;

use http::header::HeaderMap;
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingRequest, IncomingResponse, Method as WasiMethod,
    OutgoingBody, OutgoingRequest, OutgoingResponse, RequestOptions, ResponseOutparam, Scheme,
};
use wasi::io::streams::{OutputStream, StreamError};

use crate::config::Timeouts;
use crate::response::{FailureKind, Reply, UpstreamFailure};
use crate::routing::ForwardBody;

/// Size of one read from a body stream.
const CHUNK: u64 = 64 * 1024;

/// The request head as `http::request::Parts`; unparseable header lines are skipped.
pub fn read_head(request: &IncomingRequest) -> Parts {
    let method = match request.method() {
        WasiMethod::Get => Method::GET,
        WasiMethod::Head => Method::HEAD,
        WasiMethod::Post => Method::POST,
        WasiMethod::Put => Method::PUT,
        WasiMethod::Delete => Method::DELETE,
        WasiMethod::Connect => Method::CONNECT,
        WasiMethod::Options => Method::OPTIONS,
        WasiMethod::Trace => Method::TRACE,
        WasiMethod::Patch => Method::PATCH,
        WasiMethod::Other(other) => Method::from_bytes(other.as_bytes()).unwrap_or(Method::GET),
    };
    let path = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut parts = match Request::builder().method(method).uri(path).body(()) {
        Ok(request) => request.into_parts().0,
        // Only an invalid path gets here; plan it as "/" (a 404 or passthrough root).
        Err(_) => Request::new(()).into_parts().0,
    };
    parts.headers = headers_of(&request.headers());
    parts
}

/// Fields as a `HeaderMap`; names and values `http` rejects are skipped.
pub fn headers_of(fields: &Fields) -> HeaderMap {
    crate::headers::from_pairs(fields.entries())
}

/// A `HeaderMap` as new Fields. Headers the host forbids are left out.
fn fields_of(headers: &HeaderMap) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(name.as_str(), value.as_bytes());
    }
    fields
}

pub fn status_of(response: &IncomingResponse) -> StatusCode {
    StatusCode::from_u16(response.status()).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// Outcome of reading a whole request body.
pub enum BodyRead {
    Complete(Vec<u8>),
    TooLarge,
    Failed(String),
}

/// Reads the request body, stopping as soon as it passes `limit` bytes.
pub fn read_body(request: &IncomingRequest, limit: usize) -> BodyRead {
    let Ok(body) = request.consume() else {
        return BodyRead::Failed("body already consumed".into());
    };
    let Ok(stream) = body.stream() else {
        return BodyRead::Failed("body stream unavailable".into());
    };
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(CHUNK) {
            Ok(chunk) => {
                if bytes.len() + chunk.len() > limit {
                    return BodyRead::TooLarge;
                }
                bytes.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return BodyRead::Complete(bytes),
            Err(StreamError::LastOperationFailed(e)) => return BodyRead::Failed(e.to_debug_string()),
        }
    }
}

/// Why the upstream request body could not be sent.
pub enum SendError {
    TooLarge { limit: usize },
    Failed(String),
}

/// An outgoing body being written; [`UpstreamBody::finish`] completes it.
/// Implements `Write` for the caller's bytes.
pub struct UpstreamBody {
    // Declared first so it is dropped before its parent body.
    stream: OutputStream,
    body: OutgoingBody,
}

impl Write for UpstreamBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Write::write(&mut self.stream, buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Write::flush(&mut self.stream)
    }
}

impl UpstreamBody {
    pub fn finish(self) -> Result<(), SendError> {
        let UpstreamBody { stream, body } = self;
        drop(stream);
        OutgoingBody::finish(body, None)
            .map_err(|e| SendError::Failed(failure_of(&e, "finishing the body").to_string()))
    }
}

/// Creates an outgoing request and hands it to the host (before any body byte).
pub fn start_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    timeouts: Timeouts,
) -> Result<(FutureIncomingResponse, UpstreamBody), UpstreamFailure> {
    let invalid = |what: &str| UpstreamFailure::new(FailureKind::Other, format!("invalid upstream {what}"));
    let request = OutgoingRequest::new(fields_of(headers));
    let method = match method.as_str() {
        "GET" => WasiMethod::Get,
        "POST" => WasiMethod::Post,
        other => WasiMethod::Other(other.to_owned()),
    };
    request.set_method(&method).map_err(|()| invalid("method"))?;
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        _ => Scheme::Https,
    };
    request.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
    let authority = uri.authority().map(|a| a.as_str());
    request.set_authority(authority).map_err(|()| invalid("authority"))?;
    let path = uri.path_and_query().map(|p| p.as_str());
    request.set_path_with_query(path).map_err(|()| invalid("path"))?;
    let body = request.body().map_err(|()| invalid("body"))?;
    let stream = body.write().map_err(|()| invalid("body stream"))?;
    let future = outgoing_handler::handle(request, Some(options(timeouts)))
        .map_err(|code| failure_of(&code, "request refused by the host"))?;
    Ok((future, UpstreamBody { stream, body }))
}

fn options(t: Timeouts) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = |d: std::time::Duration| Some(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let _ = options.set_connect_timeout(nanos(t.connect));
    let _ = options.set_first_byte_timeout(nanos(t.first_byte));
    let _ = options.set_between_bytes_timeout(nanos(t.between_bytes));
    options
}

/// Writes the upstream body: the planned bytes, or the client's body streamed
/// (at most `limit` bytes, each chunk shown to `tap`), then finishes it.
pub fn send_body(
    body: &ForwardBody,
    request: &IncomingRequest,
    upstream: UpstreamBody,
    mut tap: impl FnMut(&[u8]),
) -> Result<(), SendError> {
    let mut upstream = upstream;
    let failed = |e: std::io::Error| SendError::Failed(e.to_string());
    match body {
        ForwardBody::Bytes(bytes) => upstream.stream.write_all(bytes).map_err(failed)?,
        ForwardBody::StreamClient { limit } => {
            let client = request.consume().map_err(|()| SendError::Failed("client body consumed".into()))?;
            let input = client.stream().map_err(|()| SendError::Failed("client body stream".into()))?;
            let mut sent = 0usize;
            loop {
                let chunk = match input.blocking_read(CHUNK) {
                    Ok(chunk) => chunk,
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(SendError::Failed(e.to_debug_string()));
                    }
                };
                sent += chunk.len();
                tap(&chunk);
                if sent > *limit {
                    return Err(SendError::TooLarge { limit: *limit });
                }
                upstream.stream.write_all(&chunk).map_err(failed)?;
            }
        }
    }
    Write::flush(&mut upstream.stream).map_err(failed)?;
    upstream.finish()
}

/// Waits for the upstream's response head.
pub fn wait_response(future: FutureIncomingResponse) -> Result<IncomingResponse, UpstreamFailure> {
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(failure_of(&code, "no response")),
        Some(Err(())) | None => Err(UpstreamFailure::new(FailureKind::Other, "response already taken")),
    }
}

/// The core's failure kind for a wasi:http error code; the code's own name
/// stays in the detail, for the host log.
fn failure_of(code: &ErrorCode, context: &str) -> UpstreamFailure {
    let kind = match code {
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => FailureKind::Dns,
        ErrorCode::ConnectionRefused
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable => FailureKind::Refused,
        ErrorCode::TlsProtocolError | ErrorCode::TlsCertificateError | ErrorCode::TlsAlertReceived(_) => {
            FailureKind::Tls
        }
        ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::HttpResponseIncomplete => FailureKind::Closed,
        ErrorCode::DnsTimeout | ErrorCode::ConnectionTimeout => FailureKind::ConnectTimeout,
        ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => FailureKind::ResponseTimeout,
        ErrorCode::HttpRequestDenied => FailureKind::Denied,
        ErrorCode::HttpProtocolError
        | ErrorCode::HttpResponseHeaderSectionSize(_)
        | ErrorCode::HttpResponseHeaderSize(_)
        | ErrorCode::HttpResponseBodySize(_)
        | ErrorCode::HttpResponseTrailerSectionSize(_)
        | ErrorCode::HttpResponseTrailerSize(_)
        | ErrorCode::HttpResponseTransferCoding(_)
        | ErrorCode::HttpResponseContentCoding(_)
        | ErrorCode::HttpUpgradeFailed => FailureKind::Protocol,
        _ => FailureKind::Other,
    };
    UpstreamFailure::new(kind, format!("{context}: {code}"))
}

/// Copies every chunk of the upstream body to `sink` as it arrives.
pub fn pump(
    response: &IncomingResponse,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(), String> {
    let body = response.consume().map_err(|()| "response body consumed".to_owned())?;
    let stream = body.stream().map_err(|()| "response body stream".to_owned())?;
    loop {
        match stream.blocking_read(CHUNK) {
            Ok(chunk) => sink(&chunk).map_err(|e| format!("client write failed: {e}"))?,
            Err(StreamError::Closed) => return Ok(()),
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
}

/// Sends the response head; returns the body and its stream for writing.
pub fn start_response(
    out: ResponseOutparam,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<(OutgoingBody, OutputStream)> {
    let response = OutgoingResponse::new(fields_of(headers));
    let _ = response.set_status_code(status.as_u16());
    let body = response.body().ok()?;
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().ok()?;
    Some((body, stream))
}

/// Sends a complete answer.
pub fn send_reply(out: ResponseOutparam, reply: Reply) {
    let (parts, body) = reply.into_parts();
    let Some((outgoing, mut stream)) = start_response(out, parts.status, &parts.headers) else {
        return;
    };
    if stream.write_all(&body).and_then(|()| Write::flush(&mut stream)).is_ok() {
        drop(stream);
        let _ = OutgoingBody::finish(outgoing, None);
    }
}
