//! The Cloudflare Worker host: the same core as the WASI component, built with
//! workers-rs. `entry.js` is the Worker's entry and `io.js` does its I/O
//! (fetches, bodies, timers, `ctx.waitUntil`); at each step of a request they
//! ask the core, through [`flow::Flow`]'s synchronous calls, what comes next.
//! The runtime's own error text goes to the Worker's log, never to a client.

mod convert;
mod flow;
mod report;

use std::cell::RefCell;
use std::collections::HashMap;

use apex_ai_proxy::Config;
use wasm_bindgen::prelude::*;
use worker::Env;

use crate::flow::Flow;

/// Secrets: the Secrets Store binding first, then a plain Worker secret or var.
const SECRETS: [(&str, &str); 2] = [("GATEWAY_TOKEN", "GatewayToken"), ("AEPIPE_TOKEN", "AepipeToken")];

/// How long an isolate keeps its configuration: reading the two Secrets Store
/// secrets is a call to another service each, 0.8 ms of CPU per request
/// (measured with scripts/bench.sh). A rotated secret is used within a minute.
const CONFIG_TTL_MS: u64 = 60_000;

thread_local! {
    /// This isolate's configuration and when it was read.
    static CONFIG: RefCell<Option<(u64, Config)>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
impl Flow {
    /// Whether this isolate's configuration is fresh at `now` (else
    /// [`Flow::configure`] first).
    pub fn configured(now: f64) -> bool {
        CONFIG.with_borrow(|c| {
            c.as_ref().is_some_and(|(at, _)| (now as u64).saturating_sub(*at) < CONFIG_TTL_MS)
        })
    }

    /// Reads the configuration from `env` (secrets first: they are async),
    /// and keeps it for [`CONFIG_TTL_MS`] from `now`. The first time in an
    /// isolate: the startup banner of the WASI serve script, and entropy for
    /// ids (wasm32-unknown-unknown has none of its own).
    pub async fn configure(env: Env, now: f64) {
        let cfg = read_config(&env).await;
        let first = CONFIG.with_borrow(Option::is_none);
        if first {
            apex_ai_proxy::routing::seed_ids(entropy());
            for line in cfg.summary() {
                worker::console_log!("apex-ai-proxy {}: {line}", apex_ai_proxy::VERSION);
            }
        }
        CONFIG.set(Some((now as u64, cfg)));
    }
}

/// The configuration [`configure`] read.
fn config() -> Config {
    CONFIG
        .with_borrow(|c| c.as_ref().map(|(_, cfg)| cfg.clone()))
        .unwrap_or_else(|| Config::from_lookup(|_| None))
}

/// The configuration from `vars`, with secrets resolved first.
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

/// 64 bits from the runtime's random source.
fn entropy() -> u64 {
    let half = || (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    (half() << 32) ^ half()
}

/// Milliseconds since the epoch, as workerd's clock gives them.
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The runtime's own words, at `LOG_LEVEL=debug` (the access line says what
/// failed in the proxy's words).
fn runtime_note(cfg: &Config, what: &str, detail: &dyn std::fmt::Display) {
    if cfg.log.level == apex_ai_proxy::config::LogLevel::Debug {
        worker::console_error!("apex-ai-proxy: {what}: {detail}");
    }
}
