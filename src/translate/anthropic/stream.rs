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

use serde_json::{Value, json};

use super::{message_id, stop_reason, usage_json};
use crate::errors::{Dialect, error_type_for};
use crate::translate::Usage;
use crate::translate::chat::{ChatEvent, ChatStream};
use crate::translate::sse::MAX_EVENT_BYTES;

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

/// The translation state of one streamed response.
#[derive(Debug)]
pub struct AnthropicStream {
    chat: ChatStream,
    model: String,
    phase: Phase,
    message_id: String,
    next_index: usize,
    /// Started blocks not yet stopped, in index order.
    open_blocks: Vec<usize>,
    /// The open thinking or text block, if any.
    open_text: Option<(TextKind, usize)>,
    /// The block of each tool call, by its slot in the chat stream.
    tool_blocks: Vec<usize>,
    stop_reason: Option<&'static str>,
    usage: Usage,
}

impl AnthropicStream {
    /// `model` is the model as the client sent it.
    pub fn new(model: &str) -> Self {
        AnthropicStream {
            chat: ChatStream::new(),
            model: model.to_owned(),
            phase: Phase::Waiting,
            message_id: String::new(),
            next_index: 0,
            open_blocks: Vec::new(),
            open_text: None,
            tool_blocks: Vec::new(),
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    /// Translates one upstream chunk (split anywhere).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.chat.push(chunk) {
            self.on_event(event, &mut out);
        }
        out
    }

    /// Ends the stream normally: flushes a last unterminated event and closes
    /// the message. A stream that ended before any `finish_reason` is reported
    /// as an `error` event.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.chat.finish() {
            self.on_event(event, &mut out);
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

    fn on_event(&mut self, event: ChatEvent, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        match event {
            ChatEvent::Start { id, .. } => self.start_message(id.as_deref(), out),
            ChatEvent::Reasoning(text) => self.text_delta(TextKind::Thinking, &text, out),
            ChatEvent::Text(text) => self.text_delta(TextKind::Text, &text, out),
            ChatEvent::ToolStart { slot, id, name } => self.tool_start(slot, id, &name, out),
            ChatEvent::ToolArgs { slot, fragment } => {
                if let Some(&index) = self.tool_blocks.get(slot) {
                    let delta = json!({"type": "input_json_delta", "partial_json": fragment});
                    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
                    event_out(out, "content_block_delta", data);
                }
            }
            ChatEvent::Finish(reason) => self.stop_reason = Some(stop_reason(&reason)),
            ChatEvent::Usage(usage) => self.usage = usage,
            ChatEvent::Done => self.close_message(out),
            ChatEvent::Error { message, status } => {
                let kind = status.map_or("api_error", |s| error_type_for(s, Dialect::Anthropic));
                self.error(kind, &message, out);
            }
            ChatEvent::Overflow => {
                let message = format!(
                    "upstream sent an event larger than {MAX_EVENT_BYTES} bytes; the stream was ended"
                );
                self.error("api_error", &message, out);
            }
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
        event_out(out, "message_start", json!({"type": "message_start", "message": message}));
    }

    fn text_delta(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
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
        event_out(
            out,
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn tool_start(&mut self, slot: usize, id: Option<String>, name: &str, out: &mut Vec<u8>) {
        self.close_text(out);
        let id = id.unwrap_or_else(|| format!("toolu_{}_{slot}", self.message_id.trim_start_matches("msg_")));
        let block = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
        let index = self.start_block(block, out);
        if self.tool_blocks.len() <= slot {
            self.tool_blocks.resize(slot + 1, usize::MAX);
        }
        self.tool_blocks[slot] = index;
    }

    fn start_block(&mut self, block: Value, out: &mut Vec<u8>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.open_blocks.push(index);
        let start = json!({"type": "content_block_start", "index": index, "content_block": block});
        event_out(out, "content_block_start", start);
        index
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open_text.take() {
            self.open_blocks.retain(|i| *i != index);
            event_out(out, "content_block_stop", json!({"type": "content_block_stop", "index": index}));
        }
    }

    fn close_message(&mut self, out: &mut Vec<u8>) {
        self.start_message(None, out);
        self.open_text = None;
        for index in std::mem::take(&mut self.open_blocks) {
            event_out(out, "content_block_stop", json!({"type": "content_block_stop", "index": index}));
        }
        let delta = json!({"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null});
        let usage = usage_json(self.usage);
        event_out(out, "message_delta", json!({"type": "message_delta", "delta": delta, "usage": usage}));
        event_out(out, "message_stop", json!({"type": "message_stop"}));
        self.phase = Phase::Done;
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        event_out(out, "error", json!({"type": "error", "error": {"type": kind, "message": message}}));
        self.phase = Phase::Done;
    }
}

fn event_out(out: &mut Vec<u8>, name: &str, data: Value) {
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
