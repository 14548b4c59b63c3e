//! OpenAI chat-completion SSE → the Responses API event stream, as chunks
//! arrive.
//!
//! Protocol: [`ResponsesStream::push`] every upstream chunk in order and send
//! what it returns at once; then send [`ResponsesStream::finish`] (or
//! [`ResponsesStream::abort`] when the upstream failed mid-body).
//!
//! Output, every event with a `sequence_number` increasing from 0:
//! `response.created`, `response.in_progress`; per output item
//! `response.output_item.added`, then for a message `response.content_part.added`
//! / `response.output_text.delta`… / `response.output_text.done` /
//! `response.content_part.done`, for reasoning the same with `reasoning_text`,
//! for a function call `response.function_call_arguments.delta`… / `.done`, for
//! a custom tool call `response.custom_tool_call_input.delta`… / `.done`; then
//! `response.output_item.done`; last `response.completed` (or
//! `response.incomplete`). An upstream error, a stream that ends without a
//! finish reason, or one that broke off ends with an `error` event and
//! `response.failed`. Tool calls stay open until the response ends, so
//! interleaved parallel calls stream live into their own items.

use serde_json::{Value, json};

use super::custom_input::CustomInput;
use super::response::{message_item, output_text, reasoning_item};
use super::{ResponseState, ResponsesContext, item_id, response_id, status_of};
use crate::buffered::COMPLETION_CAP;
use crate::translate::Usage;
use crate::translate::chat::{ChatEvent, ChatStream};
use crate::translate::sse::MAX_EVENT_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Started,
    Done,
}

#[derive(Debug)]
enum Kind {
    Reasoning,
    Message,
    /// A tool call: its id, the chat function name, and for custom tools the
    /// live decoder of its input.
    Call {
        call_id: String,
        chat_name: String,
        custom: Option<Box<CustomInput>>,
    },
}

#[derive(Debug)]
struct Item {
    id: String,
    kind: Kind,
    /// The text so far: message or reasoning text, or the call's arguments.
    text: String,
    done: bool,
}

/// The translation state of one streamed response.
#[derive(Debug)]
pub struct ResponsesStream {
    chat: ChatStream,
    context: Box<ResponsesContext>,
    phase: Phase,
    sequence: u64,
    id: String,
    created_at: u64,
    items: Vec<Item>,
    /// The open reasoning or message item (an output index).
    open_text: Option<usize>,
    /// The item of each tool call, by its slot in the chat stream.
    calls: Vec<usize>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    /// Text held in items, bounded like a whole completion.
    held: usize,
}

impl ResponsesStream {
    pub fn new(context: ResponsesContext) -> Self {
        ResponsesStream {
            chat: ChatStream::new(),
            context: Box::new(context),
            phase: Phase::Waiting,
            sequence: 0,
            id: String::new(),
            created_at: 0,
            items: Vec::new(),
            open_text: None,
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            held: 0,
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

    /// Ends the stream normally; one that ended before any finish reason fails.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.chat.finish() {
            self.on_event(event, &mut out);
        }
        match (self.phase, self.finish_reason.is_some()) {
            (Phase::Done, _) => {}
            (_, true) => self.complete(&mut out),
            (_, false) => self.fail("upstream stream ended before the response finished", &mut out),
        }
        out
    }

    /// Ends the stream after an upstream failure (`message`: words for the client).
    pub fn abort(mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase != Phase::Done {
            self.fail(message, &mut out);
        }
        out
    }

    fn on_event(&mut self, event: ChatEvent, out: &mut Vec<u8>) {
        if self.phase == Phase::Done {
            return;
        }
        match event {
            ChatEvent::Start { id, created } => {
                self.id = response_id(id.as_deref());
                self.created_at = created.unwrap_or(0);
                self.start(out);
            }
            ChatEvent::Reasoning(text) => self.text(true, &text, out),
            ChatEvent::Text(text) => self.text(false, &text, out),
            ChatEvent::ToolStart { slot, id, name } => self.call_start(slot, id, name, out),
            ChatEvent::ToolArgs { slot, fragment } => self.call_args(slot, &fragment, out),
            ChatEvent::Finish(reason) => self.finish_reason = Some(reason),
            ChatEvent::Usage(usage) => self.usage = Some(usage),
            ChatEvent::Done => self.complete(out),
            ChatEvent::Error { message, .. } => self.fail(&message, out),
            ChatEvent::Overflow => {
                let message = format!(
                    "upstream sent an event larger than {MAX_EVENT_BYTES} bytes; the stream was ended"
                );
                self.fail(&message, out);
            }
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = kind.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        out.extend_from_slice(format!("event: {kind}\ndata: {data}\n\n").as_bytes());
    }

    fn response(&self, status: &str, incomplete: Option<&str>, error: Option<Value>, done: bool) -> Value {
        let output = match done {
            true => self.items.iter().map(|item| self.item_json(item)).collect(),
            false => Vec::new(),
        };
        let usage = if done { Some(self.usage.unwrap_or_default()) } else { None };
        self.context.response_object(ResponseState {
            id: &self.id,
            created_at: self.created_at,
            status,
            output,
            usage,
            incomplete,
            error,
        })
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.phase != Phase::Waiting {
            return;
        }
        if self.id.is_empty() {
            self.id = response_id(None);
        }
        self.phase = Phase::Started;
        let response = self.response("in_progress", None, None, false);
        self.emit(out, "response.created", json!({"response": response}));
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    /// An item as `output_item` events and the final response carry it.
    fn item_json(&self, item: &Item) -> Value {
        match &item.kind {
            Kind::Reasoning => reasoning_item(&item.id, &item.text, item.done),
            Kind::Message => {
                let content = if item.done { vec![output_text(&item.text)] } else { Vec::new() };
                message_item(&item.id, content, item.done)
            }
            Kind::Call { call_id, chat_name, .. } => {
                self.context.call_item(&item.id, call_id, chat_name, &item.text, item.done)
            }
        }
    }

    fn add_item(&mut self, prefix: &str, kind: Kind, out: &mut Vec<u8>) -> usize {
        let index = self.items.len();
        let item = Item { id: item_id(prefix, &self.id, index), kind, text: String::new(), done: false };
        let json = self.item_json(&item);
        self.items.push(item);
        self.emit(out, "response.output_item.added", json!({"output_index": index, "item": json}));
        index
    }

    /// Keeps `text` in an item unless the response grew past the cap.
    fn hold(&mut self, index: usize, text: &str, out: &mut Vec<u8>) -> bool {
        self.held += text.len();
        if self.held > COMPLETION_CAP {
            self.fail(&format!("the response is larger than {COMPLETION_CAP} bytes"), out);
            return false;
        }
        self.items[index].text.push_str(text);
        true
    }

    fn text(&mut self, reasoning: bool, text: &str, out: &mut Vec<u8>) {
        self.start(out);
        let open = self.open_text.filter(|&i| matches!(self.items[i].kind, Kind::Reasoning) == reasoning);
        let index = match open {
            Some(index) => index,
            None => {
                self.close_text(out);
                let (prefix, kind, part) = match reasoning {
                    true => ("rs", Kind::Reasoning, json!({"type": "reasoning_text", "text": ""})),
                    false => ("msg", Kind::Message, output_text("")),
                };
                let index = self.add_item(prefix, kind, out);
                let id = self.items[index].id.clone();
                let added = json!({"item_id": id, "output_index": index, "content_index": 0, "part": part});
                self.emit(out, "response.content_part.added", added);
                self.open_text = Some(index);
                index
            }
        };
        if !self.hold(index, text, out) {
            return;
        }
        let id = self.items[index].id.clone();
        let mut delta = json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text});
        let kind = match reasoning {
            true => "response.reasoning_text.delta",
            false => {
                delta["logprobs"] = json!([]);
                "response.output_text.delta"
            }
        };
        self.emit(out, kind, delta);
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(index) = self.open_text.take() else { return };
        self.items[index].done = true;
        let (id, text) = (self.items[index].id.clone(), self.items[index].text.clone());
        let reasoning = matches!(self.items[index].kind, Kind::Reasoning);
        let (done_kind, part) = match reasoning {
            true => ("response.reasoning_text.done", json!({"type": "reasoning_text", "text": text})),
            false => ("response.output_text.done", output_text(&text)),
        };
        let mut done = json!({"item_id": id, "output_index": index, "content_index": 0, "text": text});
        if !reasoning {
            done["logprobs"] = json!([]);
        }
        self.emit(out, done_kind, done);
        let part_done = json!({"item_id": id, "output_index": index, "content_index": 0, "part": part});
        self.emit(out, "response.content_part.done", part_done);
        let item = self.item_json(&self.items[index]);
        self.emit(out, "response.output_item.done", json!({"output_index": index, "item": item}));
    }

    fn call_start(&mut self, slot: usize, id: Option<String>, chat_name: String, out: &mut Vec<u8>) {
        self.start(out);
        self.close_text(out);
        let call_id = id.unwrap_or_else(|| item_id("call", &self.id, self.items.len()));
        let custom =
            self.context.tools.by_chat_name(&chat_name).custom.then(|| Box::new(CustomInput::default()));
        let prefix = if custom.is_some() { "ctc" } else { "fc" };
        let index = self.add_item(prefix, Kind::Call { call_id, chat_name, custom }, out);
        if self.calls.len() <= slot {
            self.calls.resize(slot + 1, usize::MAX);
        }
        self.calls[slot] = index;
    }

    fn call_args(&mut self, slot: usize, fragment: &str, out: &mut Vec<u8>) {
        let Some(&index) = self.calls.get(slot).filter(|&&i| i < self.items.len()) else { return };
        let id = self.items[index].id.clone();
        let decoded = match &mut self.items[index].kind {
            Kind::Call { custom: Some(decoder), .. } => Some(decoder.push(fragment)),
            _ => None,
        };
        if !self.hold(index, fragment, out) {
            return;
        }
        match decoded {
            Some(text) if text.is_empty() => {}
            Some(text) => {
                let delta = json!({"item_id": id, "output_index": index, "delta": text});
                self.emit(out, "response.custom_tool_call_input.delta", delta);
            }
            None => {
                let delta = json!({"item_id": id, "output_index": index, "delta": fragment});
                self.emit(out, "response.function_call_arguments.delta", delta);
            }
        }
    }

    /// Closes every open item, in order.
    fn close_items(&mut self, out: &mut Vec<u8>) {
        self.close_text(out);
        for index in 0..self.items.len() {
            if self.items[index].done {
                continue;
            }
            self.items[index].done = true;
            let id = self.items[index].id.clone();
            let rest = match &mut self.items[index].kind {
                Kind::Call { custom: Some(decoder), .. } => Some(decoder.finish()),
                _ => None,
            };
            let item = self.item_json(&self.items[index]);
            match rest {
                Some(rest) => {
                    if !rest.is_empty() {
                        let delta = json!({"item_id": id, "output_index": index, "delta": rest});
                        self.emit(out, "response.custom_tool_call_input.delta", delta);
                    }
                    let done = json!({"item_id": id, "output_index": index, "input": item["input"]});
                    self.emit(out, "response.custom_tool_call_input.done", done);
                }
                None => {
                    let done = json!({"item_id": id, "output_index": index, "arguments": item["arguments"]});
                    self.emit(out, "response.function_call_arguments.done", done);
                }
            }
            self.emit(out, "response.output_item.done", json!({"output_index": index, "item": item}));
        }
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close_items(out);
        let (status, incomplete) = status_of(self.finish_reason.as_deref());
        let response = self.response(status, incomplete, None, true);
        let kind = if incomplete.is_some() { "response.incomplete" } else { "response.completed" };
        self.emit(out, kind, json!({"response": response}));
        self.phase = Phase::Done;
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        self.start(out);
        self.emit(out, "error", json!({"code": "server_error", "message": message, "param": null}));
        let error = json!({"code": "server_error", "message": message});
        let response = self.response("failed", None, Some(error), true);
        self.emit(out, "response.failed", json!({"response": response}));
        self.phase = Phase::Done;
    }
}
