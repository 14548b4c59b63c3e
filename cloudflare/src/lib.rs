//! The Cloudflare Worker host (docs/hosts/cloudflare.md): the core's
//! [`Exchange`] behind synchronous calls that `entry.js` makes at each step.
//! JavaScript does the I/O and asks what comes next; no promise crosses into
//! wasm on a request's way (the one async export reads the configuration,
//! once a minute per isolate). The step kinds are [`STEPS`], which JavaScript
//! reads from the wasm exports.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use apex_ai_proxy::config::Config;
use apex_ai_proxy::errors::ProxyError;
use apex_ai_proxy::exchange::{Action, End, Event, Exchange};
use apex_ai_proxy::failure::{Stop, UpstreamFailure};
use apex_ai_proxy::headers::{from_text, to_text};
use apex_ai_proxy::plan::Upload;
use apex_ai_proxy::report::batch::Batch;
use http::StatusCode;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use worker::Env;

/// Secrets: the Secrets Store binding first, then a plain Worker secret or var.
const SECRETS: [(&str, &str); 2] = [("GATEWAY_TOKEN", "GatewayToken"), ("AEPIPE_TOKEN", "AepipeToken")];

/// How long an isolate keeps its configuration: reading the two Secrets Store
/// secrets is a call to another service each, 0.8 ms of CPU per request
/// (scripts/bench.sh). A rotated secret is used within a minute.
const CONFIG_TTL_MS: f64 = 60_000.0;

thread_local! {
    /// This isolate's configuration and when it was read.
    static CONFIG: RefCell<Option<(f64, Arc<Config>)>> = const { RefCell::new(None) };
    /// The reports of this isolate waiting to be sent.
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// What JavaScript does next: the kinds of [`Action`], numbered by their
/// place here; [`Flow::steps`] gives JavaScript the names.
const STEPS: [&str; 5] = ["ReadBody", "Send", "Upload", "Read", "Answer"];

/// One request: its exchange, and the latest action, whose parts
/// JavaScript reads through the getters.
#[wasm_bindgen]
pub struct Flow {
    exchange: Exchange,
    action: Action,
    /// Where the upstream request went (the runtime's failure words name it).
    uri: Option<http::Uri>,
}

#[wasm_bindgen]
impl Flow {
    /// Whether this isolate's configuration is fresh at `now` (else [`Flow::configure`] first).
    pub fn configured(now: f64) -> bool {
        CONFIG.with_borrow(|c| c.as_ref().is_some_and(|(at, _)| now - at < CONFIG_TTL_MS))
    }

    /// Reads the configuration from `env` (secrets first: they are async). The
    /// first time in an isolate: the startup banner, and entropy for ids
    /// (wasm32-unknown-unknown has none of its own).
    pub async fn configure(env: Env, now: f64) {
        let mut secrets = HashMap::new();
        for (name, binding) in SECRETS {
            // A binding whose secret was never created answers Err, not Ok(None).
            let stored = match env.secret_store(binding) {
                Ok(store) => store.get().await.ok().flatten(),
                Err(_) => None,
            };
            let plain = || {
                env.secret(name)
                    .ok()
                    .map(|s| s.to_string())
                    .or_else(|| env.var(name).ok().map(|v| v.to_string()))
            };
            if let Some(value) = stored.or_else(plain) {
                secrets.insert(name, value);
            }
        }
        let cfg = Config::from_lookup(|name| {
            secrets.get(name).cloned().or_else(|| env.var(name).ok().map(|v| v.to_string()))
        });
        if CONFIG.with_borrow(Option::is_none) {
            let half = || (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
            apex_ai_proxy::ids::seed((half() << 32) ^ half());
            for line in cfg.summary() {
                worker::console_log!("apex-ai-proxy {}: {line}", apex_ai_proxy::VERSION);
            }
        }
        CONFIG.set(Some((now, Arc::new(cfg))));
    }

    /// A request arrived: its head (`headers` as `headerText` writes them).
    /// [`Flow::step`] says what comes first.
    pub fn start(method: &str, url: &str, headers: &str, now: f64) -> Flow {
        let cfg = CONFIG.with_borrow(|c| c.as_ref().map(|(_, cfg)| cfg.clone()));
        let cfg = cfg.unwrap_or_else(|| Arc::new(Config::from_lookup(|_| None)));
        // The target is what follows the authority: `https://host/path?query`.
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let target = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
        let request = http::Request::builder().method(method).uri(target).body(());
        let parsed = request.is_ok();
        let mut head = request.unwrap_or_default().into_parts().0;
        head.headers = from_text(headers);
        // workerd hands over header values decoded as UTF-8, bytes that are not
        // replaced by U+FFFD: such a request cannot be forwarded as sent.
        let lossy = head
            .headers
            .iter()
            .find(|(_, v)| std::str::from_utf8(v.as_bytes()).is_ok_and(|v| v.contains('\u{FFFD}')));
        let refusal = match (parsed, lossy) {
            (false, _) => Some("the request line could not be read".to_owned()),
            (true, Some((name, _))) => Some(format!(
                "header {name} is not valid UTF-8; a Cloudflare Worker cannot forward it as sent"
            )),
            (true, None) => None,
        };
        let mut exchange = Exchange::new(cfg, head, now);
        let action = match refusal {
            Some(why) => exchange.refuse(&ProxyError::BadRequest(why), now),
            None => exchange.start(now),
        };
        Flow { exchange, action, uri: None }
    }

    /// The step kinds, `{ReadBody: 0, …}`, as [`Flow::step`] numbers them.
    pub fn steps() -> js_sys::Object {
        let steps = js_sys::Object::new();
        for (number, name) in STEPS.iter().enumerate() {
            let _ = js_sys::Reflect::set(&steps, &(*name).into(), &(number as u32).into());
        }
        steps
    }

    /// The current step.
    pub fn step(&self) -> u32 {
        let name = match &self.action {
            Action::ReadBody { .. } => "ReadBody",
            Action::Send { .. } => "Send",
            Action::Upload => "Upload",
            Action::Read { .. } => "Read",
            Action::Answer { .. } => "Answer",
        };
        STEPS.iter().position(|s| *s == name).unwrap_or(0) as u32
    }

    fn on(&mut self, event: Event, now: f64) -> u32 {
        if let Action::Send { request, .. } = &self.action {
            self.uri = Some(request.uri.clone());
        }
        self.action = self.exchange.on(event, now);
        self.step()
    }

    #[wasm_bindgen(js_name = bodyChunk)]
    pub fn body_chunk(&mut self, bytes: &[u8], now: f64) -> u32 {
        self.on(Event::BodyChunk(bytes), now)
    }

    #[wasm_bindgen(js_name = bodyEnd)]
    pub fn body_end(&mut self, now: f64) -> u32 {
        self.on(Event::BodyEnd, now)
    }

    /// Reading the client's body failed (`words`: the runtime's).
    #[wasm_bindgen(js_name = bodyFailed)]
    pub fn body_failed(&mut self, words: &str, now: f64) -> u32 {
        self.on(Event::BodyFailed(Stop::Failed(UpstreamFailure::from_words(words, None))), now)
    }

    /// The upstream's head; `decoded`: workerd undid its gzip or br (the
    /// headers then leave out `content-encoding` and `content-length`).
    pub fn head(&mut self, status: u16, headers: &str, decoded: bool, now: f64) -> u32 {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        self.on(Event::Head { status, headers: from_text(headers), decoded }, now)
    }

    pub fn chunk(&mut self, bytes: &[u8], now: f64) -> u32 {
        self.on(Event::Chunk(bytes), now)
    }

    /// The upstream body's last bytes: it ended with them.
    pub fn last(&mut self, bytes: &[u8], now: f64) -> u32 {
        self.on(Event::Last(bytes), now)
    }

    pub fn end(&mut self, now: f64) -> u32 {
        self.on(Event::End, now)
    }

    /// The upstream failed (`words`: the runtime's).
    pub fn failed(&mut self, words: &str, now: f64) -> u32 {
        let failure = UpstreamFailure::from_words(words, self.uri.as_ref());
        self.on(Event::Failed(failure), now)
    }

    pub fn timeout(&mut self, now: f64) -> u32 {
        self.on(Event::Timeout, now)
    }

    /// The client went away.
    pub fn gone(&mut self, now: f64) -> u32 {
        self.on(Event::ClientGone(Stop::Closed), now)
    }

    /// The `Send` step's request: `[method, url, headers, ms to wait for the
    /// head, whether the client's body goes up]` (else [`Flow::take_body`]
    /// holds it).
    pub fn request(&self) -> Array {
        let Action::Send { request, timeouts } = &self.action else { return Array::new() };
        let streams = matches!(request.body, Upload::Client);
        let head_ms = timeouts.head().as_millis() as f64;
        let parts: [JsValue; 5] = [
            request.method.as_str().into(),
            request.uri.to_string().into(),
            to_text(&request.headers).into(),
            head_ms.into(),
            streams.into(),
        ];
        parts.into_iter().collect()
    }

    /// The `Read` step: the most ms between chunks (0: keep the last), and whether
    /// the rest is small and wanted at once.
    pub fn reading(&self) -> Array {
        let Action::Read { idle, whole } = &self.action else { return Array::of2(&0.into(), &false.into()) };
        Array::of2(&(idle.as_millis() as f64).into(), &(*whole).into())
    }

    /// The `Answer` step: `[status (0: no head, bytes only), headers, the
    /// verified content-length (-1: none), how it goes on (0 more bytes
    /// follow, 1 complete, 2 cut)]`.
    pub fn reply(&self) -> Array {
        let Action::Answer { head, end, .. } = &self.action else { return Array::new() };
        let status = head.as_ref().map_or(0, |h| h.status.as_u16());
        let headers = head.as_ref().map(|h| to_text(&h.headers)).unwrap_or_default();
        let length = head.as_ref().and_then(|h| h.length).map_or(-1.0, |n| n as f64);
        let end = match end {
            None => 0,
            Some(End::Complete) => 1,
            Some(End::Cut) => 2,
        };
        let parts: [JsValue; 4] = [status.into(), headers.into(), length.into(), end.into()];
        parts.into_iter().collect()
    }

    /// The bytes of the current step, once: the upstream request's planned
    /// body, or the answer's bytes.
    #[wasm_bindgen(js_name = takeBody)]
    pub fn take_body(&mut self) -> Vec<u8> {
        match &mut self.action {
            Action::Send { request, .. } => match &mut request.body {
                Upload::Bytes(bytes) => std::mem::take(bytes),
                Upload::Client => Vec::new(),
            },
            Action::Answer { body, .. } => std::mem::take(body),
            _ => Vec::new(),
        }
    }

    /// The request is over for the client: its log lines now, its reports
    /// gathered with the isolate's. In how many ms this request sends the
    /// batch ([`Flow::take_batch`]); -1 when another one does.
    pub fn finish(self, now: f64) -> f64 {
        let finished = self.exchange.finish(now, js_sys::Date::now() as u64);
        for line in finished.log {
            worker::console_log!("{line}");
        }
        BATCH.with_borrow_mut(|batch| batch.gather(finished.reports)).unwrap_or(-1.0)
    }

    /// The gathered reports, each `[url, headers as text, body]`.
    #[wasm_bindgen(js_name = takeBatch)]
    pub fn take_batch() -> Array {
        let calls = BATCH.with_borrow_mut(Batch::take);
        let call = |c: apex_ai_proxy::report::AepipeCall| {
            Array::of3(&c.url.into(), &to_text(&c.headers).into(), &Uint8Array::from(c.body.as_slice()))
        };
        calls.into_iter().map(call).collect()
    }

    /// The log line for a report not taken: `status` it got (0: none), or the
    /// runtime's `words` for why it failed; empty when it was taken.
    pub fn delivery(url: &str, status: u16, words: &str) -> String {
        let outcome = match StatusCode::from_u16(status) {
            Ok(status) => Ok(status),
            Err(_) => Err(UpstreamFailure::from_words(words, None)),
        };
        apex_ai_proxy::report::delivery(url, outcome).unwrap_or_default()
    }
}
