//! The filter every streamed upstream body chunk passes through on its way to
//! the client (bodies answered whole go through [`crate::buffered`]).
//!
//! Protocol: [`BodyFilter::push`] each chunk in order and send what it returns at
//! once; at the end send [`BodyFilter::finish`]; if the upstream failed mid-body,
//! call [`BodyFilter::abort`] instead: `Some(bytes)` means "send these and end the
//! body normally" (a translated stream's `error` event), `None` means "end the
//! body unfinished" so the client sees a truncated response.

use std::borrow::Cow;

use crate::translate::anthropic::stream::AnthropicStream;
use crate::translate::responses::stream::ResponsesStream;

#[derive(Debug)]
pub enum BodyFilter {
    /// Every chunk goes out unchanged, as soon as it arrives.
    Pass,
    /// An OpenAI SSE stream translated to Anthropic events as it arrives.
    AnthropicStream(Box<AnthropicStream>),
    /// An OpenAI SSE stream translated to Responses API events as it arrives.
    ResponsesStream(Box<ResponsesStream>),
}

/// What a client reads when the upstream broke off mid-stream (the runtime's
/// own words go to the host log).
pub const BROKE_OFF: &str = "the upstream connection broke off before the answer was complete";

impl BodyFilter {
    /// The bytes to send now for `chunk`.
    pub fn push<'a>(&mut self, chunk: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            BodyFilter::Pass => Cow::Borrowed(chunk),
            BodyFilter::AnthropicStream(stream) => Cow::Owned(stream.push(chunk)),
            BodyFilter::ResponsesStream(stream) => Cow::Owned(stream.push(chunk)),
        }
    }

    /// The bytes to send after the last chunk.
    pub fn finish(self) -> Vec<u8> {
        match self {
            BodyFilter::Pass => Vec::new(),
            BodyFilter::AnthropicStream(stream) => stream.finish(),
            BodyFilter::ResponsesStream(stream) => stream.finish(),
        }
    }

    /// The ending after an upstream failure mid-body (see the module docs).
    pub fn abort(self) -> Option<Vec<u8>> {
        match self {
            BodyFilter::AnthropicStream(stream) => Some(stream.abort(BROKE_OFF)),
            BodyFilter::ResponsesStream(stream) => Some(stream.abort(BROKE_OFF)),
            BodyFilter::Pass => None,
        }
    }

    /// `true` when the body goes out exactly as the upstream sent it.
    pub fn is_pass(&self) -> bool {
        matches!(self, BodyFilter::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_translated_streams_end_with_an_event_on_abort() {
        assert!(BodyFilter::Pass.abort().is_none());
        let stream = BodyFilter::AnthropicStream(Box::new(AnthropicStream::new("m")));
        let out = String::from_utf8(stream.abort().unwrap()).unwrap();
        assert!(out.starts_with("event: error\n"), "{out}");
        assert!(out.contains(BROKE_OFF));
    }
}
