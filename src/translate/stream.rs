//! The stream driver every translated dialect shares: a chat SSE stream in,
//! the dialect's events out, as chunks arrive.
//!
//! Protocol: [`Translation::push`] every upstream chunk in order and send what
//! it returns at once; then send [`Translation::finish`], or
//! [`Translation::abort`] when the upstream failed mid-body.
//!
//! What the driver decides for every dialect: nothing is written after the
//! answer completed or failed; a stream that ends without a finish reason
//! fails; an event past the SSE cap fails; and the text an answer holds is
//! bounded by [`COMPLETION_CAP`] (the Responses API repeats every item in its
//! final event, so a dialect may keep what it streamed).

use super::chat::Usage;
use super::chat::stream::{ChatEvent, ChatStream};
use super::sse::MAX_EVENT_BYTES;
use super::{Answer, StreamEnd, StreamError, TextKind};

/// The most text and argument bytes one translated answer carries, streamed
/// or whole (real ones are a few hundred KiB at most).
pub const COMPLETION_CAP: usize = 16 * 1024 * 1024;

/// The most parts (a run of reasoning or answer text, a tool call) one
/// translated answer has. Each part costs the client several events (and a
/// Responses answer repeats every item at its end), so an upstream that
/// switches at every one-byte delta would otherwise multiply its input.
pub const MAX_PARTS: usize = 1024;

/// What a client reads when a stream ended without finishing.
pub const ENDED_EARLY: &str = "the upstream stream ended before the answer finished";

/// One streamed answer being translated.
#[derive(Debug)]
pub struct Translation {
    chat: ChatStream,
    answer: Box<dyn Answer>,
    done: bool,
    finish_reason: Option<String>,
    usage: Usage,
    /// Text and argument bytes passed on so far.
    held: usize,
    /// Parts begun so far, and the kind of the text part going on.
    parts: usize,
    text: Option<TextKind>,
}

impl Translation {
    pub fn new(answer: Box<dyn Answer>) -> Translation {
        Translation {
            chat: ChatStream::new(),
            answer,
            done: false,
            finish_reason: None,
            usage: Usage::default(),
            held: 0,
            parts: 0,
            text: None,
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

    /// Ends the stream normally: a last unterminated event counts, and an
    /// answer that never finished fails.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.chat.finish() {
            self.on_event(event, &mut out);
        }
        match (self.done, self.finish_reason.is_some()) {
            (true, _) => {}
            (false, true) => self.complete(&mut out),
            (false, false) => self.fail(None, ENDED_EARLY, &mut out),
        }
        out
    }

    /// Ends the stream after an upstream failure, saying `message` (words for
    /// the client, never a runtime's own text).
    pub fn abort(mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.done {
            self.fail(None, message, &mut out);
        }
        out
    }

    fn on_event(&mut self, event: ChatEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            ChatEvent::Start { id, created } => self.answer.start(id.as_deref(), created, out),
            ChatEvent::Reasoning(text)
                if self.part(Some(TextKind::Reasoning), out) && self.hold(&text, out) =>
            {
                self.answer.text(TextKind::Reasoning, &text, out)
            }
            ChatEvent::Text(text) if self.part(Some(TextKind::Answer), out) && self.hold(&text, out) => {
                self.answer.text(TextKind::Answer, &text, out)
            }
            ChatEvent::ToolStart { slot, id, name } if self.part(None, out) => {
                self.answer.tool_start(slot, id.as_deref(), &name, out)
            }
            ChatEvent::ToolStart { .. } => {}
            ChatEvent::ToolArgs { slot, fragment } if self.hold(&fragment, out) => {
                self.answer.tool_args(slot, &fragment, out)
            }
            ChatEvent::Reasoning(_) | ChatEvent::Text(_) | ChatEvent::ToolArgs { .. } => {}
            ChatEvent::Finish(reason) => self.finish_reason = Some(reason),
            ChatEvent::Usage(usage) => self.usage = usage,
            // `[DONE]` after no finish reason: an answer cut off upstream is not complete.
            ChatEvent::Done if self.finish_reason.is_none() => self.fail(None, ENDED_EARLY, out),
            ChatEvent::Done => self.complete(out),
            ChatEvent::Error { message, status } => self.fail(status, &message, out),
            ChatEvent::Overflow => {
                let message = format!(
                    "upstream sent an event larger than {MAX_EVENT_BYTES} bytes; the stream was ended"
                );
                self.fail(None, &message, out);
            }
        }
    }

    /// Counts a new part (text of `kind` after other text or a call; a call:
    /// `None`) against [`MAX_PARTS`]; past it the answer fails.
    fn part(&mut self, kind: Option<TextKind>, out: &mut Vec<u8>) -> bool {
        if kind.is_some() && kind == self.text {
            return true;
        }
        self.text = kind;
        self.parts += 1;
        if self.parts > MAX_PARTS {
            let message =
                format!("the answer switched between text and tool calls more than {MAX_PARTS} times");
            self.fail(None, &message, out);
            return false;
        }
        true
    }

    /// Counts `text` against the cap; past it the answer fails.
    fn hold(&mut self, text: &str, out: &mut Vec<u8>) -> bool {
        self.held += text.len();
        if self.held > COMPLETION_CAP {
            self.fail(None, &format!("the answer is larger than {COMPLETION_CAP} bytes"), out);
            return false;
        }
        true
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        let end = StreamEnd { finish_reason: self.finish_reason.as_deref(), usage: self.usage };
        self.answer.complete(end, out);
        self.done = true;
    }

    fn fail(&mut self, status: Option<http::StatusCode>, message: &str, out: &mut Vec<u8>) {
        self.answer.fail(StreamError { status, message, usage: self.usage }, out);
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::anthropic::answer::MessageAnswer;
    use crate::translate::chat::stream::PENDING_CAP;
    use crate::translate::responses::answer::ResponsesAnswer;
    use crate::translate::responses::{ResponsesContext, ToolNames};

    /// Both dialects' answers, by name.
    fn answers() -> [(&'static str, Box<dyn Answer>); 2] {
        let context = ResponsesContext {
            model: "m".into(),
            tools: ToolNames::default(),
            echo: Default::default(),
            compacting: false,
        };
        [
            ("messages", Box::new(MessageAnswer::new("m"))),
            ("responses", Box::new(ResponsesAnswer::new(context))),
        ]
    }

    fn run(answer: Box<dyn Answer>, input: &[u8]) -> String {
        let mut t = Translation::new(answer);
        let mut out = t.push(input);
        out.extend(t.finish());
        String::from_utf8(out).unwrap()
    }

    fn failed(dialect: &str, out: &str) -> bool {
        match dialect {
            "messages" => out.contains("event: error") && !out.contains("message_stop"),
            _ => out.contains("response.failed") && !out.contains("response.completed"),
        }
    }

    #[test]
    fn done_without_a_finish_reason_is_not_complete() {
        let input =
            b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
        for (dialect, answer) in answers() {
            let out = run(answer, input);
            assert!(failed(dialect, &out), "{dialect}: {out}");
            assert!(out.contains(ENDED_EARLY), "{dialect}");
        }
    }

    #[test]
    fn arguments_before_a_name_are_capped() {
        let fragment = "x".repeat(64 * 1024);
        let delta = format!(
            "data: {{\"choices\":[{{\"delta\":{{\"tool_calls\":[{{\"index\":0,\"function\":{{\"arguments\":\"{fragment}\"}}}}]}}}}]}}\n\n"
        );
        let mut input = b"data: {\"id\":\"c\",\"choices\":[{\"delta\":{}}]}\n\n".to_vec();
        for _ in 0..(PENDING_CAP / fragment.len() + 2) {
            input.extend_from_slice(delta.as_bytes());
        }
        for (dialect, answer) in answers() {
            let out = run(answer, &input);
            assert!(failed(dialect, &out), "{dialect}");
            assert!(
                out.len() < 64 * 1024,
                "{dialect}: nothing of the held text went out ({} bytes)",
                out.len()
            );
        }
    }

    /// The output of a stream against its input: a long upstream id, and text
    /// that switches kind at every one-byte delta, each a new block or item.
    #[test]
    fn output_stays_within_a_small_factor_of_the_input() {
        let long_id = "a".repeat(4 * 1024 * 1024);
        let mut with_id = format!("data: {{\"id\":\"{long_id}\",\"choices\":[{{\"delta\":{{}}}}]}}\n\n");
        for _ in 0..50 {
            with_id.push_str("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n");
        }
        with_id.push_str("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        let mut switching = String::from("data: {\"id\":\"c\",\"choices\":[{\"delta\":{}}]}\n\n");
        for i in 0..40_000 {
            let field = if i % 2 == 0 { "reasoning_content" } else { "content" };
            switching.push_str(&format!("data: {{\"choices\":[{{\"delta\":{{\"{field}\":\"x\"}}}}]}}\n\n"));
        }
        switching.push_str("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        for (name, input) in [("a 4 MiB id", &with_id), ("switching text kinds", &switching)] {
            for (dialect, answer) in answers() {
                let out = run(answer, input.as_bytes());
                let factor = out.len() as f64 / input.len() as f64;
                println!("{name}, {dialect}: {} bytes in, {} out, {factor:.2}×", input.len(), out.len());
                assert!(factor < 8.0, "{name}, {dialect}: {factor:.1}× the input");
            }
        }
    }
}
