//! What a gateway request carries upstream besides the routed model: headers,
//! and a client's chat body as the provider takes it.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::Config;
use crate::errors::ProxyError;
use crate::json::body::JsonBody;
use crate::providers::{PROVIDERS, Provider};

/// A client's chat body with its model set, without
/// `stream_options.include_usage` for a provider that rejects it (Mistral).
pub fn chat_body(body: &JsonBody, model: &str, provider: &Provider) -> Result<Vec<u8>, ProxyError> {
    if !provider.quirks.include_usage {
        let mut value = body.to_value().map_err(|e| ProxyError::BadRequest(e.message()))?;
        let options = value.get_mut("stream_options").and_then(|o| o.as_object_mut());
        if let Some(options) = options.filter(|o| o.contains_key("include_usage")) {
            options.remove("include_usage");
            if options.is_empty() {
                value.as_object_mut().map(|o| o.remove("stream_options"));
            }
            value["model"] = model.into();
            return Ok(value.to_string().into_bytes());
        }
    }
    Ok(body.with_model(model))
}

/// The client's headers the gateway may see: `cf-aig-*` controls (never a
/// client-sent `cf-aig-authorization`) and every provider's native API
/// headers (sent on that provider's native route only).
pub fn forwardable(client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    let native = |n: &str| PROVIDERS.iter().any(|p| p.native_headers.contains(&n));
    for (name, value) in client {
        let n = name.as_str();
        if (n.starts_with("cf-aig-") && n != "cf-aig-authorization") || native(n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Headers of a gateway request: the `cf-aig-*` controls and, on a native
/// route, `native` (the provider's own API headers). The client's
/// `Authorization` / `x-api-key` (the proxy's own token) are never among them.
pub fn upstream_headers(cfg: &Config, forwarded: &HeaderMap, native: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Error bodies may be re-shaped: ask for them uncompressed.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let bearer = cfg.gateway_token.as_ref().map(|t| HeaderValue::from_str(&format!("Bearer {}", t.expose())));
    if let Some(Ok(value)) = bearer {
        headers.insert(HeaderName::from_static("cf-aig-authorization"), value);
    }
    for (name, value) in forwarded {
        if name.as_str().starts_with("cf-aig-") || native.contains(&name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}
