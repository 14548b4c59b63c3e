//! A streamed response body on its way to the client: the body filter, the
//! length check and the report record in one, so every host pumps a body the
//! same way.
//!
//! Protocol: [`Relay::chunk`] for each upstream chunk, in order, sending what it
//! returns at once, and stopping when [`Relay::is_broken`]; then [`Relay::end`]
//! when the upstream body is complete, [`Relay::fail`] when it broke off (or
//! the relay broke), or [`Relay::client_gone`] when the client went away. Each
//! gives back the [`Recorder`], which says which side failed and why.
//!
//! A body forwarded with the upstream's `content-length` is verified: its last
//! byte is held back until the upstream's body has ended at exactly that
//! length. A body that is shorter or longer ends unfinished, so the client
//! never takes a wrong body for a complete one.

use crate::filter::BodyFilter;
use crate::report::{Recorder, Side};
use crate::response::ResponseStart;

/// What to do after the last chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Send these bytes, then end the body normally.
    Finish(Vec<u8>),
    /// End the body unfinished: the client must see a truncated response, not a
    /// falsely complete one.
    Truncate,
}

/// The declared length of a passed-through body, and what has been seen of it.
#[derive(Debug)]
struct LengthCheck {
    declared: u64,
    seen: u64,
    /// The body's last byte, held until the upstream's end confirms the length.
    held: Vec<u8>,
}

/// One response body in flight.
#[derive(Debug)]
pub struct Relay {
    filter: BodyFilter,
    record: Recorder,
    length: Option<LengthCheck>,
}

impl Relay {
    /// A relay for the body of `start` (its filter and declared length).
    pub fn new(start: ResponseStart, record: Recorder) -> Self {
        let length = start.length.map(|declared| LengthCheck { declared, seen: 0, held: Vec::new() });
        Relay { filter: start.body, record, length }
    }

    /// The bytes to send now for an upstream chunk (recorded as sent).
    pub fn chunk(&mut self, upstream_chunk: &[u8]) -> Vec<u8> {
        let mut bytes = self.filter.push(upstream_chunk).into_owned();
        if let Some(check) = &mut self.length {
            check.seen += bytes.len() as u64;
            if check.seen > check.declared {
                return Vec::new(); // broken: nothing more goes out
            }
            if check.seen == check.declared
                && let Some(last) = bytes.pop()
            {
                check.held.push(last);
            }
        }
        self.record.response_chunk(&bytes);
        bytes
    }

    /// `true` once the upstream sent more than its declared length: stop
    /// reading and [`Relay::fail`].
    pub fn is_broken(&self) -> bool {
        self.length.as_ref().is_some_and(|c| c.seen > c.declared)
    }

    /// The upstream body is complete.
    pub fn end(self) -> (Ending, Recorder) {
        let Relay { filter, mut record, length } = self;
        let bytes = match length {
            Some(check) if check.seen != check.declared => {
                let why = format!(
                    "the upstream body ended after {} of its {} declared bytes",
                    check.seen, check.declared
                );
                record.failed(Side::Upstream, &why);
                return (Ending::Truncate, record);
            }
            Some(check) => check.held,
            None => filter.finish(),
        };
        record.response_chunk(&bytes);
        (Ending::Finish(bytes), record)
    }

    /// The client went away (`why`, in words): nothing more can be sent. The
    /// record says so; it is not an upstream fault.
    pub fn client_gone(self, why: &str) -> Recorder {
        let mut record = self.record;
        record.failed(Side::Client, why);
        record
    }

    /// The upstream body broke off, or the relay broke (`why`, in words).
    pub fn fail(self, why: &str) -> (Ending, Recorder) {
        let Relay { filter, mut record, .. } = self;
        record.failed(Side::Upstream, why);
        match filter.abort() {
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
    use http::{HeaderMap, StatusCode};

    fn off() -> Recorder {
        let cfg = crate::test_support::config(&[]);
        Recorder::new(&cfg, &crate::test_support::head("POST", "/v1/x", &[]), "r")
    }

    fn relay(body: BodyFilter, length: Option<u64>) -> Relay {
        Relay::new(ResponseStart { status: StatusCode::OK, headers: HeaderMap::new(), body, length }, off())
    }

    #[test]
    fn pass_through_then_finish() {
        let mut relay = relay(BodyFilter::Pass, None);
        assert_eq!(relay.chunk(b"abc"), b"abc");
        assert_eq!(relay.end().0, Ending::Finish(Vec::new()));
    }

    #[test]
    fn failure_truncates_a_plain_body_and_ends_a_translated_stream() {
        assert_eq!(relay(BodyFilter::Pass, None).fail("x").0, Ending::Truncate);
        let translated = relay(BodyFilter::AnthropicStream(Box::new(AnthropicStream::new("m"))), None);
        match translated.fail("x").0 {
            Ending::Finish(bytes) => assert!(bytes.starts_with(b"event: error\n")),
            Ending::Truncate => panic!("a translated stream ends with an error event"),
        }
    }

    #[test]
    fn a_declared_length_is_verified_before_the_last_byte() {
        let mut exact = relay(BodyFilter::Pass, Some(5));
        assert_eq!(exact.chunk(b"ab"), b"ab");
        assert_eq!(exact.chunk(b"cde"), b"cd", "the last byte waits for the end");
        assert_eq!(exact.end().0, Ending::Finish(b"e".to_vec()));

        let mut longer = relay(BodyFilter::Pass, Some(10));
        assert_eq!(longer.chunk(&[b'x'; 9]), vec![b'x'; 9]);
        assert!(longer.chunk(&[b'y'; 163]).is_empty(), "nothing past the declared length");
        assert!(longer.is_broken());
        assert_eq!(longer.fail("x").0, Ending::Truncate);

        let mut also_longer = relay(BodyFilter::Pass, Some(3));
        assert_eq!(also_longer.chunk(b"abc"), b"ab");
        assert!(also_longer.chunk(b"d").is_empty() && also_longer.is_broken());

        let mut shorter = relay(BodyFilter::Pass, Some(10));
        assert_eq!(shorter.chunk(b"abc"), b"abc");
        assert_eq!(shorter.end().0, Ending::Truncate);

        let empty = relay(BodyFilter::Pass, Some(0));
        assert_eq!(empty.end().0, Ending::Finish(Vec::new()));
    }
}
