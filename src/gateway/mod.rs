//! Gateway mode (docs/gateway.md): authenticate the client with the gateway
//! token, route `<model>#<provider>` to its Cloudflare AI Gateway URL, and
//! speak the client's dialect to any provider.

mod auth;
mod endpoint;
pub mod fallback;
pub mod local;
mod upstream;

use http::Method;
use http::header::HeaderMap;
use http::request::Parts;

use crate::config::Config;
use crate::errors::{ProxyError, Shape};
use crate::json::body::JsonBody;
use crate::mapping::{MAPPING_HEADER, ModelMapping};
use crate::plan::{
    Forward, Mode, Outgoing, Reading, Reply, RouteInfo, Upload, set_length, upstream_uri, with_route,
};
use crate::providers::{ChatPath, ModelRef, Provider};
use crate::translate::Target;

pub use auth::authorize;
pub use endpoint::{Endpoint, endpoint_type};
pub use fallback::Chain;
use upstream::{chat_body, forwardable, upstream_headers};

/// A gateway request that passed the head checks and waits for its body.
#[derive(Debug)]
pub struct Pending {
    endpoint: Endpoint,
    mapping: ModelMapping,
    /// The client's `cf-aig-*` and `anthropic-*` headers worth forwarding.
    forwarded: HeaderMap,
    /// `X-APEX-AI-PROXY-FALLBACK`, as sent.
    fallback: Option<String>,
    /// The request path (a dialect may carry the model in it), and its query.
    path: String,
    query: Option<String>,
}

/// What a gateway request's head decided.
#[derive(Debug)]
pub enum Head {
    /// Answered without a body (the models list).
    Answer(Reply),
    /// Read the body, then [`Pending::with_body`].
    Body(Pending, Shape),
}

/// What a gateway request turned into once its body was read.
#[derive(Debug)]
pub enum Routed {
    /// The first attempt, and the chain of the next ones when there is one.
    Forward(Box<Forward>, Option<Box<Chain>>),
    /// Answered by the proxy (a `count_tokens` estimate).
    Answer(Reply),
}

/// Head checks, in order: route (404), method (405), token configured (421,
/// naming every missing setting), token presented (401), the rest of the
/// gateway settings (421, every problem at once).
pub fn plan(cfg: &Config, head: &Parts) -> Result<Head, ProxyError> {
    let endpoint = Endpoint::from_target(head.uri.path(), head.uri.query())?;
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
            "gateway mode is not configured: {}. Set them (docs/configuration.md), or use passthrough with \
             the X-APEX-AI-PROXY-PROVIDER header",
            problems.join("; ")
        ))
    };
    if cfg.gateway_token.is_none() {
        return Err(not_configured()); // nobody can authenticate: say everything
    }
    authorize(cfg, &head.headers, head.uri.query())?;
    if let Endpoint::Models { id } = &endpoint {
        return Ok(Head::Answer(local::models(cfg, head, id.as_deref())));
    }
    if !problems.is_empty() {
        return Err(not_configured());
    }
    let mapping =
        crate::headers::text(&head.headers, MAPPING_HEADER).map(ModelMapping::parse).unwrap_or_default();
    let shape = endpoint.shape(&head.headers);
    let fallback = crate::headers::text(&head.headers, fallback::HEADER).map(str::to_owned);
    let (path, query) = (head.uri.path().to_owned(), head.uri.query().map(str::to_owned));
    let forwarded = forwardable(&head.headers);
    Ok(Head::Body(Pending { endpoint, mapping, forwarded, fallback, path, query }, shape))
}

impl Pending {
    /// Routes the request by its body's model: the first attempt, and the
    /// chain of the others when fallbacks are asked for (docs/gateway.md,
    /// "Fallbacks").
    pub fn with_body(self, cfg: &Config, body: Vec<u8>) -> Result<Routed, ProxyError> {
        let body = JsonBody::parse(body).map_err(|(e, _)| ProxyError::BadRequest(e.message()))?;
        let in_path = match &self.endpoint {
            Endpoint::Generate(dialect) | Endpoint::Count(dialect) => dialect.model_in_path(&self.path),
            Endpoint::Chat | Endpoint::Models { .. } => None,
        };
        let client_model = in_path.or_else(|| body.model().map(str::to_owned)).ok_or_else(|| {
            ProxyError::BadRequest(format!(
                "request body needs a string \"model\" written <model>#<provider>; supported providers: {}",
                Provider::list()
            ))
        })?;
        let routed = self.mapping.apply(&client_model).unwrap_or_else(|| client_model.clone());
        let model_ref = ModelRef::parse(&routed)?;
        let fallbacks = fallback::chain(cfg, &self.fallback, &routed)?;
        let first = self.attempt(cfg, &body, &client_model, &model_ref)?;
        match first {
            Routed::Forward(forward, _) if !fallbacks.is_empty() => {
                let chain = Chain::new(self, body, client_model, routed, fallbacks);
                Ok(Routed::Forward(forward, Some(Box::new(chain))))
            }
            routed => Ok(routed),
        }
    }

    /// One attempt: the request for `model_ref`, in its provider's dialect.
    fn attempt(
        &self,
        cfg: &Config,
        body: &JsonBody,
        client_model: &str,
        model_ref: &ModelRef,
    ) -> Result<Routed, ProxyError> {
        let base = gateway_base(cfg)?;
        let mut info = RouteInfo {
            mode: Mode::Gateway,
            provider: model_ref.provider.name.to_owned(),
            model: client_model.to_owned(),
            upstream_model: model_ref.model.clone(),
            endpoint_type: self.endpoint.name().to_owned(),
            stream: body.stream(),
            ..RouteInfo::default()
        };
        let provider = model_ref.provider;
        // The provider's own API, when the endpoint is its dialect.
        let native = match &self.endpoint {
            Endpoint::Generate(dialect) | Endpoint::Count(dialect) => {
                let native = dialect.native();
                provider.native.filter(|_| native.provider == provider.name).map(|root| (root, native))
            }
            Endpoint::Chat | Endpoint::Models { .. } => None,
        };
        let (url, bytes, reading, shape) = match (&self.endpoint, native) {
            (Endpoint::Generate(dialect), Some((root, _))) => {
                let path = dialect.native_path(&self.path, self.query.as_deref(), &model_ref.model, false);
                (
                    format!("{base}{root}{path}"),
                    body.with_model(&model_ref.model),
                    Reading::Gateway,
                    dialect.errors(),
                )
            }
            (Endpoint::Count(dialect), Some((root, native))) if native.count.is_some() => {
                let path = dialect.native_path(&self.path, self.query.as_deref(), &model_ref.model, true);
                (
                    format!("{base}{root}{path}"),
                    body.with_model(&model_ref.model),
                    Reading::Gateway,
                    dialect.errors(),
                )
            }
            (Endpoint::Count(dialect), _) => {
                let tokens = dialect.estimate_tokens(&body.object())?;
                let reply = local::token_estimate(dialect.count_answer(tokens));
                info.upstream_model.clear();
                return Ok(Routed::Answer(with_route(reply, info)));
            }
            (Endpoint::Generate(dialect), None) => {
                let url = chat_url(cfg, &base, model_ref)?;
                let target = Target { model: provider.body_model(&model_ref.model), client_model, provider };
                let (chat, answer) = dialect.to_chat(&body.object(), &target)?;
                info.unavailable_tools = chat.unavailable_tools.join(",");
                // The translated body is about as long as the client's: sized once, not regrown.
                let room = body.as_bytes().len() + body.as_bytes().len() / 16;
                let bytes = crate::json::to_bytes_within(&chat.for_provider(&provider.quirks), room);
                info.upstream_model = target.model;
                (url, bytes, Reading::Translated(answer), dialect.errors())
            }
            (Endpoint::Chat, _) => {
                let url = chat_url(cfg, &base, model_ref)?;
                let body_model = provider.body_model(&model_ref.model);
                let bytes = chat_body(body, &body_model, provider)?;
                info.upstream_model = body_model;
                (url, bytes, Reading::Gateway, Endpoint::Chat.shape(&HeaderMap::new()))
            }
            (Endpoint::Models { .. }, _) => {
                return Err(ProxyError::MethodNotAllowed("the models list takes no body; use GET".into()));
            }
        };
        let uri = upstream_uri(&url, |m| ProxyError::NotConfigured(format!("GATEWAY_BASE_URL: {m}")))?;
        info.upstream_host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let native_headers = if native.is_some() { provider.native_headers } else { &[] };
        let mut headers = upstream_headers(cfg, &self.forwarded, native_headers);
        set_length(&mut headers, bytes.len() as u64);
        Ok(Routed::Forward(
            Box::new(Forward {
                request: Outgoing { method: Method::POST, uri, headers, body: Upload::Bytes(bytes) },
                reading,
                info,
                shape,
                neutral_failures: false,
                timeouts: cfg.upstream_timeouts,
            }),
            None,
        ))
    }
}

/// `{GATEWAY_BASE_URL}/{ACCOUNT_ID}/{GATEWAY_ID}`, or a configuration error.
pub fn gateway_base(cfg: &Config) -> Result<String, ProxyError> {
    match (&cfg.account_id, &cfg.gateway_id) {
        (Some(account), Some(gateway)) => {
            let base = cfg
                .gateway_base_url
                .as_ref()
                .map_err(|problem| ProxyError::NotConfigured(problem.clone()))?;
            Ok(format!("{base}/{account}/{gateway}"))
        }
        _ => Err(ProxyError::NotConfigured(
            "gateway mode needs ACCOUNT_ID and GATEWAY_ID (your Cloudflare account id and AI Gateway id); \
             set both, or use passthrough with the X-APEX-AI-PROXY-PROVIDER header"
                .into(),
        )),
    }
}

/// The chat-completions URL of a provider (its row in the provider table).
pub fn chat_url(cfg: &Config, base: &str, model_ref: &ModelRef) -> Result<String, ProxyError> {
    Ok(match model_ref.provider.chat {
        ChatPath::CompatPrefixed | ChatPath::Compat => format!("{base}/compat/chat/completions"),
        ChatPath::Own(path) => format!("{base}{path}"),
        ChatPath::Azure => {
            let resource = cfg.azure_resource.as_deref().ok_or_else(|| {
                ProxyError::NotConfigured(
                    "#azure-openai needs AZURE_RESOURCE (your Azure OpenAI resource name)".into(),
                )
            })?;
            format!(
                "{base}/azure-openai/{}/{}/chat/completions?api-version={}",
                encode_segment(resource),
                encode_segment(&model_ref.model),
                encode_segment(&cfg.azure_api_version)
            )
        }
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a value can
/// stand as one path segment or query value.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
