//! Responses API request → chat request (docs/translation.md, "Responses").
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
//! `client_metadata`. A `compaction_trigger` item asks for a summary, and a
//! `compaction` item the proxy made comes back as context ([`compaction`]).
//! Refused (400, naming the field): what needs state the
//! proxy does not keep (`previous_response_id`, `conversation`, `prompt`,
//! `background`, `item_reference` items), and content no chat provider takes
//! (files, audio, images by file id).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::compaction;
use super::tools::{tool_choice, tools};
use super::{ResponsesContext, ToolNames};
use crate::errors::ProxyError;
use crate::json::{Json, Object, quoted};
use crate::translate::chat::request::{
    AssistantTurn, ChatRequest, Content, ImageUrl, Message, Part, ToolCall, ToolChoice,
};
use crate::translate::{Target, bad};

/// Translates a Responses request for `target`, with the context its answer needs.
pub fn to_chat<'a>(
    request: &Object<'a>,
    target: &Target,
) -> Result<(ChatRequest<'a>, ResponsesContext), ProxyError> {
    for (field, why) in [
        ("previous_response_id", "this proxy keeps no responses; send the whole conversation in input"),
        ("conversation", "this proxy keeps no conversations; send the whole conversation in input"),
        ("prompt", "stored prompt templates live on OpenAI's side; send instructions and input instead"),
    ] {
        if request.has(field) {
            return Err(bad(format!("{field}: not supported for this provider: {why}")));
        }
    }
    if request.bool("background") == Some(true) {
        return Err(bad("background: background responses need stored state this proxy does not keep"));
    }
    let (tools, names) = tools(request)?;
    let mut conversation = Conversation {
        messages: Vec::new(),
        names: &names,
        awaiting: BTreeSet::new(),
        held: Vec::new(),
        reasoning: String::new(),
        compact: false,
    };
    if let Some(instructions) = request.str("instructions").filter(|i| !i.is_empty()) {
        conversation.messages.push(Message::System { content: instructions });
    }
    match request.get("input") {
        None => {}
        Some(input) if input.is_string() => {
            let text = input.as_str().unwrap_or_default();
            conversation.messages.push(Message::User { content: Content::Text(text) });
        }
        Some(input) if input.is_array() => {
            let items = input.array().unwrap_or_default();
            // One chat message per item, give or take: no regrowing on a big input.
            conversation.messages.reserve(items.len());
            for (i, item) in items.iter().enumerate() {
                let item = item.object().unwrap_or_default();
                conversation.item(&item).map_err(|m| bad(format!("input.{i}{m}")))?;
            }
            conversation.release_held();
        }
        Some(_) => return Err(bad("input: must be a string or an array of input items")),
    }
    let compacting = conversation.compact;
    if compacting {
        conversation
            .messages
            .push(Message::User { content: Content::Text(Cow::Borrowed(compaction::PROMPT)) });
    }
    let messages = conversation.messages;
    if messages.is_empty() {
        return Err(bad("input: at least one input item (or instructions) is required"));
    }
    let number = |key: &str| request.get(key).filter(|v| v.is_number()).map(Json::raw);
    let mut out = ChatRequest {
        model: target.model.clone(),
        messages,
        max_tokens: request.u64("max_output_tokens"),
        temperature: number("temperature"),
        top_p: number("top_p"),
        user: request.str("user").or_else(|| request.str("safety_identifier")),
        reasoning_effort: request.object("reasoning").and_then(|r| r.str("effort")),
        ..ChatRequest::default()
    };
    if let Some(parallel) = request.bool("parallel_tool_calls").filter(|_| !tools.is_empty()) {
        out.parallel_tool_calls = Some(parallel);
    }
    out.response_format = response_format(request.object("text").and_then(|t| t.get("format")))?;
    let (tools, choice) = tool_choice(request.get("tool_choice"), tools, &names)?;
    if !tools.is_empty() {
        out.tools = tools;
        // A summary is asked for: the tools stay (the prompt cache), none is called.
        out.tool_choice = if compacting { Some(ToolChoice::Mode("none")) } else { choice };
    }
    if request.bool("stream") == Some(true) {
        out.streaming();
    }
    let context = ResponsesContext {
        model: target.client_model.to_owned(),
        tools: names,
        echo: echo(request),
        compacting,
    };
    Ok((out, context))
}

/// The request fields a `response` object repeats, with the API's defaults.
fn echo(request: &Object) -> Map<String, Value> {
    let defaults = [
        ("instructions", Value::Null),
        ("max_output_tokens", Value::Null),
        ("metadata", json!({})),
        ("parallel_tool_calls", true.into()),
        // Always null: a request that names one is refused.
        ("previous_response_id", Value::Null),
        ("reasoning", json!({"effort": null, "summary": null})),
        ("store", false.into()),
        ("temperature", 1.0.into()),
        ("text", json!({"format": {"type": "text"}})),
        ("tool_choice", "auto".into()),
        ("tools", json!([])),
        ("top_p", 1.0.into()),
        ("truncation", "disabled".into()),
        ("user", Value::Null),
    ];
    defaults
        .into_iter()
        .map(|(key, default)| (key.into(), request.get(key).map_or(default, Json::to_value)))
        .collect()
}

/// The chat messages being built from the input items, in order.
struct Conversation<'a, 'n> {
    messages: Vec<Message<'a>>,
    names: &'n ToolNames,
    /// Calls of the latest assistant turn still waiting for their outputs.
    awaiting: BTreeSet<String>,
    /// Messages that arrived before those outputs: chat wants the `tool`
    /// messages right after the `tool_calls`, so these follow them.
    held: Vec<Message<'a>>,
    /// Reasoning items' text, for the assistant turn that follows them.
    reasoning: String,
    /// A `compaction_trigger` item was seen.
    compact: bool,
}

impl<'a> Conversation<'a, '_> {
    /// One input item; errors name the field below `input.N`.
    fn item(&mut self, item: &Object<'a>) -> Result<(), String> {
        let kind = item.kind();
        match kind.as_deref() {
            Some("message") | None if item.has("role") => self.message(item),
            Some(kind @ ("function_call" | "custom_tool_call")) => {
                let call_id = item.str("call_id").ok_or(".call_id: required")?;
                let name = item.str("name").ok_or(".name: required")?;
                let chat = self.names.chat_name(&name, item.str("namespace").as_deref());
                let arguments = match kind {
                    "custom_tool_call" => {
                        Cow::Owned(json!({"input": item.str("input").unwrap_or_default()}).to_string())
                    }
                    _ => item.str("arguments").unwrap_or(Cow::Borrowed("{}")),
                };
                self.add_call(ToolCall::new(call_id, Cow::Owned(chat), arguments));
                Ok(())
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                let call_id = item.str("call_id").ok_or(".call_id: required")?;
                let (output, images) = output_text(item.get("output")).map_err(|m| format!(".output{m}"))?;
                self.awaiting.remove(call_id.as_ref());
                self.messages.push(Message::Tool { tool_call_id: call_id, content: output.into() });
                if !images.is_empty() {
                    self.held.push(Message::User { content: Content::Parts(images) });
                }
                if self.awaiting.is_empty() {
                    self.release_held();
                }
                Ok(())
            }
            Some("item_reference") => {
                Err(": item_reference needs items stored on OpenAI's side; send the items themselves".into())
            }
            // Reasoning as text goes back with the turn it came with (for
            // providers that want it); encrypted reasoning never leaves.
            Some("reasoning") => {
                for part in item.array("content").unwrap_or_default().iter().filter_map(|p| p.object()) {
                    if part.kind().as_deref() == Some("reasoning_text") {
                        self.reasoning.push_str(&part.str("text").unwrap_or_default());
                    }
                }
                Ok(())
            }
            Some("compaction_trigger") => {
                self.compact = true;
                Ok(())
            }
            // A summary the proxy made is context; anything else (OpenAI's
            // encrypted state) stays with the provider that made it.
            Some("compaction") => {
                if let Some(text) = item.str("encrypted_content").and_then(|c| compaction::context(&c)) {
                    self.push(Message::User { content: Content::Text(Cow::Owned(text)) });
                }
                Ok(())
            }
            // Hosted tools' calls and outputs: no content a chat provider can take.
            _ => Ok(()),
        }
    }

    fn message(&mut self, item: &Object<'a>) -> Result<(), String> {
        let role = item.str("role");
        let role = match role.as_deref() {
            Some("user") => "user",
            Some("assistant") => "assistant",
            // Chat providers other than OpenAI know no `developer` role.
            Some("system") | Some("developer") => "system",
            other => {
                let got = match (other, item.get("role")) {
                    (Some(role), _) => quoted(role),
                    (None, Some(raw)) => raw.text().to_owned(),
                    (None, None) => "nothing".to_owned(),
                };
                return Err(format!(
                    ".role: must be \"user\", \"assistant\", \"system\" or \"developer\", got {got}"
                ));
            }
        };
        let content = content(item.get("content"), role == "user").map_err(|m| format!(".content{m}"))?;
        let message = match (role, content) {
            ("user", content) => Message::User { content },
            ("assistant", content) => Message::assistant(text_of(content).into_owned(), Vec::new())
                .with_reasoning(std::mem::take(&mut self.reasoning)),
            (_, content) => Message::System { content: text_of(content) },
        };
        if role == "assistant" {
            self.release_held();
            self.messages.push(message);
            return Ok(());
        }
        self.push(message);
        Ok(())
    }

    /// A user or system message: after the tool outputs still awaited.
    fn push(&mut self, message: Message<'a>) {
        match self.awaiting.is_empty() {
            true => self.messages.push(message),
            false => self.held.push(message),
        }
    }

    /// Adds a call to the latest assistant message when it is the turn being
    /// built (text, or earlier calls of the same turn), else to a new one.
    fn add_call(&mut self, call: ToolCall<'a>) {
        let same_turn = self.held.is_empty()
            && matches!(self.messages.last(), Some(Message::Assistant(turn))
                if turn.tool_calls.is_empty() || !self.awaiting.is_empty());
        if !same_turn {
            self.release_held();
            let reasoning = std::mem::take(&mut self.reasoning);
            let reasoning_content = (!reasoning.is_empty()).then(|| reasoning.into_boxed_str());
            self.messages.push(Message::Assistant(Box::new(AssistantTurn {
                reasoning_content,
                ..Default::default()
            })));
        }
        self.awaiting.insert(call.id.clone().into_owned());
        if let Some(Message::Assistant(turn)) = self.messages.last_mut() {
            turn.tool_calls.push(call);
        }
    }

    fn release_held(&mut self) {
        self.awaiting.clear();
        self.messages.append(&mut self.held);
    }
}

/// Text content as one string (only user messages may carry images, so the
/// others are always text).
fn text_of(content: Content) -> Cow<str> {
    match content {
        Content::Text(text) => text,
        Content::Parts(_) => Cow::Borrowed(""),
    }
}

/// Message content as chat content: text-only as one string; a user message
/// with images as parts. Errors name the part below `.content`.
fn content(content: Option<Json<'_>>, user: bool) -> Result<Content<'_>, String> {
    let Some(content) = content else { return Ok(Content::Text(Cow::Borrowed(""))) };
    if let Some(text) = content.as_str() {
        return Ok(Content::Text(text));
    }
    let parts = content.array().ok_or(": must be a string or an array of content parts")?;
    let mut out = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let part = part.object().unwrap_or_default();
        match part.kind().as_deref() {
            Some("input_text" | "output_text" | "text") => {
                out.push(Part::Text { text: part.str("text").unwrap_or_default() })
            }
            Some("refusal") => out.push(Part::Text { text: part.str("refusal").unwrap_or_default() }),
            Some("input_image") if user => {
                out.push(Part::ImageUrl { image_url: image_url(&part).map_err(|m| format!(".{j}{m}"))? })
            }
            Some(kind @ ("input_file" | "input_audio" | "input_image")) => {
                return Err(format!(
                    ".{j}.type: {kind} cannot be carried to this provider's chat API; send text (or input_image in a user message)"
                ));
            }
            _ => {} // reasoning and unknown parts: nothing to carry
        }
    }
    Ok(Content::from_parts(out))
}

fn image_url<'a>(part: &Object<'a>) -> Result<ImageUrl<'a>, String> {
    let Some(url) = part.str("image_url") else {
        return Err(".image_url: required (images by file_id need OpenAI's file store)".into());
    };
    Ok(ImageUrl { url, detail: part.str("detail") })
}

/// A tool output's text, and the image parts it carried (for a user message,
/// since a `tool` message cannot hold images).
fn output_text<'a>(output: Option<Json<'a>>) -> Result<(String, Vec<Part<'a>>), String> {
    let Some(output) = output else { return Ok((String::new(), Vec::new())) };
    if let Some(text) = output.as_str() {
        return Ok((text.into_owned(), Vec::new()));
    }
    let Some(parts) = output.array() else { return Ok((output.text().to_owned(), Vec::new())) };
    let (mut texts, mut images) = (Vec::new(), Vec::new());
    for (j, part) in parts.iter().enumerate() {
        let part = part.object().unwrap_or_default();
        match part.kind().as_deref() {
            Some("input_image") => {
                images.push(Part::ImageUrl { image_url: image_url(&part).map_err(|m| format!(".{j}{m}"))? })
            }
            _ => texts.extend(part.str("text")),
        }
    }
    Ok((texts.join("\n"), images))
}

/// `text.format` as chat's `response_format`.
fn response_format(format: Option<Json>) -> Result<Option<Value>, ProxyError> {
    let Some(format) = format.and_then(Json::object) else { return Ok(None) };
    match format.kind().as_deref() {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    schema.insert(key.into(), v.to_value());
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
