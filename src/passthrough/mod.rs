//! Passthrough mode (docs/passthrough.md): forward to
//! `https://{PROVIDER}{path}{?query}` with the client's own credentials, the
//! body untouched unless a mapping applies.

pub mod guard;

use http::Method;
use http::header::{self, HeaderMap, HeaderName};
use http::request::Parts;

use crate::config::Config;
use crate::errors::{ProxyError, Shape};
use crate::json::body::JsonBody;
use crate::mapping::{MAPPING_HEADER, ModelMapping};
use crate::plan::{
    Forward, Mode, Outgoing, Reading, RouteInfo, Upload, declared_length, set_length, upstream_uri,
};
use crate::target::parse_target;

/// A passthrough request waiting for its body because a mapping may apply.
#[derive(Debug)]
pub struct Pending {
    forward: Forward,
    mapping: ModelMapping,
}

/// What a passthrough request's head decided.
#[derive(Debug)]
pub enum Head {
    /// Send it now, streaming the client's body.
    Forward(Box<Forward>),
    /// Read the body first: a mapping may change its model.
    Body(Box<Pending>),
}

/// Validates the target and builds the upstream request. Without a usable
/// mapping the client's body is streamed; with one, the body is read first.
pub fn plan(cfg: &Config, head: &Parts, provider: &str, shape: Shape) -> Result<Head, ProxyError> {
    if head.method != Method::GET && head.method != Method::POST {
        return Err(ProxyError::MethodNotAllowed(format!(
            "{} is not allowed; passthrough forwards GET and POST",
            head.method
        )));
    }
    let target = parse_target(provider).map_err(ProxyError::BadRequest)?;
    guard::check(&target, cfg.passthrough_allow_private, cfg.passthrough_allowed_hosts.as_deref())
        .map_err(|refusal| ProxyError::Forbidden(refusal.message()))?;
    let url = target.url(head.uri.path(), head.uri.query());
    let uri = upstream_uri(&url, |m| ProxyError::BadRequest(format!("X-APEX-AI-PROXY-PROVIDER: {m}")))?;
    let mut headers = forward_headers(&head.headers);
    let length = declared_length(&head.headers);
    if let Some(len) = length {
        set_length(&mut headers, len);
    }
    let info = RouteInfo {
        mode: Mode::Passthrough,
        provider: provider.to_owned(),
        endpoint_type: crate::gateway::endpoint_type(head.uri.path()),
        upstream_host: target.authority(),
        ..RouteInfo::default()
    };
    let forward = Forward {
        request: Outgoing { method: head.method.clone(), uri, headers, body: Upload::Client },
        reading: Reading::Relay,
        info,
        shape,
        neutral_failures: !cfg.passthrough_allow_private,
        timeouts: cfg.upstream_timeouts,
    };
    let mapping =
        crate::headers::text(&head.headers, MAPPING_HEADER).map(ModelMapping::parse).unwrap_or_default();
    if mapping.is_empty() || length == Some(0) {
        return Ok(Head::Forward(Box::new(forward)));
    }
    Ok(Head::Body(Box::new(Pending { forward, mapping })))
}

impl Pending {
    /// Applies the mapping to the body's `model`; any other body (not JSON, no
    /// string model, no matching rule) is forwarded byte-for-byte.
    pub fn with_body(self, body: Vec<u8>) -> Forward {
        let Pending { mut forward, mapping } = self;
        let bytes = match JsonBody::parse(body) {
            Ok(json) => {
                let info = &mut forward.info;
                info.stream = json.stream();
                info.model = json.model().unwrap_or_default().to_owned();
                match json.model().and_then(|m| mapping.apply(m)) {
                    Some(mapped) => {
                        info.upstream_model = mapped.clone();
                        json.with_model(&mapped)
                    }
                    None => {
                        info.upstream_model = info.model.clone();
                        json.into_bytes()
                    }
                }
            }
            Err((_, bytes)) => bytes,
        };
        set_length(&mut forward.request.headers, bytes.len() as u64);
        forward.request.body = Upload::Bytes(bytes);
        forward
    }
}

/// Every client header but the proxy's own, `cf-aig-authorization`, `host`,
/// `content-length` (set again by the caller), hop-by-hop headers and the
/// metadata the host runtime added.
fn forward_headers(client: &HeaderMap) -> HeaderMap {
    crate::headers::filtered(client, |name: &HeaderName| {
        name.as_str().starts_with("x-apex-ai-proxy-")
            || name == "cf-aig-authorization"
            || name == header::HOST
            || name == header::CONTENT_LENGTH
            || crate::headers::is_host_metadata(name)
    })
}

#[cfg(test)]
mod tests;
