//! The WASI host: `wasi:http/incoming-handler` in, `wasi:http/outgoing-handler`
//! out. It performs the actions of the core's [`Exchange`] and tells it what
//! happened (docs/hosts/wasmtime.md).
//!
//! Every wait is bounded: reads, writes and the response head are polled
//! together with a `wasi:clocks` timer, so nothing the runtime does (a TLS
//! handshake that never ends, a peer that never reads) holds a request past
//! its deadline. Pollables are dropped right after their `poll`, before the
//! resource they watch. `outgoing_handler::handle` is called before the
//! request body is written (writing a large body first hangs).

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::HeaderMap;
use http::{Method, Request, StatusCode};
use wasi::clocks::monotonic_clock;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingRequest, IncomingResponse,
    Method as Verb, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

use crate::config::Config;
use crate::exchange::{Action, End, Event, Exchange, Head};
use crate::failure::{FailureKind, Stop, UpstreamFailure};
use crate::plan::Outgoing;
use crate::report::backlog::Backlog;
use crate::report::{AepipeCall, delivery};

/// How long a client may stall: sending its body, or taking the response.
const CLIENT_STALL: Duration = Duration::from_secs(60);
/// How often a silent upstream's client is checked for having hung up.
const CLIENT_CHECK: Duration = Duration::from_secs(1);
/// The most an aepipe report may take: connection, TLS and answer.
const REPORT_LIMIT: Duration = Duration::from_secs(7);

thread_local! {
    /// This instance's configuration: its settings do not change while it lives.
    static CONFIG: Arc<Config> = Arc::new(Config::from_lookup(setting));
    /// Reports sent and not yet answered; the requests this instance may
    /// still serve. Before its last, a request does not wait for its reports'
    /// answers (`Config::instance_reuse`).
    static REPORTS: RefCell<(Backlog<FutureIncomingResponse>, usize)> =
        CONFIG.with(|c| RefCell::new((Backlog::new(c.reports_waiting), c.instance_reuse)));
}

/// A setting from the environment; in the `spin` flavour, one the environment
/// lacks is the Spin variable of that name in lower case (docs/hosts/spin.md,
/// "Settings as Spin variables").
fn setting(name: &str) -> Option<String> {
    let set = std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    #[cfg(feature = "spin")]
    let set = set.or_else(|| {
        crate::spin_variables::wasi::config::store::get(&name.to_ascii_lowercase()).ok().flatten()
    });
    set
}

/// Milliseconds on the host's monotonic clock.
fn now() -> f64 {
    monotonic_clock::now() as f64 / 1e6
}

/// The instant `after` from now, on the monotonic clock.
fn deadline(after: Duration) -> u64 {
    monotonic_clock::now().saturating_add(u64::try_from(after.as_nanos()).unwrap_or(u64::MAX))
}

/// Waits for the first of `ready` or `deadline`: which one fired (`None`: the deadline).
fn wait(deadline: u64, ready: &[&Pollable]) -> Option<usize> {
    let timer = monotonic_clock::subscribe_instant(deadline);
    let all: Vec<&Pollable> = ready.iter().copied().chain([&timer]).collect();
    poll(&all).into_iter().map(|i| i as usize).find(|&i| i < ready.len())
}

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let mut ex = Exchange::new(CONFIG.with(Arc::clone), read_head(&request), now());
        let mut io =
            Io { request, out: Some(out), input: None, answer: None, upstream: None, idle: Duration::ZERO };
        let mut action = ex.start(now());
        loop {
            action = match action {
                Action::ReadBody { .. } => ex.on(Event::body(&io.chunk()), now()),
                // Only the answer to a chunk about to go upstream: here, a host bug (the exchange answers 502).
                Action::Upload => ex.on(Event::End, now()),
                Action::Send { request, timeouts } => io.send(&mut ex, *request, deadline(timeouts.head())),
                Action::Read { idle, .. } => io.read(&mut ex, Some(idle)),
                Action::Answer { head, body, end } => match (io.answer(head, &body), end) {
                    (Err(stop), _) => ex.on(Event::ClientGone(stop), now()),
                    (Ok(()), None) => io.read(&mut ex, None),
                    (Ok(()), Some(End::Complete)) => break io.answer.take().map_or((), finish),
                    // Dropped unfinished: the client sees a cut response, never a falsely complete one.
                    (Ok(()), Some(End::Cut)) => break,
                },
            };
        }
        drop(io);
        // The client has its whole response now; reporting cannot delay it.
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |t| t.as_millis() as u64);
        let finished = ex.finish(now(), unix_ms);
        finished.log.into_iter().for_each(log_line);
        send_reports(finished.reports);
    }
}

/// One request's I/O: the client's body and answer, the upstream's body.
struct Io {
    request: IncomingRequest,
    out: Option<ResponseOutparam>,
    input: Option<Input>,
    answer: Option<Output>,
    upstream: Option<Input>,
    idle: Duration,
}

impl Io {
    /// The next chunk of the client's body (`None`: its end); it may stall a minute.
    fn chunk(&mut self) -> Result<Option<Vec<u8>>, Stop> {
        if self.input.is_none() {
            let body = self.request.consume().map_err(|()| Stop::Closed)?;
            self.input = Some(Input(body.stream().map_err(|()| Stop::Closed)?, body));
        }
        self.input.as_ref().map_or(Ok(None), |input| input.read(deadline(CLIENT_STALL), &|| true))
    }

    /// Sends the request and its body (the planned bytes, or the client's
    /// body chunk by chunk as the exchange allows), then waits for the head
    /// until `by`.
    fn send(&mut self, ex: &mut Exchange, request: Outgoing, by: u64) -> Action {
        let sending = match send(&request) {
            Ok(sending) => sending,
            Err(failure) => return ex.on(Event::Failed(failure), now()),
        };
        let mut planned = request.body.into_bytes();
        let streaming = planned.is_none();
        let finished = loop {
            let bytes = match (planned.take(), streaming) {
                (Some(bytes), _) => bytes,
                (None, false) => break true,
                (None, true) => match self.chunk() {
                    Ok(None) => break true,
                    Ok(Some(chunk)) => match ex.on(Event::BodyChunk(&chunk), now()) {
                        Action::Upload => chunk,
                        answer => return answer,
                    },
                    Err(stop) => return ex.on(Event::BodyFailed(stop), now()),
                },
            };
            match write(&sending.body.0, &bytes, by, Some(&sending.future.subscribe())) {
                Ok(()) => {}
                Err(Stop::TimedOut) => return ex.on(Event::Timeout, now()),
                // The upstream answered first, or writing failed: its answer (a 413 of its own, say) says why.
                Err(_) => break false,
            }
        };
        let (event, body) = sending.head(by, finished);
        self.upstream = body;
        ex.on(event, now())
    }

    /// Reads the upstream body on (silent at most `idle`, or as long as the
    /// last read allowed), checking meanwhile that the client is still there.
    fn read(&mut self, ex: &mut Exchange, idle: Option<Duration>) -> Action {
        self.idle = idle.unwrap_or(self.idle);
        let Some(upstream) = &self.upstream else { return ex.on(Event::End, now()) };
        let alive = || self.answer.as_ref().is_none_or(|answer| answer.0.check_write().is_ok());
        ex.on(Event::upstream(&upstream.read(deadline(self.idle), &alive)), now())
    }

    /// Sends the response head (when there is one), then `body`.
    fn answer(&mut self, head: Option<Box<Head>>, body: &[u8]) -> Result<(), Stop> {
        if let Some(head) = head {
            let response = OutgoingResponse::new(fields_of(&head.headers));
            let _ = response.set_status_code(head.status.as_u16());
            let outgoing = response.body().map_err(|()| Stop::Closed)?;
            ResponseOutparam::set(self.out.take().ok_or(Stop::Closed)?, Ok(response));
            self.answer = Some(Output(outgoing.write().map_err(|()| Stop::Closed)?, outgoing));
        }
        self.answer.as_ref().map_or(Ok(()), |answer| write(&answer.0, body, deadline(CLIENT_STALL), None))
    }
}

/// A body being read (the stream first: dropped before its body).
struct Input(InputStream, #[allow(dead_code)] IncomingBody);

impl Input {
    /// The next chunk (`None`: the end) by `deadline`; `alive` is asked every
    /// [`CLIENT_CHECK`] whether the one it is for is still there.
    fn read(&self, deadline: u64, alive: &dyn Fn() -> bool) -> Result<Option<Vec<u8>>, Stop> {
        loop {
            match self.0.read(64 * 1024) {
                Ok(bytes) if !bytes.is_empty() => return Ok(Some(bytes)),
                Ok(_) => {}
                Err(StreamError::Closed) => return Ok(None),
                Err(StreamError::LastOperationFailed(e)) => {
                    let code = wasi::http::types::http_error_code(&e);
                    let words = code.map_or_else(|| e.to_debug_string(), |code| code.to_string());
                    return Err(Stop::Failed(UpstreamFailure::from_wasi(&words)));
                }
            }
            if wait(deadline.min(self::deadline(CLIENT_CHECK)), &[&self.0.subscribe()]).is_none() {
                if monotonic_clock::now() >= deadline {
                    return Err(Stop::TimedOut);
                }
                if !alive() {
                    return Err(Stop::Closed);
                }
            }
        }
    }
}

/// A body being written (the stream first: dropped before its body; a body
/// dropped unfinished is cut).
struct Output(OutputStream, OutgoingBody);

/// Ends a body normally.
fn finish(Output(stream, body): Output) {
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}

/// Writes all of `bytes` and flushes, by the deadline `by`; stops when `answered`
/// fires. A stream closed once every byte was handed over is not a failure:
/// Spin closes a body as soon as its declared length was written.
fn write(stream: &OutputStream, mut bytes: &[u8], by: u64, answered: Option<&Pollable>) -> Result<(), Stop> {
    let mut flushed = false;
    loop {
        let room = match stream.check_write() {
            Ok(room) => usize::try_from(room).unwrap_or(usize::MAX),
            Err(StreamError::Closed) if bytes.is_empty() => return Ok(()),
            Err(_) => return Err(Stop::Closed),
        };
        if room > 0 && !bytes.is_empty() {
            let n = bytes.len().min(room);
            stream.write(&bytes[..n]).map_err(|_| Stop::Closed)?;
            bytes = &bytes[n..];
        } else if room > 0 && flushed {
            return Ok(());
        } else if room > 0 {
            flushed = true;
            if let Err(StreamError::LastOperationFailed(_)) = stream.flush() {
                return Err(Stop::Closed);
            }
        } else {
            match wait(by, &[&stream.subscribe()].into_iter().chain(answered).collect::<Vec<_>>()) {
                Some(1) => return Err(Stop::Closed),
                None => return Err(Stop::TimedOut),
                Some(_) => {}
            }
        }
    }
}

/// An upstream request whose body is being written.
struct Sending {
    future: FutureIncomingResponse,
    body: Output,
}

/// Creates an upstream request and hands it to the host, before any body byte.
/// (No runtime timeouts are set: every wait here has its own deadline.)
fn send(request: &Outgoing) -> Result<Sending, UpstreamFailure> {
    let invalid = |()| UpstreamFailure::new(FailureKind::Other, "the runtime refused the request's parts");
    let outgoing = OutgoingRequest::new(fields_of(&request.headers));
    // The core sends only GET (passthrough) and POST.
    let method = if request.method == Method::GET { Verb::Get } else { Verb::Post };
    let scheme = if request.uri.scheme_str() == Some("http") { Scheme::Http } else { Scheme::Https };
    let path = request.uri.path_and_query().map(|p| p.as_str());
    (outgoing.set_method(&method).and(outgoing.set_scheme(Some(&scheme))))
        .and(outgoing.set_authority(request.uri.authority().map(|a| a.as_str())))
        .and(outgoing.set_path_with_query(path))
        .map_err(invalid)?;
    let body = outgoing.body().map_err(invalid)?;
    let stream = body.write().map_err(invalid)?;
    let future = wasi::http::outgoing_handler::handle(outgoing, None)
        .map_err(|code| UpstreamFailure::from_wasi(&code.to_string()))?;
    Ok(Sending { future, body: Output(stream, body) })
}

impl Sending {
    /// The whole body, then the answer to come. An aepipe that answers
    /// before taking all of it says why in its answer.
    fn post(self, bytes: &[u8], deadline: u64) -> FutureIncomingResponse {
        let _ = write(&self.body.0, bytes, deadline, Some(&self.future.subscribe()));
        finish(self.body);
        self.future
    }

    /// The response head by `deadline` (past it, the request is dropped), as
    /// the exchange's event, with the body to read. `finished`: the request
    /// body is complete (else it is dropped unfinished: cut).
    fn head(self, deadline: u64, finished: bool) -> (Event<'static>, Option<Input>) {
        let Sending { future, body } = self;
        if finished {
            finish(body);
        }
        let (status, response) = loop {
            match future.get().map(outcome) {
                Some(Ok(answer)) => break answer,
                Some(Err(failure)) => return (Event::Failed(failure), None),
                None if wait(deadline, &[&future.subscribe()]).is_none() => return (Event::Timeout, None),
                None => {}
            }
        };
        let headers = crate::headers::from_pairs(response.headers().entries());
        let body = response.consume().ok().and_then(|body| Some(Input(body.stream().ok()?, body)));
        (Event::Head { status, headers, decoded: false }, body)
    }
}

/// A `HeaderMap` as new Fields. Headers the host forbids are left out.
fn fields_of(headers: &HeaderMap) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(name.as_str(), value.as_bytes());
    }
    fields
}

/// The request head as `http::request::Parts`; unparseable header lines are skipped.
fn read_head(request: &IncomingRequest) -> http::request::Parts {
    let method = match request.method() {
        Verb::Get => Method::GET,
        Verb::Head => Method::HEAD,
        Verb::Post => Method::POST,
        Verb::Put => Method::PUT,
        Verb::Delete => Method::DELETE,
        Verb::Connect => Method::CONNECT,
        Verb::Options => Method::OPTIONS,
        Verb::Trace => Method::TRACE,
        Verb::Patch => Method::PATCH,
        Verb::Other(other) => Method::from_bytes(other.as_bytes()).unwrap_or(Method::GET),
    };
    let path = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    // Only an invalid path fails: it is planned as "/" (a 404 or passthrough root).
    let mut parts = Request::builder().method(method).uri(path).body(()).unwrap_or_default().into_parts().0;
    parts.headers = crate::headers::from_pairs(request.headers().entries());
    parts
}

/// Writes one log line to `wasi:cli/stderr` in one write (`eprintln!` makes two host calls).
fn log_line(line: String) {
    let _ =
        write(&wasi::cli::stderr::get_stderr(), format!("{line}\n").as_bytes(), deadline(CLIENT_STALL), None);
}

/// Sends the aepipe calls, each bounded by [`REPORT_LIMIT`]; their answers
/// are collected during this instance's next requests, or waited for when
/// this is its last (`Backlog` says how long). One not taken is one line on
/// the host log, and dropped.
fn send_reports(calls: Vec<AepipeCall>) {
    let by = deadline(REPORT_LIMIT);
    REPORTS.with_borrow_mut(|(backlog, left)| {
        *left = left.saturating_sub(1);
        for call in &calls {
            match call.request().and_then(|r| send(&r)) {
                Ok(sending) => backlog.add(sending.post(&call.body, by), &call.url, by as f64 / 1e6),
                Err(failure) => delivery(&call.url, Err(failure)).into_iter().for_each(log_line),
            }
        }
        // One look at them all: wasmtime hands a future its answer only when it is polled.
        let pollables: Vec<Pollable> = backlog.waiting().map(FutureIncomingResponse::subscribe).collect();
        wait(0, &pollables.iter().collect::<Vec<_>>());
        drop(pollables); // before the futures they watch
        for (future, until) in backlog.deadlines(*left == 0, now()) {
            wait((until * 1e6) as u64, &[&future.subscribe()]);
        }
        let lines = backlog.settle(now(), |future| Some(outcome(future.get()?).map(|(status, _)| status)));
        lines.into_iter().for_each(log_line);
    });
}

/// What `FutureIncomingResponse::get` gives once there is something.
type Got = Result<Result<IncomingResponse, ErrorCode>, ()>;

/// What the host got for a request: its response, or why there is none.
fn outcome(got: Got) -> Result<(StatusCode, IncomingResponse), UpstreamFailure> {
    let taken = || UpstreamFailure::new(FailureKind::Other, "the answer was taken already");
    let response =
        got.map_err(|()| taken())?.map_err(|code| UpstreamFailure::from_wasi(&code.to_string()))?;
    Ok((StatusCode::from_u16(response.status()).unwrap_or(StatusCode::BAD_GATEWAY), response))
}

// The export macro emits the component's exported C-ABI symbols, which the
// `unsafe_code` lint counts as unsafe; nothing else in the crate is.
#[allow(unsafe_code)]
mod export {
    use super::Component;
    wasi::http::proxy::export!(Component with_types_in wasi);
}
