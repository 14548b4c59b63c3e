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
            ChatEvent::Reasoning(text) if self.hold(&text, out) => {
                self.answer.text(TextKind::Reasoning, &text, out)
            }
            ChatEvent::Text(text) if self.hold(&text, out) => self.answer.text(TextKind::Answer, &text, out),
            ChatEvent::ToolStart { slot, id, name } => {
                self.answer.tool_start(slot, id.as_deref(), &name, out)
            }
            ChatEvent::ToolArgs { slot, fragment } if self.hold(&fragment, out) => {
                self.answer.tool_args(slot, &fragment, out)
            }
            ChatEvent::Reasoning(_) | ChatEvent::Text(_) | ChatEvent::ToolArgs { .. } => {}
            ChatEvent::Finish(reason) => self.finish_reason = Some(reason),
            ChatEvent::Usage(usage) => self.usage = usage,
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
