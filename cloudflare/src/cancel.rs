//! How an upstream fetch ends early: the proxy stops it (a deadline, a broken
//! body), or the client's hang-up does (`request.signal`, with the
//! `enable_request_signal` compatibility flag). When the fetch then fails, the
//! client's signal says whose fault it was: a client that hung up is never an
//! upstream failure.

use apex_ai_proxy::report::Side;
use worker::web_sys::{AbortController, AbortSignal as JsSignal};
use worker::{AbortSignal, Request};

pub struct Cancel {
    abort: AbortController,
    client: JsSignal,
}

impl Cancel {
    pub fn new(req: &Request) -> worker::Result<Cancel> {
        Ok(Cancel { abort: AbortController::new()?, client: req.inner().signal() })
    }

    /// The fetch's signal: it fires when the client hangs up or the proxy stops.
    pub fn signal(&self) -> AbortSignal {
        let both = js_sys::Array::of2(&self.client, &self.abort.signal());
        AbortSignal::from(JsSignal::any(&both))
    }

    /// Stops the upstream fetch (again is harmless).
    pub fn stop(&self) {
        self.abort.abort();
    }

    /// Who broke an exchange off: the client, if it hung up; otherwise the
    /// upstream, for `upstream_why`.
    pub fn blame(&self, upstream_why: String) -> (Side, String) {
        match self.client.aborted() {
            true => (Side::Client, "the client went away mid-response".to_owned()),
            false => (Side::Upstream, upstream_why),
        }
    }
}
