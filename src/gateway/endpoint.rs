//! Which gateway endpoint a path names: the last segments decide, so any base
//! path a client's SDK adds (`/v1`, `/openai/v1`, …) works.

use http::Method;
use http::header::HeaderMap;

use crate::errors::{Dialect, ProxyError};

/// A gateway endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST …/chat/completions`.
    Chat,
    /// `POST …/messages`.
    Messages,
    /// `POST …/messages/count_tokens`.
    CountTokens,
    /// `GET …/models`, or `GET …/models/{id}` (the id percent-decoded).
    Models { id: Option<String> },
    /// `POST …/responses` (the OpenAI Responses API).
    Responses,
}

impl Endpoint {
    /// The endpoint for a request path; a 404 naming the routes otherwise.
    pub fn from_path(path: &str) -> Result<Endpoint, ProxyError> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/chat/completions") {
            return Ok(Endpoint::Chat);
        }
        if path.ends_with("/messages") {
            return Ok(Endpoint::Messages);
        }
        if path.ends_with("/messages/count_tokens") {
            return Ok(Endpoint::CountTokens);
        }
        if path.ends_with("/responses") {
            return Ok(Endpoint::Responses);
        }
        if path.ends_with("/models") {
            return Ok(Endpoint::Models { id: None });
        }
        if let Some((_, id)) = path.rsplit_once("/models/")
            && let Ok(id) = percent_encoding::percent_decode_str(id).decode_utf8()
        {
            return Ok(Endpoint::Models { id: Some(id.into_owned()) });
        }
        let shown = if path.is_empty() { "/" } else { path };
        Err(ProxyError::NotFound(format!(
            "no route for {shown}: gateway mode serves POST …/chat/completions, POST …/responses, \
             POST …/messages, POST …/messages/count_tokens and GET …/models; for other paths send \
             X-APEX-AI-PROXY-PROVIDER (passthrough)"
        )))
    }

    /// The one method the endpoint serves.
    pub fn method(&self) -> Method {
        match self {
            Endpoint::Models { .. } => Method::GET,
            Endpoint::Chat | Endpoint::Messages | Endpoint::CountTokens | Endpoint::Responses => Method::POST,
        }
    }

    /// `true` for the Anthropic endpoints.
    pub fn is_anthropic(&self) -> bool {
        matches!(self, Endpoint::Messages | Endpoint::CountTokens)
    }

    /// The client's dialect: Anthropic for the Messages endpoints, and for the
    /// models list when the client sends `anthropic-version`.
    pub fn dialect(&self, headers: &HeaderMap) -> Dialect {
        match self {
            Endpoint::Messages | Endpoint::CountTokens => Dialect::Anthropic,
            Endpoint::Models { .. } if headers.contains_key("anthropic-version") => Dialect::Anthropic,
            Endpoint::Models { .. } | Endpoint::Chat | Endpoint::Responses => Dialect::OpenAi,
        }
    }

    /// The `endpoint_type` of reports.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Chat => "chat_completions",
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::Models { .. } => "models",
            Endpoint::Responses => "responses",
        }
    }

    /// The path below `{base}/anthropic/v1/` for the native Anthropic route.
    pub fn anthropic_path(&self) -> &'static str {
        match self {
            Endpoint::CountTokens => "messages/count_tokens",
            _ => "messages",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let ok = |p: &str| Endpoint::from_path(p).unwrap();
        assert_eq!(ok("/v1/chat/completions"), Endpoint::Chat);
        assert_eq!(ok("/openai/v1/chat/completions/"), Endpoint::Chat);
        assert_eq!(ok("/v1/messages"), Endpoint::Messages);
        assert_eq!(ok("/v1/messages/count_tokens"), Endpoint::CountTokens);
        assert_eq!(ok("/v1/models"), Endpoint::Models { id: None });
        assert_eq!(ok("/v1/responses"), Endpoint::Responses);
        assert_eq!(
            ok("/v1/models/openai%2Fgpt-5%23openrouter"),
            Endpoint::Models { id: Some("openai/gpt-5#openrouter".into()) }
        );
        for missing in ["", "/", "/v1/embeddings", "/v1/messages/batches"] {
            let e = Endpoint::from_path(missing).unwrap_err();
            assert_eq!(e.status().as_u16(), 404);
            assert!(!e.message().contains("for :"), "{}", e.message());
        }
        assert!(Endpoint::from_path("/").unwrap_err().message().starts_with("no route for /:"));
    }
}
