//! Between the runtime's types and the core's `http` types. Headers cross the
//! wasm boundary as one string (`io::header_text`).

use apex_ai_proxy::response::{FailureKind, Reply, UpstreamFailure};
use http::header::HeaderMap;
use http::request::Parts;
use wasm_bindgen::JsValue;
use web_sys::{Request, Response};

use crate::io;

/// The request head as `http::request::Parts`.
pub fn head(req: &Request) -> worker::Result<Parts> {
    let url = req.url();
    // The target is what follows the authority: `https://host/path?query`.
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
    let request = http::Request::builder()
        .method(req.method().as_str())
        .uri(target)
        .body(())
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut parts = request.into_parts().0;
    parts.headers = header_map(&io::header_text(&req.headers()));
    Ok(parts)
}

/// Headers as the core's map, from their text. workerd hands header values
/// to the Worker as text, decoded as UTF-8 (bytes that are not become U+FFFD),
/// and encodes them back as UTF-8.
pub fn header_map(text: &str) -> HeaderMap {
    let mut lines = text.split('\n');
    let pairs = std::iter::from_fn(|| Some((lines.next()?, lines.next()?)));
    apex_ai_proxy::headers::from_pairs(pairs)
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

/// Headers as text for `io.js`; a value that is not UTF-8 cannot be sent
/// from a Worker and is left out.
pub fn header_text(map: &HeaderMap) -> String {
    let mut text = String::new();
    for (name, value) in map {
        if let Ok(value) = std::str::from_utf8(value.as_bytes()) {
            text.push_str(name.as_str());
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
    }
    text
}

/// A complete proxy answer.
pub fn response(reply: Reply) -> Response {
    let (parts, body) = reply.into_parts();
    let body = match body.is_empty() {
        true => JsValue::NULL,
        false => js_sys::Uint8Array::from(body.as_slice()).into(),
    };
    io::respond(parts.status.as_u16(), &header_text(&parts.headers), &body)
}

/// The core's failure kind for the runtime's words (workerd has no error
/// codes); the words themselves stay in the detail, for the log.
pub fn failure_of(text: &str) -> UpstreamFailure {
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
pub fn fetch_failure_of(text: &str, uri: &http::Uri) -> UpstreamFailure {
    let mut failure = failure_of(text);
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
