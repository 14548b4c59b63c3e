//! Anthropic Messages request → chat request (docs/translation.md, "Messages").
//!
//! Everything the current Messages API and Claude Code send is accepted. What
//! chat has no place for is dropped, never refused: thinking blocks and the
//! `thinking` setting (every type), `output_config.effort`,
//! `context_management`, `container`, `mcp_servers`, `service_tier`, `speed`,
//! `top_k`, `cache_control` anywhere, server tools and Anthropic-defined tools
//! (those without an `input_schema`: the model is told they are unavailable
//! and the response says so), server tool blocks, PDF documents, and
//! block types with no content to carry. Text documents and search results
//! become text; `system` turns inside `messages` become `system` messages in
//! place; deferred tools (`defer_loading`) are offered once a `tool_reference`
//! names them.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::json;

use crate::errors::ProxyError;
use crate::json::{Json, Object, quoted};
use crate::translate::chat::request::{
    ChatRequest, Content, Function, ImageUrl, Message, Part, Tool, ToolCall, ToolChoice,
};
use crate::translate::{Target, bad};

/// Translates a Messages request for `target`. Invalid input (no
/// `max_tokens`, no messages, unknown roles or blocks of the wrong shape) is a
/// 400 that names the field.
pub fn to_chat<'a>(request: &Object<'a>, target: &Target) -> Result<ChatRequest<'a>, ProxyError> {
    let max_tokens = request.u64("max_tokens").ok_or_else(|| {
        bad("max_tokens: field required (a positive integer, as in Anthropic's Messages API)")
    })?;
    let mut conversation = Conversation::default();
    conversation.translate(request)?;
    let Conversation { messages, referenced_tools, .. } = conversation;
    let mut out = ChatRequest {
        model: target.model.clone(),
        messages,
        max_tokens: Some(max_tokens),
        temperature: request.get("temperature").filter(|v| v.is_number()).map(Json::raw),
        top_p: request.get("top_p").filter(|v| v.is_number()).map(Json::raw),
        stop: request
            .get("stop_sequences")
            .filter(|s| s.array().is_some_and(|a| !a.is_empty()))
            .map(Json::raw),
        user: request.object("metadata").and_then(|m| m.str("user_id")),
        ..ChatRequest::default()
    };
    let format = request.object("output_config").and_then(|c| c.object("format"));
    if let Some(format) = format.filter(|f| f.kind().as_deref() == Some("json_schema")) {
        let schema = format.get("schema").map(Json::to_value).unwrap_or_default();
        let format = json!({"name": "output", "schema": schema, "strict": true});
        out.response_format = Some(json!({"type": "json_schema", "json_schema": format}));
    }
    tools(request, &referenced_tools, &mut out);
    if !out.unavailable_tools.is_empty() {
        say_unavailable(&mut out);
    }
    if request.bool("stream") == Some(true) {
        out.streaming();
    }
    Ok(out)
}

/// Tells the model that the tools the client offered but the provider cannot
/// run are not there, so it does not make up their results (a search that
/// never ran; docs/translation.md, "Messages"): added to the first system
/// message, where every provider takes it.
fn say_unavailable(out: &mut ChatRequest) {
    let note = unavailable_note(&out.unavailable_tools);
    match out.messages.first_mut() {
        Some(Message::System { content }) => *content = Cow::Owned(format!("{content}\n\n{note}")),
        _ => out.messages.insert(0, Message::System { content: Cow::Owned(note) }),
    }
}

fn unavailable_note(tools: &[Cow<str>]) -> String {
    format!(
        "Note: these tools are not available with this model, because only Anthropic's API runs \
         them: {}. Nothing was searched, fetched or run through them for this request; do not \
         answer as if it had been, say that the tool is unavailable.",
        tools.join(", ")
    )
}

/// The chat messages being built, in the client's order.
#[derive(Default)]
struct Conversation<'a> {
    messages: Vec<Message<'a>>,
    /// `system` turns that arrived between an assistant's tool calls and their
    /// results: chat wants `tool` messages right after the `tool_calls`, so
    /// these follow the results instead.
    held: Vec<Message<'a>>,
    /// Tool names a `tool_reference` block loaded.
    referenced_tools: BTreeSet<Cow<'a, str>>,
}

impl<'a> Conversation<'a> {
    fn translate(&mut self, request: &Object<'a>) -> Result<(), ProxyError> {
        let turns = request
            .array("messages")
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad("messages: at least one message is required"))?;
        // One chat message per turn, give or take: no regrowing on a big conversation.
        self.messages.reserve(turns.len() + 1);
        if let Some(system) = system_text(request.get("system")).map_err(|m| bad(format!("system: {m}")))? {
            self.messages.push(Message::System { content: system });
        }
        for (i, turn) in turns.iter().enumerate() {
            let turn = turn.object().unwrap_or_default();
            self.turn(&turn).map_err(|m| bad(format!("messages.{i}.{m}")))?;
        }
        self.release_held();
        Ok(())
    }

    /// One turn; errors name the field below `messages.N`.
    fn turn(&mut self, turn: &Object<'a>) -> Result<(), String> {
        let content = turn.get("content");
        match turn.str("role").as_deref() {
            Some("user") => self.user_turn(content),
            Some("assistant") => {
                self.release_held();
                self.messages.extend(assistant_turn(content)?);
                Ok(())
            }
            Some("system") => {
                let Some(text) = system_text(content).map_err(|m| format!("content: {m}"))? else {
                    return Ok(());
                };
                let message = Message::System { content: text };
                match self.messages.last().is_some_and(Message::calls_tools) {
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

    fn release_held(&mut self) {
        self.messages.append(&mut self.held);
    }

    /// A user turn: its `tool_result` blocks become `tool` messages placed first
    /// (so they directly follow the assistant's `tool_calls`), the rest one user
    /// message (with any images the tool results returned).
    fn user_turn(&mut self, content: Option<Json<'a>>) -> Result<(), String> {
        let mut parts = Vec::new();
        for (j, block) in blocks(content)?.iter().enumerate() {
            let at = |m: String| format!("content.{j}.{m}");
            match block {
                Block::Text(text) => parts.push(Part::Text { text: text.clone() }),
                Block::Json(block) if block.kind().as_deref() == Some("tool_result") => {
                    let text = self.tool_result(block, &mut parts).map_err(at)?;
                    let id = block.str("tool_use_id").unwrap_or_default();
                    self.messages.push(Message::Tool { tool_call_id: id, content: text.into() });
                }
                Block::Json(block) => content_part(block, &mut parts).map_err(at)?,
            }
        }
        self.release_held();
        if !parts.is_empty() {
            self.messages.push(Message::User { content: Content::from_parts(parts) });
        }
        Ok(())
    }

    /// A tool result's text: a string, or its blocks as text joined by
    /// newlines. Images go to `images` (a `tool` message cannot carry them).
    fn tool_result(&mut self, block: &Object<'a>, images: &mut Vec<Part<'a>>) -> Result<String, String> {
        let content = block.get("content");
        let text = match content {
            None => String::new(),
            Some(c) if c.is_string() => c.as_str().unwrap_or_default().into_owned(),
            Some(c) if c.is_array() => {
                let mut texts = Vec::new();
                for (k, item) in c.array().unwrap_or_default().iter().enumerate() {
                    let item = item.object().unwrap_or_default();
                    if item.kind().as_deref() == Some("tool_reference")
                        && let Some(name) = item.str("tool_name")
                    {
                        texts.push(format!("Tool {name} is now available."));
                        self.referenced_tools.insert(name);
                        continue;
                    }
                    let mut parts = Vec::new();
                    content_part(&item, &mut parts).map_err(|m| format!("content.{k}.{m}"))?;
                    for part in parts {
                        match part {
                            Part::Text { text } => texts.push(text.into_owned()),
                            image => images.push(image),
                        }
                    }
                }
                texts.join("\n")
            }
            Some(_) => return Err("content: must be a string or an array of content blocks".into()),
        };
        Ok(match block.bool("is_error") == Some(true) && !text.starts_with("Error") {
            true => format!("Error: {text}"),
            false => text,
        })
    }
}

/// What a value is, for an error message: its JSON text, or "nothing".
fn describe(value: Option<Json>) -> String {
    match value {
        None => "nothing".into(),
        Some(v) => v.as_str().map_or_else(|| v.text().to_owned(), |s| quoted(&s)),
    }
}

/// `system` as one string: a string, or text blocks joined by blank lines.
/// Errors name the problem below the field.
fn system_text<'a>(system: Option<Json<'a>>) -> Result<Option<Cow<'a, str>>, String> {
    let Some(system) = system else { return Ok(None) };
    if let Some(text) = system.as_str() {
        return Ok(Some(text));
    }
    let blocks = system.array().ok_or("must be a string or an array of text blocks")?;
    let texts: Vec<Cow<str>> = blocks.iter().filter_map(|b| b.object()?.str("text")).collect();
    Ok((!texts.is_empty()).then(|| Cow::Owned(texts.join("\n\n"))))
}

/// One content block: a string content is one text block.
enum Block<'a> {
    Text(Cow<'a, str>),
    Json(Object<'a>),
}

/// Content as blocks.
fn blocks<'a>(content: Option<Json<'a>>) -> Result<Vec<Block<'a>>, String> {
    let wrong = || "content: must be a string or an array of content blocks".to_owned();
    let content = content.ok_or_else(wrong)?;
    if let Some(text) = content.as_str() {
        return Ok(vec![Block::Text(text)]);
    }
    let items = content.array().ok_or_else(wrong)?;
    Ok(items.iter().map(|b| Block::Json(b.object().unwrap_or_default())).collect())
}

/// A content block as chat parts (`text` / `image_url`): documents and search
/// results become text; blocks with nothing chat can carry add nothing.
fn content_part<'a>(block: &Object<'a>, parts: &mut Vec<Part<'a>>) -> Result<(), String> {
    match block.kind().as_deref() {
        Some("text") => parts.push(Part::Text { text: block.str("text").unwrap_or_default() }),
        Some("image") => parts.push(Part::ImageUrl { image_url: image_url(block)? }),
        Some("document") => {
            let source = block.object("source").unwrap_or_default();
            let body = match source.kind().as_deref() {
                Some("text") => source.str("data").map(Cow::into_owned),
                Some("content") => Some(texts_of(source.get("content"))),
                _ => None, // PDF (base64, url) and Files API documents
            };
            if let Some(body) = body.filter(|b| !b.is_empty()) {
                let title = block.str("title").map(|t| format!("{t}\n\n")).unwrap_or_default();
                parts.push(Part::Text { text: Cow::Owned(format!("{title}{body}")) });
            }
        }
        Some("search_result") => {
            let title = block.str("title").unwrap_or_default();
            let source = block.str("source").unwrap_or_default();
            let text = format!("{title} ({source})\n{}", texts_of(block.get("content")));
            parts.push(Part::Text { text: Cow::Owned(text) });
        }
        // thinking, redacted_thinking, server tool blocks, container uploads…
        _ => {}
    }
    Ok(())
}

/// The `text` of every text block in `blocks`, joined by newlines.
fn texts_of(blocks: Option<Json>) -> String {
    let items = blocks.and_then(Json::array).unwrap_or_default();
    let texts: Vec<Cow<str>> = items.iter().filter_map(|b| b.object()?.str("text")).collect();
    texts.join("\n")
}

fn image_url<'a>(block: &Object<'a>) -> Result<ImageUrl<'a>, String> {
    let source = block.object("source").unwrap_or_default();
    let url = match source.kind().as_deref() {
        Some("base64") => Cow::Owned(format!(
            "data:{};base64,{}",
            source.str("media_type").unwrap_or(Cow::Borrowed("image/png")),
            source.str("data").unwrap_or_default()
        )),
        Some("url") => source.str("url").ok_or("source.url: missing")?,
        other => {
            return Err(format!(
                "source.type: images must be \"base64\" or \"url\" to reach this provider, got {}",
                other.map_or_else(|| "nothing".to_owned(), quoted)
            ));
        }
    };
    Ok(ImageUrl { url, detail: None })
}

/// An assistant turn: text → `content`, `tool_use` → `tool_calls`; thinking and
/// server tool blocks dropped. `None` when nothing is left.
fn assistant_turn<'a>(content: Option<Json<'a>>) -> Result<Option<Message<'a>>, String> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in blocks(content)? {
        match block {
            Block::Text(t) => text.push_str(&t),
            Block::Json(block) => match block.kind().as_deref() {
                Some("text") => text.push_str(&block.str("text").unwrap_or_default()),
                // Reasoning the proxy turned into a thinking block (no
                // signature): it goes back to providers that want it. A signed
                // one is Anthropic's own and never leaves for another provider.
                Some("thinking") if block.str("signature").is_none_or(|s| s.is_empty()) => {
                    reasoning.push_str(&block.str("thinking").unwrap_or_default())
                }
                Some("tool_use") => calls.push(ToolCall::new(
                    block.str("id").unwrap_or_default(),
                    block.str("name").unwrap_or_default(),
                    Cow::Borrowed(block.get("input").map_or("{}", Json::text)),
                )),
                _ => {}
            },
        }
    }
    Ok((!calls.is_empty() || !text.is_empty())
        .then(|| Message::assistant(text, calls).with_reasoning(reasoning)))
}

/// `tools`, `tool_choice` and `disable_parallel_tool_use`. Only tools with an
/// `input_schema` (the client runs them) are offered; a deferred one only once
/// a `tool_reference` loaded it.
fn tools<'a>(request: &Object<'a>, referenced: &BTreeSet<Cow<'a, str>>, out: &mut ChatRequest<'a>) {
    for tool in request.array("tools").unwrap_or_default() {
        let tool = tool.object().unwrap_or_default();
        let custom = matches!(tool.kind().as_deref(), None | Some("custom"));
        let deferred = tool.bool("defer_loading") == Some(true);
        let name = tool.str("name").unwrap_or_default();
        let Some(schema) = tool.get("input_schema").filter(|_| custom) else {
            // A server tool (web search, fetch, code execution) or an
            // Anthropic-defined one: nothing a chat provider can run.
            out.unavailable_tools.push(if name.is_empty() { tool.kind().unwrap_or_default() } else { name });
            continue;
        };
        if deferred && !referenced.contains(&name) {
            continue;
        }
        out.tools.push(Tool::function(Function {
            name,
            description: tool.str("description"),
            parameters: Cow::Borrowed(schema.raw()),
            strict: tool.bool("strict"),
        }));
    }
    if out.tools.is_empty() {
        return;
    }
    let choice = request.object("tool_choice").unwrap_or_default();
    out.tool_choice = match choice.kind().as_deref() {
        Some("auto") => Some(ToolChoice::Mode("auto")),
        Some("any") => Some(ToolChoice::Mode("required")),
        Some("none") => Some(ToolChoice::Mode("none")),
        Some("tool") => Some(ToolChoice::function(choice.str("name"))),
        _ => None,
    };
    if choice.bool("disable_parallel_tool_use") == Some(true) {
        out.parallel_tool_calls = Some(false);
    }
}

#[cfg(test)]
mod tests;
