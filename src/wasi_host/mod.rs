//! The WASI host: `wasi:http/incoming-handler` in, `wasi:http/outgoing-handler`
//! out. It only executes the core's plan: read, send, pump, answer.

mod io;

use std::io::Write;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, OutgoingBody, ResponseOutparam};

use crate::config::Config;
use crate::errors::{Dialect, ProxyError};
use crate::response::{Reply, error_reply};
use crate::routing::{Forward, Step, plan};
use io::{
    BodyRead, SendError, read_body, read_head, send_reply, start_request, start_response, wait_response,
};

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let cfg = Config::from_lookup(|name| std::env::var(name).ok());
        let head = read_head(&request);
        let forward = match plan(&cfg, &head) {
            Step::Respond(reply) => return send_reply(out, reply),
            Step::Forward(forward) => forward,
            Step::NeedBody(need) => match read_body(&request, need.limit()) {
                BodyRead::Complete(body) => match need.with_body(&cfg, body) {
                    Step::Forward(forward) => forward,
                    Step::Respond(reply) => return send_reply(out, reply),
                    Step::NeedBody(_) => return send_reply(out, internal("body requested twice")),
                },
                BodyRead::TooLarge => return send_reply(out, need.too_large()),
                BodyRead::Failed(why) => return send_reply(out, client_body_failed(&why)),
            },
        };
        proxy(*forward, &request, out);
    }
}

/// Sends `forward` upstream and streams the answer back through the core's filter.
fn proxy(forward: Forward, request: &IncomingRequest, out: ResponseOutparam) {
    let exchange = forward.exchange.clone();
    let (pending, upstream_body) = match start_request(&forward) {
        Ok(started) => started,
        Err(failure) => return send_reply(out, exchange.on_failure(failure)),
    };
    // A failed write is not the end: the upstream may have answered early (a
    // 413 of its own, say) or the response carries the real error code.
    match io::send_body(&forward.body, request, upstream_body) {
        Ok(()) => {}
        Err(SendError::TooLarge { limit }) => {
            return send_reply(out, exchange.error(&ProxyError::PayloadTooLarge { limit }));
        }
        Err(SendError::Failed(why)) => eprintln!("apex-ai-proxy: writing the upstream request body: {why}"),
    }
    let response = match wait_response(pending) {
        Ok(response) => response,
        Err(failure) => return send_reply(out, exchange.on_failure(failure)),
    };
    let start = exchange.on_response(io::status_of(&response), &io::headers_of(&response.headers()));
    let mut filter = start.body;
    let Some((client_body, mut client)) = start_response(out, start.status, &start.headers) else {
        return;
    };
    let outcome = io::pump(&response, |chunk| {
        let bytes = filter.push(chunk);
        client.write_all(&bytes)?;
        Write::flush(&mut client)
    });
    if outcome.is_ok() && client.write_all(&filter.finish()).and_then(|()| Write::flush(&mut client)).is_ok()
    {
        drop(client);
        let _ = OutgoingBody::finish(client_body, None);
    }
    // On failure the body is dropped unfinished: the client sees a truncated
    // response rather than a falsely complete one.
}

fn internal(why: &str) -> Reply {
    error_reply(&ProxyError::BadGateway(format!("internal: {why}")), Dialect::OpenAi)
}

fn client_body_failed(why: &str) -> Reply {
    error_reply(&ProxyError::BadRequest(format!("reading the request body failed: {why}")), Dialect::OpenAi)
}

// The export macro emits the component's exported C-ABI symbols, which the
// `unsafe_code` lint counts as unsafe; nothing else in the crate is.
#[allow(unsafe_code)]
mod export {
    use super::Component;
    wasi::http::proxy::export!(Component with_types_in wasi);
}
