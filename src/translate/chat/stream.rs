//! A chat-completions SSE stream decoded into [`ChatEvent`]s, with tool calls
//! told apart (by `index`, else by `id`, else by a new name) and their
//! arguments held until the call has a name, up to [`PENDING_CAP`].
//!
//! Protocol: [`ChatStream::push`] every upstream chunk in order, handling the
//! events it returns; then [`ChatStream::finish`]. An event or line past the SSE
//! cap yields [`ChatEvent::Overflow`] and nothing after it.

use std::collections::HashMap;

use http::StatusCode;

use super::Usage;
use super::completion::reasoning;
use crate::json::{Json, Object};
use crate::translate::sse::SseDecoder;

/// The most argument text held for calls that have no name yet: real
/// upstreams name a call in its first fragment; past this the stream fails.
pub const PENDING_CAP: usize = 1024 * 1024;

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
    /// An event or line past [`crate::translate::sse::MAX_EVENT_BYTES`]: decoding stopped.
    Overflow,
}

#[derive(Debug, Default)]
struct ToolCall {
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
    /// The calls by the upstream's `index`, and by id: found by hash, so a
    /// stream of many calls stays linear.
    by_index: HashMap<u64, usize>,
    by_id: HashMap<String, usize>,
    /// Argument bytes held for calls without a name.
    pending: usize,
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
        // Not a JSON object (a keep-alive or noise): nothing to translate.
        let Some(chunk) = Json::parse(data).ok().and_then(Json::object) else { return };
        if let Some(error) = chunk.get("error") {
            let fields = error.object().unwrap_or_default();
            let message = fields.str("message").or_else(|| error.as_str());
            let message = message.map_or_else(|| "upstream error".to_owned(), |m| m.into_owned());
            let status = fields.u64("code").and_then(|c| StatusCode::from_u16(u16::try_from(c).ok()?).ok());
            return events.push(ChatEvent::Error { message, status });
        }
        if !self.started {
            self.started = true;
            let id = chunk.str("id").map(|id| id.into_owned());
            events.push(ChatEvent::Start { id, created: chunk.u64("created") });
        }
        if let Some(usage) = chunk.object("usage") {
            events.push(ChatEvent::Usage(Usage::read(&usage)));
        }
        let choices = chunk.array("choices").unwrap_or_default();
        let Some(choice) = choices.first().and_then(|c| c.object()) else { return };
        let delta = choice.object("delta").unwrap_or_default();
        if let Some(text) = reasoning(&delta) {
            events.push(ChatEvent::Reasoning(text.into_owned()));
        }
        if let Some(text) = delta.str("content").filter(|t| !t.is_empty()) {
            events.push(ChatEvent::Text(text.into_owned()));
        }
        for call in delta.array("tool_calls").unwrap_or_default() {
            self.tool_delta(&call.object().unwrap_or_default(), events);
        }
        if let Some(reason) = choice.str("finish_reason") {
            events.push(ChatEvent::Finish(reason.into_owned()));
        }
    }

    /// The call a tool-call delta continues: by `index` when the upstream sends
    /// one; else by `id` (a new id is a new call); else the latest call, unless
    /// the delta names a call and the latest has a name already.
    fn tool_slot(&self, call: &Object, named: bool) -> Option<usize> {
        let id = call.str("id").filter(|id| !id.is_empty());
        match (call.u64("index"), id) {
            (Some(index), _) => self.by_index.get(&index).copied(),
            (None, Some(id)) => self.by_id.get(id.as_ref()).copied(),
            (None, None) => {
                let latest = self.tools.len().checked_sub(1)?;
                (!named || self.tools[latest].name.is_empty()).then_some(latest)
            }
        }
    }

    fn tool_delta(&mut self, call: &Object, events: &mut Vec<ChatEvent>) {
        let function = call.object("function").unwrap_or_default();
        let name = function.str("name").filter(|n| !n.is_empty());
        let slot = self.tool_slot(call, name.is_some()).unwrap_or_else(|| {
            let index = call.u64("index");
            self.tools.push(ToolCall::default());
            let slot = self.tools.len() - 1;
            if let Some(index) = index {
                self.by_index.insert(index, slot);
            }
            slot
        });
        if let Some(id) = call.str("id").filter(|id| !id.is_empty()) {
            self.by_id.entry(id.to_string()).or_insert(slot);
            self.tools[slot].id = id.into_owned();
        }
        let tool = &mut self.tools[slot];
        if let Some(name) = name {
            tool.name = name.into_owned();
        }
        let arguments = function.str("arguments").unwrap_or_default();
        if tool.started || !tool.name.is_empty() {
            if !tool.started {
                self.pending -= tool.pending.len(); // counted while it had no name
            }
            tool.pending.push_str(&arguments);
            self.start_tool(slot, events);
        } else {
            tool.pending.push_str(&arguments);
            self.pending += arguments.len();
            if self.pending > PENDING_CAP {
                let message = format!(
                    "the upstream sent more than {PENDING_CAP} bytes of tool-call arguments before a name"
                );
                self.overflowed = true;
                events.push(ChatEvent::Error { message, status: None });
            }
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

    #[test]
    fn a_new_name_without_id_or_index_is_a_new_call() {
        let call = |name: &str, args: &str| {
            format!(
                "data: {{\"choices\":[{{\"delta\":{{\"tool_calls\":[{{\"function\":{{\"name\":\"{name}\",\"arguments\":\"{args}\"}}}}]}}}}]}}\n\n"
            )
        };
        let more =
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"}\"}}]}}]}\n\n";
        let out = events(&(call("a", "{") + more + &call("b", "{}")));
        assert_eq!(
            out[1..],
            [
                ChatEvent::ToolStart { slot: 0, id: None, name: "a".into() },
                ChatEvent::ToolArgs { slot: 0, fragment: "{".into() },
                ChatEvent::ToolArgs { slot: 0, fragment: "}".into() },
                ChatEvent::ToolStart { slot: 1, id: None, name: "b".into() },
                ChatEvent::ToolArgs { slot: 1, fragment: "{}".into() },
            ]
        );
    }
}
