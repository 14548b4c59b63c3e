//! The gateway token check: the client proves it may use the proxy's token.

use http::header::{self, HeaderMap};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::errors::ProxyError;

/// Accepts `Authorization: Bearer <token>`, `x-api-key: <token>`, and as the
/// Gemini clients send it `x-goog-api-key: <token>` or `?key=<token>`; any one
/// matching `GATEWAY_TOKEN` is enough. Each comparison is constant-time. Fails
/// closed: with no token configured every request is a configuration error.
pub fn authorize(cfg: &Config, headers: &HeaderMap, query: Option<&str>) -> Result<(), ProxyError> {
    let Some(token) = &cfg.gateway_token else {
        return Err(ProxyError::NotConfigured(
            "gateway mode needs GATEWAY_TOKEN (the token clients present and the proxy sends to \
             Cloudflare AI Gateway); set it, or use passthrough with the X-APEX-AI-PROXY-PROVIDER header"
                .into(),
        ));
    };
    let bearer = crate::headers::text(headers, header::AUTHORIZATION.as_str()).and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let api_key = crate::headers::text(headers, "x-api-key").map(str::trim);
    let goog = crate::headers::text(headers, "x-goog-api-key").map(str::trim);
    let key = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("key="));
    let key = key.and_then(|k| percent_encoding::percent_decode_str(k).decode_utf8().ok());
    let presented: Vec<&str> = [bearer, api_key, goog, key.as_deref()].into_iter().flatten().collect();
    if presented.is_empty() {
        return Err(ProxyError::Unauthorized(
            "missing gateway token: send it as Authorization: Bearer <token> or x-api-key: <token>".into(),
        ));
    }
    let expected = token.expose().as_bytes();
    let matched = presented.iter().fold(0u8, |any, p| any | p.as_bytes().ct_eq(expected).unwrap_u8());
    if matched == 1 { Ok(()) } else { Err(ProxyError::Unauthorized("invalid gateway token".into())) }
}
