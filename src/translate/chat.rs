//! The upstream side every translator shares: an OpenAI chat-completions SSE
//! stream decoded into [`ChatEvent`]s, with tool calls told apart (by `index`,
//! else by `id`) and their arguments held until the call has a name.
//!
//! Protocol: [`ChatStream::push`] every upstream chunk in order, handling the
//! events it returns; then [`ChatStream::finish`]. An event or line past the SSE
//! cap yields [`ChatEvent::Overflow`] and nothing after it.

use http::StatusCode;
use serde_json::Value;

use super::Usage;
use super::sse::SseDecoder;

/// What an upstream chat stream said, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// The first JSON chunk arrived; `id` is the completion's id.
    Start {
        id: Option<String>,
        created: Option<u64>,
    },
    /// Reasoning text (`reasoning_content` or `reasoning`).
    Reasoning(String),
    /// Answer text.
    Text(String),
    /// A tool call got its name (and its id, when the upstream sent one).
    /// `slot` numbers the calls of the stream from 0.
    ToolStart {
        slot: usize,
        id: Option<String>,
        name: String,
    },
    /// More argument text for a started call.
    ToolArgs {
        slot: usize,
        fragment: String,
    },
    /// The choice's `finish_reason`.
    Finish(String),
    Usage(Usage),
    /// `data: [DONE]`.
    Done,
    /// An error object in the stream.
    Error {
        message: String,
        status: Option<StatusCode>,
    },
    /// An event or line past [`super::sse::MAX_EVENT_BYTES`]: decoding stopped.
    Overflow,
}

#[derive(Debug)]
struct ToolCall {
    /// The upstream's `tool_calls[].index`, when it sends one.
    index: Option<u64>,
    id: String,
    name: String,
    started: bool,
    /// Argument text received before the call had a name.
    pending: String,
}

/// The decoding state of one upstream stream.
#[derive(Debug, Default)]
pub struct ChatStream {
    sse: SseDecoder,
    started: bool,
    tools: Vec<ToolCall>,
    overflowed: bool,
}

impl ChatStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events one upstream chunk (split anywhere) completes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<ChatEvent> {
        let mut events = Vec::new();
        if self.overflowed {
            return events;
        }
        for data in self.sse.push(chunk) {
            self.on_data(&data, &mut events);
        }
        if self.sse.overflowed() {
            self.overflowed = true;
            events.push(ChatEvent::Overflow);
        }
        events
    }

    /// The events of an unterminated last event, then a start for every call
    /// that never got a name (its arguments are not lost).
    pub fn finish(&mut self) -> Vec<ChatEvent> {
        let mut events = Vec::new();
        if self.overflowed {
            return events;
        }
        for data in self.sse.finish() {
            self.on_data(&data, &mut events);
        }
        self.start_unnamed(&mut events);
        events
    }

    /// Starts every call that never got a name, so its arguments are not lost.
    fn start_unnamed(&mut self, events: &mut Vec<ChatEvent>) {
        for slot in 0..self.tools.len() {
            if !self.tools[slot].started {
                self.start_tool(slot, events);
            }
        }
    }

    fn on_data(&mut self, data: &str, events: &mut Vec<ChatEvent>) {
        if data.trim() == "[DONE]" {
            self.start_unnamed(events);
            return events.push(ChatEvent::Done);
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return; // not a JSON event (a keep-alive or noise): nothing to translate
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().or(error.as_str()).unwrap_or("upstream error").to_owned();
            let status =
                error["code"].as_u64().and_then(|c| StatusCode::from_u16(u16::try_from(c).ok()?).ok());
            return events.push(ChatEvent::Error { message, status });
        }
        if !self.started {
            self.started = true;
            events.push(ChatEvent::Start {
                id: chunk["id"].as_str().map(str::to_owned),
                created: chunk["created"].as_u64(),
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            events.push(ChatEvent::Usage(Usage::from_openai(usage)));
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = &choice["delta"];
        let reasoning =
            delta.get("reasoning_content").or_else(|| delta.get("reasoning")).and_then(Value::as_str);
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            events.push(ChatEvent::Reasoning(text.to_owned()));
        }
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            events.push(ChatEvent::Text(text.to_owned()));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.tool_delta(call, events);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            events.push(ChatEvent::Finish(reason.to_owned()));
        }
    }

    /// The call a tool-call delta continues: by `index` when the upstream sends
    /// one; else by `id` (a new id is a new call); else the latest call.
    fn tool_slot(&self, call: &Value) -> Option<usize> {
        let id = call["id"].as_str().filter(|id| !id.is_empty());
        match (call["index"].as_u64(), id) {
            (Some(index), _) => self.tools.iter().position(|t| t.index == Some(index)),
            (None, Some(id)) => self.tools.iter().position(|t| t.id == id),
            (None, None) => self.tools.len().checked_sub(1),
        }
    }

    fn tool_delta(&mut self, call: &Value, events: &mut Vec<ChatEvent>) {
        let slot = self.tool_slot(call).unwrap_or_else(|| {
            self.tools.push(ToolCall {
                index: call["index"].as_u64(),
                id: String::new(),
                name: String::new(),
                started: false,
                pending: String::new(),
            });
            self.tools.len() - 1
        });
        let tool = &mut self.tools[slot];
        if let Some(id) = call["id"].as_str().filter(|id| !id.is_empty()) {
            tool.id = id.to_owned();
        }
        if let Some(name) = call.pointer("/function/name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            tool.name = name.to_owned();
        }
        let fragment = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        tool.pending.push_str(fragment);
        if tool.started || !tool.name.is_empty() {
            self.start_tool(slot, events);
        }
    }

    /// Starts the call if needed and sends its pending argument text.
    fn start_tool(&mut self, slot: usize, events: &mut Vec<ChatEvent>) {
        let tool = &mut self.tools[slot];
        if !tool.started {
            tool.started = true;
            let id = (!tool.id.is_empty()).then(|| tool.id.clone());
            events.push(ChatEvent::ToolStart { slot, id, name: tool.name.clone() });
        }
        let fragment = std::mem::take(&mut tool.pending);
        if !fragment.is_empty() {
            events.push(ChatEvent::ToolArgs { slot, fragment });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &str) -> Vec<ChatEvent> {
        let mut s = ChatStream::new();
        let mut out = s.push(input.as_bytes());
        out.extend(s.finish());
        out
    }

    #[test]
    fn text_tools_usage_and_the_end() {
        let input = concat!(
            "data: {\"id\":\"c1\",\"created\":7,\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"function\":{\"name\":\"f\",\"arguments\":\"\\\":1}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n"
        );
        assert_eq!(
            events(input),
            [
                ChatEvent::Start { id: Some("c1".into()), created: Some(7) },
                ChatEvent::Text("Hi".into()),
                ChatEvent::ToolStart { slot: 0, id: Some("t".into()), name: "f".into() },
                ChatEvent::ToolArgs { slot: 0, fragment: "{\"a\":1}".into() },
                ChatEvent::Usage(Usage { prompt_tokens: 3, completion_tokens: 2, ..Usage::default() }),
                ChatEvent::Finish("tool_calls".into()),
                ChatEvent::Done,
            ]
        );
    }

    #[test]
    fn unnamed_calls_start_at_the_end_and_errors_are_events() {
        let out = events(
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n",
        );
        assert_eq!(
            out[1..],
            [
                ChatEvent::ToolStart { slot: 0, id: None, name: String::new() },
                ChatEvent::ToolArgs { slot: 0, fragment: "{}".into() },
            ]
        );
        let out = events("data: {\"error\":{\"message\":\"boom\",\"code\":429}}\n\n");
        assert_eq!(
            out,
            [ChatEvent::Error { message: "boom".into(), status: Some(StatusCode::TOO_MANY_REQUESTS) }]
        );
    }
}
