//! The WASI host: `wasi:http/incoming-handler` in, `wasi:http/outgoing-handler`
//! out. It only executes the core's plan: read, send, pump, answer, report.

mod io;
mod report;

use std::io::Write;
use std::time::Instant;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, OutgoingBody, ResponseOutparam};

use crate::config::Config;
use crate::errors::{Dialect, ProxyError};
use crate::relay::{Ending, Relay};
use crate::report::{Recorder, new_request_id};
use crate::response::{Reply, error_reply};
use crate::routing::{Forward, Step, plan};
use io::{
    BodyRead, SendError, read_body, read_head, send_reply, start_request, start_response, wait_response,
};

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let started = Instant::now();
        let cfg = Config::from_lookup(|name| std::env::var(name).ok());
        let head = read_head(&request);
        let mut exchange = Exchange { started, record: Recorder::new(&cfg, &head, &new_request_id()) };
        match plan(&cfg, &head) {
            Step::Respond(reply) => exchange.reply(out, reply),
            Step::Forward(forward) => exchange.proxy(*forward, &request, out),
            Step::NeedBody(need) => match read_body(&request, need.limit()) {
                BodyRead::Complete(body) => {
                    exchange.record.request_chunk(&body);
                    match need.with_body(&cfg, body) {
                        Ok(forward) => exchange.proxy(forward, &request, out),
                        Err(reply) => exchange.reply(out, reply),
                    }
                }
                BodyRead::TooLarge => exchange.reply(out, need.too_large()),
                BodyRead::Failed(why) => exchange.reply(out, client_body_failed(&why)),
            },
        }
        // The client has its whole response now; reporting cannot delay it.
        let elapsed = exchange.elapsed_ms();
        let calls = exchange.record.finish(&cfg, elapsed);
        report::send_all(calls);
    }
}

/// One request in flight: its start time and its report record.
struct Exchange {
    started: Instant,
    record: Recorder,
}

impl Exchange {
    fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    fn reply(&mut self, out: ResponseOutparam, reply: Reply) {
        self.record.reply(&reply, self.elapsed_ms());
        send_reply(out, reply);
    }

    /// Sends `forward` upstream and streams the answer back through the core's filter.
    fn proxy(&mut self, forward: Forward, request: &IncomingRequest, out: ResponseOutparam) {
        self.record.route(&forward.exchange.info);
        let exchange = &forward.exchange;
        let started = start_request(&forward.method, &forward.uri, &forward.headers, forward.timeouts);
        let (pending, upstream_body) = match started {
            Ok(started) => started,
            Err(failure) => return self.reply(out, exchange.on_failure(&failure)),
        };
        // A failed write is not the end: the upstream may have answered early (a
        // 413 of its own, say) or the response carries the real error code.
        let record = &mut self.record;
        match io::send_body(&forward.body, request, upstream_body, |chunk| record.request_chunk(chunk)) {
            Ok(()) => {}
            Err(SendError::TooLarge { limit }) => {
                return self.reply(out, exchange.error(&ProxyError::PayloadTooLarge { limit }));
            }
            Err(SendError::Failed(why)) => {
                eprintln!("apex-ai-proxy: writing the upstream request body: {why}")
            }
        }
        let response = match wait_response(pending) {
            Ok(response) => response,
            Err(failure) => return self.reply(out, exchange.on_failure(&failure)),
        };
        let start = exchange.on_response(io::status_of(&response), &io::headers_of(&response.headers()));
        let Some((client_body, mut client)) = start_response(out, start.status, &start.headers) else {
            return;
        };
        self.record.response_head(start.status, &start.headers, self.elapsed_ms());
        let mut relay = Relay::new(start.body, std::mem::replace(&mut self.record, Recorder::off()));
        let mut send = |bytes: &[u8]| client.write_all(bytes).and_then(|()| Write::flush(&mut client));
        let outcome = io::pump(&response, |chunk| send(&relay.chunk(chunk)));
        let (ending, record) = match outcome {
            Ok(()) => relay.end(),
            Err(why) => relay.fail(&why),
        };
        self.record = record;
        if let Ending::Finish(bytes) = ending
            && send(&bytes).is_ok()
        {
            drop(client);
            let _ = OutgoingBody::finish(client_body, None);
        }
        // Otherwise the body is dropped unfinished: the client sees a truncated
        // response rather than a falsely complete one.
    }
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
