//! What a gateway request carries upstream besides the routed model: headers
//! and the provider-specific body tweak.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::providers::Provider;
use crate::config::Config;
use crate::errors::ProxyError;
use crate::json_body::JsonBody;

/// The chat body with its model set; for Mistral without
/// `stream_options.include_usage`, which Mistral rejects.
pub fn chat_body(body: JsonBody, model: &str, provider: Provider) -> Result<Vec<u8>, ProxyError> {
    if provider == Provider::Mistral {
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

/// The client's headers the gateway should see: `cf-aig-*` controls (never a
/// client-sent `cf-aig-authorization`) and the Anthropic version headers.
pub fn forwardable(client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in client {
        let n = name.as_str();
        let keep = (n.starts_with("cf-aig-") && n != "cf-aig-authorization")
            || n == "anthropic-version"
            || n == "anthropic-beta";
        if keep {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Headers of a gateway request. The client's `Authorization` / `x-api-key`
/// (the proxy's own token) are never among them.
pub fn upstream_headers(cfg: &Config, forwarded: &HeaderMap, native_anthropic: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Error bodies may be re-shaped: ask for them uncompressed.
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let bearer = cfg.gateway_token.as_ref().map(|t| HeaderValue::from_str(&format!("Bearer {}", t.expose())));
    if let Some(Ok(value)) = bearer {
        headers.insert(HeaderName::from_static("cf-aig-authorization"), value);
    }
    for (name, value) in forwarded {
        if native_anthropic || !name.as_str().starts_with("anthropic-") {
            headers.append(name.clone(), value.clone());
        }
    }
    headers
}
