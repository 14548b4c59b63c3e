//! A chat answer → an Anthropic message: whole, or as the Messages event stream.
//!
//! Stream output: `message_start`; per block `content_block_start` /
//! `content_block_delta` / `content_block_stop` with unique increasing indices
//! (`thinking_delta`, `text_delta`, `input_json_delta` fragments forwarded as
//! the arguments arrive); `message_delta` with `stop_reason` and usage;
//! `message_stop`. A failure is an `error` event. Tool-use blocks stay open
//! until the message ends, so parallel calls whose argument fragments
//! interleave still stream live into the right block.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{error_type, message_id, stop_reason, tool_input, usage_json};
use crate::translate::chat::completion::Completion;
use crate::translate::sse::write_event;
use crate::translate::{Answer, StreamEnd, StreamError, TextKind};

/// One Messages answer; `model` is the model as the client sent it.
#[derive(Debug)]
pub struct MessageAnswer {
    model: String,
    started: bool,
    message_id: String,
    next_index: usize,
    /// Started blocks not yet stopped, in index order.
    open_blocks: BTreeSet<usize>,
    /// The open thinking or text block, if any.
    open_text: Option<(TextKind, usize)>,
    /// The block of each tool call, by its slot in the chat stream.
    tool_blocks: Vec<usize>,
}

impl MessageAnswer {
    pub fn new(model: &str) -> Self {
        MessageAnswer {
            model: model.to_owned(),
            started: false,
            message_id: String::new(),
            next_index: 0,
            open_blocks: BTreeSet::new(),
            open_text: None,
            tool_blocks: Vec::new(),
        }
    }

    fn start_block(&mut self, block: Value, out: &mut Vec<u8>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.open_blocks.insert(index);
        let start = json!({"type": "content_block_start", "index": index, "content_block": block});
        write_event(out, "content_block_start", &start);
        index
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open_text.take() {
            self.open_blocks.remove(&index);
            write_event(out, "content_block_stop", &json!({"type": "content_block_stop", "index": index}));
        }
    }
}

impl Answer for MessageAnswer {
    fn whole(&self, c: &Completion) -> Value {
        let mut content = Vec::new();
        if let Some(thinking) = &c.reasoning {
            content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
        }
        if let Some(text) = &c.content {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in &c.tool_calls {
            content.push(json!({
                "type": "tool_use",
                "id": call.id.as_deref().unwrap_or_default(),
                "name": call.name,
                "input": tool_input(&call.arguments),
            }));
        }
        json!({
            "id": message_id(c.id.as_deref()),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason(c.finish_reason.as_deref().unwrap_or("stop")),
            "stop_sequence": null,
            "usage": usage_json(c.usage),
        })
    }

    fn start(&mut self, id: Option<&str>, _created: Option<u64>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.message_id = message_id(id);
        let message = json!({
            "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        });
        write_event(out, "message_start", &json!({"type": "message_start", "message": message}));
    }

    fn text(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
        let index = match self.open_text {
            Some((open, index)) if open == kind => index,
            _ => {
                self.close_text(out);
                let block = match kind {
                    TextKind::Reasoning => json!({"type": "thinking", "thinking": "", "signature": ""}),
                    TextKind::Answer => json!({"type": "text", "text": ""}),
                };
                let index = self.start_block(block, out);
                self.open_text = Some((kind, index));
                index
            }
        };
        let delta = match kind {
            TextKind::Reasoning => json!({"type": "thinking_delta", "thinking": text}),
            TextKind::Answer => json!({"type": "text_delta", "text": text}),
        };
        let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
        write_event(out, "content_block_delta", &data);
    }

    fn tool_start(&mut self, slot: usize, id: Option<&str>, name: &str, out: &mut Vec<u8>) {
        self.close_text(out);
        let id = match id {
            Some(id) => id.to_owned(),
            None => format!("toolu_{}_{slot}", self.message_id.trim_start_matches("msg_")),
        };
        let block = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
        let index = self.start_block(block, out);
        if self.tool_blocks.len() <= slot {
            self.tool_blocks.resize(slot + 1, usize::MAX);
        }
        self.tool_blocks[slot] = index;
    }

    fn tool_args(&mut self, slot: usize, fragment: &str, out: &mut Vec<u8>) {
        if let Some(&index) = self.tool_blocks.get(slot) {
            let delta = json!({"type": "input_json_delta", "partial_json": fragment});
            let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
            write_event(out, "content_block_delta", &data);
        }
    }

    fn complete(&mut self, end: StreamEnd, out: &mut Vec<u8>) {
        self.start(None, None, out);
        self.open_text = None;
        for index in std::mem::take(&mut self.open_blocks) {
            write_event(out, "content_block_stop", &json!({"type": "content_block_stop", "index": index}));
        }
        let stop = end.finish_reason.map_or("end_turn", stop_reason);
        let delta = json!({"stop_reason": stop, "stop_sequence": null});
        let usage = usage_json(end.usage);
        write_event(out, "message_delta", &json!({"type": "message_delta", "delta": delta, "usage": usage}));
        write_event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn fail(&mut self, error: StreamError, out: &mut Vec<u8>) {
        let kind = error.status.map_or("api_error", error_type);
        let data = json!({"type": "error", "error": {"type": kind, "message": error.message}});
        write_event(out, "error", &data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::sse::MAX_EVENT_BYTES;
    use crate::translate::stream::Translation;

    fn whole(body: Value) -> Value {
        let bytes = body.to_string();
        MessageAnswer::new("deepseek-v4#deepseek").whole(&Completion::parse(bytes.as_bytes()).unwrap())
    }

    #[test]
    fn text_and_tools() {
        let completion = json!({
            "id": "chatcmpl-9", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "think",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "not json"}}
                ]}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5}
        });
        assert_eq!(
            whole(completion),
            json!({
                "id": "msg_9", "type": "message", "role": "assistant", "model": "deepseek-v4#deepseek",
                "content": [
                    {"type": "thinking", "thinking": "think", "signature": ""},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "clock", "input": {"raw_arguments": "not json"}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 11, "output_tokens": 5, "cache_read_input_tokens": 0,
                          "cache_creation_input_tokens": 0}
            })
        );
    }

    #[test]
    fn empty_content_and_length() {
        let out =
            whole(json!({"id": "x", "choices": [{"finish_reason": "length", "message": {"content": null}}]}));
        assert_eq!(out["content"], json!([]));
        assert_eq!(out["stop_reason"], "max_tokens");
    }

    #[test]
    fn an_event_past_the_cap_ends_the_stream_with_an_error() {
        let mut stream = Translation::new(Box::new(MessageAnswer::new("m")));
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

    #[test]
    fn an_abort_is_an_error_event() {
        let out = Translation::new(Box::new(MessageAnswer::new("m"))).abort("broke");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("event: error\n") && text.contains("broke"), "{text}");
    }
}
