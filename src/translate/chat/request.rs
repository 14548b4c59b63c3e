//! The chat-completions request every translated dialect builds: typed, so a
//! dialect says what it means and the provider's quirks are applied in one
//! place ([`ChatRequest::for_provider`]). Strings and schemas are borrowed
//! from the client's body where they can be, so a big request is not copied.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::providers::Quirks;

/// A chat-completions request.
#[derive(Debug, Default, Serialize)]
pub struct ChatRequest<'a> {
    /// Tools the client offered that this request cannot carry (server
    /// tools): said in the response, never sent.
    #[serde(skip)]
    pub unavailable_tools: Vec<Cow<'a, str>>,
    pub model: String,
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Numbers as the client wrote them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
pub struct StreamOptions {
    pub include_usage: bool,
}

impl ChatRequest<'_> {
    /// Streams, asking for the final usage chunk (dropped again by
    /// [`ChatRequest::for_provider`] where the provider rejects it).
    pub fn streaming(&mut self) {
        self.stream = true;
        self.stream_options = Some(StreamOptions { include_usage: true });
    }

    /// The request as `quirks` allow: every provider-specific change is here.
    pub fn for_provider(mut self, quirks: &Quirks) -> Self {
        if !quirks.include_usage {
            self.stream_options = None;
        }
        if !quirks.reasoning_effort {
            self.reasoning_effort = None;
        }
        if !quirks.reasoning_back {
            for message in &mut self.messages {
                if let Message::Assistant(turn) = message {
                    turn.reasoning_content = None;
                }
            }
        }
        self
    }
}

/// One chat message. Kept small (48 bytes): a conversation of many short
/// turns holds one per turn (docs/security.md, "Memory is bounded").
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message<'a> {
    System {
        content: Cow<'a, str>,
    },
    User {
        content: Content<'a>,
    },
    /// Boxed: fewer than the other turns, and the largest.
    Assistant(Box<AssistantTurn<'a>>),
    Tool {
        tool_call_id: Cow<'a, str>,
        content: Box<str>,
    },
}

/// An assistant turn.
#[derive(Debug, Default, Serialize)]
pub struct AssistantTurn<'a> {
    /// `null` for a turn of tool calls only.
    pub content: Option<Box<str>>,
    /// The reasoning the provider gave with this turn, sent back to providers
    /// that ask for it (DeepSeek's thinking mode: `Quirks::reasoning_back`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<Box<str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall<'a>>,
}

impl<'a> Message<'a> {
    /// An assistant turn of text (none: `null`) and calls.
    pub fn assistant(text: String, tool_calls: Vec<ToolCall<'a>>) -> Message<'a> {
        let content = (!text.is_empty() || tool_calls.is_empty()).then(|| text.into_boxed_str());
        Message::Assistant(Box::new(AssistantTurn { content, reasoning_content: None, tool_calls }))
    }

    /// The turn with the reasoning it came with (none when empty).
    pub fn with_reasoning(mut self, reasoning: String) -> Message<'a> {
        if let Message::Assistant(turn) = &mut self
            && !reasoning.is_empty()
        {
            turn.reasoning_content = Some(reasoning.into_boxed_str());
        }
        self
    }

    /// `true` for an assistant turn with tool calls.
    pub fn calls_tools(&self) -> bool {
        matches!(self, Message::Assistant(turn) if !turn.tool_calls.is_empty())
    }
}

/// User content: text only as one string (what every provider accepts), else parts.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

impl<'a> Content<'a> {
    /// Text-only parts as one string joined by blank lines; with an image, the parts.
    pub fn from_parts(parts: Vec<Part<'a>>) -> Content<'a> {
        if !parts.iter().all(|p| matches!(p, Part::Text { .. })) {
            return Content::Parts(parts);
        }
        let mut texts = parts.into_iter().filter_map(|p| match p {
            Part::Text { text } => Some(text),
            Part::ImageUrl { .. } => None,
        });
        let first = texts.next().unwrap_or_default();
        Content::Text(texts.fold(first, |all, text| Cow::Owned(format!("{all}\n\n{text}"))))
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part<'a> {
    Text { text: Cow<'a, str> },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Debug, Serialize)]
pub struct ImageUrl<'a> {
    pub url: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Cow<'a, str>>,
}

/// A call in an assistant turn.
#[derive(Debug, Serialize)]
pub struct ToolCall<'a> {
    pub id: Cow<'a, str>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: CalledFunction<'a>,
}

#[derive(Debug, Serialize)]
pub struct CalledFunction<'a> {
    pub name: Cow<'a, str>,
    /// The arguments as JSON text.
    pub arguments: Cow<'a, str>,
}

impl<'a> ToolCall<'a> {
    pub fn new(id: Cow<'a, str>, name: Cow<'a, str>, arguments: Cow<'a, str>) -> ToolCall<'a> {
        ToolCall { id, kind: "function", function: CalledFunction { name, arguments } }
    }
}

/// A function offered to the model.
#[derive(Debug, Serialize)]
pub struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: Function<'a>,
}

#[derive(Debug, Serialize)]
pub struct Function<'a> {
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    /// The JSON schema of the arguments.
    pub parameters: Cow<'a, RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl<'a> Tool<'a> {
    pub fn function(function: Function<'a>) -> Tool<'a> {
        Tool { kind: "function", function }
    }
}

/// `tool_choice`: a mode, or one function by name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ToolChoice<'a> {
    /// `auto`, `none` or `required`.
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: Named<'a>,
    },
}

#[derive(Debug, Serialize)]
pub struct Named<'a> {
    pub name: Option<Cow<'a, str>>,
}

impl<'a> ToolChoice<'a> {
    pub fn function(name: Option<Cow<'a, str>>) -> ToolChoice<'a> {
        ToolChoice::Function { kind: "function", function: Named { name } }
    }
}

/// A JSON schema built by the proxy (not the client's own).
pub fn schema(value: &Value) -> Cow<'static, RawValue> {
    match RawValue::from_string(value.to_string()) {
        Ok(raw) => Cow::Owned(raw),
        // A Value always serializes to valid JSON; `{}` never fails either.
        Err(_) => Cow::Owned(RawValue::NULL.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;
    use serde_json::json;

    #[test]
    fn quirks_are_applied_in_one_place() {
        let mut request = ChatRequest { model: "m".into(), ..ChatRequest::default() };
        request.streaming();
        request.reasoning_effort = Some("high".into());
        let mistral = Provider::named("mistral").unwrap();
        let out = serde_json::to_value(request.for_provider(&mistral.quirks)).unwrap();
        assert_eq!(out, json!({"model": "m", "messages": [], "stream": true}));
    }

    #[test]
    fn messages_serialize_as_chat_wants_them() {
        let messages = vec![
            Message::System { content: "s".into() },
            Message::User {
                content: Content::from_parts(vec![
                    Part::Text { text: "a".into() },
                    Part::Text { text: "b".into() },
                ]),
            },
            Message::assistant(String::new(), vec![ToolCall::new("t".into(), "f".into(), "{}".into())]),
            Message::assistant("ok".into(), Vec::new()),
            Message::Tool { tool_call_id: "t".into(), content: "done".into() },
        ];
        assert_eq!(
            serde_json::to_value(messages).unwrap(),
            json!([
                {"role": "system", "content": "s"},
                {"role": "user", "content": "a\n\nb"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "assistant", "content": "ok"},
                {"role": "tool", "tool_call_id": "t", "content": "done"}
            ])
        );
    }
}
