//! Between the runtime's words and the core's `http` types. Headers cross the
//! wasm boundary as one string, `name\nvalue\n…` (`headerText` in `io.js`).

use apex_ai_proxy::ProxyError;
use apex_ai_proxy::response::{FailureKind, UpstreamFailure};
use http::header::HeaderMap;
use http::request::Parts;

/// The request head as `http::request::Parts`. workerd hands the Worker only
/// requests it parsed, so the method and target are valid; should one not
/// be, the head is `GET /` and [`head_error`] says so.
pub fn head(method: &str, url: &str, headers: &str) -> Parts {
    // The target is what follows the authority: `https://host/path?query`.
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
    let request = http::Request::builder().method(method).uri(target).body(());
    let mut parts = match request {
        Ok(request) => request.into_parts().0,
        Err(_) => {
            let mut parts = http::Request::new(()).into_parts().0;
            parts.extensions.insert(Unparsed);
            parts
        }
    };
    parts.headers = header_map(headers);
    parts
}

/// Marks a head whose method or target the core could not read.
#[derive(Clone, Copy)]
struct Unparsed;

/// Why a request cannot be forwarded as sent, if it cannot.
pub fn head_error(head: &Parts) -> Option<ProxyError> {
    if head.extensions.get::<Unparsed>().is_some() {
        return Some(ProxyError::BadRequest("the request line could not be read".into()));
    }
    undecodable_header(&head.headers).map(|name| {
        ProxyError::BadRequest(format!(
            "header {name} is not valid UTF-8; a Cloudflare Worker cannot forward it as sent"
        ))
    })
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
fn undecodable_header(headers: &HeaderMap) -> Option<String> {
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
