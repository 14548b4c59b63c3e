//! The upstream body streamed to the client through the core's filter, and the
//! aepipe reports sent through `ctx.wait_until` once the stream has ended.

use apex_ai_proxy::Config;
use apex_ai_proxy::filter::BodyFilter;
use apex_ai_proxy::report::{AepipeCall, Recorder};
use apex_ai_proxy::response::Exchange;
use futures_channel::oneshot;
use futures_util::future::{join_all, select};
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
    let pump = Pump {
        upstream: upstream.stream()?,
        filter: Some(start.body),
        record: Some(record),
        done: Some(done),
    };
    let body = stream::unfold(pump, |mut pump| async move {
        let bytes = pump.next().await?;
        Some((Ok::<Vec<u8>, worker::Error>(bytes), pump))
    });
    Ok(convert::with_head(Response::from_stream(body)?, start.status.as_u16(), &start.headers))
}

/// The state of one streamed body.
struct Pump {
    upstream: ByteStream,
    filter: Option<BodyFilter>,
    record: Option<Recorder>,
    done: Option<oneshot::Sender<Recorder>>,
}

impl Pump {
    /// The next bytes for the client; `None` once the body is complete.
    async fn next(&mut self) -> Option<Vec<u8>> {
        let filter = self.filter.as_mut()?;
        let bytes = match self.upstream.next().await {
            Some(Ok(chunk)) => filter.push(&chunk).into_owned(),
            Some(Err(e)) => {
                let ending = self.filter.take()?.abort(&e.to_string());
                if let Some(record) = &mut self.record {
                    record.upstream_failed();
                }
                self.end();
                ending?
            }
            None => {
                let ending = self.filter.take()?.finish();
                if let Some(record) = &mut self.record {
                    record.response_chunk(&ending);
                }
                self.end();
                return Some(ending);
            }
        };
        if let Some(record) = &mut self.record {
            record.response_chunk(&bytes);
        }
        Some(bytes)
    }

    fn end(&mut self) {
        if let (Some(done), Some(record)) = (self.done.take(), self.record.take()) {
            let _ = done.send(record);
        }
    }
}

/// Builds and sends the reports: both calls at once, each bounded.
pub async fn report(record: Recorder, cfg: Config, duration_ms: f64) {
    let calls = record.finish(&cfg, duration_ms);
    join_all(calls.into_iter().map(send)).await;
}

async fn send(call: AepipeCall) {
    let url = call.url.clone();
    let outcome = async {
        let mut init = worker::RequestInit::new();
        let headers = worker::Headers::new();
        for (name, value) in &call.headers {
            headers.append(name.as_str(), value.to_str().unwrap_or_default())?;
        }
        init.with_method(worker::Method::Post)
            .with_headers(headers)
            .with_body(Some(js_sys::Uint8Array::from(call.body.as_slice()).into()));
        let request = worker::Request::new_with_init(&call.url, &init)?;
        Fetch::Request(request).send().await
    };
    match select(Box::pin(outcome), Box::pin(Delay::from(REPORT_TIMEOUT))).await {
        futures_util::future::Either::Left((Ok(r), _)) if (200..300).contains(&r.status_code()) => {}
        futures_util::future::Either::Left((Ok(r), _)) => {
            worker::console_error!("apex-ai-proxy: aepipe report to {url} answered {}", r.status_code());
        }
        futures_util::future::Either::Left((Err(e), _)) => {
            worker::console_error!("apex-ai-proxy: aepipe report to {url} failed: {e}");
        }
        futures_util::future::Either::Right(_) => {
            worker::console_error!("apex-ai-proxy: aepipe report to {url} timed out");
        }
    }
}
