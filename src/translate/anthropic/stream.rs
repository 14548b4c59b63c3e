//! OpenAI chat-completion SSE → the Anthropic Messages event stream, as chunks
//! arrive.
//!
//! Protocol: [`AnthropicStream::push`] every upstream chunk in order and send
//! what it returns at once; then send [`AnthropicStream::finish`] (or
//! [`AnthropicStream::abort`] when the upstream failed mid-body).
//!
//! Output: `message_start`; per block `content_block_start` /
//! `content_block_delta` / `content_block_stop` with unique increasing indices
//! (`thinking_delta`, `text_delta`, `input_json_delta` fragments forwarded as the
//! arguments arrive); `message_delta` with `stop_reason` and usage;
//! `message_stop`. An upstream error becomes an `error` event and ends the
//! stream. Tool-use blocks stay open until the message ends, so parallel calls
//! whose argument fragments interleave still stream live into the right block.

use http::StatusCode;
use serde_json::{Value, json};

use crate::errors::{Dialect, error_type_for};

use super::{message_id, stop_reason, usage_json};
use crate::translate::Usage;
use crate::translate::sse::{MAX_EVENT_BYTES, SseDecoder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent yet.
    Waiting,
    /// `message_start` sent.
    Started,
    /// `message_stop` or `error` sent; later input is ignored.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Thinking,
    Text,
}

#[derive(Debug)]
struct ToolCall {
    /// The OpenAI `tool_calls[].index`, when the upstream sends one (Gemini's
    /// OpenAI-compatible stream does not).
    upstream_index: Option<u64>,
    id: String,
    name: String,
    /// The Anthropic block index once `content_block_start` is sent.
    block: Option<usize>,
    /// Argument text received before the block could start (no name yet).
    pending: String,
}

/// The translation state of one streamed response.
#[derive(Debug)]
pub struct AnthropicStream {
    sse: SseDecoder,
    model: String,
    phase: Phase,
    message_id: String,
    next_index: usize,
    /// Started blocks not yet stopped, in index order.
    open_blocks: Vec<usize>,
    /// The open thinking or text block, if any.
    open_text: Option<(TextKind, usize)>,
    tools: Vec<ToolCall>,
    stop_reason: Option<&'static str>,
    usage: Usage,
}

impl AnthropicStream {
    /// `model` is the model as the client sent it.
    pub fn new(model: &str) -> Self {
        AnthropicStream {
            sse: SseDecoder::new(),
            model: model.to_owned(),
            phase: Phase::Waiting,
            message_id: String::new(),
            next_index: 0,
            open_blocks: Vec::new(),
            open_text: None,
            tools: Vec::new(),
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    /// Translates one upstream chunk (split anywhere).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for data in self.sse.push(chunk) {
            self.on_data(&data, &mut out);
        }
        if self.sse.overflowed() && self.phase != Phase::Done {
            let message =
                format!("upstream sent an event larger than {} bytes; the stream was ended", MAX_EVENT_BYTES);
            self.error("api_error", &message, &mut out);
        }
        out
    }

    /// Ends the stream normally: flushes a last unterminated event and closes
    /// the message. A stream that ended before any `finish_reason` is reported
    /// as an `error` event.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for data in self.sse.finish() {
            self.on_data(&data, &mut out);
        }
        match (self.phase, self.stop_reason) {
            (Phase::Done, _) => {}
            (_, Some(_)) => self.close_message(&mut out),
            (_, None) => {
                self.error("api_error", "upstream stream ended before the message finished", &mut out)
            }
        }
        out
    }

    /// Ends the stream after an upstream failure: an `error` event saying
    /// `message` (words for the client, never a runtime's own text).
    pub fn abort(mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase != Phase::Done {
            self.error("api_error", message, &mut out);
        }
        out
    }

    fn on_data(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        if data.trim() == "[DONE]" {
            return self.close_message(out);
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return; // not a JSON event (a keep-alive or noise): nothing to translate
        };
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().or(error.as_str()).unwrap_or("upstream error");
            let kind = error["code"]
                .as_u64()
                .and_then(|c| StatusCode::from_u16(u16::try_from(c).ok()?).ok())
                .map_or("api_error", |status| error_type_for(status, Dialect::Anthropic));
            return self.error(kind, message, out);
        }
        self.start_message(chunk["id"].as_str(), out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage::from_openai(usage);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = &choice["delta"];
        if let Some(text) =
            delta.get("reasoning_content").or_else(|| delta.get("reasoning")).and_then(Value::as_str)
        {
            self.text_delta(TextKind::Thinking, text, out);
        }
        if let Some(text) = delta["content"].as_str() {
            self.text_delta(TextKind::Text, text, out);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.tool_delta(call, out);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.stop_reason = Some(stop_reason(reason));
        }
    }

    fn start_message(&mut self, upstream_id: Option<&str>, out: &mut Vec<u8>) {
        if self.phase != Phase::Waiting {
            return;
        }
        self.phase = Phase::Started;
        self.message_id = message_id(upstream_id);
        let message = json!({
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        });
        event(out, "message_start", json!({"type": "message_start", "message": message}));
    }

    fn text_delta(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let index = match self.open_text {
            Some((open, index)) if open == kind => index,
            _ => {
                self.close_text(out);
                let block = match kind {
                    TextKind::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
                    TextKind::Text => json!({"type": "text", "text": ""}),
                };
                let index = self.start_block(block, out);
                self.open_text = Some((kind, index));
                index
            }
        };
        let delta = match kind {
            TextKind::Thinking => json!({"type": "thinking_delta", "thinking": text}),
            TextKind::Text => json!({"type": "text_delta", "text": text}),
        };
        event(
            out,
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn tool_delta(&mut self, call: &Value, out: &mut Vec<u8>) {
        let slot = match self.tool_slot(call) {
            Some(slot) => slot,
            None => {
                self.tools.push(ToolCall {
                    upstream_index: call["index"].as_u64(),
                    id: String::new(),
                    name: String::new(),
                    block: None,
                    pending: String::new(),
                });
                self.tools.len() - 1
            }
        };
        let tool = &mut self.tools[slot];
        if let Some(id) = call["id"].as_str().filter(|id| !id.is_empty()) {
            tool.id = id.to_owned();
        }
        if let Some(name) = call.pointer("/function/name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            tool.name = name.to_owned();
        }
        let fragment = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
        tool.pending.push_str(fragment);
        if tool.block.is_some() || !tool.name.is_empty() {
            self.flush_tool(slot, out);
        }
    }

    /// The call a tool-call delta continues: by `index` when the upstream sends
    /// one; else by `id` (a new id is a new call); else the latest call.
    fn tool_slot(&self, call: &Value) -> Option<usize> {
        let id = call["id"].as_str().filter(|id| !id.is_empty());
        match (call["index"].as_u64(), id) {
            (Some(index), _) => self.tools.iter().position(|t| t.upstream_index == Some(index)),
            (None, Some(id)) => self.tools.iter().position(|t| t.id == id),
            (None, None) => self.tools.len().checked_sub(1),
        }
    }

    /// Starts the tool's block if needed and sends its pending argument text.
    fn flush_tool(&mut self, slot: usize, out: &mut Vec<u8>) {
        let index = match self.tools[slot].block {
            Some(index) => index,
            None => {
                self.close_text(out);
                let tool = &self.tools[slot];
                let id = match tool.id.is_empty() {
                    true => format!("toolu_{}_{slot}", self.message_id.trim_start_matches("msg_")),
                    false => tool.id.clone(),
                };
                let block = json!({"type": "tool_use", "id": id, "name": tool.name, "input": {}});
                let index = self.start_block(block, out);
                self.tools[slot].block = Some(index);
                index
            }
        };
        let fragment = std::mem::take(&mut self.tools[slot].pending);
        if !fragment.is_empty() {
            let delta = json!({"type": "input_json_delta", "partial_json": fragment});
            event(
                out,
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            );
        }
    }

    fn start_block(&mut self, block: Value, out: &mut Vec<u8>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.open_blocks.push(index);
        let start = json!({"type": "content_block_start", "index": index, "content_block": block});
        event(out, "content_block_start", start);
        index
    }

    fn stop_block(&mut self, index: usize, out: &mut Vec<u8>) {
        self.open_blocks.retain(|i| *i != index);
        event(out, "content_block_stop", json!({"type": "content_block_stop", "index": index}));
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open_text.take() {
            self.stop_block(index, out);
        }
    }

    fn close_message(&mut self, out: &mut Vec<u8>) {
        self.start_message(None, out);
        for slot in 0..self.tools.len() {
            if self.tools[slot].block.is_none() {
                self.flush_tool(slot, out); // a call that never named its function
            }
        }
        self.open_text = None;
        for index in std::mem::take(&mut self.open_blocks) {
            event(out, "content_block_stop", json!({"type": "content_block_stop", "index": index}));
        }
        let usage = usage_json(self.usage);
        let delta = json!({"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null});
        event(out, "message_delta", json!({"type": "message_delta", "delta": delta, "usage": usage}));
        event(out, "message_stop", json!({"type": "message_stop"}));
        self.phase = Phase::Done;
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        event(out, "error", json!({"type": "error", "error": {"type": kind, "message": message}}));
        self.phase = Phase::Done;
    }
}

fn event(out: &mut Vec<u8>, name: &str, data: Value) {
    out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_past_the_cap_ends_the_stream_with_an_error() {
        let mut stream = AnthropicStream::new("m");
        let first = b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n";
        assert!(String::from_utf8(stream.push(first)).unwrap().contains("text_delta"));
        let mut out = stream.push(b"data: \"");
        for _ in 0..=MAX_EVENT_BYTES / (1024 * 1024) {
            out.extend(stream.push(&[b'x'; 1024 * 1024]));
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("event: error\n") && text.contains("larger than"), "{text}");
        assert!(stream.push(b"\"\n\ndata: [DONE]\n\n").is_empty(), "nothing after the error");
        assert!(stream.finish().is_empty());
    }
}
