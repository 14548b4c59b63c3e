//! A whole OpenAI chat completion → a Responses `response` object.

use serde_json::{Value, json};

use super::{ResponseState, ResponsesContext, item_id, response_id, status_of};
use crate::translate::Usage;

/// Translates a completion body. A body that is not a completion is `Err` with
/// words for a `502`.
pub fn to_response(completion: &[u8], context: &ResponsesContext) -> Result<Value, String> {
    let v: Value =
        serde_json::from_slice(completion).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    let choice = v.pointer("/choices/0").ok_or("upstream completion has no choices")?;
    let message = &choice["message"];
    let id = response_id(v["id"].as_str());
    let mut output = Vec::new();
    let reasoning =
        message.get("reasoning_content").or_else(|| message.get("reasoning")).and_then(Value::as_str);
    if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
        output.push(reasoning_item(&item_id("rs", &id, output.len()), text, true));
    }
    let mut parts = Vec::new();
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        parts.push(output_text(text));
    }
    if let Some(refusal) = message["refusal"].as_str().filter(|t| !t.is_empty()) {
        parts.push(json!({"type": "refusal", "refusal": refusal}));
    }
    if !parts.is_empty() {
        output.push(message_item(&item_id("msg", &id, output.len()), parts, true));
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let index = output.len();
        let call_id = match call["id"].as_str().filter(|c| !c.is_empty()) {
            Some(call_id) => call_id.to_owned(),
            None => item_id("call", &id, index),
        };
        let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        let prefix = if context.tools.by_chat_name(name).custom { "ctc" } else { "fc" };
        output.push(context.call_item(&item_id(prefix, &id, index), &call_id, name, arguments, true));
    }
    let (status, incomplete) = status_of(choice["finish_reason"].as_str());
    Ok(context.response_object(ResponseState {
        id: &id,
        created_at: v["created"].as_u64().unwrap_or(0),
        status,
        output,
        usage: Some(Usage::from_openai(&v["usage"])),
        incomplete,
        error: None,
    }))
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// An assistant `message` output item.
pub fn message_item(id: &str, content: Vec<Value>, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    json!({"type": "message", "id": id, "role": "assistant", "status": status, "content": content})
}

/// A `reasoning` output item carrying the provider's reasoning text.
pub fn reasoning_item(id: &str, text: &str, done: bool) -> Value {
    let content = match done {
        true => json!([{"type": "reasoning_text", "text": text}]),
        false => json!([]),
    };
    let status = if done { "completed" } else { "in_progress" };
    json!({"type": "reasoning", "id": id, "summary": [], "content": content, "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::responses::{ToolName, ToolNames};
    use serde_json::Map;

    fn context() -> ResponsesContext {
        let tools = ToolNames(vec![
            ToolName {
                chat: "apply_patch".into(),
                name: "apply_patch".into(),
                namespace: None,
                custom: true,
            },
            ToolName {
                chat: "crm__lookup".into(),
                name: "lookup".into(),
                namespace: Some("crm".into()),
                custom: false,
            },
        ]);
        let mut echo = Map::new();
        echo.insert("tool_choice".into(), "auto".into());
        ResponsesContext { model: "m#deepseek".into(), tools, echo }
    }

    #[test]
    fn text_reasoning_and_every_kind_of_call() {
        let completion = json!({
            "id": "chatcmpl-9", "created": 1700000000,
            "choices": [{"finish_reason": "tool_calls", "message": {
                "content": "Working.", "reasoning_content": "think",
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\\n\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "crm__lookup", "arguments": "{\"q\":1}"}},
                    {"type": "function", "function": {"name": "other", "arguments": "{}"}}
                ]}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 2}}
        });
        let out = to_response(completion.to_string().as_bytes(), &context()).unwrap();
        assert_eq!(out["id"], "resp_9");
        assert_eq!(
            (out["object"].clone(), out["status"].clone(), out["model"].clone()),
            (json!("response"), json!("completed"), json!("m#deepseek"))
        );
        assert_eq!(out["created_at"], 1700000000);
        assert_eq!(out["tool_choice"], "auto", "echoed");
        let output = out["output"].as_array().unwrap();
        assert_eq!(
            output[0],
            json!({"type": "reasoning", "id": "rs_9_0", "summary": [], "status": "completed",
                                      "content": [{"type": "reasoning_text", "text": "think"}]})
        );
        assert_eq!(output[1]["content"][0]["text"], "Working.");
        assert_eq!(
            output[2],
            json!({"type": "custom_tool_call", "id": "ctc_9_2", "call_id": "call_a", "name": "apply_patch",
                                      "input": "*** Begin Patch\n", "status": "completed"})
        );
        assert_eq!(
            output[3],
            json!({"type": "function_call", "id": "fc_9_3", "call_id": "call_b", "name": "lookup",
                                      "namespace": "crm", "arguments": "{\"q\":1}", "status": "completed"})
        );
        assert_eq!(output[4]["call_id"], "call_9_4", "a call without an id gets a unique one");
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8},
                                        "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2},
                                        "total_tokens": 25})
        );
    }

    #[test]
    fn length_is_incomplete_and_garbage_is_an_error() {
        let completion =
            json!({"id": "x", "choices": [{"finish_reason": "length", "message": {"content": "cut"}}]});
        let out = to_response(completion.to_string().as_bytes(), &context()).unwrap();
        assert_eq!(
            (out["status"].clone(), out["incomplete_details"].clone()),
            (json!("incomplete"), json!({"reason": "max_output_tokens"}))
        );
        assert!(to_response(b"<html>", &context()).is_err());
        assert!(to_response(b"{\"choices\":[]}", &context()).is_err());
    }
}
