//! The request pipeline (docs/architecture.md): from a request head to a
//! [`Plan`] the exchange carries out.

use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::json;

use crate::config::Config;
use crate::errors::{OPENAI, ProxyError, Shape};
use crate::headers::{PROVIDER_HEADER, TYPE_HEADER};
use crate::plan::{Forward, Reply, declared_length, error_reply, json_reply};
use crate::translate::anthropic::ERRORS as ANTHROPIC;
use crate::{gateway, passthrough};

/// What a request's head decided.
#[derive(Debug)]
pub enum Plan {
    /// Answer with this; nothing goes upstream.
    Respond(Reply),
    /// Read the client's whole body, then [`Pending::with_body`].
    ReadBody(Pending),
    /// Send this upstream.
    Forward(Box<Forward>),
}

/// A request whose plan depends on its body.
#[derive(Debug)]
pub struct Pending {
    limit: usize,
    /// The client's error shape.
    shape: Shape,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Gateway(Box<gateway::Pending>),
    Passthrough(Box<passthrough::Pending>),
}

impl Pending {
    /// The largest body accepted, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Finishes planning with the whole body: a request to send, or the
    /// answer (an error, or a reply the proxy gives itself).
    // Called once per request; boxing the reply would only add an allocation.
    #[allow(clippy::result_large_err)]
    /// The request to send, and the chain of fallbacks when there is one.
    pub fn with_body(
        self,
        cfg: &Config,
        body: Vec<u8>,
    ) -> Result<(Forward, Option<Box<gateway::Chain>>), Reply> {
        match self.kind {
            Kind::Gateway(pending) => match pending.with_body(cfg, body) {
                Ok(gateway::Routed::Forward(forward, chain)) => Ok((*forward, chain)),
                Ok(gateway::Routed::Answer(reply)) => Err(reply),
                Err(e) => Err(error_reply(&e, self.shape)),
            },
            Kind::Passthrough(pending) => Ok((pending.with_body(body), None)),
        }
    }
}

/// `/healthz`: the version and which behaviours this configuration enables
/// (docs/operations.md, "Health"). Never a secret, a URL or a model name.
fn health(cfg: &Config) -> String {
    // The banner's words: gateway mode is on when nothing stops it.
    let gateway = cfg.gateway_problems().is_empty();
    let modes = json!({"gateway": gateway, "passthrough": true, "reporting": cfg.reporting()});
    json!({"status": "ok", "version": crate::VERSION, "modes": modes}).to_string()
}

/// Plans a request from its head.
pub fn plan(cfg: &Config, head: &Parts) -> Plan {
    if head.method == Method::OPTIONS {
        return Plan::Respond(json_reply(StatusCode::NO_CONTENT, Vec::new()));
    }
    let path = head.uri.path();
    if path == "/healthz" && head.method == Method::GET {
        return Plan::Respond(json_reply(StatusCode::OK, health(cfg).into_bytes()));
    }
    let shape = shape_of(head);
    match plan_routed(cfg, head, shape) {
        Ok(plan) => plan,
        Err(error) => Plan::Respond(error_reply(&error, shape)),
    }
}

fn plan_routed(cfg: &Config, head: &Parts, shape: Shape) -> Result<Plan, ProxyError> {
    if !head.uri.path().starts_with('/') {
        return Err(ProxyError::BadRequest("the request target must be a path starting with /".into()));
    }
    crate::header_typos::check(&head.headers)?;
    let provider = match head.headers.get(PROVIDER_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(text)) => Some(text.trim()).filter(|p| !p.is_empty()),
        Some(Err(_)) => {
            return Err(ProxyError::BadRequest(
                "X-APEX-AI-PROXY-PROVIDER must be ASCII host[:port][/base-path] (use punycode for international names)"
                    .into(),
            ));
        }
    };
    let limit = cfg.max_body_bytes;
    if declared_length(&head.headers).is_some_and(|n| n > limit as u64) {
        return Err(ProxyError::PayloadTooLarge { limit });
    }
    Ok(match provider {
        Some(provider) => match passthrough::plan(cfg, head, provider, shape)? {
            passthrough::Head::Forward(forward) => Plan::Forward(forward),
            passthrough::Head::Body(pending) => {
                Plan::ReadBody(Pending { limit, shape, kind: Kind::Passthrough(pending) })
            }
        },
        None => match gateway::plan(cfg, head)? {
            gateway::Head::Answer(reply) => Plan::Respond(reply),
            gateway::Head::Body(pending, shape) => {
                Plan::ReadBody(Pending { limit, shape, kind: Kind::Gateway(Box::new(pending)) })
            }
        },
    })
}

/// The client's error shape: the path decides where a dialect claims it;
/// elsewhere `X-APEX-AI-PROXY-TYPE: anthropic` does, and for the models list
/// the `anthropic-version` header the Anthropic SDKs send.
pub fn shape_of(head: &Parts) -> Shape {
    let endpoint = gateway::Endpoint::from_path(head.uri.path());
    if let Ok(endpoint @ (gateway::Endpoint::Generate(_) | gateway::Endpoint::Count(_))) = &endpoint {
        return endpoint.shape(&head.headers);
    }
    if let Some(kind) = crate::headers::text(&head.headers, TYPE_HEADER) {
        return match kind.trim().eq_ignore_ascii_case("anthropic") {
            true => &ANTHROPIC,
            false => &OPENAI,
        };
    }
    endpoint.map_or(&OPENAI, |endpoint| endpoint.shape(&head.headers))
}
