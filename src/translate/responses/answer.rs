//! A chat answer → a Responses `response` object, whole or as the Responses
//! event stream.
//!
//! Stream output, every event with a `sequence_number` increasing from 0:
//! `response.created`, `response.in_progress`; per output item
//! `response.output_item.added`, then for a message `response.content_part.added`
//! / `response.output_text.delta`… / `response.output_text.done` /
//! `response.content_part.done`, for reasoning the same with `reasoning_text`,
//! for a function call `response.function_call_arguments.delta`… / `.done`, for
//! a custom tool call `response.custom_tool_call_input.delta`… / `.done`; then
//! `response.output_item.done`; last `response.completed` (or
//! `response.incomplete`). A failure is an `error` event and `response.failed`.
//! A compaction (the request asked for one) streams no text: its one
//! `compaction` item comes whole before `response.completed`.
//! Tool calls stay open until the response ends, so interleaved parallel calls
//! stream live into their own items.

use serde_json::{Value, json};

use super::compaction::{MAX_SUMMARY, seal};
use super::custom_input::CustomInput;
use super::{ResponseState, ResponsesContext, item_id, response_id, status_of};
use crate::translate::chat::Usage;
use crate::translate::chat::completion::Completion;
use crate::translate::sse::write_event;
use crate::translate::{Answer, StreamEnd, StreamError, TextKind};

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
    /// The summary a compaction asked for.
    Compaction,
}

#[derive(Debug)]
struct Item {
    id: String,
    kind: Kind,
    /// The text so far: message or reasoning text, or the call's arguments.
    text: String,
    done: bool,
}

/// One Responses answer.
#[derive(Debug)]
pub struct ResponsesAnswer {
    context: Box<ResponsesContext>,
    started: bool,
    sequence: u64,
    id: String,
    created_at: u64,
    items: Vec<Item>,
    /// The open reasoning or message item (an output index).
    open_text: Option<usize>,
    /// The item of each tool call, by its slot in the chat stream.
    calls: Vec<usize>,
    /// A compaction's summary so far (`None`: not a compaction); past
    /// [`MAX_SUMMARY`] it is over and the answer fails.
    summary: Option<String>,
    summary_over: bool,
}

impl ResponsesAnswer {
    pub fn new(context: ResponsesContext) -> Self {
        ResponsesAnswer {
            started: false,
            sequence: 0,
            id: String::new(),
            created_at: 0,
            items: Vec::new(),
            open_text: None,
            calls: Vec::new(),
            summary: context.compacting.then(String::new),
            summary_over: false,
            context: Box::new(context),
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = kind.into();
        data["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        write_event(out, kind, &data);
    }

    /// The `response` object; a finished one (`usage` given) with its output.
    fn response(&self, state: (&str, Option<&str>), error: Option<Value>, usage: Option<Usage>) -> Value {
        let output = match usage {
            Some(_) => self.items.iter().map(|item| self.item_json(item)).collect(),
            None => Vec::new(),
        };
        self.context.response_object(ResponseState {
            id: &self.id,
            created_at: self.created_at,
            status: state.0,
            output,
            usage,
            incomplete: state.1,
            error,
        })
    }

    /// `response.created` and `response.in_progress`, once.
    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        if self.id.is_empty() {
            self.id = response_id(None);
        }
        self.started = true;
        let response = self.response(("in_progress", None), None, None);
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
            Kind::Compaction => compaction_item(&item.id, &item.text),
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

    /// A whole completion's output items: reasoning, the message, the calls.
    fn output(&self, id: &str, c: &Completion) -> Vec<Value> {
        let mut output = Vec::new();
        if let Some(text) = &c.reasoning {
            output.push(reasoning_item(&item_id("rs", id, output.len()), text, true));
        }
        let mut parts = Vec::new();
        if let Some(text) = &c.content {
            parts.push(output_text(text));
        }
        if let Some(refusal) = &c.refusal {
            parts.push(json!({"type": "refusal", "refusal": refusal}));
        }
        if !parts.is_empty() {
            output.push(message_item(&item_id("msg", id, output.len()), parts, true));
        }
        for call in &c.tool_calls {
            let index = output.len();
            let call_id = call.id.as_deref().map_or_else(|| item_id("call", id, index), str::to_owned);
            let prefix = if self.context.tools.by_chat_name(&call.name).custom { "ctc" } else { "fc" };
            let item_id = item_id(prefix, id, index);
            output.push(self.context.call_item(&item_id, &call_id, &call.name, &call.arguments, true));
        }
        output
    }
}

impl Answer for ResponsesAnswer {
    fn whole(&self, c: &Completion) -> Value {
        let id = response_id(c.id.as_deref());
        let output = match self.summary {
            Some(_) => {
                vec![compaction_item(&item_id("cmp", &id, 0), c.content.as_deref().unwrap_or_default())]
            }
            None => self.output(&id, c),
        };
        let (status, incomplete) = status_of(c.finish_reason.as_deref());
        self.context.response_object(ResponseState {
            id: &id,
            created_at: c.created.unwrap_or(0),
            status,
            output,
            usage: Some(c.usage),
            incomplete,
            error: None,
        })
    }

    fn start(&mut self, id: Option<&str>, created: Option<u64>, out: &mut Vec<u8>) {
        self.id = response_id(id);
        self.created_at = created.unwrap_or(0);
        self.begin(out);
    }

    fn text(&mut self, kind: TextKind, text: &str, out: &mut Vec<u8>) {
        self.begin(out);
        if let Some(summary) = &mut self.summary {
            match kind {
                TextKind::Reasoning => {}
                _ if summary.len() + text.len() > MAX_SUMMARY => self.summary_over = true,
                TextKind::Answer => summary.push_str(text),
            }
            return;
        }
        let reasoning = kind == TextKind::Reasoning;
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
        self.items[index].text.push_str(text);
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

    fn tool_start(&mut self, slot: usize, id: Option<&str>, name: &str, out: &mut Vec<u8>) {
        self.begin(out);
        if self.summary.is_some() {
            return; // a compaction calls no tool
        }
        self.close_text(out);
        let call_id = id.map_or_else(|| item_id("call", &self.id, self.items.len()), str::to_owned);
        let custom = self.context.tools.by_chat_name(name).custom.then(|| Box::new(CustomInput::default()));
        let prefix = if custom.is_some() { "ctc" } else { "fc" };
        let index = self.add_item(prefix, Kind::Call { call_id, chat_name: name.to_owned(), custom }, out);
        if self.calls.len() <= slot {
            self.calls.resize(slot + 1, usize::MAX);
        }
        self.calls[slot] = index;
    }

    fn tool_args(&mut self, slot: usize, fragment: &str, out: &mut Vec<u8>) {
        let Some(&index) = self.calls.get(slot).filter(|&&i| i < self.items.len()) else { return };
        let id = self.items[index].id.clone();
        let decoded = match &mut self.items[index].kind {
            Kind::Call { custom: Some(decoder), .. } => Some(decoder.push(fragment)),
            _ => None,
        };
        self.items[index].text.push_str(fragment);
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

    fn complete(&mut self, end: StreamEnd, out: &mut Vec<u8>) {
        self.begin(out);
        if let Some(summary) = self.summary.take() {
            let why = match summary.trim().is_empty() {
                _ if self.summary_over => Some("the compaction summary is over 256 KiB"),
                true => Some("the model gave no compaction summary"),
                false => None,
            };
            if let Some(message) = why {
                return self.fail(StreamError { status: None, message, usage: end.usage }, out);
            }
            let index = self.items.len();
            let id = item_id("cmp", &self.id, index);
            self.items.push(Item { id, kind: Kind::Compaction, text: summary, done: true });
            let item = self.item_json(&self.items[index]);
            self.emit(out, "response.output_item.added", json!({"output_index": index, "item": item}));
            self.emit(out, "response.output_item.done", json!({"output_index": index, "item": item}));
        }
        self.close_items(out);
        let state = status_of(end.finish_reason);
        let response = self.response(state, None, Some(end.usage));
        let kind = if state.1.is_some() { "response.incomplete" } else { "response.completed" };
        self.emit(out, kind, json!({"response": response}));
    }

    fn fail(&mut self, error: StreamError, out: &mut Vec<u8>) {
        self.begin(out);
        let (message, usage) = (error.message, error.usage);
        self.emit(out, "error", json!({"code": "server_error", "message": message, "param": null}));
        let error = json!({"code": "server_error", "message": message});
        let response = self.response(("failed", None), Some(error), Some(usage));
        self.emit(out, "response.failed", json!({"response": response}));
    }
}

/// A `compaction` item holding `summary`.
fn compaction_item(id: &str, summary: &str) -> Value {
    json!({"type": "compaction", "id": id, "encrypted_content": seal(summary)})
}

/// An `output_text` content part.
pub fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// An assistant `message` output item.
pub fn message_item(id: &str, content: Vec<Value>, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    json!({"type": "message", "id": id, "role": "assistant", "status": status, "content": content})
}

/// A `reasoning` output item carrying the provider's reasoning text.
pub fn reasoning_item(id: &str, text: &str, done: bool) -> Value {
    let content = match done {
        true => json!([{"type": "reasoning_text", "text": text}]),
        false => json!([]),
    };
    let status = if done { "completed" } else { "in_progress" };
    json!({"type": "reasoning", "id": id, "summary": [], "content": content, "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::responses::{ToolName, ToolNames};
    use serde_json::Map;

    fn context() -> ResponsesContext {
        let tools = ToolNames::new(vec![
            ToolName {
                chat: "apply_patch".into(),
                name: "apply_patch".into(),
                namespace: None,
                custom: true,
            },
            ToolName {
                chat: "crm__lookup".into(),
                name: "lookup".into(),
                namespace: Some("crm".into()),
                custom: false,
            },
        ]);
        let mut echo = Map::new();
        echo.insert("tool_choice".into(), "auto".into());
        ResponsesContext { model: "m#deepseek".into(), tools, echo, compacting: false }
    }

    fn whole(completion: Value) -> Value {
        let bytes = completion.to_string();
        ResponsesAnswer::new(context()).whole(&Completion::parse(bytes.as_bytes()).unwrap())
    }

    #[test]
    fn text_reasoning_and_every_kind_of_call() {
        let out = whole(json!({
            "id": "chatcmpl-9", "created": 1700000000,
            "choices": [{"finish_reason": "tool_calls", "message": {
                "content": "Working.", "reasoning_content": "think",
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\\n\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "crm__lookup", "arguments": "{\"q\":1}"}},
                    {"type": "function", "function": {"name": "other", "arguments": "{}"}}
                ]}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 2}}
        }));
        assert_eq!(out["id"], "resp_9");
        assert_eq!(
            (out["object"].clone(), out["status"].clone(), out["model"].clone()),
            (json!("response"), json!("completed"), json!("m#deepseek"))
        );
        assert_eq!(out["created_at"], 1700000000);
        assert_eq!(out["tool_choice"], "auto", "echoed");
        let output = out["output"].as_array().unwrap();
        assert_eq!(
            output[0],
            json!({"type": "reasoning", "id": "rs_9_0", "summary": [], "status": "completed",
                   "content": [{"type": "reasoning_text", "text": "think"}]})
        );
        assert_eq!(output[1]["content"][0]["text"], "Working.");
        assert_eq!(
            output[2],
            json!({"type": "custom_tool_call", "id": "ctc_9_2", "call_id": "call_a", "name": "apply_patch",
                   "input": "*** Begin Patch\n", "status": "completed"})
        );
        assert_eq!(
            output[3],
            json!({"type": "function_call", "id": "fc_9_3", "call_id": "call_b", "name": "lookup",
                   "namespace": "crm", "arguments": "{\"q\":1}", "status": "completed"})
        );
        assert_eq!(output[4]["call_id"], "call_9_4", "a call without an id gets a unique one");
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 25})
        );
    }

    #[test]
    fn length_is_incomplete() {
        let out = whole(
            json!({"id": "x", "choices": [{"finish_reason": "length", "message": {"content": "cut"}}]}),
        );
        assert_eq!(
            (out["status"].clone(), out["incomplete_details"].clone()),
            (json!("incomplete"), json!({"reason": "max_output_tokens"}))
        );
    }
}
