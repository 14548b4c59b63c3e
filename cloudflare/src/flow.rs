//! One request through the Worker, as a state machine that `entry.js` drives:
//! JavaScript does the I/O (`io.js`: read, fetch, pump, answer) and asks at each step
//! what the core decides, in synchronous calls. No Rust future and no promise
//! crosses the boundary on a request's way (a Worker that awaits in wasm pays
//! for a closure pair per await, the executor's microtasks and an async
//! entry): 0-5% less CPU per request than the awaiting adapter, 9% with
//! reporting on (scripts/bench.sh, four paired rounds on 2026-11-28).
//!
//! The step numbers are shared with `entry.js`, which names them.

use std::time::Duration;

use apex_ai_proxy::buffered::Buffered;
use apex_ai_proxy::filter::{BROKE_OFF, BodyFilter};
use apex_ai_proxy::relay::{Ending, Relay};
use apex_ai_proxy::report::{Recorder, Side, new_request_id};
use apex_ai_proxy::response::{Answer, FailureKind, Reply, ResponseStart, UpstreamFailure, error_reply};
use apex_ai_proxy::routing::{Forward, ForwardBody, NeedBody, Step, declared_length, plan, request_dialect};
use apex_ai_proxy::{Config, ProxyError};
use http::StatusCode;
use http::request::Parts;
use wasm_bindgen::prelude::*;

use crate::{convert, report};

/// The client's answer is ready: [`Flow::status`], [`Flow::headers`],
/// [`Flow::body`].
const ANSWER: u32 = 0;
/// Read the client's body whole, up to [`Flow::limit`] bytes.
const READ_BODY: u32 = 1;
/// Send the upstream request ([`Flow::upload`] says how its body goes).
const SEND: u32 = 2;

/// The upstream body goes out as the bytes of [`Flow::take_upload`].
const UPLOAD_BYTES: u32 = 0;
/// The client's body streams on as it arrives, cut past [`Flow::limit`].
const UPLOAD_STREAM: u32 = 1;
/// The client's body is read whole first (up to [`Flow::limit`]), then
/// given to [`Flow::uploaded`].
const UPLOAD_READ: u32 = 2;

/// The answer is read whole, up to [`Flow::limit`] bytes, for [`Flow::whole`].
const READ_ALL: u32 = 1;
/// The answer streams: its first bytes decide how ([`Flow::first`]).
const STREAM: u32 = 2;

/// The body arrived whole with its head: it goes out as those bytes.
const WHOLE: u32 = 1;
/// The body passes unchanged, pumped in JavaScript; [`Flow::passed`] at its end.
const PASS: u32 = 2;
/// The body goes through the core's relay, chunk by chunk ([`Flow::chunk`]).
const RELAY: u32 = 3;

/// Request bodies up to this size are read whole and sent as bytes even when
/// they could stream: a stream costs more CPU than the wait it saves (bench:
/// passthrough 0.90 against 0.74 ms per request for a 108-byte body).
const STREAM_ABOVE: u64 = 64 * 1024;

/// What the log says of a client that hung up.
const CLIENT_GONE: &str = "the client went away mid-response";

/// One request's state.
#[wasm_bindgen]
pub struct Flow {
    cfg: Config,
    started: u64,
    head: Parts,
    record: Recorder,
    need: Option<Box<NeedBody>>,
    forward: Option<Box<Forward>>,
    /// The most bytes the current step reads: of the client's body (to plan
    /// it, or to send it on), or of the upstream's answer ([`READ_ALL`]).
    limit: usize,
    reply: Option<Reply>,
    /// The answer the core judges whole ([`READ_ALL`]).
    buffered: Option<Buffered>,
    /// The streamed answer's head, and (with [`RELAY`]) its relay.
    start: Option<ResponseStart>,
    relay: Option<Relay>,
    /// What went out to the client: for a streamed answer, its head's words.
    out: Option<(u16, String)>,
    length: Option<u64>,
}

#[wasm_bindgen]
impl Flow {
    /// A request arrived: its head (`headers` as `io.js` writes them).
    /// [`Flow::plan`] says what comes next.
    pub fn start(method: &str, url: &str, headers: &str, now: f64) -> Flow {
        let started = now as u64;
        let cfg = crate::config();
        let head = convert::head(method, url, headers);
        let record = Recorder::new(&cfg, &head, &new_request_id());
        Flow {
            cfg,
            started,
            head,
            record,
            need: None,
            forward: None,
            limit: 0,
            reply: None,
            buffered: None,
            start: None,
            relay: None,
            out: None,
            length: None,
        }
    }

    /// The first step: [`ANSWER`], [`READ_BODY`] or [`SEND`].
    pub fn plan(&mut self) -> u32 {
        if let Some(error) = convert::head_error(&self.head) {
            return self.answer(error_reply(&error, request_dialect(&self.head)));
        }
        match plan(&self.cfg, &self.head) {
            Step::Respond(reply) => self.answer(reply),
            Step::Forward(forward) => self.send(forward),
            Step::NeedBody(need) => {
                self.limit = need.limit();
                self.need = Some(need);
                READ_BODY
            }
        }
    }

    /// The largest body the current step reads, in bytes.
    pub fn limit(&self) -> f64 {
        self.limit as f64
    }

    /// The client's body, read whole for [`READ_BODY`]: the next step.
    pub fn body(&mut self, bytes: Vec<u8>) -> u32 {
        let Some(need) = self.need.take() else { return self.internal() };
        self.record.request_chunk(&bytes);
        match need.with_body(&self.cfg, bytes) {
            Ok(forward) => self.send(Box::new(forward)),
            Err(reply) => self.answer(reply),
        }
    }

    /// The client's body passed the limit (before or while being read).
    #[wasm_bindgen(js_name = tooLarge)]
    pub fn too_large(&mut self) -> u32 {
        let reply = match (self.need.take(), &self.forward) {
            (Some(need), _) => need.too_large(),
            (None, Some(forward)) => {
                forward.exchange.error(&ProxyError::PayloadTooLarge { limit: self.limit })
            }
            (None, None) => return self.internal(),
        };
        self.answer(reply)
    }

    /// Reading the client's body failed (`why`: the runtime's words).
    #[wasm_bindgen(js_name = bodyFailed)]
    pub fn body_failed(&mut self, why: &str) -> u32 {
        self.record.failed(Side::Client, &format!("the request body could not be read: {why}"));
        let reply = match &self.forward {
            Some(forward) => forward.exchange.error(&ProxyError::client_body()),
            None => error_reply(&ProxyError::client_body(), request_dialect(&self.head)),
        };
        self.answer(reply)
    }

    /// How the upstream request's body goes: [`UPLOAD_BYTES`],
    /// [`UPLOAD_STREAM`] or [`UPLOAD_READ`].
    pub fn upload(&self) -> u32 {
        let Some(forward) = &self.forward else { return UPLOAD_BYTES };
        match forward.body {
            ForwardBody::Bytes(_) => UPLOAD_BYTES,
            // Nothing to capture, and a declared length: the client's body
            // streams on as it arrives, as a fixed-length body, so one that
            // breaks off reaches the upstream short. A chunked body is read
            // whole first: workerd would end a failed chunked body normally,
            // and the upstream would take a cut body for a complete one.
            ForwardBody::StreamClient { .. }
                if !self.record.is_on() && self.declared().is_some_and(|n| n > STREAM_ABOVE as f64) =>
            {
                UPLOAD_STREAM
            }
            ForwardBody::StreamClient { .. } => UPLOAD_READ,
        }
    }

    /// The client's content-length (`None`: not given).
    pub fn declared(&self) -> Option<f64> {
        declared_length(&self.head.headers).map(|n| n as f64)
    }

    /// The upstream request's body bytes, once ([`UPLOAD_BYTES`]).
    #[wasm_bindgen(js_name = takeUpload)]
    pub fn take_upload(&mut self) -> Vec<u8> {
        match self.forward.as_mut().map(|f| &mut f.body) {
            Some(ForwardBody::Bytes(bytes)) => std::mem::take(bytes),
            _ => Vec::new(),
        }
    }

    /// The client's body, read whole for [`UPLOAD_READ`]: it goes out as is.
    pub fn uploaded(&mut self, bytes: &[u8]) {
        self.record.request_chunk(bytes);
    }

    /// The client's body bytes sent on by [`UPLOAD_STREAM`].
    #[wasm_bindgen(js_name = uploadCounted)]
    pub fn upload_counted(&mut self, bytes: f64) {
        self.record.request_counted(bytes as u64);
    }

    pub fn method(&self) -> String {
        self.forward.as_ref().map_or_else(String::new, |f| f.method.to_string())
    }

    pub fn url(&self) -> String {
        self.forward.as_ref().map_or_else(String::new, |f| f.uri.to_string())
    }

    /// The upstream request's headers ([`SEND`]), or the answer's.
    pub fn headers(&self) -> String {
        match (&self.out, &self.reply, &self.forward) {
            (Some((_, text)), _, _) => text.clone(),
            (None, Some(reply), _) => convert::header_text(reply.headers()),
            (None, None, Some(forward)) => convert::header_text(&forward.headers),
            (None, None, None) => String::new(),
        }
    }

    /// The wait for the upstream's head, in ms (a Worker cannot tell
    /// connecting from waiting, so the first-byte limit bounds it all).
    #[wasm_bindgen(js_name = firstByteMs)]
    pub fn first_byte_ms(&self) -> f64 {
        self.forward.as_ref().map_or(0.0, |f| ms(f.timeouts.first_byte))
    }

    /// The longest silence of the upstream's body, in ms.
    #[wasm_bindgen(js_name = idleMs)]
    pub fn idle_ms(&self) -> f64 {
        self.forward.as_ref().map_or(0.0, |f| ms(f.timeouts.between_bytes))
    }

    /// No head came within [`Flow::first_byte_ms`].
    pub fn late(&mut self) -> u32 {
        let limit = self.first_byte_ms();
        let failure =
            UpstreamFailure::new(FailureKind::ResponseTimeout, format!("no response within {limit} ms"));
        self.failed(&failure, false)
    }

    /// The fetch failed (`why`: the runtime's words); `client_gone` when the
    /// client had hung up.
    #[wasm_bindgen(js_name = fetchFailed)]
    pub fn fetch_failed(&mut self, why: &str, client_gone: bool) -> u32 {
        let Some(forward) = &self.forward else { return self.internal() };
        let failure = convert::fetch_failure_of(why, &forward.uri);
        self.failed(&failure, client_gone)
    }

    /// The upstream's head arrived: [`READ_ALL`] or [`STREAM`].
    pub fn head(&mut self, status: u16, headers: &str) -> u32 {
        let Some(forward) = &self.forward else { return self.internal() };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        match forward.exchange.on_response(status, &convert::header_map(headers)) {
            Answer::Buffer(buffered) => {
                self.limit = buffered.cap();
                self.buffered = Some(buffered);
                READ_ALL
            }
            Answer::Stream(start) => {
                self.start = Some(start);
                STREAM
            }
        }
    }
}

#[wasm_bindgen]
impl Flow {
    /// The answer read whole for [`READ_ALL`] (up to just past the limit).
    pub fn whole(&mut self, bytes: &[u8]) -> u32 {
        let Some(mut buffered) = self.buffered.take() else { return self.internal() };
        buffered.push(bytes);
        self.answer(buffered.finish())
    }

    /// Reading the answer for [`READ_ALL`] failed (`silent`: the proxy's own
    /// words in `text`, else the runtime's).
    #[wasm_bindgen(js_name = wholeFailed)]
    pub fn whole_failed(&mut self, silent: bool, text: &str, client_gone: bool) -> u32 {
        let Some(buffered) = self.buffered.take() else { return self.internal() };
        self.blame(broke_off(silent, text), client_gone);
        self.answer(buffered.fail())
    }

    /// The streamed answer's first bytes, read with its head: `first` bytes
    /// (-1: an empty body), all of it when `whole`. The next step:
    /// [`ANSWER`] (a 502: more than its content-length), [`WHOLE`],
    /// [`PASS`] or [`RELAY`] (then [`Flow::chunk`] the first bytes).
    pub fn first(&mut self, first: f64, whole: bool) -> u32 {
        let Some(mut start) = self.start.take() else { return self.internal() };
        let elapsed = self.elapsed();
        self.record.response_head(start.status, &mut start.headers, elapsed);
        self.out = Some((start.status.as_u16(), convert::header_text(&start.headers)));
        self.length = start.length;
        let first = (first >= 0.0).then_some(first as u64);
        let pass = matches!(start.body, BodyFilter::Pass);
        if pass && first.zip(start.length).is_some_and(|(first, length)| first > length) {
            let record = std::mem::replace(&mut self.record, Recorder::off());
            self.relay = Some(Relay::new(start, record));
            return self.too_long();
        }
        if pass && whole {
            if !self.record.is_on() {
                self.record.response_counted(first.unwrap_or(0));
            }
            return WHOLE;
        }
        if pass && !self.record.is_on() {
            return PASS;
        }
        let record = std::mem::replace(&mut self.record, Recorder::off());
        self.relay = Some(Relay::new(start, record));
        RELAY
    }

    /// The body of a [`WHOLE`] answer, for a report that keeps it.
    pub fn capture(&mut self, bytes: &[u8]) {
        if self.record.is_on() {
            self.record.response_chunk(bytes);
        }
    }

    /// Whether [`Flow::capture`] wants the bytes.
    pub fn capturing(&self) -> bool {
        self.record.is_on()
    }

    /// The streamed answer's content-length, when it goes out with one.
    pub fn length(&self) -> Option<f64> {
        self.length.map(|n| n as f64)
    }

    /// The body passed in JavaScript ([`PASS`]) has ended: `sent` bytes;
    /// `how`: 0 complete, 1 the upstream broke it off (`text`: why), 2 the
    /// client went away, 3 the upstream's body failed (`silent`, `text`).
    pub fn passed(&mut self, sent: f64, how: u32, silent: bool, text: &str) {
        self.record.response_counted(sent as u64);
        match how {
            0 => {}
            2 => self.record.failed(Side::Client, CLIENT_GONE),
            3 => self.record.failed(Side::Upstream, &broke_off(silent, text)),
            _ => self.record.failed(Side::Upstream, text),
        }
    }

    /// An upstream chunk through the relay: the bytes for the client, or
    /// `None` when the body is now longer than its content-length (then
    /// [`Flow::too_long`] before the head went out, [`Flow::longer`] after).
    pub fn chunk(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let relay = self.relay.as_mut()?;
        let out = relay.chunk(bytes);
        (!relay.is_broken()).then_some(out)
    }

    /// A 502 for a body already longer than its content-length, before the
    /// head went out.
    #[wasm_bindgen(js_name = tooLong)]
    pub fn too_long(&mut self) -> u32 {
        let Some(relay) = self.relay.take() else { return self.internal() };
        let (_, record) = relay.fail("the upstream sent more than its content-length");
        self.record = record;
        self.out = None;
        self.error(ProxyError::BadGateway(BROKE_OFF.into()))
    }

    /// The relayed body ended: its last bytes, or `None` when it must end
    /// unfinished (cut, never falsely complete).
    pub fn end(&mut self) -> Option<Vec<u8>> {
        let relay = self.relay.take()?;
        self.ending(relay.end())
    }

    /// The relayed body grew past its content-length: as [`Flow::end`].
    pub fn longer(&mut self) -> Option<Vec<u8>> {
        let relay = self.relay.take()?;
        self.ending(relay.fail("the upstream sent more than its content-length"))
    }

    /// Reading the relayed body failed: as [`Flow::end`].
    pub fn cut(&mut self, silent: bool, text: &str, client_gone: bool) -> Option<Vec<u8>> {
        let relay = self.relay.take()?;
        match client_gone {
            true => self.ending((Ending::Truncate, relay.client_gone(CLIENT_GONE))),
            false => self.ending(relay.fail(&broke_off(silent, text))),
        }
    }

    /// The client went away while the body was relayed.
    pub fn gone(&mut self) {
        if let Some(relay) = self.relay.take() {
            self.record = relay.client_gone(CLIENT_GONE);
        }
    }

    /// The body broke off before its first byte (the fetch is stopped): the
    /// 502 to answer.
    #[wasm_bindgen(js_name = firstFailed)]
    pub fn first_failed(&mut self, silent: bool, text: &str, client_gone: bool) -> u32 {
        self.start = None;
        let why = format!("the upstream body broke off before its first byte: {}", words(silent, text));
        self.blame(why, client_gone);
        self.error(ProxyError::BadGateway(BROKE_OFF.into()))
    }

    /// The answer's status.
    pub fn status(&self) -> u16 {
        match (&self.out, &self.reply) {
            (Some((status, _)), _) => *status,
            (None, Some(reply)) => reply.status().as_u16(),
            (None, None) => 502,
        }
    }

    /// The [`ANSWER`]'s body, once.
    #[wasm_bindgen(js_name = takeBody)]
    pub fn take_body(&mut self) -> Vec<u8> {
        self.reply.as_mut().map(|reply| std::mem::take(reply.body_mut())).unwrap_or_default()
    }

    /// The request is over for the client: the log line now, and the
    /// reports gathered for aepipe. Returns how many ms to wait before
    /// [`Flow::take_batch`] and sending (-1: nothing to send by
    /// this request).
    pub fn settle(&mut self) -> f64 {
        let record = std::mem::replace(&mut self.record, Recorder::off());
        report::settle(record, &self.cfg, self.elapsed())
    }
}

impl Flow {
    /// Ends the request with `reply` (logged and reported at [`Flow::settle`]).
    fn answer(&mut self, mut reply: Reply) -> u32 {
        let elapsed = self.elapsed();
        self.record.reply(&mut reply, elapsed);
        self.reply = Some(reply);
        ANSWER
    }

    /// Ends the request with the exchange's answer for `error`.
    fn error(&mut self, error: ProxyError) -> u32 {
        match &self.forward {
            Some(forward) => {
                let reply = forward.exchange.error(&error);
                self.answer(reply)
            }
            None => self.answer(error_reply(&error, request_dialect(&self.head))),
        }
    }

    /// Goes on with a planned upstream request.
    fn send(&mut self, forward: Box<Forward>) -> u32 {
        self.record.route(&forward.exchange.info);
        if let ForwardBody::StreamClient { limit } = forward.body {
            self.limit = limit;
        }
        self.forward = Some(forward);
        SEND
    }

    /// No response came: the log gets who failed, the client the core's answer.
    fn failed(&mut self, failure: &UpstreamFailure, client_gone: bool) -> u32 {
        let Some(forward) = self.forward.take() else { return self.internal() };
        crate::runtime_note(&self.cfg, "upstream", &failure.detail);
        self.blame(forward.exchange.describe(failure), client_gone);
        let reply = forward.exchange.on_failure(failure);
        self.forward = Some(forward);
        self.answer(reply)
    }

    /// Records a broken exchange: the client's fault if it hung up, else the
    /// upstream's (`upstream_why`).
    fn blame(&mut self, upstream_why: String, client_gone: bool) {
        match client_gone {
            true => self.record.failed(Side::Client, CLIENT_GONE),
            false => self.record.failed(Side::Upstream, &upstream_why),
        }
    }

    fn ending(&mut self, (ending, record): (Ending, Recorder)) -> Option<Vec<u8>> {
        self.record = record;
        match ending {
            Ending::Finish(bytes) => Some(bytes),
            Ending::Truncate => None,
        }
    }

    /// A step out of order (a bug in `entry.js`): a 502, never a hang.
    fn internal(&mut self) -> u32 {
        self.record.failed(Side::Upstream, "the Worker took its steps out of order");
        self.answer(error_reply(
            &ProxyError::BadGateway("the proxy failed to handle this request".into()),
            request_dialect(&self.head),
        ))
    }

    fn elapsed(&self) -> f64 {
        (crate::now_ms() - self.started) as f64
    }
}

/// The log's words for a body that broke off with this failure.
fn broke_off(silent: bool, text: &str) -> String {
    format!("the upstream body broke off: {}", words(silent, text))
}

/// A failure in the core's words: `text` itself when `silent` (a wait that
/// gave up), else the kind the runtime's words name.
fn words(silent: bool, text: &str) -> String {
    match silent {
        true => text.to_owned(),
        false => convert::failure_of(text).kind.words().to_owned(),
    }
}

/// Milliseconds of `duration`, for JavaScript's timers.
fn ms(duration: Duration) -> f64 {
    duration.as_millis() as f64
}
