//! One request's exchange, from its head to its last report, as a sans-IO
//! state machine (docs/architecture.md, "The exchange"). A host hands it
//! [`Event`]s and performs the [`Action`]s it returns; the exchange decides
//! everything else: the route, the upstream request, what goes back, every
//! deadline (as the timer an action arms), every length check, the record
//! for the access log and the reports, and their words.
//!
//! Protocol for a host:
//! 1. [`Exchange::new`] with the request head, then [`Exchange::start`];
//! 2. perform each action and hand [`Exchange::on`] what happened, until an
//!    action ends the request ([`Action::ends`]);
//! 3. [`Exchange::finish`]: write its log lines and send its reports.
//!
//! Times are milliseconds on any clock of the host's that only moves
//! forward; the exchange has no clock of its own.

pub mod answer;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{HeaderMap, HeaderValue};
use http::request::Parts;

use crate::config::{Config, LogLevel, Timeouts};
use crate::errors::{ProxyError, Shape};
use crate::failure::{FailureKind, Stop, UpstreamFailure};
use crate::gateway::fallback::{self, Attempt, Chain};
use crate::headers::{ATTEMPTS_HEADER, MODEL_HEADER};
use crate::plan::{Forward, Outgoing, Reading, Reply, RouteInfo, declared_length, error_reply, origin_of};
use crate::report::{AepipeCall, Recorder, Side};
use crate::route::{self, Plan};
use answer::{BROKE_OFF, Decision, Ending, Relay, WHOLE_AT_ONCE, Whole};

/// The status the log and reports give a request whose client left before
/// any answer (nginx's "client closed request").
const CLIENT_CLOSED: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

/// What happened, as a host tells it.
#[derive(Debug)]
pub enum Event<'a> {
    /// A chunk of the client's body: read for [`Action::ReadBody`], or
    /// about to be streamed upstream ([`Upload::Client`](crate::plan::Upload::Client)).
    BodyChunk(&'a [u8]),
    /// The client's body ended.
    BodyEnd,
    /// Reading the client's body stopped.
    BodyFailed(Stop),
    /// The upstream's response head. `decoded`: the host undid the body's
    /// content-encoding (and left out `content-encoding` and `content-length`).
    Head { status: StatusCode, headers: HeaderMap, decoded: bool },
    /// A chunk of the upstream's body.
    Chunk(&'a [u8]),
    /// The last chunk of the upstream's body: the body ended with it.
    Last(&'a [u8]),
    /// The upstream's body ended.
    End,
    /// The upstream failed: no response (before [`Event::Head`]), or its body
    /// broke off.
    Failed(UpstreamFailure),
    /// The timer the last action armed ran out.
    Timeout,
    /// The client went away: it hung up, or stopped taking bytes.
    ClientGone(Stop),
}

impl<'a> Event<'a> {
    /// A read of the client's body as the exchange takes it: a chunk, the
    /// end, or why it stopped.
    pub fn body(read: &'a Result<Option<Vec<u8>>, Stop>) -> Event<'a> {
        match read {
            Ok(Some(chunk)) => Event::BodyChunk(chunk),
            Ok(None) => Event::BodyEnd,
            Err(stop) => Event::BodyFailed(stop.clone()),
        }
    }

    /// A read of the upstream's body as the exchange takes it. A read that
    /// stopped `Closed` was abandoned because the client went away.
    pub fn upstream(read: &'a Result<Option<Vec<u8>>, Stop>) -> Event<'a> {
        match read {
            Ok(Some(chunk)) => Event::Chunk(chunk),
            Ok(None) => Event::End,
            Err(Stop::TimedOut) => Event::Timeout,
            Err(Stop::Closed) => Event::ClientGone(Stop::Closed),
            Err(Stop::Failed(failure)) => Event::Failed(failure.clone()),
        }
    }
}

/// What the host does next.
#[derive(Debug)]
pub enum Action {
    /// Read the client's body on: [`Event::BodyChunk`], [`Event::BodyEnd`]
    /// or [`Event::BodyFailed`]. A host may read it all and hand it over as
    /// one chunk (at most `limit` bytes are taken).
    ReadBody { limit: usize },
    /// Send this upstream, and arm a timer of `timeouts.head()` for its head
    /// (connecting, the TLS handshake and the wait, together); then
    /// [`Event::Head`], [`Event::Failed`] or [`Event::Timeout`]. With
    /// [`Upload::Client`](crate::plan::Upload::Client) the client's body streams on: each chunk goes to
    /// [`Event::BodyChunk`] first and is sent only on [`Action::Upload`]
    /// ([`Event::BodyFailed`] if reading it fails).
    Send { request: Box<Outgoing>, timeouts: Timeouts },
    /// Send the chunk just handed over upstream, and go on streaming.
    Upload,
    /// Read the upstream's body on, arming a timer of `idle` between chunks:
    /// [`Event::Chunk`], [`Event::Last`], [`Event::End`], [`Event::Failed`]
    /// or [`Event::Timeout`]. `whole`: the rest is small and wanted at once
    /// (a host may read it in one call and hand it over as [`Event::Last`]).
    Read { idle: Duration, whole: bool },
    /// Answer the client: the response head first when there is one, then
    /// `body`; then, by `end`: `None`, read the upstream on (as the last
    /// [`Action::Read`] said); [`End::Complete`], end the body normally;
    /// [`End::Cut`], end it unfinished (or never start it), so the client
    /// sees it cut, never falsely complete. The request is over after an end.
    Answer { head: Option<Box<Head>>, body: Vec<u8>, end: Option<End> },
}

/// A response head.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body goes out with this `content-length` (its value is in
    /// `headers` too), verified.
    pub length: Option<u64>,
}

/// How an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Complete,
    Cut,
}

impl Action {
    /// `true` when the request is over for the client after this action.
    pub fn ends(&self) -> bool {
        matches!(self, Action::Answer { end: Some(_), .. })
    }

    /// Bytes for the client, with nothing else.
    fn bytes(body: Vec<u8>) -> Action {
        Action::Answer { head: None, body, end: None }
    }

    fn end(body: Vec<u8>, end: End) -> Action {
        Action::Answer { head: None, body, end: Some(end) }
    }
}

/// What a request leaves behind.
#[derive(Debug)]
pub struct Finished {
    /// Lines for the host's log: the runtime's own words (at
    /// `LOG_LEVEL=debug`), then the access-log line.
    pub log: Vec<String>,
    pub reports: Vec<AepipeCall>,
}

/// An upstream exchange in flight: what its answer needs.
#[derive(Debug)]
struct Upstream {
    reading: Reading,
    neutral_failures: bool,
    origin: String,
    /// Client body bytes streamed so far.
    uploaded: usize,
    idle: Duration,
}

#[derive(Debug)]
enum State {
    Start,
    /// Reading the client's body: what came so far.
    Body(route::Pending, Vec<u8>),
    /// Sent; waiting for the head (and streaming the client's body).
    Sent(Box<Upstream>),
    /// Reading an answer whole.
    Whole(Box<Upstream>, Box<Whole>),
    /// Gathering a streamed answer's first bytes before its head goes out.
    First {
        upstream: Box<Upstream>,
        status: StatusCode,
        headers: HeaderMap,
        relay: Box<Relay>,
        held: Vec<u8>,
        hold: usize,
    },
    Streaming(Box<Upstream>, Box<Relay>),
    Done,
}

/// One request, from its head to its reports.
#[derive(Debug)]
pub struct Exchange {
    cfg: Arc<Config>,
    head: Parts,
    /// The client's error shape.
    shape: Shape,
    record: Recorder,
    state: State,
    /// When the request arrived.
    started: f64,
    /// The runtime's own words, for `LOG_LEVEL=debug`.
    notes: Vec<String>,
    /// The fallbacks still to try, when the request has some, and when the
    /// attempt going on and the first one started.
    chain: Option<Box<Chain>>,
    attempt_started: f64,
    chain_started: f64,
    attempts: usize,
}

impl Exchange {
    /// A request arrived at `now`: its head (the body is read when an action asks).
    pub fn new(cfg: Arc<Config>, head: Parts, now: f64) -> Exchange {
        let record = Recorder::new(&cfg, &head, &crate::ids::unique_id());
        let shape = route::shape_of(&head);
        Exchange {
            cfg,
            head,
            shape,
            record,
            state: State::Start,
            started: now,
            notes: Vec::new(),
            chain: None,
            attempt_started: now,
            chain_started: now,
            attempts: 0,
        }
    }

    /// The first action.
    pub fn start(&mut self, now: f64) -> Action {
        if !matches!(self.state, State::Start) {
            return self.out_of_order(now);
        }
        match route::plan(&self.cfg, &self.head) {
            Plan::Respond(reply) => self.answer(reply, now),
            Plan::ReadBody(pending) => {
                let limit = pending.limit();
                // Room for the declared length at once: growing by doubling
                // would hold a big body twice while it grows.
                let declared = self.declared_length().map_or(0, |n| n.min(limit as u64) as usize);
                self.state = State::Body(pending, Vec::with_capacity(declared));
                Action::ReadBody { limit }
            }
            Plan::Forward(forward) => self.send(*forward),
        }
    }

    /// The first action for a request the host cannot carry as sent (instead
    /// of [`Exchange::start`]): `error`, answered in the client's dialect.
    pub fn refuse(&mut self, error: &ProxyError, now: f64) -> Action {
        self.state = State::Done;
        self.answer(error_reply(error, self.shape), now)
    }

    /// What happened at `now`; the next action.
    pub fn on(&mut self, event: Event, now: f64) -> Action {
        let state = std::mem::replace(&mut self.state, State::Done);
        match (state, event) {
            (_, Event::ClientGone(stop)) => {
                self.record.failed(Side::Client, &format!("the client went away: {}", stop.words()));
                self.client_note(&stop);
                if !self.record.answered() {
                    // Nobody is there to read an answer: the log says 499, "client closed request".
                    self.record.response_head(CLIENT_CLOSED, &mut HeaderMap::new(), now - self.started);
                }
                Action::end(Vec::new(), End::Cut)
            }
            (State::Body(pending, mut body), Event::BodyChunk(chunk)) => {
                self.record.request_chunk(chunk);
                let limit = pending.limit();
                if body.len() + chunk.len() > limit {
                    return self.answer(error_reply(&ProxyError::PayloadTooLarge { limit }, self.shape), now);
                }
                body.extend_from_slice(chunk);
                self.state = State::Body(pending, body);
                Action::ReadBody { limit }
            }
            (State::Body(pending, body), Event::BodyEnd) => match pending.with_body(&self.cfg, body) {
                Ok((forward, chain)) => {
                    self.chain = chain;
                    (self.attempt_started, self.chain_started) = (now, now);
                    self.send(forward)
                }
                Err(reply) => self.answer(reply, now),
            },
            (State::Body(..) | State::Sent(_), Event::BodyFailed(stop)) => {
                let why = format!("the request body could not be read: {}", stop.words());
                self.record.failed(Side::Client, &why);
                self.client_note(&stop);
                self.answer(error_reply(&ProxyError::client_body(), self.shape), now)
            }
            (State::Sent(mut upstream), Event::BodyChunk(chunk)) => {
                self.record.request_chunk(chunk);
                upstream.uploaded += chunk.len();
                let limit = self.cfg.max_body_bytes;
                if upstream.uploaded > limit {
                    return self.answer(error_reply(&ProxyError::PayloadTooLarge { limit }, self.shape), now);
                }
                self.state = State::Sent(upstream);
                Action::Upload
            }
            (State::Sent(upstream), Event::Head { status, headers, decoded }) => {
                if let Some(next) = self.next_attempt(status.as_u16(), fallback::moves_on(status), now) {
                    return next;
                }
                self.head_arrived(*upstream, status, &headers, decoded)
            }
            (State::Sent(upstream), Event::Failed(failure)) => {
                if let Some(next) = self.next_attempt(0, true, now) {
                    self.note(format!("upstream, then the next model: {failure}"));
                    return next;
                }
                self.no_answer(&upstream, &failure, now)
            }
            (State::Sent(upstream), Event::Timeout) => {
                if let Some(next) = self.next_attempt(0, true, now) {
                    return next;
                }
                let failure =
                    UpstreamFailure::new(FailureKind::ResponseTimeout, "no response head by the deadline");
                self.no_answer(&upstream, &failure, now)
            }
            (State::Whole(upstream, mut whole), Event::Chunk(chunk)) => match whole.push(chunk) {
                true => {
                    let idle = upstream.idle;
                    self.state = State::Whole(upstream, whole);
                    Action::Read { idle, whole: false }
                }
                false => self.answer(whole.finish(), now),
            },
            (State::Whole(_, mut whole), Event::Last(chunk)) => {
                whole.push(chunk);
                self.answer(whole.finish(), now)
            }
            (State::Whole(_, whole), Event::End) => self.answer(whole.finish(), now),
            (State::Whole(upstream, whole), event @ (Event::Failed(_) | Event::Timeout)) => {
                let why = self.broke_off(&upstream, event);
                self.record.failed(Side::Upstream, &format!("the upstream body broke off: {why}"));
                self.answer(whole.fail(), now)
            }
            (State::First { upstream, status, headers, mut relay, mut held, hold }, Event::Chunk(chunk)) => {
                held.extend(relay.chunk(chunk));
                if relay.is_broken() {
                    return self.too_long(now);
                }
                if held.len() < hold {
                    let idle = upstream.idle;
                    self.state = State::First { upstream, status, headers, relay, held, hold };
                    return Action::Read { idle, whole: false };
                }
                let length = relay.length();
                self.state = State::Streaming(upstream, relay);
                self.respond(status, headers, held, length, false, now)
            }
            (
                State::First { status, headers, mut relay, mut held, .. },
                event @ (Event::Last(_) | Event::End),
            ) => {
                if let Event::Last(chunk) = event {
                    held.extend(relay.chunk(chunk));
                }
                if relay.is_broken() {
                    return self.too_long(now);
                }
                let length = relay.length();
                match relay.end() {
                    Ending::Finish(last) => {
                        held.extend(last);
                        self.respond(status, headers, held, length, true, now)
                    }
                    // Nothing went out yet: a body cut short is a 502, not a head and a cut.
                    Ending::Truncate(why) => {
                        self.record.failed(Side::Upstream, &why);
                        self.answer(error_reply(&ProxyError::BadGateway(BROKE_OFF.into()), self.shape), now)
                    }
                }
            }
            (State::First { upstream, .. }, event @ (Event::Failed(_) | Event::Timeout)) => {
                let why = self.broke_off(&upstream, event);
                let why = format!("the upstream body broke off before its first byte: {why}");
                self.record.failed(Side::Upstream, &why);
                self.answer(error_reply(&ProxyError::BadGateway(BROKE_OFF.into()), self.shape), now)
            }
            (State::Streaming(upstream, mut relay), Event::Chunk(chunk)) => {
                let bytes = relay.chunk(chunk);
                if relay.is_broken() {
                    return self.ending(relay.fail("the upstream sent more than its content-length"));
                }
                self.record.response_chunk(&bytes);
                let idle = upstream.idle;
                self.state = State::Streaming(upstream, relay);
                match bytes.is_empty() {
                    true => Action::Read { idle, whole: false },
                    false => Action::bytes(bytes),
                }
            }
            (State::Streaming(_, mut relay), event @ (Event::Last(_) | Event::End)) => {
                let mut bytes = match event {
                    Event::Last(chunk) => relay.chunk(chunk),
                    _ => Vec::new(),
                };
                if relay.is_broken() {
                    return self.ending(relay.fail("the upstream sent more than its content-length"));
                }
                match relay.end() {
                    Ending::Finish(last) => {
                        bytes.extend(last);
                        self.ending(Ending::Finish(bytes))
                    }
                    // What came with the last chunk goes out before the cut.
                    Ending::Truncate(why) => {
                        self.record.response_chunk(&bytes);
                        self.record.failed(Side::Upstream, &why);
                        Action::end(bytes, End::Cut)
                    }
                }
            }
            (State::Streaming(upstream, relay), event @ (Event::Failed(_) | Event::Timeout)) => {
                let why = self.broke_off(&upstream, event);
                self.ending(relay.fail(&format!("the upstream body broke off: {why}")))
            }
            (state, _) => {
                self.state = state;
                self.out_of_order(now)
            }
        }
    }

    /// The request is over (the client has its whole answer, or is gone) at
    /// `now`, `unix_ms` on the wall clock: the log lines and the reports.
    pub fn finish(self, now: f64, unix_ms: u64) -> Finished {
        let debug = self.cfg.log.level == LogLevel::Debug;
        let finished = self.record.finish(&self.cfg, now - self.started, unix_ms);
        let mut log: Vec<String> = match debug {
            true => self.notes.into_iter().map(|note| format!("apex-ai-proxy: {note}")).collect(),
            false => Vec::new(),
        };
        log.extend(finished.log);
        Finished { log, reports: finished.calls }
    }

    /// For a request with fallbacks, an attempt ended with `status` (0: no
    /// answer): it is recorded, and when `failed` and another model remains
    /// within the chain's time, that model's request is the next action.
    fn next_attempt(&mut self, status: u16, failed: bool, now: f64) -> Option<Action> {
        let chain = self.chain.as_mut()?;
        let model = chain.current().to_owned();
        self.record.attempt(Attempt { model, status, duration_ms: now - self.attempt_started });
        self.attempts += 1;
        let left = self.cfg.attempts_timeout.as_secs_f64() * 1000.0 - (now - self.chain_started);
        if !failed || left <= 0.0 {
            return None;
        }
        let mut forward = chain.next(&self.cfg)?;
        // The chain's time bounds this attempt's wait for its head too.
        let head = forward.timeouts.head().as_secs_f64() * 1000.0;
        if head > left {
            let cut = std::time::Duration::from_secs_f64((head - left) / 1000.0);
            forward.timeouts.first_byte = forward.timeouts.first_byte.saturating_sub(cut);
        }
        self.attempt_started = now;
        Some(self.send(forward))
    }

    /// Sends a planned request upstream.
    fn send(&mut self, forward: Forward) -> Action {
        let Forward { request, reading, info, shape, neutral_failures, timeouts } = forward;
        self.record.route(&info);
        self.shape = shape;
        let upstream = Upstream {
            reading,
            neutral_failures,
            origin: origin_of(&request.uri),
            uploaded: 0,
            idle: timeouts.between_bytes,
        };
        self.state = State::Sent(Box::new(upstream));
        Action::Send { request: Box::new(request), timeouts }
    }

    /// The upstream's head arrived: how its answer goes.
    fn head_arrived(
        &mut self,
        mut upstream: Upstream,
        status: StatusCode,
        headers: &HeaderMap,
        decoded: bool,
    ) -> Action {
        let reading = std::mem::replace(&mut upstream.reading, Reading::Relay);
        let small = declared_length(headers).is_some_and(|n| n <= WHOLE_AT_ONCE) && !decoded;
        let idle = upstream.idle;
        let upstream = Box::new(upstream);
        match answer::decide(reading, self.shape, status, headers, decoded) {
            Decision::Whole(whole) => {
                self.state = State::Whole(upstream, Box::new(whole));
                Action::Read { idle, whole: small }
            }
            Decision::Stream(start) => {
                let small = small && !crate::headers::is_event_stream(headers);
                self.state = State::First {
                    upstream,
                    status: start.status,
                    headers: start.headers,
                    relay: Box::new(start.relay),
                    held: Vec::new(),
                    hold: start.hold,
                };
                Action::Read { idle, whole: small }
            }
        }
    }

    /// No response came: the log gets who failed and why, the client the core's words.
    fn no_answer(&mut self, upstream: &Upstream, failure: &UpstreamFailure, now: f64) -> Action {
        self.note(format!("upstream: {failure}"));
        let host = self.record.upstream_host().to_owned();
        let precise = failure.message(&host, &upstream.origin, false);
        self.record.failed(Side::Upstream, &precise);
        let message = failure.message(&host, &upstream.origin, upstream.neutral_failures);
        let error = match failure.kind.is_timeout() {
            true => ProxyError::GatewayTimeout(message),
            false => ProxyError::BadGateway(message),
        };
        self.answer(error_reply(&error, self.shape), now)
    }

    /// Why an upstream body stopped, in the core's words (the runtime's go to
    /// the debug log).
    fn broke_off(&mut self, upstream: &Upstream, event: Event) -> String {
        match event {
            Event::Failed(failure) => {
                self.note(format!("the upstream body: {failure}"));
                failure.kind.words().to_owned()
            }
            _ => format!("silent for more than {} ms", upstream.idle.as_millis()),
        }
    }

    /// A 502 for a body already longer than its content-length, before its head went out.
    fn too_long(&mut self, now: f64) -> Action {
        self.record.failed(Side::Upstream, "the upstream sent more than its content-length");
        self.answer(error_reply(&ProxyError::BadGateway(BROKE_OFF.into()), self.shape), now)
    }

    /// The end of a streamed body.
    fn ending(&mut self, ending: Ending) -> Action {
        match ending {
            Ending::Finish(bytes) => {
                self.record.response_chunk(&bytes);
                Action::end(bytes, End::Complete)
            }
            Ending::Truncate(why) => {
                self.record.failed(Side::Upstream, &why);
                Action::end(Vec::new(), End::Cut)
            }
        }
    }

    /// A complete answer of the proxy's own (or read whole).
    fn answer(&mut self, reply: Reply, now: f64) -> Action {
        if let Some(info) = reply.extensions().get::<RouteInfo>() {
            self.record.route(info);
        }
        let (parts, body) = reply.into_parts();
        let length = Some(body.len() as u64).filter(|_| parts.status != StatusCode::NO_CONTENT);
        self.state = State::Done;
        self.respond(parts.status, parts.headers, body, length, true, now)
    }

    /// The answer's head, stamped and recorded, with its first bytes.
    fn respond(
        &mut self,
        status: StatusCode,
        mut headers: HeaderMap,
        body: Vec<u8>,
        length: Option<u64>,
        complete: bool,
        now: f64,
    ) -> Action {
        self.record.stamp(&mut headers);
        if let Some(chain) = &self.chain {
            // Which model answered, and after how many attempts.
            headers.insert(ATTEMPTS_HEADER, HeaderValue::from(self.attempts.max(1)));
            if let Ok(model) = HeaderValue::from_str(chain.current()) {
                headers.insert(MODEL_HEADER, model);
            }
        }
        self.record.response_head(status, &mut headers, now - self.started);
        self.record.response_chunk(&body);
        let length = if complete { Some(body.len() as u64).filter(|_| length.is_some()) } else { length };
        let end = complete.then_some(End::Complete);
        Action::Answer { head: Some(Box::new(Head { status, headers, length })), body, end }
    }

    /// A step out of order (a bug in a host): a 502 if nothing was said yet, never a hang.
    fn out_of_order(&mut self, now: f64) -> Action {
        self.record.failed(Side::Upstream, "the host took its steps out of order");
        match self.record.answered() {
            true => Action::end(Vec::new(), End::Cut),
            false => {
                let error = ProxyError::BadGateway("the proxy failed to handle this request".into());
                self.answer(error_reply(&error, self.shape), now)
            }
        }
    }

    /// The runtime's own words about a client that stopped, for the debug log.
    fn client_note(&mut self, stop: &Stop) {
        if let Stop::Failed(failure) = stop {
            self.note(format!("the client: {failure}"));
        }
    }

    fn note(&mut self, note: String) {
        if self.cfg.log.level == LogLevel::Debug {
            self.notes.push(note);
        }
    }

    /// The client's `content-length`, when it sent one.
    pub fn declared_length(&self) -> Option<u64> {
        declared_length(&self.head.headers)
    }

    /// `true` when aepipe reports will be built for this request.
    pub fn reporting(&self) -> bool {
        self.record.is_on()
    }
}

#[cfg(test)]
mod tests;
