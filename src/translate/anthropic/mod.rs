//! The Anthropic Messages API over a chat upstream (docs/translation.md,
//! "Messages"): `/v1/messages` for every provider but `anthropic` (which the
//! gateway reaches natively).
//!
//! - [`request::to_chat`]: the request;
//! - [`answer::MessageAnswer`]: the answer, whole or streamed;
//! - [`count::estimate`]: `count_tokens` for providers that cannot count;
//! - [`ERRORS`]: Anthropic's error shape.

pub mod answer;
pub mod count;
pub mod request;

use http::StatusCode;
use serde_json::{Value, json};

use super::chat::Usage;
use super::chat::request::ChatRequest;
use super::{Answer, Dialect, Native, Target};
use crate::errors::{ErrorShape, ProxyError, Shape};
use crate::json::{Json, Object};

/// The Messages dialect.
#[derive(Debug)]
pub struct Messages;

pub static MESSAGES: Messages = Messages;

impl Dialect for Messages {
    fn name(&self) -> &'static str {
        "messages"
    }

    fn errors(&self) -> Shape {
        &ERRORS
    }

    fn native(&self) -> Native {
        Native { provider: "anthropic", generate: "/messages", count: Some("/messages/count_tokens") }
    }

    fn estimate_tokens(&self, request: &Object) -> Result<u64, ProxyError> {
        count::estimate(request)
    }

    fn to_chat<'a>(
        &self,
        request: &Object<'a>,
        target: &Target,
    ) -> Result<(ChatRequest<'a>, Box<dyn Answer>), ProxyError> {
        let chat = request::to_chat(request, target)?;
        Ok((chat, Box::new(answer::MessageAnswer::new(target.client_model))))
    }
}

/// Anthropic's errors: `{"type":"error","error":{"type","message"}}`.
#[derive(Debug)]
pub struct AnthropicErrors;

pub static ERRORS: AnthropicErrors = AnthropicErrors;

impl ErrorShape for AnthropicErrors {
    fn body(&self, status: StatusCode, message: &str) -> Value {
        json!({"type": "error", "error": {"type": error_type(status), "message": message}})
    }

    fn is_own(&self, body: Json) -> bool {
        let Some(object) = body.object() else { return false };
        let message = object.object("error").is_some_and(|e| e.get("message").is_some_and(Json::is_string));
        message && object.str("type").as_deref() == Some("error")
    }
}

/// Anthropic's error `type` for a status (its API errors page).
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        421 => "api_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Chat `finish_reason` → Anthropic `stop_reason`.
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
    fn stop_reasons_usage_ids_and_inputs() {
        assert_eq!(
            ["stop", "length", "tool_calls", "content_filter", "weird"].map(stop_reason),
            ["end_turn", "max_tokens", "tool_use", "refusal", "end_turn"]
        );
        let usage =
            Usage { prompt_tokens: 100, cached_tokens: 60, completion_tokens: 7, reasoning_tokens: 0 };
        assert_eq!(
            usage_json(usage),
            json!({"input_tokens": 40, "output_tokens": 7, "cache_read_input_tokens": 60,
                   "cache_creation_input_tokens": 0})
        );
        assert_eq!(message_id(Some("chatcmpl-abc123")), "msg_abc123");
        assert!(message_id(None).starts_with("msg_"));
        assert_eq!(tool_input(r#"{"city":"Paris"}"#), json!({"city": "Paris"}));
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input("{broken"), json!({"raw_arguments": "{broken"}));
        assert_eq!(tool_input("[1]"), json!({"raw_arguments": "[1]"}));
    }

    #[test]
    fn the_error_shape() {
        let e = ProxyError::BadRequest("no model".into());
        assert_eq!(
            e.body(&ERRORS),
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "no model"}})
        );
        let statuses =
            [400, 401, 403, 404, 429, 500, 529].map(|s| error_type(StatusCode::from_u16(s).unwrap()));
        assert_eq!(
            statuses,
            [
                "invalid_request_error",
                "authentication_error",
                "permission_error",
                "not_found_error",
                "rate_limit_error",
                "api_error",
                "overloaded_error"
            ]
        );
        let native = r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#;
        let code = StatusCode::from_u16(529).unwrap();
        assert_eq!(crate::errors::reshape(code, &ERRORS, native.as_bytes()), native.as_bytes());
        let openai = r#"{"error":{"message":"bad key","type":"x"}}"#;
        let out: Value = serde_json::from_slice(&crate::errors::reshape(
            StatusCode::UNAUTHORIZED,
            &ERRORS,
            openai.as_bytes(),
        ))
        .unwrap();
        assert_eq!(out, json!({"type":"error","error":{"type":"authentication_error","message":"bad key"}}));
    }
}
