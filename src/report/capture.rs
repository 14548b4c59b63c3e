//! Bounded body capture and incremental token metering, fed chunk by chunk as
//! bodies pass: fixed memory, and never a reason to hold a chunk back.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::translate::sse::SseDecoder;

/// The first `cap` bytes of a body and its full length.
#[derive(Debug, Default)]
pub struct Capture {
    bytes: Vec<u8>,
    cap: usize,
    total: u64,
}

/// The marker appended to a body cut at the cap.
pub const TRUNCATED: &str = "…[truncated]";

impl Capture {
    pub fn new(cap: usize) -> Self {
        Capture { bytes: Vec::new(), cap, total: 0 }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.cap.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Every byte seen, captured or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }

    /// The captured text (lossy UTF-8), with the marker when cut.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.is_truncated() {
            text.push_str(TRUNCATED);
        }
        text
    }
}

/// Input and output tokens, as the response reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

/// Reads `usage` from a response body in either dialect, streamed (SSE, the last
/// report wins; Anthropic's `message_start` input and `message_delta` output
/// combine) or whole (JSON, parsed from the capture at the end).
#[derive(Debug, Default)]
pub struct UsageMeter {
    sse: Option<SseDecoder>,
    tokens: Tokens,
    /// A streamed body overflowed the decoder: metering stopped.
    stopped: bool,
}

impl UsageMeter {
    /// `event_stream`: the response is `text/event-stream`.
    pub fn new(event_stream: bool) -> Self {
        UsageMeter { sse: event_stream.then(SseDecoder::new), tokens: Tokens::default(), stopped: false }
    }

    /// Meters one chunk. An event past the SSE decoder's cap stops metering
    /// (the tokens seen so far are kept).
    pub fn push(&mut self, chunk: &[u8]) {
        let Some(sse) = &mut self.sse else { return };
        for data in sse.push(chunk) {
            apply(&mut self.tokens, data.as_bytes());
        }
        if sse.overflowed() {
            self.sse = None;
            self.stopped = true;
        }
    }

    /// The tokens; `whole_body` is consulted for non-streamed responses.
    pub fn finish(mut self, whole_body: &[u8]) -> Tokens {
        match &mut self.sse {
            Some(sse) => {
                for data in sse.finish() {
                    apply(&mut self.tokens, data.as_bytes());
                }
            }
            None if self.stopped => {}
            None => apply(&mut self.tokens, whole_body),
        }
        self.tokens
    }
}

/// Where a body or event may carry `usage`: chat and Messages bodies at the
/// top; Anthropic's `message_start` in `message`; Responses events in
/// `response`. Borrowed raw values: nothing else in the body is built.
#[derive(Deserialize)]
struct Carrier<'a> {
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Nested<'a> {
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
}

/// The counts a `usage` object may hold, in either dialect.
#[derive(Deserialize, Default)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

/// `raw` read as `T` when it is a JSON object (anything else, `null`
/// included, is none).
fn object<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.filter(|r| r.get().starts_with('{')).and_then(|r| serde_json::from_str(r.get()).ok())
}

/// The `usage` object inside `message` or `response`.
fn nested_usage(raw: Option<&RawValue>) -> Option<Usage> {
    object::<Nested>(raw).and_then(|nested| object(nested.usage))
}

/// Updates `tokens` from one JSON body or event that may carry usage. Most
/// stream events carry none: they are passed over without being parsed.
fn apply(tokens: &mut Tokens, json: &[u8]) {
    if !json.windows(5).any(|w| w == b"usage") {
        return;
    }
    let Ok(carrier) = serde_json::from_slice::<Carrier>(json) else { return };
    let usage = object(carrier.usage)
        .or_else(|| nested_usage(carrier.message))
        .or_else(|| nested_usage(carrier.response));
    let Some(usage) = usage else { return };
    // OpenAI: prompt/completion; Anthropic: input (+ cache) / output.
    if let Some(prompt) = usage.prompt_tokens {
        tokens.input = prompt;
    } else if let Some(input) = usage.input_tokens {
        let cached =
            usage.cache_read_input_tokens.unwrap_or(0) + usage.cache_creation_input_tokens.unwrap_or(0);
        if input + cached > 0 || tokens.input == 0 {
            tokens.input = input + cached;
        }
    }
    if let Some(output) = usage.completion_tokens.or(usage.output_tokens) {
        tokens.output = output;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_is_bounded_and_marked() {
        let mut c = Capture::new(4);
        c.push(b"ab");
        c.push(b"cdef");
        assert_eq!((c.bytes(), c.total()), (&b"abcd"[..], 6));
        assert_eq!(c.text(), "abcd…[truncated]");
        let mut whole = Capture::new(10);
        whole.push(b"ok");
        assert_eq!(whole.text(), "ok");
    }

    #[test]
    fn usage_from_json_bodies() {
        let openai = br#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}"#;
        assert_eq!(UsageMeter::new(false).finish(openai), Tokens { input: 12, output: 5 });
        let anthropic =
            br#"{"type":"message","usage":{"input_tokens":3,"cache_read_input_tokens":7,"output_tokens":4}}"#;
        assert_eq!(UsageMeter::new(false).finish(anthropic), Tokens { input: 10, output: 4 });
        assert_eq!(UsageMeter::new(false).finish(b"not json"), Tokens::default());
    }

    #[test]
    fn metering_stops_past_the_event_cap() {
        let mut m = UsageMeter::new(true);
        m.push(b"data: {\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: ");
        m.push(&vec![b'x'; crate::translate::sse::MAX_EVENT_BYTES + 1]);
        assert!(m.sse.is_none(), "decoder dropped");
        assert_eq!(m.finish(b""), Tokens { input: 9, output: 2 });
    }

    #[test]
    fn usage_from_streams_of_both_dialects() {
        let openai = b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        let mut m = UsageMeter::new(true);
        for piece in openai.chunks(5) {
            m.push(piece);
        }
        assert_eq!(m.finish(b""), Tokens { input: 9, output: 2 });

        let anthropic = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n";
        let mut m = UsageMeter::new(true);
        m.push(anthropic.as_bytes());
        assert_eq!(m.finish(b""), Tokens { input: 25, output: 15 });
    }
}
