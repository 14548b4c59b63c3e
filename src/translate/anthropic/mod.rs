//! Anthropic Messages ⇄ OpenAI chat completions (SPEC §7).
//!
//! - [`request::to_openai`]: the request, Anthropic → OpenAI.
//! - [`response::to_anthropic`]: a whole response, OpenAI → Anthropic.
//! - [`stream::AnthropicStream`]: a streamed response, chunk by chunk.
//! - [`count::estimate`]: `count_tokens` for providers that cannot count.

pub mod count;
pub mod request;
pub mod response;
pub mod stream;

use serde_json::{Value, json};

use super::Usage;

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Usage in Anthropic's terms: cached prompt tokens are reported as
/// `cache_read_input_tokens` and not counted again in `input_tokens`.
pub fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens.saturating_sub(usage.cached_tokens),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    })
}

/// An Anthropic-style `msg_…` id from the upstream's completion id.
pub fn message_id(upstream_id: Option<&str>) -> String {
    super::id_from_upstream("msg", upstream_id)
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
    fn usage_in_anthropic_terms() {
        let usage =
            Usage { prompt_tokens: 100, cached_tokens: 60, completion_tokens: 7, reasoning_tokens: 0 };
        assert_eq!(
            usage_json(usage),
            json!({"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 60,
                   "cache_creation_input_tokens": 0})
        );
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
