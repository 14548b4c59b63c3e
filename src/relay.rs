//! The response body on its way to the client: the body filter and the report
//! record in one, so every host pumps a body the same way.
//!
//! Protocol: [`Relay::chunk`] for each upstream chunk, in order, sending what it
//! returns at once; then [`Relay::end`] when the upstream body is complete, or
//! [`Relay::fail`] when it broke off. Both give back the [`Recorder`] for the
//! report.

use crate::filter::BodyFilter;
use crate::report::Recorder;

/// What to do after the last chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Send these bytes, then end the body normally.
    Finish(Vec<u8>),
    /// End the body unfinished: the client must see a truncated response, not a
    /// falsely complete one.
    Truncate,
}

/// One response body in flight.
#[derive(Debug)]
pub struct Relay {
    filter: BodyFilter,
    record: Recorder,
}

impl Relay {
    pub fn new(filter: BodyFilter, record: Recorder) -> Self {
        Relay { filter, record }
    }

    /// The bytes to send now for an upstream chunk (recorded as sent).
    pub fn chunk(&mut self, upstream_chunk: &[u8]) -> Vec<u8> {
        let bytes = self.filter.push(upstream_chunk).into_owned();
        self.record.response_chunk(&bytes);
        bytes
    }

    /// The upstream body is complete.
    pub fn end(self) -> (Ending, Recorder) {
        let Relay { filter, mut record } = self;
        let bytes = filter.finish();
        record.response_chunk(&bytes);
        (Ending::Finish(bytes), record)
    }

    /// The upstream body broke off (`why` for the client, when the dialect can
    /// carry it mid-stream).
    pub fn fail(self, why: &str) -> (Ending, Recorder) {
        let Relay { filter, mut record } = self;
        record.upstream_failed();
        match filter.abort(why) {
            Some(bytes) => {
                record.response_chunk(&bytes);
                (Ending::Finish(bytes), record)
            }
            None => (Ending::Truncate, record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::anthropic::stream::AnthropicStream;

    fn off() -> Recorder {
        let cfg = crate::test_support::config(&[]);
        Recorder::new(&cfg, &crate::test_support::head("POST", "/v1/x", &[]), "r")
    }

    #[test]
    fn pass_through_then_finish() {
        let mut relay = Relay::new(BodyFilter::Pass, off());
        assert_eq!(relay.chunk(b"abc"), b"abc");
        assert_eq!(relay.end().0, Ending::Finish(Vec::new()));
    }

    #[test]
    fn failure_truncates_a_plain_body_and_ends_a_translated_stream() {
        let relay = Relay::new(BodyFilter::Pass, off());
        assert_eq!(relay.fail("reset").0, Ending::Truncate);
        let relay = Relay::new(BodyFilter::AnthropicStream(Box::new(AnthropicStream::new("m"))), off());
        match relay.fail("reset").0 {
            Ending::Finish(bytes) => assert!(bytes.starts_with(b"event: error\n")),
            Ending::Truncate => panic!("a translated stream ends with an error event"),
        }
    }
}
