//! The upstream body on its way to the client: passed through in JavaScript
//! when the proxy needs neither to change nor to capture it, streamed through
//! the core's relay otherwise, or read whole first when the core must judge
//! it; and the aepipe reports, sent through `ctx.wait_until` once the body has
//! ended.

use std::cell::RefCell;
use std::time::Duration;

use apex_ai_proxy::buffered::Buffered;
use apex_ai_proxy::filter::{BROKE_OFF, BodyFilter};
use apex_ai_proxy::relay::{Ending, Relay};
use apex_ai_proxy::report::batch::Batch;
use apex_ai_proxy::report::{AepipeCall, Recorder, Side};
use apex_ai_proxy::response::{Answer, Exchange, Reply};
use apex_ai_proxy::{Config, ProxyError};
use futures_channel::oneshot;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use http::StatusCode;
use wasm_bindgen::JsValue;
use web_sys::Response;
use worker::{Context, FixedLengthStream};

use crate::convert;
use crate::io::{self, CLIENT_GONE, Passed, Upstream};

/// How long one aepipe call may take.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the upstream's answer became.
pub enum Relayed {
    /// A streamed response; its report is sent once the body has ended.
    Streaming(Response),
    /// A complete answer, read whole (the caller answers and reports it).
    Whole(Reply, Recorder),
}

/// Turns the upstream's answer (`status`, its head read) into the client's:
/// streamed, or read whole.
#[allow(clippy::too_many_arguments)] // the flow's state, passed once
pub async fn respond(
    exchange: &Exchange,
    upstream: Upstream,
    status: u16,
    mut record: Recorder,
    cfg: Config,
    ctx: &Context,
    started: u64,
    idle: Duration,
) -> Relayed {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut start = match exchange.on_response(status, &convert::header_map(&upstream.headers())) {
        Answer::Buffer(buffered) => {
            let reply = read_whole(buffered, &upstream, idle, &mut record).await;
            return Relayed::Whole(reply, record);
        }
        Answer::Stream(start) => start,
    };
    // The head waits for the body's first bytes: an upstream that fails before
    // them gets a 502, not a head and a cut body.
    let first = match upstream.first_bytes() {
        Ok(first) => first,
        Err(failure) => {
            let why = format!("the upstream body broke off before its first byte: {}", failure.words());
            let (side, why) = upstream.blame(why);
            record.failed(side, &why);
            upstream.stop();
            return Relayed::Whole(exchange.error(&ProxyError::BadGateway(BROKE_OFF.into())), record);
        }
    };
    let elapsed = move || (io::now_ms() - started) as f64;
    record.response_head(start.status, &mut start.headers, elapsed());
    let (status, headers, length) =
        (start.status.as_u16(), convert::header_text(&start.headers), start.length);
    let pass = matches!(start.body, BodyFilter::Pass);
    if pass && first.zip(length).is_some_and(|(first, length)| first > length) {
        return too_long(exchange, &upstream, Relay::new(start, record));
    }
    if pass && upstream.is_whole() {
        // The whole body has arrived, at its declared length: it goes out as
        // bytes, and the request is done.
        let body = upstream.whole();
        match record.is_on() {
            true => record.response_chunk(&js_sys::Uint8Array::new(&body).to_vec()),
            false => record.response_counted(first.unwrap_or(0)),
        }
        settle(record, cfg, ctx, elapsed());
        return Relayed::Streaming(io::respond(status, &headers, &body));
    }
    let body = if pass && !record.is_on() {
        // Nothing to change, nothing to capture: the bytes stay in JavaScript.
        let body = upstream.pass(length, idle);
        // The log line waits for the body's end (or the client's hang-up).
        ctx.wait_until(async move {
            let (sent, ended) = upstream.passed().await;
            record.response_counted(sent);
            match ended {
                Passed::Complete => {}
                Passed::Client => record.failed(Side::Client, CLIENT_GONE),
                Passed::Upstream(why) => record.failed(Side::Upstream, &why),
                Passed::Broke(failure) => record.failed(Side::Upstream, &failure.broke_off()),
            }
            report(record, cfg, elapsed()).await;
        });
        JsValue::from(body)
    } else {
        let mut relay = Relay::new(start, record);
        let first = upstream.take_first().map(|chunk| relay.chunk(&chunk));
        if relay.is_broken() {
            return too_long(exchange, &upstream, relay);
        }
        // The log line and the reports wait for the body's end (or the
        // client's hang-up), past the response.
        let (done, finished) = oneshot::channel();
        ctx.wait_until(async move {
            if let Ok(record) = finished.await {
                report(record, cfg, elapsed()).await;
            }
        });
        let pump = Pump { upstream, first, relay: Some(relay), done: Some(done), idle };
        pump.into_body(length)
    };
    Relayed::Streaming(io::respond(status, &headers, &body))
}

/// A body already longer than its content-length: a 502, not a head and a cut.
fn too_long(exchange: &Exchange, upstream: &Upstream, relay: Relay) -> Relayed {
    upstream.stop();
    let (_, record) = relay.fail("the upstream sent more than its content-length");
    Relayed::Whole(exchange.error(&ProxyError::BadGateway(BROKE_OFF.into())), record)
}

/// Reads a body the core must judge whole, then gives its answer.
async fn read_whole(
    mut buffered: Buffered,
    upstream: &Upstream,
    idle: Duration,
    record: &mut Recorder,
) -> Reply {
    match upstream.read_all(buffered.cap(), idle).await {
        Ok(body) => {
            buffered.push(&body);
            buffered.finish()
        }
        Err(failure) => {
            let (side, why) = upstream.blame(failure.broke_off());
            record.failed(side, &why);
            buffered.fail()
        }
    }
}

/// The state of one body streamed through the core's relay. Dropped before its
/// end (the client went away and the runtime cancelled the stream), it still
/// hands its record over.
struct Pump {
    upstream: Upstream,
    /// The body's first bytes, read (and relayed) before the head went out.
    first: Option<Vec<u8>>,
    relay: Option<Relay>,
    done: Option<oneshot::Sender<Recorder>>,
    idle: Duration,
}

impl Pump {
    /// The client's body: fixed-length when `length` is known, so a body cut
    /// short shows as short (workerd ends any chunked body normally, even one
    /// that failed).
    fn into_body(self, length: Option<u64>) -> JsValue {
        let body = stream::unfold(self, |mut pump| async move {
            let bytes = pump.next().await?;
            Some((bytes, pump))
        });
        match length {
            Some(length) => {
                let fixed: worker::worker_sys::FixedLengthStream =
                    FixedLengthStream::wrap(body, length).into();
                fixed.readable().into()
            }
            None => {
                let body = body.map(|chunk| match chunk {
                    Ok(bytes) => Ok(JsValue::from(js_sys::Uint8Array::from(&bytes[..]))),
                    Err(e) => Err(JsValue::from(e.to_string())),
                });
                wasm_streams::ReadableStream::from_stream(body).into_raw().into()
            }
        }
    }

    /// The next bytes for the client; `None` once the body is complete. An `Err`
    /// ends the client's body unfinished (truncated, never falsely complete).
    async fn next(&mut self) -> Option<worker::Result<Vec<u8>>> {
        let relay = self.relay.as_mut()?;
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        let (ending, record) = match self.upstream.next(self.idle).await {
            Ok(Some(chunk)) => {
                let bytes = relay.chunk(&chunk);
                if !relay.is_broken() {
                    return Some(Ok(bytes));
                }
                self.upstream.stop();
                self.relay.take()?.fail("the upstream sent more than its content-length")
            }
            Ok(None) => self.relay.take()?.end(),
            Err(failure) => {
                self.upstream.stop();
                let relay = self.relay.take()?;
                match self.upstream.blame(failure.broke_off()) {
                    (Side::Client, why) => (Ending::Truncate, relay.client_gone(&why)),
                    (Side::Upstream, why) => relay.fail(&why),
                }
            }
        };
        if let Some(done) = self.done.take() {
            let _ = done.send(record);
        }
        Some(match ending {
            Ending::Finish(bytes) => Ok(bytes),
            Ending::Truncate => Err(worker::Error::RustError("upstream body broke off".into())),
        })
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        if let Some(relay) = self.relay.take() {
            self.upstream.stop(); // the client is gone: so is the upstream fetch
            if let Some(done) = self.done.take() {
                let _ = done.send(relay.client_gone(CLIENT_GONE));
            }
        }
    }
}

/// Ends a request whose response is complete: the log line now, or, with
/// reporting on, the log line and the reports past the response.
pub fn settle(record: Recorder, cfg: Config, ctx: &Context, duration_ms: f64) {
    if record.is_on() {
        ctx.wait_until(report(record, cfg, duration_ms));
    } else {
        // Nothing to send: the log line is written now.
        log(record.finish(&cfg, duration_ms, io::now_ms()).log);
    }
}

/// How long a request's reports wait for others to travel with them: the
/// isolate sends two calls for all the requests that end in this time,
/// instead of two per request (each call costs the Worker about 0.25 ms of
/// CPU: scripts/bench.sh).
const BATCH_WINDOW: Duration = Duration::from_millis(50);

thread_local! {
    /// The reports of this isolate waiting to be sent.
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Writes the log line, then sends the reports, gathered with those of the
/// requests that end within [`BATCH_WINDOW`]: the first of them waits and
/// sends them all (both calls at once, each bounded); a full batch goes at
/// once.
pub async fn report(record: Recorder, cfg: Config, duration_ms: f64) {
    let finished = record.finish(&cfg, duration_ms, io::now_ms());
    log(finished.log);
    if finished.calls.is_empty() {
        return;
    }
    let (first, full) = BATCH.with_borrow_mut(|batch| (batch.is_empty(), batch.add(finished.calls)));
    if !full {
        if !first {
            return; // the first request of the batch sends it
        }
        io::sleep(BATCH_WINDOW).await;
    }
    let calls = BATCH.with_borrow_mut(Batch::take);
    join_all(calls.into_iter().map(send)).await;
}

/// The access-log line, to the Worker's log (Workers Logs keep it).
pub fn log(line: Option<String>) {
    if let Some(line) = line {
        worker::console_log!("{line}");
    }
}

/// The runtime's own words, at `LOG_LEVEL=debug` (the access line says what
/// failed in the proxy's words).
pub fn runtime_note(cfg: &Config, what: &str, detail: &dyn std::fmt::Display) {
    if cfg.log.level == apex_ai_proxy::config::LogLevel::Debug {
        worker::console_error!("apex-ai-proxy: {what}: {detail}");
    }
}

async fn send(call: AepipeCall) {
    let headers = convert::header_text(&call.headers);
    if let Err(problem) = io::post(&call.url, &headers, &call.body, REPORT_TIMEOUT).await {
        worker::console_error!("apex-ai-proxy: aepipe report to {} {problem}", call.url);
    }
}
