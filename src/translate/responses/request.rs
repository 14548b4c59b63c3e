//! Responses API request → OpenAI chat-completions request.
//!
//! Carried: `input` (a string, or items: messages of every role, function and
//! custom tool calls with their outputs, in order), `instructions`, `function`,
//! `custom` and `namespace` tools, `tool_choice` in every form,
//! `parallel_tool_calls`, `max_output_tokens`, `temperature`, `top_p`,
//! `text.format`, `reasoning.effort` (where the provider takes it),
//! `user` / `safety_identifier`, `stream`. Echoed in the answer, not sent:
//! `metadata`, `store`, `reasoning`, `text`, `truncation`. Dropped: hosted tools
//! (the proxy cannot run them), `reasoning` items, `include`, `prompt_cache_key`,
//! `service_tier`, `top_logprobs`, `max_tool_calls`, `context_management`,
//! `client_metadata`. Refused (400, naming the field): what needs state the
//! proxy does not keep (`previous_response_id`, `conversation`, `prompt`,
//! `background`, `item_reference` items), and content no chat provider takes
//! (files, audio, images by file id).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::tools::{tool_choice, tools};
use super::{ResponsesContext, ToolNames};
use crate::errors::ProxyError;
use crate::translate::quoted;

/// Options that depend on the route, not on the request.
#[derive(Debug, Clone, Copy)]
pub struct ChatOptions {
    /// Ask for `stream_options.include_usage` when streaming (not for Mistral).
    pub include_usage: bool,
    /// The provider takes `reasoning_effort`.
    pub reasoning_effort: bool,
}

fn bad(message: impl Into<String>) -> ProxyError {
    ProxyError::BadRequest(message.into())
}

/// Translates a Responses request; `model` is the upstream model and
/// `client_model` the model as the client sent it.
pub fn to_chat(
    request: &Value,
    model: &str,
    client_model: &str,
    options: ChatOptions,
) -> Result<(Value, ResponsesContext), ProxyError> {
    for (field, why) in [
        ("previous_response_id", "this proxy keeps no responses; send the whole conversation in input"),
        ("conversation", "this proxy keeps no conversations; send the whole conversation in input"),
        ("prompt", "stored prompt templates live on OpenAI's side; send instructions and input instead"),
    ] {
        if request.get(field).is_some_and(|v| !v.is_null()) {
            return Err(bad(format!("{field}: not supported for this provider: {why}")));
        }
    }
    if request.get("background") == Some(&Value::Bool(true)) {
        return Err(bad("background: background responses need stored state this proxy does not keep"));
    }
    let (tools, names) = tools(request)?;
    let mut messages = Vec::new();
    if let Some(instructions) = request.get("instructions").and_then(Value::as_str).filter(|i| !i.is_empty())
    {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    let mut conversation =
        Conversation { messages, names: &names, awaiting: BTreeSet::new(), held: Vec::new() };
    match request.get("input") {
        Some(Value::String(text)) => conversation.messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                conversation.item(item).map_err(|m| bad(format!("input.{i}{m}")))?;
            }
            conversation.release_held();
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(bad("input: must be a string or an array of input items")),
    }
    let messages = conversation.messages;
    if messages.is_empty() {
        return Err(bad("input: at least one input item (or instructions) is required"));
    }

    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("messages".into(), Value::Array(messages));
    if let Some(max) = request.get("max_output_tokens").filter(|v| v.is_u64()) {
        out.insert("max_tokens".into(), max.clone());
    }
    for key in ["temperature", "top_p"] {
        if let Some(v) = request.get(key).filter(|v| v.is_number()) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(parallel) = request.get("parallel_tool_calls").filter(|v| v.is_boolean())
        && !tools.is_empty()
    {
        out.insert("parallel_tool_calls".into(), parallel.clone());
    }
    if let Some(format) = response_format(request.pointer("/text/format"))? {
        out.insert("response_format".into(), format);
    }
    if options.reasoning_effort
        && let Some(effort) = request.pointer("/reasoning/effort").filter(|e| e.is_string())
    {
        out.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(user) =
        request.get("user").or_else(|| request.get("safety_identifier")).filter(|u| u.is_string())
    {
        out.insert("user".into(), user.clone());
    }
    let (tools, choice) = tool_choice(request.get("tool_choice"), tools, &names)?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = choice {
            out.insert("tool_choice".into(), choice);
        }
    }
    if request.get("stream") == Some(&Value::Bool(true)) {
        out.insert("stream".into(), true.into());
        if options.include_usage {
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    let context = ResponsesContext { model: client_model.to_owned(), tools: names, echo: echo(request) };
    Ok((Value::Object(out), context))
}

/// The request fields a `response` object repeats, with the API's defaults.
fn echo(request: &Value) -> Map<String, Value> {
    let mut echo = Map::new();
    let field =
        |key: &str, default: Value| request.get(key).filter(|v| !v.is_null()).cloned().unwrap_or(default);
    echo.insert("instructions".into(), field("instructions", Value::Null));
    echo.insert("max_output_tokens".into(), field("max_output_tokens", Value::Null));
    echo.insert("metadata".into(), field("metadata", json!({})));
    echo.insert("parallel_tool_calls".into(), field("parallel_tool_calls", true.into()));
    echo.insert("previous_response_id".into(), Value::Null);
    echo.insert("reasoning".into(), field("reasoning", json!({"effort": null, "summary": null})));
    echo.insert("store".into(), field("store", false.into()));
    echo.insert("temperature".into(), field("temperature", 1.0.into()));
    echo.insert("text".into(), field("text", json!({"format": {"type": "text"}})));
    echo.insert("tool_choice".into(), field("tool_choice", "auto".into()));
    echo.insert("tools".into(), field("tools", json!([])));
    echo.insert("top_p".into(), field("top_p", 1.0.into()));
    echo.insert("truncation".into(), field("truncation", "disabled".into()));
    echo.insert("user".into(), field("user", Value::Null));
    echo
}

/// The chat messages being built from the input items, in order.
struct Conversation<'a> {
    messages: Vec<Value>,
    names: &'a ToolNames,
    /// Calls of the latest assistant turn still waiting for their outputs.
    awaiting: BTreeSet<String>,
    /// Messages that arrived before those outputs: chat wants the `tool`
    /// messages right after the `tool_calls`, so these follow them.
    held: Vec<Value>,
}

impl Conversation<'_> {
    /// One input item; errors name the field below `input.N`.
    fn item(&mut self, item: &Value) -> Result<(), String> {
        let kind = item.get("type").and_then(Value::as_str);
        match kind {
            Some("message") | None if item.get("role").is_some() => self.message(item),
            Some("function_call") | Some("custom_tool_call") => {
                let call_id = text(item, "call_id").ok_or(".call_id: required")?;
                let name = text(item, "name").ok_or(".name: required")?;
                let chat = self.names.chat_name(name, text(item, "namespace"));
                let arguments = match kind {
                    Some("custom_tool_call") => {
                        json!({"input": text(item, "input").unwrap_or_default()}).to_string()
                    }
                    _ => text(item, "arguments").unwrap_or("{}").to_owned(),
                };
                let call = json!({"id": call_id, "type": "function", "function": {"name": chat, "arguments": arguments}});
                self.add_call(call_id, call);
                Ok(())
            }
            Some("function_call_output") | Some("custom_tool_call_output") => {
                let call_id = text(item, "call_id").ok_or(".call_id: required")?;
                let (output, images) = output_text(item.get("output")).map_err(|m| format!(".output{m}"))?;
                self.messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
                if !images.is_empty() {
                    self.held.push(json!({"role": "user", "content": images}));
                }
                self.awaiting.remove(call_id);
                if self.awaiting.is_empty() {
                    self.release_held();
                }
                Ok(())
            }
            Some("item_reference") => {
                Err(": item_reference needs items stored on OpenAI's side; send the items themselves".into())
            }
            // Reasoning, compaction, and hosted tools' calls and outputs: no
            // content a chat provider can take.
            _ => Ok(()),
        }
    }

    fn message(&mut self, item: &Value) -> Result<(), String> {
        let role = match item.get("role").and_then(Value::as_str) {
            Some("user") => "user",
            Some("assistant") => "assistant",
            // Chat providers other than OpenAI know no `developer` role.
            Some("system") | Some("developer") => "system",
            other => {
                let got = other.map_or_else(|| "nothing".to_owned(), quoted);
                return Err(format!(
                    ".role: must be \"user\", \"assistant\", \"system\" or \"developer\", got {got}"
                ));
            }
        };
        let content = content(item.get("content"), role == "user").map_err(|m| format!(".content{m}"))?;
        let message = json!({"role": role, "content": content});
        if role == "assistant" {
            self.release_held();
            self.messages.push(message);
            return Ok(());
        }
        match self.awaiting.is_empty() {
            true => self.messages.push(message),
            false => self.held.push(message),
        }
        Ok(())
    }

    /// Adds a call to the latest assistant message when it is the turn being
    /// built (text, or earlier calls of the same turn), else to a new one.
    fn add_call(&mut self, call_id: &str, call: Value) {
        let same_turn = self.held.is_empty()
            && self.messages.last().is_some_and(|m| {
                m["role"] == "assistant" && (m.get("tool_calls").is_none() || !self.awaiting.is_empty())
            });
        if !same_turn {
            self.release_held();
            self.messages.push(json!({"role": "assistant", "content": null}));
        }
        if let Some(last) = self.messages.last_mut() {
            match last.get_mut("tool_calls").and_then(Value::as_array_mut) {
                Some(calls) => calls.push(call),
                None => last["tool_calls"] = Value::Array(vec![call]),
            }
        }
        self.awaiting.insert(call_id.to_owned());
    }

    fn release_held(&mut self) {
        self.awaiting.clear();
        self.messages.append(&mut self.held);
    }
}

fn text<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// Message content as chat content: text-only as one string; a user message
/// with images as parts. Errors name the part below `.content`.
fn content(content: Option<&Value>, user: bool) -> Result<Value, String> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(Value::String(s.clone())),
        Some(Value::Array(parts)) => parts,
        None | Some(Value::Null) => return Ok(Value::String(String::new())),
        Some(_) => return Err(": must be a string or an array of content parts".into()),
    };
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part.get("type").and_then(Value::as_str) {
            Some("input_text") | Some("output_text") | Some("text") => {
                out.push(json!({"type": "text", "text": text(part, "text").unwrap_or_default()}))
            }
            Some("refusal") => {
                out.push(json!({"type": "text", "text": text(part, "refusal").unwrap_or_default()}))
            }
            Some("input_image") if user => out.push(image_part(part).map_err(|m| format!(".{j}{m}"))?),
            Some(kind @ ("input_file" | "input_audio" | "input_image")) => {
                return Err(format!(
                    ".{j}.type: {kind} cannot be carried to this provider's chat API; send text (or input_image in a user message)"
                ));
            }
            _ => {} // reasoning and unknown parts: nothing to carry
        }
    }
    if out.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = out.iter().filter_map(|p| p["text"].as_str()).collect();
        return Ok(Value::String(texts.join("\n\n")));
    }
    Ok(Value::Array(out))
}

fn image_part(part: &Value) -> Result<Value, String> {
    let Some(url) = text(part, "image_url") else {
        return Err(".image_url: required (images by file_id need OpenAI's file store)".into());
    };
    let mut image = json!({"url": url});
    if let Some(detail) = part.get("detail").filter(|d| d.is_string()) {
        image["detail"] = detail.clone();
    }
    Ok(json!({"type": "image_url", "image_url": image}))
}

/// A tool output's text, and the image parts it carried (for a user message,
/// since a `tool` message cannot hold images).
fn output_text(output: Option<&Value>) -> Result<(String, Vec<Value>), String> {
    match output {
        Some(Value::String(s)) => Ok((s.clone(), Vec::new())),
        Some(Value::Array(parts)) => {
            let (mut texts, mut images) = (Vec::new(), Vec::new());
            for (j, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("input_image") => images.push(image_part(part).map_err(|m| format!(".{j}{m}"))?),
                    _ => texts.extend(text(part, "text").map(str::to_owned)),
                }
            }
            Ok((texts.join("\n"), images))
        }
        None | Some(Value::Null) => Ok((String::new(), Vec::new())),
        Some(other) => Ok((other.to_string(), Vec::new())),
    }
}

/// `text.format` as chat's `response_format`.
fn response_format(format: Option<&Value>) -> Result<Option<Value>, ProxyError> {
    let Some(format) = format.filter(|f| !f.is_null()) else { return Ok(None) };
    match format.get("type").and_then(Value::as_str) {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            schema.entry("name").or_insert_with(|| "output".into());
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some(other) => Err(bad(format!("text.format.type: unknown format {}", quoted(other)))),
    }
}

#[cfg(test)]
mod tests;
