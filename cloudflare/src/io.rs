//! The boundary with `io.js`: the Worker's fetches, timers and pass-through
//! bodies run in JavaScript, so a request crosses into wasm a handful of times
//! instead of once per header, chunk and timer. Failures come back in words:
//! the core's, or the runtime's for [`crate::convert::failure_of`] to read.
//!
//! Bytes go to JavaScript as views into wasm memory, never kept past the call:
//! `fetch` copies a request body when it is called (the Fetch standard's
//! "extract a body"), before any await.

use std::time::Duration;

use apex_ai_proxy::report::Side;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Headers, ReadableStream, Request, Response};

#[wasm_bindgen(module = "/src/io.js")]
extern "C" {
    #[wasm_bindgen(js_name = headerText)]
    pub fn header_text(headers: &Headers) -> String;

    pub fn respond(status: u16, headers: &str, body: &JsValue) -> Response;

    #[wasm_bindgen(js_name = readBody, catch)]
    async fn read_body_js(request: &Request, limit: f64) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = sleep)]
    async fn sleep_js(ms: f64);

    #[wasm_bindgen(js_name = post)]
    async fn post_js(url: &str, headers: &str, body: &[u8], ms: f64) -> JsValue;

    /// One upstream exchange: the fetch, its body, and who broke it off.
    pub type Upstream;

    #[wasm_bindgen(constructor)]
    pub fn new(client: &AbortSignal) -> Upstream;

    /// Stops the fetch and its body (again is harmless).
    #[wasm_bindgen(method)]
    pub fn stop(this: &Upstream);

    #[wasm_bindgen(method, js_name = clientGone)]
    pub fn client_gone(this: &Upstream) -> bool;

    #[wasm_bindgen(method, catch, js_name = send)]
    async fn send_js(
        this: &Upstream,
        method: &str,
        url: &str,
        headers: &str,
        body: &[u8],
        ms: f64,
        idle: f64,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = sendStreaming)]
    #[allow(clippy::too_many_arguments)] // one crossing, every argument it needs
    async fn send_streaming_js(
        this: &Upstream,
        method: &str,
        url: &str,
        headers: &str,
        request: &Request,
        limit: f64,
        declared: f64,
        ms: f64,
        idle: f64,
    ) -> Result<JsValue, JsValue>;

    /// The client's body bytes sent on by [`Upstream::send_streaming`].
    #[wasm_bindgen(method, getter, js_name = requestBytes)]
    pub fn request_bytes(this: &Upstream) -> f64;

    #[wasm_bindgen(method, getter, js_name = clientBodyFailed)]
    fn client_body_failed(this: &Upstream) -> Option<String>;

    /// The response headers, as [`header_text`] gives them.
    #[wasm_bindgen(method)]
    pub fn headers(this: &Upstream) -> String;

    #[wasm_bindgen(method, catch, js_name = next)]
    async fn next_js(this: &Upstream, ms: f64) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = readAll)]
    async fn read_all_js(this: &Upstream, cap: f64, ms: f64) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch, js_name = firstBytes)]
    fn first_bytes_js(this: &Upstream) -> Result<f64, JsValue>;

    /// Whether the body ended with its first bytes, which are then all of it.
    #[wasm_bindgen(method, js_name = isWhole)]
    pub fn is_whole(this: &Upstream) -> bool;

    #[wasm_bindgen(method, js_name = takeFirst)]
    fn take_first_js(this: &Upstream) -> Option<Uint8Array>;

    #[wasm_bindgen(method, js_name = pass)]
    fn pass_js(this: &Upstream, declared: f64, ms: f64) -> ReadableStream;

    #[wasm_bindgen(method, getter)]
    fn done(this: &Upstream) -> js_sys::Promise;
}

/// What came of sending a request.
pub enum Head {
    /// The answer's status.
    Status(u16),
    /// No head within the first-byte limit.
    Late,
    /// The client's body passed the limit while it was streamed on.
    TooLarge,
    /// Reading the client's body failed (the runtime's words).
    ClientBody(String),
}

impl Head {
    fn of(sent: Result<JsValue, JsValue>, upstream: &Upstream) -> Result<Head, String> {
        match sent {
            Ok(status) => Ok(match status.as_f64() {
                Some(s) if s > 0.0 => Head::Status(s as u16),
                Some(-1.0) => Head::TooLarge,
                Some(-2.0) => Head::ClientBody(upstream.client_body_failed().unwrap_or_default()),
                _ => Head::Late,
            }),
            Err(why) => Err(why.as_string().unwrap_or_default()),
        }
    }
}

/// How a wait or a read failed.
pub enum Failure {
    /// The wait gave up (the core's words).
    Silent(String),
    /// The runtime's words.
    Runtime(String),
}

impl Failure {
    fn of(error: JsValue) -> Failure {
        let pair = Array::from(&error);
        // io.js always gives words; anything else is said to be unreadable.
        let text =
            pair.get(1).as_string().unwrap_or_else(|| "the runtime's failure was unreadable".to_owned());
        match pair.get(0).as_bool() {
            Some(true) => Failure::Silent(text),
            _ => Failure::Runtime(text),
        }
    }
}

impl Failure {
    /// The log's words for a body that broke off with this failure.
    pub fn broke_off(&self) -> String {
        format!("the upstream body broke off: {}", self.words())
    }

    /// In the core's words, as on the WASI host.
    pub fn words(&self) -> String {
        match self {
            Failure::Silent(words) => words.clone(),
            Failure::Runtime(text) => crate::convert::failure_of(text).kind.words().to_owned(),
        }
    }
}

/// How a passed-through body ended.
pub enum Passed {
    Complete,
    /// The upstream broke the body off (`why` in words).
    Upstream(String),
    /// The upstream's body broke off while being read.
    Broke(Failure),
    Client,
}

/// Milliseconds since the epoch, as workerd's clock gives them (without the
/// `Date` object `worker::Date::now` builds on every call).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn ms(duration: Duration) -> f64 {
    duration.as_millis() as f64
}

/// Why the client's body gave no bytes.
pub enum BodyError {
    TooLarge,
    /// The runtime's words, for the log.
    Failed(String),
}

/// Reads the client's body whole, stopping as soon as it passes `limit` bytes.
/// A body that breaks off is an error, never a shorter body.
pub async fn read_body(request: &Request, limit: usize) -> Result<Vec<u8>, BodyError> {
    match read_body_js(request, limit as f64).await {
        Ok(bytes) if bytes.is_null() => Err(BodyError::TooLarge),
        Ok(bytes) => Ok(Uint8Array::new(&bytes).to_vec()),
        Err(why) => Err(BodyError::Failed(why.as_string().unwrap_or_default())),
    }
}

/// Resolves after `time`.
pub async fn sleep(time: Duration) {
    sleep_js(ms(time)).await;
}

/// Posts a report; `Err` says what went wrong, in words.
pub async fn post(url: &str, headers: &str, body: &[u8], limit: Duration) -> Result<(), String> {
    match post_js(url, headers, body, ms(limit)).await.as_string() {
        None => Ok(()),
        Some(problem) => Err(problem),
    }
}

impl Upstream {
    /// Sends the request with `body`; the answer's head, or the runtime's
    /// words. The body's first bytes are read too, each wait of the body
    /// bounded by `idle`.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &str,
        body: &[u8],
        limit: Duration,
        idle: Duration,
    ) -> Result<Head, String> {
        Head::of(self.send_js(method, url, headers, body, ms(limit), ms(idle)).await, self)
    }

    /// [`Upstream::send`] with the client's body streamed on as it arrives,
    /// cut past `max` bytes; `declared` is its content-length.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_streaming(
        &self,
        method: &str,
        url: &str,
        headers: &str,
        request: &Request,
        (max, declared): (usize, Option<u64>),
        limit: Duration,
        idle: Duration,
    ) -> Result<Head, String> {
        let declared = declared.map_or(-1.0, |n| n as f64);
        let sent =
            self.send_streaming_js(method, url, headers, request, max as f64, declared, ms(limit), ms(idle));
        Head::of(sent.await, self)
    }

    /// The next body chunk, `None` at the end.
    pub async fn next(&self, idle: Duration) -> Result<Option<Vec<u8>>, Failure> {
        match self.next_js(ms(idle)).await {
            Ok(chunk) if chunk.is_undefined() => Ok(None),
            Ok(chunk) => Ok(Some(Uint8Array::new(&chunk).to_vec())),
            Err(error) => Err(Failure::of(error)),
        }
    }

    /// The body whole, up to just past `cap` bytes.
    pub async fn read_all(&self, cap: usize, idle: Duration) -> Result<Vec<u8>, Failure> {
        match self.read_all_js(cap as f64, ms(idle)).await {
            Ok(bytes) => Ok(Uint8Array::new(&bytes).to_vec()),
            Err(error) => Err(Failure::of(error)),
        }
    }

    /// The body's first bytes, read by [`Upstream::send`]: their length,
    /// `None` for an empty body.
    pub fn first_bytes(&self) -> Result<Option<u64>, Failure> {
        match self.first_bytes_js() {
            Ok(n) => Ok((n >= 0.0).then_some(n as u64)),
            Err(error) => Err(Failure::of(error)),
        }
    }

    /// The first bytes [`Upstream::first_bytes`] read, once.
    pub fn take_first(&self) -> Option<Vec<u8>> {
        self.take_first_js().map(|chunk| chunk.to_vec())
    }

    /// The body when [`Upstream::is_whole`], for a response (null when empty).
    pub fn whole(&self) -> JsValue {
        self.take_first_js().map_or(JsValue::NULL, JsValue::from)
    }

    /// The body for the client, passed unchanged (after [`Upstream::first_bytes`]):
    /// fixed-length when `declared`, each read bounded by `idle`.
    pub fn pass(&self, declared: Option<u64>, idle: Duration) -> ReadableStream {
        self.pass_js(declared.map_or(-1.0, |n| n as f64), ms(idle))
    }

    /// Once the passed body has ended: the bytes sent, and how it ended.
    pub async fn passed(&self) -> (u64, Passed) {
        let outcome = match wasm_bindgen_futures::JsFuture::from(self.done()).await {
            Ok(outcome) => Array::from(&outcome),
            Err(_) => return (0, Passed::Upstream("the body relay failed".into())),
        };
        let sent = outcome.get(0).as_f64().unwrap_or(0.0) as u64;
        let text = || outcome.get(2).as_string().unwrap_or_default();
        let ended = match outcome.get(1).as_f64() {
            Some(0.0) => Passed::Complete,
            Some(2.0) => Passed::Client,
            Some(3.0) => Passed::Broke(Failure::of(Array::of2(&outcome.get(2), &outcome.get(3)).into())),
            _ => Passed::Upstream(text()),
        };
        (sent, ended)
    }

    /// Who broke an exchange off: the client, if it hung up; otherwise the
    /// upstream, for `upstream_why`.
    pub fn blame(&self, upstream_why: String) -> (Side, String) {
        match self.client_gone() {
            true => (Side::Client, CLIENT_GONE.to_owned()),
            false => (Side::Upstream, upstream_why),
        }
    }
}

/// What the log says of a client that hung up.
pub const CLIENT_GONE: &str = "the client went away mid-response";
