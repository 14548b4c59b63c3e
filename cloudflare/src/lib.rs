//! The Cloudflare Worker host: the same core as the WASI component, on
//! workers-rs. It only executes the core's plan: read, fetch, pump, answer, and
//! report through `ctx.wait_until`. The runtime's own error text goes to the
//! Worker's log, never to a client.

mod body;
mod cancel;
mod convert;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use apex_ai_proxy::report::{Recorder, Side, new_request_id};
use apex_ai_proxy::response::{FailureKind, Reply, UpstreamFailure, error_reply};
use apex_ai_proxy::routing::{Forward, ForwardBody, Step, plan, request_dialect};
use apex_ai_proxy::{Config, ProxyError};
use futures_util::future::{Either, select};
use worker::{AbortSignal, Context, Date, Delay, Env, Fetch, Request, Response, event};

use crate::body::Relayed;
use crate::cancel::Cancel;
use crate::convert::BodyError;

/// Secrets: the Secrets Store binding first, then a plain Worker secret or var.
const SECRETS: [(&str, &str); 2] = [("GATEWAY_TOKEN", "GatewayToken"), ("AEPIPE_TOKEN", "AepipeToken")];

/// Whether this isolate has said what its configuration amounts to.
static ANNOUNCED: AtomicBool = AtomicBool::new(false);

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = Date::now().as_millis();
    let cfg = config(&env).await;
    if !ANNOUNCED.swap(true, Ordering::Relaxed) {
        // Once per isolate, the startup banner of the WASI serve script.
        for line in cfg.summary() {
            worker::console_log!("apex-ai-proxy {}: {line}", apex_ai_proxy::VERSION);
        }
    }
    let head = convert::head(&req)?;
    let mut record = Recorder::new(&cfg, &head, &new_request_id());
    let elapsed = move || (Date::now().as_millis() - started) as f64;
    if let Some(name) = convert::undecodable_header(&head.headers) {
        let error = ProxyError::BadRequest(format!(
            "header {name} is not valid UTF-8; a Cloudflare Worker cannot forward it as sent"
        ));
        return answer(error_reply(&error, request_dialect(&head)), record, cfg, &ctx, elapsed());
    }
    let planned = match plan(&cfg, &head) {
        Step::Forward(forward) => Ok(*forward),
        Step::Respond(reply) => Err(reply),
        Step::NeedBody(need) => match convert::read_body(&mut req, need.limit()).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                need.with_body(&cfg, bytes)
            }
            Err(BodyError::TooLarge) => Err(need.too_large()),
            Err(BodyError::Failed(why)) => {
                record.failed(Side::Client, &format!("the request body could not be read: {why}"));
                Err(error_reply(&ProxyError::client_body(), request_dialect(&head)))
            }
        },
    };
    let forward = match planned {
        Ok(forward) => forward,
        Err(reply) => return answer(reply, record, cfg, &ctx, elapsed()),
    };
    record.route(&forward.exchange.info);
    let cancel = Cancel::new(&req)?;
    let sent = match send(&forward, &mut req, &mut record, &cancel.signal()).await {
        Ok(response) => response,
        Err(Sent::Reply(reply)) => return answer(reply, record, cfg, &ctx, elapsed()),
        Err(Sent::Failed(failure)) => {
            cancel.stop(); // a fetch past its deadline is stopped, not left running
            body::runtime_note(&cfg, "upstream", &failure);
            let (side, why) = cancel.blame(forward.exchange.describe(&failure));
            record.failed(side, &why);
            return answer(forward.exchange.on_failure(&failure), record, cfg, &ctx, elapsed());
        }
    };
    let idle = forward.timeouts.between_bytes;
    let relayed =
        body::respond(&forward.exchange, sent, record, cfg.clone(), &ctx, started, idle, cancel).await?;
    match relayed {
        Relayed::Streaming(response) => Ok(response),
        Relayed::Whole(reply, record) => answer(reply, record, cfg, &ctx, elapsed()),
    }
}

/// Why the upstream call gave no response to relay.
enum Sent {
    Reply(Reply),
    Failed(UpstreamFailure),
}

/// Fetches `forward`. A Worker cannot tell connecting from waiting, so the
/// first-byte limit bounds the whole wait for the response head.
async fn send(
    forward: &Forward,
    req: &mut Request,
    record: &mut Recorder,
    signal: &AbortSignal,
) -> Result<Response, Sent> {
    let read;
    let bytes: &[u8] = match &forward.body {
        ForwardBody::Bytes(bytes) => bytes,
        // Workers read the client's body (up to the limit) before sending it on.
        ForwardBody::StreamClient { limit } => match convert::read_body(req, *limit).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                read = bytes;
                &read
            }
            Err(BodyError::TooLarge) => {
                let error = ProxyError::PayloadTooLarge { limit: *limit };
                return Err(Sent::Reply(forward.exchange.error(&error)));
            }
            Err(BodyError::Failed(why)) => {
                record.failed(Side::Client, &format!("the request body could not be read: {why}"));
                return Err(Sent::Reply(forward.exchange.error(&ProxyError::client_body())));
            }
        },
    };
    let request = convert::outgoing(&forward.method, &forward.uri.to_string(), &forward.headers, bytes)
        .map_err(|e| Sent::Failed(UpstreamFailure::new(FailureKind::Other, e.to_string())))?;
    let limit = forward.timeouts.first_byte;
    let fetch = Fetch::Request(request);
    let outcome = select(Box::pin(fetch.send_with_signal(signal)), Box::pin(Delay::from(limit))).await;
    match outcome {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(e), _)) => Err(Sent::Failed(convert::fetch_failure_of(&e, &forward.uri))),
        Either::Right(_) => Err(Sent::Failed(UpstreamFailure::new(
            FailureKind::ResponseTimeout,
            format!("no response within {} ms", limit.as_millis()),
        ))),
    }
}

/// Answers `reply`, then logs and reports it.
fn answer(
    mut reply: Reply,
    mut record: Recorder,
    cfg: Config,
    ctx: &Context,
    ttfb_ms: f64,
) -> worker::Result<Response> {
    record.reply(&mut reply, ttfb_ms);
    if record.is_on() {
        ctx.wait_until(body::report(record, cfg, ttfb_ms));
    } else {
        // Nothing to send: the log line is written now.
        body::log(record.finish(&cfg, ttfb_ms, Date::now().as_millis()).log);
    }
    convert::response(reply)
}

/// The configuration from `vars`, with secrets resolved first (they are async).
async fn config(env: &Env) -> Config {
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
