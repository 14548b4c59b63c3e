//! Between workers-rs types and the core's `http` types.

use apex_ai_proxy::response::{FailureKind, Reply, UpstreamFailure};
use futures_util::StreamExt;
use http::header::HeaderMap;
use http::request::Parts;
use worker::{Headers, Method, Request, RequestInit, RequestRedirect, Response};

/// The request head as `http::request::Parts`.
pub fn head(req: &Request) -> worker::Result<Parts> {
    let url = req.url()?;
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let request = http::Request::builder()
        .method(req.method().as_ref())
        .uri(target)
        .body(())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut parts = request.into_parts().0;
    parts.headers = header_map(req.headers());
    Ok(parts)
}

/// Headers as the core's map. workerd hands header values to the Worker as
/// text, decoded as UTF-8 (bytes that are not become U+FFFD) and encodes them
/// back as UTF-8.
pub fn header_map(headers: &Headers) -> HeaderMap {
    apex_ai_proxy::headers::from_pairs(headers.entries())
}

/// The first request header whose value workerd could not decode as UTF-8
/// (it holds U+FFFD): its bytes are lost, so the request cannot be forwarded
/// as sent.
pub fn undecodable_header(headers: &HeaderMap) -> Option<String> {
    headers
        .iter()
        .find(|(_, value)| std::str::from_utf8(value.as_bytes()).is_ok_and(|v| v.contains('\u{FFFD}')))
        .map(|(name, _)| name.as_str().to_owned())
}

fn headers(map: &HeaderMap) -> Headers {
    let headers = Headers::new();
    for (name, value) in map {
        if let Ok(value) =
            value.to_str().map(str::to_owned).or_else(|_| String::from_utf8(value.as_bytes().to_vec()))
        {
            let _ = headers.append(name.as_str(), &value);
        }
    }
    headers
}

/// Why the client's body could not be read.
pub enum BodyError {
    TooLarge,
    /// The runtime's words, for the log.
    Failed(String),
}

/// Reads the client's body, stopping as soon as it passes `limit` bytes. A
/// body that breaks off is an error, never a shorter body.
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, BodyError> {
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new()); // no body
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Failed(e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An outgoing request; redirects are relayed, not followed.
pub fn outgoing(method: &http::Method, url: &str, map: &HeaderMap, body: &[u8]) -> worker::Result<Request> {
    let mut init = RequestInit::new();
    init.with_method(Method::from(method.to_string()))
        .with_headers(headers(map))
        .with_redirect(RequestRedirect::Manual);
    if !body.is_empty() {
        init.with_body(Some(js_sys::Uint8Array::from(body).into()));
    }
    Request::new_with_init(url, &init)
}

/// A head and a body as a Worker response.
pub fn with_head(response: Response, status: u16, map: &HeaderMap) -> Response {
    response.with_status(status).with_headers(headers(map))
}

/// A complete proxy answer.
pub fn response(reply: Reply) -> worker::Result<Response> {
    let (parts, body) = reply.into_parts();
    let response = if body.is_empty() { Response::empty()? } else { Response::from_bytes(body)? };
    Ok(with_head(response, parts.status.as_u16(), &parts.headers))
}

/// The core's failure kind for a fetch error, read from workerd's message (it
/// has no error codes); the message itself stays in the detail, for the log.
pub fn failure_of(error: &worker::Error) -> UpstreamFailure {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    let kind = if lower.contains("dns") || lower.contains("not resolve") || lower.contains("lookup") {
        FailureKind::Dns
    } else if lower.contains("refused") {
        FailureKind::Refused
    } else if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
        FailureKind::Tls
    } else if lower.contains("connection lost") || lower.contains("reset") || lower.contains("closed") {
        FailureKind::Closed
    } else {
        FailureKind::Other
    };
    UpstreamFailure::new(kind, text)
}

/// [`failure_of`] for a fetch to `uri`. workerd answers a failed TLS handshake
/// only with "internal error; reference = …", as it does a failed DNS lookup;
/// to an IP address (no lookup) over https it can only be the handshake, which
/// is what the WASI host reports for the same request.
pub fn fetch_failure_of(error: &worker::Error, uri: &http::Uri) -> UpstreamFailure {
    let mut failure = failure_of(error);
    let ip_literal =
        uri.host().is_some_and(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok());
    if failure.kind == FailureKind::Other
        && uri.scheme_str() == Some("https")
        && ip_literal
        && failure.detail.contains("internal error")
    {
        failure.kind = FailureKind::Tls;
    }
    failure
}
