//! apex-ai-proxy: an LLM request proxy with three behaviours (Cloudflare AI
//! Gateway routing, passthrough, model mapping), as a host-agnostic core.
//!
//! The core does no I/O. A host turns each request into an
//! [`exchange::Exchange`]: it hands it events (the request head, bodies,
//! upstream answers, timers, a client that left) and performs the actions it
//! returns. docs/architecture.md draws the layers; the hosts are the WASI
//! component (`src/wasi_host`, compiled only for `target_os = "wasi"`) and the
//! Cloudflare Worker adapter crate (`cloudflare/`).

pub mod config;
pub mod errors;
pub mod exchange;
pub mod failure;
pub mod gateway;
pub mod header_typos;
pub mod headers;
pub mod ids;
pub mod json;
pub mod mapping;
pub mod passthrough;
pub mod plan;
pub mod providers;
pub mod report;
pub mod route;
pub mod target;
pub mod translate;

#[cfg(test)]
mod test_support;

#[cfg(all(target_os = "wasi", feature = "spin"))]
mod spin_variables;
#[cfg(target_os = "wasi")]
mod wasi_host;

pub use config::Config;
pub use exchange::{Action, Event, Exchange};

/// This crate's version, as `/healthz` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
