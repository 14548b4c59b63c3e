//! The upstream's answer on its way to the client: the head that goes back,
//! and how the body goes: read whole and judged ([`Whole`]), or relayed as it
//! arrives ([`Relay`]).
//!
//! A body forwarded with the upstream's `content-length` is verified: its last
//! byte is held back until the upstream's body has ended at exactly that
//! length. A body that is shorter or longer ends unfinished, so the client
//! never takes a wrong body for a complete one.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::errors::{ProxyError, Shape, reshape};
use crate::headers::{apply_cors, filtered, is_event_stream};
use crate::plan::{Reading, Reply, declared_length, error_reply};
use crate::translate::Answer;
use crate::translate::chat::completion::Completion;
use crate::translate::stream::{COMPLETION_CAP, Translation};

/// Largest upstream error body kept for re-shaping; the rest is not read.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// A body the host decoded (workerd undoes gzip and br, so its length is
/// unknown and a cut one could look complete): read whole up to this many
/// bytes before answering, so a cut one is a `502`.
pub const DECODED_HOLD: usize = 1024 * 1024;

/// Bodies of a declared length up to this may be read at once (a host hint).
pub const WHOLE_AT_ONCE: u64 = 64 * 1024;

/// What a client reads when the upstream broke off mid-answer (the runtime's
/// own words go to the host log).
pub const BROKE_OFF: &str = "the upstream connection broke off before the answer was complete";

/// How an upstream answer reaches the client.
#[derive(Debug)]
pub enum Decision {
    /// Read the body whole first; it gives the complete answer.
    Whole(Whole),
    /// Stream it once its first `hold` bytes are in (or the body ended).
    Stream(Start),
}

/// The head of a streamed answer and what its body goes through.
#[derive(Debug)]
pub struct Start {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub relay: Relay,
    /// How many bytes to gather before the head goes out.
    pub hold: usize,
}

/// Decides how the upstream's answer (`status`, `upstream` headers) reaches a
/// client of `shape`. `decoded`: the host decoded the body (see
/// [`DECODED_HOLD`]).
pub fn decide(
    reading: Reading,
    shape: Shape,
    status: StatusCode,
    upstream: &HeaderMap,
    decoded: bool,
) -> Decision {
    let failed = status.is_client_error() || status.is_server_error();
    let event_stream = is_event_stream(upstream);
    let whole = match reading {
        Reading::Relay => Err(Reading::Relay),
        _ if failed => Ok(Judged::Error),
        Reading::Translated(answer) if !event_stream => Ok(Judged::Completion(answer)),
        reading => Err(reading),
    };
    let reading = match whole {
        Ok(judged) => {
            let mut headers =
                filtered(upstream, |name| name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING);
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            apply_cors(&mut headers);
            return Decision::Whole(Whole {
                status,
                headers,
                shape,
                judged,
                body: Vec::new(),
                over_cap: false,
            });
        }
        Err(reading) => reading,
    };
    let (body, content_type) = match reading {
        Reading::Translated(answer) => {
            let content_type = answer.stream_type();
            (Body::Translated(Box::new(Translation::new(answer))), Some(content_type))
        }
        Reading::Relay | Reading::Gateway => (Body::Pass, None),
    };
    let pass = matches!(body, Body::Pass);
    let mut headers = filtered(upstream, |name| {
        !pass && (name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING)
    });
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    apply_cors(&mut headers);
    // 204 and 304 carry no body whatever their content-length says.
    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let length = if pass && !bodiless { declared_length(&headers) } else { None };
    if pass && !bodiless && length.is_none() {
        headers.remove(header::CONTENT_LENGTH); // not a number: never forwarded
    }
    let hold = if decoded && !event_stream { DECODED_HOLD } else { 1 };
    let check = length.map(|declared| LengthCheck { declared, seen: 0, held: Vec::new() });
    Decision::Stream(Start { status, headers, relay: Relay { body, length: check }, hold })
}

/// What a body read whole becomes.
#[derive(Debug)]
enum Judged {
    /// An upstream error, re-shaped into the client's dialect.
    Error,
    /// A chat completion, translated by this answer.
    Completion(Box<dyn Answer>),
}

/// An upstream answer being read whole before anything is said: nothing goes
/// to the client until the body has been judged, so a completion that cannot
/// be translated is a `502`, never a `200` with an error inside.
///
/// Protocol: [`Whole::push`] each chunk while it returns `true` (`false`: stop
/// reading, enough is known); then [`Whole::finish`], or [`Whole::fail`] when
/// the upstream broke off mid-body.
#[derive(Debug)]
pub struct Whole {
    status: StatusCode,
    /// The answer's headers (filtered, CORS set).
    headers: HeaderMap,
    shape: Shape,
    judged: Judged,
    body: Vec<u8>,
    over_cap: bool,
}

impl Whole {
    fn cap(&self) -> usize {
        match self.judged {
            Judged::Error => ERROR_BODY_CAP,
            Judged::Completion(_) => COMPLETION_CAP,
        }
    }

    /// Keeps a chunk; `false` once the cap is reached (read no more).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap().saturating_sub(self.body.len());
        if chunk.len() > room {
            self.over_cap = true;
        }
        self.body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        !self.over_cap
    }

    /// The answer for the whole body.
    pub fn finish(self) -> Reply {
        match &self.judged {
            // A cut error body still carries its message.
            Judged::Error => {
                let body = reshape(self.status, self.shape, &self.body);
                self.reply(body)
            }
            Judged::Completion(_) if self.over_cap => error_reply(
                &ProxyError::BadGateway(format!(
                    "the upstream completion is larger than {COMPLETION_CAP} bytes; ask for a streamed answer"
                )),
                self.shape,
            ),
            Judged::Completion(answer) => match Completion::parse(&self.body) {
                Ok(completion) => self.reply(answer.whole(&completion).to_string().into_bytes()),
                Err(why) => error_reply(
                    &ProxyError::BadGateway(format!(
                        "the upstream completion could not be translated: {why}"
                    )),
                    self.shape,
                ),
            },
        }
    }

    /// The answer when the upstream broke off before the whole body arrived.
    pub fn fail(self) -> Reply {
        error_reply(&ProxyError::BadGateway(BROKE_OFF.into()), self.shape)
    }

    fn reply(&self, body: Vec<u8>) -> Reply {
        let mut headers = self.headers.clone();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut reply = Response::new(body);
        *reply.status_mut() = self.status;
        *reply.headers_mut() = headers;
        reply
    }
}

/// What a streamed body goes through.
#[derive(Debug)]
enum Body {
    /// Every chunk goes out unchanged, as soon as it arrives.
    Pass,
    /// A chat SSE stream translated into the client's events as it arrives.
    Translated(Box<Translation>),
}

/// The declared length of a passed-through body, and what has been seen of it.
#[derive(Debug)]
struct LengthCheck {
    declared: u64,
    seen: u64,
    /// The body's last byte, held until the upstream's end confirms the length.
    held: Vec<u8>,
}

/// A streamed body in flight.
///
/// Protocol: [`Relay::chunk`] each upstream chunk in order, sending what it
/// returns, stopping when [`Relay::is_broken`]; then [`Relay::end`] when the
/// upstream body is complete, or [`Relay::fail`] when it broke off.
#[derive(Debug)]
pub struct Relay {
    body: Body,
    length: Option<LengthCheck>,
}

/// How a streamed body ends.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Send these bytes, then end the body normally.
    Finish(Vec<u8>),
    /// End the body unfinished (why, in words for the log): the client must
    /// see a truncated response, not a falsely complete one.
    Truncate(String),
}

impl Relay {
    /// The declared length the body goes out with, verified.
    pub fn length(&self) -> Option<u64> {
        self.length.as_ref().map(|c| c.declared)
    }

    /// The bytes to send now for an upstream chunk.
    pub fn chunk(&mut self, upstream_chunk: &[u8]) -> Vec<u8> {
        let mut bytes = match &mut self.body {
            Body::Pass => upstream_chunk.to_vec(),
            Body::Translated(stream) => stream.push(upstream_chunk),
        };
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
        bytes
    }

    /// `true` once the upstream sent more than its declared length: stop
    /// reading and [`Relay::fail`].
    pub fn is_broken(&self) -> bool {
        self.length.as_ref().is_some_and(|c| c.seen > c.declared)
    }

    /// The upstream body is complete.
    pub fn end(self) -> Ending {
        match (self.length, self.body) {
            (Some(check), _) if check.seen != check.declared => Ending::Truncate(format!(
                "the upstream body ended after {} of its {} declared bytes",
                check.seen, check.declared
            )),
            (Some(check), _) => Ending::Finish(check.held),
            (None, Body::Translated(stream)) => Ending::Finish(stream.finish()),
            (None, Body::Pass) => Ending::Finish(Vec::new()),
        }
    }

    /// The upstream body broke off (`why`, in words for the log): a
    /// translated stream ends with its error event, a passed one is cut.
    pub fn fail(self, why: &str) -> Ending {
        match self.body {
            Body::Translated(stream) => Ending::Finish(stream.abort(BROKE_OFF)),
            Body::Pass => Ending::Truncate(why.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::OPENAI;
    use crate::translate::anthropic::ERRORS;
    use crate::translate::anthropic::answer::MessageAnswer;
    use serde_json::{Value, json};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (header::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    fn relay(reading: Reading, upstream: &[(&'static str, &'static str)]) -> Relay {
        match decide(reading, &OPENAI, StatusCode::OK, &headers(upstream), false) {
            Decision::Stream(start) => start.relay,
            Decision::Whole(_) => panic!("streams"),
        }
    }

    fn translated() -> Reading {
        Reading::Translated(Box::new(MessageAnswer::new("m")))
    }

    #[test]
    fn errors_are_read_whole_then_reshaped() {
        let upstream = headers(&[("content-length", "40"), ("cf-aig-cache-status", "MISS")]);
        let Decision::Whole(mut whole) =
            decide(Reading::Gateway, &ERRORS, StatusCode::BAD_REQUEST, &upstream, false)
        else {
            panic!("errors are read whole")
        };
        assert!(whole.push(br#"{"error":{"mess"#) && whole.push(br#"age":"nope"}}"#));
        let reply = whole.finish();
        assert_eq!(reply.status(), 400);
        assert_eq!(reply.headers()["cf-aig-cache-status"], "MISS");
        assert_eq!(reply.headers()["access-control-allow-origin"], "*");
        assert_eq!(reply.headers()[header::CONTENT_LENGTH], reply.body().len().to_string().as_str());
        let out: Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(out, json!({"type":"error","error":{"type":"invalid_request_error","message":"nope"}}));
    }

    #[test]
    fn success_passes_through_with_a_length_to_verify() {
        let Decision::Stream(start) = decide(
            Reading::Gateway,
            &OPENAI,
            StatusCode::OK,
            &headers(&[("content-length", "2"), ("transfer-encoding", "chunked")]),
            false,
        ) else {
            panic!("success streams")
        };
        assert_eq!(start.headers[header::CONTENT_LENGTH], "2");
        assert_eq!((start.relay.length(), start.hold), (Some(2), 1));
        assert!(start.headers.get(header::TRANSFER_ENCODING).is_none());
        let relay = relay(Reading::Relay, &[("content-length", "ten")]);
        assert!(relay.length().is_none());
    }

    #[test]
    fn translated_answers_stream_or_are_read_whole() {
        let sse = headers(&[("content-type", "text/event-stream"), ("content-length", "100")]);
        let Decision::Stream(start) = decide(translated(), &ERRORS, StatusCode::OK, &sse, false) else {
            panic!("streams")
        };
        assert!(start.relay.length().is_none() && start.headers.get(header::CONTENT_LENGTH).is_none());
        let whole = decide(translated(), &ERRORS, StatusCode::OK, &HeaderMap::new(), false);
        assert!(matches!(whole, Decision::Whole(_)));
        let decoded = decide(Reading::Relay, &OPENAI, StatusCode::OK, &HeaderMap::new(), true);
        assert!(matches!(decoded, Decision::Stream(Start { hold: DECODED_HOLD, .. })));
    }

    #[test]
    fn a_translated_completion_is_judged_before_any_head() {
        let whole = |body: &[u8]| {
            let Decision::Whole(mut w) =
                decide(translated(), &ERRORS, StatusCode::OK, &HeaderMap::new(), false)
            else {
                panic!("whole")
            };
            w.push(body);
            w.finish()
        };
        let good = json!({"id": "c", "choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]});
        let reply = whole(good.to_string().as_bytes());
        assert_eq!(reply.status(), 200);
        let out: Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(
            (out["content"].clone(), out["model"].clone()),
            (json!([{"type": "text", "text": "hi"}]), json!("m"))
        );
        let nested = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        for bad in ["", "not json", "{\"choices\":[]}", nested.as_str()] {
            let reply = whole(bad.as_bytes());
            assert_eq!(reply.status(), 502, "{}", &bad[..bad.len().min(20)]);
            assert_eq!(serde_json::from_slice::<Value>(reply.body()).unwrap()["type"], "error");
        }
    }

    #[test]
    fn caps_and_failures() {
        let Decision::Whole(mut big) =
            decide(translated(), &ERRORS, StatusCode::OK, &HeaderMap::new(), false)
        else {
            panic!("whole")
        };
        assert!(big.push(&vec![b' '; COMPLETION_CAP]));
        assert!(!big.push(b"x"), "stop reading past the cap");
        assert_eq!(big.finish().status(), 502);
        let Decision::Whole(mut error) =
            decide(Reading::Gateway, &OPENAI, StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), false)
        else {
            panic!("whole")
        };
        assert!(!error.push(&vec![b'a'; ERROR_BODY_CAP + 1]));
        assert_eq!(error.finish().status(), 429);
    }

    #[test]
    fn a_declared_length_is_verified_before_the_last_byte() {
        let mut exact = relay(Reading::Gateway, &[("content-length", "5")]);
        assert_eq!(exact.chunk(b"ab"), b"ab");
        assert_eq!(exact.chunk(b"cde"), b"cd", "the last byte waits for the end");
        assert_eq!(exact.end(), Ending::Finish(b"e".to_vec()));

        let mut longer = relay(Reading::Gateway, &[("content-length", "10")]);
        assert_eq!(longer.chunk(&[b'x'; 9]), vec![b'x'; 9]);
        assert!(longer.chunk(&[b'y'; 163]).is_empty(), "nothing past the declared length");
        assert!(longer.is_broken());
        assert!(matches!(longer.fail("x"), Ending::Truncate(_)));

        let mut shorter = relay(Reading::Gateway, &[("content-length", "10")]);
        assert_eq!(shorter.chunk(b"abc"), b"abc");
        assert!(matches!(shorter.end(), Ending::Truncate(why) if why.contains("3 of its 10")));

        let empty = relay(Reading::Gateway, &[("content-length", "0")]);
        assert_eq!(empty.end(), Ending::Finish(Vec::new()));
    }

    #[test]
    fn failure_truncates_a_plain_body_and_ends_a_translated_stream() {
        assert!(matches!(relay(Reading::Relay, &[]).fail("x"), Ending::Truncate(_)));
        let sse = [("content-type", "text/event-stream")];
        match relay(translated(), &sse).fail("x") {
            Ending::Finish(bytes) => assert!(bytes.starts_with(b"event: error\n")),
            Ending::Truncate(_) => panic!("a translated stream ends with an error event"),
        }
    }
}
