//! The Cloudflare Worker host: the same core as the WASI component, on
//! workers-rs. It only executes the core's plan: read, fetch, pump, answer, and
//! report through `ctx.wait_until`. The runtime's own error text goes to the
//! Worker's log, never to a client.

mod body;
mod convert;
mod io;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use apex_ai_proxy::report::{Recorder, Side, new_request_id};
use apex_ai_proxy::response::{FailureKind, Reply, UpstreamFailure, error_reply};
use apex_ai_proxy::routing::{Forward, ForwardBody, Step, plan, request_dialect};
use apex_ai_proxy::{Config, ProxyError};
use web_sys::{Request, Response};
use worker::{Context, Env, event};

use crate::io::{BodyError, Head, Upstream};

/// Secrets: the Secrets Store binding first, then a plain Worker secret or var.
const SECRETS: [(&str, &str); 2] = [("GATEWAY_TOKEN", "GatewayToken"), ("AEPIPE_TOKEN", "AepipeToken")];

/// Whether this isolate has said what its configuration amounts to.
static ANNOUNCED: AtomicBool = AtomicBool::new(false);

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = io::now_ms();
    let cfg = config(&env, started).await;
    if !ANNOUNCED.swap(true, Ordering::Relaxed) {
        // Once per isolate: the startup banner of the WASI serve script, and
        // entropy for ids (wasm32-unknown-unknown has none of its own).
        apex_ai_proxy::routing::seed_ids(entropy());
        for line in cfg.summary() {
            worker::console_log!("apex-ai-proxy {}: {line}", apex_ai_proxy::VERSION);
        }
    }
    let head = convert::head(&req)?;
    let mut record = Recorder::new(&cfg, &head, &new_request_id());
    let elapsed = move || (io::now_ms() - started) as f64;
    if let Some(name) = convert::undecodable_header(&head.headers) {
        let error = ProxyError::BadRequest(format!(
            "header {name} is not valid UTF-8; a Cloudflare Worker cannot forward it as sent"
        ));
        return Ok(answer(error_reply(&error, request_dialect(&head)), record, cfg, &ctx, elapsed()));
    }
    let planned = match plan(&cfg, &head) {
        Step::Forward(forward) => Ok(*forward),
        Step::Respond(reply) => Err(reply),
        Step::NeedBody(need) => match io::read_body(&req, need.limit()).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                need.with_body(&cfg, bytes)
            }
            Err(BodyError::TooLarge) => Err(need.too_large()),
            Err(BodyError::Failed(why)) => {
                record_unreadable_body(&mut record, &why);
                Err(error_reply(&ProxyError::client_body(), request_dialect(&head)))
            }
        },
    };
    let forward = match planned {
        Ok(forward) => forward,
        Err(reply) => return Ok(answer(reply, record, cfg, &ctx, elapsed())),
    };
    record.route(&forward.exchange.info);
    let upstream = Upstream::new(&req.signal());
    let declared = apex_ai_proxy::routing::declared_length(&head.headers);
    let status = match send(&forward, &req, declared, &mut record, &upstream).await {
        Ok(status) => status,
        Err(Sent::Reply(reply)) => return Ok(answer(reply, record, cfg, &ctx, elapsed())),
        Err(Sent::Failed(failure)) => {
            upstream.stop(); // a fetch past its deadline is stopped, not left running
            body::runtime_note(&cfg, "upstream", &failure);
            let (side, why) = upstream.blame(forward.exchange.describe(&failure));
            record.failed(side, &why);
            return Ok(answer(forward.exchange.on_failure(&failure), record, cfg, &ctx, elapsed()));
        }
    };
    let idle = forward.timeouts.between_bytes;
    match body::respond(&forward.exchange, upstream, status, record, cfg.clone(), &ctx, started, idle).await {
        body::Relayed::Streaming(response) => Ok(response),
        body::Relayed::Whole(reply, record) => Ok(answer(reply, record, cfg, &ctx, elapsed())),
    }
}

/// 64 bits from the runtime's random source.
fn entropy() -> u64 {
    let half = || (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    (half() << 32) ^ half()
}

/// Request bodies up to this size are read whole and sent as bytes even when
/// they could stream: a stream costs more CPU than the wait it saves (bench:
/// passthrough 0.90 against 0.74 ms per request for a 108-byte body).
const STREAM_ABOVE: u64 = 64 * 1024;

/// Why the upstream call gave no response to relay.
enum Sent {
    Reply(Reply),
    Failed(UpstreamFailure),
}

/// Fetches `forward`; the status of its answer. A Worker cannot tell
/// connecting from waiting, so the first-byte limit bounds the whole wait for
/// the response head. `declared` is the client's content-length.
async fn send(
    forward: &Forward,
    req: &Request,
    declared: Option<u64>,
    record: &mut Recorder,
    upstream: &Upstream,
) -> Result<u16, Sent> {
    let (limit, idle) = (forward.timeouts.first_byte, forward.timeouts.between_bytes);
    let headers = convert::header_text(&forward.headers);
    let (method, url) = (forward.method.as_str(), forward.uri.to_string());
    let client_body_failed = |record: &mut Recorder, why: &str| {
        record_unreadable_body(record, why);
        Sent::Reply(forward.exchange.error(&ProxyError::client_body()))
    };
    let (sent, max) = match &forward.body {
        ForwardBody::Bytes(bytes) => (upstream.send(method, &url, &headers, bytes, limit, idle).await, 0),
        // Nothing to capture, and a declared length: the client's body streams
        // on as it arrives, as a fixed-length body, so one that breaks off
        // reaches the upstream short. A chunked body is read whole first:
        // workerd would end a failed chunked body normally, and the upstream
        // would take a cut body for a complete one.
        ForwardBody::StreamClient { limit: max }
            if !record.is_on() && declared.is_some_and(|n| n > STREAM_ABOVE) =>
        {
            let sent =
                upstream.send_streaming(method, &url, &headers, req, (*max, declared), limit, idle).await;
            record.request_counted(upstream.request_bytes() as u64);
            (sent, *max)
        }
        // A report needs the bytes, or the length is unknown: read whole first.
        ForwardBody::StreamClient { limit: max } => match io::read_body(req, *max).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                (upstream.send(method, &url, &headers, &bytes, limit, idle).await, *max)
            }
            Err(BodyError::TooLarge) => (Ok(Head::TooLarge), *max),
            Err(BodyError::Failed(why)) => return Err(client_body_failed(record, &why)),
        },
    };
    match sent {
        Ok(Head::Status(status)) => Ok(status),
        Ok(Head::Late) => Err(Sent::Failed(UpstreamFailure::new(
            FailureKind::ResponseTimeout,
            format!("no response within {} ms", limit.as_millis()),
        ))),
        Ok(Head::TooLarge) => {
            upstream.stop();
            Err(Sent::Reply(forward.exchange.error(&ProxyError::PayloadTooLarge { limit: max })))
        }
        Ok(Head::ClientBody(why)) => {
            upstream.stop();
            Err(client_body_failed(record, &why))
        }
        Err(why) => Err(Sent::Failed(convert::fetch_failure_of(&why, &forward.uri))),
    }
}

/// Records that the client's body could not be read (the runtime's `why`).
fn record_unreadable_body(record: &mut Recorder, why: &str) {
    record.failed(Side::Client, &format!("the request body could not be read: {why}"));
}

/// Answers `reply`, then logs and reports it.
fn answer(mut reply: Reply, mut record: Recorder, cfg: Config, ctx: &Context, ttfb_ms: f64) -> Response {
    record.reply(&mut reply, ttfb_ms);
    body::settle(record, cfg, ctx, ttfb_ms);
    convert::response(reply)
}

/// How long an isolate keeps its configuration: reading the two Secrets Store
/// secrets is a call to another service each, 0.8 ms of CPU per request
/// (measured with scripts/bench.sh). A rotated secret is used within a minute.
const CONFIG_TTL_MS: u64 = 60_000;

thread_local! {
    /// This isolate's configuration and when it was read.
    static CONFIG: RefCell<Option<(u64, Config)>> = const { RefCell::new(None) };
}

/// The configuration, read again once it is older than [`CONFIG_TTL_MS`]
/// at `now`.
async fn config(env: &Env, now: u64) -> Config {
    let cached =
        CONFIG.with_borrow(|c| c.as_ref().filter(|(at, _)| now.saturating_sub(*at) < CONFIG_TTL_MS).cloned());
    if let Some((_, cfg)) = cached {
        return cfg;
    }
    let cfg = read_config(env).await;
    CONFIG.set(Some((now, cfg.clone())));
    cfg
}

/// The configuration from `vars`, with secrets resolved first (they are async).
async fn read_config(env: &Env) -> Config {
    let mut secrets = HashMap::new();
    for (name, binding) in SECRETS {
        // A binding whose secret was never created answers Err, not Ok(None).
        let from_store = match env.secret_store(binding) {
            Ok(store) => store.get().await.ok().flatten(),
            Err(_) => None,
        };
        let value = from_store
            .or_else(|| env.secret(name).ok().map(|s| s.to_string()))
            .or_else(|| env.var(name).ok().map(|v| v.to_string()));
        if let Some(value) = value {
            secrets.insert(name, value);
        }
    }
    Config::from_lookup(|name| {
        secrets.get(name).cloned().or_else(|| env.var(name).ok().map(|v| v.to_string()))
    })
}
