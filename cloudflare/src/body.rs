//! The upstream body on its way to the client: streamed through the core's
//! relay, or read whole first when the core must judge it; and the aepipe
//! reports, sent through `ctx.wait_until` once the body has ended.

use std::time::Duration;

use apex_ai_proxy::buffered::Buffered;
use apex_ai_proxy::filter::BROKE_OFF;
use apex_ai_proxy::relay::{Ending, Relay};
use apex_ai_proxy::report::{AepipeCall, Recorder, Side};
use apex_ai_proxy::response::{Answer, Exchange, Reply};
use apex_ai_proxy::{Config, ProxyError};
use futures_channel::oneshot;
use futures_util::future::{Either, join_all, select};
use futures_util::stream::{self, StreamExt};
use http::StatusCode;
use worker::{ByteStream, Context, Date, Delay, Fetch, FixedLengthStream, Response, ResponseBody};

use crate::cancel::Cancel;
use crate::convert;

/// How long one aepipe call may take.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the upstream's answer became.
pub enum Relayed {
    /// A streamed response; its report is sent once the body has ended.
    Streaming(Response),
    /// A complete answer, read whole (the caller answers and reports it).
    Whole(Reply, Recorder),
}

/// Turns the upstream's answer into the client's: streamed, or read whole.
/// `cancel` stops the upstream fetch, and tells a client's hang-up from an
/// upstream failure.
#[allow(clippy::too_many_arguments)] // the flow's state, passed once
pub async fn respond(
    exchange: &Exchange,
    mut upstream: Response,
    mut record: Recorder,
    cfg: Config,
    ctx: &Context,
    started: u64,
    idle: Duration,
    cancel: Cancel,
) -> worker::Result<Relayed> {
    let status = StatusCode::from_u16(upstream.status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut body = upstream.stream()?;
    let start = match exchange.on_response(status, &convert::header_map(upstream.headers())) {
        Answer::Buffer(buffered) => {
            let reply = read_whole(buffered, &mut body, idle, &mut record, &cancel).await;
            return Ok(Relayed::Whole(reply, record));
        }
        Answer::Stream(start) => start,
    };
    // The head waits for the body's first bytes: an upstream that fails before
    // them gets a 502, not a head and a cut body.
    let first = match next_chunk(&mut body, idle).await {
        Some(Err(why)) => {
            let (side, why) =
                cancel.blame(format!("the upstream body broke off before its first byte: {why}"));
            record.failed(side, &why);
            cancel.stop();
            let reply = exchange.error(&ProxyError::BadGateway(BROKE_OFF.into()));
            return Ok(Relayed::Whole(reply, record));
        }
        Some(Ok(chunk)) => Some(chunk),
        None => None,
    };
    let elapsed = move || (Date::now().as_millis() - started) as f64;
    let mut start = start;
    record.response_head(start.status, &mut start.headers, elapsed());
    let (status, headers, length) = (start.status, start.headers.clone(), start.length);
    let mut relay = Relay::new(start, record);
    let first = first.map(|chunk| relay.chunk(&chunk));
    if relay.is_broken() {
        // Already longer than its content-length: answer, not a head and a cut.
        cancel.stop();
        let (_, record) = relay.fail("the upstream sent more than its content-length");
        return Ok(Relayed::Whole(exchange.error(&ProxyError::BadGateway(BROKE_OFF.into())), record));
    }
    // The log line and the reports wait for the body's end (or the client's
    // hang-up), past the response.
    let (done, finished) = oneshot::channel();
    ctx.wait_until(async move {
        if let Ok(record) = finished.await {
            report(record, cfg, elapsed()).await;
        }
    });
    let pump = Pump { upstream: body, first, relay: Some(relay), done: Some(done), idle, cancel };
    let body = stream::unfold(pump, |mut pump| async move {
        let bytes = pump.next().await?;
        Some((bytes, pump))
    });
    let response = match length {
        // A body of known length goes out as one, so a body cut short shows as
        // short: workerd ends any chunked body normally, even one that failed.
        Some(length) => {
            let fixed: worker::worker_sys::FixedLengthStream = FixedLengthStream::wrap(body, length).into();
            Response::from_body(ResponseBody::Stream(fixed.readable()))?
        }
        None => Response::from_stream(body)?,
    };
    Ok(Relayed::Streaming(convert::with_head(response, status.as_u16(), &headers)))
}

/// The next upstream chunk, unless the upstream stays silent past `idle`.
async fn next_chunk(upstream: &mut ByteStream, idle: Duration) -> Option<Result<Vec<u8>, String>> {
    match select(upstream.next(), Box::pin(Delay::from(idle))).await {
        Either::Left((Some(Ok(chunk)), _)) => Some(Ok(chunk)),
        // In the core's words, the same as on the WASI host.
        Either::Left((Some(Err(e)), _)) => Some(Err(convert::failure_of(&e).kind.words().to_owned())),
        Either::Left((None, _)) => None,
        Either::Right(_) => Some(Err(format!("silent for more than {} ms", idle.as_millis()))),
    }
}

/// Reads a body the core must judge whole, then gives its answer.
async fn read_whole(
    mut buffered: Buffered,
    upstream: &mut ByteStream,
    idle: Duration,
    record: &mut Recorder,
    cancel: &Cancel,
) -> Reply {
    loop {
        match next_chunk(upstream, idle).await {
            Some(Ok(chunk)) if buffered.push(&chunk) => {}
            Some(Ok(_)) | None => return buffered.finish(),
            Some(Err(why)) => {
                let (side, why) = cancel.blame(format!("the upstream body broke off: {why}"));
                record.failed(side, &why);
                return buffered.fail();
            }
        }
    }
}

/// The state of one streamed body. Dropped before its end (the client went
/// away and the runtime cancelled the stream), it still hands its record over.
struct Pump {
    upstream: ByteStream,
    /// The body's first bytes, read (and relayed) before the head went out.
    first: Option<Vec<u8>>,
    relay: Option<Relay>,
    done: Option<oneshot::Sender<Recorder>>,
    idle: Duration,
    cancel: Cancel,
}

impl Pump {
    /// The next bytes for the client; `None` once the body is complete. An `Err`
    /// ends the client's body unfinished (truncated, never falsely complete).
    async fn next(&mut self) -> Option<worker::Result<Vec<u8>>> {
        let relay = self.relay.as_mut()?;
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        let (ending, record) = match next_chunk(&mut self.upstream, self.idle).await {
            Some(Ok(chunk)) => {
                let bytes = relay.chunk(&chunk);
                if !relay.is_broken() {
                    return Some(Ok(bytes));
                }
                self.cancel.stop();
                self.relay.take()?.fail("the upstream sent more than its content-length")
            }
            None => self.relay.take()?.end(),
            Some(Err(why)) => {
                self.cancel.stop();
                let relay = self.relay.take()?;
                match self.cancel.blame(format!("the upstream body broke off: {why}")) {
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
            self.cancel.stop(); // the client is gone: so is the upstream fetch
            if let Some(done) = self.done.take() {
                let _ = done.send(relay.client_gone("the client went away mid-response"));
            }
        }
    }
}

/// Writes the log line, then sends the reports: both calls at once, each bounded.
pub async fn report(record: Recorder, cfg: Config, duration_ms: f64) {
    let finished = record.finish(&cfg, duration_ms, Date::now().as_millis());
    log(finished.log);
    join_all(finished.calls.into_iter().map(send)).await;
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
    let request = convert::outgoing(&http::Method::POST, &call.url, &call.headers, &call.body);
    let outcome = async { Fetch::Request(request?).send().await };
    let problem = match select(Box::pin(outcome), Box::pin(Delay::from(REPORT_TIMEOUT))).await {
        Either::Left((Ok(r), _)) if (200..300).contains(&r.status_code()) => return,
        Either::Left((Ok(r), _)) => format!("answered {}", r.status_code()),
        Either::Left((Err(e), _)) => format!("failed: {e}"),
        Either::Right(_) => "timed out".to_owned(),
    };
    worker::console_error!("apex-ai-proxy: aepipe report to {} {problem}", call.url);
}
