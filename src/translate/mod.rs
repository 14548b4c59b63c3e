//! Anthropic Messages ⇄ OpenAI chat completions (SPEC §7), for `/v1/messages`
//! routed to a non-Anthropic provider.
//!
//! - [`request::to_openai`]: the request, Anthropic → OpenAI.
//! - [`message::to_anthropic`]: a whole response, OpenAI → Anthropic.
//! - [`stream::AnthropicStream`]: a streamed response, chunk by chunk.

pub mod message;
pub mod request;
pub mod sse;
pub mod stream;

use serde_json::{Value, json};

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Token counts from an OpenAI `usage` object, in Anthropic's terms: cached
/// prompt tokens (OpenAI `prompt_tokens_details.cached_tokens`, DeepSeek
/// `prompt_cache_hit_tokens`) are reported as `cache_read_input_tokens` and not
/// counted again in `input_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    pub fn from_openai(usage: &Value) -> Usage {
        let n = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
        let prompt = n("/prompt_tokens").unwrap_or(0);
        let cached =
            n("/prompt_tokens_details/cached_tokens").or_else(|| n("/prompt_cache_hit_tokens")).unwrap_or(0);
        Usage {
            input_tokens: prompt.saturating_sub(cached),
            output_tokens: n("/completion_tokens").unwrap_or(0),
            cache_read_input_tokens: cached,
        }
    }

    pub fn to_json(self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": 0,
        })
    }
}

/// An Anthropic-style message id from the upstream's completion id (so the same
/// upstream answer always gets the same id).
pub fn message_id(upstream_id: Option<&str>) -> String {
    let id: String = upstream_id
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    match id.is_empty() {
        true => format!("msg_{}", crate::routing::unique_id()),
        false => format!("msg_{}", id.trim_start_matches("chatcmpl-")),
    }
}

/// Parses tool-call arguments; text that is not a JSON object is kept as
/// `{"raw_arguments": "<text>"}` so the message stays valid.
pub fn tool_input(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({"raw_arguments": arguments}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons() {
        assert_eq!(stop_reason("stop"), "end_turn");
        assert_eq!(stop_reason("length"), "max_tokens");
        assert_eq!(stop_reason("tool_calls"), "tool_use");
        assert_eq!(stop_reason("content_filter"), "refusal");
        assert_eq!(stop_reason("weird"), "end_turn");
    }

    #[test]
    fn usage_with_cache() {
        let openai = json!({"prompt_tokens": 100, "completion_tokens": 7,
                            "prompt_tokens_details": {"cached_tokens": 60}});
        assert_eq!(
            Usage::from_openai(&openai),
            Usage { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60 }
        );
        let deepseek = json!({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4});
        assert_eq!(Usage::from_openai(&deepseek).cache_read_input_tokens, 4);
        assert_eq!(Usage::from_openai(&json!(null)), Usage::default());
    }

    #[test]
    fn ids_and_inputs() {
        assert_eq!(message_id(Some("chatcmpl-abc123")), "msg_abc123");
        assert!(message_id(None).starts_with("msg_"));
        assert_eq!(tool_input(r#"{"city":"Paris"}"#), json!({"city": "Paris"}));
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input("{broken"), json!({"raw_arguments": "{broken"}));
        assert_eq!(tool_input("[1]"), json!({"raw_arguments": "[1]"}));
    }
}
