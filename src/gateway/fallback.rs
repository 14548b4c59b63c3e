//! Fallbacks (docs/gateway.md, "Fallbacks"): the models a request tries after
//! its own, in order, each in its provider's dialect. The chain is decided
//! with the body; the exchange asks it for the next attempt when one fails
//! before the answer's first byte.

use http::StatusCode;

use super::{Pending, Routed};
use crate::config::Config;
use crate::errors::ProxyError;
use crate::json::body::JsonBody;
use crate::plan::Forward;
use crate::providers::ModelRef;

pub use crate::headers::FALLBACK_HEADER as HEADER;

/// Most attempts a request makes, its own included.
pub const MAX_ATTEMPTS: usize = 4;

/// The statuses that move on to the next model: the upstream could not
/// serve the request now (408, 429, 5xx but 501 and 505, and Anthropic's 529).
pub fn moves_on(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// The models to try after `routed` (the request's model after mapping):
/// the header's list, else `GATEWAY_FALLBACKS`' for that model; cut so the
/// request makes at most `GATEWAY_MAX_ATTEMPTS` attempts. An entry that does
/// not parse is a 400 before anything is sent.
pub fn chain(cfg: &Config, header: &Option<String>, routed: &str) -> Result<Vec<ModelRef>, ProxyError> {
    let listed: Vec<&str> = match header {
        Some(list) => list.split(',').map(str::trim).filter(|m| !m.is_empty()).collect(),
        None => cfg
            .gateway_fallbacks
            .iter()
            .find(|(model, _)| model == routed)
            .map_or_else(Vec::new, |(_, chain)| chain.iter().map(String::as_str).collect()),
    };
    let mut models = Vec::new();
    for entry in listed.into_iter().take(cfg.max_attempts.saturating_sub(1)) {
        let model = ModelRef::parse(entry).map_err(|e| {
            ProxyError::BadRequest(format!("{HEADER} entry {}: {}", crate::json::quoted(entry), e.message()))
        })?;
        models.push(model);
    }
    Ok(models)
}

/// One attempt as the log and the reports tell it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attempt {
    /// `model#provider`, as tried.
    pub model: String,
    /// The status it answered, or 0 when no answer came.
    pub status: u16,
    pub duration_ms: f64,
}

/// The attempts still to make for one request, with what they need: the
/// body, held once for all of them.
#[derive(Debug)]
pub struct Chain {
    pending: Pending,
    body: JsonBody,
    client_model: String,
    /// The model being tried now, then the rest, in order.
    current: String,
    rest: std::collections::VecDeque<ModelRef>,
}

impl Chain {
    pub fn new(
        pending: Pending,
        body: JsonBody,
        client_model: String,
        first: String,
        rest: Vec<ModelRef>,
    ) -> Chain {
        Chain { pending, body, client_model, current: first, rest: rest.into() }
    }

    /// The model being tried, as `model#provider`.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// Whether another model remains.
    pub fn has_next(&self) -> bool {
        !self.rest.is_empty()
    }

    /// The next attempt's request (`None` when none remains), in its own
    /// provider's dialect. One that cannot be built (a provider that needs a
    /// setting this deployment lacks) is skipped.
    pub fn next(&mut self, cfg: &Config) -> Option<Forward> {
        while let Some(model) = self.rest.pop_front() {
            self.current = format!("{}#{}", model.model, model.provider.name);
            if let Ok(Routed::Forward(forward, _)) =
                self.pending.attempt(cfg, &self.body, &self.client_model, &model)
            {
                return Some(*forward);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config;

    #[test]
    fn what_moves_on() {
        for status in [408, 429, 500, 502, 503, 504, 529] {
            assert!(moves_on(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 413, 422, 501, 505] {
            assert!(!moves_on(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }

    #[test]
    fn the_header_wins_the_setting_fills_in_and_attempts_are_capped() {
        let cfg = config(&[("GATEWAY_FALLBACKS", "a#openai=b#groq,c#deepseek; x#openai=y#groq")]);
        let names = |models: Vec<ModelRef>| models.iter().map(|m| m.model.clone()).collect::<Vec<_>>();
        assert_eq!(names(chain(&cfg, &None, "a#openai").unwrap()), ["b", "c"]);
        assert_eq!(names(chain(&cfg, &Some("d#groq".into()), "a#openai").unwrap()), ["d"]);
        assert_eq!(names(chain(&cfg, &None, "z#openai").unwrap()), Vec::<String>::new());
        let five = Some("b#groq,c#groq,d#groq,e#groq,f#groq".into());
        assert_eq!(chain(&cfg, &five, "a#openai").unwrap().len(), MAX_ATTEMPTS - 1);
        let two = config(&[("GATEWAY_MAX_ATTEMPTS", "2")]);
        assert_eq!(chain(&two, &five, "a#openai").unwrap().len(), 1);
        let e = chain(&cfg, &Some("b#nope".into()), "a#openai").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.message().contains("x-apex-ai-proxy-fallback entry \"b#nope\""), "{}", e.message());
    }
}
