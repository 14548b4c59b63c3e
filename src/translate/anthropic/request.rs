//! Anthropic Messages request → OpenAI chat-completions request (SPEC §7).
//!
//! Everything the current Messages API and Claude Code send is accepted. What
//! OpenAI chat has no place for is dropped, never refused: thinking blocks and
//! the `thinking` setting (every type), `output_config.effort`,
//! `context_management`, `container`, `mcp_servers`, `service_tier`, `speed`,
//! `top_k`, `cache_control` anywhere, server tools and Anthropic-defined tools
//! (those without an `input_schema`), server tool blocks, PDF documents, and
//! block types with no content to carry. Text documents and search results
//! become text; `system` turns inside `messages` become `system` messages in
//! place; deferred tools (`defer_loading`) are offered once a `tool_reference`
//! names them.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::errors::ProxyError;
use crate::translate::quoted;

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
/// is a 400 that names the field.
pub fn to_openai(request: &Value, model: &str, options: RequestOptions) -> Result<Value, ProxyError> {
    let max_tokens = request.get("max_tokens").and_then(Value::as_u64).ok_or_else(|| {
        bad("max_tokens: field required (a positive integer, as in Anthropic's Messages API)")
    })?;
    let mut conversation = Conversation::default();
    conversation.translate(request)?;
    let Conversation { messages, referenced_tools, .. } = conversation;

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
    if let Some(schema) = request.pointer("/output_config/format").filter(|f| f["type"] == "json_schema") {
        let format = json!({"name": "output", "schema": schema["schema"], "strict": true});
        out.insert("response_format".into(), json!({"type": "json_schema", "json_schema": format}));
    }
    tools(request, &referenced_tools, &mut out);
    if request.get("stream") == Some(&Value::Bool(true)) {
        out.insert("stream".into(), true.into());
        if options.include_usage {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(Value::Object(out))
}

/// The OpenAI messages being built, in the client's order.
#[derive(Default)]
struct Conversation {
    messages: Vec<Value>,
    /// `system` turns that arrived between an assistant's tool calls and their
    /// results: OpenAI wants `tool` messages right after the `tool_calls`, so
    /// these follow the results instead.
    held: Vec<Value>,
    /// Tool names a `tool_reference` block loaded.
    referenced_tools: BTreeSet<String>,
}

impl Conversation {
    fn translate(&mut self, request: &Value) -> Result<(), ProxyError> {
        let turns = request
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad("messages: at least one message is required"))?;
        if let Some(system) = system_text(request.get("system")).map_err(|m| bad(format!("system: {m}")))? {
            self.messages.push(json!({"role": "system", "content": system}));
        }
        for (i, turn) in turns.iter().enumerate() {
            self.turn(turn).map_err(|m| bad(format!("messages.{i}.{m}")))?;
        }
        self.release_held();
        Ok(())
    }

    /// One turn; errors name the field below `messages.N`.
    fn turn(&mut self, turn: &Value) -> Result<(), String> {
        let content = turn.get("content");
        match turn.get("role").and_then(Value::as_str) {
            Some("user") => self.user_turn(content),
            Some("assistant") => {
                self.release_held();
                let message = assistant_turn(content)?;
                self.messages.extend(message);
                Ok(())
            }
            Some("system") => {
                let Some(text) = system_text(content).map_err(|m| format!("content: {m}"))? else {
                    return Ok(());
                };
                let message = json!({"role": "system", "content": text});
                match self.awaiting_tool_results() {
                    true => self.held.push(message),
                    false => self.messages.push(message),
                }
                Ok(())
            }
            _ => Err(format!(
                "role: must be \"user\", \"assistant\" or \"system\", got {}",
                describe(turn.get("role"))
            )),
        }
    }

    /// `true` right after an assistant message with `tool_calls`.
    fn awaiting_tool_results(&self) -> bool {
        self.messages.last().is_some_and(|m| m["role"] == "assistant" && m.get("tool_calls").is_some())
    }

    fn release_held(&mut self) {
        self.messages.append(&mut self.held);
    }

    /// A user turn: its `tool_result` blocks become `tool` messages placed first
    /// (so they directly follow the assistant's `tool_calls`), the rest one user
    /// message (with any images the tool results returned).
    fn user_turn(&mut self, content: Option<&Value>) -> Result<(), String> {
        let mut parts = Vec::new();
        for (j, block) in blocks(content)?.iter().enumerate() {
            let at = |m: String| format!("content.{j}.{m}");
            match block.get("type").and_then(Value::as_str) {
                Some("tool_result") => {
                    let text = self.tool_result(block, &mut parts).map_err(at)?;
                    let id = block.get("tool_use_id").and_then(Value::as_str).unwrap_or_default();
                    self.messages.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
                }
                _ => content_part(block, &mut parts).map_err(at)?,
            }
        }
        self.release_held();
        if !parts.is_empty() {
            self.messages.push(json!({"role": "user", "content": user_content(parts)}));
        }
        Ok(())
    }

    /// A tool result's text: a string, or its blocks as text joined by
    /// newlines. Images go to `images` (a `tool` message cannot carry them).
    fn tool_result(&mut self, block: &Value, images: &mut Vec<Value>) -> Result<String, String> {
        let text = match block.get("content") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(items)) => {
                let mut texts = Vec::new();
                for (k, item) in items.iter().enumerate() {
                    if item["type"] == "tool_reference"
                        && let Some(name) = item["tool_name"].as_str()
                    {
                        self.referenced_tools.insert(name.to_owned());
                        texts.push(format!("Tool {name} is now available."));
                        continue;
                    }
                    let mut parts = Vec::new();
                    content_part(item, &mut parts).map_err(|m| format!("content.{k}.{m}"))?;
                    for part in parts {
                        match part["text"].as_str() {
                            Some(text) => texts.push(text.to_owned()),
                            None => images.push(part),
                        }
                    }
                }
                texts.join("\n")
            }
            Some(_) => return Err("content: must be a string or an array of content blocks".into()),
        };
        Ok(match block.get("is_error") == Some(&Value::Bool(true)) && !text.starts_with("Error") {
            true => format!("Error: {text}"),
            false => text,
        })
    }
}

/// What a value is, for an error message: its JSON text, or "nothing".
fn describe(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "nothing".into(),
        Some(Value::String(s)) => quoted(s),
        Some(other) => other.to_string(),
    }
}

/// `system` as one string: a string, or text blocks joined by blank lines.
/// Errors name the problem below the field.
fn system_text(system: Option<&Value>) -> Result<Option<String>, String> {
    match system {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(blocks)) => {
            let texts: Vec<&str> =
                blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect();
            Ok((!texts.is_empty()).then(|| texts.join("\n\n")))
        }
        Some(_) => Err("must be a string or an array of text blocks".into()),
    }
}

/// Content as blocks: a string is one text block.
fn blocks(content: Option<&Value>) -> Result<Vec<Value>, String> {
    match content {
        Some(Value::String(s)) => Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(blocks)) => Ok(blocks.clone()),
        _ => Err("content: must be a string or an array of content blocks".into()),
    }
}

/// A content block as OpenAI parts (`text` / `image_url`): documents and search
/// results become text; blocks with nothing OpenAI can carry add nothing.
fn content_part(block: &Value, parts: &mut Vec<Value>) -> Result<(), String> {
    let text = |t: &str| json!({"type": "text", "text": t});
    match block.get("type").and_then(Value::as_str) {
        Some("text") => parts.push(text(block["text"].as_str().unwrap_or_default())),
        Some("image") => parts.push(json!({"type": "image_url", "image_url": {"url": image_url(block)?}})),
        Some("document") => {
            let source = &block["source"];
            let body = match source["type"].as_str() {
                Some("text") => source["data"].as_str().map(str::to_owned),
                Some("content") => Some(texts_of(&source["content"])),
                _ => None, // PDF (base64, url) and Files API documents
            };
            if let Some(body) = body.filter(|b| !b.is_empty()) {
                let title = block["title"].as_str().map(|t| format!("{t}\n\n")).unwrap_or_default();
                parts.push(text(&format!("{title}{body}")));
            }
        }
        Some("search_result") => {
            let title = block["title"].as_str().unwrap_or_default();
            let source = block["source"].as_str().unwrap_or_default();
            parts.push(text(&format!("{title} ({source})\n{}", texts_of(&block["content"]))));
        }
        // thinking, redacted_thinking, server tool blocks, container uploads…
        _ => {}
    }
    Ok(())
}

/// The `text` of every text block in `blocks`, joined by newlines.
fn texts_of(blocks: &Value) -> String {
    let texts: Vec<&str> =
        blocks.as_array().into_iter().flatten().filter_map(|b| b["text"].as_str()).collect();
    texts.join("\n")
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

fn image_url(block: &Value) -> Result<String, String> {
    let source = &block["source"];
    match source["type"].as_str() {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            source["media_type"].as_str().unwrap_or("image/png"),
            source["data"].as_str().unwrap_or_default()
        )),
        Some("url") => source["url"].as_str().map(str::to_owned).ok_or_else(|| "source.url: missing".into()),
        other => Err(format!(
            "source.type: images must be \"base64\" or \"url\" to reach this provider, got {}",
            describe(other.map(Value::from).as_ref())
        )),
    }
}

/// An assistant turn: text → `content`, `tool_use` → `tool_calls`; thinking and
/// server tool blocks dropped. `None` when nothing is left.
fn assistant_turn(content: Option<&Value>) -> Result<Option<Value>, String> {
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
    if calls.is_empty() {
        return Ok((!text.is_empty()).then(|| json!({"role": "assistant", "content": text})));
    }
    let content = if text.is_empty() { Value::Null } else { Value::String(text) };
    Ok(Some(json!({"role": "assistant", "content": content, "tool_calls": calls})))
}

/// `tools`, `tool_choice` and `disable_parallel_tool_use`. Only tools with an
/// `input_schema` (the client runs them) are offered; a deferred one only once
/// a `tool_reference` loaded it.
fn tools(request: &Value, referenced: &BTreeSet<String>, out: &mut Map<String, Value>) {
    let offered = |t: &&Value| {
        let custom = matches!(t.get("type").and_then(Value::as_str), None | Some("custom"));
        let deferred = t.get("defer_loading") == Some(&Value::Bool(true));
        let loaded = t["name"].as_str().is_some_and(|n| referenced.contains(n));
        custom && t.get("input_schema").is_some() && (!deferred || loaded)
    };
    let tools: Vec<Value> = request
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(offered)
        .map(|t| {
            let mut function = json!({"name": t["name"], "parameters": t["input_schema"]});
            if let Some(d) = t.get("description").filter(|d| d.is_string()) {
                function["description"] = d.clone();
            }
            if let Some(strict) = t.get("strict").filter(|s| s.is_boolean()) {
                function["strict"] = strict.clone();
            }
            json!({"type": "function", "function": function})
        })
        .collect();
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
