//! The upstream body streamed to the client through the core's filter, and the
//! aepipe reports sent through `ctx.wait_until` once the stream has ended.

use apex_ai_proxy::Config;
use apex_ai_proxy::relay::{Ending, Relay};
use apex_ai_proxy::report::{AepipeCall, Recorder};
use apex_ai_proxy::response::Exchange;
use futures_channel::oneshot;
use futures_util::future::{Either, join_all, select};
use futures_util::stream::{self, StreamExt};
use http::StatusCode;
use worker::{ByteStream, Context, Date, Delay, Fetch, Response};

use crate::convert;

/// How long one aepipe call may take.
const REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Streams the upstream's answer to the client; reports once the last byte went out.
pub fn respond(
    exchange: Exchange,
    mut upstream: Response,
    mut record: Recorder,
    cfg: Config,
    ctx: &Context,
    started: u64,
) -> worker::Result<Response> {
    let status = StatusCode::from_u16(upstream.status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    let start = exchange.on_response(status, &convert::header_map(upstream.headers()));
    let elapsed = move || (Date::now().as_millis() - started) as f64;
    record.response_head(start.status, &start.headers, elapsed());
    let (done, finished) = oneshot::channel();
    if record.is_on() {
        ctx.wait_until(async move {
            if let Ok(record) = finished.await {
                report(record, cfg, elapsed()).await;
            }
        });
    }
    let relay = Relay::new(start.body, record);
    let pump = Pump { upstream: upstream.stream()?, relay: Some(relay), done: Some(done) };
    let body = stream::unfold(pump, |mut pump| async move {
        let bytes = pump.next().await?;
        Some((bytes, pump))
    });
    Ok(convert::with_head(Response::from_stream(body)?, start.status.as_u16(), &start.headers))
}

/// The state of one streamed body.
struct Pump {
    upstream: ByteStream,
    relay: Option<Relay>,
    done: Option<oneshot::Sender<Recorder>>,
}

impl Pump {
    /// The next bytes for the client; `None` once the body is complete. An `Err`
    /// ends the client's body unfinished (truncated, never falsely complete).
    async fn next(&mut self) -> Option<worker::Result<Vec<u8>>> {
        let relay = self.relay.as_mut()?;
        let (ending, record) = match self.upstream.next().await {
            Some(Ok(chunk)) => return Some(Ok(relay.chunk(&chunk))),
            None => self.relay.take()?.end(),
            Some(Err(e)) => self.relay.take()?.fail(&e.to_string()),
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

/// Builds and sends the reports: both calls at once, each bounded.
pub async fn report(record: Recorder, cfg: Config, duration_ms: f64) {
    let calls = record.finish(&cfg, duration_ms);
    join_all(calls.into_iter().map(send)).await;
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
