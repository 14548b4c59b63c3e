//! The gateway's route table: which endpoint a path names. The last segments
//! decide, so any base path a client's SDK adds (`/v1`, `/openai/v1`, …)
//! works. A dialect adds its lines to [`ROUTES`] (docs/contributing.md).

use http::Method;
use http::header::HeaderMap;

use crate::errors::{OPENAI, ProxyError, Shape};
use crate::translate::Dialect;
use crate::translate::anthropic::MESSAGES;
use crate::translate::gemini;
use crate::translate::responses::RESPONSES;

/// A gateway endpoint.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `POST …/chat/completions`: every provider speaks chat; the body goes
    /// on with only its model changed.
    Chat,
    /// A dialect's generate endpoint: native on its own provider, translated
    /// to chat on the others.
    Generate(&'static dyn Dialect),
    /// A dialect's token count: native on its own provider, estimated on the
    /// others.
    Count(&'static dyn Dialect),
    /// `GET …/models`, or `GET …/models/{id}` (the id percent-decoded).
    Models { id: Option<String> },
}

/// Path suffix (and a query parameter it needs, if any) → endpoint, the
/// first match winning.
static ROUTES: [(&str, Option<&str>, Endpoint); 9] = [
    ("/chat/completions", None, Endpoint::Chat),
    (":countTokens", None, Endpoint::Count(&gemini::COUNT)),
    (":streamGenerateContent", Some("alt=sse"), Endpoint::Generate(&gemini::STREAM)),
    (":streamGenerateContent", None, Endpoint::Generate(&gemini::STREAM_ARRAY)),
    (":generateContent", None, Endpoint::Generate(&gemini::GENERATE)),
    ("/messages/count_tokens", None, Endpoint::Count(&MESSAGES)),
    ("/messages", None, Endpoint::Generate(&MESSAGES)),
    ("/responses", None, Endpoint::Generate(&RESPONSES)),
    ("/models", None, Endpoint::Models { id: None }),
];

impl Endpoint {
    /// The endpoint for a request path; a 404 naming the routes otherwise.
    pub fn from_path(path: &str) -> Result<Endpoint, ProxyError> {
        Endpoint::from_target(path, None)
    }

    /// The endpoint for a request path and query.
    pub fn from_target(path: &str, query: Option<&str>) -> Result<Endpoint, ProxyError> {
        let path = path.trim_end_matches('/');
        let has = |param: &str| query.is_some_and(|q| q.split('&').any(|pair| pair == param));
        let route = ROUTES.iter().find(|(suffix, param, _)| path.ends_with(suffix) && param.is_none_or(has));
        if let Some((_, _, endpoint)) = route {
            return Ok(endpoint.clone());
        }
        if let Some((_, id)) = path.rsplit_once("/models/")
            && let Ok(id) = percent_encoding::percent_decode_str(id).decode_utf8()
        {
            return Ok(Endpoint::Models { id: Some(id.into_owned()) });
        }
        let shown = if path.is_empty() { "/" } else { path };
        Err(ProxyError::NotFound(format!(
            "no route for {shown}: gateway mode serves POST …/chat/completions, POST …/responses, \
             POST …/messages, POST …/messages/count_tokens, POST …/models/{{model}}:generateContent \
             and :streamGenerateContent, and GET …/models; for other paths send \
             X-APEX-AI-PROXY-PROVIDER (passthrough)"
        )))
    }

    /// The one method the endpoint serves.
    pub fn method(&self) -> Method {
        match self {
            Endpoint::Models { .. } => Method::GET,
            Endpoint::Chat | Endpoint::Generate(_) | Endpoint::Count(_) => Method::POST,
        }
    }

    /// The client's error shape: the dialect's; for the models list,
    /// Anthropic's when the client sends `anthropic-version`.
    pub fn shape(&self, headers: &HeaderMap) -> Shape {
        match self {
            Endpoint::Generate(dialect) | Endpoint::Count(dialect) => dialect.errors(),
            Endpoint::Models { .. } if headers.contains_key("anthropic-version") => MESSAGES.errors(),
            Endpoint::Models { .. } if gemini::is_client(headers) => gemini::GENERATE.errors(),
            Endpoint::Models { .. } | Endpoint::Chat => &OPENAI,
        }
    }

    /// The `endpoint_type` of reports.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Chat => "chat_completions",
            Endpoint::Generate(dialect) => dialect.name(),
            Endpoint::Count(_) => "count_tokens",
            Endpoint::Models { .. } => "models",
        }
    }
}

/// `chat_completions`, `messages`, `count_tokens`, `models`, or the path
/// itself: the `endpoint_type` of reports for a path, in any mode.
pub fn endpoint_type(path: &str) -> String {
    match Endpoint::from_path(path) {
        Ok(endpoint) => endpoint.name().into(),
        Err(_) => path.trim_end_matches('/').into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let name = |p: &str| Endpoint::from_path(p).unwrap().name();
        assert_eq!(name("/v1/chat/completions"), "chat_completions");
        assert_eq!(name("/openai/v1/chat/completions/"), "chat_completions");
        assert_eq!(name("/v1/messages"), "messages");
        assert_eq!(name("/v1/messages/count_tokens"), "count_tokens");
        assert_eq!(name("/v1/models"), "models");
        assert_eq!(name("/v1/responses"), "responses");
        assert!(matches!(
            Endpoint::from_path("/v1/models/openai%2Fgpt-5%23openrouter"),
            Ok(Endpoint::Models { id: Some(id) }) if id == "openai/gpt-5#openrouter"
        ));
        for missing in ["", "/", "/v1/embeddings", "/v1/messages/batches"] {
            let e = Endpoint::from_path(missing).unwrap_err();
            assert_eq!(e.status().as_u16(), 404);
            assert!(!e.message().contains("for :"), "{}", e.message());
        }
        assert!(Endpoint::from_path("/").unwrap_err().message().starts_with("no route for /:"));
    }
}
