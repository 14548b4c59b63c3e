//! Conversions between `wasi:http` resources and the core's `http` types.
//! Pitfall handled here: `outgoing_handler::handle` is called before the
//! request body is written (writing a large body first hangs).

use http::header::HeaderMap;
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingRequest, IncomingResponse, Method as WasiMethod,
    OutgoingBody, OutgoingRequest, OutgoingResponse, RequestOptions, ResponseOutparam, Scheme,
};
use wasi::io::streams::OutputStream;

use super::wait::{Deadline, response_by, write_all};
use crate::config::Timeouts;
use crate::response::{FailureKind, Reply, UpstreamFailure};

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

/// An outgoing body being written; [`UpstreamBody::finish`] completes it. A
/// body dropped unfinished makes the host abandon the request.
pub struct UpstreamBody {
    // Declared first so it is dropped before its parent body.
    pub stream: OutputStream,
    body: OutgoingBody,
}

impl UpstreamBody {
    pub fn finish(self) -> Result<(), String> {
        let UpstreamBody { stream, body } = self;
        drop(stream);
        OutgoingBody::finish(body, None).map_err(|e| failure_of(&e, "finishing the body").to_string())
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

/// Waits for the upstream's response head by `deadline` (which covers the
/// connection, the TLS handshake and the wait for the head: the host's own
/// connect timeout does not cover TLS). At the deadline the request is dropped.
pub fn wait_response(
    future: FutureIncomingResponse,
    deadline: Deadline,
) -> Result<IncomingResponse, UpstreamFailure> {
    match response_by(&future, deadline) {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(failure_of(&code, "no response")),
        Some(Err(())) => Err(UpstreamFailure::new(FailureKind::Other, "response already taken")),
        None => Err(UpstreamFailure::new(FailureKind::ResponseTimeout, "no response head by the deadline")),
    }
}

/// The core's failure kind for a wasi:http error code; the code's own name
/// stays in the detail, for the host log at `LOG_LEVEL=debug`.
fn failure_of(code: &ErrorCode, context: &str) -> UpstreamFailure {
    UpstreamFailure::new(kind_of(code), format!("{context}: {code}"))
}

/// The core's failure kind for a wasi:http error code.
pub fn kind_of(code: &ErrorCode) -> FailureKind {
    match code {
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

/// Sends a complete answer; the client has until `deadline` to take it.
pub fn send_reply(out: ResponseOutparam, reply: Reply, deadline: Deadline) -> Result<(), String> {
    let (parts, body) = reply.into_parts();
    let (outgoing, stream) =
        start_response(out, parts.status, &parts.headers).ok_or("the response could not be started")?;
    write_all(&stream, &body, deadline, None).map_err(|stop| stop.to_string())?;
    drop(stream);
    OutgoingBody::finish(outgoing, None).map_err(|e| e.to_string())
}
