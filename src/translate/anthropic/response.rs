//! A whole OpenAI chat completion → an Anthropic message.

use serde_json::{Value, json};

use super::{message_id, stop_reason, tool_input, usage_json};
use crate::translate::Usage;

/// Translates a completion body. `model` is the model as the client sent it.
/// A body that is not a completion becomes `Err` with a message for an
/// `api_error`.
pub fn to_anthropic(completion: &[u8], model: &str) -> Result<Value, String> {
    let v: Value =
        serde_json::from_slice(completion).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    let choice = v.pointer("/choices/0").ok_or("upstream completion has no choices")?;
    let message = &choice["message"];
    let mut content = Vec::new();
    if let Some(thinking) = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        content.push(json!({
            "type": "tool_use",
            "id": call["id"].as_str().unwrap_or_default(),
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default(),
            "input": tool_input(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default()),
        }));
    }
    let finish = choice["finish_reason"].as_str().unwrap_or("stop");
    Ok(json!({
        "id": message_id(v["id"].as_str()),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage_json(Usage::from_openai(&v["usage"])),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tools() {
        let completion = json!({
            "id": "chatcmpl-9", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "think",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "not json"}}
                ]}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5}
        });
        let out = to_anthropic(completion.to_string().as_bytes(), "deepseek-v4#deepseek").unwrap();
        assert_eq!(
            out,
            json!({
                "id": "msg_9", "type": "message", "role": "assistant", "model": "deepseek-v4#deepseek",
                "content": [
                    {"type": "thinking", "thinking": "think", "signature": ""},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "clock", "input": {"raw_arguments": "not json"}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 11, "output_tokens": 5, "cache_read_input_tokens": 0,
                          "cache_creation_input_tokens": 0}
            })
        );
    }

    #[test]
    fn empty_content_and_length() {
        let completion =
            json!({"id": "x", "choices": [{"finish_reason": "length", "message": {"content": null}}]});
        let out = to_anthropic(completion.to_string().as_bytes(), "m").unwrap();
        assert_eq!(out["content"], json!([]));
        assert_eq!(out["stop_reason"], "max_tokens");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(to_anthropic(b"<html>", "m").is_err());
        assert!(to_anthropic(b"{\"choices\":[]}", "m").is_err());
    }
}
