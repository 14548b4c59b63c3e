//! What never leaves the proxy in a report: credentials in headers and URLs.

use http::HeaderMap;
use serde_json::{Map, Value};

/// Header names whose values are replaced (compared case-insensitively).
pub const SECRET_HEADERS: [&str; 8] = [
    "authorization",
    "x-api-key",
    "cf-aig-authorization",
    "api-key",
    "x-goog-api-key",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Query parameters whose values are replaced (`?key=` is how Google AI Studio
/// takes its API key).
const SECRET_PARAMS: [&str; 6] = ["key", "api_key", "api-key", "apikey", "token", "access_token"];

pub const REDACTED: &str = "[REDACTED]";

/// Headers as a JSON object (repeated names joined with `, `), secrets redacted.
pub fn headers(map: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in map.keys() {
        let value = if SECRET_HEADERS.iter().any(|s| name.as_str().eq_ignore_ascii_case(s)) {
            REDACTED.to_owned()
        } else {
            let values: Vec<String> = map
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            values.join(", ")
        };
        out.insert(name.as_str().to_owned(), Value::String(value));
    }
    Value::Object(out)
}

/// A URL or path with the values of credential query parameters redacted.
pub fn url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn every_secret_header_in_any_case() {
        let mut map = HeaderMap::new();
        for (i, name) in SECRET_HEADERS.iter().enumerate() {
            let cased: String = name
                .chars()
                .enumerate()
                .map(|(j, c)| if (i + j) % 2 == 0 { c.to_ascii_uppercase() } else { c })
                .collect();
            let name = http::HeaderName::from_bytes(cased.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_static("s3cret"));
        }
        map.append("content-type", HeaderValue::from_static("application/json"));
        let out = headers(&map);
        assert!(!out.to_string().contains("s3cret"), "{out}");
        assert_eq!(out["authorization"], REDACTED);
        assert_eq!(out["set-cookie"], REDACTED);
        assert_eq!(out["content-type"], "application/json");
    }

    #[test]
    fn credential_params() {
        assert_eq!(url("/v1/x?alt=sse&key=AIza123&Token=t"), "/v1/x?alt=sse&key=[REDACTED]&Token=[REDACTED]");
        assert_eq!(url("/v1/x"), "/v1/x");
        assert_eq!(url("/v1/x?monkey=1"), "/v1/x?monkey=1");
    }
}
