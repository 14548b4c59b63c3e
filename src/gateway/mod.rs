//! Gateway mode (SPEC §3): authenticate the client with the gateway token, route
//! `<model>#<provider>` to its Cloudflare AI Gateway URL.

mod auth;
mod endpoint;
pub mod local;
pub mod providers;
mod upstream;

use http::Method;
use http::header::HeaderMap;
use http::request::Parts;

use crate::config::Config;
use crate::errors::{Dialect, ProxyError};
use crate::failure::origin_of;
use crate::json_body::JsonBody;
use crate::mapping::{MAPPING_HEADER, ModelMapping};
use crate::response::{Exchange, Reply, Shape, with_route};
use crate::routing::{
    Forward, ForwardBody, Mode, NeedBody, Pending as RoutingPending, RouteInfo, Step, set_length,
    upstream_uri,
};
use crate::translate::anthropic::{count, request::RequestOptions, request::to_openai};
use crate::translate::responses::request::{ChatOptions, to_chat};

pub use auth::authorize;
pub use endpoint::Endpoint;
use providers::{ModelRef, Provider, chat_route, gateway_base};
use upstream::{chat_body, forwardable, upstream_headers};

/// A gateway request that passed the head checks and waits for its body.
#[derive(Debug)]
pub struct Pending {
    endpoint: Endpoint,
    mapping: ModelMapping,
    /// The client's `cf-aig-*` and `anthropic-*` headers worth forwarding.
    forwarded: HeaderMap,
}

/// What a gateway request turned into once its body was read.
#[derive(Debug)]
pub enum Routed {
    Forward(Box<Forward>),
    /// Answered by the proxy (a `count_tokens` estimate).
    Answer(Reply),
}

/// Head checks, in order: route (404), method (405), token configured (421,
/// naming every missing setting), token presented (401), the rest of the
/// gateway settings (421, every problem at once).
pub fn plan(cfg: &Config, head: &Parts) -> Result<Step, ProxyError> {
    let endpoint = Endpoint::from_path(head.uri.path())?;
    if head.method != endpoint.method() {
        return Err(ProxyError::MethodNotAllowed(format!(
            "{} is not allowed on {}; use {}",
            head.method,
            head.uri.path(),
            endpoint.method()
        )));
    }
    let problems = cfg.gateway_problems();
    let not_configured = || {
        ProxyError::NotConfigured(format!(
            "gateway mode is not configured: {}. Set them (README: Configuration), or use passthrough with \
             the X-APEX-AI-PROXY-PROVIDER header",
            problems.join("; ")
        ))
    };
    if cfg.gateway_token.is_none() {
        return Err(not_configured()); // nobody can authenticate: say everything
    }
    authorize(cfg, &head.headers)?;
    if let Endpoint::Models { id } = &endpoint {
        return Ok(Step::Respond(local::models(cfg, head, id.as_deref())));
    }
    if !problems.is_empty() {
        return Err(not_configured());
    }
    let mapping =
        crate::headers::text(&head.headers, MAPPING_HEADER).map(ModelMapping::parse).unwrap_or_default();
    let dialect = endpoint.dialect(&head.headers);
    let pending = Pending { endpoint, mapping, forwarded: forwardable(&head.headers) };
    Ok(NeedBody::step(cfg, dialect, RoutingPending::Gateway(pending)))
}

impl Pending {
    /// Routes the request by its body's model.
    pub fn with_body(self, cfg: &Config, body: Vec<u8>) -> Result<Routed, ProxyError> {
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
        let native_anthropic = model_ref.provider == Provider::Anthropic && self.endpoint.is_anthropic();
        let mut info = RouteInfo {
            mode: Mode::Gateway,
            provider: model_ref.provider.name().to_owned(),
            model: client_model.clone(),
            upstream_model: model_ref.model.clone(),
            endpoint_type: self.endpoint.name().to_owned(),
            stream: body.stream(),
            upstream_host: String::new(),
        };
        let (url, bytes, shape) = match self.endpoint {
            Endpoint::Messages | Endpoint::CountTokens if native_anthropic => {
                let url = format!("{base}/anthropic/v1/{}", self.endpoint.anthropic_path());
                (url, body.with_model(&model_ref.model), Shape::Gateway)
            }
            Endpoint::CountTokens => {
                let request = body.to_value().map_err(|e| ProxyError::BadRequest(e.message()))?;
                let reply = local::token_estimate(count::estimate(&request)?);
                info.upstream_model.clear();
                return Ok(Routed::Answer(with_route(reply, info)));
            }
            Endpoint::Messages => {
                let route = chat_route(cfg, &base, &model_ref)?;
                let request = body.into_value().map_err(|e| ProxyError::BadRequest(e.message()))?;
                let options = RequestOptions { include_usage: model_ref.provider != Provider::Mistral };
                let translated = to_openai(&request, &route.body_model, options)?;
                drop(request); // a big body: two copies at most at any time
                info.upstream_model.clone_from(&route.body_model);
                let shape = Shape::AnthropicFromOpenAi { model: client_model };
                (route.url, crate::json_body::to_bytes(&translated), shape)
            }
            Endpoint::Chat => {
                let route = chat_route(cfg, &base, &model_ref)?;
                let bytes = chat_body(body, &route.body_model, model_ref.provider)?;
                info.upstream_model.clone_from(&route.body_model);
                (route.url, bytes, Shape::Gateway)
            }
            Endpoint::Responses if model_ref.provider == Provider::OpenAi => {
                (format!("{base}/openai/responses"), body.with_model(&model_ref.model), Shape::Gateway)
            }
            Endpoint::Responses => {
                let route = chat_route(cfg, &base, &model_ref)?;
                let request = body.into_value().map_err(|e| ProxyError::BadRequest(e.message()))?;
                let options = ChatOptions {
                    include_usage: model_ref.provider != Provider::Mistral,
                    reasoning_effort: model_ref.provider.takes_reasoning_effort(),
                };
                let (translated, context) = to_chat(&request, &route.body_model, &client_model, options)?;
                drop(request);
                info.upstream_model.clone_from(&route.body_model);
                let shape = Shape::ResponsesFromChat(Box::new(context));
                (route.url, crate::json_body::to_bytes(&translated), shape)
            }
            Endpoint::Models { .. } => {
                return Err(ProxyError::MethodNotAllowed("the models list takes no body; use GET".into()));
            }
        };
        let uri = upstream_uri(&url, |m| ProxyError::NotConfigured(format!("GATEWAY_BASE_URL: {m}")))?;
        info.upstream_host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut headers = upstream_headers(cfg, &self.forwarded, native_anthropic);
        set_length(&mut headers, bytes.len() as u64);
        let dialect = if self.endpoint.is_anthropic() { Dialect::Anthropic } else { Dialect::OpenAi };
        let origin = origin_of(&uri);
        Ok(Routed::Forward(Box::new(Forward {
            method: Method::POST,
            uri,
            headers,
            body: ForwardBody::Bytes(bytes),
            timeouts: cfg.upstream_timeouts,
            exchange: Exchange { dialect, shape, info, neutral_failures: false, origin },
        })))
    }
}

#[cfg(test)]
mod tests;
