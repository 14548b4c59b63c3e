//! The Cloudflare Worker host: the same core as the WASI component, on
//! workers-rs. It only executes the core's plan: read, fetch, pump, answer, and
//! report through `ctx.wait_until`.

mod body;
mod convert;

use std::collections::HashMap;

use apex_ai_proxy::report::{Recorder, new_request_id};
use apex_ai_proxy::response::{FailureKind, Reply, UpstreamFailure};
use apex_ai_proxy::routing::{Forward, ForwardBody, Step, plan};
use apex_ai_proxy::{Config, ProxyError};
use futures_util::future::{Either, select};
use worker::{Context, Date, Delay, Env, Fetch, Request, Response, event};

/// Secrets: the Secrets Store binding first, then a plain Worker secret or var.
const SECRETS: [(&str, &str); 2] = [("GATEWAY_TOKEN", "GatewayToken"), ("AEPIPE_TOKEN", "AepipeToken")];

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = Date::now().as_millis();
    let cfg = config(&env).await;
    let head = convert::head(&req)?;
    let mut record = Recorder::new(&cfg, &head, &new_request_id());
    let elapsed = move || (Date::now().as_millis() - started) as f64;
    let planned = match plan(&cfg, &head) {
        Step::Forward(forward) => Ok(*forward),
        Step::Respond(reply) => Err(reply),
        Step::NeedBody(need) => match convert::read_body(&mut req, need.limit()).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                need.with_body(&cfg, bytes)
            }
            Err(convert::TooLarge) => Err(need.too_large()),
        },
    };
    let forward = match planned {
        Ok(forward) => forward,
        Err(reply) => return answer(reply, record, cfg, &ctx, elapsed()),
    };
    record.route(&forward.exchange.info);
    let sent = match send(&forward, &mut req, &mut record).await {
        Ok(response) => response,
        Err(Sent::Reply(reply)) => return answer(reply, record, cfg, &ctx, elapsed()),
        Err(Sent::Failed(failure)) => {
            worker::console_error!(
                "apex-ai-proxy: upstream {}: {failure}",
                forward.exchange.info.upstream_host
            );
            return answer(forward.exchange.on_failure(&failure), record, cfg, &ctx, elapsed());
        }
    };
    body::respond(forward.exchange, sent, record, cfg, &ctx, started)
}

/// Why the upstream call gave no response to relay.
enum Sent {
    Reply(Reply),
    Failed(UpstreamFailure),
}

/// Fetches `forward`, within its first-byte timeout.
async fn send(forward: &Forward, req: &mut Request, record: &mut Recorder) -> Result<Response, Sent> {
    let read;
    let bytes: &[u8] = match &forward.body {
        ForwardBody::Bytes(bytes) => bytes,
        // Workers buffer the client's body (up to the limit) before sending it on.
        ForwardBody::StreamClient { limit } => match convert::read_body(req, *limit).await {
            Ok(bytes) => {
                record.request_chunk(&bytes);
                read = bytes;
                &read
            }
            Err(convert::TooLarge) => {
                let error = ProxyError::PayloadTooLarge { limit: *limit };
                return Err(Sent::Reply(forward.exchange.error(&error)));
            }
        },
    };
    let request = convert::outgoing(&forward.method, &forward.uri.to_string(), &forward.headers, bytes)
        .map_err(|e| Sent::Failed(UpstreamFailure::new(FailureKind::Other, e.to_string())))?;
    let limit = forward.timeouts.first_byte;
    let fetch = Fetch::Request(request);
    let outcome = select(Box::pin(fetch.send()), Box::pin(Delay::from(limit))).await;
    match outcome {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(e), _)) => Err(Sent::Failed(convert::failure_of(&e))),
        Either::Right(_) => Err(Sent::Failed(UpstreamFailure::new(
            FailureKind::ResponseTimeout,
            format!("no response within {} ms", limit.as_millis()),
        ))),
    }
}

/// Answers `reply` and reports it after the response.
fn answer(
    reply: Reply,
    mut record: Recorder,
    cfg: Config,
    ctx: &Context,
    ttfb_ms: f64,
) -> worker::Result<Response> {
    record.reply(&reply, ttfb_ms);
    if record.is_on() {
        ctx.wait_until(body::report(record, cfg, ttfb_ms));
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
