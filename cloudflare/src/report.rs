//! The end of a request: its access-log line, and its aepipe reports gathered
//! per isolate, for `io.js` to send through `ctx.waitUntil`.

use std::cell::RefCell;
use std::time::Duration;

use apex_ai_proxy::Config;
use apex_ai_proxy::report::Recorder;
use apex_ai_proxy::report::batch::Batch;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::flow::Flow;

/// How long a request's reports wait for others to travel with them: the
/// isolate sends two calls for all the requests that end in this time,
/// instead of two per request (each call costs the Worker about 0.25 ms of
/// CPU: scripts/bench.sh).
const BATCH_WINDOW: Duration = Duration::from_millis(50);

thread_local! {
    /// The reports of this isolate waiting to be sent.
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// Writes the log line and gathers the reports with those of the requests
/// that end within [`BATCH_WINDOW`]. The ms after which this request sends
/// the batch ([`crate::flow::Flow::take_batch`]): the first of a batch waits the window, a full
/// batch goes at once; -1 when another request sends it (or there is none).
pub fn settle(record: Recorder, cfg: &Config, duration_ms: f64) -> f64 {
    let finished = record.finish(cfg, duration_ms, crate::now_ms());
    if let Some(line) = finished.log {
        worker::console_log!("{line}");
    }
    if finished.calls.is_empty() {
        return -1.0;
    }
    let (first, full) = BATCH.with_borrow_mut(|batch| (batch.is_empty(), batch.add(finished.calls)));
    match (full, first) {
        (true, _) => 0.0,
        (false, true) => BATCH_WINDOW.as_millis() as f64,
        (false, false) => -1.0,
    }
}

#[wasm_bindgen]
impl Flow {
    /// The gathered reports, each `[url, headers as io.js reads them, body]`.
    #[wasm_bindgen(js_name = takeBatch)]
    pub fn take_batch() -> Array {
        let calls = BATCH.with_borrow_mut(Batch::take);
        calls
            .into_iter()
            .map(|call| {
                let headers = crate::convert::header_text(&call.headers);
                Array::of3(&call.url.into(), &headers.into(), &Uint8Array::from(call.body.as_slice()))
            })
            .collect()
    }
}
