//! Client dialects over one OpenAI chat-completions upstream.
//!
//! - [`anthropic`]: Anthropic Messages ⇄ OpenAI chat (SPEC §7), for
//!   `/v1/messages` routed to a non-Anthropic provider.
//! - [`responses`]: the OpenAI Responses API ⇄ OpenAI chat, for
//!   `/v1/responses` routed to a provider other than OpenAI.
//! - [`chat`]: the upstream side they share: an OpenAI chat SSE stream as
//!   events, tool calls told apart.
//! - [`sse`]: the incremental Server-Sent Events decoder every stream
//!   translator (and the usage meter) reads with.

pub mod anthropic;
pub mod chat;
pub mod responses;
pub mod sse;

use serde_json::Value;

/// Token counts from an OpenAI `usage` object, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the provider's cache (OpenAI
    /// `prompt_tokens_details.cached_tokens`, DeepSeek `prompt_cache_hit_tokens`).
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// Completion tokens spent on reasoning (`completion_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn from_openai(usage: &Value) -> Usage {
        let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
        Usage {
            prompt_tokens: n("/prompt_tokens").unwrap_or(0),
            cached_tokens: n("/prompt_tokens_details/cached_tokens")
                .or_else(|| n("/prompt_cache_hit_tokens"))
                .unwrap_or(0),
            completion_tokens: n("/completion_tokens").unwrap_or(0),
            reasoning_tokens: n("/completion_tokens_details/reasoning_tokens").unwrap_or(0),
        }
    }
}

/// `<prefix>_<id>` from the upstream's completion id (so the same upstream
/// answer always gets the same id), or a unique one when it sent none.
pub fn id_from_upstream(prefix: &str, upstream_id: Option<&str>) -> String {
    let id: String = upstream_id
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    match id.is_empty() {
        true => format!("{prefix}_{}", crate::routing::unique_id()),
        false => format!("{prefix}_{}", id.trim_start_matches("chatcmpl-")),
    }
}

/// The message or text of a JSON string for a user: a JSON-quoted string, so
/// messages never show Rust's debug formatting.
pub fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_with_cache() {
        let openai = json!({"prompt_tokens": 100, "completion_tokens": 7,
                            "prompt_tokens_details": {"cached_tokens": 60},
                            "completion_tokens_details": {"reasoning_tokens": 3}});
        assert_eq!(
            Usage::from_openai(&openai),
            Usage { prompt_tokens: 100, cached_tokens: 60, completion_tokens: 7, reasoning_tokens: 3 }
        );
        let deepseek = json!({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4});
        assert_eq!(Usage::from_openai(&deepseek).cached_tokens, 4);
        assert_eq!(Usage::from_openai(&json!(null)), Usage::default());
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
    }
}
