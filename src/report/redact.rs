//! What never leaves the proxy in a report or a log line: credentials in
//! headers and URLs. Request and response bodies are reported as sent (they
//! are the prompts and answers the raw log exists for): docs/security.md,
//! "Redaction in reports".

use http::HeaderMap;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Header names whose values are replaced (compared case-insensitively): the
/// The usual list and the credential headers real APIs and platforms use.
pub const SECRET_HEADERS: [&str; 19] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cf-aig-authorization",
    "cookie",
    "set-cookie",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
    "ocp-apim-subscription-key",
    "x-functions-key",
    "www-authenticate",
    "proxy-authenticate",
    "x-csrf-token",
    "x-xsrf-token",
    "cf-access-client-secret",
    "cf-access-jwt-assertion",
];

/// Any header whose name contains one of these is a credential too
/// (`x-my-service-token`, `x-client-secret`, …).
const SECRET_HEADER_WORDS: [&str; 7] = ["auth", "token", "secret", "password", "api-key", "apikey", "cookie"];

/// Query parameters whose values are replaced, compared after percent-decoding
/// (`?%6Bey=` is `?key=`): API keys (`key` is Google AI Studio's), OAuth and
/// signed-URL credentials.
const SECRET_PARAMS: [&str; 21] = [
    "key",
    "api_key",
    "api-key",
    "apikey",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "auth",
    "code",
    "client_secret",
    "secret",
    "password",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "subscription-key",
];

/// Any parameter whose decoded name contains one of these is a credential too.
const SECRET_PARAM_WORDS: [&str; 5] = ["token", "secret", "password", "apikey", "api_key"];

pub const REDACTED: &str = "[REDACTED]";

/// `true` when a header's value must not be reported.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&name.as_str()) || SECRET_HEADER_WORDS.iter().any(|w| name.contains(w))
}

fn is_secret_param(raw_name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(&raw_name.replace('+', " "))
        .decode_utf8_lossy()
        .trim()
        .to_ascii_lowercase();
    SECRET_PARAMS.contains(&decoded.as_str()) || SECRET_PARAM_WORDS.iter().any(|w| decoded.contains(w))
}

/// Headers as a JSON object (repeated names joined with `, `), secrets redacted.
pub struct Headers<'a>(pub &'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let map = self.0;
        let mut out = serializer.serialize_map(Some(map.keys_len()))?;
        for name in map.keys() {
            if is_secret_header(name.as_str()) {
                out.serialize_entry(name.as_str(), REDACTED)?;
                continue;
            }
            let mut values = map.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()));
            let first = values.next().unwrap_or_default();
            match values.next() {
                None => out.serialize_entry(name.as_str(), &first)?,
                Some(second) => {
                    let mut joined = format!("{first}, {second}");
                    for more in values {
                        joined.push_str(", ");
                        joined.push_str(&more);
                    }
                    out.serialize_entry(name.as_str(), &joined)?;
                }
            }
        }
        out.end()
    }
}

/// A URL or path with the values of credential query parameters redacted.
pub fn url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
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
        let extra = ["x-my-service-token", "x-client-secret", "x-upstream-auth"];
        for (i, name) in SECRET_HEADERS.iter().chain(extra.iter()).enumerate() {
            let cased: String = name
                .chars()
                .enumerate()
                .map(|(j, c)| if (i + j) % 2 == 0 { c.to_ascii_uppercase() } else { c })
                .collect();
            let name = http::HeaderName::from_bytes(cased.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_static("s3cret"));
        }
        map.append("content-type", HeaderValue::from_static("application/json"));
        map.append("anthropic-version", HeaderValue::from_static("2023-06-01"));
        map.append("accept", HeaderValue::from_static("a"));
        map.append("accept", HeaderValue::from_static("b"));
        let out = serde_json::to_value(Headers(&map)).unwrap();
        assert!(!out.to_string().contains("s3cret"), "{out}");
        assert_eq!(out["accept"], "a, b", "repeated names joined");
        assert_eq!(out["authorization"], REDACTED);
        assert_eq!(out["set-cookie"], REDACTED);
        assert_eq!(out["content-type"], "application/json");
        assert_eq!(out["anthropic-version"], "2023-06-01");
    }

    #[test]
    fn credential_params_by_decoded_name() {
        assert_eq!(url("/v1/x?alt=sse&key=AIza123&Token=t"), "/v1/x?alt=sse&key=[REDACTED]&Token=[REDACTED]");
        assert_eq!(
            url("/v1/x?%6Bey=a&api%5Fkey=b&%74oken=c&k%65y=d"),
            "/v1/x?%6Bey=[REDACTED]&api%5Fkey=[REDACTED]&%74oken=[REDACTED]&k%65y=[REDACTED]"
        );
        for name in [
            "sig",
            "signature",
            "client_secret",
            "password",
            "refresh_token",
            "code",
            "X-Amz-Signature",
            "my_access_token",
        ] {
            assert_eq!(url(&format!("/x?{name}=v")), format!("/x?{name}={REDACTED}"), "{name}");
        }
        assert_eq!(url("/v1/x"), "/v1/x");
        assert_eq!(url("/v1/x?monkey=1&model=m&beta=true"), "/v1/x?monkey=1&model=m&beta=true");
    }
}
