//! Gateway mode (SPEC §3): authenticate the client with the gateway token, route
//! `<model>#<provider>` to its Cloudflare AI Gateway URL.

mod auth;
pub mod providers;

use http::Method;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use crate::config::Config;
use crate::errors::{Dialect, ProxyError};
use crate::json_body::JsonBody;
use crate::mapping::{MAPPING_HEADER, ModelMapping};
use crate::response::{Exchange, Shape};
use crate::routing::{
    Forward, ForwardBody, Mode, NeedBody, Pending as RoutingPending, RouteInfo, Step, set_length,
    upstream_uri,
};
use crate::translate::request::{RequestOptions, to_openai};

pub use auth::authorize;
use providers::{ModelRef, Provider, anthropic_messages_url, chat_route, gateway_base};

/// A gateway request that passed the head checks and waits for its body.
#[derive(Debug)]
pub struct Pending {
    dialect: Dialect,
    endpoint_type: String,
    mapping: ModelMapping,
    /// The client's `cf-aig-*` and `anthropic-*` headers worth forwarding.
    forwarded: HeaderMap,
}

/// Head checks, in order: route (404), method (405), token configured (500),
/// token presented (401), gateway ids configured (500).
pub fn plan(cfg: &Config, head: &Parts) -> Result<Step, ProxyError> {
    let path = head.uri.path().trim_end_matches('/');
    let dialect = if path.ends_with("/chat/completions") {
        Dialect::OpenAi
    } else if path.ends_with("/messages") {
        Dialect::Anthropic
    } else {
        return Err(ProxyError::NotFound(format!(
            "no route for {path}: gateway mode serves POST .../chat/completions and POST .../messages; \
             for other paths send X-APEX-AI-PROXY-PROVIDER (passthrough)"
        )));
    };
    if head.method != Method::POST {
        return Err(ProxyError::MethodNotAllowed(format!(
            "{} is not allowed on {path}; use POST",
            head.method
        )));
    }
    authorize(cfg, &head.headers)?;
    gateway_base(cfg)?;
    let mapping =
        crate::headers::text(&head.headers, MAPPING_HEADER).map(ModelMapping::parse).unwrap_or_default();
    let endpoint_type = crate::routing::endpoint_type(path);
    let pending = Pending { dialect, endpoint_type, mapping, forwarded: forwardable(&head.headers) };
    Ok(NeedBody::step(cfg, dialect, RoutingPending::Gateway(pending)))
}

impl Pending {
    /// Routes the request by its body's model.
    pub fn with_body(self, cfg: &Config, body: Vec<u8>) -> Result<Forward, ProxyError> {
        let body = JsonBody::parse(body).map_err(|(e, _)| ProxyError::BadRequest(e.message()))?;
        let client_model = body
            .model()
            .ok_or_else(|| {
                ProxyError::BadRequest(format!(
                    "request body needs a string \"model\" written <model>#<provider>; supported providers: {}",
                    Provider::list()
                ))
            })?
            .to_owned();
        let routed = self.mapping.apply(&client_model).unwrap_or_else(|| client_model.clone());
        let model_ref = ModelRef::parse(&routed)?;
        let base = gateway_base(cfg)?;
        let stream = body.stream();
        let native_anthropic =
            self.dialect == Dialect::Anthropic && model_ref.provider == Provider::Anthropic;
        let (url, upstream_model, bytes, shape) = match self.dialect {
            Dialect::Anthropic if native_anthropic => {
                let url = anthropic_messages_url(&base);
                (url, model_ref.model.clone(), body.with_model(&model_ref.model), Shape::Gateway)
            }
            Dialect::Anthropic => {
                let route = chat_route(cfg, &base, &model_ref)?;
                let request = body.to_value().map_err(|e| ProxyError::BadRequest(e.message()))?;
                let options = RequestOptions { include_usage: model_ref.provider != Provider::Mistral };
                let translated = to_openai(&request, &route.body_model, options)?;
                let shape = Shape::AnthropicFromOpenAi { model: client_model.clone() };
                (route.url, route.body_model, translated.to_string().into_bytes(), shape)
            }
            Dialect::OpenAi => {
                let route = chat_route(cfg, &base, &model_ref)?;
                let bytes = chat_body(body, &route.body_model, model_ref.provider)?;
                (route.url, route.body_model, bytes, Shape::Gateway)
            }
        };
        let uri = upstream_uri(&url, |m| ProxyError::NotConfigured(format!("GATEWAY_BASE_URL: {m}")))?;
        let mut headers = upstream_headers(cfg, &self.forwarded, native_anthropic);
        set_length(&mut headers, bytes.len() as u64);
        let info = RouteInfo {
            mode: Mode::Gateway,
            provider: model_ref.provider.name().to_owned(),
            model: client_model,
            upstream_model,
            endpoint_type: self.endpoint_type.clone(),
            stream,
            upstream_host: uri.authority().map(|a| a.to_string()).unwrap_or_default(),
        };
        Ok(Forward {
            method: Method::POST,
            uri,
            headers,
            body: ForwardBody::Bytes(bytes),
            timeouts: cfg.upstream_timeouts,
            exchange: Exchange { dialect: self.dialect, shape, info },
        })
    }
}

/// The chat body with its model set; for Mistral without
/// `stream_options.include_usage`, which Mistral rejects.
fn chat_body(body: JsonBody, model: &str, provider: Provider) -> Result<Vec<u8>, ProxyError> {
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
fn forwardable(client: &HeaderMap) -> HeaderMap {
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
fn upstream_headers(cfg: &Config, forwarded: &HeaderMap, native_anthropic: bool) -> HeaderMap {
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

#[cfg(test)]
mod tests;
