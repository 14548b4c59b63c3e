//! Header rules shared by both modes: hop-by-hop filtering, CORS, the headers
//! the proxy reads, and headers as text for a JavaScript host.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), plus
/// any header the `Connection` header itself names.
pub fn is_hop_by_hop(name: &HeaderName, connection_listed: &[String]) -> bool {
    let n = name.as_str();
    matches!(n, "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade")
        || n.starts_with("proxy-")
        || connection_listed.iter().any(|listed| listed == n)
}

/// The header names listed in `Connection`, lowercased.
pub fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A copy of `headers` without hop-by-hop headers and without those `drop` rejects.
pub fn filtered(headers: &HeaderMap, drop: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let listed = connection_listed(headers);
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name, &listed) && !drop(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// `true` for request metadata a host runtime or the edge in front of it adds
/// (not the client): Spin's `spin-*` (its full URL, query secrets included, and
/// the client's address), Cloudflare's `cf-*` (`cf-connecting-ip`, `cf-ray`, …;
/// the client's `cf-aig-*` gateway controls are not metadata), and the usual
/// proxy headers that carry the client's address. Never forwarded upstream,
/// never reported.
pub fn is_host_metadata(name: &HeaderName) -> bool {
    let n = name.as_str();
    n.starts_with("spin-")
        || (n.starts_with("cf-") && !n.starts_with("cf-aig-"))
        || matches!(
            n,
            "cdn-loop"
                | "x-real-ip"
                | "x-forwarded-for"
                | "x-forwarded-proto"
                | "x-forwarded-host"
                | "true-client-ip"
                | "forwarded"
        )
}

/// The headers a client's own browser-side CORS check needs on every answer.
pub const CORS_ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, anthropic-version, \
anthropic-beta, anthropic-dangerous-direct-browser-access, x-apex-ai-proxy-provider, \
x-apex-ai-proxy-type, x-apex-ai-proxy-mapping, x-apex-ai-proxy-fallback, x-stainless-arch, x-stainless-lang, \
x-stainless-os, x-stainless-package-version, x-stainless-retry-count, x-stainless-runtime, \
x-stainless-runtime-version, x-stainless-timeout, x-stainless-async, x-stainless-helper-method, \
openai-organization, openai-project, cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key, \
cf-aig-metadata, cf-aig-request-timeout, cf-aig-max-attempts, cf-aig-retry-delay, \
cf-aig-backoff, cf-aig-collect-log, cf-aig-event-id";

/// Sets the CORS headers (docs/design.md, "Local answers and errors"), replacing any the upstream sent.
pub fn apply_cors(headers: &mut HeaderMap) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(CORS_ALLOW_HEADERS));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("*"));
}

/// A `HeaderMap` from a host's name/value pairs; pairs `http` rejects are skipped.
pub fn from_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (N, V)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) =
            (HeaderName::from_bytes(name.as_ref()), HeaderValue::from_bytes(value.as_ref()))
        {
            map.append(n, v);
        }
    }
    map
}

/// The header that selects passthrough mode.
pub const PROVIDER_HEADER: &str = "x-apex-ai-proxy-provider";
/// The informational dialect header of passthrough mode.
pub const TYPE_HEADER: &str = "x-apex-ai-proxy-type";
/// The models a gateway request tries after its own (docs/gateway.md, "Fallbacks").
pub const FALLBACK_HEADER: &str = "x-apex-ai-proxy-fallback";
/// On an answer of a request with fallbacks: how many models were tried,
/// and which one answered (`model#provider`).
pub const ATTEMPTS_HEADER: &str = "x-apex-ai-proxy-attempts";
pub const MODEL_HEADER: &str = "x-apex-ai-proxy-model";

/// Headers as one string, `name\nvalue\n…` (neither holds a newline), the
/// way they cross into a JavaScript host; a value that is not UTF-8 cannot be
/// sent from JavaScript and is left out.
pub fn to_text(map: &HeaderMap) -> String {
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

/// Headers from their text ([`to_text`]).
pub fn from_text(text: &str) -> HeaderMap {
    let mut lines = text.split('\n');
    from_pairs(std::iter::from_fn(|| Some((lines.next()?, lines.next()?))))
}

/// `true` when `content-type` is `text/event-stream`.
pub fn is_event_stream(headers: &HeaderMap) -> bool {
    text(headers, "content-type").is_some_and(|t| t.trim_start().starts_with("text/event-stream"))
}

/// The first value of `name` as text, if it is valid text.
pub fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_listed_are_dropped() {
        let h = map(&[
            ("connection", "keep-alive, X-Custom"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "close"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-custom", "1"),
            ("authorization", "Bearer k"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        let out = filtered(&h, |_| false);
        let names: Vec<_> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["authorization", "accept"]);
        assert_eq!(out.get_all("accept").iter().count(), 2);
    }

    #[test]
    fn drop_predicate_applies() {
        let h = map(&[("host", "x"), ("content-length", "3"), ("x-keep", "1")]);
        let out = filtered(&h, |n| n == header::HOST || n == header::CONTENT_LENGTH);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn host_metadata_is_told_apart_from_client_headers() {
        for host in [
            "spin-full-url",
            "spin-client-addr",
            "cf-connecting-ip",
            "cf-ray",
            "cf-ipcountry",
            "cf-worker",
            "cdn-loop",
            "x-real-ip",
            "x-forwarded-for",
            "forwarded",
        ] {
            assert!(is_host_metadata(&HeaderName::from_static(host)), "{host}");
        }
        for client in [
            "cf-aig-cache-ttl",
            "cf-aig-authorization",
            "authorization",
            "x-spin",
            "spinach",
            "x-apex-ai-proxy-provider",
        ] {
            assert!(!is_host_metadata(&HeaderName::from_static(client)), "{client}");
        }
    }

    #[test]
    fn text_round_trip() {
        let h = map(&[("a", "1"), ("b", "x y"), ("a", "2")]);
        assert_eq!(to_text(&h), "a\n1\na\n2\nb\nx y\n");
        assert_eq!(from_text(&to_text(&h)), h);
    }

    #[test]
    fn cors_covers_the_sdk_headers() {
        let mut h = map(&[("access-control-allow-origin", "https://evil.example")]);
        apply_cors(&mut h);
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-max-age"], "86400");
        let allowed = h["access-control-allow-headers"].to_str().unwrap();
        for needed in [
            "authorization",
            "content-type",
            "x-api-key",
            "anthropic-version",
            "anthropic-beta",
            "x-apex-ai-proxy-provider",
            "x-apex-ai-proxy-type",
            "x-apex-ai-proxy-mapping",
        ] {
            assert!(allowed.split(", ").any(|a| a == needed), "{needed}");
        }
    }
}
