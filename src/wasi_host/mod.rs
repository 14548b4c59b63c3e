//! The WASI host: `wasi:http/incoming-handler` in, `wasi:http/outgoing-handler`
//! out. It only executes the core's plan: read, send, pump, answer, report.
//! Every wait is bounded (see [`wait`]); the runtime's own error text goes to
//! stderr, never to a client.

mod body;
mod io;
mod report;
mod wait;

use std::time::{Duration, Instant};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, OutgoingBody, ResponseOutparam};

use crate::config::{Config, LogLevel};
use crate::errors::ProxyError;
use crate::filter::BROKE_OFF;
use crate::relay::{Ending, Relay};
use crate::report::{Recorder, Side, new_request_id};
use crate::response::{Answer, FailureKind, Reply, ResponseStart, UpstreamFailure, error_reply};
use crate::routing::{Forward, Step, declared_length, plan, request_dialect};
use body::{BodyError, SendError, Stop, UpstreamStream};
use io::{start_request, start_response, wait_response};
use wait::Deadline;

/// How long a client may stall: sending its body, or taking the response.
const CLIENT_STALL_LIMIT: Duration = Duration::from_secs(60);

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let started = Instant::now();
        let cfg = Config::from_lookup(|name| std::env::var(name).ok());
        let head = io::read_head(&request);
        let record = Recorder::new(&cfg, &head, &new_request_id());
        let mut exchange = Exchange { started, record, debug: cfg.log.level == LogLevel::Debug };
        match plan(&cfg, &head) {
            Step::Respond(reply) => exchange.reply(out, reply),
            Step::Forward(forward) => exchange.proxy(*forward, &request, out),
            Step::NeedBody(need) => match body::read_client(
                &request,
                declared_length(&head.headers),
                need.limit(),
                CLIENT_STALL_LIMIT,
            ) {
                Ok(body) => {
                    exchange.record.request_chunk(&body);
                    match need.with_body(&cfg, body) {
                        Ok(forward) => exchange.proxy(forward, &request, out),
                        Err(reply) => exchange.reply(out, reply),
                    }
                }
                Err(BodyError::TooLarge) => exchange.reply(out, need.too_large()),
                Err(BodyError::Failed(why)) => {
                    exchange
                        .record
                        .failed(Side::Client, &format!("the request body could not be read: {why}"));
                    exchange.reply(out, error_reply(&ProxyError::client_body(), request_dialect(&head)));
                }
            },
        }
        // The client has its whole response now; reporting cannot delay it.
        let elapsed = exchange.elapsed_ms();
        // At LOG_LEVEL=debug, what reporting costs: ours (building) and the
        // host's (sending); the clock is read only then.
        let clock = exchange.debug.then(Instant::now);
        let finished = exchange.record.finish(&cfg, elapsed, unix_ms());
        let built = clock.map(|start| (start.elapsed(), Instant::now()));
        if let Some(line) = finished.log {
            log_line(line);
        }
        let reports = finished.calls.len();
        report::send_all(finished.calls);
        if let Some((built, sent)) = built.filter(|_| reports > 0) {
            let (built, sent) = (built.as_micros(), sent.elapsed().as_micros());
            eprintln!("apex-ai-proxy: {reports} reports built in {built} µs, sent in {sent} µs");
        }
    }
}

/// Writes one access-log line to `wasi:cli/stderr`: the line and its newline
/// in one write (`eprintln!` makes two host calls, and the log must cost
/// next to nothing per request).
fn log_line(mut line: String) {
    line.push('\n');
    let stderr = wasi::cli::stderr::get_stderr();
    let mut bytes = line.as_bytes();
    while !bytes.is_empty() {
        let n = match stderr.check_write() {
            Ok(0) => {
                stderr.subscribe().block();
                continue;
            }
            Ok(room) => bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX)),
            Err(_) => return,
        };
        if stderr.write(&bytes[..n]).is_err() {
            return;
        }
        bytes = &bytes[n..];
    }
}

/// The wall-clock time, in milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    let now = wasi::clocks::wall_clock::now();
    now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
}

/// One request in flight: its start time and its record.
struct Exchange {
    started: Instant,
    record: Recorder,
    /// `LOG_LEVEL=debug`: the runtime's own words go to the log too.
    debug: bool,
}

impl Exchange {
    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// The runtime's own words, at `LOG_LEVEL=debug` (the access line says
    /// what failed in the proxy's words).
    fn runtime_note(&self, what: &str, detail: &dyn std::fmt::Display) {
        if self.debug {
            eprintln!("apex-ai-proxy: {what}: {detail}");
        }
    }

    fn reply(&mut self, out: ResponseOutparam, mut reply: Reply) {
        self.record.reply(&mut reply, self.elapsed_ms());
        if let Err(why) = io::send_reply(out, reply, Deadline::after(CLIENT_STALL_LIMIT)) {
            self.record.failed(Side::Client, &format!("the client did not take the answer: {why}"));
        }
    }

    fn upstream_failed(&mut self, out: ResponseOutparam, forward: &Forward, failure: &UpstreamFailure) {
        self.runtime_note("upstream", failure);
        self.record.failed(Side::Upstream, &forward.exchange.describe(failure));
        self.reply(out, forward.exchange.on_failure(failure));
    }

    /// Sends `forward` upstream and answers with what comes back.
    fn proxy(&mut self, forward: Forward, request: &IncomingRequest, out: ResponseOutparam) {
        self.record.route(&forward.exchange.info);
        let exchange = &forward.exchange;
        let timeouts = forward.timeouts;
        // Connecting, the TLS handshake and the wait for the head, all bounded.
        let deadline = Deadline::after(timeouts.connect + timeouts.first_byte);
        let (future, upstream_body) =
            match start_request(&forward.method, &forward.uri, &forward.headers, timeouts) {
                Ok(started) => started,
                Err(failure) => return self.upstream_failed(out, &forward, &failure),
            };
        let record = &mut self.record;
        let sent =
            body::send(&forward.body, request, upstream_body, &future, deadline, CLIENT_STALL_LIMIT, |c| {
                record.request_chunk(c)
            });
        match sent {
            Ok(()) | Err(SendError::Answered) => {}
            Err(SendError::TooLarge { limit }) => {
                return self.reply(out, exchange.error(&ProxyError::PayloadTooLarge { limit }));
            }
            Err(SendError::Client(why)) => {
                self.record.failed(Side::Client, &format!("the request body could not be read: {why}"));
                return self.reply(out, exchange.error(&ProxyError::client_body()));
            }
            Err(SendError::TimedOut) => {
                let failure =
                    UpstreamFailure::new(FailureKind::ResponseTimeout, "request body not taken in time");
                return self.upstream_failed(out, &forward, &failure);
            }
            // The upstream may have answered anyway (a 413 of its own, say), or
            // its response carries the real error: wait for it.
            Err(SendError::Upstream(why)) => self.runtime_note("writing the upstream request body", &why),
        }
        let response = match wait_response(future, deadline) {
            Ok(response) => response,
            Err(failure) => return self.upstream_failed(out, &forward, &failure),
        };
        let idle = timeouts.between_bytes;
        let answer = exchange.on_response(io::status_of(&response), &io::headers_of(&response.headers()));
        let upstream = match UpstreamStream::open(&response) {
            Ok(upstream) => upstream,
            Err(stop) => return self.broke_off(out, &forward, &stop),
        };
        match answer {
            Answer::Buffer(mut buffered) => {
                let reply = match upstream.pump(idle, &mut || true, |chunk| buffered.push(chunk)) {
                    Ok(()) => buffered.finish(),
                    Err(stop) => {
                        self.record.failed(Side::Upstream, &format!("the upstream body broke off: {stop}"));
                        buffered.fail()
                    }
                };
                self.reply(out, reply);
            }
            Answer::Stream(start) => {
                // The head waits for the body's first bytes: an upstream that
                // fails before them gets a 502, not a head and a closed connection.
                let first = match upstream.next(idle, &mut || true) {
                    Ok(first) => first,
                    Err(stop) => return self.broke_off(out, &forward, &stop),
                };
                self.stream(out, start, &upstream, first, &forward);
            }
        }
    }

    /// The answer when the upstream broke off before its body's first byte.
    fn broke_off(&mut self, out: ResponseOutparam, forward: &Forward, stop: &Stop) {
        let side = match stop {
            Stop::Upstream(_) => Side::Upstream,
            Stop::ClientGone(_) => Side::Client,
        };
        self.record.failed(side, &format!("the upstream body broke off before its first byte: {stop}"));
        self.reply(out, forward.exchange.error(&ProxyError::BadGateway(BROKE_OFF.into())));
    }

    /// Streams the upstream body to the client through the relay; `first` is
    /// its first chunk (`None`: the body is empty).
    fn stream(
        &mut self,
        out: ResponseOutparam,
        start: ResponseStart,
        upstream: &UpstreamStream,
        first: Option<Vec<u8>>,
        forward: &Forward,
    ) {
        let idle = forward.timeouts.between_bytes;
        let (status, mut headers) = (start.status, start.headers.clone());
        self.record.response_head(status, &mut headers, self.elapsed_ms());
        let mut relay = Relay::new(start, std::mem::replace(&mut self.record, Recorder::off()));
        let first = first.map(|chunk| relay.chunk(&chunk));
        if relay.is_broken() {
            // Already longer than its content-length: answer, not a head and a cut.
            let (_, record) = relay.fail("the upstream sent more than its content-length");
            self.record = record;
            return self.reply(out, forward.exchange.error(&ProxyError::BadGateway(BROKE_OFF.into())));
        }
        let Some((client_body, client)) = start_response(out, status, &headers) else {
            return;
        };
        let send = |bytes: &[u8]| wait::write_all(&client, bytes, Deadline::after(CLIENT_STALL_LIMIT), None);
        let mut alive = || wait::client_alive(&client);
        let mut client_error = None;
        let mut deliver = |bytes: &[u8], relay: &Relay| match send(bytes) {
            Ok(()) => !relay.is_broken(),
            Err(stop) => {
                client_error = Some(stop.to_string());
                false
            }
        };
        let outcome = match first {
            Some(bytes) if deliver(&bytes, &relay) => upstream.pump(idle, &mut alive, |chunk| {
                let bytes = relay.chunk(chunk);
                deliver(&bytes, &relay)
            }),
            Some(_) | None => Ok(()),
        };
        let (ending, record) = match (outcome, client_error) {
            (_, Some(why)) | (Err(Stop::ClientGone(why)), _) => {
                (Ending::Truncate, relay.client_gone(&format!("the client went away mid-response: {why}")))
            }
            (Ok(()), None) if !relay.is_broken() => relay.end(),
            (Ok(()), None) => relay.fail("the upstream sent more than its content-length"),
            (Err(stop), None) => relay.fail(&format!("the upstream body broke off: {stop}")),
        };
        self.record = record;
        if let Ending::Finish(bytes) = ending {
            match send(&bytes) {
                Ok(()) => {
                    drop(client);
                    let _ = OutgoingBody::finish(client_body, None);
                }
                Err(why) => {
                    self.record.failed(Side::Client, &format!("the client went away at the end: {why}"))
                }
            }
        }
        // Otherwise the body is dropped unfinished: the client sees a truncated
        // response rather than a falsely complete one.
    }
}

// The export macro emits the component's exported C-ABI symbols, which the
// `unsafe_code` lint counts as unsafe; nothing else in the crate is.
#[allow(unsafe_code)]
mod export {
    use super::Component;
    wasi::http::proxy::export!(Component with_types_in wasi);
}
