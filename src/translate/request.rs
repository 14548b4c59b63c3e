//! Anthropic Messages request → OpenAI chat-completions request (SPEC §7).
//!
//! Dropped because OpenAI chat has no place for them: thinking blocks and the
//! `thinking` setting, `top_k`, `cache_control`, server tools (no
//! `input_schema`), non-text documents. Text documents become text.

use serde_json::{Map, Value, json};

use crate::errors::ProxyError;

/// Options that depend on the route, not on the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions {
    /// Ask for `stream_options.include_usage` when streaming (not for Mistral).
    pub include_usage: bool,
}

fn bad(message: impl Into<String>) -> ProxyError {
    ProxyError::BadRequest(message.into())
}

/// Translates a Messages request; `model` is the upstream model. Invalid input
/// (no `max_tokens`, no messages, unknown roles or blocks of the wrong shape)
/// is a 400 in Anthropic shape.
pub fn to_openai(request: &Value, model: &str, options: RequestOptions) -> Result<Value, ProxyError> {
    let max_tokens = request.get("max_tokens").and_then(Value::as_u64).ok_or_else(|| {
        bad("max_tokens: field required (a positive integer, as in Anthropic's Messages API)")
    })?;
    let turns = request
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("messages: at least one message is required"))?;

    let mut messages = Vec::new();
    if let Some(system) = system_text(request.get("system"))? {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, turn) in turns.iter().enumerate() {
        match turn.get("role").and_then(Value::as_str) {
            Some("user") => user_turn(turn.get("content"), &mut messages),
            Some("assistant") => assistant_turn(turn.get("content")).map(|m| messages.push(m)),
            other => Err(bad(format!("messages.{i}.role: must be \"user\" or \"assistant\", got {other:?}"))),
        }
        .map_err(|e| match e {
            ProxyError::BadRequest(m) if !m.starts_with("messages.") => bad(format!("messages.{i}: {m}")),
            other => other,
        })?;
    }

    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("messages".into(), Value::Array(messages));
    out.insert("max_tokens".into(), max_tokens.into());
    for key in ["temperature", "top_p"] {
        if let Some(v) = request.get(key).filter(|v| v.is_number()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = request.get("stop_sequences").filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        out.insert("stop".into(), stop.clone());
    }
    if let Some(user) = request.pointer("/metadata/user_id").filter(|u| u.is_string()) {
        out.insert("user".into(), user.clone());
    }
    tools(request, &mut out);
    if request.get("stream") == Some(&Value::Bool(true)) {
        out.insert("stream".into(), true.into());
        if options.include_usage {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(Value::Object(out))
}

/// `system` as one string: a string, or text blocks joined by blank lines.
fn system_text(system: Option<&Value>) -> Result<Option<String>, ProxyError> {
    match system {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(blocks)) => {
            let texts: Vec<&str> =
                blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect();
            Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
        }
        Some(_) => Err(bad("system: must be a string or an array of text blocks")),
    }
}

/// Content as blocks: a string is one text block.
fn blocks(content: Option<&Value>) -> Result<Vec<Value>, ProxyError> {
    match content {
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(blocks)) => Ok(blocks.clone()),
        _ => Err(bad("content: must be a string or an array of content blocks")),
    }
}

/// A user turn: its `tool_result` blocks become `tool` messages placed first (so
/// they directly follow the assistant's `tool_calls`), the rest one user message.
fn user_turn(content: Option<&Value>, messages: &mut Vec<Value>) -> Result<(), ProxyError> {
    let mut parts = Vec::new();
    for block in blocks(content)? {
        match block.get("type").and_then(Value::as_str) {
            Some("tool_result") => messages.push(json!({
                "role": "tool",
                "tool_call_id": block.get("tool_use_id").and_then(Value::as_str).unwrap_or_default(),
                "content": tool_result_text(&block),
            })),
            Some("text") => {
                parts.push(json!({"type": "text", "text": block["text"].as_str().unwrap_or_default()}))
            }
            Some("image") => {
                parts.push(json!({"type": "image_url", "image_url": {"url": image_url(&block)?}}))
            }
            Some("document") => {
                if let Some(text) = block.pointer("/source/data").and_then(Value::as_str)
                    && block.pointer("/source/type") == Some(&json!("text"))
                {
                    parts.push(json!({"type": "text", "text": text}));
                }
            }
            // thinking, redacted_thinking, server tool results…: no OpenAI equivalent.
            _ => {}
        }
    }
    if !parts.is_empty() {
        messages.push(json!({"role": "user", "content": user_content(parts)}));
    }
    Ok(())
}

/// Text-only content as one string (what every provider accepts); with images,
/// the parts array.
fn user_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        Value::String(texts.join("\n\n"))
    } else {
        Value::Array(parts)
    }
}

fn image_url(block: &Value) -> Result<String, ProxyError> {
    let source = &block["source"];
    match source["type"].as_str() {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            source["media_type"].as_str().unwrap_or("image/png"),
            source["data"].as_str().unwrap_or_default()
        )),
        Some("url") => {
            source["url"].as_str().map(str::to_owned).ok_or_else(|| bad("image source url missing"))
        }
        _ => Err(bad("image source: type must be \"base64\" or \"url\"")),
    }
}

/// A tool result's text: a string, or its text blocks joined by newlines.
fn tool_result_text(block: &Value) -> String {
    let text = match block.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    };
    match block.get("is_error") == Some(&Value::Bool(true)) && !text.starts_with("Error") {
        true => format!("Error: {text}"),
        false => text,
    }
}

/// An assistant turn: text → `content`, `tool_use` → `tool_calls`; thinking dropped.
fn assistant_turn(content: Option<&Value>) -> Result<Value, ProxyError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks(content)? {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(json!({
                "id": block["id"].as_str().unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": block["name"].as_str().unwrap_or_default(),
                    "arguments": block.get("input").unwrap_or(&json!({})).to_string(),
                },
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        if text.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}

/// `tools`, `tool_choice` and `disable_parallel_tool_use`.
fn tools(request: &Value, out: &mut Map<String, Value>) {
    let tools: Vec<Value> = request
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter(|t| t.get("input_schema").is_some())
                .map(|t| {
                    let mut function = json!({"name": t["name"], "parameters": t["input_schema"]});
                    if let Some(d) = t.get("description").filter(|d| d.is_string()) {
                        function["description"] = d.clone();
                    }
                    json!({"type": "function", "function": function})
                })
                .collect()
        })
        .unwrap_or_default();
    if tools.is_empty() {
        return;
    }
    out.insert("tools".into(), Value::Array(tools));
    let choice = request.get("tool_choice");
    let mapped = match choice.and_then(|c| c["type"].as_str()) {
        Some("auto") => Some(json!("auto")),
        Some("any") => Some(json!("required")),
        Some("none") => Some(json!("none")),
        Some("tool") => {
            Some(json!({"type": "function", "function": {"name": choice.map(|c| c["name"].clone())}}))
        }
        _ => None,
    };
    if let Some(mapped) = mapped {
        out.insert("tool_choice".into(), mapped);
    }
    if choice.and_then(|c| c.get("disable_parallel_tool_use")) == Some(&Value::Bool(true)) {
        out.insert("parallel_tool_calls".into(), false.into());
    }
}

#[cfg(test)]
mod tests;
